// The resident aggregate on PostgreSQL: records, versions, code changes, applied sequences, the
// outbox, search and retention (store/resident_store.h).

#include <algorithm>
#include <string>
#include <vector>

#include "store/pg/detail/batched.h"
#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

Result<std::optional<ResidentRow>> QueryResident(Conn* db, const char* sql,
                                                 const std::string& key) {
  return QueryOne<ResidentRow>(db, sql, Params().Text(key), ReadResident);
}

Result<std::optional<ResidentRow>> FindByAnyCode(Conn* db, const std::string& code) {
  auto r = QueryResident(db, kResidentByCode, code);
  if (!r.ok() || r->has_value()) return r;
  return QueryResident(db, kResidentByOldCode, code);
}

// The smallest string greater than every string that begins with `prefix` (keys are UTF-8,
// compared bytewise under COLLATE "C"): prefix + U+10FFFF.
std::string PrefixEnd(const std::string& prefix) { return prefix + "\xF4\x8F\xBF\xBF"; }

// Appends a constant fragment, numbering its placeholders (?) from *next on.
void Append(std::string* sql, const char* fragment, int* next) {
  for (const char* p = fragment; *p; ++p) {
    if (*p == '?') {
      *sql += "$" + std::to_string((*next)++);
    } else {
      *sql += *p;
    }
  }
}

// The inserts with their id drawn ahead (PgTxn::DrawId), so that nothing waits for RETURNING.
constexpr char kInsertResidentWithId[] =
    "INSERT INTO residents (resident_code, status, municipality_code, version_id, name, "
    "name_kana, sex, birth_date, address, number_mac, name_key, kana_key, address_key, "
    "updated_at, removed_at, person_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
constexpr char kInsertVersionWithId[] =
    "INSERT INTO versions (person_id, municipality_code, sequence, kind, reason, change_date, "
    "resident_code, sealed_number, name, name_kana, former_surname, alias, sex, birth_date, "
    "address, new_resident_code, applied_at, superseded_at, version_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
    "$19)";
// (The sequence's name looked up once per statement, not once per id.)
constexpr char kDrawPersonIds[] =
    "WITH s AS MATERIALIZED "
    "(SELECT pg_get_serial_sequence('residents', 'person_id')::regclass AS seq) "
    "SELECT nextval(s.seq) FROM s, generate_series(1, $1)";
constexpr char kDrawVersionIds[] =
    "WITH s AS MATERIALIZED "
    "(SELECT pg_get_serial_sequence('versions', 'version_id')::regclass AS seq) "
    "SELECT nextval(s.seq) FROM s, generate_series(1, $1)";
constexpr int64_t kMaxIdBlock = 1024;
constexpr int64_t kMaxDrawAhead = 4096;  // per batch (PgTxn::Prefetch)
// A batch's lookups at once (PgTxn::Prefetch).
constexpr char kResidentsByCodes[] =
    "SELECT " KAKUNIN_RESIDENT_COLUMNS " FROM residents WHERE resident_code = ANY($1)";
constexpr char kReplacedCodes[] = "SELECT old_code FROM code_changes WHERE old_code = ANY($1)";
constexpr char kLastSequences[] =
    "SELECT m, (SELECT max(sequence) FROM applied WHERE municipality_code = m) "
    "FROM unnest($1::text[]) AS m";
constexpr char kHoldersOfNumbers[] =
    "SELECT number_mac, person_id, status = 'active' FROM residents WHERE number_mac = ANY($1)";

Result<bool> QueryBool(Conn* db, const char* sql, const Params& p) {
  auto n = db->QueryInt(sql, p);
  if (!n.ok()) return n.status();
  return *n != 0;
}

}  // namespace

Result<std::optional<ResidentRow>> PgReader::FindByResidentCode(const std::string& code) {
  return FindByAnyCode(db_.get(), code);
}

Result<std::vector<ResidentRow>> PgReader::FindByNumberMac(const std::string& mac,
                                                           bool include_removed) {
  return QueryAll<ResidentRow>(db_.get(), kResidentsByNumber,
                               Params().Bytes(mac).Bool(include_removed), ReadResident);
}

