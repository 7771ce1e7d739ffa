// Active residents' current records, in resident-code order (kakunin stats --digest), as
// store/sqlite/current_records.cc.

#include <string>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"

namespace kakunin::store::pg::detail {
namespace {

// Per resident, the version with the greatest sequence from the municipality the resident is
// registered in. A page at a time after the last code read (the unique index on resident_code
// gives the order; COLLATE "C" orders bytes as SQLite does), so a national node's millions of
// residents are never all in memory.
constexpr char kCurrentRecordsAfter[] =
    "SELECT v.version_id, v.person_id, v.municipality_code, v.sequence, v.kind, "
    "v.reason, v.change_date, v.resident_code, v.sealed_number, v.name, v.name_kana, "
    "v.former_surname, v.alias, v.sex, v.birth_date, v.address, v.new_resident_code, "
    "v.applied_at, v.superseded_at, r.resident_code "
    "FROM residents r JOIN versions v ON v.version_id = ("
    "  SELECT w.version_id FROM versions w"
    "  WHERE w.person_id = r.person_id AND w.municipality_code = r.municipality_code"
    "  ORDER BY w.sequence DESC LIMIT 1) "
    "WHERE r.status = 'active' AND r.resident_code > $1 ORDER BY r.resident_code LIMIT $2";
constexpr int64_t kPage = 2000;

}  // namespace

Status PgReader::ForEachCurrentRecord(const std::function<Status(const CurrentRecordRow&)>& fn) {
  // One snapshot for the whole walk, as SQLite's single statement has: the pages agree with
  // each other even while the writer goes on.
  bool own = PQtransactionStatus(db_->raw()) == PQTRANS_IDLE;
  if (own) KAKUNIN_RETURN_IF_ERROR(db_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  Status st;
  std::string after;  // resident codes are never empty
  for (bool more = true; more && st.ok();) {
    auto rows = db_->Query(kCurrentRecordsAfter, Params().Text(after).Int(kPage));
    if (!rows.ok()) {
      st = rows.status();
      break;
    }
    more = rows->size() == kPage;
    for (int i = 0; i < rows->size() && st.ok(); ++i) {
      CurrentRecordRow row;
      row.version = ReadVersion(*rows, i);  // columns 0..18
      row.resident_code = rows->Text(i, 19);
      after = row.resident_code;
      st = fn(row);
    }
  }
  if (own) {
    Status end = db_->Exec(st.ok() ? "COMMIT" : "ROLLBACK");
    if (st.ok()) st = end;
  }
  return st;
}

}  // namespace kakunin::store::pg::detail
