// The link's use cases: the prefecture node's outbox as the sender forwards it, and the national
// node's idempotent apply (registry/national.h).

#include "registry/national.h"

#include <algorithm>
#include <cstdlib>

#include "core/bytes.h"
#include "core/date.h"
#include "domain/check_digit.h"
#include "domain/enums.h"
#include "domain/identifiers.h"
#include "domain/local_gov_code.h"
#include "domain/notification_reader.h"
#include "registry/detail/registry_internal.h"
#include "registry/registry.h"
#include "registry/state_digest.h"
#include "text/search_key.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

constexpr char kHaltedKey[] = "halted_since";  // registry/halt.cc
constexpr char kAcknowledgedKey[] = "link_acknowledged";
constexpr char kPurgedThroughKey[] = "link_purged_through";
// National node, per prefecture: the first sequence applied with its MAC kept (+ prefecture).
constexpr char kMacsFromKeyPrefix[] = "link_macs_from_";

int64_t MetaNumber(const std::optional<std::string>& v) {
  return v ? std::strtoll(v->c_str(), nullptr, 10) : 0;
}
// Bytes of a name, kana, alias or address on the wire. Every one was checked against the
// contract's limits in code points when the prefecture node accepted it (an address may hold 300
// four-byte characters: 1,200 bytes); a tighter bound here would refuse the batch holding it,
// and the prefecture's link would stop on a record its own node was right to take. So: four
// bytes to a code point of the longest field the contract allows, twice over.
constexpr size_t kMaxText = 2 * 4 * kMaxAddressCodePoints;
constexpr char kSupportMeasureKind[] = "support_measure";

bool IsDigits(std::string_view s, size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void AppendOptional(const std::optional<std::string>& v, std::string* o) {
  if (v) {
    text::AppendJsonString(*v, o);
  } else {
    *o += "null";
  }
}

// Member readers of the strict parser: each names the member, never its value.
Status Bad(std::string_view member) {
  return Status::InvalidArgument("link batch: '" + std::string(member) + "' is missing or invalid");
}

Result<int64_t> IntMember(const text::JsonValue& obj, std::string_view key, int64_t min,
                          int64_t max) {
  const text::JsonValue* v = obj.Find(key);
  if (v == nullptr || !v->is_number() || !v->is_integer_literal()) return Bad(key);
  auto n = v->AsInt64();
  if (!n || *n < min || *n > max) return Bad(key);
  return *n;
}

Result<std::string> TextMember(const text::JsonValue& obj, std::string_view key, size_t max) {
  const text::JsonValue* v = obj.Find(key);
  if (v == nullptr || !v->is_string() || !v->well_formed() || v->text().empty() ||
      v->text().size() > max || text::CheckText(v->text()) != text::TextCheck::kOk) {
    return Bad(key);
  }
  return v->text();
}

Result<std::optional<std::string>> OptionalTextMember(const text::JsonValue& obj,
                                                      std::string_view key, size_t max) {
  const text::JsonValue* v = obj.Find(key);
  if (v == nullptr) return Bad(key);
  if (v->is_null()) return std::optional<std::string>();
  KAKUNIN_ASSIGN_OR_RETURN(t, TextMember(obj, key, max));
  return std::optional<std::string>(std::move(t));
}

Status OnlyMembers(const text::JsonValue& obj, std::initializer_list<std::string_view> allowed,
                   std::string_view what) {
  if (!obj.is_object()) return Bad(what);
  std::vector<std::string_view> seen;
  for (const auto& [k, v] : obj.members()) {
    (void)v;
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end() ||
        std::find(seen.begin(), seen.end(), k) != seen.end()) {
      return Status::InvalidArgument("link batch: unexpected or repeated member in " +
                                     std::string(what));
    }
    seen.push_back(k);
  }
  return Status::Ok();
}

// A 住民票コード on the wire: its shape, 11 digits. The sending node checked its check digit
// under its own setting (`[checks] resident_code_check`, which a prefecture sets to "format"
// when real codes fail the stand-in rule); checking it again here under this node's setting
// would refuse the batch holding such a code, and that prefecture's link would stop for good on
// a record its own node was right to take.
bool IsResidentCode(std::string_view s) {
  ErrorCode error;
  return ResidentCode::Parse(s, ResidentCodeCheck::kFormatOnly, &error).has_value();
}

// The members every change has, checked the same way whatever its kind.
Status ParseCommon(const text::JsonValue& v, ForwardedChange* c) {
  KAKUNIN_ASSIGN_OR_RETURN(seq, IntMember(v, "sequence", 1, INT64_MAX));
  c->sequence = seq;
  KAKUNIN_ASSIGN_OR_RETURN(muni, TextMember(v, "municipality_code", 6));
  if (!IsDigits(muni, 6) ||
      LocalGovCheckDigit(std::string_view(muni).substr(0, 5)) != muni[5] - '0' ||
      PrefectureOfMunicipality(muni) == 0) {
    return Bad("municipality_code");
  }
  c->municipality_code = std::move(muni);
  KAKUNIN_ASSIGN_OR_RETURN(cd, TextMember(v, "change_date", 10));
  auto date = ParseIsoDate(cd).date;
  if (!date || date->ToIso() != cd) return Bad("change_date");
  c->change_date = std::move(cd);
  KAKUNIN_ASSIGN_OR_RETURN(code, TextMember(v, "resident_code", 11));
  if (!IsResidentCode(code)) return Bad("resident_code");
  c->resident_code = std::move(code);
  KAKUNIN_ASSIGN_OR_RETURN(applied_at, IntMember(v, "applied_at", 0, INT64_MAX));
  c->applied_at = applied_at;
  return Status::Ok();
}

// A support measure's change (kind "support_measure"): who set or ended it, for whom, and
// through which day. Nothing of the record travels with it.
Result<ForwardedChange> ParseMeasureChange(const text::JsonValue& v) {
  KAKUNIN_RETURN_IF_ERROR(OnlyMembers(v,
                                      {"sequence", "municipality_code", "kind", "reason",
                                       "change_date", "resident_code", "valid_until", "applied_at"},
                                      "change"));
  ForwardedChange c;
  c.kind = kSupportMeasureKind;
  KAKUNIN_RETURN_IF_ERROR(ParseCommon(v, &c));
  KAKUNIN_ASSIGN_OR_RETURN(reason, TextMember(v, "reason", 3));
  if (reason != "set" && reason != "end") return Bad("reason");
  c.reason = std::move(reason);
  KAKUNIN_ASSIGN_OR_RETURN(until, OptionalTextMember(v, "valid_until", 10));
  // A set names its last day, an end none. Any well-formed day: how far ahead a measure may
  // reach is the prefecture node's rule (its clock, its release), and a batch refused here
  // for it would stop that prefecture's link for good; a day already past is simply not in
  // force.
  if (until.has_value() != (c.reason == "set")) return Bad("valid_until");
  if (until) {
    auto day = ParseIsoDate(*until).date;
    if (!day || day->ToIso() != *until) return Bad("valid_until");
  }
  c.valid_until = std::move(until);
  return c;
}

