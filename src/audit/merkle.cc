#include "audit/merkle.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <iterator>
#include <limits>
#include <utility>

namespace kakunin::audit {
namespace {

constexpr char kLeafPrefix = 0x00;
constexpr char kNodePrefix = 0x01;

// Level of a perfect subtree of `size` leaves. REQUIRES: size is a power of two.
uint32_t LevelOf(uint64_t size) {
  assert(std::has_single_bit(size));
  return static_cast<uint32_t>(std::countr_zero(size));
}

// Subtree() with the hash size checked, so that a corrupt store cannot feed a short or long
// "hash" into a root or proof.
Result<std::string> FetchSubtree(SubtreeSource& source, uint32_t level, uint64_t index) {
  Result<std::string> hash = source.Subtree(level, index);
  if (!hash.ok()) return hash.status();
  if (hash->size() != kHashSize) {
    return Status::DataLoss("merkle: stored subtree (level " + std::to_string(level) + ", index " +
                            std::to_string(index) + ") has " + std::to_string(hash->size()) +
                            " bytes, not a SHA-256 hash");
  }
  return hash;
}

// MTH(D[begin : begin + size]) for a node of the RFC tree: either a perfect subtree or a node on
// a right spine. Its perfect parts, from the binary decomposition of `size` (largest first), are
// aligned because begin is a multiple of the largest of them; the RFC split puts the largest
// power of two on the left, so the node's hash is the right fold of their hashes.
// popcount(size) Subtree() calls. REQUIRES: size > 0, begin a multiple of bit_floor(size).
Result<std::string> RangeHash(SubtreeSource& source, uint64_t begin, uint64_t size) {
  assert(size > 0 && begin % std::bit_floor(size) == 0);
  std::vector<std::string> parts;
  parts.reserve(static_cast<size_t>(std::popcount(size)));
  for (uint64_t rest = size; rest != 0;) {
    const uint64_t part = std::bit_floor(rest);
    Result<std::string> hash = FetchSubtree(source, LevelOf(part), begin / part);
    if (!hash.ok()) return hash.status();
    parts.push_back(std::move(hash).value());
    begin += part;
    rest -= part;
  }
  std::string hash = std::move(parts.back());
  for (size_t i = parts.size() - 1; i-- > 0;) hash = NodeHash(parts[i], hash);
  return hash;
}

}  // namespace

std::string LeafHash(std::string_view entry) {
  thread_local crypto::Sha256Hasher hasher;  // reused: Finish() resets it
  hasher.Update(std::string_view(&kLeafPrefix, 1));
  hasher.Update(entry);
  return hasher.Finish();
}

std::string NodeHash(std::string_view left, std::string_view right) {
  if (left.size() == kHashSize && right.size() == kHashSize) {
    // The usual case, without a heap allocation.
    char buffer[1 + 2 * kHashSize];
    buffer[0] = kNodePrefix;
    std::memcpy(buffer + 1, left.data(), kHashSize);
    std::memcpy(buffer + 1 + kHashSize, right.data(), kHashSize);
    return crypto::Sha256(std::string_view(buffer, sizeof(buffer)));
  }
  std::string message(1, kNodePrefix);
  message.append(left).append(right);
  return crypto::Sha256(message);
}

Result<std::vector<SubtreeNode>> NodesCompletedBy(uint64_t leaf_index, std::string_view leaf_hash,
                                                  SubtreeSource& source) {
  if (leaf_hash.size() != kHashSize) {
    return Status::InvalidArgument("merkle: leaf hash must be " + std::to_string(kHashSize) +
                                   " bytes");
  }
  if (leaf_index == std::numeric_limits<uint64_t>::max()) {
    return Status::InvalidArgument("merkle: the log is full");
  }
  std::vector<SubtreeNode> nodes;
  nodes.push_back({0, leaf_index, std::string(leaf_hash)});
  // Node (L, j) is complete once its last leaf, j·2^L + 2^L − 1, is: exactly when the low L bits
  // of the new leaf's index are all ones. Its left child (L−1, 2j) completed earlier, and its
  // right child is the node completed one step before in this loop.
  for (uint32_t level = 1; ((leaf_index >> (level - 1)) & 1) != 0; ++level) {
    const uint64_t left_index = (leaf_index >> (level - 1)) - 1;
    Result<std::string> left = FetchSubtree(source, level - 1, left_index);
    if (!left.ok()) return left.status();
    nodes.push_back({level, leaf_index >> level, NodeHash(*left, nodes.back().hash)});
  }
  return nodes;
}

Result<std::string> RootHash(SubtreeSource& source, uint64_t tree_size) {
  if (tree_size == 0) return crypto::Sha256("");
  return RangeHash(source, 0, tree_size);
}

// Why O(log n) reads. PATH walks from the root down to the leaf and takes the sibling of every
// node on the way. While the walk is on the tree's right spine (the nodes over [b, tree_size),
// not perfect unless their size is a power of two), each step that goes right has the left child
// as sibling, and a left child is always perfect: one read. The first step that goes left enters
// a perfect subtree, and every node and sibling below a perfect node is perfect too: one read
// each. Only that one step's sibling, the right child of a spine node, may be imperfect; it is
// itself a spine node, so RangeHash gets it from ⌊log2⌋ + 1 perfect parts at most. Total:
// (proof length − 1) + popcount(that sibling's size) < 2·⌈log2 tree_size⌉.
Result<std::vector<std::string>> InclusionProof(SubtreeSource& source, uint64_t leaf_index,
                                                uint64_t tree_size) {
  if (leaf_index >= tree_size) {
    return Status::InvalidArgument("merkle: inclusion proof for leaf " +
                                   std::to_string(leaf_index) + " of a tree of size " +
                                   std::to_string(tree_size));
  }
  std::vector<std::string> spine_siblings;  // top down
  uint64_t begin = 0;
  uint64_t size = tree_size;
  while (!std::has_single_bit(size)) {
    const uint64_t k = std::bit_floor(size);  // the largest power of two < size
    const bool go_left = leaf_index < begin + k;
    Result<std::string> sibling =
        go_left ? RangeHash(source, begin + k, size - k) : RangeHash(source, begin, k);
    if (!sibling.ok()) return sibling.status();
    spine_siblings.push_back(std::move(sibling).value());
    if (go_left) {
      size = k;
    } else {
      begin += k;
      size -= k;
    }
  }
  // [begin, begin + size) is now a perfect subtree holding the leaf.
  std::vector<std::string> proof;
  proof.reserve(LevelOf(size) + spine_siblings.size());
  for (uint32_t level = 0; level < LevelOf(size); ++level) {
    Result<std::string> sibling = FetchSubtree(source, level, (leaf_index >> level) ^ 1);
    if (!sibling.ok()) return sibling.status();
    proof.push_back(std::move(sibling).value());
  }
  std::move(spine_siblings.rbegin(), spine_siblings.rend(), std::back_inserter(proof));
  return proof;
}

// SUBPROOF(m, D[b : b + size], whole) walks down from the root towards the node that ends where
// the old tree ends, taking the sibling of every node on the way, then (unless that node is the
// whole old tree, which the verifier already has as old_root) the node itself. The reads are
// bounded as for InclusionProof: steps to the right take perfect left siblings, the first step to
// the left enters a perfect subtree, and only that step's sibling may need RangeHash. The final
// node is perfect: the walk cannot stop on the right spine, where the node ends at new_size,
// beyond the old tree. Total: at most 2·⌈log2 new_size⌉ + 1 reads.
Result<std::vector<std::string>> ConsistencyProof(SubtreeSource& source, uint64_t old_size,
                                                  uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    return Status::InvalidArgument("merkle: consistency proof from size " +
                                   std::to_string(old_size) + " to size " +
                                   std::to_string(new_size));
  }
  std::vector<std::string> siblings;  // top down
  uint64_t begin = 0;
  uint64_t size = new_size;
  bool whole_old_tree = true;  // RFC 9162's flag b: the node is all of the old tree
  while (begin + size != old_size) {
    const uint64_t k = std::bit_floor(size - 1);  // size >= 2 here: old_size lies inside
    const bool go_left = old_size - begin <= k;
    Result<std::string> sibling =
        go_left ? RangeHash(source, begin + k, size - k) : RangeHash(source, begin, k);
    if (!sibling.ok()) return sibling.status();
    siblings.push_back(std::move(sibling).value());
    if (go_left) {
      size = k;
    } else {
      begin += k;
      size -= k;
      whole_old_tree = false;
    }
  }
  std::vector<std::string> proof;
  proof.reserve(siblings.size() + 1);
  if (!whole_old_tree) {
    assert(std::has_single_bit(size));
    Result<std::string> node = FetchSubtree(source, LevelOf(size), begin / size);
    if (!node.ok()) return node.status();
    proof.push_back(std::move(node).value());
  }
  std::move(siblings.rbegin(), siblings.rend(), std::back_inserter(proof));
  return proof;
}

