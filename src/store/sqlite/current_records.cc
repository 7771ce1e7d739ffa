// Active residents' current records, in resident-code order (kakunin stats --digest).

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

// The residents' code index gives the order; per resident, the version with the greatest
// sequence from the municipality the resident is registered in (versions_person serves it).
constexpr char kCurrentRecords[] =
    "SELECT v.version_id, v.person_id, v.municipality_code, v.sequence, v.kind, "
    "v.reason, v.change_date, v.resident_code, v.sealed_number, v.name, v.name_kana, "
    "v.former_surname, v.alias, v.sex, v.birth_date, v.address, v.new_resident_code, "
    "v.applied_at, v.superseded_at, r.resident_code "
    "FROM residents r JOIN versions v ON v.version_id = ("
    "  SELECT w.version_id FROM versions w"
    "  WHERE w.person_id = r.person_id AND w.municipality_code = r.municipality_code"
    "  ORDER BY w.sequence DESC LIMIT 1) "
    "WHERE r.status = 'active' ORDER BY r.resident_code";

}  // namespace

Status SqliteReader::ForEachCurrentRecord(
    const std::function<Status(const CurrentRecordRow&)>& fn) {
  KAKUNIN_PREPARE(s, db_.get(), kCurrentRecords);
  Status st;
  Status stop;
  while (s.Step(&st)) {
    CurrentRecordRow row;
    row.version = ReadVersion(s);  // columns 0..18, as KAKUNIN_VERSION_COLUMNS
    row.resident_code = s.Text(19);
    stop = fn(row);
    if (!stop.ok()) break;
  }
  s.Reset();
  if (!stop.ok()) return stop;
  return st;
}

}  // namespace kakunin::store::sqlite::detail
