#pragma once

// One entry of the operation log (操作履歴) and its canonical encoding (DESIGN §6). The
// encoding is what is hashed into the Merkle tree and signed through checkpoints, so it is
// versioned, fixed-endian and length-prefixed: the same entry gives the same bytes on every
// build and machine. New entries are version 2; version 1 (written before) still decodes, and
// the verifier takes each entry at its own version.
//
// Version 2 holds nothing personal in clear (docs/audit-log.md):
//
//   u8  version (2)
//   u64 sequence, i64 time, str actor, str terminal, str action, str purpose  (as version 1)
//   u32 target_count      the residents touched (at most kMaxTargets)
//   32  target_root       RFC 9162 root over the target leaves (audit/targets.h);
//                         SHA-256("") exactly when target_count is 0
//   u32 number of criteria (at most kMaxCriteria), then each criterion kind as str
//                         (e.g. "birth_date": the kind in clear, never the value)
//   str commitment        empty, or the 32-byte HMAC (the node's log key) over the canonical
//                         criterion values (registry::ConditionCommitment)
//   str conditions        a description without personal data ("function=lookup …")
//   i64 result_count
//   str outcome
//
// Version 3 (issue 11 part 4): version 2 followed by the state leaves (audit/state.h) —
//
//   u32 number of state leaves (1..kMaxStateLeaves), then each leaf (49 bytes)
//
// — the record versions the operation wrote or erased, by row id and keyed digest. Written only
// by operations that change stored records (AuditLog::Append picks 3 when `state` is not
// empty, 2 otherwise); everything said of version 2 holds for it.
//
// Version 1:
//
//   u8  version (1)
//   u64 sequence          (big-endian)
//   i64 time              (µs since the Unix epoch, big-endian)
//   str actor             (u32 big-endian length, then bytes)
//   str terminal
//   str action
//   str purpose
//   u32 number of targets, then each target as str
//   str conditions
//   i64 result_count
//   str outcome
//
// Version-1 entries hold personal data (target resident codes, search conditions): they live
// only in the registry database, under its retention, never in a log file.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/state.h"
#include "core/status.h"

namespace kakunin::audit {

inline constexpr uint8_t kEntryVersion1 = 1;
inline constexpr uint8_t kEntryVersion = 2;  // what new entries are written as
inline constexpr uint8_t kEntryVersion3 = 3;  // ... when they carry state leaves
inline constexpr size_t kMaxCriteria = 64;
// What an entry may hold besides its state leaves (the fixed fields, the strings, the criteria):
// far more than any operation writes, but a bound.
inline constexpr size_t kMaxEntryBytesBesideState = size_t{1} << 20;
// The largest encoded entry the log holds (AuditLog::Append refuses a larger one): an import
// batch's entry carries one state leaf per record written, up to kMaxStateLeaves. Readers of
// outside copies of the log (archives on media) size their limits from it, so that anything the
// log holds can be exported and read back.
inline constexpr size_t kMaxEntryBytes =
    kMaxEntryBytesBesideState + 4 + kMaxStateLeaves * kStateLeafSize;

struct AuditEntry {
  uint8_t version = kEntryVersion;
  uint64_t sequence = 0;
  int64_t time = 0;
  std::string actor;     // "os:<user>", "operator:<id>", "cert:<spki-sha256-hex>"
  std::string terminal;  // where the operation came from (host, console terminal)
  std::string action;    // e.g. "notification.apply", "resident.show", "resident.search"
  std::string purpose;   // the purpose named for a read; empty for writes
  // Version 1: resident codes or keyed MACs, encoded in the entry. Version 2: the keyed MACs
  // as registry::ResidentTarget names them ("mac:<hex>:found"), NOT encoded in the entry —
  // AuditLog::Append turns them into the target leaves and fills target_count and target_root;
  // DecodeStoredEntry fills them back from the stored leaves.
  std::vector<std::string> targets;
  // Version 1: search conditions (JSON) or a short description. Version 2: a description
  // without personal data; the criteria are below.
  std::string conditions;
  int64_t result_count = 0;
  std::string outcome;  // "done", or "refused:<reason>"
  // Version 2 only.
  uint32_t target_count = 0;
  std::string target_root;           // 32 raw bytes
  std::vector<std::string> criteria;  // criterion kinds, in clear
  std::string commitment;             // empty or 32 raw bytes
  // Version 3 only: the record versions written or erased (audit/state.h).
  std::vector<StateLeaf> state;

  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

// Encodes `entry` at entry.version (1, 2 or 3): for versions 2 and 3 from target_count and
// target_root, not from targets; `state` only at version 3.
std::string EncodeEntry(const AuditEntry& entry);
// Strict: the exact layout, nothing after it; kDataLoss otherwise.
Result<AuditEntry> DecodeEntry(std::string_view bytes);

// The leading fields, read without copying (views into `bytes`), for the verifier: what the
// searchable columns must equal. The rest of the entry is covered by its leaf hash.
struct EntryHead {
  uint8_t version = 0;
  uint64_t sequence = 0;
  int64_t time = 0;
  std::string_view actor;
  std::string_view terminal;
  std::string_view action;
  std::string_view purpose;
  uint32_t target_count = 0;
};
std::optional<EntryHead> DecodeEntryHead(std::string_view bytes);

}  // namespace kakunin::audit
