// The walks of record-state verification (registry/state_verify.h) and the versions a purge
// erases, as store/sqlite/state_rows.cc.

#include <string>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

constexpr char kVersionsAfter[] = "SELECT " KAKUNIN_VERSION_COLUMNS
                                  " FROM versions WHERE version_id > $1 "
                                  "ORDER BY version_id LIMIT $2";
constexpr char kResidentsAfter[] = "SELECT " KAKUNIN_RESIDENT_COLUMNS
                                   " FROM residents WHERE person_id > $1 "
                                   "ORDER BY person_id LIMIT $2";
constexpr char kPurgeableVersions[] =
    "SELECT version_id, person_id FROM versions "
    "WHERE (superseded_at > 0 AND superseded_at < $1) OR person_id IN "
    KAKUNIN_REMOVED_PAST("$2") " "
    "ORDER BY version_id";
constexpr int64_t kPage = 2000;

// A page at a time after the last id read, in one REPEATABLE READ snapshot (as SQLite's single
// statement), so millions of rows are never all in memory.
template <typename Row, typename ReadFn, typename IdFn>
Status Walk(Conn* db, const char* sql, ReadFn read, IdFn id,
            const std::function<Status(const Row&)>& fn) {
  bool own = PQtransactionStatus(db->raw()) == PQTRANS_IDLE;
  if (own) KAKUNIN_RETURN_IF_ERROR(db->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  Status st;
  int64_t after = 0;  // ids start at 1
  for (bool more = true; more && st.ok();) {
    auto rows = db->Query(sql, Params().Int(after).Int(kPage));
    if (!rows.ok()) {
      st = rows.status();
      break;
    }
    more = rows->size() == kPage;
    for (int i = 0; i < rows->size() && st.ok(); ++i) {
      Row row = read(*rows, i);
      after = id(row);
      st = fn(row);
    }
  }
  if (own) {
    Status end = db->Exec(st.ok() ? "COMMIT" : "ROLLBACK");
    if (st.ok()) st = end;
  }
  return st;
}

}  // namespace

Status PgReader::ForEachVersion(const std::function<Status(const VersionRow&)>& fn) {
  return Walk<VersionRow>(
      db_.get(), kVersionsAfter, [](const Rows& r, int i) { return ReadVersion(r, i); },
      [](const VersionRow& v) { return v.version_id; }, fn);
}

Status PgReader::ForEachResident(const std::function<Status(const ResidentRow&)>& fn) {
  return Walk<ResidentRow>(
      db_.get(), kResidentsAfter, [](const Rows& r, int i) { return ReadResident(r, i); },
      [](const ResidentRow& v) { return v.person_id; }, fn);
}

Result<std::vector<std::pair<int64_t, int64_t>>> PgTxn::PurgeableVersions(
    int64_t superseded_before, int64_t removed_before) {
  KAKUNIN_ASSIGN_OR_RETURN(rows, db_->Query(kPurgeableVersions,
                                            Params().Int(superseded_before).Int(removed_before)));
  std::vector<std::pair<int64_t, int64_t>> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) out.emplace_back(rows.Int(i, 0), rows.Int(i, 1));
  return out;
}

}  // namespace kakunin::store::pg::detail
