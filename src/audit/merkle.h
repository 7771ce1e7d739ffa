#pragma once

// The Merkle tree of the operation log (DESIGN §6): RFC 9162 §2.1, the same tree as RFC 6962.
//
//   leaf hash  = SHA-256(0x00 ‖ entry)
//   node hash  = SHA-256(0x01 ‖ left ‖ right)
//   MTH({})    = SHA-256("")
//   MTH(D[n])  = node hash of MTH(D[0:k]) and MTH(D[k:n]), k the largest power of two < n
//
// Storage model. The log stores the hash of every *perfect* aligned subtree once it is complete,
// addressed by (level, index): level 0 index i is leaf i's leaf hash, and level L index j covers
// leaves [j·2^L, (j+1)·2^L). That is under two hashes per leaf, written once and never changed
// (an append completes the leaf plus one node per trailing one bit of its index). Every node of
// the RFC tree of any size n is either such a perfect subtree or lies on the tree's right spine;
// a right-spine node over [b, n) is the fold of the perfect subtrees of the binary decomposition
// of n − b. So a root or a proof for any past size needs O(log n) reads and no rewriting when the
// log grows, and a leaf whose payload was removed by retention keeps its proofs.
//
// Hashes are raw bytes (kHashSize of them), never hex. Nothing here holds personal data: entries
// reach this module only as leaf hashes, and error messages carry only sizes and positions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "crypto/sha256.h"

namespace kakunin::audit {

inline constexpr size_t kHashSize = crypto::kSha256Size;

// SHA-256(0x00 ‖ entry): the leaf hash of an encoded log entry. Thread-safe.
std::string LeafHash(std::string_view entry);

// SHA-256(0x01 ‖ left ‖ right): the hash of an interior node. The prefixes keep a leaf from ever
// being taken for a node (RFC 9162 §2.1.1). Thread-safe.
std::string NodeHash(std::string_view left, std::string_view right);

// Read access to the stored perfect-subtree hashes of one log.
class SubtreeSource {
 public:
  virtual ~SubtreeSource() = default;

  // Hash of the complete perfect subtree (level, index): kHashSize raw bytes.
  // REQUIRES: (index + 1) · 2^level <= size of the log. Tree sizes often come from a client, so
  // implementations should answer a request beyond the log with an error (NotFound), not crash.
  // The functions below return any error from here unchanged.
  virtual Result<std::string> Subtree(uint32_t level, uint64_t index) = 0;
};

// One perfect subtree that has become complete, for the writer to store.
struct SubtreeNode {
  uint32_t level = 0;
  uint64_t index = 0;
  std::string hash;