Result<ForwardedChange> ParseChange(const text::JsonValue& v) {
  if (v.is_object()) {
    const text::JsonValue* kind = v.Find("kind");
    if (kind != nullptr && kind->is_string() && kind->text() == kSupportMeasureKind) {
      return ParseMeasureChange(v);
    }
  }
  KAKUNIN_RETURN_IF_ERROR(OnlyMembers(
      v,
      {"sequence", "municipality_code", "municipal_sequence", "kind", "reason", "change_date",
       "resident_code", "individual_number", "name", "name_kana", "former_surname", "alias", "sex",
       "birth_date", "address", "new_resident_code", "applied_at"},
      "change"));
  ForwardedChange c;
  KAKUNIN_RETURN_IF_ERROR(ParseCommon(v, &c));
  KAKUNIN_ASSIGN_OR_RETURN(mseq, IntMember(v, "municipal_sequence", 1, INT64_MAX));
  c.municipal_sequence = mseq;
  KAKUNIN_ASSIGN_OR_RETURN(kind, TextMember(v, "kind", 20));
  const std::optional<NotificationKind> parsed_kind = ParseNotificationKind(kind);
  if (!parsed_kind) return Bad("kind");
  c.kind = std::move(kind);
  KAKUNIN_ASSIGN_OR_RETURN(reason, TextMember(v, "reason", 40));
  const std::optional<ChangeReason> parsed_reason = ParseChangeReason(reason);
  // The reason must belong to the kind (the contract's kind_mismatch): the apply rule reads
  // the kind, the record the reason.
  if (!parsed_reason || KindOf(*parsed_reason) != *parsed_kind) return Bad("reason");
  c.reason = std::move(reason);
  KAKUNIN_ASSIGN_OR_RETURN(number, TextMember(v, "individual_number", 12));
  ErrorCode number_error;
  if (!IndividualNumber::Parse(number, &number_error)) return Bad("individual_number");
  c.individual_number = std::move(number);
  KAKUNIN_ASSIGN_OR_RETURN(name, TextMember(v, "name", kMaxText));
  c.name = std::move(name);
  KAKUNIN_ASSIGN_OR_RETURN(kana, OptionalTextMember(v, "name_kana", kMaxText));
  c.name_kana = std::move(kana);
  KAKUNIN_ASSIGN_OR_RETURN(former, OptionalTextMember(v, "former_surname", kMaxText));
  c.former_surname = std::move(former);
  KAKUNIN_ASSIGN_OR_RETURN(alias, OptionalTextMember(v, "alias", kMaxText));
  c.alias = std::move(alias);
  KAKUNIN_ASSIGN_OR_RETURN(sex, TextMember(v, "sex", 10));
  if (!ParseSex(sex)) return Bad("sex");
  c.sex = std::move(sex);
  KAKUNIN_ASSIGN_OR_RETURN(birth, TextMember(v, "birth_date", 10));
  if (!ParseIsoDate(birth).date) return Bad("birth_date");
  c.birth_date = std::move(birth);
  KAKUNIN_ASSIGN_OR_RETURN(address, TextMember(v, "address", kMaxText));
  c.address = std::move(address);
  KAKUNIN_ASSIGN_OR_RETURN(new_code, OptionalTextMember(v, "new_resident_code", 11));
  // Only a resident-code change carries a new code, and it always does (the contract's
  // not_applicable / missing): anything else could rename a resident.
  const bool code_change = *parsed_reason == ChangeReason::kResidentCodeChanged;
  if (new_code.has_value() != code_change ||
      (new_code && (!IsResidentCode(*new_code) || *new_code == c.resident_code))) {
    return Bad("new_resident_code");
  }
  c.new_resident_code = std::move(new_code);
  return c;
}

audit::AuditEntry EntryOf(const Actor& actor, const char* action) {
  audit::AuditEntry e;
  e.actor = actor.id;
  e.terminal = actor.terminal;
  e.action = action;
  return e;
}

std::string BatchConditions(const ForwardBatch& b) {
  std::string o = "prefecture=" + std::to_string(b.prefecture) +
                  " after=" + std::to_string(b.after) +
                  " changes=" + std::to_string(b.changes.size());
  if (!b.changes.empty()) {
    o += " sequences=" + std::to_string(b.changes.front().sequence) + ".." +
         std::to_string(b.changes.back().sequence);
  }
  return o;
}

}  // namespace

int PrefectureOfMunicipality(const std::string& code) {
  if (!IsDigits(code, 6)) return 0;
  const LocalGovTable& table = LocalGovTable::Builtin();
  if (const LocalGovEntry* e = table.Find(code)) return e->prefecture_number();
  if (table.FindAbolished(code) != nullptr) return (code[0] - '0') * 10 + (code[1] - '0');
  return 0;
}

namespace {
// One change as the wire carries it (EncodeForwardBatch, ForwardedChangeMac).
void AppendChange(const ForwardedChange& c, std::string* out) {
  std::string& o = *out;
  auto string_member = [&](const char* member, const std::string& v) {
    o += ",\"";
    o += member;
    o += "\":";
    text::AppendJsonString(v, &o);
  };
  auto optional_member = [&](const char* member, const std::optional<std::string>& v) {
    o += ",\"";
    o += member;
    o += "\":";
    AppendOptional(v, &o);
  };
  o += "{\"sequence\":" + std::to_string(c.sequence);
  string_member("municipality_code", c.municipality_code);
  const bool measure = c.kind == kSupportMeasureKind;
  if (!measure) o += ",\"municipal_sequence\":" + std::to_string(c.municipal_sequence);
  string_member("kind", c.kind);
  string_member("reason", c.reason);
  string_member("change_date", c.change_date);
  string_member("resident_code", c.resident_code);
  if (measure) {
    // A support measure's change carries no record.
    optional_member("valid_until", c.valid_until);
  } else {
    string_member("individual_number", c.individual_number);
    string_member("name", c.name);
    optional_member("name_kana", c.name_kana);
    optional_member("former_surname", c.former_surname);
    optional_member("alias", c.alias);
    string_member("sex", c.sex);
    string_member("birth_date", c.birth_date);
    string_member("address", c.address);
    optional_member("new_resident_code", c.new_resident_code);
  }
  o += ",\"applied_at\":" + std::to_string(c.applied_at) + "}";
}
}  // namespace

std::string EncodeForwardBatch(const ForwardBatch& b) {
  std::string o = "{\"prefecture\":" + std::to_string(b.prefecture) +
                  ",\"after\":" + std::to_string(b.after) + ",\"changes\":[";
  for (size_t i = 0; i < b.changes.size(); ++i) {
    if (i > 0) o += ",";
    AppendChange(b.changes[i], &o);
  }
  o += "]}";
  return o;
}

