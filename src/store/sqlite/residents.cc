// The resident aggregate on SQLite: records, versions, code changes, applied sequences, the
// outbox, search and retention (store/resident_store.h).

#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

// Runs a query expected to return at most one resident.
Result<std::optional<ResidentRow>> QueryResident(Db* db, const char* sql, const std::string& key) {
  KAKUNIN_PREPARE(s, db, sql);
  s.Bind(1, key);
  Status st;
  std::optional<ResidentRow> out;
  if (s.Step(&st)) out = ReadResident(s);
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<ResidentRow>> FindByAnyCode(Db* db, const std::string& code) {
  auto r = QueryResident(db, kResidentByCode, code);
  if (!r.ok() || r->has_value()) return r;
  return QueryResident(db, kResidentByOldCode, code);
}

// The smallest string greater than every string that begins with `prefix` (keys are
// UTF-8, compared bytewise): prefix + U+10FFFF.
std::string PrefixEnd(const std::string& prefix) { return prefix + "\xF4\x8F\xBF\xBF"; }

// The residents holding a number MAC (kResidentsByNumber), for the reader and the transaction.
Result<std::vector<ResidentRow>> ResidentsByNumber(Db* db, const std::string& mac,
                                                   bool include_removed) {
  return QueryAll<ResidentRow>(
      db, kResidentsByNumber,
      [&](Stmt& s) { s.BindBlob(1, mac).Bind(2, int64_t{include_removed}); }, ReadResident);
}

}  // namespace

Result<std::optional<ResidentRow>> SqliteReader::FindByResidentCode(const std::string& code) {
  return FindByAnyCode(db_.get(), code);
}

Result<std::vector<ResidentRow>> SqliteReader::FindByNumberMac(const std::string& mac,
                                                               bool include_removed) {
  return ResidentsByNumber(db_.get(), mac, include_removed);
}

Result<SearchResult> SqliteReader::Search(const SearchQuery& q) {
  // The statement is assembled from constant fragments only; every value is bound.
  std::string sql = kSearchSelect;
  std::vector<std::string> params;
  if (q.kana_key) {
    sql += kSearchKana;
    params.push_back(*q.kana_key);
    params.push_back(PrefixEnd(*q.kana_key));
  }
  if (q.name_key) {
    sql += kSearchName;
    params.push_back(*q.name_key);
    params.push_back(PrefixEnd(*q.name_key));
  }
  if (q.birth_date) {
    sql += kSearchBirth;
    params.push_back(*q.birth_date);
  }
  if (q.sex) {
    sql += kSearchSex;
    params.push_back(*q.sex);
  }
  if (q.address_key) {
    sql += kSearchAddress;
    params.push_back(*q.address_key);
    params.push_back(PrefixEnd(*q.address_key));
  }
  if (!q.include_removed) sql += kSearchActive;
  sql += q.kana_key                         ? kSearchOrderKana
         : q.name_key                       ? kSearchOrderName
         : (q.address_key && !q.birth_date) ? kSearchOrderAddress
                                            : kSearchOrderBirth;
  auto prepared = db_->PrepareText(sql);
  if (!prepared.ok()) return prepared.status();
  Stmt& s = **prepared;
  int i = 1;
  for (const auto& p : params) s.Bind(i++, p);
  s.Bind(i, int64_t{q.limit} + 1);
  SearchResult out;
  Status st;
  while (s.Step(&st)) out.rows.push_back(ReadResident(s));
  s.Reset();
  if (!st.ok()) return st;
  if (out.rows.size() > static_cast<size_t>(q.limit)) {
    out.rows.pop_back();
    out.cut = true;
  }
  return out;
}

