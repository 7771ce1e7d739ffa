// Host reads: show, search and history, each recorded before it is answered; the refusal of a
// read; and what a purpose lets a person on the host see of a record.

#include <algorithm>
#include <set>

#include "core/bytes.h"
#include "registry/audit_desk.h"  // ConditionCommitment
#include "registry/detail/registry_internal.h"
#include "registry/registry.h"
#include "text/json.h"
#include "text/search_key.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

using detail::IsRefusal;
using detail::NumberMac;
using detail::ReadEntry;
using store::ResidentStatus;

// The meta key holding the fold table's version the stored search keys were made with.
constexpr char kSearchKeyVersionKey[] = "search_key_version";

}  // namespace

Result<std::optional<ResidentView>> Registry::Show(store::RegistryReader& reader,
                                                   const std::string& resident_code,
                                                   const Actor& actor, const std::string& purpose,
                                                   bool include_removed) const {
  if (Status why = CheckPurpose(purpose); !why.ok())
    return Refuse(actor, "resident.show", purpose, why, {resident_code});
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
  KAKUNIN_ASSIGN_OR_RETURN(
      number, cipher_->Open(version->sealed_number,
                            NumberAssociatedData(version->municipality_code, version->sequence)));
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

audit::AuditEntry Registry::RefusalEntry(const Actor& actor, const char* action,
                                         const std::string& purpose, const Status& why,
                                         const std::vector<std::string>& asked) const {
  audit::AuditEntry e = ReadEntry(actor, action, LoggedPurpose(purposes_, purpose));
  std::set<std::string> named;  // a code asked twice is one resident
  for (const std::string& code : asked) {
    std::string t = AskedTarget(*cipher_, code);
    if (!t.empty() && named.insert(t).second) e.targets.push_back(std::move(t));
  }
  naming_.Apply(actor.id, &e);
  // The reason, never the rejected value (messages here name no personal data).
  e.outcome = "refused:" + (why.reason().empty() ? why.message() : std::string(why.reason()));
  return e;
}

Status Registry::Refuse(const Actor& actor, const char* action, const std::string& purpose,
                        const Status& why, const std::vector<std::string>& asked) const {
  KAKUNIN_RETURN_IF_ERROR(RecordRefusal(actor, RefusalEntry(actor, action, purpose, why, asked)));
  return why;
}

Result<bool> Registry::SetMetaRecorded(
    const char* key, const std::string& value,
    const std::function<Status(store::RegistryTxn&, const std::optional<std::string>&)>& record)
    const {
  {
    KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
    KAKUNIN_ASSIGN_OR_RETURN(current, reader->GetMeta(key));
    if (current && *current == value) return false;  // the common case: no write
  }
  bool wrote = false;
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(current, txn.GetMeta(key));
    if (current && *current == value) return Status::Ok();  // another process did it
    wrote = true;
    KAKUNIN_RETURN_IF_ERROR(record(txn, current));
    return txn.SetMeta(key, value);
  });
  if (!st.ok()) return st;
  return wrote;
}

Result<bool> Registry::RefreshSearchKeys(const Actor& actor) const {
  const std::string version = text::SearchKeyVersion();
  return SetMetaRecorded(kSearchKeyVersionKey, version,
                         [&](store::RegistryTxn& txn, const std::optional<std::string>&) -> Status {
                           KAKUNIN_ASSIGN_OR_RETURN(n, txn.RekeyResidents([](std::string_view s) {
                             return text::SearchKey(s);
                           }));
                           audit::AuditEntry e = ReadEntry(actor, "registry.rekey", "");
                           e.conditions = "search_key_version=" + version +
                                          " residents=" + std::to_string(n);
                           e.outcome = "done";
                           return log_->Append(txn, std::move(e)).status();
                         });
}

Result<bool> Registry::RecordCatalogue(const Actor& actor) const {
  if (purposes_ == nullptr) return false;
  const std::string digest = CatalogueDigest(*purposes_);
  return SetMetaRecorded(
      kPurposesDigestKey, digest,
      [&](store::RegistryTxn& txn, const std::optional<std::string>& previous) -> Status {
        audit::AuditEntry e = ReadEntry(actor, "config.purposes", "");
        e.conditions = "sha256=" + digest + " previous=" + (previous ? *previous : "none") +
                       " purposes=" + std::to_string(purposes_->purposes().size());
        e.outcome = "done";
        return log_->Append(txn, std::move(e)).status();
      });
}

namespace {

// A search's criteria as (kind, value), in one order: the log holds the kinds and a commitment
// to the values (ConditionCommitment), never the values.
std::vector<std::pair<std::string, std::string>> CriteriaGiven(const SearchRequest& req) {
  std::vector<std::pair<std::string, std::string>> given;
  const std::pair<const std::optional<std::string>*, const char*> asked[] = {
      {&req.kana, "name_kana"}, {&req.name, "name"},       {&req.birth_date, "birth_date"},
      {&req.sex, "sex"},        {&req.address, "address"}, {&req.number, "individual_number"}};
  for (const auto& [value, kind] : asked) {
    if (value->has_value()) given.emplace_back(kind, **value);
  }
  return given;
}

}  // namespace

void Registry::DescribeSearch(const SearchRequest& req, audit::AuditEntry* e) const {
  const auto given = CriteriaGiven(req);
  e->criteria.clear();
  for (const auto& g : given) e->criteria.push_back(g.first);
  if (!given.empty()) e->commitment = ConditionCommitment(*cipher_, given);
}

Result<SearchOutcome> Registry::Search(
    store::RegistryReader& reader, const SearchRequest& req, const Actor& actor,
    const std::string& purpose, const std::function<Status(store::RegistryTxn&)>& recheck) const {
  return RecordIfRefused(req, actor, purpose, SearchImpl(reader, req, actor, purpose, recheck));
}

