// Applying notifications (記載・消除・修正): the stateless preparation, the state checks of the
// contract, and the batch that records every notification, applied or refused.

#include "audit/targets.h"
#include "core/bytes.h"
#include "registry/detail/registry_internal.h"
#include "registry/gaiji.h"
#include "registry/registry.h"
#include "registry/state_digest.h"
#include "text/search_key.h"

namespace kakunin::registry {
namespace {

using detail::NumberMac;
using store::ResidentRow;
using store::ResidentStatus;
using store::VersionRow;

ApplyResult Reject(ErrorCode code) {
  ApplyResult r;
  r.errors.push_back({std::string(kRecordField), code});
  return r;
}

VersionRow MakeVersion(const PreparedNotification& p, int64_t person_id, int64_t now) {
  const Notification& n = *p.check.notification;
  VersionRow v;
  v.person_id = person_id;
  v.municipality_code = n.municipality_code;
  v.sequence = static_cast<int64_t>(n.sequence);
  v.kind = std::string(NotificationKindName(n.kind));
  v.reason = std::string(ChangeReasonName(n.reason));
  v.change_date = n.change_date.ToIso();
  v.resident_code = n.resident_code.str();
  v.sealed_number = p.sealed_number;
  v.name = n.name;
  v.name_kana = n.name_kana;
  v.former_surname = n.former_surname;
  v.alias = n.alias;
  v.sex = std::string(SexName(n.sex));
  v.birth_date = n.birth_date.ToIso();
  v.address = n.address;
  if (n.new_resident_code) v.new_resident_code = n.new_resident_code->str();
  v.applied_at = now;
  return v;
}

// Copies the notification's record into the person's current state.
void SetCurrent(ResidentRow* r, const PreparedNotification& p, int64_t now) {
  const Notification& n = *p.check.notification;
  r->resident_code = n.new_resident_code ? n.new_resident_code->str() : n.resident_code.str();
  r->municipality_code = n.municipality_code;
  r->name = n.name;
  r->name_kana = n.name_kana;
  r->sex = std::string(SexName(n.sex));
  r->birth_date = n.birth_date.ToIso();
  r->address = n.address;
  r->number_mac = p.number_mac;
  r->name_key = p.name_key;
  r->kana_key = p.kana_key;
  r->address_key = p.address_key;
  r->updated_at = now;
}

}  // namespace

PreparedNotification Registry::Prepare(CheckResult checked) const {
  PreparedNotification p;
  p.check = std::move(checked);
  if (!p.check.ok()) {
    if (p.check.replay_candidate) {
      p.replay_mac = cipher_->LookupHash("kakunin/notification/v1:" +
                                         ToCanonicalJson(*p.check.replay_candidate));
    }
    return p;
  }
  const Notification& n = *p.check.notification;
  std::string json = ToCanonicalJson(n);
  p.payload_mac = cipher_->LookupHash("kakunin/notification/v1:" + json);
  p.number_mac = NumberMac(*cipher_, n.individual_number.str());
  const int64_t seq = static_cast<int64_t>(n.sequence);
  p.sealed_number =
      cipher_->Seal(n.individual_number.str(), NumberAssociatedData(n.municipality_code, seq));
  p.name_key = text::SearchKey(n.name);
  p.kana_key = n.name_kana ? text::SearchKey(*n.name_kana) : std::string();
  p.address_key = text::SearchKey(n.address);
  return p;
}

namespace {

// Whether `sender` speaks for the municipality a resident is registered in: the same code, or
// the code the resident was registered under was abolished since (a merger, a ward
// reorganised) and `sender` is one of those that stand for it today. Otherwise the residents
// of a merged municipality could never be amended or removed again: the old code is refused as
// abolished, and the new one was wrong_municipality.
bool SpeaksFor(std::string_view sender, std::string_view registered, Date today) {
  return LocalGovTable::Builtin().SpeaksFor(sender, registered, today);
}

// Whether `sender`'s sequence `seq`, one already applied, was applied with this very payload: a
// replay, acknowledged again; otherwise the number was reused (sequence_conflict).
Result<bool> AppliedWith(store::RegistryTxn& txn, const std::string& sender, int64_t seq,
                         const std::string& payload_mac) {
  KAKUNIN_ASSIGN_OR_RETURN(mac, txn.AppliedMac(sender, seq));
  return mac && ConstantTimeEquals(*mac, payload_mac);
}

// The state checks of an entry (記載) beyond the sequence; nullopt if it may be applied.
// `person` is the holder of the notification's resident code as a current code, if any.
//
// Where several rules apply, the first that holds answers, in this order: refusals that no
// correction of the notification could cure come first, so a sender who fixes what it is told
// is not then told something else.
//   1. code_in_use — a birth for a code the registry holds or has held (active anywhere, the
//      sender's own municipality included, removed, or replaced by a code change): a newborn's
//      code is new (the contract: "a `birth` for a known code is `code_in_use`"). Before
//      `deceased`, because a birth is never the same person continuing, dead or not.
//   2. already_registered — any other entry for a code active in the sender's own
//      municipality.
//   3. deceased — the registration ended with death; only an ex_officio_entry by the
//      municipality that recorded the death (a death recorded in error) reopens it.
//   4. already_registered — active elsewhere and not a 転入: only a move supersedes.
//   5. identity_mismatch — the code's holder (active elsewhere or removed) has another
//      birth date, sex or individual number: moving does not change who a person is; a
//      change of those is an amendment where the person is registered.
//   6. code_in_use — a code that is not current but was replaced (never reissued).
// number_in_use is checked after these, by the caller.
Result<std::optional<ErrorCode>> CheckEntry(store::RegistryTxn& txn, const PreparedNotification& p,
                                            const std::optional<ResidentRow>& person, Date today) {
  using Refusal = std::optional<ErrorCode>;
  const Notification& n = *p.check.notification;
  const std::string& sender = n.municipality_code;
  if (!person) {
    KAKUNIN_ASSIGN_OR_RETURN(known, txn.IsResidentCodeKnown(n.resident_code.str()));
    return known ? Refusal(ErrorCode::kCodeInUse) : Refusal();
  }
  if (n.reason == ChangeReason::kBirth) return Refusal(ErrorCode::kCodeInUse);
  const bool active = person->status == ResidentStatus::kActive;
  if (active && SpeaksFor(sender, person->municipality_code, today)) {
    return Refusal(ErrorCode::kAlreadyRegistered);
  }
  if (!active) {
    // A removed resident's row points at the removal that ended the registration (a late
    // 転出 recorded in history only never becomes the current version).
    KAKUNIN_ASSIGN_OR_RETURN(ended, txn.Version(person->version_id));
    if (!ended) return Status::DataLoss("a resident's current version is missing");
    // The municipality that recorded the death, or (merged since) one that stands for it now.
    if (ended->reason == ChangeReasonName(ChangeReason::kDeath) &&
        !(n.reason == ChangeReason::kExOfficioEntry &&
          SpeaksFor(sender, ended->municipality_code, today))) {
      return Refusal(ErrorCode::kDeceased);
    }
  }
  // The number is compared by its keyed MAC: a sealed number is never opened for a check.
  // Before already_registered (review: the contract's identity_mismatch is for any entry of a
  // code held elsewhere or removed; already_registered for one active in the same municipality).
  if (person->birth_date != n.birth_date.ToIso() || person->sex != SexName(n.sex) ||
      !ConstantTimeEquals(person->number_mac, p.number_mac)) {
    return Refusal(ErrorCode::kIdentityMismatch);
  }
  // The same person, active elsewhere: only a 転入 supersedes that registration.
  if (active && n.reason != ChangeReason::kMovedIn) return Refusal(ErrorCode::kAlreadyRegistered);
  return Refusal();
}

}  // namespace

Result<ApplyResult> Registry::ApplyOne(store::RegistryTxn& txn, const PreparedNotification& p,
                                       int64_t now, bool forward,
                                       std::vector<audit::StateLeaf>* state,
                                       bool retain_from_change_date) const {
  const Notification& n = *p.check.notification;
  // When the change took effect in the records (the version's applied_at, the record's
  // updated_at, and so when the version it ends was superseded or the person removed, from which
  // the retention periods count): when the node applies it — or, for existing records taken over
  // by the import (registry/import.h), the day the change itself took effect, never later than
  // now (found in review: a 消除者 removed in 2015 and imported in 2026 was kept until 2031 under
  // 5 years). Sequences, the outbox and the day the rules are checked on stay `now`.
  // Not before the epoch: the stores read 0 as "not superseded" and "not removed", and a negative
  // time would be neither (found in review: such versions were never purged); a change before
  // 1970 counts from 1970-01-01.
  const int64_t effective_at =
      retain_from_change_date
          ? std::clamp(JstMidnightMicros(n.change_date), int64_t{1}, std::max(now, int64_t{1}))
          : now;
  // What the entry commits of the version written (registry/state_digest.h).
  auto written = [&](VersionRow v, int64_t vid, audit::StateOp op) {
    if (!state) return;
    v.version_id = vid;
    state->push_back(StateLeafOf(*cipher_, v, n.individual_number.str(), op));
  };
  const std::string& sender = n.municipality_code;
  const int64_t seq = static_cast<int64_t>(n.sequence);

  if (config_.role == NodeRole::kPrefecture) {
    // A code abolished since (accepted only for past records, as of their change_date) still
    // names its prefecture in its first two digits.
    const LocalGovTable& table = LocalGovTable::Builtin();
    const LocalGovEntry* e = table.Find(sender);
    const int prefecture = e != nullptr                        ? e->prefecture_number()
                           : table.FindAbolished(sender) != nullptr
                               ? (sender[0] - '0') * 10 + (sender[1] - '0')
                               : 0;
    if (prefecture != config_.prefecture) return Reject(ErrorCode::kOutsidePrefecture);
  }

  // Sequence: replays are acknowledged, conflicts and gaps refused.
  KAKUNIN_ASSIGN_OR_RETURN(last, txn.LastSequence(sender));
  if (seq <= last) {
    KAKUNIN_ASSIGN_OR_RETURN(replay, AppliedWith(txn, sender, seq, p.payload_mac));
    if (!replay) return Reject(ErrorCode::kSequenceConflict);
    ApplyResult dup;
    dup.duplicate = true;
    return dup;
  }
  if (seq > last + 1) return Reject(ErrorCode::kSequenceGap);

  int64_t version_id = 0;  // the version this notification becomes
  // The late 転出 of a move already registered at the new municipality is recorded in
  // history only, whatever happened to the person since (another move, a removal, a code
  // change): otherwise the old municipality could never get past it.
  if (n.reason == ChangeReason::kMovedOut) {
    KAKUNIN_ASSIGN_OR_RETURN(anyone, txn.FindByAnyResidentCode(n.resident_code.str()));
    if (anyone) {
      KAKUNIN_ASSIGN_OR_RETURN(
          expected, detail::TakeExpectedMoveOutFor(txn, anyone->person_id, sender, JstDate(now)));
      if (expected) {
        // Found in review: this history version went in unchecked, so the old municipality
        // could write another active resident's 個人番号 into a resident it no longer holds,
        // provided to every recipient of their history and forwarded to the national node:
        // number_in_use, as for every notification. (A refusal rolls the taken expectation back
        // with the rest of the notification.) It is not held to the record as it is now: the
        // municipality where the person lives may have corrected the birth date or changed the
        // number since, and this 転出 rightly says what the old one held (found attacking the
        // first version of this check, which left the old municipality stuck).
        KAKUNIN_ASSIGN_OR_RETURN(taken, txn.NumberHeldByOther(p.number_mac, anyone->person_id));
        if (taken) return Reject(ErrorCode::kNumberInUse);
        VersionRow v = MakeVersion(p, anyone->person_id, effective_at);
        v.superseded_at = effective_at;
        KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(v));
        written(v, vid, audit::StateOp::kHistory);
        KAKUNIN_RETURN_IF_ERROR(txn.RecordApplied(sender, seq, p.payload_mac, now));
        if (forward) KAKUNIN_RETURN_IF_ERROR(txn.EnqueueOutbox(vid, now));
        return ApplyResult();
      }
    }
  }