Result<SearchResult> PgReader::Search(const SearchQuery& q) {
  // The statement is assembled from constant fragments only; every value is bound.
  std::string sql = kSearchSelect;
  int next = 1;
  Params p;
  if (q.kana_key) {
    Append(&sql, kSearchKana, &next);
    p.Text(*q.kana_key).Text(PrefixEnd(*q.kana_key));
  }
  if (q.name_key) {
    Append(&sql, kSearchName, &next);
    p.Text(*q.name_key).Text(PrefixEnd(*q.name_key));
  }
  if (q.birth_date) {
    Append(&sql, kSearchBirth, &next);
    p.Text(*q.birth_date);
  }
  if (q.sex) {
    Append(&sql, kSearchSex, &next);
    p.Text(*q.sex);
  }
  if (q.address_key) {
    Append(&sql, kSearchAddress, &next);
    p.Text(*q.address_key).Text(PrefixEnd(*q.address_key));
  }
  if (!q.include_removed) Append(&sql, kSearchActive, &next);
  Append(&sql,
         q.kana_key                         ? kSearchOrderKana
         : q.name_key                       ? kSearchOrderName
         : (q.address_key && !q.birth_date) ? kSearchOrderAddress
                                            : kSearchOrderBirth,
         &next);
  p.Int(int64_t{q.limit} + 1);
  auto rows = db_->QueryText(sql, p);
  if (!rows.ok()) return rows.status();
  SearchResult out;
  for (int i = 0; i < rows->size(); ++i) out.rows.push_back(ReadResident(*rows, i));
  if (out.rows.size() > static_cast<size_t>(q.limit)) {
    out.rows.pop_back();
    out.cut = true;
  }
  return out;
}

Result<std::vector<VersionRow>> PgReader::History(int64_t person_id) {
  return QueryAll<VersionRow>(db_.get(), kHistory, Params().Int(person_id), ReadVersion);
}

Result<std::optional<VersionRow>> PgReader::Version(int64_t version_id) {
  return QueryOne<VersionRow>(db_.get(), kVersionById, Params().Int(version_id), ReadVersion);
}

Result<std::vector<PopulationRow>> PgReader::Population(const Date& as_of) {
  const int64_t on = int64_t{as_of.year()} * 10000 + as_of.month() * 100 + as_of.day();
  return detail::QueryAll<PopulationRow>(
      db_.get(), kPopulation, Params().Int(on), [](const Rows& r, int i) {
        return PopulationRow{r.Text(i, 0), r.Text(i, 1), static_cast<int>(r.Int(i, 1 + 1)),
                             r.Int(i, 3)};
      });
}

Result<StoreStats> PgReader::Stats() {
  auto rows = db_->Query(kStats, Params());
  if (!rows.ok()) return rows.status();
  StoreStats out;
  if (!rows->empty()) {
    out.active = rows->Int(0, 0);
    out.removed = rows->Int(0, 1);
    out.versions = rows->Int(0, 2);
    out.superseded_versions = rows->Int(0, 3);
    out.code_changes = rows->Int(0, 4);
    out.senders = rows->Int(0, 5);
    out.applied_notifications = rows->Int(0, 6);
    out.outbox_pending = rows->Int(0, 7);
  }
  return out;
}

Result<int64_t> PgTxn::LastSequence(const std::string& municipality) {
  auto it = cache_.last_sequence.find(municipality);
  if (it != cache_.last_sequence.end()) return it->second;
  KAKUNIN_ASSIGN_OR_RETURN(last, db_->QueryInt(kLastSequence, Params().Text(municipality)));
  cache_.last_sequence.emplace(municipality, last);
  return last;
}

Result<std::optional<std::string>> PgTxn::AppliedMac(const std::string& municipality,
                                                     int64_t sequence) {
  return QueryBytes(db_, kAppliedMac, Params().Text(municipality).Int(sequence));
}

