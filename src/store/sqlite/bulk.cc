// The SQLite side of a bulk import (registry/import.h): connection tuning, the search indexes
// deferred to the end of the load, and the per-batch progress that lets a restart resume.
//
// The tables here are created on first use (CREATE TABLE IF NOT EXISTS) rather than by a
// numbered migration: only a node that imports ever has them, and they hold no personal data.

#include <filesystem>
#include <string>
#include <vector>

#include "store/sqlite/db.h"
#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"

namespace kakunin::store::sqlite::detail {
namespace {

constexpr const char kCreateImportTables[] = R"sql(
CREATE TABLE IF NOT EXISTS import_batches (
  run INTEGER NOT NULL,
  batch INTEGER NOT NULL,
  first_line INTEGER NOT NULL,
  last_line INTEGER NOT NULL,
  records INTEGER NOT NULL,
  applied INTEGER NOT NULL,
  digest BLOB NOT NULL,
  audit_seq INTEGER NOT NULL,
  PRIMARY KEY (run, batch)
) STRICT, WITHOUT ROWID;
-- Indexes dropped for a load, with their exact definition, until EndBulkLoad builds them again
-- (so a crash between the two still knows what to rebuild).
CREATE TABLE IF NOT EXISTS import_deferred_indexes (
  name TEXT PRIMARY KEY,
  sql TEXT NOT NULL
) STRICT;
)sql";

// The search-key indexes: only searches read them, and a load is far faster when they are
// sorted once at the end than kept up to date row by row (random keys at every insert). The
// indexes that the state checks read (resident code, number MAC) stay.
constexpr const char kSaveSearchIndexes[] =
    "INSERT OR IGNORE INTO import_deferred_indexes (name, sql) "
    "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'residents' "
    "AND name IN ('residents_birth_kana', 'residents_kana', 'residents_birth_name', "
    "'residents_name', 'residents_address')";

constexpr const char kDeferredIndexes[] =
    "SELECT name, sql FROM import_deferred_indexes ORDER BY name";

constexpr const char kImportedBatch[] =
    "SELECT run, batch, first_line, last_line, records, applied, digest, audit_seq "
    "FROM import_batches WHERE run = ?1 AND batch = ?2";

constexpr const char kRecordImportBatch[] =
    "INSERT INTO import_batches (run, batch, first_line, last_line, records, applied, digest, "
    "audit_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

struct Deferred {
  std::string name, sql;
};

Result<std::vector<Deferred>> DeferredIndexes(Db* db) {
  return QueryAll<Deferred>(
      db, kDeferredIndexes, [](Stmt&) {}, [](Stmt& s) { return Deferred{s.Text(0), s.Text(1)}; });
}

}  // namespace

Status BeginBulkLoad(Db* db, const BulkLoadOptions& options) {
  if (options.cache_mib < 1) return Status::InvalidArgument("cache_mib must be at least 1");
  KAKUNIN_RETURN_IF_ERROR(db->Exec(kCreateImportTables));
  if (options.defer_search_indexes) {
    auto txn = Txn::Begin(db);
    if (!txn.ok()) return txn.status();
    KAKUNIN_RETURN_IF_ERROR(db->Exec(kSaveSearchIndexes));
    KAKUNIN_ASSIGN_OR_RETURN(deferred, DeferredIndexes(db));
    for (const Deferred& d : deferred) {
      // Names come from our own table, which only kSaveSearchIndexes fills (fixed names).
      KAKUNIN_RETURN_IF_ERROR(db->Exec("DROP INDEX IF EXISTS " + d.name));
    }
    KAKUNIN_RETURN_IF_ERROR((*txn)->Commit());
  }
  // Committed batches survive a crash of the process; a power cut may lose those since the last
  // checkpoint, and their progress rows with them, so a resumed import redoes exactly those.
  KAKUNIN_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL"));
  return db->Exec("PRAGMA cache_size=-" + std::to_string(options.cache_mib * 1024));
}

namespace {

// SQLite's temporary files in the database's own directory (the node's data directory, 0700)
// while an index is sorted, instead of /var/tmp: they hold the index keys — names, kana,
// addresses, codes — and SQLite unlinks them but never overwrites them (found in review). The
// directory is process-wide in SQLite; the bulk load is the one place the node spills to files
// (every connection keeps temp_store=MEMORY, db.cc) and runs in `kakunin import` alone, so it is
// set for the sort and put back after.
//
// Begin sets the directory, then the connection's temp_store=FILE and threads=1; End, or the
// destructor on an early return, puts back all three, the connection's first (found in review:
// a failed index build returned with temp_store=FILE and threads=1 left on the writer and the
// directory put back, so that connection's next temporary files — the command still signs the
// log — went to the default directory after all). Should the connection refuse to go back to
// memory, the directory stays the database's: its files must not go elsewhere.
class SpillBeside {
 public:
  explicit SpillBeside(Db* db) : db_(db), previous_(sqlite3_temp_directory) {}
  ~SpillBeside() {
    if (spilling_ && !End().ok()) return;
    if (set_) {
      sqlite3_free(sqlite3_temp_directory);
      sqlite3_temp_directory = previous_;
    }
  }
  SpillBeside(const SpillBeside&) = delete;
  SpillBeside& operator=(const SpillBeside&) = delete;

