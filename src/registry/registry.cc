#include "registry/registry.h"

#include <algorithm>
#include <cstdlib>

#include "core/bytes.h"
#include "registry/write_queue.h"
#include "text/json.h"
#include "text/search_key.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

using store::ResidentRow;
using store::ResidentStatus;
using store::VersionRow;

// Domain separation for the keyed hashes: a payload MAC can never equal a number MAC.
std::string NumberMac(const crypto::FieldCipher& c, std::string_view number) {
  return c.LookupHash(std::string("kakunin/individual_number/v1:") + std::string(number));
}

ApplyResult Reject(ErrorCode code) {
  ApplyResult r;
  r.errors.push_back({std::string(kRecordField), code});
  return r;
}

Date YearsBefore(const Date& d, int years) {
  int y = d.year() - years;
  int day = std::min(d.day(), Date::DaysInMonth(y, d.month()));
  return Date::FromYmd(y, d.month(), day);
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

std::string NumberAssociatedData(const std::string& municipality, int64_t sequence) {
  return "kakunin/version/" + municipality + "/" + std::to_string(sequence);
}

std::string ResidentTarget(const crypto::FieldCipher& cipher, std::string_view resident_code,
                           bool found) {
  // Domain-separated from the number and payload MACs.
  return "mac:" +
         HexEncode(cipher.LookupHash("kakunin/resident_code/v1:" + std::string(resident_code))) +
         (found ? ":found" : ":missing");
}

std::string Registry::Target(const std::string& resident_code, bool found) const {
  return ResidentTarget(*cipher_, resident_code, found);
}

bool IsValidPurposeId(std::string_view purpose) {
  if (purpose.empty() || purpose.size() > 64) return false;
  for (char c : purpose) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

Registry::Registry(const NodeConfig& config, store::RegistryStore* store,
                   const crypto::FieldCipher* cipher, const Clock* clock,
                   const audit::AuditLog* log)
    : config_(config), store_(store), cipher_(cipher), clock_(clock), log_(log) {}

CheckOptions Registry::check_options() const {
  CheckOptions o;
  o.today = clock_->TodayJst();
  o.resident_code_check = config_.resident_code_check;
  return o;
}

PreparedNotification Registry::Prepare(CheckResult checked) const {
  PreparedNotification p;
  p.check = std::move(checked);
  if (!p.check.ok()) return p;
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

// The state checks of an entry (記載) beyond the sequence; nullopt if it may be applied.
// `person` is the holder of the notification's resident code as a current code, if any.
//
// Where several rules apply, the first that holds answers, in this order: refusals that no
// correction of the notification could cure come first, so a sender who fixes what it is told
// is not then told something else.
//   1. already_registered — the code is active in the sender's own municipality (whatever the
//      reason: the answer senders had before the other rules existed).
//   2. code_in_use — a birth for a code the registry has held (active elsewhere, removed, or
//      replaced by a code change): a newborn's code is new. Before `deceased`, because a
//      birth is never the same person continuing, dead or not.
//   3. deceased — the registration ended with death; only an ex_officio_entry by the
//      municipality that recorded the death (a death recorded in error) reopens it.
//   4. already_registered — active elsewhere and not a 転入: only a move supersedes.
//   5. identity_mismatch — the code's holder (active elsewhere or removed) has another
//      birth date, sex or individual number: moving does not change who a person is; a
//      change of those is an amendment where the person is registered.
//   6. code_in_use — a code that is not current but was replaced (never reissued).
// number_in_use is checked after these, by the caller.
Result<std::optional<ErrorCode>> CheckEntry(store::RegistryTxn& txn,
                                            const PreparedNotification& p,
                                            const std::optional<ResidentRow>& person) {
  using Refusal = std::optional<ErrorCode>;
  const Notification& n = *p.check.notification;
  const std::string& sender = n.municipality_code;
  if (!person) {
    KAKUNIN_ASSIGN_OR_RETURN(known, txn.IsResidentCodeKnown(n.resident_code.str()));
    return known ? Refusal(ErrorCode::kCodeInUse) : Refusal();
  }
  const bool active = person->status == ResidentStatus::kActive;
  if (active && person->municipality_code == sender) {
    return Refusal(ErrorCode::kAlreadyRegistered);
  }
  if (n.reason == ChangeReason::kBirth) return Refusal(ErrorCode::kCodeInUse);
  if (!active) {
    // A removed resident's row points at the removal that ended the registration (a late
    // 転出 recorded in history only never becomes the current version).
    KAKUNIN_ASSIGN_OR_RETURN(ended, txn.Version(person->version_id));
    if (!ended) return Status::DataLoss("a resident's current version is missing");
    if (ended->reason == ChangeReasonName(ChangeReason::kDeath) &&
        !(n.reason == ChangeReason::kExOfficioEntry && ended->municipality_code == sender)) {
      return Refusal(ErrorCode::kDeceased);
    }
  } else if (n.reason != ChangeReason::kMovedIn) {
    return Refusal(ErrorCode::kAlreadyRegistered);
  }
  // The number is compared by its keyed MAC: a sealed number is never opened for a check.
  if (person->birth_date != n.birth_date.ToIso() || person->sex != SexName(n.sex) ||
      !ConstantTimeEquals(person->number_mac, p.number_mac)) {
    return Refusal(ErrorCode::kIdentityMismatch);
  }
  return Refusal();
}

}  // namespace

Result<ApplyResult> Registry::ApplyOne(store::RegistryTxn& txn, const PreparedNotification& p,
                                       int64_t now) const {
  const Notification& n = *p.check.notification;
  const std::string& sender = n.municipality_code;
  const int64_t seq = static_cast<int64_t>(n.sequence);

  if (config_.role == NodeRole::kPrefecture) {
    const LocalGovEntry* e = LocalGovTable::Builtin().Find(sender);
    if (e == nullptr || e->prefecture_number() != config_.prefecture) {
      return Reject(ErrorCode::kOutsidePrefecture);
    }
  }

  // Sequence: replays are acknowledged, conflicts and gaps refused.
  KAKUNIN_ASSIGN_OR_RETURN(last, txn.LastSequence(sender));
  if (seq <= last) {
    KAKUNIN_ASSIGN_OR_RETURN(mac, txn.AppliedMac(sender, seq));
    if (mac && ConstantTimeEquals(*mac, p.payload_mac)) {
      ApplyResult dup;
      dup.duplicate = true;
      return dup;
    }
    return Reject(ErrorCode::kSequenceConflict);
  }
  if (seq > last + 1) return Reject(ErrorCode::kSequenceGap);

  int64_t version_id = 0;  // the version this notification becomes
  // The late 転出 of a move already registered at the new municipality is recorded in
  // history only, whatever happened to the person since (another move, a removal, a code
  // change): otherwise the old municipality could never get past it.
  if (n.reason == ChangeReason::kMovedOut) {
    KAKUNIN_ASSIGN_OR_RETURN(anyone, txn.FindByAnyResidentCode(n.resident_code.str()));
    if (anyone) {
      KAKUNIN_ASSIGN_OR_RETURN(expected, txn.TakeExpectedMoveOut(anyone->person_id, sender));
      if (expected) {
        VersionRow v = MakeVersion(p, anyone->person_id, now);
        v.superseded_at = now;
        KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(v));
        KAKUNIN_RETURN_IF_ERROR(txn.RecordApplied(sender, seq, p.payload_mac, now));
        KAKUNIN_RETURN_IF_ERROR(txn.EnqueueOutbox(vid, now));
        return ApplyResult();
      }
    }
  }

  KAKUNIN_ASSIGN_OR_RETURN(person, txn.FindByResidentCode(n.resident_code.str()));
  const bool active = person && person->status == ResidentStatus::kActive;

  switch (n.kind) {
    case NotificationKind::kEntry: {
      KAKUNIN_ASSIGN_OR_RETURN(refusal, CheckEntry(txn, p, person));
      if (refusal) return Reject(*refusal);
      if (active) {
        // B's 転入 reached us before A's 転出, which is then expected and recorded in history.
        KAKUNIN_RETURN_IF_ERROR(
            txn.AddExpectedMoveOut(person->person_id, person->municipality_code));
      }
      KAKUNIN_ASSIGN_OR_RETURN(taken, txn.NumberHeldByOther(p.number_mac, person ? person->person_id : 0));
      if (taken) return Reject(ErrorCode::kNumberInUse);
      ResidentRow row = person ? *person : ResidentRow();
      SetCurrent(&row, p, now);
      row.status = ResidentStatus::kActive;
      row.removed_at = 0;
      if (!person) {
        KAKUNIN_ASSIGN_OR_RETURN(pid, txn.InsertResident(row));
        KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(MakeVersion(p, pid, now)));
        KAKUNIN_RETURN_IF_ERROR(txn.SetResidentVersion(pid, vid));
        version_id = vid;
        break;
      }
      KAKUNIN_RETURN_IF_ERROR(txn.MarkSuperseded(person->version_id, now));
      KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(MakeVersion(p, row.person_id, now)));
      row.version_id = vid;
      KAKUNIN_RETURN_IF_ERROR(txn.UpdateResident(row));
      version_id = vid;
      break;
    }
    case NotificationKind::kRemoval: {
      if (!person) return Reject(ErrorCode::kNotFound);
      if (!active) return Reject(ErrorCode::kRemoved);
      if (person->municipality_code != sender) return Reject(ErrorCode::kWrongMunicipality);
      KAKUNIN_RETURN_IF_ERROR(txn.MarkSuperseded(person->version_id, now));
      KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(MakeVersion(p, person->person_id, now)));
      ResidentRow row = *person;
      SetCurrent(&row, p, now);
      row.status = ResidentStatus::kRemoved;
      row.removed_at = now;
      row.version_id = vid;
      KAKUNIN_RETURN_IF_ERROR(txn.UpdateResident(row));
      version_id = vid;
      break;
    }
    case NotificationKind::kAmendment: {
      if (!person) return Reject(ErrorCode::kNotFound);
      if (!active) return Reject(ErrorCode::kRemoved);
      if (person->municipality_code != sender) return Reject(ErrorCode::kWrongMunicipality);
      if (n.new_resident_code) {
        KAKUNIN_ASSIGN_OR_RETURN(known, txn.IsResidentCodeKnown(n.new_resident_code->str()));
        if (known) return Reject(ErrorCode::kCodeInUse);
      }
      KAKUNIN_ASSIGN_OR_RETURN(taken, txn.NumberHeldByOther(p.number_mac, person->person_id));
      if (taken) return Reject(ErrorCode::kNumberInUse);
      KAKUNIN_RETURN_IF_ERROR(txn.MarkSuperseded(person->version_id, now));
      KAKUNIN_ASSIGN_OR_RETURN(vid, txn.InsertVersion(MakeVersion(p, person->person_id, now)));
      ResidentRow row = *person;
      SetCurrent(&row, p, now);
      row.version_id = vid;
      KAKUNIN_RETURN_IF_ERROR(txn.UpdateResident(row));
      version_id = vid;
      if (n.new_resident_code) {
        KAKUNIN_RETURN_IF_ERROR(txn.RecordCodeChange(n.resident_code.str(),
                                                     n.new_resident_code->str(),
                                                     person->person_id, now));
      }
      break;
    }
  }
  KAKUNIN_RETURN_IF_ERROR(txn.RecordApplied(sender, seq, p.payload_mac, now));
  KAKUNIN_RETURN_IF_ERROR(txn.EnqueueOutbox(version_id, now));
  return ApplyResult();
}