Status PgTxn::RecordApplied(const std::string& municipality, int64_t sequence,
                            const std::string& payload_mac, int64_t applied_at) {
  KAKUNIN_RETURN_IF_ERROR(db_->DeferBatched(
      kRecordApplied, Params().Text(municipality).Int(sequence).Bytes(payload_mac).Int(applied_at),
      kAppliedInserts));
  auto it = cache_.last_sequence.find(municipality);
  if (it != cache_.last_sequence.end()) it->second = std::max(it->second, sequence);
  return Status::Ok();
}

void TxnCache::Put(const ResidentRow& row) {
  auto code = code_of.find(row.person_id);
  if (code != code_of.end() && code->second != row.resident_code) {
    by_code[code->second] = std::nullopt;  // a code change: the old code is nobody's now
  }
  by_code[row.resident_code] = row;
  code_of[row.person_id] = row.resident_code;
  auto mac = mac_of.find(row.person_id);
  if (mac != mac_of.end()) {
    auto& holders = by_mac[mac->second];
    std::erase_if(holders, [&](const auto& h) { return h.first == row.person_id; });
    mac_of.erase(mac);
  }
  // Listed only under a MAC whose holders are all known (else the list would be partial).
  auto list = by_mac.find(row.number_mac);
  if (list != by_mac.end()) {
    list->second.emplace_back(row.person_id, row.status == ResidentStatus::kActive);
    mac_of[row.person_id] = row.number_mac;
  }
}

Status PgTxn::Prefetch(const PrefetchHint& hint) {
  if (!hint.resident_codes.empty()) {
    auto rows = db_->Query(kResidentsByCodes, Params().TextArray(hint.resident_codes));
    if (!rows.ok()) return rows.status();
    for (const std::string& c : hint.resident_codes) {
      auto it = cache_.by_code.find(c);
      if (it == cache_.by_code.end() || it->second) cache_.by_code[c] = std::nullopt;
    }
    for (int i = 0; i < rows->size(); ++i) {
      ResidentRow r = ReadResident(*rows, i);
      cache_.by_code[r.resident_code] = r;
      cache_.code_of[r.person_id] = r.resident_code;
    }
    auto old = db_->Query(kReplacedCodes, Params().TextArray(hint.resident_codes));
    if (!old.ok()) return old.status();
    for (const std::string& c : hint.resident_codes) cache_.replacement_known.insert(c);
    for (int i = 0; i < old->size(); ++i) cache_.replaced.insert(old->Text(i, 0));
  }
  // Ids for the batch's births and versions drawn now, in this round trip's company, rather
  // than in blocks midway, each of which would wait for everything sent before it.
  const auto notifications = static_cast<int64_t>(hint.senders.size());
  KAKUNIN_RETURN_IF_ERROR(DrawAhead(kDrawPersonIds, notifications));
  KAKUNIN_RETURN_IF_ERROR(DrawAhead(kDrawVersionIds, notifications + notifications / 4));
  std::vector<std::string> senders;
  for (const std::string& m : hint.senders) {
    if (cache_.last_sequence.count(m) == 0) senders.push_back(m);
  }
  std::sort(senders.begin(), senders.end());
  senders.erase(std::unique(senders.begin(), senders.end()), senders.end());
  if (!senders.empty()) {
    auto rows = db_->Query(kLastSequences, Params().TextArray(senders));
    if (!rows.ok()) return rows.status();
    for (int i = 0; i < rows->size(); ++i) cache_.last_sequence[rows->Text(i, 0)] = rows->Int(i, 1);
  }
  if (!hint.number_macs.empty()) {
    auto rows = db_->Query(kHoldersOfNumbers, Params().BytesArray(hint.number_macs));
    if (!rows.ok()) return rows.status();
    for (const std::string& m : hint.number_macs) {
      for (const auto& h : cache_.by_mac[m]) cache_.mac_of.erase(h.first);
      cache_.by_mac[m].clear();
    }
    for (int i = 0; i < rows->size(); ++i) {
      std::string m = rows->Blob(i, 0);
      int64_t person = rows->Int(i, 1);
      auto prev = cache_.mac_of.find(person);
      if (prev != cache_.mac_of.end() && prev->second != m) {
        std::erase_if(cache_.by_mac[prev->second],
                      [&](const auto& h) { return h.first == person; });
      }
      cache_.by_mac[m].emplace_back(person, rows->Int(i, 2) != 0);
      cache_.mac_of[person] = m;
    }
  }
  return Status::Ok();
}

