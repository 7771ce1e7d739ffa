#pragma once

// The operation-log aggregate (DESIGN §5, §7): entries, the Merkle tree's stored nodes, signed
// checkpoints, the target index and 提供・移転の記録. audit/log.h owns the rules; this is only
// their storage. Payloads and provision rows hold personal data: never log them.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace kakunin::store {

// One entry of the operation log as stored. `payload` is the canonical encoding
// (audit/entry.h); absent once erased by retention, when only `leaf_hash` remains.
struct AuditRow {
  int64_t seq = 0;
  int64_t time = 0;  // µs since epoch
  std::string actor;
  std::string action;
  std::string purpose;
  std::optional<std::string> payload;
  std::string leaf_hash;
  // A version-2 entry's target leaves (audit/targets.h); absent for version 1 and once erased.
  std::optional<std::string> targets;
};

// The same, seen in place (ScanAuditEntries): views into the store's own buffers, valid only
// until the callback returns. Absent payload and targets are has_payload / has_targets false.
struct AuditRowView {
  int64_t seq = 0;
  int64_t time = 0;
  std::string_view actor;
  std::string_view action;
  std::string_view purpose;
  bool has_payload = false;
  std::string_view payload;
  std::string_view leaf_hash;
  bool has_targets = false;
  std::string_view targets;
};

struct CheckpointRow {
  int64_t tree_size = 0;
  std::string root;
  int64_t time = 0;  // µs since epoch
  std::string key_id;
  std::string signature;
  std::string origin;    // empty for the first format; else a C2SP note (audit/checkpoint.h)
  std::string map_root;  // empty, or the signed resident-map root
};

// A resident's access chain (audit/resident_map.h): keyed by the keyed MAC of the resident code.
struct ResidentHeadRow {
  std::string key;   // 32 raw bytes
  int64_t count = 0;  // entries naming the resident
  std::string head;  // 32 raw bytes
  int64_t last_seq = 0;  // the newest of them
};

// A stored node of the resident map: its hash, and the key if it is a single leaf.
struct MapNodeRow {
  std::string hash;
  std::string leaf_key;  // empty for an interior node
};
// A stored map node with its address.
struct MapNodeAt {
  uint32_t depth = 0;
  std::string prefix;
  MapNodeRow node;
};

// 提供・移転の記録.
struct ProvisionRow {
  std::string resident_code;
  int64_t provided_at = 0;     // µs since epoch
  std::string function;        // 機能区分: lookup | search | batch
  std::string purpose;         // 利用事由
  std::string provision_kind;  // 提供事務区分
  bool number_provided = false;
  std::string source;     // 提供元
  std::string recipient;  // 提供先
  std::string items;      // the fields provided, comma-separated
  int64_t audit_seq = 0;  // the operation-log entry of the provision
};

struct AuditQuery {
  std::optional<int64_t> from_time;  // inclusive, µs
  std::optional<int64_t> to_time;    // exclusive, µs
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> purpose;
  std::optional<std::string> target;  // a resident code
  std::optional<int64_t> from_seq;    // inclusive: the next page after an earlier answer
  int limit = 1000;
};

// Streams one level of the operation log's stored tree nodes in index order.
class NodeCursor {
 public:
  virtual ~NodeCursor() = default;
  // False at the end (or on error: see *status).
  virtual bool Next(int64_t* index, std::string* hash, Status* status) = 0;
};

// The action of a signing-key announcement (audit/key_rotation.h checks it is the same): named
// here because the schema's partial index (migration 9) names it too.
inline constexpr std::string_view kKeyAnnouncementAction = "key.signing.rotate";