std::string ForwardedChangeMac(const crypto::FieldCipher& cipher, const ForwardedChange& change) {
  std::string o = "kakunin/forwarded-change/v1:";
  AppendChange(change, &o);
  return cipher.LookupHash(o);
}

Result<ForwardBatch> ParseForwardBatch(const text::JsonValue& body) {
  KAKUNIN_RETURN_IF_ERROR(OnlyMembers(body, {"prefecture", "after", "changes"}, "batch"));
  ForwardBatch b;
  KAKUNIN_ASSIGN_OR_RETURN(pref, IntMember(body, "prefecture", 1, 47));
  b.prefecture = static_cast<int>(pref);
  KAKUNIN_ASSIGN_OR_RETURN(after, IntMember(body, "after", 0, INT64_MAX));
  b.after = after;
  const text::JsonValue* list = body.Find("changes");
  if (list == nullptr || !list->is_array() || list->items().size() > kMaxForwardedPerBatch) {
    return Bad("changes");
  }
  int64_t last = b.after;
  for (const auto& item : list->items()) {
    KAKUNIN_ASSIGN_OR_RETURN(c, ParseChange(item));
    if (c.sequence <= last) {
      return Status::InvalidArgument("link batch: sequences must increase beyond 'after'");
    }
    last = c.sequence;
    b.changes.push_back(std::move(c));
  }
  return b;
}

// --- NationalDesk ---

namespace {
// The "link.receive" entry of a refused batch. The codes of the batch as keyed MACs (DESIGN
// §6): a reviewer can match them against a resident's statement, the log alone reveals nothing.
audit::AuditEntry RefusalEntry(const crypto::FieldCipher& cipher, const Actor& actor,
                               const ForwardBatch& batch, std::string_view reason) {
  audit::AuditEntry e = EntryOf(actor, "link.receive");
  e.conditions = BatchConditions(batch);
  for (const ForwardedChange& c : batch.changes) {
    e.targets.push_back(ResidentTarget(cipher, c.resident_code, false));
  }
  e.outcome = "refused:" + std::string(reason.empty() ? "refused" : reason);
  return e;
}

}  // namespace

NationalDesk::NationalDesk(const NodeConfig& config, store::RegistryStore* store,
                           const crypto::FieldCipher* cipher, const Clock* clock,
                           const audit::AuditLog* log)
    : config_(config), store_(store), cipher_(cipher), clock_(clock), log_(log), naming_(clock) {}

Status NationalDesk::Refuse(const Actor& actor, const ForwardBatch& batch,
                            const Status& why) const {
  audit::AuditEntry e = RefusalEntry(*cipher_, actor, batch, why.reason());
  naming_.Apply(actor.id, &e);
  Status st = store_->Write(
      [&](store::RegistryTxn& txn) { return log_->Append(txn, std::move(e)).status(); });
  if (!st.ok()) return st;
  return why;
}

Result<ReceiveResult> NationalDesk::Receive(const Client& client, const ForwardBatch& batch,
                                            const std::string& terminal) const {
  const Actor actor = client.ActorAt(terminal);
  if (config_.role != NodeRole::kNational) {
    return Status::FailedPrecondition("only a national node receives forwarded changes")
        .WithReason("not_permitted");
  }
  if (client.kind != ClientKind::kPrefecture || client.revoked_at != 0) {
    return Refuse(actor, batch,
                  Status::PermissionDenied("only a registered prefecture node forwards changes")
                      .WithReason("not_permitted"));
  }
  // A prefecture's certificate speaks for its own residents only: one change of another
  // prefecture's municipality refuses the whole batch, as for municipal senders.
  bool mismatch = batch.prefecture != client.prefecture;
  for (const ForwardedChange& c : batch.changes) {
    if (PrefectureOfMunicipality(c.municipality_code) != client.prefecture) mismatch = true;
  }
  if (mismatch) {
    return Refuse(actor, batch,
                  Status::PermissionDenied("the batch holds changes of another prefecture")
                      .WithReason("sender_mismatch"));
  }
  ReceiveResult out;
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    out = ReceiveResult();
    KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta(kHaltedKey));
    if (halted) return Status::Unavailable("the node is halted").WithReason("halted");
    // The register as of this transaction: a revocation a moment ago counts.
    KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindClient(client.spki_sha256));
    if (!row || row->revoked_at != 0 || row->kind != "prefecture") {
      return Status::PermissionDenied("the client is no longer registered")
          .WithReason("client_revoked");
    }
    KAKUNIN_ASSIGN_OR_RETURN(last, txn.ReceivedSequenceIn(batch.prefecture));
    out.acknowledged = last;
    if (batch.after > last) {
      // Nothing applied; the sender resends from `last` (or, if it purged rows after it,
      // reports that it cannot). Recorded in this transaction, like every refusal.
      out.gap = true;
      audit::AuditEntry e = RefusalEntry(*cipher_, actor, batch, "sequence_gap");
      e.conditions += " acknowledged=" + std::to_string(last);
      // Each retry of a refused batch names its residents again (found in review: a link
      // refused for days grew every resident's statement by one entry a retry).
      naming_.Apply(actor.id, &e);
      return log_->Append(txn, std::move(e)).status();
    }
    const int64_t now = clock_->NowMicros();
    // From which sequence on this node keeps a MAC of every change it applied from the
    // prefecture (set with the first change it applies, by this release or later). Below it, a
    // change with no MAC was applied before schema 10 and a resend of it is taken as one.
    const std::string macs_key = kMacsFromKeyPrefix + std::to_string(batch.prefecture);
    KAKUNIN_ASSIGN_OR_RETURN(macs_meta, txn.GetMeta(macs_key));
    std::optional<int64_t> macs_from;
    if (macs_meta) macs_from = MetaNumber(macs_meta);
    int64_t replaced = 0;  // changes applied under a number whose MAC a rewind left
    for (const ForwardedChange& c : batch.changes) {
      const std::string mac = ForwardedChangeMac(*cipher_, c);
      if (c.sequence <= last) {
        // A resend is the change received under that number; anything else reuses it. A
        // number at or below the point that this node never received — skipped by a change
        // numbered far ahead (a forged one, or a sender's bug) — is no resend either: taken as
        // one, the change would be acknowledged and lost without a word (found in review).
        KAKUNIN_ASSIGN_OR_RETURN(known, txn.ReceivedChangeMac(batch.prefecture, c.sequence));
        const bool never_received = !known && macs_from && c.sequence >= *macs_from;
        if (never_received || (known && !ConstantTimeEquals(*known, mac))) {
          out.conflict = c.sequence;
          return Status::FailedPrecondition(
                     "the batch reuses a sequence already applied with another change")
              .WithReason("sequence_conflict");
        }
        ++out.duplicates;
        continue;
      }
      // Above the point a MAC is known only after `kakunin link rewind` moved the point back
      // over changes applied before: the same change sent again is a duplicate, not applied a
      // second time (found in review: a rewind below applied changes doubled 51 versions);
      // another change under that number (the real one, where a jump had taken its place) is
      // applied, and its MAC replaces the other's.
      KAKUNIN_ASSIGN_OR_RETURN(above, txn.ReceivedChangeMac(batch.prefecture, c.sequence));
      if (above && ConstantTimeEquals(*above, mac)) {
        ++out.duplicates;
        last = c.sequence;
        continue;
      }
      if (above) {
        KAKUNIN_RETURN_IF_ERROR(txn.ForgetReceivedChange(batch.prefecture, c.sequence));
        ++replaced;
      }
      if (c.sequence - last > kMaxForwardedJump) {
        // No sender skips that far (a restore or `link renumber` skips kRestoredOutboxGap): a
        // point moved there would turn every change still waiting at the prefecture into a
        // conflict, for ever (found in review: one change numbered 2^63-1).
        out.conflict = c.sequence;
        return Status::FailedPrecondition("the batch's numbering jumps past any restore's gap")
            .WithReason("sequence_conflict");
      }
      KAKUNIN_RETURN_IF_ERROR(ApplyChange(txn, c, batch.prefecture, actor, now, &out.conflicts));
      KAKUNIN_RETURN_IF_ERROR(txn.RecordReceivedChange(batch.prefecture, c.sequence, mac, now));
      if (!macs_from) {
        KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(macs_key, std::to_string(c.sequence)));
        macs_from = c.sequence;
      }
      last = c.sequence;
      ++out.applied;
    }
    if (last != out.acknowledged) {
      KAKUNIN_RETURN_IF_ERROR(txn.SetReceivedSequence(batch.prefecture, last, now));
    }
    out.acknowledged = last;
    audit::AuditEntry e = EntryOf(actor, "link.receive");
    e.conditions = BatchConditions(batch) + " applied=" + std::to_string(out.applied) +
                   " duplicates=" + std::to_string(out.duplicates) +
                   " conflicts=" + std::to_string(out.conflicts) +
                   " acknowledged=" + std::to_string(last);
    // After a rewind: how many changes took a number another change had held (for the
    // operators who judge what the jump applied).
    if (replaced > 0) e.conditions += " replaced=" + std::to_string(replaced);
    e.result_count = out.applied;
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
  if (!st.ok()) {
    if (st.reason() == "client_revoked") return Refuse(actor, batch, st);
    if (st.reason() == "sequence_conflict") {
      // Nothing of the batch applied (the transaction rolled back); the refusal is recorded
      // and answered with the sequence and this node's point, for the operators of both sides.
      Status refused = Refuse(actor, batch, st);
      if (refused.reason() != "sequence_conflict") return refused;  // the log write failed
      out.applied = 0;
      out.duplicates = 0;
      return out;
    }
    return st;
  }
  if (out.conflicts > 0 && alert_) {
    // After the commit: an alert for a state that was then rolled back would mislead.
    audit::LiveAlert a;
    a.rule = "link_conflict";
    a.actor = actor.id;
    a.time = clock_->NowMicros();
    a.count = out.conflicts;
    alert_(a);
  }
  return out;
}