Result<std::optional<ResidentRow>> PgTxn::FindByResidentCode(const std::string& code) {
  auto it = cache_.by_code.find(code);
  if (it != cache_.by_code.end()) return it->second;
  return QueryResident(db_, kResidentByCode, code);
}

Result<std::optional<ResidentRow>> PgTxn::FindByAnyResidentCode(const std::string& code) {
  auto it = cache_.by_code.find(code);
  if (it != cache_.by_code.end()) {
    if (it->second) return it->second;
    // Nobody holds it now, and it was never replaced: nobody held it.
    if (cache_.replacement_known.count(code) != 0 && cache_.replaced.count(code) == 0) {
      return std::optional<ResidentRow>();
    }
  }
  return FindByAnyCode(db_, code);
}

Status PgTxn::AddExpectedMoveOut(int64_t person_id, const std::string& municipality) {
  return db_->Defer(kAddExpectedMoveOut, Params().Int(person_id).Text(municipality));
}

Result<bool> PgTxn::TakeExpectedMoveOut(int64_t person_id, const std::string& municipality) {
  auto n = db_->Run(kTakeExpectedMoveOut, Params().Int(person_id).Text(municipality));
  if (!n.ok()) return n.status();
  return *n > 0;
}

namespace {
// MergeResident, in this order: the rows that name the person first, the person's row last.
constexpr const char* kMergeResident[] = {
    "UPDATE versions SET person_id = $2 WHERE person_id = $1",
    "UPDATE code_changes SET person_id = $2 WHERE person_id = $1",
    ("INSERT INTO expected_moveouts (person_id, municipality_code) "
     "SELECT $2, municipality_code FROM expected_moveouts WHERE person_id = $1 "
     "ON CONFLICT DO NOTHING"),
    "DELETE FROM expected_moveouts WHERE person_id = $1",
    // As on SQLite: one of the two measures holds, whole (one not ended, then the later day).
    ("DELETE FROM support_measures WHERE person_id = $2 AND EXISTS (SELECT 1 FROM "
     "support_measures f WHERE f.person_id = $1 AND ((f.ended_at = 0) > "
     "(support_measures.ended_at = 0) OR ((f.ended_at = 0) = (support_measures.ended_at = 0) "
     "AND f.valid_until > support_measures.valid_until)))"),
    ("INSERT INTO support_measures (person_id, since, valid_until, ended_at, municipality_code, "
     "set_at, set_by) SELECT $2, since, valid_until, ended_at, municipality_code, set_at, set_by "
     "FROM support_measures WHERE person_id = $1 ON CONFLICT (person_id) DO NOTHING"),
    "DELETE FROM support_measures WHERE person_id = $1",
    "DELETE FROM residents WHERE person_id = $1",
};
}  // namespace

Result<std::vector<VersionRow>> PgTxn::MergeResident(int64_t from_person, int64_t into_person) {
  cache_.Clear();  // a row goes and codes lead elsewhere
  KAKUNIN_ASSIGN_OR_RETURN(
      moved, QueryAll<VersionRow>(db_, kHistory, Params().Int(from_person), ReadVersion));
  for (const char* sql : kMergeResident) {
    KAKUNIN_RETURN_IF_ERROR(db_->Run(sql, Params().Int(from_person).Int(into_person)).status());
  }
  return moved;
}

Result<int64_t> PgTxn::RekeyResidents(const std::function<std::string(std::string_view)>& key) {
  cache_.Clear();  // the rows' search keys change
  int64_t after = 0, done = 0;
  for (;;) {
    // A chunk read first, then updated: the scan never sees its own writes.
    auto rows = db_->Query(kResidentNamesFrom, Params().Int(after).Int(10000));
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return done;
    for (int i = 0; i < rows->size(); ++i) {
      std::optional<std::string> kana = rows->OptionalText(i, 2);
      auto n = db_->Run(kUpdateResidentKeys, Params()
                                                 .Int(rows->Int(i, 0))
                                                 .Text(key(rows->Text(i, 1)))
                                                 .Text(kana ? key(*kana) : std::string())
                                                 .Text(key(rows->Text(i, 3))));
      if (!n.ok()) return n.status();
    }
    after = rows->Int(rows->size() - 1, 0);
    done += rows->size();
  }
}