Result<std::vector<VersionRow>> SqliteReader::History(int64_t person_id) {
  KAKUNIN_PREPARE(s, db_.get(), kHistory);
  s.Bind(1, person_id);
  std::vector<VersionRow> out;
  Status st;
  while (s.Step(&st)) out.push_back(ReadVersion(s));
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<VersionRow>> SqliteReader::Version(int64_t version_id) {
  KAKUNIN_PREPARE(s, db_.get(), kVersionById);
  s.Bind(1, version_id);
  std::optional<VersionRow> out;
  Status st;
  if (s.Step(&st)) out = ReadVersion(s);
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<PopulationRow>> SqliteReader::Population(const Date& as_of) {
  const int64_t on = int64_t{as_of.year()} * 10000 + as_of.month() * 100 + as_of.day();
  return detail::QueryAll<PopulationRow>(
      db_.get(), kPopulation, [&](Stmt& s) { s.Bind(1, on); },
      [](Stmt& s) {
        return PopulationRow{s.Text(0), s.Text(1), static_cast<int>(s.Int(2)), s.Int(3)};
      });
}

Result<StoreStats> SqliteReader::Stats() {
  KAKUNIN_PREPARE(s, db_.get(), kStats);
  StoreStats out;
  Status st;
  if (s.Step(&st)) {
    out.active = s.Int(0);
    out.removed = s.Int(1);
    out.versions = s.Int(2);
    out.superseded_versions = s.Int(3);
    out.code_changes = s.Int(4);
    out.senders = s.Int(5);
    out.applied_notifications = s.Int(6);
    out.outbox_pending = s.Int(7);
  }
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<int64_t> SqliteTxn::LastSequence(const std::string& municipality) {
  KAKUNIN_PREPARE(s, db_, kLastSequence);
  s.Bind(1, municipality);
  Status st;
  int64_t last = 0;
  if (s.Step(&st)) last = s.Int(0);
  s.Reset();
  if (!st.ok()) return st;
  return last;
}

Result<std::optional<std::string>> SqliteTxn::AppliedMac(const std::string& municipality,
                                                         int64_t sequence) {
  KAKUNIN_PREPARE(s, db_, kAppliedMac);
  s.Bind(1, municipality).Bind(2, sequence);
  Status st;
  std::optional<std::string> mac;
  if (s.Step(&st)) mac = s.Blob(0);
  s.Reset();
  if (!st.ok()) return st;
  return mac;
}

Status SqliteTxn::RecordApplied(const std::string& municipality, int64_t sequence,
                                const std::string& payload_mac, int64_t applied_at) {
  KAKUNIN_PREPARE(s, db_, kRecordApplied);
  return s.Bind(1, municipality)
      .Bind(2, sequence)
      .BindBlob(3, payload_mac)
      .Bind(4, applied_at)
      .Exec();
}

Result<std::optional<ResidentRow>> SqliteTxn::FindByResidentCode(const std::string& code) {
  return QueryResident(db_, kResidentByCode, code);
}

Result<std::optional<ResidentRow>> SqliteTxn::FindByAnyResidentCode(const std::string& code) {
  return FindByAnyCode(db_, code);
}

Status SqliteTxn::AddExpectedMoveOut(int64_t person_id, const std::string& municipality) {
  KAKUNIN_PREPARE(s, db_, kAddExpectedMoveOut);
  return s.Bind(1, person_id).Bind(2, municipality).Exec();
}

Result<bool> SqliteTxn::TakeExpectedMoveOut(int64_t person_id, const std::string& municipality) {
  KAKUNIN_PREPARE(s, db_, kTakeExpectedMoveOut);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, person_id).Bind(2, municipality).Exec());
  return db_->Changes() > 0;
}

namespace {
// MergeResident, in this order: the rows that name the person first, the person's row last.
constexpr const char* kMergeResident[] = {
    "UPDATE versions SET person_id = ?2 WHERE person_id = ?1",
    "UPDATE code_changes SET person_id = ?2 WHERE person_id = ?1",
    ("INSERT OR IGNORE INTO expected_moveouts (person_id, municipality_code) "
     "SELECT ?2, municipality_code FROM expected_moveouts WHERE person_id = ?1"),
    "DELETE FROM expected_moveouts WHERE person_id = ?1",
    // One of the two measures holds, whole: one not ended before one ended, then the later
    // last day (so a measure in force on either row stays in force, and an ended one is never
    // revived by the other's later day). The other row goes.
    ("DELETE FROM support_measures WHERE person_id = ?2 AND EXISTS (SELECT 1 FROM "
     "support_measures f WHERE f.person_id = ?1 AND ((f.ended_at = 0) > "
     "(support_measures.ended_at = 0) OR ((f.ended_at = 0) = (support_measures.ended_at = 0) "
     "AND f.valid_until > support_measures.valid_until)))"),
    ("INSERT OR IGNORE INTO support_measures (person_id, since, valid_until, ended_at, "
     "municipality_code, set_at, set_by) SELECT ?2, since, valid_until, ended_at, "
     "municipality_code, set_at, set_by FROM support_measures WHERE person_id = ?1"),
    "DELETE FROM support_measures WHERE person_id = ?1",
    "DELETE FROM residents WHERE person_id = ?1",
};
}  // namespace

Result<std::vector<VersionRow>> SqliteTxn::MergeResident(int64_t from_person, int64_t into_person) {
  std::vector<VersionRow> moved;
  {
    KAKUNIN_PREPARE(s, db_, kHistory);
    s.Bind(1, from_person);
    Status st;
    while (s.Step(&st)) moved.push_back(ReadVersion(s));
    s.Reset();
    if (!st.ok()) return st;
  }
  for (const char* sql : kMergeResident) {
    KAKUNIN_PREPARE(s, db_, sql);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, from_person).Bind(2, into_person).Exec());
  }
  return moved;
}

