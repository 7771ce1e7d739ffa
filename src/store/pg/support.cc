// Support measures (支援措置) on PostgreSQL, as store/sqlite/support.cc.

#include <optional>
#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {

Result<std::optional<std::string>> PgReader::SupportMeasureUntil(int64_t person_id) {
  return QueryOne<std::string>(db_.get(), kSupportMeasureUntil, Params().Int(person_id),
                               [](const Rows& s, int i) { return s.Text(i, 0); });
}

Result<std::vector<std::string>> PgReader::CodesUnderSupportMeasure(const std::string& today) {
  return QueryAll<std::string>(db_.get(), kCodesUnderSupportMeasure, Params().Text(today),
                               [](const Rows& s, int i) { return s.Text(i, 0); });
}

Result<std::optional<std::string>> PgTxn::SupportMeasureUntil(int64_t person_id) {
  return QueryOne<std::string>(db_, kSupportMeasureUntil, Params().Int(person_id),
                               [](const Rows& s, int i) { return s.Text(i, 0); });
}

Status PgTxn::PutSupportMeasure(const SupportMeasureRow& row) {
  return db_
      ->Run(kPutSupportMeasure, Params()
                                    .Int(row.person_id)
                                    .Text(row.valid_until)
                                    .Text(row.municipality_code)
                                    .Int(row.set_at)
                                    .Text(row.set_by))
      .status();
}

Result<bool> PgTxn::DeleteSupportMeasure(int64_t person_id) {
  KAKUNIN_ASSIGN_OR_RETURN(changed, db_->Run(kDeleteSupportMeasure, Params().Int(person_id)));
  return changed > 0;
}

}  // namespace kakunin::store::pg::detail