Result<std::vector<std::pair<std::string, std::string>>> PgTxn::EntriesOf(int64_t person_id) {
  return QueryAll<std::pair<std::string, std::string>>(
      db_, kEntriesOf, Params().Int(person_id),
      [](const Rows& r, int i) { return std::pair{r.Text(i, 0), r.Text(i, 1)}; });
}

Result<bool> PgTxn::IsResidentCodeKnown(const std::string& code) {
  auto it = cache_.by_code.find(code);
  if (it != cache_.by_code.end() && cache_.replacement_known.count(code) != 0) {
    return it->second.has_value() || cache_.replaced.count(code) != 0;
  }
  return QueryBool(db_, kCodeKnown, Params().Text(code));
}

Result<std::optional<VersionRow>> PgTxn::Version(int64_t version_id) {
  return QueryOne<VersionRow>(db_, kVersionById, Params().Int(version_id), ReadVersion);
}

Result<bool> PgTxn::NumberHeldByOther(const std::string& mac, int64_t except_person) {
  auto it = cache_.by_mac.find(mac);
  if (it != cache_.by_mac.end()) {
    for (const auto& [person, active] : it->second) {
      if (active && person != except_person) return true;
    }
    return false;
  }
  return QueryBool(db_, kNumberHeldByOther, Params().Bytes(mac).Int(except_person));
}

Result<std::vector<ResidentRow>> PgTxn::ActiveHoldersOfNumber(const std::string& mac) {
  // Sent after every write of this transaction, so it sees them (the cache need not).
  return QueryAll<ResidentRow>(db_, kResidentsByNumber, Params().Bytes(mac).Bool(false),
                               ReadResident);
}

Result<int64_t> PgTxn::DrawId(const char* sql, IdPool* pool) {
  std::deque<int64_t>& spare = db_->SpareIds(sql);
  if (spare.empty()) {
    auto rows = db_->Query(sql, Params().Int(pool->block));
    if (!rows.ok()) return rows.status();
    for (int i = 0; i < rows->size(); ++i) spare.push_back(rows->Int(i, 0));
    if (spare.empty()) return Status::Internal("no id drawn");
    pool->block = std::min(pool->block * 2, kMaxIdBlock);
  }
  const int64_t id = spare.front();
  spare.pop_front();
  return id;
}

Status PgTxn::DrawAhead(const char* sql, int64_t n) {
  std::deque<int64_t>& spare = db_->SpareIds(sql);
  const int64_t missing = std::min(n - static_cast<int64_t>(spare.size()), kMaxDrawAhead);
  if (missing <= 0) return Status::Ok();
  auto rows = db_->Query(sql, Params().Int(missing));
  if (!rows.ok()) return rows.status();
  for (int i = 0; i < rows->size(); ++i) spare.push_back(rows->Int(i, 0));
  return Status::Ok();
}

Result<int64_t> PgTxn::InsertResident(const ResidentRow& row) {
  KAKUNIN_ASSIGN_OR_RETURN(id, DrawId(kDrawPersonIds, &person_ids_));
  Params p = ResidentParams(row);
  p.Int(id);
  KAKUNIN_RETURN_IF_ERROR(db_->DeferBatched(kInsertResidentWithId, p, kResidentInserts));
  ResidentRow written = row;
  written.person_id = id;
  cache_.Put(written);
  return id;
}

Status PgTxn::UpdateResident(const ResidentRow& row) {
  Params p = ResidentParams(row);
  p.Int(row.person_id);
  KAKUNIN_RETURN_IF_ERROR(db_->Defer(kUpdateResident, p));
  cache_.Put(row);
  return Status::Ok();
}