Status NationalDesk::RecordUnreadable(const Client& client, std::string_view reason,
                                      const std::string& terminal) const {
  audit::AuditEntry e = EntryOf(client.ActorAt(terminal), "link.receive");
  e.conditions = "prefecture=" + std::to_string(client.prefecture);
  e.outcome = "refused:" + std::string(reason);
  return store_->Write(
      [&](store::RegistryTxn& txn) { return log_->Append(txn, std::move(e)).status(); });
}

Status NationalDesk::ApplyMeasure(store::RegistryTxn& txn, const ForwardedChange& c,
                                  int prefecture, const Actor& actor, int64_t now,
                                  int64_t* conflicts) const {
  audit::AuditEntry e = EntryOf(actor, "link.apply");
  std::string outcome = "done";
  int64_t stored = 0;
  KAKUNIN_ASSIGN_OR_RETURN(person, txn.FindByAnyResidentCode(c.resident_code));
  if (!person) {
    // Its record never reached this node (or retention erased it): nobody to mark.
    outcome = "conflict:not_found";
  } else if (person->municipality_code.compare(0, 2, c.municipality_code, 0, 2) != 0) {
    // A prefecture decides for its own residents only. The person's record is held elsewhere
    // now (a move that overtook the measure): the municipality holding it decides anew, and a
    // measure in force here stays until it lapses or that prefecture ends it.
    outcome = "conflict:wrong_municipality";
  } else {
    KAKUNIN_ASSIGN_OR_RETURN(before, txn.SupportMeasureOf(person->person_id));
    // In force as the prefecture saw it on the day of the change (the link may have been down
    // across the measure's last day): an extension keeps the day it began on both nodes.
    const bool in_force = before && SupportMeasureInForce(*before, c.change_date);
    if (c.valid_until) {
      store::SupportMeasureRow m;
      m.person_id = person->person_id;
      m.since = in_force ? before->since : c.change_date;
      m.valid_until = *c.valid_until;
      m.municipality_code = c.municipality_code;
      m.set_at = now;
      m.set_by = actor.id;
      KAKUNIN_RETURN_IF_ERROR(txn.PutSupportMeasure(m));
      stored = 1;
    } else if (in_force) {
      before->ended_at = now;
      before->set_by = actor.id;
      KAKUNIN_RETURN_IF_ERROR(txn.PutSupportMeasure(*before));
      stored = 1;
    }
    // An end of a measure no longer in force here (it lapsed) changes nothing.
  }
  if (outcome.starts_with("conflict:")) ++*conflicts;
  e.targets.push_back(ResidentTarget(*cipher_, c.resident_code, person.has_value()));
  e.conditions = std::to_string(prefecture) + "#" + std::to_string(c.sequence) + " " +
                 c.municipality_code + " support_measure." + c.reason;
  if (c.valid_until) e.conditions += " valid_until=" + *c.valid_until;
  e.result_count = stored;
  e.outcome = outcome;
  return log_->Append(txn, std::move(e)).status();
}