Result<std::vector<ApplyResult>> Registry::ApplyIn(
    store::RegistryTxn& txn, const std::vector<PreparedNotification>& batch,
    const Actor& actor) const {
  KAKUNIN_RETURN_IF_ERROR(CheckRunning(txn));
  std::vector<ApplyResult> results;
  results.reserve(batch.size());
  const int64_t now = clock_->NowMicros();
  for (const PreparedNotification& p : batch) {
    ApplyResult result;
    if (!p.check.ok()) {
      result.errors = p.check.errors;
    } else {
      KAKUNIN_RETURN_IF_ERROR(txn.Savepoint());
      auto r = ApplyOne(txn, p, now);
      if (!r.ok()) {
        (void)txn.RollbackToSavepoint();
        return r.status();
      }
      if (r->ok() && !r->duplicate) {
        KAKUNIN_RETURN_IF_ERROR(txn.ReleaseSavepoint());
      } else {
        KAKUNIN_RETURN_IF_ERROR(txn.RollbackToSavepoint());
      }
      result = std::move(*r);
    }
    // Refusals and replays are operations too.
    audit::AuditEntry e;
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = "notification.apply";
    if (p.check.ok()) {
      const Notification& n = *p.check.notification;
      e.targets.push_back(n.resident_code.str());
      if (n.new_resident_code) e.targets.push_back(n.new_resident_code->str());
      e.conditions = n.municipality_code + "#" + std::to_string(n.sequence) + " " +
                     std::string(ChangeReasonName(n.reason));
    }
    e.result_count = result.ok() ? 1 : 0;
    if (result.ok()) {
      e.outcome = result.duplicate ? "duplicate" : "done";
    } else {
      e.outcome = "refused:" + result.errors[0].field + ":" +
                  std::string(ErrorCodeName(result.errors[0].code));
    }
    auto seq = log_->Append(txn, std::move(e));
    if (!seq.ok()) return seq.status();
    results.push_back(std::move(result));
  }
  return results;
}