bool VerifyInclusion(std::string_view leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                     const std::vector<std::string>& proof, std::string_view root) {
  if (leaf_hash.size() != kHashSize || root.size() != kHashSize) return false;
  if (leaf_index >= tree_size) return false;
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    // sn reaches 0 after at most 64 shifts, so an overlong proof costs little.
    if (sn == 0 || p.size() != kHashSize) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(uint64_t old_size, uint64_t new_size, std::string_view old_root,
                       std::string_view new_root, const std::vector<std::string>& proof) {
  if (old_root.size() != kHashSize || new_root.size() != kHashSize) return false;
  if (old_size == 0 || old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (proof.empty()) return false;
  for (const std::string& p : proof) {
    if (p.size() != kHashSize) return false;
  }
  // RFC step 2 prepends old_root when old_size is a power of two; start from it instead.
  const bool starts_with_old_root = std::has_single_bit(old_size);
  const std::string_view first = starts_with_old_root ? old_root : std::string_view(proof[0]);
  std::string fr(first);
  std::string sr(first);
  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  for (size_t i = starts_with_old_root ? 0 : 1; i < proof.size(); ++i) {
    const std::string& c = proof[i];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

uint64_t MemorySubtreeSource::AppendEntry(std::string_view entry) {
  Result<uint64_t> index = AppendLeafHash(LeafHash(entry));
  assert(index.ok());
  return *index;
}

Result<uint64_t> MemorySubtreeSource::AppendLeafHash(std::string_view leaf_hash) {
  Result<std::vector<SubtreeNode>> nodes = NodesCompletedBy(size_, leaf_hash, *this);
  if (!nodes.ok()) return nodes.status();
  for (const SubtreeNode& node : *nodes) {
    if (levels_.size() <= node.level) levels_.resize(node.level + 1);
    assert(levels_[node.level].size() == node.index * kHashSize);
    levels_[node.level].append(node.hash);
  }
  return size_++;
}

Result<std::string> MemorySubtreeSource::Subtree(uint32_t level, uint64_t index) {
  ++subtree_calls_;
  if (level >= levels_.size() || index >= levels_[level].size() / kHashSize) {
    return Status::NotFound("merkle: no complete subtree at level " + std::to_string(level) +
                            ", index " + std::to_string(index));
  }
  return levels_[level].substr(index * kHashSize, kHashSize);
}

}  // namespace kakunin::audit