Status NationalDesk::ApplyChange(store::RegistryTxn& txn, const ForwardedChange& c, int prefecture,
                                 const Actor& actor, int64_t now, int64_t* conflicts) const {
  if (c.kind == kSupportMeasureKind) return ApplyMeasure(txn, c, prefecture, actor, now, conflicts);
  store::VersionRow v;
  v.municipality_code = c.municipality_code;
  v.sequence = c.municipal_sequence;
  v.kind = c.kind;
  v.reason = c.reason;
  v.change_date = c.change_date;
  v.resident_code = c.resident_code;
  // Sealed under this node's key, bound to the version as on the prefecture node.
  v.sealed_number = cipher_->Seal(c.individual_number,
                                  NumberAssociatedData(c.municipality_code, c.municipal_sequence));
  v.name = c.name;
  v.name_kana = c.name_kana;
  v.former_surname = c.former_surname;
  v.alias = c.alias;
  v.sex = c.sex;
  v.birth_date = c.birth_date;
  v.address = c.address;
  v.new_resident_code = c.new_resident_code;
  v.applied_at = now;
  const std::string number_mac = detail::NumberMac(*cipher_, c.individual_number);

  auto set_current = [&](store::ResidentRow* r) {
    r->resident_code = c.new_resident_code ? *c.new_resident_code : c.resident_code;
    r->municipality_code = c.municipality_code;
    r->name = c.name;
    r->name_kana = c.name_kana;
    r->sex = c.sex;
    r->birth_date = c.birth_date;
    r->address = c.address;
    r->number_mac = number_mac;
    r->name_key = text::SearchKey(c.name);
    r->kana_key = c.name_kana ? text::SearchKey(*c.name_kana) : std::string();
    r->address_key = text::SearchKey(c.address);
    r->updated_at = now;
    if (c.kind == "removal") {
      r->status = store::ResidentStatus::kRemoved;
      r->removed_at = now;
    } else {
      r->status = store::ResidentStatus::kActive;
      r->removed_at = 0;
    }
  };
  // Who a person is does not change between prefectures (the contract's identity_mismatch):
  // birth date, sex and individual number, the number by its keyed MAC (never opened).
  auto same_identity = [&](const store::ResidentRow& r) {
    return r.birth_date == c.birth_date && r.sex == c.sex &&
           ConstantTimeEquals(r.number_mac, number_mac);
  };
  // Whether another active person holds this change's number: kOther if one of them is
  // someone else by birth date or sex (set aside), kSamePerson if they all are the person the
  // change names (a code change overtaken by an entry under the new code, merged when the
  // change arrives: kept, alerted), kNobody otherwise. Only this node sees every prefecture,
  // so only it can tell (found in review: another prefecture's certificate planted a second
  // record under a resident's 個人番号, with a made-up name and address, and a search by the
  // number found both).
  enum class Holders { kNobody, kSamePerson, kOther };
  auto number_holders = [&](int64_t except_person) -> Result<Holders> {
    KAKUNIN_ASSIGN_OR_RETURN(holders, txn.ActiveHoldersOfNumber(number_mac));
    Holders found = Holders::kNobody;
    for (const store::ResidentRow& h : holders) {
      if (h.person_id == except_person) continue;
      if (h.birth_date != c.birth_date || h.sex != c.sex) return Holders::kOther;
      found = Holders::kSamePerson;
    }
    return found;
  };
  auto record_code_change = [&](int64_t person_id) -> Status {
    if (!c.new_resident_code) return Status::Ok();
    KAKUNIN_ASSIGN_OR_RETURN(known, txn.IsResidentCodeKnown(c.resident_code));
    KAKUNIN_ASSIGN_OR_RETURN(replaced, txn.FindByAnyResidentCode(c.resident_code));
    // Only once: the old code must not already lead to this person through the chain.
    if (known && replaced && replaced->resident_code != c.resident_code) return Status::Ok();
    return txn.RecordCodeChange(c.resident_code, *c.new_resident_code, person_id, now);
  };

  std::string outcome = "current";
  int64_t stored = 1;  // versions written (0: the change was set aside)
  audit::AuditEntry e = EntryOf(actor, "link.apply");
  // What the entry commits of the versions written (registry/state_digest.h).
  auto written = [&](int64_t vid, audit::StateOp op) {
    store::VersionRow w = v;
    w.version_id = vid;
    e.state.push_back(StateLeafOf(*cipher_, w, c.individual_number, op));
  };
  auto history_of = [&](int64_t person_id) -> Status {
    v.person_id = person_id;
    v.superseded_at = now;
    KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(v));
    written(vid, audit::StateOp::kHistory);
    return Status::Ok();
  };
  // Another person already holds the code this change would give its record.
  std::optional<store::ResidentRow> holder;
  if (c.new_resident_code) {
    KAKUNIN_ASSIGN_OR_RETURN(h, txn.FindByResidentCode(*c.new_resident_code));
    holder = std::move(h);
  }

  // Whether the sender speaks for `r`: it is registered in the sender's prefecture, or a
  // move-out from the sending municipality is expected (kept: a code change is an amendment).
  // A certificate of one prefecture never writes into another's residents.
  auto speaks_for = [&](const store::ResidentRow& r) -> Result<bool> {
    if (r.municipality_code.compare(0, 2, c.municipality_code, 0, 2) == 0) return true;
    KAKUNIN_ASSIGN_OR_RETURN(expected, detail::TakeExpectedMoveOutFor(txn, r.person_id,
                                                                      c.municipality_code,
                                                                      JstDate(now)));
    if (expected) {
      KAKUNIN_RETURN_IF_ERROR(txn.AddExpectedMoveOut(r.person_id, c.municipality_code));
    }
    return expected;
  };

  KAKUNIN_ASSIGN_OR_RETURN(person, txn.FindByAnyResidentCode(c.resident_code));
  // A change dated after tomorrow (JST; a day for a sending node's clock ahead of this one's)
  // was refused by the contract on every prefecture node (future_date). Found in review: one
  // dated 2099 from another prefecture made its entry current over the resident's own
  // registration and kept it so against every later change. Set aside: stored nowhere.
  const bool future = c.change_date > Date::FromDays(JstDate(now).ToDays() + 1).ToIso();
  if (future) {
    stored = 0;
    outcome = "conflict:future_date";
  } else if (holder && (!person || holder->person_id != person->person_id)) {
    // A resident-code change to a code another row holds. Only when the sender speaks for the
    // row of the old code and both rows are the person the change names (an entry under the
    // new code from another prefecture overtook the change) are the rows one: merged.
    // Anything else — the new code another person's, the old row not the sender's to change,
    // no row for the old code — is set aside, stored nowhere: written as history, it would
    // put one person's data into another's record (and their statements). Never a failure:
    // that would stop the link.
    bool mine = false;
    if (person) {
      KAKUNIN_ASSIGN_OR_RETURN(speaks, speaks_for(*person));
      mine = speaks;
    }
    if (!mine) {
      stored = 0;
      outcome = "conflict:wrong_municipality";
    } else if (!same_identity(*person)) {
      stored = 0;
      outcome = "conflict:identity_mismatch";
    } else if (!same_identity(*holder) || holder->person_id < person->person_id) {
      // The holder's row must be the newer one, made by the entry that overtook the change:
      // an older row is another registration of its own (found in review: a row planted under
      // a resident's number was "changed" to the resident's code and merged into their
      // history). Person ids follow the order rows were written in, on both stores.
      stored = 0;
      outcome = "conflict:code_in_use";
    } else {
      // Every version of the old row passes to the holder's as history, committed again under
      // the holder's id: the old row's current version is erased from the old row's state and
      // each version written to the holder's.
      KAKUNIN_RETURN_IF_ERROR(MergeInto(txn, *person, *holder, now, &e));
      if (person->status == store::ResidentStatus::kActive &&
          person->municipality_code != holder->municipality_code) {
        // The holder's registration overtook the old row's: its move-out is to come.
        KAKUNIN_RETURN_IF_ERROR(
            txn.AddExpectedMoveOut(holder->person_id, person->municipality_code));
      }
      KAKUNIN_RETURN_IF_ERROR(history_of(holder->person_id));
      KAKUNIN_RETURN_IF_ERROR(record_code_change(holder->person_id));
      outcome = "conflict:merged";
    }
  } else if (!person) {
    // A removal too: a removed row under a resident's number, entered again by the next
    // change, would hold it with another identity (found in review).
    KAKUNIN_ASSIGN_OR_RETURN(holders, number_holders(0));
    if (holders == Holders::kOther) {
      stored = 0;
      outcome = "conflict:number_in_use";
    } else {
      if (holders == Holders::kSamePerson) outcome = "conflict:number_held";
      store::ResidentRow row;
      set_current(&row);
      KAKUNIN_ASSIGN_OR_RETURN(pid, txn.InsertResident(row));
      v.person_id = pid;
      KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(v));
      KAKUNIN_RETURN_IF_ERROR(txn.SetResidentVersion(pid, vid));
      // No chain from an old code nobody held here (found in review: a prefecture "changed" a
      // code it had never sent, and the rightful municipality's birth under it was then set
      // aside as another person's while lookups of it led to the invented one).
      written(vid, audit::StateOp::kWritten);
    }
  } else {
    KAKUNIN_ASSIGN_OR_RETURN(current, txn.Version(person->version_id));
    if (!current) return Status::DataLoss("a resident's current version is missing");
    // A successor speaks for an abolished code, as on the prefecture node (apply.cc).
    const bool same_municipality = LocalGovTable::Builtin().SpeaksFor(
        c.municipality_code, current->municipality_code, JstDate(now));
    const bool same_prefecture =
        current->municipality_code.compare(0, 2, c.municipality_code, 0, 2) == 0;
    const bool active = person->status == store::ResidentStatus::kActive;
    bool becomes_current = false;
    bool set_aside = false;
    if (c.kind == "entry") {
      // Within one prefecture its node has decided, in the order it forwards: every entry it
      // applied superseded or renewed the registration there (a 転入 dated before the 転出
      // that reached it first included), so this node follows that order. Between prefectures
      // only this node sees both sides: the entry must be the same person, and a birth never
      // takes a code already held. The two sides then arrive in any order: an entry supersedes
      // a registration dated no later, and one that ended by a move or other removal whatever
      // its date (a 転出届 gives a planned date; the person may move in earlier); a death
      // yields only to a later entry.
      if (same_municipality || same_prefecture) {
        becomes_current = true;
      } else if (!same_identity(*person)) {
        // Another person under a held code: stored nowhere (as the holder's history it would
        // be read, and provided, as the holder's).
        set_aside = true;
        outcome = "conflict:identity_mismatch";
      } else {
        const bool ended_by_move = current->kind == "removal" && current->reason != "death";
        // Against a registration still in force, the entry is later when it is dated no
        // earlier than that registration began: the origin may have amended the record after
        // the person moved in here (a 転居 before the 転出届's planned date), and the amendment
        // says nothing of where the person lives now. Found in review: compared with the
        // amendment's date, the 転入 was kept as history and the 転出 that followed left the
        // person removed here.
        // That registration's 記載: the newest written from the current municipality or one
        // it stands for (a merger's successor amends a record its predecessor entered: found
        // in review).
        std::string since = current->change_date;
        if (current->kind != "removal") {
          KAKUNIN_ASSIGN_OR_RETURN(entries, txn.EntriesOf(person->person_id));
          for (const auto& [municipality, date] : entries) {
            if (LocalGovTable::Builtin().SpeaksFor(current->municipality_code, municipality,
                                                   JstDate(now))) {
              if (date < since) since = date;
              break;
            }
          }
        }
        const bool later = ended_by_move || c.change_date >= since;
        if (c.reason == "birth") {
          // The person's own birth arriving late is history; one that would supersede is not
          // a birth of this person.
          if (later) outcome = "conflict:code_in_use";
        } else {
          becomes_current = later;
        }
        if (becomes_current && active) {
          // Overtakes a registration in another prefecture: its move-out is to come.
          KAKUNIN_RETURN_IF_ERROR(
              txn.AddExpectedMoveOut(person->person_id, person->municipality_code));
        } else if (!becomes_current && outcome == "current") {
          // An earlier registration there, arriving late: what ends it is to come too.
          KAKUNIN_RETURN_IF_ERROR(txn.AddExpectedMoveOut(person->person_id, c.municipality_code));
        }
      }
    } else if (same_municipality) {
      becomes_current = true;
    } else if (!same_prefecture) {
      // Another prefecture's municipality speaks for this resident only while its move-out is
      // expected: a removal ends the expectation, an amendment before it keeps it. Otherwise
      // the change is set aside (a certificate of one prefecture never writes into another's
      // residents).
      // Expected from the sender, or from a code abolished since that it stands for today
      // (kept, when kept, under the sender's).
      KAKUNIN_ASSIGN_OR_RETURN(expected,
                               detail::TakeExpectedMoveOutFor(txn, person->person_id,
                                                              c.municipality_code, JstDate(now)));
      if (expected && c.kind != "removal") {
        KAKUNIN_RETURN_IF_ERROR(txn.AddExpectedMoveOut(person->person_id, c.municipality_code));
      }
      if (!expected) {
        set_aside = true;
        outcome = "conflict:wrong_municipality";
      }
    }
    // A number, birth date or sex new to the person (an amendment from their own prefecture)
    // while another active person holds the number as someone else (found in review: a row
    // planted as the resident by birth date and sex was then amended to another).
    if (!set_aside && becomes_current && c.kind != "removal" &&
        (!ConstantTimeEquals(person->number_mac, number_mac) ||
         person->birth_date != c.birth_date || person->sex != c.sex)) {
      KAKUNIN_ASSIGN_OR_RETURN(holders, number_holders(person->person_id));
      if (holders == Holders::kOther) {
        set_aside = true;
        outcome = "conflict:number_in_use";
      }
    }
    if (set_aside) {
      stored = 0;
    } else if (becomes_current) {
      v.person_id = person->person_id;
      KAKUNIN_RETURN_IF_ERROR(txn.MarkSuperseded(person->version_id, now));
      KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(v));
      written(vid, audit::StateOp::kWritten);
      store::ResidentRow row = *person;
      set_current(&row);
      row.version_id = vid;
      KAKUNIN_RETURN_IF_ERROR(txn.UpdateResident(row));
      KAKUNIN_RETURN_IF_ERROR(record_code_change(person->person_id));
    } else {
      KAKUNIN_RETURN_IF_ERROR(history_of(person->person_id));
      if (outcome == "current") outcome = "history";
    }
  }
  if (outcome.starts_with("conflict:")) ++*conflicts;
  // Keyed MACs, as for reads (DESIGN §6): the log alone names no resident.
  e.targets.push_back(ResidentTarget(*cipher_, c.resident_code, true));
  if (c.new_resident_code)
    e.targets.push_back(ResidentTarget(*cipher_, *c.new_resident_code, true));
  e.conditions = std::to_string(prefecture) + "#" + std::to_string(c.sequence) + " " +
                 c.municipality_code + "#" + std::to_string(c.municipal_sequence) + " " + c.reason;
  e.result_count = stored;
  e.outcome = outcome;
  return log_->Append(txn, std::move(e)).status();
}

