// The operation log's appends without a round trip each (store/pg/detail/log_cache.h).
//
// Each remembered value is exact for this transaction: the log's size and last time follow from
// the entry just inserted (the trigger refuses an entry that is not the next one, and a refused
// deferred insert fails everything after it); tree nodes and leaves are written once; a chain
// head or map node is what this transaction last read or put. A rollback to a savepoint forgets
// everything, so what it undid is read again.

#include "store/pg/detail/log_cache.h"

#include <algorithm>

#include "store/pg/detail/batched.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

constexpr char kResidentHeadsOf[] =
    "SELECT key, count, head, last_seq FROM audit_resident_heads WHERE key = ANY($1)";
constexpr char kTargetsFrom[] =
    "SELECT seq, leaf_hash, targets FROM audit_entries WHERE seq >= $1 AND targets IS NOT NULL "
    "ORDER BY seq LIMIT $2";
constexpr int64_t kChunk = 2000;
// Map nodes by (depth, prefix) pairs, at once.
constexpr char kMapNodesAt[] =
    "SELECT m.depth, m.prefix, m.hash, m.leaf_key FROM audit_map_nodes m "
    "JOIN unnest($1::int8[], $2::bytea[]) AS w(depth, prefix) "
    "ON m.depth = w.depth AND m.prefix = w.prefix";
constexpr size_t kMaxPairs = 20000;  // per statement

// The residents' keys in an entry's stored target leaves (audit/targets.h: each a 32-byte MAC,
// a status byte, a length byte and that many digest bytes). Only a hint of what to read
// ahead: a record that does not parse ends the list, and what is read is whatever the
// database holds for the keys named.
constexpr size_t kMacSize = 32;
void AppendTargetKeys(std::string_view bytes, std::vector<std::string>* out) {
  size_t at = 0;
  while (at + kMacSize + 2 <= bytes.size()) {
    const size_t len = static_cast<uint8_t>(bytes[at + kMacSize + 1]);
    if (at + kMacSize + 2 + len > bytes.size()) return;
    out->emplace_back(bytes.substr(at, kMacSize));
    at += kMacSize + 2 + len;
  }
}

// The resident map's addresses (audit/resident_map.cc): a key's first `depth` bits, the rest
// zero, and the sibling's (bit depth-1 flipped).
int Bit(const std::string& key, uint32_t i) {
  return (static_cast<uint8_t>(key[i / 8]) >> (7 - i % 8)) & 1;
}
std::string MapPrefix(const std::string& key, uint32_t depth) {
  std::string p(kMacSize, '\0');
  for (uint32_t i = 0; i < depth; ++i) {
    if (Bit(key, i)) p[i / 8] = static_cast<char>(p[i / 8] | (0x80 >> (i % 8)));
  }
  return p;
}
std::string SiblingPrefix(const std::string& key, uint32_t depth) {
  std::string p = MapPrefix(key, depth);
  const uint32_t i = depth - 1;
  p[i / 8] = static_cast<char>(p[i / 8] ^ (0x80 >> (i % 8)));
  return p;
}
// The number of leading bits two keys share.
uint32_t CommonBits(const std::string& a, const std::string& b) {
  uint32_t n = 0;
  while (n < 8 * kMacSize && Bit(a, n) == Bit(b, n)) ++n;
  return n;
}

}  // namespace

void PgWriteTxn::Forget() {
  size_.reset();
  last_time_.reset();
  latest_.reset();
  nodes_.clear();
  heads_.clear();
  map_nodes_.clear();
  map_keys_.clear();
}

Status PgWriteTxn::PrefetchHeads(const std::vector<std::string>& keys) {
  std::vector<std::string> want;
  for (const std::string& k : keys) {
    if (heads_.count(k) == 0) want.push_back(k);
  }
  std::sort(want.begin(), want.end());
  want.erase(std::unique(want.begin(), want.end()), want.end());
  if (want.empty()) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(rows, db_->Query(kResidentHeadsOf, Params().BytesArray(want)));
  for (const std::string& k : want) heads_[k] = std::nullopt;
  for (int i = 0; i < rows.size(); ++i) {
    ResidentHeadRow h{rows.Blob(i, 0), rows.Int(i, 1), rows.Blob(i, 2), rows.Int(i, 3)};
    heads_[h.key] = h;
  }
  return Status::Ok();
}

Status PgWriteTxn::ForEachAuditTargets(int64_t from_seq, const AuditTargetsFn& fn) {
  // PgTxn's walk (log.cc), with the heads of each chunk's residents read before its rows are
  // handed out, and their keys kept for the map's paths.
  for (int64_t from = from_seq;;) {
    KAKUNIN_ASSIGN_OR_RETURN(rows, db_->Query(kTargetsFrom, Params().Int(from).Int(kChunk)));
    std::vector<std::string> keys;
    for (int i = 0; i < rows.size(); ++i) AppendTargetKeys(rows.Text(i, 2), &keys);
    KAKUNIN_RETURN_IF_ERROR(PrefetchHeads(keys));
    map_keys_.insert(keys.begin(), keys.end());
    for (int i = 0; i < rows.size(); ++i) {
      from = rows.Int(i, 0) + 1;
      if (!fn(rows.Int(i, 0), rows.Blob(i, 1), rows.Blob(i, 2))) return Status::Ok();
    }
    if (rows.size() < kChunk) return Status::Ok();
  }
}

