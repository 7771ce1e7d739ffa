#include "audit/targets.h"

#include "audit/merkle.h"
#include "core/bytes.h"
#include "crypto/sha256.h"

namespace kakunin::audit {
namespace {

constexpr std::string_view kTargetDomain = "kakunin-target-v2";

// MTH over hashes[begin, end), RFC 9162 §2.1.1.
std::string Mth(const std::vector<std::string>& hashes, size_t begin, size_t end) {
  if (end - begin == 1) return hashes[begin];
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return NodeHash(Mth(hashes, begin, begin + k), Mth(hashes, begin + k, end));
}

// PATH(m, D[begin:end]), RFC 9162 §2.1.3.1, leaf first.
void Path(const std::vector<std::string>& hashes, size_t m, size_t begin, size_t end,
          std::vector<std::string>* out) {
  if (end - begin <= 1) return;
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  if (m < k) {
    Path(hashes, m, begin, begin + k, out);
    out->push_back(Mth(hashes, begin + k, end));
  } else {
    Path(hashes, m - k, begin + k, end, out);
    out->push_back(Mth(hashes, begin, begin + k));
  }
}

std::vector<std::string> Hashes(const std::vector<TargetLeaf>& leaves) {
  std::vector<std::string> h;
  h.reserve(leaves.size());
  for (const auto& l : leaves) h.push_back(TargetLeafHash(l));
  return h;
}

}  // namespace

Result<TargetLeaf> ParseTargetName(std::string_view name) {
  TargetLeaf leaf;
  if (!name.starts_with("mac:") || name.size() < 4 + 2 * kTargetMacSize) {
    return Status::InvalidArgument("an operation-log target must be a keyed MAC");
  }
  auto mac = HexDecode(name.substr(4, 2 * kTargetMacSize));
  if (!mac || mac->size() != kTargetMacSize) {
    return Status::InvalidArgument("an operation-log target must be a keyed MAC");
  }
  leaf.mac = std::move(*mac);
  std::string_view rest = name.substr(4 + 2 * kTargetMacSize);
  if (rest == ":found") {
    leaf.status = TargetStatus::kFound;
  } else if (rest == ":missing") {
    leaf.status = TargetStatus::kMissing;
  } else if (!rest.empty()) {
    return Status::InvalidArgument("an operation-log target must be a keyed MAC");
  }
  return leaf;
}

std::string TargetName(const TargetLeaf& leaf) {
  std::string out = "mac:" + HexEncode(leaf.mac);
  if (leaf.status == TargetStatus::kFound) out += ":found";
  if (leaf.status == TargetStatus::kMissing) out += ":missing";
  return out;
}

std::string EncodeTargetLeaves(const std::vector<TargetLeaf>& leaves) {
  std::string out;
  out.reserve(leaves.size() * (kTargetMacSize + 2));
  for (const auto& l : leaves) {
    out += l.mac;
    out.push_back(static_cast<char>(l.status));
    out.push_back(static_cast<char>(l.digest.size()));
    out += l.digest;
  }
  return out;
}

Result<std::vector<TargetLeaf>> DecodeTargetLeaves(std::string_view b) {
  std::vector<TargetLeaf> out;
  size_t pos = 0;
  while (pos < b.size()) {
    if (b.size() - pos < kTargetMacSize + 2 || out.size() >= kMaxTargets) {
      return Status::DataLoss("an entry's stored targets are malformed");
    }
    TargetLeaf l;
    l.mac.assign(b.substr(pos, kTargetMacSize));
    pos += kTargetMacSize;
    const auto status = static_cast<uint8_t>(b[pos++]);
    const auto len = static_cast<uint8_t>(b[pos++]);
    if (status > 2 || (len != 0 && len != 32) || b.size() - pos < len) {
      return Status::DataLoss("an entry's stored targets are malformed");
    }
    l.status = static_cast<TargetStatus>(status);
    l.digest.assign(b.substr(pos, len));
    pos += len;
    out.push_back(std::move(l));
  }
  return out;
}

std::string TargetLeafHash(const TargetLeaf& l) {
  std::string in;
  in.reserve(1 + kTargetDomain.size() + l.mac.size() + 2 + l.digest.size());
  in.push_back('\0');
  in.append(kTargetDomain);
  in += l.mac;
  in.push_back(static_cast<char>(l.status));
  in.push_back(static_cast<char>(l.digest.size()));
  in += l.digest;
  return crypto::Sha256(in);
}

std::string TargetRoot(const std::vector<TargetLeaf>& leaves) {
  if (leaves.empty()) return crypto::Sha256("");
  return Mth(Hashes(leaves), 0, leaves.size());
}

std::vector<std::string> TargetPath(const std::vector<TargetLeaf>& leaves, size_t index) {
  std::vector<std::string> out;
  Path(Hashes(leaves), index, 0, leaves.size(), &out);
  return out;
}

}  // namespace kakunin::audit
