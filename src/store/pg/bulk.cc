// The PostgreSQL side of a bulk import (registry/import.h): the per-batch progress that lets a
// restarted import resume, as store/sqlite/bulk.cc keeps it.
//
// A plain load: every batch is one durable transaction like any Write (synchronous_commit on),
// and the search indexes stay in place (updated row by row). SQLite's relaxed syncing and
// deferred indexes are for one machine's disk; on a server the load is bound by round trips.
//
// The table is created on first use rather than by a numbered migration, as on SQLite: only a
// node that imports ever has it, and it holds no personal data.

#include <optional>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"

namespace kakunin::store::pg::detail {
namespace {

constexpr char kHasImportBatches[] = "SELECT to_regclass('import_batches') IS NOT NULL";
constexpr char kCreateImportBatches[] = R"sql(
CREATE TABLE IF NOT EXISTS import_batches (
  run int8 NOT NULL,
  batch int8 NOT NULL,
  first_line int8 NOT NULL,
  last_line int8 NOT NULL,
  records int8 NOT NULL,
  applied int8 NOT NULL,
  digest bytea NOT NULL,
  audit_seq int8 NOT NULL,
  PRIMARY KEY (run, batch)
)
)sql";
constexpr char kImportedBatch[] =
    "SELECT run, batch, first_line, last_line, records, applied, digest, audit_seq "
    "FROM import_batches WHERE run = $1 AND batch = $2";
constexpr char kRecordImportBatch[] =
    "INSERT INTO import_batches (run, batch, first_line, last_line, records, applied, digest, "
    "audit_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

Result<bool> HasImportBatches(Conn* db) {
  KAKUNIN_ASSIGN_OR_RETURN(has, db->QueryInt(kHasImportBatches, Params()));
  return has != 0;
}

}  // namespace

// Looked up first, so that the usual call issues no DDL (and no "already exists" notice).
Status PgTxn::CreateImportTables() {
  KAKUNIN_ASSIGN_OR_RETURN(has, HasImportBatches(db_));
  if (has) return Status::Ok();
  return db_->Exec(kCreateImportBatches);
}

Result<std::optional<ImportBatchRow>> PgTxn::ImportedBatch(int64_t run, int64_t batch) {
  KAKUNIN_ASSIGN_OR_RETURN(has, HasImportBatches(db_));
  if (!has) return std::optional<ImportBatchRow>();  // no import ever recorded a batch
  return QueryOne<ImportBatchRow>(db_, kImportedBatch, Params().Int(run).Int(batch),
                                  [](const Rows& s, int i) {
                                    ImportBatchRow r;
                                    r.run = s.Int(i, 0);
                                    r.batch = s.Int(i, 1);
                                    r.first_line = s.Int(i, 2);
                                    r.last_line = s.Int(i, 3);
                                    r.records = s.Int(i, 4);
                                    r.applied = s.Int(i, 5);
                                    r.digest = s.Blob(i, 6);
                                    r.audit_seq = s.Int(i, 7);
                                    return r;
                                  });
}

Status PgTxn::RecordImportBatch(const ImportBatchRow& r) {
  KAKUNIN_RETURN_IF_ERROR(CreateImportTables());
  return db_
      ->Run(kRecordImportBatch, Params()
                                    .Int(r.run)
                                    .Int(r.batch)
                                    .Int(r.first_line)
                                    .Int(r.last_line)
                                    .Int(r.records)
                                    .Int(r.applied)
                                    .Bytes(r.digest)
                                    .Int(r.audit_seq))
      .status();
}

}  // namespace kakunin::store::pg::detail