// Reads of the operation log (see RegistryReader).
class AuditReader {
 public:
  virtual ~AuditReader() = default;
  virtual Result<int64_t> AuditSize() = 0;
  virtual Result<std::optional<std::string>> AuditNode(uint32_t level, int64_t index) = 0;
  // Every entry from `from_seq` on, in order; stops early if `fn` returns false. The row is
  // the reader's own and not used after `fn` returns: `fn` may move from it.
  virtual Status ForEachAuditEntry(int64_t from_seq,
                                   const std::function<bool(AuditRow&)>& fn) = 0;
  // The same walk without a copy of each row, for the verifier's one pass over the whole log
  // (audit/verifier.h): the row is seen in place and must be copied out if kept. Like
  // ForEachAuditEntry, other reads may run inside `fn`. The default adapts ForEachAuditEntry;
  // a store overrides it where rows can be read without allocating.
  virtual Status ScanAuditEntries(int64_t from_seq,
                                  const std::function<bool(const AuditRowView&)>& fn) {
    return ForEachAuditEntry(from_seq, [&](AuditRow& r) {
      AuditRowView v{r.seq,   r.time,          r.actor,   r.action,          r.purpose,
                     r.payload.has_value(),    r.payload ? std::string_view(*r.payload) : "",
                     r.leaf_hash, r.targets.has_value(),
                     r.targets ? std::string_view(*r.targets) : ""};
      return fn(v);
    });
  }
  // Provision records written with the log entry `audit_seq`.
  virtual Result<std::vector<ProvisionRow>> ProvisionsOfEntry(int64_t audit_seq) = 0;
  // Rows pointing at entries from `seq` on: provision records, and target-index rows.
  virtual Result<int64_t> CountProvisionsFromEntry(int64_t seq) = 0;
  virtual Result<int64_t> CountAuditTargetsFrom(int64_t seq) = 0;
  // Stored nodes that no log of `size` entries could have (bad level, or beyond the log).
  virtual Result<int64_t> CountStrayAuditNodes(int64_t size) = 0;
  // Every stored node of one level, in index order; usable while ForEachAuditEntry runs.
  virtual Result<std::unique_ptr<NodeCursor>> AuditNodes(uint32_t level) = 0;
  virtual Result<std::vector<CheckpointRow>> Checkpoints() = 0;
  virtual Result<std::vector<AuditRow>> SearchAudit(const AuditQuery& query) = 0;
  // The signing-key announcements (kKeyAnnouncementAction, audit/key_rotation.h) whose payload
  // retention has not erased, in log order, at most `limit`. Every access statement carries
  // them; the stores answer from a partial index (migration 9) instead of scanning the whole
  // log, which took seconds at 10 M entries. The default is that scan.
  virtual Result<std::vector<AuditRow>> KeyAnnouncements(int limit) {
    AuditQuery q;
    q.action = std::string(kKeyAnnouncementAction);
    q.limit = limit;
    return SearchAudit(q);
  }
  virtual Result<std::vector<ProvisionRow>> Provisions(const std::string& resident_code) = 0;
  // The resident map (audit/resident_map.h).
  virtual Result<std::optional<ResidentHeadRow>> ResidentHead(const std::string& key) = 0;
  virtual Result<std::optional<MapNodeRow>> MapNode(uint32_t depth, const std::string& prefix) = 0;
  // The keys whose chain retention restarted to none (count 0: every entry naming them was
  // erased), in key order: the verifier cannot recompute them from entries that are gone.
  virtual Result<std::vector<std::string>> ResidentKeysWithoutEntries() = 0;
  // The stored chain heads with keys after `after` (empty: from the first), in key order, at
  // most `limit` of them: the verifier compares every one with the chains it recomputes.
  virtual Result<std::vector<ResidentHeadRow>> ResidentHeadsAfter(const std::string& after,
                                                                 int64_t limit) = 0;
  // The stored map nodes after (`after_depth`, `after_prefix`) in (depth, prefix) order (from
  // the first with `first`), at most `limit`: the verifier compares the whole stored map with
  // the one the entries give.
  virtual Result<std::vector<MapNodeAt>> MapNodesAfter(bool first, uint32_t after_depth,
                                                       const std::string& after_prefix,
                                                       int64_t limit) = 0;
  // Every target-index row of entries from `from_seq` on, in (name, seq) order, to `fn` (the
  // name valid only during the call) until it returns false: the verifier compares the index
  // with the targets the entries name.
  virtual Status ForEachAuditTarget(int64_t from_seq,
                                    const std::function<bool(std::string_view, int64_t)>& fn) = 0;
};

// Writes of the operation log inside one transaction (see RegistryTxn; audit/log.h owns the
// rules).
class AuditWriter {
 public:
  virtual ~AuditWriter() = default;
  virtual Result<int64_t> AuditSize() = 0;
  // The time of the newest entry (0 if none): entries' times never decrease.
  virtual Result<int64_t> AuditLastTime() = 0;
  // AuditSize() and AuditLastTime() in one read: the append path's only read of the log.
  struct AuditTailRow {
    int64_t size = 0;
    int64_t last_time = 0;
  };
  virtual Result<AuditTailRow> AuditTail() = 0;
  // (seq, leaf hash, target leaves) of every entry from `from_seq` on that keeps target leaves
  // (version 2, not erased), in order; stops early if `fn` returns false. The resident chains
  // are stepped from these when a checkpoint signs the map, not on every append.
  using AuditTargetsFn =
      std::function<bool(int64_t seq, const std::string& leaf_hash, const std::string& targets)>;
  virtual Status ForEachAuditTargets(int64_t from_seq, const AuditTargetsFn& fn) = 0;
  virtual Status InsertAuditEntry(const AuditRow& row, const std::vector<std::string>& targets) = 0;
  virtual Result<std::optional<std::string>> AuditNode(uint32_t level, int64_t index) = 0;
  virtual Status PutAuditNode(uint32_t level, int64_t index, const std::string& hash) = 0;
  virtual Status InsertCheckpoint(const CheckpointRow& row) = 0;
  virtual Result<std::optional<CheckpointRow>> LatestCheckpoint() = 0;
  virtual Status InsertProvision(const ProvisionRow& row) = 0;
  // The resident map (audit/resident_map.h): heads and nodes updated when a checkpoint signs it.
  virtual Result<std::optional<ResidentHeadRow>> ResidentHead(const std::string& key) = 0;
  virtual Status PutResidentHead(const ResidentHeadRow& row) = 0;
  // The tree size of the newest checkpoint that signs a resident map (0 if none).
  virtual Result<int64_t> LatestMapCheckpointSize() = 0;
  // Heads whose last_seq >= `seq`, in key order.
  virtual Result<std::vector<ResidentHeadRow>> ResidentHeadsFrom(int64_t seq) = 0;
  virtual Result<std::optional<MapNodeRow>> MapNode(uint32_t depth, const std::string& prefix) = 0;
  virtual Status PutMapNode(uint32_t depth, const std::string& prefix, const MapNodeRow& row) = 0;

  // Retention of the log: erases the payloads (and target index) of the prefix of entries
  // older than `time` — entries [0, before_seq) — and provision records before it. With
  // `dry_run`, only counts.
  struct AuditErasure {
    int64_t entries = 0;
    int64_t provisions = 0;
    int64_t before_seq = 0;
  };
  virtual Result<AuditErasure> EraseAuditBefore(int64_t time, bool dry_run) = 0;
};

}  // namespace kakunin::store