Status NationalDesk::MergeInto(store::RegistryTxn& txn, const store::ResidentRow& from,
                               const store::ResidentRow& into, int64_t now,
                               audit::AuditEntry* entry) const {
  KAKUNIN_RETURN_IF_ERROR(txn.MarkSuperseded(from.version_id, now));
  KAKUNIN_ASSIGN_OR_RETURN(versions, txn.MergeResident(from.person_id, into.person_id));
  for (const store::VersionRow& old : versions) {
    KAKUNIN_ASSIGN_OR_RETURN(
        number, cipher_->Open(old.sealed_number,
                              NumberAssociatedData(old.municipality_code, old.sequence)));
    if (old.version_id == from.version_id) {
      // The old row's state ends here (the verifier drops its row with this version)...
      entry->state.push_back(
          audit::StateLeaf{audit::StateOp::kErased, old.version_id, old.person_id, ""});
    }
    // ... and every version, the holder's now, is committed again under the holder's id.
    store::VersionRow moved = old;
    moved.person_id = into.person_id;
    entry->state.push_back(StateLeafOf(*cipher_, moved, number, audit::StateOp::kHistory));
  }
  // kErased must precede the versions' new leaves: the verifier applies them in order.
  std::stable_partition(entry->state.begin(), entry->state.end(),
                        [](const audit::StateLeaf& l) { return l.op == audit::StateOp::kErased; });
  return Status::Ok();
}

