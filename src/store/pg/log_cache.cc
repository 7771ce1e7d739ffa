// The operation log's appends without a round trip each (store/pg/detail/log_cache.h).
//
// Each remembered value is exact for this transaction: the log's size and last time follow from
// the entry just inserted (the trigger refuses an entry that is not the next one, and a refused
// deferred insert fails everything after it); tree nodes and leaves are written once; a chain
// head or map node is what this transaction last read or put. A rollback to a savepoint forgets
// everything, so what it undid is read again.

#include "store/pg/detail/log_cache.h"

#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

constexpr char kResidentHeadsOf[] =
    "SELECT key, count, head, last_seq FROM audit_resident_heads WHERE key = ANY($1)";

}  // namespace

void PgWriteTxn::Forget() {
  size_.reset();
  last_time_.reset();
  latest_.reset();
  nodes_.clear();
  heads_.clear();
  map_nodes_.clear();
}

Status PgWriteTxn::RollbackToSavepoint() {
  Forget();
  return PgTxn::RollbackToSavepoint();
}

Status PgWriteTxn::Prefetch(const PrefetchHint& hint) {
  KAKUNIN_RETURN_IF_ERROR(PgTxn::Prefetch(hint));
  if (hint.chain_keys.empty()) return Status::Ok();
  auto rows = db_->Query(kResidentHeadsOf, Params().BytesArray(hint.chain_keys));
  if (!rows.ok()) return rows.status();
  for (const std::string& k : hint.chain_keys) heads_[k] = std::nullopt;
  for (int i = 0; i < rows->size(); ++i) {
    ResidentHeadRow h{rows->Blob(i, 0), rows->Int(i, 1), rows->Blob(i, 2), rows->Int(i, 3)};
    heads_[h.key] = h;
  }
  return Status::Ok();
}

Result<int64_t> PgWriteTxn::AuditSize() {
  if (!size_) {
    KAKUNIN_ASSIGN_OR_RETURN(n, PgTxn::AuditSize());
    size_ = n;
  }
  return *size_;
}

Result<int64_t> PgWriteTxn::AuditLastTime() {
  if (!last_time_) {
    KAKUNIN_ASSIGN_OR_RETURN(t, PgTxn::AuditLastTime());
    last_time_ = t;
  }
  return *last_time_;
}

// The append path's one read (audit/log.cc), answered from the two above: after the first
// append of a transaction it costs no round trip.
Result<AuditWriter::AuditTailRow> PgWriteTxn::AuditTail() {
  if (!size_ || !last_time_) {
    KAKUNIN_ASSIGN_OR_RETURN(tail, PgTxn::AuditTail());
    size_ = tail.size;
    last_time_ = tail.last_time;
  }
  return AuditTailRow{*size_, *last_time_};
}

// The same statements and parameters as PgTxn's (log.cc), deferred.
Status PgWriteTxn::InsertAuditEntry(const AuditRow& a, const std::vector<std::string>& targets) {
  Params p;
  p.Int(a.seq).Int(a.time).Text(a.actor).Text(a.action).Text(a.purpose);
  if (a.payload) {
    p.Bytes(*a.payload);
  } else {
    p.Null(17);  // bytea
  }
  p.Bytes(a.leaf_hash);
  if (a.targets) {
    p.Bytes(*a.targets);
  } else {
    p.Null(17);  // bytea
  }
  KAKUNIN_RETURN_IF_ERROR(db_->Defer(kInsertAuditEntry, p));
  for (const auto& t : targets) {
    KAKUNIN_RETURN_IF_ERROR(db_->Defer(kInsertAuditTarget, Params().Text(t).Int(a.seq)));
  }
  size_ = a.seq + 1;
  last_time_ = a.time;
  nodes_[{0, a.seq}] = a.leaf_hash;
  return Status::Ok();
}

