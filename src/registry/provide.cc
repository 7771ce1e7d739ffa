// Provision (提供) and transfer (移転) of residents' records, their provision records, and the
// operation log's name for a resident a read asked for.

#include <algorithm>

#include "core/bytes.h"
#include "domain/local_gov_code.h"
#include "registry/detail/registry_internal.h"
#include "registry/gaiji.h"
#include "registry/registry.h"
#include "registry/write_queue.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

using detail::IsRefusal;
using detail::ReadEntry;
using store::ResidentStatus;

}  // namespace

std::string ResidentTarget(const crypto::FieldCipher& cipher, std::string_view resident_code,
                           bool found) {
  // Domain-separated from the number and payload MACs.
  return "mac:" +
         HexEncode(cipher.LookupHash("kakunin/resident_code/v1:" + std::string(resident_code))) +
         (found ? ":found" : ":missing");
}

std::string AskedTarget(const crypto::FieldCipher& cipher, std::string_view resident_code) {
  if (resident_code.size() != 11 || !std::all_of(resident_code.begin(), resident_code.end(),
                                                 [](char c) { return c >= '0' && c <= '9'; })) {
    return "";
  }
  return "mac:" +
         HexEncode(cipher.LookupHash("kakunin/resident_code/v1:" + std::string(resident_code)));
}

std::string Registry::Target(const std::string& resident_code, bool found) const {
  return ResidentTarget(*cipher_, resident_code, found);
}