  bool operator==(const SubtreeNode&) const = default;
};

// The perfect subtrees completed by appending leaf `leaf_index` with hash `leaf_hash`, bottom up:
// (0, leaf_index, leaf_hash) first, then one node per trailing one bit of leaf_index (leaf
// 5 = 0b101 completes itself and (1, 2); leaf 7 completes itself, (1, 3), (2, 1) and (3, 0)).
// Reads the left siblings from `source`, which must already hold the log of size leaf_index: one
// Subtree() call per node above level 0. The caller stores all returned nodes together with the
// leaf, in one transaction, before any root or proof for a size > leaf_index is asked for.
// InvalidArgument if leaf_hash is not kHashSize bytes or leaf_index is 2^64 − 1 (the log could
// not count its size any more); DataLoss if the source returns a hash of the wrong size.
Result<std::vector<SubtreeNode>> NodesCompletedBy(uint64_t leaf_index, std::string_view leaf_hash,
                                                  SubtreeSource& source);

// MTH of the first `tree_size` leaves of the log in `source` (SHA-256("") for size 0), folded
// from the perfect subtrees of the binary decomposition of tree_size: popcount(tree_size)
// Subtree() calls, at most ⌊log2 n⌋ + 1. REQUIRES: tree_size <= the log's size.
// DataLoss if the source returns a hash of the wrong size.
Result<std::string> RootHash(SubtreeSource& source, uint64_t tree_size);

// The RFC 9162 §2.1.3.1 inclusion proof PATH(leaf_index, D[tree_size]): sibling hashes from the
// leaf upwards, at most ⌈log2 tree_size⌉ of them, for VerifyInclusion().
// InvalidArgument unless leaf_index < tree_size. REQUIRES: tree_size <= the log's size, which
// the caller must check: a size beyond the log usually surfaces as the source's error, but not
// always (the path of leaf n − 1 never reads leaf n − 1 itself).
// At most 2·⌈log2 tree_size⌉ Subtree() calls (see merkle.cc for why).
Result<std::vector<std::string>> InclusionProof(SubtreeSource& source, uint64_t leaf_index,
                                                uint64_t tree_size);

// The RFC 9162 §2.1.4.1 consistency proof PROOF(old_size, D[new_size]) that the tree of old_size
// leaves is a prefix of the tree of new_size leaves, for VerifyConsistency(); empty when the
// sizes are equal. InvalidArgument unless 0 < old_size <= new_size.
// REQUIRES: new_size <= the log's size. At most 2·⌈log2 new_size⌉ + 1 Subtree() calls.
Result<std::vector<std::string>> ConsistencyProof(SubtreeSource& source, uint64_t old_size,
                                                  uint64_t new_size);

// RFC 9162 §2.1.3.2: true iff `proof` shows that the leaf with hash `leaf_hash` is leaf number
// `leaf_index` of the tree of `tree_size` leaves whose root is `root`. Needs nothing but its
// arguments, so a client or an outside witness can run it. Returns false, never crashes, on any
// malformed input: a hash of the wrong size, leaf_index >= tree_size, a proof too short or too
// long. The proof does not authenticate tree_size on its own: take tree_size and root from the
// same signed checkpoint. Thread-safe.
bool VerifyInclusion(std::string_view leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                     const std::vector<std::string>& proof, std::string_view root);

// RFC 9162 §2.1.4.2: true iff `proof` shows that the tree of old_size leaves with root old_root
// is a prefix of the tree of new_size leaves with root new_root. For equal sizes the proof must
// be empty and the roots equal. Returns false, never crashes, on malformed input: a hash of the
// wrong size, old_size == 0 (RFC 9162 defines no proof from the empty tree, which is a prefix of
// every tree; a log's first checkpoint needs no consistency check), old_size > new_size, a proof
// too short or too long. Thread-safe.
bool VerifyConsistency(uint64_t old_size, uint64_t new_size, std::string_view old_root,
                       std::string_view new_root, const std::vector<std::string>& proof);

// A whole log's subtree hashes in memory, filled through NodesCompletedBy(): for tests, and for
// verifying an exported log of bounded size. Holds 2·kHashSize bytes per leaf, in one flat buffer
// per level. Counts Subtree() calls, its own appends' calls included, so tests can check the
// O(log n) bounds. Not thread-safe (even Subtree() updates the counter).
class MemorySubtreeSource final : public SubtreeSource {
 public:
  MemorySubtreeSource() = default;

  // Appends a leaf for `entry`; returns its index.
  uint64_t AppendEntry(std::string_view entry);
  // Appends a leaf given its leaf hash (say, of an entry whose payload retention removed);
  // returns its index. InvalidArgument if leaf_hash is not kHashSize bytes.
  Result<uint64_t> AppendLeafHash(std::string_view leaf_hash);

  // Number of leaves.
  uint64_t size() const { return size_; }

  // NotFound when (level, index) is not complete in this log.
  Result<std::string> Subtree(uint32_t level, uint64_t index) override;

  uint64_t subtree_calls() const { return subtree_calls_; }
  void ResetSubtreeCalls() { subtree_calls_ = 0; }

 private:
  // levels_[L] holds the hashes of level L, index j at bytes [j·kHashSize, (j+1)·kHashSize).
  std::vector<std::string> levels_;
  uint64_t size_ = 0;
  uint64_t subtree_calls_ = 0;
};

// Wraps another source (not owned; it must outlive this one) and counts the Subtree() calls
// made through it, to measure the reads a root or proof costs on a real store. Not thread-safe.
class CountingSubtreeSource final : public SubtreeSource {
 public:
  explicit CountingSubtreeSource(SubtreeSource& inner) : inner_(inner) {}

  Result<std::string> Subtree(uint32_t level, uint64_t index) override {
    ++calls_;
    return inner_.Subtree(level, index);
  }

  uint64_t calls() const { return calls_; }
  void Reset() { calls_ = 0; }

 private:
  SubtreeSource& inner_;
  uint64_t calls_ = 0;
};

}  // namespace kakunin::audit