  KAKUNIN_ASSIGN_OR_RETURN(person, txn.FindByResidentCode(n.resident_code.str()));
  const bool active = person && person->status == ResidentStatus::kActive;
  const Date today = JstDate(now);

  switch (n.kind) {
    case NotificationKind::kEntry: {
      KAKUNIN_ASSIGN_OR_RETURN(refusal, CheckEntry(txn, p, person, today));
      if (refusal) return Reject(*refusal);
      if (active) {
        // B's 転入 reached us before A's 転出, which is then expected and recorded in history.
        KAKUNIN_RETURN_IF_ERROR(
            txn.AddExpectedMoveOut(person->person_id, person->municipality_code));
      }
      KAKUNIN_ASSIGN_OR_RETURN(taken,
                               txn.NumberHeldByOther(p.number_mac, person ? person->person_id : 0));
      if (taken) return Reject(ErrorCode::kNumberInUse);
      ResidentRow row = person ? *person : ResidentRow();
      SetCurrent(&row, p, effective_at);
      row.status = ResidentStatus::kActive;
      row.removed_at = 0;
      if (!person) {
        KAKUNIN_ASSIGN_OR_RETURN(pid, txn.InsertResident(row));
        VersionRow v = MakeVersion(p, pid, effective_at);
        KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(v));
        KAKUNIN_RETURN_IF_ERROR(txn.SetResidentVersion(pid, vid));
        written(v, vid, audit::StateOp::kWritten);
        version_id = vid;
        break;
      }
      KAKUNIN_RETURN_IF_ERROR(txn.MarkSuperseded(person->version_id, effective_at));
      VersionRow v = MakeVersion(p, row.person_id, effective_at);
      KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(v));
      written(v, vid, audit::StateOp::kWritten);
      row.version_id = vid;
      KAKUNIN_RETURN_IF_ERROR(txn.UpdateResident(row));
      version_id = vid;
      break;
    }
    case NotificationKind::kRemoval: {
      if (!person) return Reject(ErrorCode::kNotFound);
      if (!active) return Reject(ErrorCode::kRemoved);
      if (!SpeaksFor(sender, person->municipality_code, today)) {
        return Reject(ErrorCode::kWrongMunicipality);
      }
      // A removal ends a registration; it does not change who the person is (the record it
      // leaves is what a later 転入 is checked against). Another active resident's number is
      // number_in_use, as for every notification; another birth date, sex or number than the
      // record's is identity_mismatch: a change of those is an amendment.
      KAKUNIN_ASSIGN_OR_RETURN(taken, txn.NumberHeldByOther(p.number_mac, person->person_id));
      if (taken) return Reject(ErrorCode::kNumberInUse);
      if (person->birth_date != n.birth_date.ToIso() || person->sex != SexName(n.sex) ||
          !ConstantTimeEquals(person->number_mac, p.number_mac)) {
        return Reject(ErrorCode::kIdentityMismatch);
      }
      KAKUNIN_RETURN_IF_ERROR(txn.MarkSuperseded(person->version_id, effective_at));
      VersionRow v = MakeVersion(p, person->person_id, effective_at);
      KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(v));
      written(v, vid, audit::StateOp::kWritten);
      ResidentRow row = *person;
      SetCurrent(&row, p, effective_at);
      row.status = ResidentStatus::kRemoved;
      row.removed_at = effective_at;
      row.version_id = vid;
      KAKUNIN_RETURN_IF_ERROR(txn.UpdateResident(row));
      version_id = vid;
      break;
    }
    case NotificationKind::kAmendment: {
      if (!person) return Reject(ErrorCode::kNotFound);
      if (!active) return Reject(ErrorCode::kRemoved);
      if (!SpeaksFor(sender, person->municipality_code, today)) {
        return Reject(ErrorCode::kWrongMunicipality);
      }
      if (n.new_resident_code) {
        KAKUNIN_ASSIGN_OR_RETURN(known, txn.IsResidentCodeKnown(n.new_resident_code->str()));
        if (known) return Reject(ErrorCode::kCodeInUse);
      }
      KAKUNIN_ASSIGN_OR_RETURN(taken, txn.NumberHeldByOther(p.number_mac, person->person_id));
      if (taken) return Reject(ErrorCode::kNumberInUse);
      KAKUNIN_RETURN_IF_ERROR(txn.MarkSuperseded(person->version_id, effective_at));
      VersionRow v = MakeVersion(p, person->person_id, effective_at);
      KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(v));
      written(v, vid, audit::StateOp::kWritten);
      ResidentRow row = *person;
      SetCurrent(&row, p, effective_at);
      row.version_id = vid;
      KAKUNIN_RETURN_IF_ERROR(txn.UpdateResident(row));
      version_id = vid;
      if (n.new_resident_code) {
        KAKUNIN_RETURN_IF_ERROR(txn.RecordCodeChange(
            n.resident_code.str(), n.new_resident_code->str(), person->person_id, now));
      }
      break;
    }
  }
  KAKUNIN_RETURN_IF_ERROR(txn.RecordApplied(sender, seq, p.payload_mac, now));
  if (forward) KAKUNIN_RETURN_IF_ERROR(txn.EnqueueOutbox(version_id, now));
  return ApplyResult();
}

