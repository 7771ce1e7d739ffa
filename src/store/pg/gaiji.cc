// The 外字 register on PostgreSQL (store/gaiji_store.h).

#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

GaijiRow ReadGaiji(const Rows& s, int i) {
  GaijiRow r;
  r.municipality_code = s.Text(i, 0);
  r.code_point = s.Int(i, 1);
  r.mj_code = s.Text(i, 2);
  r.image_png = s.Blob(i, 3);
  r.description = s.Text(i, 4);
  r.registered_at = s.Int(i, 5);
  r.registered_by = s.Text(i, 6);
  return r;
}

GaijiPendingRow ReadPending(const Rows& s, int i) {
  GaijiPendingRow r;
  r.municipality_code = s.Text(i, 0);
  r.code_point = s.Int(i, 1);
  r.first_seen = s.Int(i, 2);
  r.last_seen = s.Int(i, 3);
  r.count = s.Int(i, 4);
  return r;
}

}  // namespace

Result<std::vector<GaijiRow>> PgReader::ListGaiji() {
  return QueryAll<GaijiRow>(db_.get(), kListGaiji, Params(), ReadGaiji);
}

Result<std::vector<GaijiPendingRow>> PgReader::ListGaijiPending() {
  return QueryAll<GaijiPendingRow>(db_.get(), kListGaijiPending, Params(), ReadPending);
}

Result<std::vector<GaijiRow>> PgReader::GaijiOf(const std::string& municipality) {
  return QueryAll<GaijiRow>(db_.get(), kGaijiOf, Params().Text(municipality), ReadGaiji);
}

Status PgTxn::InsertGaiji(const GaijiRow& r) {
  auto n = db_->Run(kInsertGaiji, Params()
                                      .Text(r.municipality_code)
                                      .Int(r.code_point)
                                      .Text(r.mj_code)
                                      .Bytes(r.image_png)
                                      .Text(r.description)
                                      .Int(r.registered_at)
                                      .Text(r.registered_by));
  if (!n.ok()) return n.status();
  if (*n == 0) return Status::AlreadyExists("外字 code point already registered");
  return Status::Ok();
}

Result<std::vector<int64_t>> PgTxn::RegisteredGaijiCodePoints(const std::string& municipality) {
  return QueryAll<int64_t>(db_, kGaijiCodePointsOf, Params().Text(municipality),
                           [](const Rows& s, int i) { return s.Int(i, 0); });
}

Status PgTxn::FlagGaijiPending(const std::string& municipality, int64_t code_point, int64_t at) {
  return db_->Run(kFlagGaijiPending, Params().Text(municipality).Int(code_point).Int(at)).status();
}

Status PgTxn::ClearGaijiPending(const std::string& municipality, int64_t code_point) {
  return db_->Run(kClearGaijiPending, Params().Text(municipality).Int(code_point)).status();
}

}  // namespace kakunin::store::pg::detail
