#pragma once

// The registry's repository interfaces (DESIGN §3, §5). Callers — the use cases in
// registry/ — see only these types; store/sqlite/ implements them today and store/pg/ can
// later without touching a caller. Rows hold personal data: never log them.
//
// Each aggregate declares its rows and its reader/writer interfaces in its own header:
// residents (store/resident_store.h), the operation log (store/audit_store.h), the client
// register and node state (store/client_store.h) and the operator register
// (store/operator_store.h), the 外字 register (store/gaiji_store.h) and residents' requests with
// the printout register (store/disclosure_store.h), and the staff's registers — training,
// contractors, reviews (store/register_store.h). RegistryReader and RegistryTxn join them, so a
// caller holds one reader or one transaction across aggregates.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/audit_store.h"
#include "store/client_store.h"
#include "store/disclosure_store.h"
#include "store/gaiji_store.h"
#include "store/link_store.h"
#include "store/media_store.h"
#include "store/operator_store.h"
#include "store/register_store.h"
#include "store/resident_store.h"

namespace kakunin::store {

// Reads. One reader per thread; a reader sees a consistent snapshot per call.
class RegistryReader : public ResidentReader,
                       public AuditReader,
                       public ClientReader,
                       public OperatorReader,
                       public GaijiReader,
                       public MediaReader,
                       public LinkReader,
                       public DisclosureReader,
                       public RegisterReader {
 public:
  ~RegistryReader() override = default;
  // Whether a pool may keep this reader for another call: false once the connection under it
  // broke (a database server that went away, a failover), so the next call opens a new one.
  virtual bool Reusable() const { return true; }
  // Many reads in one snapshot, until as many EndSnapshot calls (nested pairs count): a proof's
  // ~30 node reads, or a statement's thousand proofs, then cost one read transaction instead of
  // one each (half a warm proof's CPU on SQLite), and all see the same log. Use ReadSnapshot.
  // The default does nothing: each call is its own snapshot (PostgreSQL, where BEGIN and
  // COMMIT would add round trips).
  virtual Status BeginSnapshot() { return Status::Ok(); }
  virtual void EndSnapshot() {}
};

// Holds `reader`'s snapshot for its scope (RegistryReader::BeginSnapshot). If the snapshot
// cannot begin, the reads still run, each on its own snapshot, and ok() says so.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(RegistryReader& reader) : reader_(reader), began_(reader.BeginSnapshot()) {}
  ~ReadSnapshot() {
    if (began_.ok()) reader_.EndSnapshot();
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  bool ok() const { return began_.ok(); }

 private:
  RegistryReader& reader_;
  Status began_;
};

// Writes inside one transaction (see RegistryStore::Write). Not thread-safe.
class RegistryTxn : public ResidentWriter,
                    public AuditWriter,
                    public ClientWriter,
                    public OperatorWriter,
                    public GaijiWriter,
                    public MediaWriter,
                    public LinkWriter,
                    public DisclosureWriter,
                    public RegisterWriter {
 public:
  ~RegistryTxn() override = default;

  // Nested undo points: a rejected notification rolls back only its own changes.
  virtual Status Savepoint() = 0;
  virtual Status RollbackToSavepoint() = 0;
  virtual Status ReleaseSavepoint() = 0;

  // A hint before a batch of notifications: what its lookups will name. A store that pays a
  // round trip per lookup (PostgreSQL) reads them all at once; every lookup answers exactly as
  // without the hint. The default ignores it.
  struct PrefetchHint {
    std::vector<std::string> resident_codes;  // codes the notifications name (old and new)
    std::vector<std::string> number_macs;     // their individual numbers' keyed MACs
    std::vector<std::string> chain_keys;      // the operation log's per-resident chain keys
    std::vector<std::string> senders;         // their senders (municipality codes)
  };
  virtual Status Prefetch(const PrefetchHint& hint) {
    (void)hint;
    return Status::Ok();
  }
};

// A registry database. Thread-safe: writes are serialised on one writer connection;
// readers each have their own connection.
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;
  // Runs `fn` in one durable transaction: committed (and synced) if `fn` returns OK,
  // rolled back otherwise. Returns `fn`'s status, or the commit's.
  virtual Status Write(const std::function<Status(RegistryTxn&)>& fn) = 0;
  virtual Result<std::unique_ptr<RegistryReader>> OpenReader() = 0;
  // Node metadata (prefecture, key id, schema facts); never personal data.
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;
  // Full structural check of the database file (PRAGMA integrity_check).
  virtual Status CheckIntegrity() = 0;
  // Writes an online, consistent copy of the whole database to a new file at `path` (refused
  // if it exists), mode 0600, while writers go on: one read snapshot for the whole copy.
  virtual Status CopyTo(const std::string& path) {
    (void)path;
    return Status::FailedPrecondition("this store cannot copy itself");
  }
  // Meta key of a scrub owed (each purge's own value: its time in µs): set by the purge's own
  // transaction whenever it erases anything (registry/retention.cc), so that a crash at any
  // moment after that commit still leaves the scrub owed (found in review: the mark was written
  // after the commit, and a crash in between lost it); deleted only by a scrub that finished,
  // and only if it still holds the value that scrub read.
  static constexpr char kScrubPendingKey[] = "scrub_pending";
  // After an erasure (a purge): drops what deleted rows left in the store's files outside its
  // tables, where the store can, if a scrub is owed (kScrubPendingKey; nothing to do otherwise).
  // SQLite zeroes deleted content in the pages it writes (secure_delete, db.cc) but the WAL keeps
  // older images of those pages until it is cut back: this checkpoints it and truncates it,
  // waiting for readers up to two seconds. Unavailable if readers kept it from finishing: it
  // stays owed, for FinishPendingScrub. PostgreSQL: ANALYZE of the purged tables, so the
  // planner's statistics hold no erased value (dead tuples go at VACUUM; docs/postgresql.md).
  virtual Status ScrubErased() { return Status::Ok(); }
  // Finishes a scrub still owed, if one is — after a purge in this process or another (a purge
  // run by the command while the node serves, or one cut short by a crash): the mark stays in
  // the database until it is done. Ok when nothing is owed or it is now done; Unavailable while
  // readers still hold the WAL (try again later). Waits for readers only briefly: the serving
  // node calls it from its periodic timer, and it holds off writers while it waits.
  virtual Status FinishPendingScrub() { return Status::Ok(); }

  // The page cache of every connection (the writer now, each reader opened from now on), in
  // MiB ([limits] cache_mib): with the reader pool's size, what bounds the store's memory.
  virtual Status SetCacheMib(int64_t mib) {
    (void)mib;
    return Status::Ok();
  }

  // A bulk load (registry/import.h): Begin relaxes the writer for large batches (WAL with
  // synchronous=NORMAL: a crash loses no committed batch, a power loss at most the batches
  // since the last checkpoint, which the import redoes) and may drop the search indexes;
  // End rebuilds what Begin dropped, restores the settings and checkpoints the WAL to the
  // database file with an fsync. Begin again after a crash resumes; End is idempotent.
  virtual Status BeginBulkLoad(const BulkLoadOptions& options) {
    (void)options;
    return Status::FailedPrecondition("this store has no bulk import");
  }
  virtual Status EndBulkLoad() { return Status::FailedPrecondition("this store has no bulk import"); }
};

}  // namespace kakunin::store
