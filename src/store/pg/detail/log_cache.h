#pragma once

// The operation log's appends in one write transaction without a round trip each (issue 13):
// what an append reads (the log's size and last time, the latest checkpoint, the tree's nodes,
// residents' chain heads, the map's nodes) is answered from what this transaction already read
// or wrote, and its writes are deferred (Conn::Defer). A separate layer over PgTxn (log.cc keeps
// the one-statement-per-call definitions, used on a miss), so the two merge apart. Internal to
// store/pg/.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"

namespace kakunin::store::pg::detail {

class PgWriteTxn final : public PgTxn {
 public:
  explicit PgWriteTxn(Conn* db) : PgTxn(db), db_(db) {}

  Status RollbackToSavepoint() override;
  // PgTxn's, and the chain heads of the batch's residents.
  Status Prefetch(const PrefetchHint& hint) override;

  Result<int64_t> AuditSize() override;
  Result<int64_t> AuditLastTime() override;
  Result<AuditTailRow> AuditTail() override;
  Status InsertAuditEntry(const AuditRow& a, const std::vector<std::string>& targets) override;
  Result<std::optional<std::string>> AuditNode(uint32_t level, int64_t index) override;
  Status PutAuditNode(uint32_t level, int64_t index, const std::string& hash) override;
  Result<std::optional<CheckpointRow>> LatestCheckpoint() override;
  Status InsertCheckpoint(const CheckpointRow& c) override;
  Result<std::optional<ResidentHeadRow>> ResidentHead(const std::string& key) override;
  Status PutResidentHead(const ResidentHeadRow& row) override;
  Result<std::optional<MapNodeRow>> MapNode(uint32_t depth, const std::string& prefix) override;
  Status PutMapNode(uint32_t depth, const std::string& prefix, const MapNodeRow& row) override;
  Result<AuditErasure> EraseAuditBefore(int64_t time, bool dry_run) override;
  // The map's update at a checkpoint (audit/log.cc) reads the chain head and the map path of
  // every resident named since the last one: both are read here for a whole chunk of entries
  // (heads) or the whole batch (map nodes, a level per round trip) instead of one at a time.
  Status ForEachAuditTargets(int64_t from_seq, const AuditTargetsFn& fn) override;
  Result<std::vector<ResidentHeadRow>> ResidentHeadsFrom(int64_t seq) override;

 private:
  void Forget();
  // Reads the chain heads of `keys` not remembered yet, at once.
  Status PrefetchHeads(const std::vector<std::string>& keys);
  // Reads, a level at a time, every map node the update of map_keys_ may read (store/pg
  // log_cache.cc); then forgets the keys.
  Status PrefetchMapPaths();

  Conn* db_;
  std::optional<int64_t> size_;
  std::optional<int64_t> last_time_;
  std::optional<std::optional<CheckpointRow>> latest_;
  // Tree nodes (level 0: the entries' leaf hashes) are written once and never change.
  std::map<std::pair<uint32_t, int64_t>, std::optional<std::string>> nodes_;
  std::map<std::string, std::optional<ResidentHeadRow>> heads_;
  std::map<std::pair<uint32_t, std::string>, std::optional<MapNodeRow>> map_nodes_;
  // Residents whose map leaves a checkpoint is about to update (the keys of the target leaves
  // and restarted heads read since the last prefetch of map paths).
  std::set<std::string> map_keys_;
};

}  // namespace kakunin::store::pg::detail
