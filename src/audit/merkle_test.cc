#include "audit/merkle.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "crypto/sha256.h"

namespace kakunin::audit {
namespace {

using Proof = std::vector<std::string>;

std::string Unhex(std::string_view hex) {
  std::optional<std::string> bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.has_value()) << hex;
  return bytes.value_or("");
}

std::vector<std::string> HexAll(const Proof& proof) {
  std::vector<std::string> out;
  for (const std::string& hash : proof) out.push_back(HexEncode(hash));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Known answers. The data (not the code) comes from Google's Go implementation of RFC 6962,
// github.com/transparency-dev/merkle, file proof/verify_test.go (stored version at commit
// 02194e9afb6c1d95b5381350007963aa70fff472): the eight leaves, the roots of every prefix, and
// the inclusion and consistency proof vectors. That file numbers leaves from 1; the indexes
// below are converted to 0-based. The same vectors appear in google/certificate-transparency
// (cpp/merkletree/merkle_tree_test.cc).

const std::vector<std::string>& KatEntries() {
  static const std::vector<std::string> entries = {
      Unhex(""),
      Unhex("00"),
      Unhex("10"),
      Unhex("2021"),
      Unhex("3031"),
      Unhex("40414243"),
      Unhex("5051525354555657"),
      Unhex("606162636465666768696a6b6c6d6e6f"),
  };
  return entries;
}

// kKatRoots[n] is the root of the first n leaves.
constexpr std::string_view kKatRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct InclusionVector {
  uint64_t leaf_index;
  uint64_t tree_size;
  std::vector<std::string> proof_hex;
};

const InclusionVector kKatInclusion[] = {
    {0, 1, {}},
    {0,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

struct ConsistencyVector {
  uint64_t old_size;
  uint64_t new_size;
  std::vector<std::string> proof_hex;
};

const ConsistencyVector kKatConsistency[] = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

MemorySubtreeSource KatLog() {
  MemorySubtreeSource log;
  for (const std::string& entry : KatEntries()) log.AppendEntry(entry);
  return log;
}

TEST(MerkleKnownAnswerTest, HashesArePrefixedSha256) {
  EXPECT_EQ(LeafHash("abc"), crypto::Sha256(std::string(1, '\x00') + "abc"));
  const std::string left(kHashSize, 'L');
  const std::string right(kHashSize, 'R');
  EXPECT_EQ(NodeHash(left, right), crypto::Sha256("\x01" + left + right));
  EXPECT_NE(NodeHash(left, right), NodeHash(right, left));
  // Hashes of other lengths take the general path and still follow the definition.
  EXPECT_EQ(NodeHash("ab", "c"), crypto::Sha256(std::string(1, '\x01') + "abc"));
  EXPECT_EQ(HexEncode(LeafHash("")), kKatRoots[1]);
}

TEST(MerkleKnownAnswerTest, RootsOfEveryPrefix) {
  MemorySubtreeSource log = KatLog();
  for (uint64_t size = 0; size <= 8; ++size) {
    Result<std::string> root = RootHash(log, size);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    EXPECT_EQ(HexEncode(*root), kKatRoots[size]) << "size " << size;
  }
}

TEST(MerkleKnownAnswerTest, InclusionProofs) {
  MemorySubtreeSource log = KatLog();
  for (const InclusionVector& v : kKatInclusion) {
    SCOPED_TRACE(testing::Message() << "leaf " << v.leaf_index << " of " << v.tree_size);
    Result<Proof> proof = InclusionProof(log, v.leaf_index, v.tree_size);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(HexAll(*proof), v.proof_hex);
    Proof reference;
    for (const std::string& hex : v.proof_hex) reference.push_back(Unhex(hex));
    EXPECT_TRUE(VerifyInclusion(LeafHash(KatEntries()[v.leaf_index]), v.leaf_index, v.tree_size,
                                reference, Unhex(kKatRoots[v.tree_size])));
  }
}

TEST(MerkleKnownAnswerTest, ConsistencyProofs) {
  MemorySubtreeSource log = KatLog();
  for (const ConsistencyVector& v : kKatConsistency) {
    SCOPED_TRACE(testing::Message() << v.old_size << " -> " << v.new_size);
    Result<Proof> proof = ConsistencyProof(log, v.old_size, v.new_size);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(HexAll(*proof), v.proof_hex);
    Proof reference;
    for (const std::string& hex : v.proof_hex) reference.push_back(Unhex(hex));
    EXPECT_TRUE(VerifyConsistency(v.old_size, v.new_size, Unhex(kKatRoots[v.old_size]),
                                  Unhex(kKatRoots[v.new_size]), reference));
  }
}

// The edge cases of transparency-dev/merkle proof/verify_test.go (TestVerifyInclusion,
// TestVerifyInclusionSingleEntry, TestVerifyConsistency), same commit.
TEST(MerkleKnownAnswerTest, ReferenceEdgeCases) {
  const std::string empty_root = Unhex(kKatRoots[0]);
  const std::string some_hash =
      Unhex("abacaba000000000000000000000000000000000000000000060061e00123456");
  for (auto [index, size] :
       std::vector<std::pair<uint64_t, uint64_t>>{{0, 0}, {0, 1}, {1, 0}, {2, 1}}) {
    EXPECT_FALSE(VerifyInclusion(some_hash, index, size, {}, ""));
    EXPECT_FALSE(VerifyInclusion("", index, size, {}, empty_root));
    EXPECT_FALSE(VerifyInclusion(some_hash, index, size, {}, empty_root));
  }
  const std::string leaf = LeafHash("data");  // a one-leaf tree's root is its leaf hash
  EXPECT_TRUE(VerifyInclusion(leaf, 0, 1, {}, leaf));
  EXPECT_FALSE(VerifyInclusion(leaf, 0, 1, {}, ""));
  EXPECT_FALSE(VerifyInclusion("", 0, 1, {}, leaf));
  EXPECT_FALSE(VerifyInclusion("", 0, 1, {}, ""));

  const std::string root1 = LeafHash("1");
  const std::string root2 = LeafHash("2");
  EXPECT_FALSE(VerifyConsistency(1, 1, root1, root2, {}));
  EXPECT_TRUE(VerifyConsistency(1, 1, root2, root2, {}));
  EXPECT_FALSE(VerifyConsistency(1, 0, root1, root2, {}));  // time travel
  EXPECT_FALSE(VerifyConsistency(2, 1, root1, root2, {}));
  EXPECT_FALSE(VerifyConsistency(1, 2, root1, root2, {}));  // empty proof
  EXPECT_FALSE(VerifyConsistency(1, 1, empty_root, root2, {}));
  EXPECT_FALSE(VerifyConsistency(1, 1, empty_root, empty_root, {empty_root}));
  // Where the reference accepts size 0 with any roots, this API rejects it (see merkle.h).
  EXPECT_FALSE(VerifyConsistency(0, 0, root1, root1, {}));
  EXPECT_FALSE(VerifyConsistency(0, 1, root1, root2, {}));
}

// Proof shapes from transparency-dev/merkle proof/proof_test.go (TestInclusion, TestConsistency;
// stored version at commit 02a3e2029520f515596d5238c54fb0ac9e19bff4), which names each proof
// element by its (level, index) node. An element whose node is not complete in the tree is the
// hash of several nodes: {j, i} means NodeHash(i, j), the later node being the left child.
using NodeGroup = std::vector<std::pair<uint32_t, uint64_t>>;

std::vector<std::string> ExpectedFromNodes(MemorySubtreeSource& log,
                                           const std::vector<NodeGroup>& groups) {
  std::vector<std::string> out;
  for (const NodeGroup& group : groups) {
    std::string hash;
    for (auto [level, index] : group) {
      Result<std::string> node = log.Subtree(level, index);
      EXPECT_TRUE(node.ok()) << level << "," << index;
      hash = hash.empty() ? node.value() : NodeHash(node.value(), hash);
    }
    out.push_back(HexEncode(hash));
  }
  return out;
}

TEST(MerkleKnownAnswerTest, ProofShapesMatchReference) {
  MemorySubtreeSource log;
  for (int i = 0; i < 95; ++i) log.AppendEntry("entry " + std::to_string(i));

  struct Case {
    uint64_t a;  // leaf index, or old size
    uint64_t n;  // tree size, or new size
    std::vector<NodeGroup> want;
  };
  const Case inclusion[] = {
      {0, 7, {{{0, 1}}, {{1, 1}}, {{0, 6}, {1, 2}}}},
      {3, 7, {{{0, 2}}, {{1, 0}}, {{0, 6}, {1, 2}}}},
      {4, 7, {{{0, 5}}, {{0, 6}}, {{2, 0}}}},
      {6, 7, {{{1, 2}}, {{2, 0}}}},
      {3, 6, {{{0, 2}}, {{1, 0}}, {{1, 2}}}},
      {10, 15, {{{0, 11}}, {{1, 4}}, {{0, 14}, {1, 6}}, {{3, 0}}}},
      {81, 95, {{{0, 80}}, {{1, 41}}, {{2, 21}}, {{0, 94}, {1, 46}, {2, 22}}, {{4, 4}}, {{6, 0}}}},
  };
  for (const Case& c : inclusion) {
    Result<Proof> proof = InclusionProof(log, c.a, c.n);
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(HexAll(*proof), ExpectedFromNodes(log, c.want)) << c.a << " in " << c.n;
  }
  const Case consistency[] = {
      {5, 7, {{{0, 4}}, {{0, 5}}, {{0, 6}}, {{2, 0}}}},
      {6, 7, {{{1, 2}}, {{0, 6}}, {{2, 0}}}},
      {7, 8, {{{0, 6}}, {{0, 7}}, {{1, 2}}, {{2, 0}}}},
      {3, 7, {{{0, 2}}, {{0, 3}}, {{1, 0}}, {{0, 6}, {1, 2}}}},
      {4, 7, {{{0, 6}, {1, 2}}}},
      {1, 7, {{{0, 1}}, {{1, 1}}, {{0, 6}, {1, 2}}}},
      {2, 8, {{{1, 1}}, {{2, 1}}}},
      {10, 15, {{{1, 4}}, {{1, 5}}, {{0, 14}, {1, 6}}, {{3, 0}}}},
      {24, 31, {{{3, 2}}, {{0, 30}, {1, 14}, {2, 6}}, {{4, 0}}}},
      {81,
       95,
       {{{0, 80}},
        {{0, 81}},
        {{1, 41}},
        {{2, 21}},
        {{0, 94}, {1, 46}, {2, 22}},
        {{4, 4}},
        {{6, 0}}}},
  };
  for (const Case& c : consistency) {
    Result<Proof> proof = ConsistencyProof(log, c.a, c.n);
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(HexAll(*proof), ExpectedFromNodes(log, c.want)) << c.a << " -> " << c.n;
  }
}

// ---------------------------------------------------------------------------------------------
// An independent oracle: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 transcribed literally, recursing
// over all leaf hashes (memoized, so the exhaustive tests stay fast).
class RfcTree {
 public:
  explicit RfcTree(std::vector<std::string> leaf_hashes) : leaves_(std::move(leaf_hashes)) {}

  // MTH(D[begin:end]).
  std::string Mth(uint64_t begin, uint64_t end) {
    if (begin == end) return crypto::Sha256("");
    if (end - begin == 1) return leaves_[begin];
    auto [it, inserted] = memo_.try_emplace({begin, end});
    if (inserted) {
      const uint64_t k = SplitOf(end - begin);
      it->second = NodeHash(Mth(begin, begin + k), Mth(begin + k, end));
    }
    return it->second;
  }

  // PATH(m, D[begin:end]), m relative to begin.
  Proof Path(uint64_t m, uint64_t begin, uint64_t end) {
    if (end - begin <= 1) return {};
    const uint64_t k = SplitOf(end - begin);
    Proof proof;
    if (m < k) {
      proof = Path(m, begin, begin + k);
      proof.push_back(Mth(begin + k, end));
    } else {
      proof = Path(m - k, begin + k, end);
      proof.push_back(Mth(begin, begin + k));
    }
    return proof;
  }

  // SUBPROOF(m, D[begin:end], b), m relative to begin.
  Proof Subproof(uint64_t m, uint64_t begin, uint64_t end, bool b) {
    if (m == end - begin) return b ? Proof{} : Proof{Mth(begin, end)};
    const uint64_t k = SplitOf(end - begin);
    Proof proof;
    if (m <= k) {
      proof = Subproof(m, begin, begin + k, b);
      proof.push_back(Mth(begin + k, end));
    } else {
      proof = Subproof(m - k, begin + k, end, false);
      proof.push_back(Mth(begin, begin + k));
    }
    return proof;
  }

 private:
  // The largest power of two smaller than n (n >= 2), found without <bit>.
  static uint64_t SplitOf(uint64_t n) {
    uint64_t k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  std::vector<std::string> leaves_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> memo_;
};

std::string EntryFor(uint64_t i) { return "operation log entry #" + std::to_string(i); }

TEST(MerkleRootTest, PerfectSubtreesGiveTheRfcRootForSizes0To130) {
  constexpr uint64_t kMax = 130;
  MemorySubtreeSource log;
  std::vector<std::string> leaf_hashes;
  for (uint64_t i = 0; i < kMax; ++i) {
    log.AppendEntry(EntryFor(i));
    leaf_hashes.push_back(LeafHash(EntryFor(i)));
  }
  RfcTree rfc(leaf_hashes);
  for (uint64_t size = 0; size <= kMax; ++size) {
    log.ResetSubtreeCalls();
    Result<std::string> root = RootHash(log, size);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    EXPECT_EQ(HexEncode(*root), HexEncode(rfc.Mth(0, size))) << "size " << size;
    EXPECT_EQ(log.subtree_calls(), static_cast<uint64_t>(std::popcount(size)));
  }
}

TEST(MerkleRootTest, RootOfAGrowingLogMatchesAtEverySize) {
  // Roots asked for while the log grows (the checkpoint writer's pattern) equal roots asked for
  // afterwards, so appends never disturb what an earlier size hashes to.
  MemorySubtreeSource log;
  std::vector<std::string> roots_while_growing;
  for (uint64_t i = 0; i < 70; ++i) {
    log.AppendEntry(EntryFor(i));
    roots_while_growing.push_back(RootHash(log, i + 1).value());
  }
  for (uint64_t i = 0; i < 70; ++i) EXPECT_EQ(RootHash(log, i + 1).value(), roots_while_growing[i]);
}

TEST(MerkleNodesCompletedByTest, CompletesOneNodePerTrailingOneBit) {
  MemorySubtreeSource log;
  std::vector<std::string> leaf_hashes;
  for (uint64_t i = 0; i < 200; ++i) leaf_hashes.push_back(LeafHash(EntryFor(i)));
  RfcTree rfc(leaf_hashes);
  for (uint64_t i = 0; i < 200; ++i) {
    log.ResetSubtreeCalls();
    Result<std::vector<SubtreeNode>> nodes = NodesCompletedBy(i, leaf_hashes[i], log);
    ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
    const auto trailing_ones = static_cast<uint32_t>(std::countr_one(i));
    EXPECT_EQ(log.subtree_calls(), trailing_ones);
    ASSERT_EQ(nodes->size(), trailing_ones + 1) << "leaf " << i;
    for (uint32_t level = 0; level <= trailing_ones; ++level) {
      const SubtreeNode& node = (*nodes)[level];
      EXPECT_EQ(node.level, level);
      EXPECT_EQ(node.index, i >> level);
      const uint64_t begin = node.index << level;
      EXPECT_EQ(node.hash, rfc.Mth(begin, begin + (uint64_t{1} << level)))
          << "leaf " << i << " level " << level;
    }
    ASSERT_TRUE(log.AppendLeafHash(leaf_hashes[i]).ok());
  }
}

TEST(MerkleNodesCompletedByTest, RejectsBadLeaves) {
  MemorySubtreeSource log;
  EXPECT_EQ(NodesCompletedBy(0, "short", log).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log.AppendLeafHash(std::string(kHashSize + 1, 'x')).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(log.size(), 0u);
  EXPECT_EQ(
      NodesCompletedBy(std::numeric_limits<uint64_t>::max(), LeafHash(""), log).status().code(),
      StatusCode::kInvalidArgument);
  // Leaf 1 needs leaf 0, which this log does not have.
  EXPECT_EQ(NodesCompletedBy(1, LeafHash(""), log).status().code(), StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// Every tree size 1..64: generated proofs equal the RFC's, verify, and stop verifying under any
// single change.

constexpr uint64_t kSmallMax = 64;

class MerkleExhaustiveTest : public testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> leaf_hashes;
    for (uint64_t i = 0; i < kSmallMax; ++i) {
      log_.AppendEntry(EntryFor(i));
      leaf_hashes.push_back(LeafHash(EntryFor(i)));
    }
    leaves_ = leaf_hashes;
    rfc_ = std::make_unique<RfcTree>(std::move(leaf_hashes));
    for (uint64_t size = 0; size <= kSmallMax; ++size)
      roots_.push_back(RootHash(log_, size).value());
  }

  // Every proof that differs from `proof` in one respect: one bit of one byte of one element
  // flipped, an element cut short or lengthened, the last or first element dropped, an element
  // added at either end.
  static std::vector<Proof> Mutations(const Proof& proof, const std::string& extra) {
    std::vector<Proof> out;
    for (size_t e = 0; e < proof.size(); ++e) {
      for (size_t byte = 0; byte < kHashSize; ++byte) {
        Proof changed = proof;
        changed[e][byte] ^= 0x01;
        out.push_back(std::move(changed));
      }
      Proof shorter = proof;
      shorter[e].pop_back();
      out.push_back(std::move(shorter));
      Proof longer = proof;
      longer[e].push_back('\0');
      out.push_back(std::move(longer));
    }
    if (!proof.empty()) {
      out.emplace_back(proof.begin(), proof.end() - 1);
      out.emplace_back(proof.begin() + 1, proof.end());
    }
    Proof appended = proof;
    appended.push_back(extra);
    out.push_back(std::move(appended));
    Proof prepended = proof;
    prepended.insert(prepended.begin(), extra);
    out.push_back(std::move(prepended));
    Proof zero_appended = proof;
    zero_appended.push_back(std::string(kHashSize, '\0'));
    out.push_back(std::move(zero_appended));
    return out;
  }

  MemorySubtreeSource log_;
  std::vector<std::string> leaves_;
  std::unique_ptr<RfcTree> rfc_;
  std::vector<std::string> roots_;  // roots_[n]: root of the first n leaves
};

TEST_F(MerkleExhaustiveTest, InclusionProofsVerifyAndEveryChangeFails) {
  for (uint64_t n = 1; n <= kSmallMax; ++n) {
    for (uint64_t i = 0; i < n; ++i) {
      SCOPED_TRACE(testing::Message() << "leaf " << i << " of " << n);
      Result<Proof> generated = InclusionProof(log_, i, n);
      ASSERT_TRUE(generated.ok()) << generated.status().ToString();
      const Proof& proof = *generated;
      ASSERT_EQ(HexAll(proof), HexAll(rfc_->Path(i, 0, n)));
      ASSERT_TRUE(VerifyInclusion(leaves_[i], i, n, proof, roots_[n]));

      for (const Proof& changed : Mutations(proof, roots_[n])) {
        ASSERT_FALSE(VerifyInclusion(leaves_[i], i, n, changed, roots_[n]));
      }
      for (size_t byte = 0; byte < kHashSize; ++byte) {
        std::string root = roots_[n];
        root[byte] ^= 0x01;
        ASSERT_FALSE(VerifyInclusion(leaves_[i], i, n, proof, root));
        std::string leaf = leaves_[i];
        leaf[byte] ^= 0x01;
        ASSERT_FALSE(VerifyInclusion(leaf, i, n, proof, roots_[n]));
      }
      for (uint64_t j = 0; j <= kSmallMax; ++j) {  // every other index, in range or not
        if (j == i) continue;
        ASSERT_FALSE(VerifyInclusion(leaves_[i], j, n, proof, roots_[n])) << "index " << j;
        if (j < kSmallMax) {
          ASSERT_FALSE(VerifyInclusion(leaves_[j], i, n, proof, roots_[n])) << "leaf " << j;
        }
      }
      for (uint64_t m = 0; m <= kSmallMax; ++m) {  // every other size, with its own root
        if (m == n) continue;
        ASSERT_FALSE(VerifyInclusion(leaves_[i], i, m, proof, roots_[m])) << "size " << m;
      }
      // The reference's wrong-height probes, with this size's root.
      ASSERT_FALSE(VerifyInclusion(leaves_[i], i, 2 * n, proof, roots_[n]));
      ASSERT_FALSE(VerifyInclusion(leaves_[i], i, n / 2, proof, roots_[n]));
    }
  }
}

TEST_F(MerkleExhaustiveTest, ConsistencyProofsVerifyAndEveryChangeFails) {
  for (uint64_t n = 1; n <= kSmallMax; ++n) {
    for (uint64_t m = 1; m <= n; ++m) {
      SCOPED_TRACE(testing::Message() << m << " -> " << n);
      Result<Proof> generated = ConsistencyProof(log_, m, n);
      ASSERT_TRUE(generated.ok()) << generated.status().ToString();
      const Proof& proof = *generated;
      ASSERT_EQ(HexAll(proof), HexAll(rfc_->Subproof(m, 0, n, true)));
      ASSERT_TRUE(VerifyConsistency(m, n, roots_[m], roots_[n], proof));
      if (m == n) {
        ASSERT_TRUE(proof.empty());
        ASSERT_FALSE(VerifyConsistency(m, n, roots_[m], roots_[m - 1], proof));
        ASSERT_FALSE(VerifyConsistency(m, n, roots_[m], roots_[m], {roots_[m]}));
        continue;
      }

      for (const Proof& changed : Mutations(proof, roots_[n])) {
        ASSERT_FALSE(VerifyConsistency(m, n, roots_[m], roots_[n], changed));
      }
      ASSERT_FALSE(VerifyConsistency(m, n, roots_[m], roots_[n], {}));
      ASSERT_FALSE(VerifyConsistency(m, n, roots_[n], roots_[m], proof));  // swapped roots
      for (size_t byte = 0; byte < kHashSize; ++byte) {
        std::string old_root = roots_[m];
        old_root[byte] ^= 0x01;
        ASSERT_FALSE(VerifyConsistency(m, n, old_root, roots_[n], proof));
        std::string new_root = roots_[n];
        new_root[byte] ^= 0x01;
        ASSERT_FALSE(VerifyConsistency(m, n, roots_[m], new_root, proof));
      }
      for (uint64_t other = 0; other <= kSmallMax; ++other) {  // other sizes, with their roots
        if (other != m) {
          ASSERT_FALSE(VerifyConsistency(other, n, roots_[other], roots_[n], proof))
              << "old size " << other;
        }
        if (other != n) {
          ASSERT_FALSE(VerifyConsistency(m, other, roots_[m], roots_[other], proof))
              << "new size " << other;
        }
      }
      // The reference's wrong-size probes, with the true roots.
      ASSERT_FALSE(VerifyConsistency(m - 1, n, roots_[m], roots_[n], proof));
      ASSERT_FALSE(VerifyConsistency(m + 1, n, roots_[m], roots_[n], proof));
      ASSERT_FALSE(VerifyConsistency(m ^ 2, n, roots_[m], roots_[n], proof));
      ASSERT_FALSE(VerifyConsistency(m, 2 * n, roots_[m], roots_[n], proof));
      ASSERT_FALSE(VerifyConsistency(m, n / 2, roots_[m], roots_[n], proof));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed input and failing storage.

TEST(MerkleVerifyTest, RejectsMalformedInputWithoutCrashing) {
  MemorySubtreeSource log;
  for (uint64_t i = 0; i < 11; ++i) log.AppendEntry(EntryFor(i));
  const std::string leaf = LeafHash(EntryFor(3));
  const Proof proof = InclusionProof(log, 3, 11).value();
  const std::string root = RootHash(log, 11).value();
  ASSERT_TRUE(VerifyInclusion(leaf, 3, 11, proof, root));

  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_FALSE(VerifyInclusion(leaf, 3, 0, proof, root));
  EXPECT_FALSE(VerifyInclusion(leaf, 11, 11, proof, root));
  EXPECT_FALSE(VerifyInclusion(leaf, kMax, kMax, proof, root));
  EXPECT_FALSE(VerifyInclusion(leaf, 3, kMax, proof, root));
  EXPECT_FALSE(VerifyInclusion(leaf, kMax - 1, kMax, Proof(64, root), root));
  EXPECT_FALSE(VerifyInclusion(leaf, 3, 11, Proof(1000, root), root));
  EXPECT_FALSE(VerifyInclusion(leaf.substr(1), 3, 11, proof, root));
  EXPECT_FALSE(VerifyInclusion(leaf + "x", 3, 11, proof, root));
  EXPECT_FALSE(VerifyInclusion(leaf, 3, 11, proof, root.substr(1)));
  EXPECT_FALSE(VerifyInclusion(leaf, 3, 11, proof, ""));
  EXPECT_FALSE(VerifyInclusion(leaf, 3, 11, {}, root));

  const std::string old_root = RootHash(log, 5).value();
  const Proof consistency = ConsistencyProof(log, 5, 11).value();
  ASSERT_TRUE(VerifyConsistency(5, 11, old_root, root, consistency));
  EXPECT_FALSE(VerifyConsistency(0, 11, old_root, root, consistency));
  EXPECT_FALSE(VerifyConsistency(12, 11, old_root, root, consistency));
  EXPECT_FALSE(VerifyConsistency(5, kMax, old_root, root, consistency));
  EXPECT_FALSE(VerifyConsistency(kMax - 1, kMax, old_root, root, Proof(130, root)));
  EXPECT_TRUE(VerifyConsistency(kMax, kMax, root, root, {}));  // equal sizes: roots decide
  EXPECT_FALSE(VerifyConsistency(5, 11, old_root, root, Proof(1000, root)));
  EXPECT_FALSE(VerifyConsistency(5, 11, old_root.substr(1), root, consistency));
  EXPECT_FALSE(VerifyConsistency(5, 11, old_root, root + "x", consistency));
  EXPECT_FALSE(VerifyConsistency(11, 11, root + "x", root + "x", {}));
  EXPECT_FALSE(VerifyConsistency(4, 11, RootHash(log, 4).value(), root, Proof{""}));
}

TEST(MerkleProofTest, RejectsBadSizes) {
  MemorySubtreeSource log;
  for (uint64_t i = 0; i < 10; ++i) log.AppendEntry(EntryFor(i));
  EXPECT_EQ(InclusionProof(log, 10, 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof(log, 0, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(log, 0, 5).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(log, 6, 5).status().code(), StatusCode::kInvalidArgument);
  // Sizes beyond the log reach the source, whose error comes back unchanged.
  EXPECT_EQ(RootHash(log, 11).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(InclusionProof(log, 3, 11).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(InclusionProof(log, 9, 11).status().code(), StatusCode::kNotFound);
  // The path of the last leaf never reads that leaf, so a size one beyond the log goes unnoticed
  // here: checking tree_size against the log is the caller's part of the contract.
  EXPECT_TRUE(InclusionProof(log, 10, 11).ok());
  EXPECT_EQ(ConsistencyProof(log, 5, 11).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ConsistencyProof(log, 10, 11).status().code(), StatusCode::kNotFound);
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(RootHash(log, kMax).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(InclusionProof(log, kMax - 1, kMax).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ConsistencyProof(log, kMax - 1, kMax).status().code(), StatusCode::kNotFound);
}

// Fails the call numbered `fail_at` (from 0): with an I/O error, or by returning a hash one byte
// short, as a corrupt store would.
class FaultySource final : public SubtreeSource {
 public:
  FaultySource(SubtreeSource& inner, uint64_t fail_at, bool corrupt)
      : inner_(inner), fail_at_(fail_at), corrupt_(corrupt) {}

  Result<std::string> Subtree(uint32_t level, uint64_t index) override {
    Result<std::string> hash = inner_.Subtree(level, index);
    if (calls_++ != fail_at_ || !hash.ok()) return hash;
    if (!corrupt_) return Status::IoError("injected");
    return hash->substr(1);
  }

 private:
  SubtreeSource& inner_;
  uint64_t fail_at_;
  bool corrupt_;
  uint64_t calls_ = 0;
};

TEST(MerkleProofTest, StorageFailuresComeBackAsErrors) {
  MemorySubtreeSource log;
  for (uint64_t i = 0; i < 100; ++i) log.AppendEntry(EntryFor(i));
  using Operation = std::function<Status(SubtreeSource&)>;
  const std::vector<std::pair<const char*, Operation>> operations = {
      {"root", [](SubtreeSource& s) { return RootHash(s, 100).status(); }},
      {"inclusion", [](SubtreeSource& s) { return InclusionProof(s, 37, 100).status(); }},
      {"inclusion right", [](SubtreeSource& s) { return InclusionProof(s, 98, 100).status(); }},
      {"consistency", [](SubtreeSource& s) { return ConsistencyProof(s, 37, 100).status(); }},
      {"consistency 2^k", [](SubtreeSource& s) { return ConsistencyProof(s, 64, 100).status(); }},
      {"append", [](SubtreeSource& s) { return NodesCompletedBy(63, LeafHash(""), s).status(); }},
  };
  for (const auto& [name, operation] : operations) {
    CountingSubtreeSource counting(log);
    ASSERT_TRUE(operation(counting).ok()) << name;
    ASSERT_GT(counting.calls(), 0u) << name;
    for (uint64_t fail_at = 0; fail_at < counting.calls(); ++fail_at) {
      FaultySource failing(log, fail_at, /*corrupt=*/false);
      EXPECT_EQ(operation(failing).code(), StatusCode::kIoError) << name << " call " << fail_at;
      FaultySource corrupt(log, fail_at, /*corrupt=*/true);
      EXPECT_EQ(operation(corrupt).code(), StatusCode::kDataLoss) << name << " call " << fail_at;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// O(log n) reads. Bound stated by the brief: 2·⌈log2 n⌉ + 2 Subtree() calls for each of RootHash,
// InclusionProof and ConsistencyProof. The tighter bounds promised in merkle.h are checked too:
// popcount(n) for a root, 2·⌈log2 n⌉ for an inclusion proof, 2·⌈log2 n⌉ + 1 for a consistency
// proof.

uint64_t CeilLog2(uint64_t n) { return n <= 1 ? 0 : std::bit_width(n - 1); }
uint64_t BriefBound(uint64_t n) { return 2 * CeilLog2(n) + 2; }

constexpr uint64_t kBigLog = 100'000;

MemorySubtreeSource& BigLog() {
  static MemorySubtreeSource* log = [] {
    auto* built = new MemorySubtreeSource;
    for (uint64_t i = 0; i < kBigLog; ++i) built->AppendEntry(EntryFor(i));
    return built;
  }();
  return *log;
}

TEST(MerkleReadsTest, RootHashReadsPopcountSubtrees) {
  MemorySubtreeSource& log = BigLog();
  for (uint64_t n = 1; n <= kBigLog; ++n) {
    log.ResetSubtreeCalls();
    ASSERT_TRUE(RootHash(log, n).ok());
    ASSERT_EQ(log.subtree_calls(), static_cast<uint64_t>(std::popcount(n))) << n;
    ASSERT_LE(log.subtree_calls(), BriefBound(n)) << n;
  }
}

TEST(MerkleReadsTest, InclusionProofReadsAreLogarithmic) {
  MemorySubtreeSource& log = BigLog();
  auto check = [&log](uint64_t i, uint64_t n, bool verify) {
    log.ResetSubtreeCalls();
    Result<Proof> proof = InclusionProof(log, i, n);
    ASSERT_TRUE(proof.ok());
    ASSERT_LE(log.subtree_calls(), 2 * CeilLog2(n)) << i << " of " << n;
    ASSERT_LE(log.subtree_calls(), BriefBound(n)) << i << " of " << n;
    if (verify) {
      ASSERT_TRUE(
          VerifyInclusion(log.Subtree(0, i).value(), i, n, *proof, RootHash(log, n).value()));
    }
  };
  for (uint64_t i = 0; i < kBigLog; ++i) check(i, kBigLog, i % 97 == 0);
  // 2^16 − 1 has the worst shape: an imperfect node at every level of the right spine.
  for (uint64_t i = 0; i < 65535; ++i) check(i, 65535, i % 97 == 0);
  std::mt19937_64 random(9162);
  for (int round = 0; round < 20'000; ++round) {
    const uint64_t n = 1 + random() % kBigLog;
    check(random() % n, n, round % 10 == 0);
  }
}

TEST(MerkleReadsTest, ConsistencyProofReadsAreLogarithmic) {
  MemorySubtreeSource& log = BigLog();
  auto check = [&log](uint64_t m, uint64_t n, bool verify) {
    log.ResetSubtreeCalls();
    Result<Proof> proof = ConsistencyProof(log, m, n);
    ASSERT_TRUE(proof.ok());
    ASSERT_LE(log.subtree_calls(), 2 * CeilLog2(n) + 1) << m << " -> " << n;
    ASSERT_LE(log.subtree_calls(), BriefBound(n)) << m << " -> " << n;
    if (verify) {
      ASSERT_TRUE(
          VerifyConsistency(m, n, RootHash(log, m).value(), RootHash(log, n).value(), *proof));
    }
  };
  for (uint64_t m = 1; m <= kBigLog; ++m) check(m, kBigLog, m % 97 == 0);
  for (uint64_t m = 1; m <= 65535; ++m) check(m, 65535, m % 97 == 0);
  std::mt19937_64 random(6962);
  for (int round = 0; round < 20'000; ++round) {
    const uint64_t n = 1 + random() % kBigLog;
    check(1 + random() % n, n, round % 10 == 0);
  }
}

}  // namespace
}  // namespace kakunin::audit