Result<int64_t> SqliteTxn::RekeyResidents(
    const std::function<std::string(std::string_view)>& key) {
  struct Row {
    int64_t person_id;
    std::string name;
    std::optional<std::string> kana;
    std::string address;
  };
  int64_t after = 0, done = 0;
  for (;;) {
    // A chunk read first, then updated: the scan never sees its own writes.
    std::vector<Row> rows;
    {
      KAKUNIN_PREPARE(s, db_, kResidentNamesFrom);
      s.Bind(1, after).Bind(2, int64_t{10000});
      Status st;
      while (s.Step(&st)) rows.push_back({s.Int(0), s.Text(1), s.OptionalText(2), s.Text(3)});
      s.Reset();
      if (!st.ok()) return st;
    }
    if (rows.empty()) return done;
    KAKUNIN_PREPARE(u, db_, kUpdateResidentKeys);
    for (const Row& r : rows) {
      u.Bind(1, r.person_id)
          .Bind(2, key(r.name))
          .Bind(3, r.kana ? key(*r.kana) : std::string())
          .Bind(4, key(r.address));
      KAKUNIN_RETURN_IF_ERROR(u.Exec());
    }
    after = rows.back().person_id;
    done += static_cast<int64_t>(rows.size());
  }
}

Result<bool> SqliteTxn::IsResidentCodeKnown(const std::string& code) {
  KAKUNIN_PREPARE(s, db_, kCodeKnown);
  s.Bind(1, code);
  Status st;
  bool known = s.Step(&st) && s.Int(0) != 0;
  s.Reset();
  if (!st.ok()) return st;
  return known;
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteTxn::EntriesOf(int64_t person_id) {
  return QueryAll<std::pair<std::string, std::string>>(
      db_, kEntriesOf, [&](Stmt& s) { s.Bind(1, person_id); },
      [](Stmt& s) { return std::pair{s.Text(0), s.Text(1)}; });
}

Result<std::optional<VersionRow>> SqliteTxn::Version(int64_t version_id) {
  return QueryOne<VersionRow>(
      db_, kVersionById, [&](Stmt& s) { s.Bind(1, version_id); }, ReadVersion);
}

Result<bool> SqliteTxn::NumberHeldByOther(const std::string& mac, int64_t except_person) {
  KAKUNIN_PREPARE(s, db_, kNumberHeldByOther);
  s.BindBlob(1, mac).Bind(2, except_person);
  Status st;
  bool held = s.Step(&st) && s.Int(0) != 0;
  s.Reset();
  if (!st.ok()) return st;
  return held;
}

Result<std::vector<ResidentRow>> SqliteTxn::ActiveHoldersOfNumber(const std::string& mac) {
  return ResidentsByNumber(db_, mac, /*include_removed=*/false);
}

Result<int64_t> SqliteTxn::InsertResident(const ResidentRow& row) {
  KAKUNIN_PREPARE(s, db_, kInsertResident);
  BindResident(s, row);
  KAKUNIN_RETURN_IF_ERROR(s.Exec());
  return db_->LastInsertRowId();
}

Status SqliteTxn::UpdateResident(const ResidentRow& row) {
  KAKUNIN_PREPARE(s, db_, kUpdateResident);
  BindResident(s, row);
  s.Bind(16, row.person_id);
  return s.Exec();
}

Result<int64_t> SqliteTxn::InsertVersion(const VersionRow& v) {
  KAKUNIN_PREPARE(s, db_, kInsertVersion);
  s.Bind(1, v.person_id)
      .Bind(2, v.municipality_code)
      .Bind(3, v.sequence)
      .Bind(4, v.kind)
      .Bind(5, v.reason)
      .Bind(6, v.change_date)
      .Bind(7, v.resident_code)
      .BindBlob(8, v.sealed_number)
      .Bind(9, v.name)
      .BindOptional(10, v.name_kana)
      .BindOptional(11, v.former_surname)
      .BindOptional(12, v.alias)
      .Bind(13, v.sex)
      .Bind(14, v.birth_date)
      .Bind(15, v.address)
      .BindOptional(16, v.new_resident_code)
      .Bind(17, v.applied_at)
      .Bind(18, v.superseded_at);
  KAKUNIN_RETURN_IF_ERROR(s.Exec());
  return db_->LastInsertRowId();
}

Status SqliteTxn::SetResidentVersion(int64_t person_id, int64_t version_id) {
  KAKUNIN_PREPARE(s, db_, kSetResidentVersion);
  return s.Bind(1, person_id).Bind(2, version_id).Exec();
}

Status SqliteTxn::MarkSuperseded(int64_t version_id, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kMarkSuperseded);
  return s.Bind(1, version_id).Bind(2, at).Exec();
}

