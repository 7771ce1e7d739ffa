#include "store/pg/pg_registry_store.h"

#include <algorithm>
#include <mutex>
#include <string>

#include "store/pg/conn.h"
#include "store/pg/detail/log_cache.h"
#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg {
namespace detail {

// Advisory lock keys (one 64-bit space per database): the writer's, taken by every Write so that
// two processes never interleave writes (the log's sequence stays single), and the migrations'.
inline constexpr char kLockWriter[] = "SELECT pg_advisory_xact_lock(7022403436130091009)";
inline constexpr char kLockMigrations[] = "SELECT pg_advisory_lock(7022403436130091010)";
inline constexpr char kUnlockMigrations[] = "SELECT pg_advisory_unlock(7022403436130091010)";
inline constexpr char kHasMigrations[] =
    "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
    "AND tablename = 'schema_migrations'";
inline constexpr char kCreateMigrations[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version int8 PRIMARY KEY, "
    "applied_at text NOT NULL)";
inline constexpr char kSchemaVersion[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
inline constexpr char kRecordMigration[] =
    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now()::text)";
// The log's entries are numbered 0..n-1 with none missing (CheckIntegrity).
inline constexpr char kAuditContiguous[] =
    "SELECT count(*) = coalesce(max(seq) + 1, 0) FROM audit_entries";

Result<std::unique_ptr<Conn>> ConnPool::Take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty()) {
      std::unique_ptr<Conn> c = std::move(idle_.back());
      idle_.pop_back();
      if (c->Healthy()) return c;
    }
  }
  return reconnect_->Open();
}

void ConnPool::Give(std::unique_ptr<Conn> c) {
  if (!c->Healthy() || PQtransactionStatus(c->raw()) != PQTRANS_IDLE) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < 32) idle_.push_back(std::move(c));
}

PgReader::~PgReader() {
  if (pool_ && db_) pool_->Give(std::move(db_));
}

bool PgReader::Reusable() const {
  return db_ != nullptr && db_->Healthy() && PQtransactionStatus(db_->raw()) == PQTRANS_IDLE;
}

// Found in review: without it, each read was its own snapshot, and a statement built while a
// checkpoint committed carried the older checkpoint with the newer map's proof (INVALID).
Status PgReader::BeginSnapshot() {
  if (snapshot_depth_ == 0) {
    if (PQtransactionStatus(db_->raw()) != PQTRANS_IDLE) {
      return Status::FailedPrecondition("a reader's snapshot began inside a transaction");
    }
    KAKUNIN_RETURN_IF_ERROR(db_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  }
  ++snapshot_depth_;
  return Status::Ok();
}

void PgReader::EndSnapshot() {
  if (snapshot_depth_ == 0 || --snapshot_depth_ > 0) return;
  // A read-only transaction has nothing to lose: a failed COMMIT (an aborted transaction
  // commits as a rollback) leaves the connection out of the pool (Reusable) if not idle.
  if (!db_->Exec("COMMIT").ok()) (void)db_->Exec("ROLLBACK");
}

// Savepoints are named by depth: one per notification, nested at most a few deep. They are
// sent only when needed (Conn::Savepoint), and deferred like the writes: a statement that fails
// inside one fails every later call until the transaction ends, so a rollback never quietly
// undoes a scope that was already reported done (a write queue's earlier job).
Status PgTxn::Savepoint() {
  KAKUNIN_RETURN_IF_ERROR(db_->Savepoint("sp" + std::to_string(depth_ + 1)));
  ++depth_;
  return Status::Ok();
}

Status PgTxn::RollbackToSavepoint() {
  --depth_;
  // What this transaction remembers (TxnCache) may hold what was just undone.
  cache_.Clear();
  return db_->RollbackToSavepoint();
}

Status PgTxn::ReleaseSavepoint() {
  --depth_;
  return db_->ReleaseSavepoint();
}

}  // namespace detail

namespace {

using detail::ConnPool;
using detail::PgReader;
using detail::PgTxn;

// Every table a purge deletes from (docs/postgresql.md lists the same for VACUUM FULL).
constexpr char kAnalyzePurged[] =
    "ANALYZE residents, versions, code_changes, expected_moveouts, support_measures, provisions, "
    "audit_entries, audit_targets, disclosures, corrections, printouts, link_received_changes";

class PgRegistryStore final : public RegistryStore {
 public:
  PgRegistryStore(std::string url, std::unique_ptr<Conn> writer)
      : reconnect_(std::make_shared<Reconnector>(std::move(url))),
        writer_(std::move(writer)),
        pool_(std::make_shared<ConnPool>(reconnect_)) {}