Status Registry::CheckProvisionPurpose(const ProvisionRequest& req) const {
  KAKUNIN_RETURN_IF_ERROR(CheckPurpose(req.purpose));
  if (purposes_ == nullptr) return Status::Ok();
  const Purpose* p = purposes_->Find(req.purpose);
  // An operator's read goes to the purpose's department (Gateway), which is on the list too.
  // A notice the desk hands to a legal representative goes to the resident's side under the
  // resident's purpose, recorded under the representative's own name (DisclosureDesk).
  const bool for_resident = req.function == "disclosure" &&
                            req.recipient == "legal_representative" &&
                            p->AllowsRecipient("resident");
  if (!for_resident && !p->AllowsRecipient(req.recipient)) {
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

namespace {
Status CheckProvisionRequest(const ProvisionRequest& req, size_t max_codes) {
  if (!IsValidPurposeId(req.purpose)) return Status::InvalidArgument("a valid purpose is required");
  if (req.recipient.empty() || req.recipient.size() > 200 ||
      text::CheckText(req.recipient) != text::TextCheck::kOk) {
    return Status::InvalidArgument("a recipient is required");
  }
  if (req.function != "lookup" && req.function != "search" && req.function != "batch" &&
      req.function != "history" && req.function != "disclosure") {
    return Status::InvalidArgument("function must be lookup, search, batch, history or disclosure");
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

std::string MunicipalityName(const store::VersionRow& v) {
  const LocalGovTable& table = LocalGovTable::Builtin();
  if (const LocalGovEntry* e = table.Find(v.municipality_code)) return e->FullName();
  const LocalGovHistoryEntry* h = table.FindAbolished(v.municipality_code);
  if (h == nullptr) return "";
  std::string now;
  for (const std::string& code : table.SuccessorsOn(*h, Date::FromYmd(9999, 12, 31))) {
    if (const LocalGovEntry* s = table.Find(code)) now += (now.empty() ? "" : "・") + s->FullName();
  }
  return h->FullName() + (now.empty() ? "" : "（現 " + now + "）");
}

}  // namespace

namespace {

// Only an answer that says where the person lives is marked — the address, or the
// municipality alone (the town is what the other party looks for): the mark itself says
// something about the person, and without either there is nothing to hold back.
bool MarkableItems(const std::vector<std::string>& items) {
  auto holds = [&](const char* item) {
    return std::find(items.begin(), items.end(), item) != items.end();
  };
  return holds("address") || holds("municipality_code");
}

// Whether `person_id`'s measure is in force today, as `source` — the read or the recording
// transaction — sees it.
template <typename Source>
Result<bool> MeasureInForceAt(Source& source, int64_t person_id, const std::string& today) {
  KAKUNIN_ASSIGN_OR_RETURN(m, source.SupportMeasureOf(person_id));
  return m.has_value() && SupportMeasureInForce(*m, today);
}

// Runs `then` after the request's own recheck, in the recording transaction.
void AlsoInRecordingTxn(ProvisionRequest& req, std::function<Status(store::RegistryTxn&)> then) {
  req.recheck = [recheck = std::move(req.recheck),
                 then = std::move(then)](store::RegistryTxn& txn) -> Status {
    if (recheck) KAKUNIN_RETURN_IF_ERROR(recheck(txn));
    return then(txn);
  };
}

}  // namespace

Result<bool> Registry::SupportMeasureMark(store::RegistryReader& reader, int64_t person_id,
                                          const std::vector<std::string>& items) const {
  if (!MarkableItems(items)) return false;
  return MeasureInForceAt(reader, person_id, clock_->TodayJst().ToIso());
}

std::function<Status(store::RegistryTxn&)> Registry::MarkAgainInTxn(
    std::vector<int64_t> persons, const std::vector<std::string>& items,
    std::function<void(size_t)> mark) const {
  // The mark is read with the record, before the recording transaction; a measure committed
  // between the two would let the answer go out unmarked (found in review: 2 of 3,622 lookups
  // answered in the commit that set a measure). Read again where the provision is recorded,
  // the answer is marked if the measure was in force when it was given out.
  if (!MarkableItems(items)) persons.clear();
  return [this, persons = std::move(persons), mark = std::move(mark)](
             store::RegistryTxn& txn) -> Status {
    const std::string today = clock_->TodayJst().ToIso();
    for (size_t i = 0; i < persons.size(); ++i) {
      if (persons[i] == 0) continue;
      KAKUNIN_ASSIGN_OR_RETURN(in_force, MeasureInForceAt(txn, persons[i], today));
      if (in_force) mark(i);
    }
    return Status::Ok();
  };
}

Result<std::vector<std::pair<std::string, std::string>>> Registry::ItemsOf(
    store::RegistryReader& reader, const store::VersionRow& v,
    const std::vector<std::string>& items) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& item : items) {
    std::optional<std::string> value;
    // The code the person holds after the version: a code change's version is stored under
    // the old code and names the new one (found in review: recipients were given the retired
    // code after a change).
    if (item == "resident_code") value = v.new_resident_code.value_or(v.resident_code);
    if (item == "name") value = v.name;
    if (item == "name_kana") value = v.name_kana;
    if (item == "former_surname") value = v.former_surname;
    if (item == "alias") value = v.alias;
    if (item == "sex") value = v.sex;
    if (item == "birth_date") value = v.birth_date;
    if (item == "address") value = v.address;
    if (item == "municipality_code") value = v.municipality_code;
    if (item == "individual_number") {
      KAKUNIN_ASSIGN_OR_RETURN(
          number,
          cipher_->Open(v.sealed_number, NumberAssociatedData(v.municipality_code, v.sequence)));
      value = std::move(number);
    }
    if (!value) continue;
    const bool text_field =
        item == "name" || item == "former_surname" || item == "alias" || item == "address";
    std::optional<std::string> display;
    if (text_field && gaiji_ != nullptr && HasPrivateUse(*value)) {
      KAKUNIN_ASSIGN_OR_RETURN(shown, gaiji_->Resolve(reader, v.municipality_code, *value));
      display = std::move(shown);
    }
    out.emplace_back(item, std::move(*value));
    if (display) out.emplace_back(item + "_display", std::move(*display));
    // A code is shown with its municipality's name: an abolished one (a version from before a
    // merger) with the name it had and the municipalities that stand for it today.
    if (item == "municipality_code") out.emplace_back("municipality_name", MunicipalityName(v));
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
  p.number_provided =
      std::find(req.items.begin(), req.items.end(), "individual_number") != req.items.end();
  // 提供元: this node — a prefecture by its number, or the national node (機構), which has none.
  p.source = config_.role == NodeRole::kNational
                 ? std::string("national")
                 : "prefecture:" + std::to_string(config_.prefecture);
  p.recipient = req.recipient;
  p.items = JoinItems(req.items);
  return p;
}

std::function<Status(store::RegistryTxn&)> Registry::ProvisionJob(
    ProvisionRequest req, Actor actor, std::vector<std::string> targets,
    std::vector<store::ProvisionRow> rows) const {
  struct Owned {
    ProvisionRequest req;
    Actor actor;
    std::vector<std::string> targets;
    std::vector<store::ProvisionRow> rows;
  };
  auto owned = std::make_shared<Owned>(
      Owned{std::move(req), std::move(actor), std::move(targets), std::move(rows)});
  // Provision records and the log entry in one transaction, before anything is returned; a
  // halted node provides nothing, nor does a caller whose rights ended a moment ago.
  return [this, owned](store::RegistryTxn& txn) -> Status {
    const ProvisionRequest& req = owned->req;
    KAKUNIN_RETURN_IF_ERROR(CheckRunning(txn));
    if (req.recheck) KAKUNIN_RETURN_IF_ERROR(req.recheck(txn));
    audit::AuditEntry e = ReadEntry(owned->actor, "resident.provide", req.purpose);
    e.targets = owned->targets;
    e.conditions = "function=" + req.function + " kind=" + req.provision_kind +
                   " recipient=" + req.recipient + " items=" + JoinItems(req.items);
    e.result_count = static_cast<int64_t>(owned->rows.size());
    e.outcome = "done";
    // The records carry the entry's own time (found in review: the clock read again here had
    // stepped back after an NTP correction, while the log's time never does).
    int64_t now = 0;
    auto seq = log_->Append(txn, std::move(e), &now);
    if (!seq.ok()) return seq.status();
    for (store::ProvisionRow r : owned->rows) {
      r.provided_at = now;
      r.audit_seq = static_cast<int64_t>(*seq);
      KAKUNIN_RETURN_IF_ERROR(txn.InsertProvision(r));
    }
    return Status::Ok();
  };
}

Status Registry::WriteProvisions(const ProvisionRequest& req, const Actor& actor,
                                 const std::vector<std::string>& targets,
                                 std::vector<store::ProvisionRow>& rows) const {
  return WriteTxn(ProvisionJob(req, actor, targets, rows));
}

Result<std::vector<ProvidedRecord>> Registry::Provide(store::RegistryReader& reader,
                                                      const ProvisionRequest& req,
                                                      const Actor& actor) const {
  auto r = ProvideImpl(reader, req, actor);
  if (!r.ok() && IsRefusal(r.status())) {
    return Refuse(actor, "resident.provide", req.purpose, r.status(), req.resident_codes);
  }
  return r;
}

void Registry::ProvideAsync(store::RegistryReader& reader, ProvisionRequest req, const Actor& actor,
                            ProvideDone done, bool may_lead) const {
  if (!may_lead && queue_ == nullptr) {
    return done(Status::FailedPrecondition("no write queue to record the read through"));
  }
  // Queues a job; the calling thread leads the commit only if it may.
  auto submit = [this, may_lead](WriteQueue::Job job, WriteQueue::Done then) {
    if (may_lead) {
      queue_->SubmitAsync(std::move(job), std::move(then));
    } else {
      queue_->Enqueue(std::move(job), std::move(then));
    }
  };
  // A refusal is recorded before it is answered, through the queue like the provision.
  auto refuse_or = [this, actor, purpose = req.purpose, codes = req.resident_codes, submit](
                       Status why, ProvideDone done) {
    if (!IsRefusal(why) || queue_ == nullptr) {
      if (IsRefusal(why)) why = Refuse(actor, "resident.provide", purpose, why, codes);
      done(std::move(why));
      return;
    }
    auto entry = std::make_shared<audit::AuditEntry>(
        RefusalEntry(actor, "resident.provide", purpose, why, codes));
    if (!SampleRefusal(actor, entry.get())) {  // counted into this certificate's next entry
      done(std::move(why));
      return;
    }
    submit(
        [this, entry](store::RegistryTxn& txn) -> Status {
          return log_->Append(txn, *entry).status();
        },
        [why, done = std::move(done)](Status recorded) { done(recorded.ok() ? why : recorded); });
  };
  auto answer = std::make_shared<std::vector<ProvidedRecord>>();
  std::vector<int64_t> persons;
  std::vector<store::ProvisionRow> rows;
  std::vector<std::string> targets;
  Status read = CheckProvisionRequest(req, 10000);
  if (read.ok()) read = CheckProvisionPurpose(req);
  if (read.ok() && (req.function == "history" || req.function == "disclosure")) {
    read = Status::InvalidArgument("use ProvideHistory or CollectDisclosure");
  }
  if (read.ok()) read = CollectProvision(reader, req, answer.get(), &persons, &rows, &targets);
  if (!read.ok()) return refuse_or(std::move(read), std::move(done));
  // The answer is only read after the job has run (the job's callback, or Write's return).
  AlsoInRecordingTxn(req, MarkAgainInTxn(std::move(persons), req.items, [answer](size_t i) {
                       (*answer)[i].support_measure = true;
                     }));
  auto job = ProvisionJob(std::move(req), actor, std::move(targets), std::move(rows));
  if (queue_ == nullptr) {
    Status st = store_->Write(job);
    if (!st.ok()) return refuse_or(std::move(st), std::move(done));
    return done(std::move(*answer));
  }
  submit(std::move(job), [answer, refuse_or, done = std::move(done)](Status st) {
    if (!st.ok()) return refuse_or(std::move(st), std::move(done));
    done(std::move(*answer));
  });
}

Status Registry::CollectProvision(store::RegistryReader& reader, const ProvisionRequest& req,
                                  std::vector<ProvidedRecord>* out, std::vector<int64_t>* persons,
                                  std::vector<store::ProvisionRow>* rows,
                                  std::vector<std::string>* targets) const {
  std::vector<std::string> asked;    // each code once, first-seen order
  std::vector<int64_t> provided_to;  // persons already in `rows`
  for (const auto& code : req.resident_codes) {
    if (std::find(asked.begin(), asked.end(), code) != asked.end()) continue;
    asked.push_back(code);
    ProvidedRecord rec;
    rec.resident_code = code;
    int64_t person = 0;
    KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindByResidentCode(code));
    if (row && row->status == ResidentStatus::kActive) {
      KAKUNIN_ASSIGN_OR_RETURN(version, reader.Version(row->version_id));
      if (!version) return Status::DataLoss("a resident's current version is missing");
      rec.found = true;
      KAKUNIN_ASSIGN_OR_RETURN(items, ItemsOf(reader, *version, req.items));
      rec.items = std::move(items);
      KAKUNIN_ASSIGN_OR_RETURN(marked, SupportMeasureMark(reader, row->person_id, req.items));
      rec.support_measure = marked;
      person = row->person_id;
      // One record (and one target) per person, however many of their codes were asked.
      if (std::find(provided_to.begin(), provided_to.end(), row->person_id) == provided_to.end()) {
        provided_to.push_back(row->person_id);
        rows->push_back(ProvisionOf(row->resident_code, req));
        targets->push_back(Target(row->resident_code, true));
      }
    } else {
      targets->push_back(Target(code, false));
    }
    out->push_back(std::move(rec));
    persons->push_back(person);
  }
  return Status::Ok();
}

Result<std::vector<ProvidedRecord>> Registry::ProvideImpl(store::RegistryReader& reader,
                                                          const ProvisionRequest& req,
                                                          const Actor& actor) const {
  std::vector<ProvidedRecord> out;
  KAKUNIN_ASSIGN_OR_RETURN(job, PrepareProvision(reader, req, actor, &out));
  KAKUNIN_RETURN_IF_ERROR(WriteTxn(job));
  return out;
}

Result<std::function<Status(store::RegistryTxn&)>> Registry::PrepareProvision(
    store::RegistryReader& reader, const ProvisionRequest& req, const Actor& actor,
    std::vector<ProvidedRecord>* out) const {
  KAKUNIN_RETURN_IF_ERROR(CheckProvisionRequest(req, 10000));
  KAKUNIN_RETURN_IF_ERROR(CheckProvisionPurpose(req));
  if (req.function == "history" || req.function == "disclosure") {
    return Status::InvalidArgument("use ProvideHistory or CollectDisclosure");
  }
  std::vector<int64_t> persons;
  std::vector<store::ProvisionRow> rows;
  std::vector<std::string> targets;
  KAKUNIN_RETURN_IF_ERROR(CollectProvision(reader, req, out, &persons, &rows, &targets));
  ProvisionRequest with = req;
  AlsoInRecordingTxn(with, MarkAgainInTxn(std::move(persons), req.items,
                                          [out](size_t i) { (*out)[i].support_measure = true; }));
  return ProvisionJob(std::move(with), actor, std::move(targets), std::move(rows));
}

Result<std::optional<std::vector<ProvidedVersion>>> Registry::ProvideHistory(
    store::RegistryReader& reader, const ProvisionRequest& req, const Actor& actor) const {
  auto r = ProvideHistoryImpl(reader, req, actor);
  if (!r.ok() && IsRefusal(r.status())) {
    return Refuse(actor, "resident.provide", req.purpose, r.status(), req.resident_codes);
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
  ProvisionRequest with = req;
  if (row && row->status == ResidentStatus::kActive) {
    AlsoInRecordingTxn(with, MarkAgainInTxn({row->person_id}, req.items, [&out](size_t) {
                         for (auto& v : *out) v.support_measure = true;
                       }));
    KAKUNIN_ASSIGN_OR_RETURN(versions, reader.History(row->person_id));
    KAKUNIN_ASSIGN_OR_RETURN(marked, SupportMeasureMark(reader, row->person_id, req.items));
    out.emplace();
    auto holds = [&](const char* item) {
      return std::find(req.items.begin(), req.items.end(), item) != req.items.end();
    };
    for (const auto& v : versions) {
      // A change of an item the purpose does not hold is not told by its reason (found in
      // review: the board learnt that a resident's 個人番号 or 住民票コード had changed, and
      // when — a DV victim's new code among them). It is given as any other amendment, and so
      // left out below when it changed nothing else the recipient is given; if it did (the same
      // notification amended the address, say), that is shown. Found in review: left out
      // outright, its address change was in no version, and after it no version was current —
      // which told the recipient that the newest change was such a one.
      const bool hidden_reason =
          (v.reason == "individual_number_changed" && !holds("individual_number")) ||
          (v.reason == "resident_code_changed" && !holds("resident_code"));
      ProvidedVersion pv;
      pv.kind = v.kind;
      pv.reason = hidden_reason ? "other_amendment" : v.reason;
      pv.change_date = v.change_date;
      KAKUNIN_ASSIGN_OR_RETURN(items, ItemsOf(reader, v, req.items));
      pv.items = std::move(items);
      pv.support_measure = marked;
      pv.current = v.version_id == row->version_id;
      out->push_back(std::move(pv));
    }
    // The same for any other version that changed only items the purpose does not hold: an
    // amendment under another reason (found in review: a number changed under other_amendment),
    // or a move's removal and entry under a purpose without the address or the municipality
    // (fix review). It gives the recipient the items it had, and so only that something hidden
    // changed, and when. Left out when its items equal the next older version's (newest first:
    // the next one); the oldest is always given.
    std::vector<ProvidedVersion> kept;
    for (size_t i = 0; i < out->size(); ++i) {
      ProvidedVersion& pv = (*out)[i];
      if (i + 1 < out->size() && pv.items == (*out)[i + 1].items) {
        // The version shown for it then stands for what a lookup gives now.
        if (pv.current) (*out)[i + 1].current = true;
        continue;
      }
      kept.push_back(std::move(pv));
    }
    *out = std::move(kept);
    rows.push_back(ProvisionOf(row->resident_code, req));
    targets.push_back(Target(row->resident_code, true));
  } else {
    targets.push_back(Target(req.resident_codes[0], false));
  }
  KAKUNIN_RETURN_IF_ERROR(WriteProvisions(with, actor, targets, rows));
  return out;
}

Result<PendingDisclosure> Registry::CollectDisclosure(store::RegistryReader& reader,
                                                      const ProvisionRequest& req) const {
  KAKUNIN_RETURN_IF_ERROR(CheckProvisionRequest(req, 1));
  KAKUNIN_RETURN_IF_ERROR(CheckProvisionPurpose(req));
  if (req.function != "disclosure") return Status::InvalidArgument("function must be disclosure");
  PendingDisclosure d;
  // One snapshot: the versions and the provision records agree with each other.
  store::ReadSnapshot snapshot(reader);
  KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindByResidentCode(req.resident_codes[0]));
  if (!row) {
    d.targets.push_back(Target(req.resident_codes[0], false));
    return d;
  }
  d.found = true;
  d.status = row->status == ResidentStatus::kActive ? "active" : "removed";
  d.municipality_code = row->municipality_code;
  d.codes.push_back(row->resident_code);
  KAKUNIN_ASSIGN_OR_RETURN(versions, reader.History(row->person_id));
  for (const auto& v : versions) {
    if (std::find(d.codes.begin(), d.codes.end(), v.resident_code) == d.codes.end()) {
      d.codes.push_back(v.resident_code);
    }
    ProvidedVersion pv;
    pv.kind = v.kind;
    pv.reason = v.reason;
    pv.change_date = v.change_date;
    KAKUNIN_ASSIGN_OR_RETURN(items, ItemsOf(reader, v, req.items));
    pv.items = std::move(items);
    d.versions.push_back(std::move(pv));
  }
  for (const auto& c : d.codes) {
    KAKUNIN_ASSIGN_OR_RETURN(p, reader.Provisions(c));
    d.provisions.insert(d.provisions.end(), p.begin(), p.end());
  }
  std::stable_sort(d.provisions.begin(), d.provisions.end(),
                   [](const auto& a, const auto& b) { return a.provided_at < b.provided_at; });
  d.rows.push_back(ProvisionOf(row->resident_code, req));
  d.targets.push_back(Target(row->resident_code, true));
  return d;
}

Status Registry::RecordDisclosure(const PendingDisclosure& d, const ProvisionRequest& req,
                                  const Actor& actor,
                                  const std::function<Status(store::RegistryTxn&)>& also) const {
  if (req.function != "disclosure") return Status::InvalidArgument("function must be disclosure");
  ProvisionRequest with = req;
  if (also) AlsoInRecordingTxn(with, also);
  return WriteTxn(ProvisionJob(std::move(with), actor, d.targets, d.rows));
}

Result<std::vector<store::ProvisionRow>> Registry::ProvisionsOf(store::RegistryReader& reader,
                                                                const std::string& code,
                                                                const Actor& actor,
                                                                const std::string& purpose) const {
  if (Status why = CheckPurpose(purpose); !why.ok())
    return Refuse(actor, "resident.provisions", purpose, why, {code});
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

}  // namespace kakunin::registry