Result<std::vector<ApplyResult>> Registry::Apply(const std::vector<PreparedNotification>& batch,
                                                 const Actor& actor) {
  std::vector<ApplyResult> results;
  Status st = WriteTxn([&](store::RegistryTxn& txn) -> Status {
    auto r = ApplyIn(txn, batch, actor);
    if (!r.ok()) return r.status();
    results = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return results;
}

Status Registry::CheckPurpose(const std::string& purpose) const {
  if (!IsValidPurposeId(purpose)) return Status::InvalidArgument("a valid purpose is required");
  if (purposes_ != nullptr && purposes_->Find(purpose) == nullptr) {
    return Status::PermissionDenied("the purpose is not in the catalogue")
        .WithReason("purpose_not_permitted");
  }
  return Status::Ok();
}

Status Registry::CheckProvisionPurpose(const ProvisionRequest& req) const {
  KAKUNIN_RETURN_IF_ERROR(CheckPurpose(req.purpose));
  if (purposes_ == nullptr) return Status::Ok();
  const Purpose* p = purposes_->Find(req.purpose);
  // An operator's read goes to the purpose's department (Gateway), which is on the list too.
  if (!p->AllowsRecipient(req.recipient)) {
    return Status::PermissionDenied("the purpose is not open to this recipient")
        .WithReason("purpose_not_permitted");
  }
  for (const auto& item : req.items) {
    if (!p->AllowsField(item)) {
      return Status::PermissionDenied("an item is not among the purpose's fields")
          .WithReason("purpose_not_permitted");
    }
  }
  return Status::Ok();
}

Status Registry::WriteTxn(const std::function<Status(store::RegistryTxn&)>& job) const {
  if (queue_ != nullptr) return queue_->Submit(job);
  return store_->Write(job);
}

Status Registry::Record(audit::AuditEntry entry) const {
  return WriteTxn([&](store::RegistryTxn& txn) -> Status {
    return log_->Append(txn, std::move(entry)).status();
  });
}

Status Registry::RecordWith(audit::AuditEntry entry,
                            const std::function<Status(store::RegistryTxn&)>& change) const {
  return WriteTxn([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(change(txn));
    return log_->Append(txn, std::move(entry)).status();
  });
}

namespace {
constexpr char kHaltedKey[] = "halted_since";
}  // namespace

Status Registry::CheckRunning(store::RegistryTxn& txn) const {
  KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta(kHaltedKey));
  if (halted) return Status::Unavailable("the node is halted").WithReason("halted");
  return Status::Ok();
}

Result<std::optional<int64_t>> Registry::HaltedSince(store::RegistryReader& reader) const {
  KAKUNIN_ASSIGN_OR_RETURN(halted, reader.GetMeta(kHaltedKey));
  if (!halted) return std::optional<int64_t>();
  return std::optional<int64_t>(std::strtoll(halted->c_str(), nullptr, 10));
}

Status Registry::Halt(const std::string& reason, const Actor& actor) {
  if (reason.empty() || reason.size() > 1000 || text::CheckText(reason) != text::TextCheck::kOk) {
    return Status::InvalidArgument("a reason (1-1000 characters of text) is required");
  }
  return store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta(kHaltedKey));
    if (halted) return Status::FailedPrecondition("the node is already halted");
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kHaltedKey, std::to_string(clock_->NowMicros())));
    audit::AuditEntry e;
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = "node.halt";
    e.conditions = "reason=" + reason;
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
}

