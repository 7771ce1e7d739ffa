#pragma once

// What an operation did to the stored records (issue 11 part 4): the state leaves a version-3
// entry carries (audit/entry.h), one per record version the operation wrote or erased. Each
// names the version by its row ids (never by personal data) and commits its content by a keyed
// digest (registry/state_digest.h: HMAC under the node's hmac key over the unsealed version),
// so a copy of the log reveals nothing about anyone, and the verifier, holding the key,
// recomputes the stored records and names the first that no longer matches
// (registry/state_verify.h).
//
//   leaf = u8 op ‖ u64 version_id ‖ u64 person_id ‖ 32 digest      (49 bytes, big-endian)
//
// op: written   — the version became the person's current record;
//     history   — the version was recorded as history only (a late 転出, an older forwarded
//                 change): the person's current record is unchanged;
//     erased    — retention erased the version (digest all zero).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace kakunin::audit {

inline constexpr size_t kStateDigestSize = 32;
inline constexpr size_t kStateLeafSize = 1 + 8 + 8 + kStateDigestSize;
// At most this many leaves per entry (an import batch, a purge's erasures: callers split
// larger sets over several entries).
inline constexpr size_t kMaxStateLeaves = 1 << 20;

enum class StateOp : uint8_t { kWritten = 1, kHistory = 2, kErased = 3 };

struct StateLeaf {
  StateOp op = StateOp::kWritten;
  int64_t version_id = 0;
  int64_t person_id = 0;
  std::string digest;  // kStateDigestSize raw bytes; all zero for kErased

  friend bool operator==(const StateLeaf&, const StateLeaf&) = default;
};

// u32 count ‖ the leaves, appended to `out`.
void EncodeStateLeaves(const std::vector<StateLeaf>& leaves, std::string* out);
// Strict: known ops, ids > 0, digest of an erasure all zero, at most kMaxStateLeaves; reads
// exactly `bytes` (the rest of an entry). kDataLoss otherwise.
Result<std::vector<StateLeaf>> DecodeStateLeaves(std::string_view bytes);

std::string_view StateOpName(StateOp op);

}  // namespace kakunin::audit