  // Refused, with nothing changed, where the directory cannot be set: the sort would spill into
  // the default temporary directory.
  Status Begin() {
    const char* file = sqlite3_db_filename(db_->raw(), "main");
    std::string dir = file != nullptr && *file != '\0'
                          ? std::filesystem::path(file).parent_path().string()
                          : std::string();
    if (dir.empty()) {
      return Status::FailedPrecondition(
          "the database has no directory of its own for the index sort's temporary files");
    }
    char* beside = sqlite3_mprintf("%s", dir.c_str());
    if (beside == nullptr) return Status::ResourceExhausted("out of memory");
    sqlite3_temp_directory = beside;
    set_ = true;
    // Marked before the pragmas: one that failed half-way is put back all the same.
    spilling_ = true;
    KAKUNIN_RETURN_IF_ERROR(db_->Exec("PRAGMA temp_store=FILE"));
    return db_->Exec("PRAGMA threads=1");
  }

  // The connection's settings back (the directory goes back with the destructor).
  Status End() {
    Status threads = db_->Exec("PRAGMA threads=0");
    Status memory = db_->Exec("PRAGMA temp_store=MEMORY");
    if (memory.ok()) spilling_ = false;
    return memory.ok() ? threads : memory;
  }

 private:
  Db* db_;
  char* previous_;
  bool set_ = false;
  bool spilling_ = false;
};

// Builds the indexes BeginBulkLoad deferred, each in its own transaction.
Status BuildDeferredIndexes(Db* db) {
  KAKUNIN_RETURN_IF_ERROR(db->Exec(kCreateImportTables));
  KAKUNIN_ASSIGN_OR_RETURN(deferred, DeferredIndexes(db));
  if (!deferred.empty()) {
    // The sorter spills to temporary files instead of memory (temp_store=MEMORY would hold
    // every key of every index in RAM), and may use a second thread; the files go beside the
    // database.
    SpillBeside beside(db);
    KAKUNIN_RETURN_IF_ERROR(beside.Begin());
    for (const Deferred& d : deferred) {
      auto txn = Txn::Begin(db);
      if (!txn.ok()) return txn.status();
      KAKUNIN_RETURN_IF_ERROR(db->Exec(d.sql));
      KAKUNIN_PREPARE(s, db, "DELETE FROM import_deferred_indexes WHERE name = ?1");
      KAKUNIN_RETURN_IF_ERROR(s.Bind(1, d.name).Exec());
      KAKUNIN_RETURN_IF_ERROR((*txn)->Commit());
    }
    return beside.End();
  }
  return Status::Ok();
}

}  // namespace

Status EndBulkLoad(Db* db) {
  Status built = BuildDeferredIndexes(db);
  // Back to the node's settings (db.cc) on every path: after a failed build too, what the
  // connection writes next (the command signs the log) is synced at its commit. The indexes still
  // deferred are built by the next EndBulkLoad (a resumed import).
  Status sync = db->Exec("PRAGMA synchronous=FULL");
  Status cache = db->Exec("PRAGMA cache_size=-65536");
  KAKUNIN_RETURN_IF_ERROR(built);
  KAKUNIN_RETURN_IF_ERROR(sync);
  KAKUNIN_RETURN_IF_ERROR(cache);
  // Then everything into the database file, synced.
  KAKUNIN_PREPARE(cp, db, "PRAGMA wal_checkpoint(TRUNCATE)");
  Status st;
  bool busy = cp.Step(&st) && cp.Int(0) != 0;
  cp.Reset();
  KAKUNIN_RETURN_IF_ERROR(st);
  // A reader kept the checkpoint from finishing: the data is durable in the WAL all the same.
  (void)busy;
  return Status::Ok();
}

Result<std::optional<ImportBatchRow>> SqliteTxn::ImportedBatch(int64_t run, int64_t batch) {
  KAKUNIN_RETURN_IF_ERROR(db_->Exec(kCreateImportTables));
  return QueryOne<ImportBatchRow>(
      db_, kImportedBatch, [&](Stmt& s) { s.Bind(1, run).Bind(2, batch); },
      [](Stmt& s) {
        ImportBatchRow r;
        r.run = s.Int(0);
        r.batch = s.Int(1);
        r.first_line = s.Int(2);
        r.last_line = s.Int(3);
        r.records = s.Int(4);
        r.applied = s.Int(5);
        r.digest = s.Blob(6);
        r.audit_seq = s.Int(7);
        return r;
      });
}

Status SqliteTxn::RecordImportBatch(const ImportBatchRow& r) {
  KAKUNIN_PREPARE(s, db_, kRecordImportBatch);
  return s.Bind(1, r.run)
      .Bind(2, r.batch)
      .Bind(3, r.first_line)
      .Bind(4, r.last_line)
      .Bind(5, r.records)
      .Bind(6, r.applied)
      .BindBlob(7, r.digest)
      .Bind(8, r.audit_seq)
      .Exec();
}

}  // namespace kakunin::store::sqlite::detail