Status Registry::Resume(const Actor& actor) {
  return store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta(kHaltedKey));
    if (!halted) return Status::FailedPrecondition("the node is not halted");
    KAKUNIN_RETURN_IF_ERROR(txn.DeleteMeta(kHaltedKey));
    audit::AuditEntry e;
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = "node.resume";
    e.conditions = "halted_since=" + *halted;
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
}

Status Registry::Checkpoint() const {
  return store_->Write([&](store::RegistryTxn& txn) { return log_->WriteCheckpoint(txn); });
}

namespace {
// What a refused read is (recorded as such): a bad request, a caller without the right, or a
// halt found inside the recording transaction. Anything else is a failure, not a decision.
bool IsRefusal(const Status& st) {
  return st.code() == StatusCode::kInvalidArgument ||
         st.code() == StatusCode::kPermissionDenied || st.reason() == "halted";
}

audit::AuditEntry ReadEntry(const Actor& actor, const char* action, const std::string& purpose) {
  audit::AuditEntry e;
  e.actor = actor.id;
  e.terminal = actor.terminal;
  e.action = action;
  e.purpose = purpose;
  return e;
}
}  // namespace

Result<std::optional<ResidentView>> Registry::Show(store::RegistryReader& reader,
                                                   const std::string& resident_code,
                                                   const Actor& actor, const std::string& purpose,
                                                   bool include_removed) const {
  if (Status why = CheckPurpose(purpose); !why.ok()) return Refuse(actor, "resident.show", purpose, why);
  KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindByResidentCode(resident_code));
  if (row && row->status == ResidentStatus::kRemoved && !include_removed) row.reset();
  audit::AuditEntry entry = ReadEntry(actor, "resident.show", purpose);
  entry.targets.push_back(row ? Target(row->resident_code, true) : Target(resident_code, false));
  entry.result_count = row ? 1 : 0;
  entry.outcome = row && row->status == ResidentStatus::kRemoved ? "done:removed" : "done";
  if (!row) {
    KAKUNIN_RETURN_IF_ERROR(Record(std::move(entry)));
    return std::optional<ResidentView>();
  }
  KAKUNIN_ASSIGN_OR_RETURN(version, reader.Version(row->version_id));
  if (!version) return Status::DataLoss("a resident's current version is missing");
  KAKUNIN_ASSIGN_OR_RETURN(number, cipher_->Open(version->sealed_number,
                                       NumberAssociatedData(version->municipality_code,
                                                            version->sequence)));
  ResidentView v;
  v.row = std::move(*row);
  v.individual_number = std::move(number);
  v.former_surname = version->former_surname;
  v.alias = version->alias;
  v.change_reason = version->reason;
  v.change_date = version->change_date;
  // Recorded before it is answered.
  KAKUNIN_RETURN_IF_ERROR(Record(std::move(entry)));
  return std::optional<ResidentView>(std::move(v));
}