Status SqliteTxn::RecordCodeChange(const std::string& old_code, const std::string& new_code,
                                   int64_t person_id, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kRecordCodeChange);
  return s.Bind(1, old_code).Bind(2, new_code).Bind(3, person_id).Bind(4, at).Exec();
}

Status SqliteTxn::EnqueueOutbox(int64_t version_id, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kEnqueueOutbox);
  return s.Bind(1, version_id).Bind(2, at).Exec();
}

Status SqliteTxn::EnqueueSupportMeasure(int64_t version_id, int64_t at,
                                        const std::string& municipality_code,
                                        const std::optional<std::string>& valid_until) {
  KAKUNIN_PREPARE(s, db_, kEnqueueSupportMeasure);
  return s.Bind(1, version_id)
      .Bind(2, at)
      .Bind(3, municipality_code)
      .BindOptional(4, valid_until)
      .Exec();
}

Result<PurgeCounts> SqliteTxn::Purge(int64_t superseded_before, int64_t removed_before,
                                     bool dry_run) {
  PurgeCounts c;
  {
    KAKUNIN_PREPARE(s, db_, kCountSuperseded);
    s.Bind(1, superseded_before).Bind(2, removed_before);
    Status st;
    if (s.Step(&st)) c.superseded_versions = s.Int(0);
    s.Reset();
    KAKUNIN_RETURN_IF_ERROR(st);
  }
  {
    KAKUNIN_PREPARE(s, db_, kCountRemoved);
    s.Bind(1, removed_before);
    Status st;
    if (s.Step(&st)) {
      c.removed_residents = s.Int(0);
      c.removed_resident_versions = s.Int(1);
    }
    s.Reset();
    KAKUNIN_RETURN_IF_ERROR(st);
  }
  if (dry_run) return c;
  {
    KAKUNIN_PREPARE(s, db_, kDeleteSuperseded);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, superseded_before).Bind(2, removed_before).Exec());
  }
  for (const char* sql : {kDeleteRemovedVersions, kDeleteRemovedExpectedMoveOuts,
                          kDeleteRemovedCodeChanges, kDeleteRemovedSupportMeasures,
                          kDeleteRemovedResidents}) {
    KAKUNIN_PREPARE(s, db_, sql);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, removed_before).Exec());
  }
  return c;
}

}  // namespace kakunin::store::sqlite::detail
