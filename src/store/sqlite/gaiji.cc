// The 外字 register on SQLite (store/gaiji_store.h).

#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

GaijiRow ReadGaiji(const Stmt& s) {
  GaijiRow r;
  r.municipality_code = s.Text(0);
  r.code_point = s.Int(1);
  r.mj_code = s.Text(2);
  r.image_png = s.Blob(3);
  r.description = s.Text(4);
  r.registered_at = s.Int(5);
  r.registered_by = s.Text(6);
  return r;
}

GaijiPendingRow ReadPending(const Stmt& s) {
  GaijiPendingRow r;
  r.municipality_code = s.Text(0);
  r.code_point = s.Int(1);
  r.first_seen = s.Int(2);
  r.last_seen = s.Int(3);
  r.count = s.Int(4);
  return r;
}

}  // namespace

Result<std::vector<GaijiRow>> SqliteReader::ListGaiji() {
  return QueryAll<GaijiRow>(
      db_.get(), kListGaiji, [](Stmt&) {}, ReadGaiji);
}

Result<std::vector<GaijiPendingRow>> SqliteReader::ListGaijiPending() {
  return QueryAll<GaijiPendingRow>(
      db_.get(), kListGaijiPending, [](Stmt&) {}, ReadPending);
}

Result<std::vector<GaijiRow>> SqliteReader::GaijiOf(const std::string& municipality) {
  return QueryAll<GaijiRow>(
      db_.get(), kGaijiOf, [&](Stmt& s) { s.Bind(1, municipality); }, ReadGaiji);
}

Status SqliteTxn::InsertGaiji(const GaijiRow& r) {
  KAKUNIN_PREPARE(s, db_, kInsertGaiji);
  return s.Bind(1, r.municipality_code)
      .Bind(2, r.code_point)
      .Bind(3, r.mj_code)
      .BindBlob(4, r.image_png)
      .Bind(5, r.description)
      .Bind(6, r.registered_at)
      .Bind(7, r.registered_by)
      .Exec();
}

Result<std::vector<int64_t>> SqliteTxn::RegisteredGaijiCodePoints(const std::string& municipality) {
  return QueryAll<int64_t>(
      db_, kGaijiCodePointsOf, [&](Stmt& s) { s.Bind(1, municipality); },
      [](const Stmt& s) { return s.Int(0); });
}

Status SqliteTxn::FlagGaijiPending(const std::string& municipality, int64_t code_point,
                                   int64_t at) {
  KAKUNIN_PREPARE(s, db_, kFlagGaijiPending);
  return s.Bind(1, municipality).Bind(2, code_point).Bind(3, at).Exec();
}

Status SqliteTxn::ClearGaijiPending(const std::string& municipality, int64_t code_point) {
  KAKUNIN_PREPARE(s, db_, kClearGaijiPending);
  return s.Bind(1, municipality).Bind(2, code_point).Exec();
}

}  // namespace kakunin::store::sqlite::detail
