// The walks of record-state verification (registry/state_verify.h) and the versions a purge
// erases (registry/retention.cc).

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

constexpr char kAllVersions[] =
    "SELECT " KAKUNIN_VERSION_COLUMNS " FROM versions ORDER BY version_id";
constexpr char kAllResidents[] =
    "SELECT " KAKUNIN_RESIDENT_COLUMNS " FROM residents ORDER BY person_id";
// The union of what kDeleteSuperseded and kDeleteRemovedVersions delete.
constexpr char kPurgeableVersions[] =
    "SELECT version_id, person_id FROM versions "
    "WHERE (superseded_at > 0 AND superseded_at < ?1) OR person_id IN "
    KAKUNIN_REMOVED_PAST("?2") " "
    "ORDER BY version_id";

// One statement: one snapshot for the whole walk.
template <typename Row, typename ReadFn>
Status Walk(Db* db, const char* sql, ReadFn read, const std::function<Status(const Row&)>& fn) {
  KAKUNIN_PREPARE(s, db, sql);
  Status st;
  Status stop;
  while (s.Step(&st)) {
    stop = fn(read(s));
    if (!stop.ok()) break;
  }
  s.Reset();
  if (!stop.ok()) return stop;
  return st;
}

}  // namespace

Status SqliteReader::ForEachVersion(const std::function<Status(const VersionRow&)>& fn) {
  return Walk<VersionRow>(db_.get(), kAllVersions, [](const Stmt& s) { return ReadVersion(s); },
                          fn);
}

Status SqliteReader::ForEachResident(const std::function<Status(const ResidentRow&)>& fn) {
  return Walk<ResidentRow>(db_.get(), kAllResidents,
                           [](const Stmt& s) { return ReadResident(s); }, fn);
}

Result<std::vector<std::pair<int64_t, int64_t>>> SqliteTxn::PurgeableVersions(
    int64_t superseded_before, int64_t removed_before) {
  KAKUNIN_PREPARE(s, db_, kPurgeableVersions);
  s.Bind(1, superseded_before).Bind(2, removed_before);
  std::vector<std::pair<int64_t, int64_t>> out;
  Status st;
  while (s.Step(&st)) out.emplace_back(s.Int(0), s.Int(1));
  s.Reset();
  KAKUNIN_RETURN_IF_ERROR(st);
  return out;
}

}  // namespace kakunin::store::sqlite::detail