Status Registry::Refuse(const Actor& actor, const char* action, const std::string& purpose,
                        const Status& why) const {
  audit::AuditEntry e = ReadEntry(actor, action, IsValidPurposeId(purpose) ? purpose : "(invalid)");
  // The reason, never the rejected value (messages here name no personal data).
  e.outcome = "refused:" + (why.reason().empty() ? why.message() : std::string(why.reason()));
  KAKUNIN_RETURN_IF_ERROR(Record(std::move(e)));
  return why;
}

Result<SearchOutcome> Registry::Search(
    store::RegistryReader& reader, const SearchRequest& req, const Actor& actor,
    const std::string& purpose, const std::function<Status(store::RegistryTxn&)>& recheck) const {
  auto r = SearchImpl(reader, req, actor, purpose, recheck);
  if (!r.ok() && IsRefusal(r.status())) {
    return Refuse(actor, "resident.search", purpose, r.status());
  }
  return r;
}

Result<SearchOutcome> Registry::SearchImpl(
    store::RegistryReader& reader, const SearchRequest& req, const Actor& actor,
    const std::string& purpose, const std::function<Status(store::RegistryTxn&)>& recheck) const {
  KAKUNIN_RETURN_IF_ERROR(CheckPurpose(purpose));
  if (purposes_ != nullptr) {
    // A criterion is a use of the field it names: a purpose without 個人番号 cannot find out
    // whose a number is, one without addresses cannot list who lives where.
    const Purpose* p = purposes_->Find(purpose);
    const std::pair<const std::optional<std::string>*, const char*> criteria[] = {
        {&req.kana, "name_kana"}, {&req.name, "name"},       {&req.birth_date, "birth_date"},
        {&req.sex, "sex"},        {&req.address, "address"}, {&req.number, "individual_number"}};
    for (const auto& [value, field] : criteria) {
      if (value->has_value() && !p->AllowsField(field)) {
        return Status::PermissionDenied("a search criterion is not among the purpose's fields")
            .WithReason("criterion_not_permitted");
      }
    }
  }
  SearchOutcome out;
  // The conditions, as asked, go into the log with the codes found.
  std::string conditions = "{";
  auto cond = [&](const char* k, const std::optional<std::string>& v) {
    if (!v) return;
    if (conditions.size() > 1) conditions += ",";
    conditions += "\"" + std::string(k) + "\":";
    text::AppendJsonString(text::IsValidUtf8(*v) ? *v : std::string("(invalid)"), &conditions);
  };
  cond("kana", req.kana);
  cond("name", req.name);
  cond("birth_date", req.birth_date);
  cond("sex", req.sex);
  cond("address", req.address);
  // An identifier is recorded as its keyed MAC, never in clear.
  if (req.number) {
    const std::string mac = "mac:" + HexEncode(NumberMac(*cipher_, *req.number));
    cond("number", mac);
  }
  if (req.include_removed) conditions += std::string(conditions.size() > 1 ? "," : "") +
                                         "\"include_removed\":true";
  conditions += "}";
  auto record = [&](const SearchOutcome& o) {
    audit::AuditEntry e = ReadEntry(actor, "resident.search", purpose);
    e.conditions = conditions;
    for (const auto& r : o.rows) e.targets.push_back(Target(r.resident_code, true));
    e.result_count = static_cast<int64_t>(o.rows.size());
    e.outcome = o.cut ? "done:cut" : "done";
    return WriteTxn([&](store::RegistryTxn& txn) -> Status {
      if (recheck) KAKUNIN_RETURN_IF_ERROR(recheck(txn));
      return log_->Append(txn, std::move(e)).status();
    });
  };
  if (req.limit < 1 || req.limit > 1000) return Status::InvalidArgument("limit must be 1..1000");
  if (req.number) {
    ErrorCode e;
    if (!IndividualNumber::Parse(*req.number, &e)) {
      return Status::InvalidArgument("the individual number is not valid");
    }
    KAKUNIN_ASSIGN_OR_RETURN(rows, reader.FindByNumberMac(NumberMac(*cipher_, *req.number),
                                                req.include_removed));
    out.rows = std::move(rows);
    KAKUNIN_RETURN_IF_ERROR(record(out));
    return out;
  }
  store::SearchQuery q;
  auto key = [](const std::optional<std::string>& s) -> Result<std::optional<std::string>> {
    if (!s) return std::optional<std::string>();
    if (text::CheckText(*s) != text::TextCheck::kOk) {
      return Status::InvalidArgument("search text is not valid UTF-8 text");
    }
    std::string k = text::SearchKey(*s);
    if (k.empty()) return Status::InvalidArgument("a search criterion is empty");
    return std::optional<std::string>(std::move(k));
  };
  KAKUNIN_ASSIGN_OR_RETURN(kana, key(req.kana));
  KAKUNIN_ASSIGN_OR_RETURN(name, key(req.name));
  KAKUNIN_ASSIGN_OR_RETURN(address, key(req.address));
  q.kana_key = kana;
  q.name_key = name;
  q.address_key = address;
  if (req.birth_date) {
    if (!ParseIsoDate(*req.birth_date).date) {
      return Status::InvalidArgument("birth date must be YYYY-MM-DD");
    }
    q.birth_date = req.birth_date;
  }
  if (req.sex) {
    if (!ParseSex(*req.sex)) return Status::InvalidArgument("sex must be male or female");
    q.sex = req.sex;
  }
  if (!q.kana_key && !q.name_key && !q.address_key && !q.birth_date) {
    // Searches are for finding a person, never for listing residents.
    return Status::InvalidArgument("give a kana, name, address or birth date");
  }
  q.include_removed = req.include_removed;
  q.limit = req.limit;
  KAKUNIN_ASSIGN_OR_RETURN(res, reader.Search(q));
  out.rows = std::move(res.rows);
  out.cut = res.cut;
  KAKUNIN_RETURN_IF_ERROR(record(out));
  return out;
}