Result<int64_t> PgTxn::InsertVersion(const VersionRow& v) {
  Params p;
  p.Int(v.person_id)
      .Text(v.municipality_code)
      .Int(v.sequence)
      .Text(v.kind)
      .Text(v.reason)
      .Text(v.change_date)
      .Text(v.resident_code)
      .Bytes(v.sealed_number)
      .Text(v.name)
      .OptionalText(v.name_kana)
      .OptionalText(v.former_surname)
      .OptionalText(v.alias)
      .Text(v.sex)
      .Text(v.birth_date)
      .Text(v.address)
      .OptionalText(v.new_resident_code)
      .Int(v.applied_at)
      .Int(v.superseded_at);
  KAKUNIN_ASSIGN_OR_RETURN(id, DrawId(kDrawVersionIds, &version_ids_));
  p.Int(id);
  KAKUNIN_RETURN_IF_ERROR(db_->DeferBatched(kInsertVersionWithId, p, kVersionInserts));
  return id;
}

Status PgTxn::SetResidentVersion(int64_t person_id, int64_t version_id) {
  KAKUNIN_RETURN_IF_ERROR(
      db_->DeferBatched(kSetResidentVersion, Params().Int(person_id).Int(version_id),
                        kResidentVersionSets));
  auto code = cache_.code_of.find(person_id);
  if (code != cache_.code_of.end()) {
    auto& row = cache_.by_code[code->second];
    if (row && row->person_id == person_id) row->version_id = version_id;
  }
  return Status::Ok();
}

Status PgTxn::MarkSuperseded(int64_t version_id, int64_t at) {
  return db_->Defer(kMarkSuperseded, Params().Int(version_id).Int(at));
}

Status PgTxn::RecordCodeChange(const std::string& old_code, const std::string& new_code,
                               int64_t person_id, int64_t at) {
  KAKUNIN_RETURN_IF_ERROR(db_->Defer(
      kRecordCodeChange, Params().Text(old_code).Text(new_code).Int(person_id).Int(at)));
  cache_.replacement_known.insert(old_code);
  cache_.replaced.insert(old_code);
  return Status::Ok();
}

Status PgTxn::EnqueueOutbox(int64_t version_id, int64_t at) {
  return db_->DeferBatched(kEnqueueOutbox, Params().Int(version_id).Int(at), kOutboxInserts);
}

Status PgTxn::EnqueueSupportMeasure(int64_t version_id, int64_t at,
                                    const std::string& municipality_code,
                                    const std::optional<std::string>& valid_until) {
  // Not batched: sending it sends the batched rows before it, so the numbers keep the order.
  return db_->Defer(kEnqueueSupportMeasure, Params()
                                                .Int(version_id)
                                                .Int(at)
                                                .Text(municipality_code)
                                                .OptionalText(valid_until));
}

Result<PurgeCounts> PgTxn::Purge(int64_t superseded_before, int64_t removed_before, bool dry_run) {
  cache_.Clear();  // removed residents go
  PurgeCounts c;
  KAKUNIN_ASSIGN_OR_RETURN(
      superseded,
      db_->QueryInt(kCountSuperseded, Params().Int(superseded_before).Int(removed_before)));
  c.superseded_versions = superseded;
  {
    auto rows = db_->Query(kCountRemoved, Params().Int(removed_before));
    if (!rows.ok()) return rows.status();
    if (!rows->empty()) {
      c.removed_residents = rows->Int(0, 0);
      c.removed_resident_versions = rows->Int(0, 1);
    }
  }
  if (dry_run) return c;
  KAKUNIN_RETURN_IF_ERROR(
      db_->Run(kDeleteSuperseded, Params().Int(superseded_before).Int(removed_before)).status());
  for (const char* sql : {kDeleteRemovedVersions, kDeleteRemovedExpectedMoveOuts,
                          kDeleteRemovedCodeChanges, kDeleteRemovedSupportMeasures,
                          kDeleteRemovedResidents}) {
    KAKUNIN_RETURN_IF_ERROR(db_->Run(sql, Params().Int(removed_before)).status());
  }
  return c;
}

}  // namespace kakunin::store::pg::detail