Result<std::optional<std::string>> PgWriteTxn::AuditNode(uint32_t level, int64_t index) {
  auto it = nodes_.find({level, index});
  if (it != nodes_.end()) return it->second;
  KAKUNIN_ASSIGN_OR_RETURN(hash, PgTxn::AuditNode(level, index));
  // An absent node is remembered too: only PutAuditNode (below) can add it.
  nodes_.emplace(std::make_pair(level, index), hash);
  return hash;
}

Status PgWriteTxn::PutAuditNode(uint32_t level, int64_t index, const std::string& hash) {
  KAKUNIN_RETURN_IF_ERROR(
      db_->Defer(kPutAuditNode, Params().Int(int64_t{level}).Int(index).Bytes(hash)));
  nodes_[{level, index}] = hash;
  return Status::Ok();
}

Result<std::optional<CheckpointRow>> PgWriteTxn::LatestCheckpoint() {
  if (!latest_) {
    KAKUNIN_ASSIGN_OR_RETURN(c, PgTxn::LatestCheckpoint());
    latest_ = c;
  }
  return *latest_;
}

Status PgWriteTxn::InsertCheckpoint(const CheckpointRow& c) {
  Params p;
  p.Int(c.tree_size).Bytes(c.root).Int(c.time).Text(c.key_id).Bytes(c.signature);
  // Empty is NULL, as on SQLite: "IS NOT NULL" finds the checkpoints signing a map.
  if (c.origin.empty()) {
    p.Null(25);  // text
  } else {
    p.Text(c.origin);
  }
  if (c.map_root.empty()) {
    p.Null(17);  // bytea
  } else {
    p.Bytes(c.map_root);
  }
  KAKUNIN_RETURN_IF_ERROR(db_->Defer(kInsertCheckpoint, p));
  // The latest is the largest tree size (one size, one row: a second one replaces it).
  if (latest_ && (!*latest_ || (*latest_)->tree_size <= c.tree_size)) {
    latest_ = std::optional<CheckpointRow>(c);
  } else {
    latest_.reset();
  }
  return Status::Ok();
}

Result<std::optional<ResidentHeadRow>> PgWriteTxn::ResidentHead(const std::string& key) {
  auto it = heads_.find(key);
  if (it != heads_.end()) return it->second;
  KAKUNIN_ASSIGN_OR_RETURN(head, PgTxn::ResidentHead(key));
  heads_.emplace(key, head);
  return head;
}

Status PgWriteTxn::PutResidentHead(const ResidentHeadRow& r) {
  KAKUNIN_RETURN_IF_ERROR(db_->Defer(
      kPutResidentHead, Params().Bytes(r.key).Int(r.count).Bytes(r.head).Int(r.last_seq)));
  heads_[r.key] = r;
  return Status::Ok();
}

Result<std::optional<MapNodeRow>> PgWriteTxn::MapNode(uint32_t depth, const std::string& prefix) {
  auto it = map_nodes_.find({depth, prefix});
  if (it != map_nodes_.end()) return it->second;
  KAKUNIN_ASSIGN_OR_RETURN(node, PgTxn::MapNode(depth, prefix));
  map_nodes_.emplace(std::make_pair(depth, prefix), node);
  return node;
}

Status PgWriteTxn::PutMapNode(uint32_t depth, const std::string& prefix, const MapNodeRow& r) {
  Params p;
  p.Int(int64_t{depth}).Bytes(prefix).Bytes(r.hash);
  if (r.leaf_key.empty()) {
    p.Null(17);  // bytea
  } else {
    p.Bytes(r.leaf_key);
  }
  KAKUNIN_RETURN_IF_ERROR(db_->Defer(kPutMapNode, p));
  map_nodes_[{depth, prefix}] = r;
  return Status::Ok();
}

Result<RegistryTxn::AuditErasure> PgWriteTxn::EraseAuditBefore(int64_t time, bool dry_run) {
  Forget();  // retention is rare: simply read again afterwards
  return PgTxn::EraseAuditBefore(time, dry_run);
}

}  // namespace kakunin::store::pg::detail
