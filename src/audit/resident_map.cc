#include "audit/resident_map.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>

#include "crypto/sha256.h"

namespace kakunin::audit {
namespace {

void PutU64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// The first `depth` bits of `key`, the rest zero: a node's address.
std::string Prefix(std::string_view key, uint32_t depth) {
  std::string p(kMapKeySize, '\0');
  for (uint32_t i = 0; i < depth; ++i) {
    if (KeyBit(key, i)) p[i / 8] = static_cast<char>(p[i / 8] | (0x80 >> (i % 8)));
  }
  return p;
}

// The sibling of the node at (depth, prefix of key): bit depth-1 flipped.
std::string SiblingPrefix(std::string_view key, uint32_t depth) {
  std::string p = Prefix(key, depth);
  const uint32_t i = depth - 1;
  p[i / 8] = static_cast<char>(p[i / 8] ^ (0x80 >> (i % 8)));
  return p;
}

}  // namespace

namespace {
// SHA-256(tag ‖ parts…) of fixed-size parts, without a heap allocation for the input: the
// verifier and the map's batch update hash once per resident and entry.
template <size_t N>
std::string TaggedHash(char tag, std::initializer_list<std::string_view> parts) {
  char buffer[N];
  size_t n = 0;
  buffer[n++] = tag;
  for (std::string_view p : parts) {
    if (n + p.size() > N) {  // not the usual sizes: the general path
      std::string in(1, tag);
      for (std::string_view q : parts) in.append(q);
      return crypto::Sha256(in);
    }
    std::memcpy(buffer + n, p.data(), p.size());
    n += p.size();
  }
  return crypto::Sha256(std::string_view(buffer, n));
}

std::string U64(uint64_t v) {
  std::string out;
  PutU64(v, &out);
  return out;
}
}  // namespace

std::string NextResidentHead(std::string_view head_prev, uint64_t seq, std::string_view leaf) {
  char s[8];
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((seq >> (8 * (7 - i))) & 0xFF);
  return TaggedHash<1 + 32 + 8 + 32>('\x03', {head_prev, std::string_view(s, 8), leaf});
}

void NextResidentHeadTo(std::string_view head_prev, uint64_t seq, std::string_view leaf,
                        char* out) {
  char s[8];
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((seq >> (8 * (7 - i))) & 0xFF);
  crypto::Sha256To({std::string_view("\x03", 1), head_prev, std::string_view(s, 8), leaf}, out);
}

std::string MapValue(int64_t count, std::string_view head) {
  return TaggedHash<1 + 8 + 32>('\x04', {U64(static_cast<uint64_t>(count)), head});
}

std::string MapLeaf(std::string_view key, std::string_view value) {
  return TaggedHash<1 + 32 + 32>('\x05', {key, value});
}

std::string MapNodeHash(std::string_view left, std::string_view right) {
  return TaggedHash<1 + 32 + 32>('\x06', {left, right});
}

const std::string& MapEmpty() {
  static const std::string* empty = new std::string(32, '\0');
  return *empty;
}

int KeyBit(std::string_view key, uint32_t i) {
  return (static_cast<uint8_t>(key[i / 8]) >> (7 - i % 8)) & 1;
}

Result<std::string> MapUpdate(MapNodeSink& nodes, std::string_view key, std::string_view leaf) {
  if (key.size() != kMapKeySize) return Status::InvalidArgument("a map key is 32 bytes");
  // Down from the root to where k is, or to where it goes.
  uint32_t depth = 0;
  for (;; ++depth) {
    if (depth > 8 * kMapKeySize) return Status::DataLoss("the resident map is malformed");
    KAKUNIN_ASSIGN_OR_RETURN(node, nodes.Get(depth, Prefix(key, depth)));
    if (!node || node->leaf_key == key) break;  // an empty place, or k itself
    if (!node->leaf_key.empty()) {
      // Another key's leaf: both go down to where their prefixes part.
      const std::string other = node->leaf_key;
      if (other.size() != kMapKeySize) return Status::DataLoss("the resident map is malformed");
      uint32_t split = depth;
      while (KeyBit(key, split) == KeyBit(other, split)) ++split;
      KAKUNIN_RETURN_IF_ERROR(nodes.Put(split + 1, Prefix(other, split + 1), *node));
      depth = split + 1;
      break;
    }
  }
  std::string h(leaf);
  KAKUNIN_RETURN_IF_ERROR(nodes.Put(depth, Prefix(key, depth), {h, std::string(key)}));
  // Up again: each node from its two halves.
  for (uint32_t d = depth; d > 0; --d) {
    KAKUNIN_ASSIGN_OR_RETURN(sib, nodes.Get(d, SiblingPrefix(key, d)));
    const std::string& s = sib ? sib->hash : MapEmpty();
    h = KeyBit(key, d - 1) ? MapNodeHash(s, h) : MapNodeHash(h, s);
    KAKUNIN_RETURN_IF_ERROR(nodes.Put(d - 1, Prefix(key, d - 1), {h, ""}));
  }
  return h;
}

namespace {
std::string RootOfRange(const std::vector<std::pair<std::string, std::string>>& l, size_t b,
                        size_t e, uint32_t depth) {
  if (b == e) return MapEmpty();
  if (e - b == 1) return l[b].second;
  // Sorted by key: those with bit `depth` set come last.
  size_t m = b;
  while (m < e && !KeyBit(l[m].first, depth)) ++m;
  return MapNodeHash(RootOfRange(l, b, m, depth + 1), RootOfRange(l, m, e, depth + 1));
}
}  // namespace

std::string MapRootOf(const std::vector<std::pair<std::string, std::string>>& leaves) {
  return RootOfRange(leaves, 0, leaves.size(), 0);
}

std::string MapRootAfterRetention(std::vector<std::pair<std::string, std::string>> leaves,
                                  const std::vector<std::string>& emptied) {
  return MapRootOf(MapLeavesAfterRetention(std::move(leaves), emptied));
}

namespace {
std::string NodesOfRange(
    const std::vector<std::pair<std::string, std::string>>& l, size_t b, size_t e, uint32_t depth,
    const std::function<void(uint32_t, std::string_view, std::string_view, std::string_view)>& fn) {
  if (b == e) return MapEmpty();
  if (e - b == 1) {
    fn(depth, Prefix(l[b].first, depth), l[b].second, l[b].first);
    return l[b].second;
  }
  size_t m = b;
  while (m < e && !KeyBit(l[m].first, depth)) ++m;
  const std::string h = MapNodeHash(NodesOfRange(l, b, m, depth + 1, fn),
                                    NodesOfRange(l, m, e, depth + 1, fn));
  fn(depth, Prefix(l[b].first, depth), h, "");
  return h;
}
}  // namespace

void ForEachMapNode(
    const std::vector<std::pair<std::string, std::string>>& leaves,
    const std::function<void(uint32_t, std::string_view, std::string_view, std::string_view)>& fn) {
  (void)NodesOfRange(leaves, 0, leaves.size(), 0, fn);
}

std::vector<std::pair<std::string, std::string>> MapLeavesAfterRetention(
    std::vector<std::pair<std::string, std::string>> leaves, const std::vector<std::string>& emptied) {
  const size_t kept = leaves.size();
  const std::string none = MapValue(0, MapEmpty());
  for (const std::string& key : emptied) {
    auto at =
        std::lower_bound(leaves.begin(), leaves.begin() + static_cast<ptrdiff_t>(kept), key,
                         [](const auto& leaf, const std::string& k) { return leaf.first < k; });
    if (at != leaves.begin() + static_cast<ptrdiff_t>(kept) && at->first == key) continue;
    leaves.emplace_back(key, MapLeaf(key, none));
  }
  std::sort(leaves.begin(), leaves.end());
  return leaves;
}

Result<std::string> MapRoot(MapNodeSource& nodes) {
  KAKUNIN_ASSIGN_OR_RETURN(root, nodes.Get(0, std::string(kMapKeySize, '\0')));
  return root ? root->hash : MapEmpty();
}

Result<MapProof> ProveMapKey(MapNodeSource& nodes, std::string_view key) {
  if (key.size() != kMapKeySize) return Status::InvalidArgument("a map key is 32 bytes");
  MapProof p;
  for (uint32_t depth = 0;; ++depth) {
    if (depth > 8 * kMapKeySize) return Status::DataLoss("the resident map is malformed");
    KAKUNIN_ASSIGN_OR_RETURN(node, nodes.Get(depth, Prefix(key, depth)));
    if (!node) return Status::NotFound("the resident is not in the map");
    if (!node->leaf_key.empty()) {
      if (node->leaf_key != key) return Status::NotFound("the resident is not in the map");
      p.depth = depth;
      break;
    }
  }
  p.bitmap.assign((p.depth + 7) / 8, '\0');
  for (uint32_t d = 1; d <= p.depth; ++d) {
    KAKUNIN_ASSIGN_OR_RETURN(sib, nodes.Get(d, SiblingPrefix(key, d)));
    if (sib) {
      p.bitmap[(d - 1) / 8] = static_cast<char>(p.bitmap[(d - 1) / 8] | (0x80 >> ((d - 1) % 8)));
      p.siblings.push_back(sib->hash);
    }
  }
  return p;
}

bool VerifyMapProof(std::string_view key, std::string_view leaf, const MapProof& p,
                    std::string_view root) {
  if (key.size() != kMapKeySize || leaf.size() != 32 || root.size() != 32 ||
      p.depth > 8 * kMapKeySize || p.bitmap.size() != (p.depth + 7) / 8) {
    return false;
  }
  size_t set = 0;
  for (uint32_t d = 1; d <= p.depth; ++d) set += KeyBit(p.bitmap, d - 1);
  // Bits past the depth must be zero (one encoding per proof).
  for (uint32_t i = p.depth; i < 8 * p.bitmap.size(); ++i) {
    if (KeyBit(p.bitmap, i)) return false;
  }
  if (set != p.siblings.size()) return false;
  std::string h(leaf);
  size_t next = p.siblings.size();
  for (uint32_t d = p.depth; d > 0; --d) {
    std::string_view s = MapEmpty();
    if (KeyBit(p.bitmap, d - 1)) {
      s = p.siblings[--next];
      if (s.size() != 32) return false;
    }
    h = KeyBit(key, d - 1) ? MapNodeHash(s, h) : MapNodeHash(h, s);
  }
  return h == root;
}

}  // namespace kakunin::audit