Status Registry::Prefetch(store::RegistryTxn& txn,
                          const std::vector<PreparedNotification>& batch) const {
  store::RegistryTxn::PrefetchHint hint;
  auto chain_key = [&](const std::string& code) {
    // The entry's target (below) names the resident by a keyed MAC; its chain is keyed by it.
    auto leaf = audit::ParseTargetName(Target(code, true));
    if (leaf.ok()) hint.chain_keys.push_back(leaf->mac);
  };
  for (const PreparedNotification& p : batch) {
    if (!p.check.ok()) continue;
    const Notification& n = *p.check.notification;
    hint.resident_codes.push_back(n.resident_code.str());
    chain_key(n.resident_code.str());
    if (n.new_resident_code) {
      hint.resident_codes.push_back(n.new_resident_code->str());
      chain_key(n.new_resident_code->str());
    }
    hint.number_macs.push_back(p.number_mac);
    hint.senders.push_back(n.municipality_code);
  }
  if (hint.resident_codes.empty()) return Status::Ok();
  return txn.Prefetch(hint);
}

Result<std::vector<ApplyResult>> Registry::ApplyIn(store::RegistryTxn& txn,
                                                   const std::vector<PreparedNotification>& batch,
                                                   const Actor& actor) const {
  KAKUNIN_RETURN_IF_ERROR(CheckRunning(txn));
  std::vector<ApplyResult> results;
  results.reserve(batch.size());
  const int64_t now = clock_->NowMicros();
  KAKUNIN_RETURN_IF_ERROR(Prefetch(txn, batch));
  for (const PreparedNotification& p : batch) {
    ApplyResult result;
    std::vector<audit::StateLeaf> state;
    // A refused one that would be a retry of an applied sequence (its code abolished since).
    const Notification* replayed = nullptr;
    if (!p.check.ok()) {
      result.errors = p.check.errors;
      if (p.check.replay_candidate && !p.replay_mac.empty()) {
        const Notification& c = *p.check.replay_candidate;
        const int64_t seq = static_cast<int64_t>(c.sequence);
        KAKUNIN_ASSIGN_OR_RETURN(last, txn.LastSequence(c.municipality_code));
        bool replay = false;
        if (seq <= last) {
          KAKUNIN_ASSIGN_OR_RETURN(applied,
                                   AppliedWith(txn, c.municipality_code, seq, p.replay_mac));
          replay = applied;
        }
        if (replay) {
          result = ApplyResult{};
          result.duplicate = true;
          replayed = &c;
        }
      }
    } else {
      KAKUNIN_RETURN_IF_ERROR(txn.Savepoint());
      auto r = ApplyOne(txn, p, now, /*forward=*/true, &state);
      if (!r.ok()) {
        (void)txn.RollbackToSavepoint();
        return r.status();
      }
      if (r->ok() && !r->duplicate) {
        KAKUNIN_RETURN_IF_ERROR(txn.ReleaseSavepoint());
        // Applied as sent; unregistered 外字 are flagged for the register (issue 15).
        KAKUNIN_RETURN_IF_ERROR(FlagUnregisteredGaiji(txn, *p.check.notification, now));
      } else {
        KAKUNIN_RETURN_IF_ERROR(txn.RollbackToSavepoint());
        state.clear();  // nothing of it stays
      }
      result = std::move(*r);
    }
    // Refusals and replays are operations too.
    audit::AuditEntry e;
    e.state = std::move(state);
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = "notification.apply";
    if (p.check.ok() || replayed) {
      const Notification& n = replayed ? *replayed : *p.check.notification;
      // An applied (or replayed) one names the resident it wrote; a refused one only the codes
      // it named, without saying whether the registry holds them (not_found, say).
      auto name = [&](const std::string& code) {
        return result.ok() ? Target(code, true) : AskedTarget(*cipher_, code);
      };
      e.targets.push_back(name(n.resident_code.str()));
      if (n.new_resident_code) e.targets.push_back(name(n.new_resident_code->str()));
      e.conditions = n.municipality_code + "#" + std::to_string(n.sequence) + " " +
                     std::string(ChangeReasonName(n.reason));
    }
    e.result_count = result.ok() ? 1 : 0;
    if (result.ok()) {
      e.outcome = result.duplicate ? "duplicate" : "done";
    } else {
      // The field by its contract name only: an unknown key is the sender's text (a
      // romanized name, say) and is answered to the sender, never kept in the log.
      const std::string& field = result.errors[0].field;
      e.outcome = "refused:" +
                  (field == "record" || IsNotificationField(field) ? field
                                                                   : std::string("(unnamed)")) +
                  ":" + std::string(ErrorCodeName(result.errors[0].code));
    }
    auto seq = log_->Append(txn, std::move(e));
    if (!seq.ok()) return seq.status();
    results.push_back(std::move(result));
  }
  return results;
}

Result<std::vector<ApplyResult>> Registry::Apply(
    const std::vector<PreparedNotification>& batch, const Actor& actor,
    const std::function<Status(store::RegistryTxn&)>& recheck) {
  std::vector<ApplyResult> results;
  Status st = WriteTxn([&](store::RegistryTxn& txn) -> Status {
    if (recheck) KAKUNIN_RETURN_IF_ERROR(recheck(txn));
    auto r = ApplyIn(txn, batch, actor);
    if (!r.ok()) return r.status();
    results = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return results;
}

}  // namespace kakunin::registry