Result<std::vector<std::pair<int, int64_t>>> NationalDesk::Received() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  std::vector<std::pair<int, int64_t>> out;
  for (int p = 1; p <= 47; ++p) {
    KAKUNIN_ASSIGN_OR_RETURN(seq, reader->ReceivedSequence(p));
    if (seq > 0) out.emplace_back(p, seq);
  }
  return out;
}

Result<int64_t> NationalDesk::Rewind(int prefecture, int64_t to, const Actor& actor) const {
  if (config_.role != NodeRole::kNational) {
    return Status::FailedPrecondition("only the national node receives forwarded changes");
  }
  if (prefecture < 1 || prefecture > 47) {
    return Status::InvalidArgument("the prefecture is a number from 1 to 47");
  }
  if (to < 0) return Status::InvalidArgument("the point is a sequence number, 0 or more");
  int64_t had = 0;
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(last, txn.ReceivedSequenceIn(prefecture));
    had = last;
    if (to >= last) {
      return Status::InvalidArgument("prefecture " + std::to_string(prefecture) +
                                     "'s point is " + std::to_string(last) +
                                     ": a rewind moves it back, to a number below that");
    }
    // Changes applied before this node kept MACs (schema 10) would be applied again when
    // resent: not below the first one with a MAC (found in review).
    KAKUNIN_ASSIGN_OR_RETURN(macs_meta,
                             txn.GetMeta(kMacsFromKeyPrefix + std::to_string(prefecture)));
    if (macs_meta && to < MetaNumber(macs_meta) - 1) {
      return Status::InvalidArgument(
          "changes of prefecture " + std::to_string(prefecture) + " below " +
          std::to_string(MetaNumber(macs_meta)) +
          " were applied without a MAC: resent, they would be applied again");
    }
    KAKUNIN_RETURN_IF_ERROR(txn.SetReceivedSequence(prefecture, to, clock_->NowMicros()));
    audit::AuditEntry e = EntryOf(actor, "link.rewind");
    e.conditions = "prefecture=" + std::to_string(prefecture) + " from=" + std::to_string(last) +
                   " to=" + std::to_string(to);
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
  if (!st.ok()) return st;
  return had;
}

// --- LinkOutbox ---

LinkOutbox::LinkOutbox(const NodeConfig& config, store::RegistryStore* store,
                       const crypto::FieldCipher* cipher, const Clock* clock,
                       const audit::AuditLog* log)
    : config_(config),
      store_(store),
      cipher_(cipher),
      clock_(clock),
      log_(log),
      readers_(std::make_unique<ReaderPool>(store)) {}

Result<ForwardBatch> LinkOutbox::Next(int64_t after, int limit) const {
  ForwardBatch b;
  b.prefecture = config_.prefecture;
  KAKUNIN_ASSIGN_OR_RETURN(reader, readers_->Acquire());
  // Rows up to the purged point are gone: a national node behind it must answer a gap, not
  // take the rows after it for the next ones.
  KAKUNIN_ASSIGN_OR_RETURN(purged, reader->GetMeta(kPurgedThroughKey));
  b.after = std::max(after, MetaNumber(purged));
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->OutboxAfter(after, limit));
  b.changes.reserve(rows.size());
  for (const store::OutboxRow& r : rows) {
    const store::VersionRow& v = r.version;
    ForwardedChange c;
    c.sequence = r.outbox_id;
    if (r.measure_municipality) {
      // A support measure's change: the person named by the code their current version gives
      // them (nothing else of the record travels, and no number is opened).
      c.municipality_code = *r.measure_municipality;
      c.kind = kSupportMeasureKind;
      c.reason = r.measure_until ? "set" : "end";
      c.change_date = JstDate(r.created_at).ToIso();
      c.resident_code = v.new_resident_code ? *v.new_resident_code : v.resident_code;
      c.valid_until = r.measure_until;
      c.applied_at = r.created_at;
      b.changes.push_back(std::move(c));
      continue;
    }
    c.municipality_code = v.municipality_code;
    c.municipal_sequence = v.sequence;
    c.kind = v.kind;
    c.reason = v.reason;
    c.change_date = v.change_date;
    c.resident_code = v.resident_code;
    KAKUNIN_ASSIGN_OR_RETURN(
        number,
        cipher_->Open(v.sealed_number, NumberAssociatedData(v.municipality_code, v.sequence)));
    c.individual_number = std::move(number);
    c.name = v.name;
    c.name_kana = v.name_kana;
    c.former_surname = v.former_surname;
    c.alias = v.alias;
    c.sex = v.sex;
    c.birth_date = v.birth_date;
    c.address = v.address;
    c.new_resident_code = v.new_resident_code;
    c.applied_at = v.applied_at;
    b.changes.push_back(std::move(c));
  }
  return b;
}