Result<std::vector<ResidentHeadRow>> PgWriteTxn::ResidentHeadsFrom(int64_t seq) {
  KAKUNIN_ASSIGN_OR_RETURN(rows, PgTxn::ResidentHeadsFrom(seq));
  for (const ResidentHeadRow& h : rows) {
    heads_.emplace(h.key, h);  // (one this transaction wrote is kept: it is the same row)
    map_keys_.insert(h.key);
  }
  return rows;
}

// Which nodes the update of a key reads (audit/resident_map.cc, MapUpdate): down its path
// from the root to an empty place, its own leaf or another key's leaf (which both then pass
// to the depth where they part), then the siblings on the way up; nodes the batch wrote before
// are in the caller's memory. So every node read is on the key's path or a sibling of it, at
// a depth no deeper than where the database's path ends or, for a leaf met there, one below
// where the two keys part, or one below where the key parts from its neighbours in the batch
// (in key order: the keys that share most of its prefix). Each level is one statement for all
// keys; a pair not found is remembered as absent, as a single read's miss is.
Status PgWriteTxn::PrefetchMapPaths() {
  std::vector<std::string> keys;
  for (const std::string& k : map_keys_) {
    if (k.size() == kMacSize) keys.push_back(k);
  }
  map_keys_.clear();
  std::vector<uint32_t> bound(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) bound[i] = std::max(bound[i], CommonBits(keys[i], keys[i - 1]) + 1);
    if (i + 1 < keys.size()) bound[i] = std::max(bound[i], CommonBits(keys[i], keys[i + 1]) + 1);
  }
  std::vector<size_t> active(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) active[i] = i;
  for (uint32_t d = 0; !active.empty() && d <= 8 * kMacSize; ++d) {
    std::vector<int64_t> depths;
    std::vector<std::string> prefixes;
    std::set<std::string> asked;
    auto want = [&](std::string p) {
      if (map_nodes_.count({d, p}) != 0 || !asked.insert(p).second) return;
      depths.push_back(int64_t{d});
      prefixes.push_back(std::move(p));
    };
    for (size_t i : active) {
      want(MapPrefix(keys[i], d));
      if (d > 0) want(SiblingPrefix(keys[i], d));
    }
    for (size_t at = 0; at < prefixes.size(); at += kMaxPairs) {
      const size_t end = std::min(prefixes.size(), at + kMaxPairs);
      std::vector<int64_t> ds(depths.begin() + at, depths.begin() + end);
      std::vector<std::string> ps(prefixes.begin() + at, prefixes.begin() + end);
      KAKUNIN_ASSIGN_OR_RETURN(rows, db_->Query(kMapNodesAt, Params().IntArray(ds).BytesArray(ps)));
      for (const std::string& p : ps) map_nodes_.emplace(std::make_pair(d, p), std::nullopt);
      for (int r = 0; r < rows.size(); ++r) {
        map_nodes_[{static_cast<uint32_t>(rows.Int(r, 0)), rows.Blob(r, 1)}] =
            MapNodeRow{rows.Blob(r, 2), rows.IsNull(r, 3) ? std::string() : rows.Blob(r, 3)};
      }
    }
    std::vector<size_t> next;
    for (size_t i : active) {
      const auto& node = map_nodes_[{d, MapPrefix(keys[i], d)}];
      if (node && node->leaf_key.empty()) {
        next.push_back(i);  // an inner node: the path goes on
        continue;
      }
      if (node && node->leaf_key != keys[i] && node->leaf_key.size() == kMacSize) {
        bound[i] = std::max(bound[i], CommonBits(keys[i], node->leaf_key) + 1);
      }
      if (d + 1 <= bound[i]) next.push_back(i);
    }
    active = std::move(next);
  }
  return Status::Ok();
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
  KAKUNIN_RETURN_IF_ERROR(db_->DeferBatched(kInsertAuditEntry, p, kAuditEntryInserts));
  for (const auto& t : targets) {
    KAKUNIN_RETURN_IF_ERROR(
        db_->DeferBatched(kInsertAuditTarget, Params().Text(t).Int(a.seq), kAuditTargetInserts));
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
      db_->DeferBatched(kPutAuditNode, Params().Int(int64_t{level}).Int(index).Bytes(hash),
                        kAuditNodeInserts));
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
  KAKUNIN_RETURN_IF_ERROR(db_->DeferBatched(
      kPutResidentHead, Params().Bytes(r.key).Int(r.count).Bytes(r.head).Int(r.last_seq),
      kResidentHeadPuts));
  heads_[r.key] = r;
  return Status::Ok();
}

Result<std::optional<MapNodeRow>> PgWriteTxn::MapNode(uint32_t depth, const std::string& prefix) {
  auto it = map_nodes_.find({depth, prefix});
  if (it != map_nodes_.end()) return it->second;
  if (!map_keys_.empty()) {
    KAKUNIN_RETURN_IF_ERROR(PrefetchMapPaths());
    it = map_nodes_.find({depth, prefix});
    if (it != map_nodes_.end()) return it->second;
  }
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
  KAKUNIN_RETURN_IF_ERROR(db_->DeferBatched(kPutMapNode, p, kMapNodePuts));
  map_nodes_[{depth, prefix}] = r;
  return Status::Ok();
}

Result<RegistryTxn::AuditErasure> PgWriteTxn::EraseAuditBefore(int64_t time, bool dry_run) {
  Forget();  // retention is rare: simply read again afterwards
  return PgTxn::EraseAuditBefore(time, dry_run);
}

}  // namespace kakunin::store::pg::detail
