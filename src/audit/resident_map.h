#pragma once

// The resident map (issue 11, part 2): for every resident key k — the keyed MAC of a resident
// code, as in the target leaves (audit/targets.h) — the number of version-2 entries naming k
// and a hash chain over them, committed in a sparse Merkle map whose root the sealing
// checkpoints sign (AuditLog::WriteCheckpoint: end of every command, shutdown, statements;
// "resident-map" line, audit/checkpoint.h). An access statement shows one resident's
// entries and proves, with the map, that none was left out.
//
//   head_k  = SHA-256(0x03 ‖ head_prev ‖ u64 seq ‖ entry leaf hash), head_prev of the first
//             entry 32 zero bytes, over the entries whose targets hold k, in log order
//   value_k = SHA-256(0x04 ‖ u64 count_k ‖ head_k)
//   leaf    = SHA-256(0x05 ‖ k ‖ value_k)
//   node    = SHA-256(0x06 ‖ left ‖ right)
//
// The map is a compact sparse Merkle tree over the 256 bits of k (most significant first, 0 to
// the left): an empty subtree is 32 zero bytes, a subtree holding one key is that key's leaf
// (wherever it sits), any other subtree is the node of its two halves. So a key sits at the
// depth where its prefix becomes unique, about log2(residents), and its proof is that many
// siblings; empty siblings are sent as one bit each. Heads and stored nodes are updated when a
// checkpoint signs the map (AuditLog::UpdateResidentMap), from the entries' stored target
// leaves since the last one: each resident moved once, O(log residents) node reads and writes
// per resident, batched in memory. Appends do not touch them.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/audit_store.h"

namespace kakunin::audit {

inline constexpr size_t kMapKeySize = 32;

std::string NextResidentHead(std::string_view head_prev, uint64_t seq, std::string_view leaf_hash);
// The same into `out` (32 bytes) without allocating (the verifier steps one per entry).
void NextResidentHeadTo(std::string_view head_prev, uint64_t seq, std::string_view leaf_hash,
                        char* out);
std::string MapValue(int64_t count, std::string_view head);
std::string MapLeaf(std::string_view key, std::string_view value);
std::string MapNodeHash(std::string_view left, std::string_view right);
// The hash of an empty subtree.
const std::string& MapEmpty();

// Bit `i` of `key` (0 = most significant of the first byte).
int KeyBit(std::string_view key, uint32_t i);

// Read access to the stored map nodes, through a reader or a write transaction.
class MapNodeSource {
 public:
  virtual ~MapNodeSource() = default;
  virtual Result<std::optional<store::MapNodeRow>> Get(uint32_t depth,
                                                       const std::string& prefix) = 0;
};
class MapNodeSink : public MapNodeSource {
 public:
  virtual Status Put(uint32_t depth, const std::string& prefix, const store::MapNodeRow& n) = 0;
};

// Sets k's leaf to `leaf` (inserting k if new) and rehashes its path; returns the new root.
Result<std::string> MapUpdate(MapNodeSink& nodes, std::string_view key, std::string_view leaf);
// The root (MapEmpty() for an empty map).
Result<std::string> MapRoot(MapNodeSource& nodes);

// Where k sits and the non-empty siblings from its depth up to the root.
struct MapProof {
  uint32_t depth = 0;
  std::string bitmap;                 // ceil(depth / 8) bytes: bit j set if sibling at depth j+1
                                      // is not empty
  std::vector<std::string> siblings;  // the non-empty ones, from the root down
};
// NotFound if k is not in the map.
Result<MapProof> ProveMapKey(MapNodeSource& nodes, std::string_view key);
// True iff `proof` shows `leaf` as k's leaf in the map with root `root`.
bool VerifyMapProof(std::string_view key, std::string_view leaf, const MapProof& proof,
                    std::string_view root);

// The root of the map holding `leaves` ((key, leaf) pairs, sorted by key, keys distinct),
// computed from scratch: what the stored map must give.
std::string MapRootOf(const std::vector<std::pair<std::string, std::string>>& leaves);
// After retention: the root of the map holding `leaves` (recomputed from the kept entries,
// sorted by key) and, for each of `emptied` (keys whose every entry retention erased) that is
// not among them, the chain of no entries — what a purge leaves in the map (audit/statement.h).
std::string MapRootAfterRetention(std::vector<std::pair<std::string, std::string>> leaves,
                                  const std::vector<std::string>& emptied);
// The leaves MapRootAfterRetention hashes: `leaves` and the chain of none for each of `emptied`
// not among them, sorted by key.
std::vector<std::pair<std::string, std::string>> MapLeavesAfterRetention(
    std::vector<std::pair<std::string, std::string>> leaves, const std::vector<std::string>& emptied);
// Every node the stored map holding `leaves` (sorted by key, keys distinct) has, as MapUpdate
// leaves it: each non-empty subtree down to where a key is alone — an interior node (empty
// leaf_key) or that key's leaf — at its depth and prefix (the first `depth` bits of its keys,
// the rest zero). The verifier compares the stored map with it, node for node.
void ForEachMapNode(const std::vector<std::pair<std::string, std::string>>& leaves,
                    const std::function<void(uint32_t depth, std::string_view prefix,
                                             std::string_view hash, std::string_view leaf_key)>& fn);

// Adapters for the store.
class TxnMapNodes final : public MapNodeSink {
 public:
  explicit TxnMapNodes(store::AuditWriter& w) : w_(w) {}
  Result<std::optional<store::MapNodeRow>> Get(uint32_t depth, const std::string& prefix) override {
    return w_.MapNode(depth, prefix);
  }
  Status Put(uint32_t depth, const std::string& prefix, const store::MapNodeRow& n) override {
    return w_.PutMapNode(depth, prefix, n);
  }

 private:
  store::AuditWriter& w_;
};
class ReaderMapNodes final : public MapNodeSource {
 public:
  explicit ReaderMapNodes(store::AuditReader& r) : r_(r) {}
  Result<std::optional<store::MapNodeRow>> Get(uint32_t depth, const std::string& prefix) override {
    return r_.MapNode(depth, prefix);
  }

 private:
  store::AuditReader& r_;
};

}  // namespace kakunin::audit

namespace kakunin::audit {

// Non-membership: a resident no entry ever named (or none within retention) is proved absent
// from the signed map by where its path ends without it — an empty subtree, or the leaf of
// another key k' sharing k's first `depth` bits — and the siblings above that place, as in
// MapProof. Of k' only its key (a keyed MAC, meaningless without the node's key) and its value
// (a hash of its count and chain) are shown, so nothing about that resident can be read.
struct MapAbsenceProof {
  MapProof path;            // depth, bitmap and siblings of the place where k would be
  std::string other_key;    // empty: the place is empty; else k' (32 raw bytes)
  std::string other_value;  // MapValue of k' (32 raw bytes) when other_key is set
};
// `value_of(k')` gives the value of the key found at k's place, as the map holds it (checked
// against the stored leaf here). AlreadyExists if k is in the map.
Result<MapAbsenceProof> ProveMapAbsence(
    MapNodeSource& nodes, std::string_view key,
    const std::function<Result<std::string>(const std::string&)>& value_of);
// True iff `proof` shows that the map with root `root` holds no leaf for k.
bool VerifyMapAbsence(std::string_view key, const MapAbsenceProof& proof, std::string_view root);

}  // namespace kakunin::audit