  Status Write(const std::function<Status(RegistryTxn&)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    KAKUNIN_RETURN_IF_ERROR(EnsureWriter());
    // Both deferred: they reach the server ahead of the first statement that needs an answer,
    // which therefore runs under the lock (a failure fails that statement, and the Write).
    Status st = writer_->DeferCommand("BEGIN");
    if (st.ok()) st = writer_->Defer(detail::kLockWriter, Params());
    if (st.ok()) {
      detail::PgWriteTxn t(writer_.get());
      st = fn(t);
    }
    // Ids drawn ahead are this transaction's only (Conn::SpareIds).
    struct DropSpares {
      Conn* c;
      ~DropSpares() { c->DropSpareIds(); }
    } drop{writer_.get()};
    if (!st.ok()) {
      writer_->Rollback();
      return st;
    }
    // synchronous_commit = on (set per connection): COMMIT returns once durable. A COMMIT whose
    // answer is lost (the server died) is reported unavailable: not acknowledged. It goes with
    // the writes still deferred, whose failure fails it.
    st = writer_->Commit();
    if (!st.ok()) writer_->Rollback();
    return st;
  }

  Result<std::unique_ptr<RegistryReader>> OpenReader() override {
    auto c = pool_->Take();
    if (!c.ok()) return c.status();
    return std::unique_ptr<RegistryReader>(new PgReader(std::move(*c), pool_));
  }

  Result<std::optional<std::string>> GetMeta(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    KAKUNIN_RETURN_IF_ERROR(EnsureWriter());
    return detail::QueryBytes(writer_.get(), kGetMeta, Params().Text(key));
  }

  Status SetMeta(const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lock(mu_);
    KAKUNIN_RETURN_IF_ERROR(EnsureWriter());
    return writer_->Run(kSetMeta, Params().Text(key).Text(value)).status();
  }

  // PostgreSQL checks its own pages (and checksums, where enabled); what is ours to check is the
  // schema's version and the log's numbering.
  Status CheckIntegrity() override {
    std::lock_guard<std::mutex> lock(mu_);
    KAKUNIN_RETURN_IF_ERROR(EnsureWriter());
    KAKUNIN_ASSIGN_OR_RETURN(version, writer_->QueryInt(detail::kSchemaVersion, Params()));
    if (version != LatestSchemaVersion()) return Status::DataLoss("schema version mismatch");
    KAKUNIN_ASSIGN_OR_RETURN(contiguous, writer_->QueryInt(detail::kAuditContiguous, Params()));
    if (contiguous == 0) return Status::DataLoss("integrity check failed: the log has a gap");
    return Status::Ok();
  }

  // After a purge: the planner's statistics (pg_statistic, shown as pg_stats) are samples of the
  // tables' values — most common values and histogram bounds of names, name keys and addresses —
  // and kept an erased resident's until the next ANALYZE, which autovacuum may not run for a
  // long time on a large table (found in review). ANALYZE samples live rows only, so the erased
  // ones leave the statistics; the superseded statistics rows are dead tuples of pg_statistic,
  // which go with VACUUM FULL pg_statistic (docs/postgresql.md, "Erasure"). The dead rows of the
  // tables themselves are the operator's VACUUM FULL too; nothing here can reach them.
  // Run only while owed (kScrubPendingKey, marked by the purge's transaction), and until it has
  // succeeded: a purge whose ANALYZE failed, or whose process died before it, leaves the mark for
  // FinishPendingScrub (the serving node's timer) and the next purge.
  Status ScrubErased() override {
    std::lock_guard<std::mutex> lock(mu_);
    return AnalyzeIfPendingLocked();
  }

  Status FinishPendingScrub() override {
    std::lock_guard<std::mutex> lock(mu_);
    return AnalyzeIfPendingLocked();
  }

  // SQLite's copy (its online backup API) has no counterpart here: a PostgreSQL node is backed up
  // by the server's own tools, with the key file kept apart (docs/postgresql.md).
  Status CopyTo(const std::string& path) override {
    (void)path;
    return Status::FailedPrecondition(
        "a node on PostgreSQL is not copied by kakunin backup: back the database up with "
        "pg_basebackup (with WAL archiving) or pg_dump, and the key file apart from it "
        "(docs/postgresql.md)");
  }