Result<std::vector<ProvidedRecord>> Registry::Provide(store::RegistryReader& reader,
                                                      const ProvisionRequest& req,
                                                      const Actor& actor) const {
  auto r = ProvideImpl(reader, req, actor);
  if (!r.ok() && IsRefusal(r.status())) {
    return Refuse(actor, "resident.provide", req.purpose, r.status());
  }
  return r;
}

namespace {
Status CheckProvisionRequest(const ProvisionRequest& req, size_t max_codes) {
  if (!IsValidPurposeId(req.purpose)) return Status::InvalidArgument("a valid purpose is required");
  if (req.recipient.empty() || req.recipient.size() > 200 ||
      text::CheckText(req.recipient) != text::TextCheck::kOk) {
    return Status::InvalidArgument("a recipient is required");
  }
  if (req.function != "lookup" && req.function != "search" && req.function != "batch" &&
      req.function != "history") {
    return Status::InvalidArgument("function must be lookup, search, batch or history");
  }
  if (req.resident_codes.empty() || req.resident_codes.size() > max_codes) {
    return Status::InvalidArgument("give 1.." + std::to_string(max_codes) + " resident codes");
  }
  if (req.items.empty()) return Status::InvalidArgument("name the items to provide");
  for (const auto& item : req.items) {
    if (std::find(std::begin(kProvisionItems), std::end(kProvisionItems), item) ==
        std::end(kProvisionItems)) {
      return Status::InvalidArgument("an item is not one of the provision items");
    }
  }
  return Status::Ok();
}

std::string JoinItems(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}
}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> Registry::ItemsOf(
    const store::VersionRow& v, const std::vector<std::string>& items) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& item : items) {
    std::optional<std::string> value;
    if (item == "resident_code") value = v.resident_code;
    if (item == "name") value = v.name;
    if (item == "name_kana") value = v.name_kana;
    if (item == "former_surname") value = v.former_surname;
    if (item == "alias") value = v.alias;
    if (item == "sex") value = v.sex;
    if (item == "birth_date") value = v.birth_date;
    if (item == "address") value = v.address;
    if (item == "municipality_code") value = v.municipality_code;
    if (item == "individual_number") {
      KAKUNIN_ASSIGN_OR_RETURN(number, cipher_->Open(v.sealed_number, NumberAssociatedData(
                                                                v.municipality_code, v.sequence)));
      value = std::move(number);
    }
    if (value) out.emplace_back(item, std::move(*value));
  }
  return out;
}

store::ProvisionRow Registry::ProvisionOf(const std::string& resident_code,
                                          const ProvisionRequest& req) const {
  store::ProvisionRow p;
  p.resident_code = resident_code;
  p.function = req.function;
  p.purpose = req.purpose;
  p.provision_kind = req.provision_kind;
  p.number_provided = std::find(req.items.begin(), req.items.end(), "individual_number") !=
                      req.items.end();
  p.source = "prefecture:" + std::to_string(config_.prefecture);
  p.recipient = req.recipient;
  p.items = JoinItems(req.items);
  return p;
}

Status Registry::WriteProvisions(const ProvisionRequest& req, const Actor& actor,
                                 const std::vector<std::string>& targets,
                                 std::vector<store::ProvisionRow>& rows) const {
  const std::string items_joined = JoinItems(req.items);
  // Provision records and the log entry in one transaction, before anything is returned; a
  // halted node provides nothing, nor does a caller whose rights ended a moment ago.
  return WriteTxn([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(CheckRunning(txn));
    if (req.recheck) KAKUNIN_RETURN_IF_ERROR(req.recheck(txn));
    audit::AuditEntry e = ReadEntry(actor, "resident.provide", req.purpose);
    e.targets = targets;
    e.conditions = "function=" + req.function + " kind=" + req.provision_kind +
                   " recipient=" + req.recipient + " items=" + items_joined;
    e.result_count = static_cast<int64_t>(rows.size());
    e.outcome = "done";
    auto seq = log_->Append(txn, std::move(e));
    if (!seq.ok()) return seq.status();
    const int64_t now = clock_->NowMicros();
    for (auto& r : rows) {
      r.provided_at = now;
      r.audit_seq = static_cast<int64_t>(*seq);
      KAKUNIN_RETURN_IF_ERROR(txn.InsertProvision(r));
    }
    return Status::Ok();
  });
}