namespace kakunin::audit {

Result<MapAbsenceProof> ProveMapAbsence(
    MapNodeSource& nodes, std::string_view key,
    const std::function<Result<std::string>(const std::string&)>& value_of) {
  if (key.size() != kMapKeySize) return Status::InvalidArgument("a map key is 32 bytes");
  MapAbsenceProof p;
  uint32_t depth = 0;
  // Down k's path to the first place that is empty or a single leaf.
  for (;; ++depth) {
    if (depth > 8 * kMapKeySize) return Status::DataLoss("the resident map is malformed");
    KAKUNIN_ASSIGN_OR_RETURN(node, nodes.Get(depth, Prefix(key, depth)));
    if (!node) break;  // empty
    if (!node->leaf_key.empty()) {
      if (node->leaf_key == key) return Status::AlreadyExists("the resident is in the map");
      if (node->leaf_key.size() != kMapKeySize) {
        return Status::DataLoss("the resident map is malformed");
      }
      KAKUNIN_ASSIGN_OR_RETURN(value, value_of(node->leaf_key));
      if (MapLeaf(node->leaf_key, value) != node->hash) {
        return Status::DataLoss("the resident map's leaf does not match its resident's chain");
      }
      p.other_key = node->leaf_key;
      p.other_value = std::move(value);
      break;
    }
  }
  p.path.depth = depth;
  p.path.bitmap.assign((depth + 7) / 8, '\0');
  for (uint32_t d = 1; d <= depth; ++d) {
    KAKUNIN_ASSIGN_OR_RETURN(sib, nodes.Get(d, SiblingPrefix(key, d)));
    if (sib) {
      p.path.bitmap[(d - 1) / 8] =
          static_cast<char>(p.path.bitmap[(d - 1) / 8] | (0x80 >> ((d - 1) % 8)));
      p.path.siblings.push_back(sib->hash);
    }
  }
  return p;
}

bool VerifyMapAbsence(std::string_view key, const MapAbsenceProof& proof, std::string_view root) {
  const MapProof& p = proof.path;
  if (key.size() != kMapKeySize || root.size() != 32 || p.depth > 8 * kMapKeySize ||
      p.bitmap.size() != (p.depth + 7) / 8) {
    return false;
  }
  // What sits at k's place: nothing, or another key that shares k's path to it (and so is the
  // only key in that subtree — a leaf hash cannot be an interior node's, by the 0x05/0x06
  // prefixes, so the subtree does not secretly hold k).
  std::string h;
  if (proof.other_key.empty()) {
    if (!proof.other_value.empty()) return false;
    h = MapEmpty();
  } else {
    if (proof.other_key.size() != kMapKeySize || proof.other_value.size() != 32 ||
        proof.other_key == key) {
      return false;
    }
    for (uint32_t i = 0; i < p.depth; ++i) {
      if (KeyBit(proof.other_key, i) != KeyBit(key, i)) return false;
    }
    h = MapLeaf(proof.other_key, proof.other_value);
  }
  size_t set = 0;
  for (uint32_t d = 1; d <= p.depth; ++d) set += KeyBit(p.bitmap, d - 1);
  for (uint32_t i = p.depth; i < 8 * p.bitmap.size(); ++i) {
    if (KeyBit(p.bitmap, i)) return false;
  }
  if (set != p.siblings.size()) return false;
  size_t next = p.siblings.size();
  for (uint32_t d = p.depth; d > 0; --d) {
    std::string_view s = MapEmpty();
    if (KeyBit(p.bitmap, d - 1)) {
      s = p.siblings[--next];
      if (s.size() != 32) return false;
    }
    h = KeyBit(key, d - 1) ? MapNodeHash(s, h) : MapNodeHash(h, s);
  }
  return h == root;
}

}  // namespace kakunin::audit
