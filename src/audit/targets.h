#pragma once

// The targets of a version-2 operation-log entry (DESIGN §6): each resident an operation
// touched, named only by the keyed MAC of their resident code (registry::ResidentTarget), with
// whether a read found them and, for writes, a digest of the record version written. The
// entry itself holds only how many there are and the RFC 9162 Merkle root over their leaves,
//
//   target leaf = SHA-256(0x00 ‖ "kakunin-target-v2" ‖ mac ‖ status ‖ u8 len ‖ digest)
//   target root = MTH over the target leaves in entry order (node = SHA-256(0x01 ‖ l ‖ r))
//
// so one resident's target can be shown with an O(log t) path without anything of the other
// targets of a batch. The leaves are stored beside the entry (audit_entries.targets) for the
// search index and proofs; the verifier recomputes the root from them.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace kakunin::audit {

inline constexpr size_t kTargetMacSize = 32;
// At most this many targets per entry (a batch provision names at most a few thousand).
inline constexpr size_t kMaxTargets = 1 << 20;

enum class TargetStatus : uint8_t { kNone = 0, kFound = 1, kMissing = 2 };

struct TargetLeaf {
  std::string mac;  // kTargetMacSize raw bytes
  TargetStatus status = TargetStatus::kNone;
  std::string digest;  // empty, or 32 raw bytes (the record version written, part 4)

  friend bool operator==(const TargetLeaf&, const TargetLeaf&) = default;
};

// "mac:<64 hex>", "mac:<64 hex>:found" or "mac:<64 hex>:missing" (registry::ResidentTarget)
// to a leaf; InvalidArgument for anything else (a resident code in clear never enters a
// version-2 entry).
Result<TargetLeaf> ParseTargetName(std::string_view name);
// The inverse: how the search index and `audit search` name the target.
std::string TargetName(const TargetLeaf& leaf);

// The stored form of an entry's leaves: each mac ‖ status ‖ u8 len ‖ digest, concatenated.
std::string EncodeTargetLeaves(const std::vector<TargetLeaf>& leaves);
// Strict: whole records only, known statuses, digest of length 0 or 32; kDataLoss otherwise.
Result<std::vector<TargetLeaf>> DecodeTargetLeaves(std::string_view bytes);

std::string TargetLeafHash(const TargetLeaf& leaf);
// MTH over the leaves' hashes (SHA-256("") for none).
std::string TargetRoot(const std::vector<TargetLeaf>& leaves);
// The RFC 9162 inclusion path of leaf `index` among `leaves` (verify with VerifyInclusion
// from merkle.h against TargetRoot). REQUIRES: index < leaves.size().
std::vector<std::string> TargetPath(const std::vector<TargetLeaf>& leaves, size_t index);

}  // namespace kakunin::audit
