// Support measures (支援措置) on SQLite (store/resident_store.h SupportMeasureRow).

#include <optional>
#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

SupportMeasureRow ReadMeasure(const Stmt& s) {
  SupportMeasureRow m;
  m.person_id = s.Int(0);
  m.since = s.Text(1);
  m.valid_until = s.Text(2);
  m.ended_at = s.Int(3);
  m.municipality_code = s.Text(4);
  m.set_at = s.Int(5);
  m.set_by = s.Text(6);
  m.resident_code = s.Text(7);
  return m;
}

Result<std::optional<SupportMeasureRow>> MeasureOf(Db* db, int64_t person_id) {
  return QueryOne<SupportMeasureRow>(
      db, kSupportMeasureOf, [&](Stmt& s) { s.Bind(1, person_id); }, ReadMeasure);
}

}  // namespace

Result<std::optional<SupportMeasureRow>> SqliteReader::SupportMeasureOf(int64_t person_id) {
  return MeasureOf(db_.get(), person_id);
}

Result<std::vector<SupportMeasureRow>> SqliteReader::ListSupportMeasures() {
  return QueryAll<SupportMeasureRow>(db_.get(), kListSupportMeasures, [](Stmt&) {}, ReadMeasure);
}

Result<std::optional<SupportMeasureRow>> SqliteTxn::SupportMeasureOf(int64_t person_id) {
  return MeasureOf(db_, person_id);
}

Status SqliteTxn::PutSupportMeasure(const SupportMeasureRow& row) {
  KAKUNIN_PREPARE(s, db_, kPutSupportMeasure);
  return s.Bind(1, row.person_id)
      .Bind(2, row.since)
      .Bind(3, row.valid_until)
      .Bind(4, row.ended_at)
      .Bind(5, row.municipality_code)
      .Bind(6, row.set_at)
      .Bind(7, row.set_by)
      .Exec();
}

}  // namespace kakunin::store::sqlite::detail