Status LinkOutbox::Acknowledge(int64_t up_to, int64_t forwarded, const Actor& actor) const {
  return store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(before, txn.GetMeta(kAcknowledgedKey));
    const int64_t previous = before ? std::strtoll(before->c_str(), nullptr, 10) : 0;
    if (up_to == previous && forwarded == 0) return Status::Ok();
    // A national node acknowledging a number this node never gave out (after a restore without
    // `link renumber`, say) would move the point past rows not yet made, and they would never
    // be sent (found in review). Refused: the link stops and says why.
    KAKUNIN_ASSIGN_OR_RETURN(highest, txn.HighestOutboxNumber());
    if (up_to > highest) {
      return Status::FailedPrecondition(
                 "the national node acknowledged " + std::to_string(up_to) +
                 " but this node never forwarded beyond " + std::to_string(highest) +
                 " (a node restored from a backup: see docs/backup.md, kakunin link renumber)")
          .WithReason("acknowledged_unsent");
    }
    const int64_t now = clock_->NowMicros();
    KAKUNIN_ASSIGN_OR_RETURN(marked, txn.MarkDelivered(up_to, now));
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kAcknowledgedKey, std::to_string(up_to)));
    audit::AuditEntry e = EntryOf(actor, "link.forward");
    e.conditions = "acknowledged=" + std::to_string(up_to) +
                   " previous=" + std::to_string(previous) +
                   " forwarded=" + std::to_string(forwarded);
    e.result_count = marked;
    e.outcome = up_to < previous ? "rewound" : "done";
    // A national node behind the purged rows cannot be sent them: said in the entry too.
    KAKUNIN_ASSIGN_OR_RETURN(purged, txn.GetMeta(kPurgedThroughKey));
    if (up_to < MetaNumber(purged)) {
      e.conditions += " purged_through=" + std::to_string(MetaNumber(purged));
      e.outcome = "rewound:purged";
    }
    return log_->Append(txn, std::move(e)).status();
  });
}

Result<int64_t> LinkOutbox::SkipNumbers(int64_t gap, const Actor& actor) const {
  if (gap < 1) return Status::InvalidArgument("the numbers skipped must be at least 1");
  int64_t next = 0;
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(n, txn.SkipOutboxNumbers(gap));
    next = n;
    audit::AuditEntry e = EntryOf(actor, "link.renumber");
    e.conditions = "gap=" + std::to_string(gap) + " next=" + std::to_string(next);
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
  if (!st.ok()) return st;
  return next;
}

Result<int64_t> LinkOutbox::Acknowledged() const {
  KAKUNIN_ASSIGN_OR_RETURN(v, store_->GetMeta(kAcknowledgedKey));
  return v ? std::strtoll(v->c_str(), nullptr, 10) : int64_t{0};
}

Result<LinkBacklog> LinkOutbox::Backlog() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, readers_->Acquire());
  KAKUNIN_ASSIGN_OR_RETURN(b, reader->Backlog());
  return LinkBacklog{b.pending, b.oldest_pending_at, b.delivered};
}

Result<int64_t> LinkOutbox::PurgeDelivered(int64_t before) const {
  int64_t n = 0;
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(through, txn.LastDeliveredBefore(before));
    KAKUNIN_ASSIGN_OR_RETURN(previous, txn.GetMeta(kPurgedThroughKey));
    if (through > MetaNumber(previous)) {
      KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kPurgedThroughKey, std::to_string(through)));
    }
    KAKUNIN_ASSIGN_OR_RETURN(purged, txn.PurgeDelivered(before));
    n = purged;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

Result<int64_t> LinkOutbox::PurgedThrough() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, readers_->Acquire());
  KAKUNIN_ASSIGN_OR_RETURN(v, reader->GetMeta(kPurgedThroughKey));
  return MetaNumber(v);
}

Result<int64_t> LinkOutbox::Resync(const Actor& actor) const {
  int64_t lost_through = 0;
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(acked, txn.GetMeta(kAcknowledgedKey));
    KAKUNIN_ASSIGN_OR_RETURN(purged, txn.GetMeta(kPurgedThroughKey));
    const int64_t point = MetaNumber(acked);
    lost_through = MetaNumber(purged);
    if (point >= lost_through) {
      return Status::FailedPrecondition(
          "the national node's point is not below the purged outbox rows: nothing to resync");
    }
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kPurgedThroughKey, std::to_string(point)));
    audit::AuditEntry e = EntryOf(actor, "link.resync");
    e.conditions = "acknowledged=" + std::to_string(point) + " lost=" + std::to_string(point + 1) +
                   ".." + std::to_string(lost_through);
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
  if (!st.ok()) return st;
  return lost_through;
}

Result<int64_t> LinkOutbox::AcceptMeasures(const Actor& actor) const {
  int64_t queued = 0;
  // Taken before the transaction (the store opens no reader while its writer is held); it
  // reads only inside it, where it sees every measure committed before the transaction, and
  // none is committed until the transaction ends (a set after it queues itself).
  KAKUNIN_ASSIGN_OR_RETURN(reader, readers_->Acquire());
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    queued = 0;
    KAKUNIN_ASSIGN_OR_RETURN(known, txn.GetMeta(kLinkMeasuresKey));
    if (known) return Status::Ok();
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kLinkMeasuresKey, "1"));
    KAKUNIN_ASSIGN_OR_RETURN(measures, reader->ListSupportMeasures());
    const std::string today = clock_->TodayJst().ToIso();
    const int64_t now = clock_->NowMicros();
    std::sort(measures.begin(), measures.end(),
              [](const store::SupportMeasureRow& a, const store::SupportMeasureRow& b) {
                return a.set_at != b.set_at ? a.set_at < b.set_at : a.person_id < b.person_id;
              });
    for (const store::SupportMeasureRow& m : measures) {
      if (!SupportMeasureInForce(m, today)) continue;
      KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindByResidentCode(m.resident_code));
      if (!row || row->person_id != m.person_id || row->status != store::ResidentStatus::kActive) {
        continue;
      }
      KAKUNIN_RETURN_IF_ERROR(
          txn.EnqueueSupportMeasure(row->version_id, now, m.municipality_code, m.valid_until));
      ++queued;
    }
    audit::AuditEntry e = EntryOf(actor, "link.measures");
    e.conditions = "queued=" + std::to_string(queued);
    e.result_count = queued;
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
  if (!st.ok()) return st;
  return queued;
}

Result<bool> LinkOutbox::Halted() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, readers_->Acquire());
  KAKUNIN_ASSIGN_OR_RETURN(v, reader->GetMeta(kHaltedKey));
  return v.has_value();
}

}  // namespace kakunin::registry