  // A plain load (store/pg/bulk.cc): every batch a durable transaction, the indexes kept; Begin
  // only makes sure the progress table exists, End has nothing to restore.
  Status BeginBulkLoad(const BulkLoadOptions& options) override {
    if (options.cache_mib < 1) return Status::InvalidArgument("cache_mib must be at least 1");
    return Write([](RegistryTxn& txn) { return static_cast<PgTxn&>(txn).CreateImportTables(); });
  }
  Status EndBulkLoad() override { return Status::Ok(); }

 private:
  // After a failover (or a server restart) the writer's connection is gone: the next write opens
  // a new one, which a multi-host URL with target_session_attrs=read-write sends to the new
  // primary.
  Status EnsureWriter() {
    // (A connection left inside a transaction, by a ROLLBACK that failed, is not reused.)
    if (writer_ && writer_->Healthy() && PQtransactionStatus(writer_->raw()) == PQTRANS_IDLE) {
      return Status::Ok();
    }
    writer_.reset();
    auto c = reconnect_->Open();
    if (!c.ok()) return c.status();
    writer_ = std::move(*c);
    return Status::Ok();
  }

  Status AnalyzeIfPendingLocked() {
    KAKUNIN_RETURN_IF_ERROR(EnsureWriter());
    KAKUNIN_ASSIGN_OR_RETURN(
        pending, detail::QueryBytes(writer_.get(), kGetMeta, Params().Text(kScrubPendingKey)));
    if (!pending) return Status::Ok();
    KAKUNIN_RETURN_IF_ERROR(writer_->Exec(kAnalyzePurged));
    // The mark this ANALYZE read, not one a later purge set meanwhile (as on SQLite).
    return writer_->Run(kDeleteMetaIfValue, Params().Text(kScrubPendingKey).Text(*pending))
        .status();
  }

  std::mutex mu_;
  std::shared_ptr<Reconnector> reconnect_;
  std::unique_ptr<Conn> writer_;
  std::shared_ptr<ConnPool> pool_;
};

Status Migrate(Conn* db, bool create) {
  KAKUNIN_ASSIGN_OR_RETURN(has, db->QueryInt(detail::kHasMigrations, Params()));
  if (has == 0 && !create) {
    return Status::NotFound("registry database has no schema (run kakunin init)");
  }
  // One node migrates at a time; the others wait and then find nothing to do.
  KAKUNIN_RETURN_IF_ERROR(db->Run(detail::kLockMigrations, Params()).status());
  Status st = [&]() -> Status {
    if (has == 0) KAKUNIN_RETURN_IF_ERROR(db->Exec(detail::kCreateMigrations));
    KAKUNIN_ASSIGN_OR_RETURN(current, db->QueryInt(detail::kSchemaVersion, Params()));
    if (current > LatestSchemaVersion()) {
      return Status::FailedPrecondition("database schema is newer than this build");
    }
    if (current == LatestSchemaVersion()) return Status::Ok();
    // PostgreSQL's DDL is transactional: every pending migration in one transaction, so an
    // upgrade happens whole or not at all (and a new database costs one durable commit, not five).
    KAKUNIN_RETURN_IF_ERROR(db->Exec("BEGIN"));
    Status all;
    for (const Migration& m : kMigrations) {
      if (m.version <= current || !all.ok()) continue;
      all = db->Exec(m.sql);
      if (all.ok()) all = db->Run(detail::kRecordMigration, Params().Int(m.version)).status();
    }
    if (all.ok()) all = db->Exec("COMMIT");
    if (!all.ok()) (void)db->Exec("ROLLBACK");
    return all;
  }();
  Status unlock = db->Run(detail::kUnlockMigrations, Params()).status();
  return st.ok() ? unlock : st;
}

}  // namespace

int LatestSchemaVersion() {
  int v = 0;
  for (const Migration& m : kMigrations) v = std::max(v, m.version);
  return v;
}

Result<std::unique_ptr<RegistryStore>> OpenRegistryStore(const std::string& url, bool create) {
  auto db = Conn::Open(url);
  if (!db.ok()) return db.status();
  KAKUNIN_RETURN_IF_ERROR(Migrate(db->get(), create));
  return std::unique_ptr<RegistryStore>(new PgRegistryStore(url, std::move(*db)));
}

}  // namespace kakunin::store::pg