Result<std::vector<ProvidedRecord>> Registry::ProvideImpl(store::RegistryReader& reader,
                                                          const ProvisionRequest& req,
                                                          const Actor& actor) const {
  KAKUNIN_RETURN_IF_ERROR(CheckProvisionRequest(req, 10000));
  KAKUNIN_RETURN_IF_ERROR(CheckProvisionPurpose(req));
  if (req.function == "history") return Status::InvalidArgument("use ProvideHistory");
  std::vector<ProvidedRecord> out;
  std::vector<store::ProvisionRow> rows;
  std::vector<std::string> targets;
  std::vector<std::string> asked;     // each code once, first-seen order
  std::vector<int64_t> provided_to;   // persons already in `rows`
  for (const auto& code : req.resident_codes) {
    if (std::find(asked.begin(), asked.end(), code) != asked.end()) continue;
    asked.push_back(code);
    ProvidedRecord rec;
    rec.resident_code = code;
    KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindByResidentCode(code));
    if (row && row->status == ResidentStatus::kActive) {
      KAKUNIN_ASSIGN_OR_RETURN(version, reader.Version(row->version_id));
      if (!version) return Status::DataLoss("a resident's current version is missing");
      rec.found = true;
      KAKUNIN_ASSIGN_OR_RETURN(items, ItemsOf(*version, req.items));
      rec.items = std::move(items);
      // One record (and one target) per person, however many of their codes were asked.
      if (std::find(provided_to.begin(), provided_to.end(), row->person_id) ==
          provided_to.end()) {
        provided_to.push_back(row->person_id);
        rows.push_back(ProvisionOf(row->resident_code, req));
        targets.push_back(Target(row->resident_code, true));
      }
    } else {
      targets.push_back(Target(code, false));
    }
    out.push_back(std::move(rec));
  }
  KAKUNIN_RETURN_IF_ERROR(WriteProvisions(req, actor, targets, rows));
  return out;
}

Result<std::optional<std::vector<ProvidedVersion>>> Registry::ProvideHistory(
    store::RegistryReader& reader, const ProvisionRequest& req, const Actor& actor) const {
  auto r = ProvideHistoryImpl(reader, req, actor);
  if (!r.ok() && IsRefusal(r.status())) {
    return Refuse(actor, "resident.provide", req.purpose, r.status());
  }
  return r;
}

Result<std::optional<std::vector<ProvidedVersion>>> Registry::ProvideHistoryImpl(
    store::RegistryReader& reader, const ProvisionRequest& req, const Actor& actor) const {
  KAKUNIN_RETURN_IF_ERROR(CheckProvisionRequest(req, 1));
  KAKUNIN_RETURN_IF_ERROR(CheckProvisionPurpose(req));
  if (req.function != "history") return Status::InvalidArgument("function must be history");
  KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindByResidentCode(req.resident_codes[0]));
  std::vector<store::ProvisionRow> rows;
  std::vector<std::string> targets;
  std::optional<std::vector<ProvidedVersion>> out;
  if (row && row->status == ResidentStatus::kActive) {
    KAKUNIN_ASSIGN_OR_RETURN(versions, reader.History(row->person_id));
    out.emplace();
    for (const auto& v : versions) {
      ProvidedVersion pv;
      pv.kind = v.kind;
      pv.reason = v.reason;
      pv.change_date = v.change_date;
      KAKUNIN_ASSIGN_OR_RETURN(items, ItemsOf(v, req.items));
      pv.items = std::move(items);
      out->push_back(std::move(pv));
    }
    rows.push_back(ProvisionOf(row->resident_code, req));
    targets.push_back(Target(row->resident_code, true));
  } else {
    targets.push_back(Target(req.resident_codes[0], false));
  }
  KAKUNIN_RETURN_IF_ERROR(WriteProvisions(req, actor, targets, rows));
  return out;
}

Result<std::vector<store::ProvisionRow>> Registry::ProvisionsOf(store::RegistryReader& reader,
                                                                const std::string& code,
                                                                const Actor& actor,
                                                                const std::string& purpose) const {
  if (Status why = CheckPurpose(purpose); !why.ok()) return Refuse(actor, "resident.provisions", purpose, why);
  KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindByResidentCode(code));
  std::vector<store::ProvisionRow> out;
  if (row) {
    // Under the current code and every earlier one.
    KAKUNIN_ASSIGN_OR_RETURN(versions, reader.History(row->person_id));
    std::vector<std::string> codes = {row->resident_code};
    for (const auto& v : versions) {
      if (std::find(codes.begin(), codes.end(), v.resident_code) == codes.end()) {
        codes.push_back(v.resident_code);
      }
    }
    for (const auto& c : codes) {
      KAKUNIN_ASSIGN_OR_RETURN(p, reader.Provisions(c));
      out.insert(out.end(), p.begin(), p.end());
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.provided_at < b.provided_at; });
  }
  audit::AuditEntry e = ReadEntry(actor, "resident.provisions", purpose);
  e.targets.push_back(row ? Target(row->resident_code, true) : Target(code, false));
  e.result_count = static_cast<int64_t>(out.size());
  e.outcome = "done";
  KAKUNIN_RETURN_IF_ERROR(Record(std::move(e)));
  return out;
}

