// Support measures (支援措置) on PostgreSQL, as store/sqlite/support.cc.

#include <optional>
#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

SupportMeasureRow ReadMeasure(const Rows& s, int i) {
  SupportMeasureRow m;
  m.person_id = s.Int(i, 0);
  m.since = s.Text(i, 1);
  m.valid_until = s.Text(i, 2);
  m.ended_at = s.Int(i, 3);
  m.municipality_code = s.Text(i, 4);
  m.set_at = s.Int(i, 5);
  m.set_by = s.Text(i, 6);
  m.resident_code = s.Text(i, 7);
  return m;
}

}  // namespace

Result<std::optional<SupportMeasureRow>> PgReader::SupportMeasureOf(int64_t person_id) {
  return QueryOne<SupportMeasureRow>(db_.get(), kSupportMeasureOf, Params().Int(person_id),
                                     ReadMeasure);
}

Result<std::vector<SupportMeasureRow>> PgReader::ListSupportMeasures() {
  return QueryAll<SupportMeasureRow>(db_.get(), kListSupportMeasures, Params(), ReadMeasure);
}

Result<std::optional<SupportMeasureRow>> PgTxn::SupportMeasureOf(int64_t person_id) {
  return QueryOne<SupportMeasureRow>(db_, kSupportMeasureOf, Params().Int(person_id),
                                     ReadMeasure);
}

Status PgTxn::PutSupportMeasure(const SupportMeasureRow& row) {
  return db_
      ->Run(kPutSupportMeasure, Params()
                                    .Int(row.person_id)
                                    .Text(row.since)
                                    .Text(row.valid_until)
                                    .Int(row.ended_at)
                                    .Text(row.municipality_code)
                                    .Int(row.set_at)
                                    .Text(row.set_by))
      .status();
}

}  // namespace kakunin::store::pg::detail