Result<SearchOutcome> Registry::SearchAndProvide(store::RegistryReader& reader,
                                                 const SearchRequest& req, const Actor& actor,
                                                 ProvisionRequest provide,
                                                 std::vector<ProvidedRecord>* provided) const {
  // The caller's rights are checked once, first in the one transaction that records both.
  std::function<Status(store::RegistryTxn&)> recheck = std::move(provide.recheck);
  provide.recheck = nullptr;
  const std::string purpose = provide.purpose;
  return RecordIfRefused(req, actor, purpose,
                         SearchImpl(reader, req, actor, purpose, recheck, &provide, provided));
}

Result<SearchOutcome> Registry::RecordIfRefused(const SearchRequest& req, const Actor& actor,
                                                const std::string& purpose,
                                                Result<SearchOutcome> r) const {
  if (!r.ok() && IsRefusal(r.status())) {
    // A refused search says what it asked as a search that ran does: the kinds of its criteria
    // and the commitment to their values, which a reviewer holding the key tests (found in
    // review: a body not entitled to 個人番号 probing a number left no trace of the number).
    audit::AuditEntry e = RefusalEntry(actor, "resident.search", purpose, r.status(), {});
    DescribeSearch(req, &e);
    // Each one written, never sampled (SampleRefusal): a search refused here was admitted by
    // the caller's quota first, so requests_per_minute bounds them, and a probe of a number
    // under the caller's own purpose must not hide behind twenty junk refusals (found in
    // review).
    KAKUNIN_RETURN_IF_ERROR(Record(std::move(e)));
    return r.status();
  }
  return r;
}

Result<SearchOutcome> Registry::SearchImpl(
    store::RegistryReader& reader, const SearchRequest& req, const Actor& actor,
    const std::string& purpose, const std::function<Status(store::RegistryTxn&)>& recheck,
    ProvisionRequest* provide, std::vector<ProvidedRecord>* provided) const {
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
  // The criteria go into the log by kind only; their values only as a commitment under the
  // node's key (ConditionCommitment), which a reviewer holding the key can test.
  const std::vector<std::pair<std::string, std::string>> given = CriteriaGiven(req);
  std::vector<std::string> kinds;
  for (const auto& g : given) kinds.push_back(g.first);
  const std::string commitment =
      given.empty() ? std::string() : ConditionCommitment(*cipher_, given);
  const std::string conditions = req.include_removed ? "{\"include_removed\":true}" : "{}";
  auto record = [&](const SearchOutcome& o) -> Status {
    audit::AuditEntry e = ReadEntry(actor, "resident.search", purpose);
    e.conditions = conditions;
    e.criteria = kinds;
    e.commitment = commitment;
    for (const auto& r : o.rows) e.targets.push_back(Target(r.resident_code, true));
    e.result_count = static_cast<int64_t>(o.rows.size());
    e.outcome = o.cut ? "done:cut" : "done";
    // The hits' provision goes into the search's own transaction: the search is never recorded
    // done unless what it found was provided too (SearchAndProvide).
    std::function<Status(store::RegistryTxn&)> provision;
    if (provide != nullptr && !o.rows.empty()) {
      for (const auto& r : o.rows) provide->resident_codes.push_back(r.resident_code);
      KAKUNIN_ASSIGN_OR_RETURN(job, PrepareProvision(reader, *provide, actor, provided));
      provision = std::move(job);
    }
    return WriteTxn([&](store::RegistryTxn& txn) -> Status {
      if (recheck) KAKUNIN_RETURN_IF_ERROR(recheck(txn));
      KAKUNIN_RETURN_IF_ERROR(log_->Append(txn, std::move(e)).status());
      return provision ? provision(txn) : Status::Ok();
    });
  };
  if (req.limit < 1 || req.limit > 1000) return Status::InvalidArgument("limit must be 1..1000");
  if (req.number) {
    ErrorCode e;
    if (!IndividualNumber::Parse(*req.number, &e)) {
      return Status::InvalidArgument("the individual number is not valid");
    }
    KAKUNIN_ASSIGN_OR_RETURN(
        rows, reader.FindByNumberMac(NumberMac(*cipher_, *req.number), req.include_removed));
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
  // A name is matched by its beginning (a surname alone finds the person), so one character
  // would list everyone whose name begins with it: found in review, the 70-odd kana one at a
  // time with a birth date listed every resident born that day. At least two characters.
  auto characters = [](const std::string& k) {
    return std::count_if(k.begin(), k.end(),
                         [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
  };
  if ((kana && characters(*kana) < 2) || (name && characters(*name) < 2)) {
    return Status::InvalidArgument("a name or kana criterion needs at least two characters");
  }
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

Result<std::optional<std::vector<VersionView>>> Registry::History(store::RegistryReader& reader,
                                                                  const std::string& resident_code,
                                                                  const Actor& actor,
                                                                  const std::string& purpose,
                                                                  bool include_removed) const {
  if (Status why = CheckPurpose(purpose); !why.ok())
    return Refuse(actor, "resident.history", purpose, why, {resident_code});
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
    KAKUNIN_ASSIGN_OR_RETURN(
        number,
        cipher_->Open(v.sealed_number, NumberAssociatedData(v.municipality_code, v.sequence)));
    out.push_back({std::move(v), std::move(number)});
  }
  entry.result_count = static_cast<int64_t>(out.size());
  KAKUNIN_RETURN_IF_ERROR(Record(std::move(entry)));
  return std::optional<std::vector<VersionView>>(std::move(out));
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
