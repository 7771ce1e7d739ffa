// Support measures (支援措置) on SQLite (store/resident_store.h SupportMeasureRow).

#include <optional>
#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

Result<std::optional<std::string>> UntilOf(Db* db, int64_t person_id) {
  return QueryOne<std::string>(
      db, kSupportMeasureUntil, [&](Stmt& s) { s.Bind(1, person_id); },
      [](const Stmt& s) { return s.Text(0); });
}

}  // namespace

Result<std::optional<std::string>> SqliteReader::SupportMeasureUntil(int64_t person_id) {
  return UntilOf(db_.get(), person_id);
}

Result<std::vector<std::string>> SqliteReader::CodesUnderSupportMeasure(const std::string& today) {
  return QueryAll<std::string>(
      db_.get(), kCodesUnderSupportMeasure, [&](Stmt& s) { s.Bind(1, today); },
      [](const Stmt& s) { return s.Text(0); });
}

Result<std::optional<std::string>> SqliteTxn::SupportMeasureUntil(int64_t person_id) {
  return UntilOf(db_, person_id);
}

Status SqliteTxn::PutSupportMeasure(const SupportMeasureRow& row) {
  KAKUNIN_PREPARE(s, db_, kPutSupportMeasure);
  return s.Bind(1, row.person_id)
      .Bind(2, row.valid_until)
      .Bind(3, row.municipality_code)
      .Bind(4, row.set_at)
      .Bind(5, row.set_by)
      .Exec();
}

Result<bool> SqliteTxn::DeleteSupportMeasure(int64_t person_id) {
  KAKUNIN_PREPARE(s, db_, kDeleteSupportMeasure);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, person_id).Exec());
  return db_->Changes() > 0;
}

}  // namespace kakunin::store::sqlite::detail