Result<std::optional<std::vector<VersionView>>> Registry::History(
    store::RegistryReader& reader, const std::string& resident_code, const Actor& actor,
    const std::string& purpose, bool include_removed) const {
  if (Status why = CheckPurpose(purpose); !why.ok()) return Refuse(actor, "resident.history", purpose, why);
  KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindByResidentCode(resident_code));
  if (row && row->status == ResidentStatus::kRemoved && !include_removed) row.reset();
  audit::AuditEntry entry = ReadEntry(actor, "resident.history", purpose);
  entry.targets.push_back(row ? Target(row->resident_code, true) : Target(resident_code, false));
  entry.outcome = row && row->status == ResidentStatus::kRemoved ? "done:removed" : "done";
  if (!row) {
    KAKUNIN_RETURN_IF_ERROR(Record(std::move(entry)));
    return std::optional<std::vector<VersionView>>();
  }
  KAKUNIN_ASSIGN_OR_RETURN(versions, reader.History(row->person_id));
  std::vector<VersionView> out;
  out.reserve(versions.size());
  for (auto& v : versions) {
    KAKUNIN_ASSIGN_OR_RETURN(number,
                   cipher_->Open(v.sealed_number,
                                 NumberAssociatedData(v.municipality_code, v.sequence)));
    out.push_back({std::move(v), std::move(number)});
  }
  entry.result_count = static_cast<int64_t>(out.size());
  KAKUNIN_RETURN_IF_ERROR(Record(std::move(entry)));
  return std::optional<std::vector<VersionView>>(std::move(out));
}

Result<store::PurgeCounts> Registry::Purge(const Date& as_of, bool dry_run, const Actor& actor) {
  // An erasure cannot be undone: a date typed wrong must not erase what the law keeps.
  if (!dry_run && as_of > clock_->TodayJst()) {
    return Status::InvalidArgument("a purge cannot be dated after today (preview with --dry-run)");
  }
  const int64_t superseded_before =
      JstMidnightMicros(YearsBefore(as_of, config_.superseded_retention_years));
  const int64_t removed_before = JstMidnightMicros(YearsBefore(as_of, config_.removed_retention_years));
  store::PurgeCounts counts;
  const int64_t audit_before = JstMidnightMicros(YearsBefore(as_of, config_.audit_retention_years));
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    auto r = txn.Purge(superseded_before, removed_before, dry_run);
    if (!r.ok()) return r.status();
    counts = *r;
    // The log keeps every leaf hash, so proofs stay valid after its payloads go.
    auto erased = txn.EraseAuditBefore(audit_before, dry_run);
    if (!erased.ok()) return erased.status();
    counts.audit_payloads = erased->entries;
    counts.provisions = erased->provisions;
    const int64_t erased_before_seq = dry_run ? 0 : erased->before_seq;
    audit::AuditEntry e;
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = dry_run ? "registry.purge.dry_run" : "registry.purge";
    e.conditions = "as_of=" + as_of.ToIso() + " superseded=" +
                   std::to_string(counts.superseded_versions) + " removed=" +
                   std::to_string(counts.removed_residents) + " audit_payloads=" +
                   std::to_string(counts.audit_payloads) + " provisions=" +
                   std::to_string(counts.provisions) +
                   // Signed through the tree: the verifier accepts erased payloads only below it.
                   " erased_before_seq=" + std::to_string(erased_before_seq);
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
  if (!st.ok()) return st;
  return counts;
}

namespace {
// The fields a current record and a version have in common.
template <typename Row>
void MinimiseShared(const Purpose& p, Row* r) {
  if (!p.AllowsField("resident_code")) r->resident_code.clear();
  if (!p.AllowsField("name")) r->name.clear();
  if (!p.AllowsField("name_kana")) r->name_kana.reset();
  if (!p.AllowsField("sex")) r->sex.clear();
  if (!p.AllowsField("birth_date")) r->birth_date.clear();
  if (!p.AllowsField("address")) r->address.clear();
  if (!p.AllowsField("municipality_code")) r->municipality_code.clear();
}
}  // namespace

void Minimise(const Purpose& p, store::ResidentRow* r) { MinimiseShared(p, r); }

void Minimise(const Purpose& p, ResidentView* v) {
  MinimiseShared(p, &v->row);
  if (!p.AllowsField("individual_number")) v->individual_number.clear();
  if (!p.AllowsField("former_surname")) v->former_surname.reset();
  if (!p.AllowsField("alias")) v->alias.reset();
}

void Minimise(const Purpose& p, VersionView* v) {
  MinimiseShared(p, &v->row);
  if (!p.AllowsField("former_surname")) v->row.former_surname.reset();
  if (!p.AllowsField("alias")) v->row.alias.reset();
  if (!p.AllowsField("resident_code")) v->row.new_resident_code.reset();
  if (!p.AllowsField("individual_number")) v->individual_number.clear();
}

}  // namespace kakunin::registry
