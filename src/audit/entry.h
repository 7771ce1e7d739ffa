#pragma once

// One entry of the operation log (操作履歴) and its canonical encoding (DESIGN §6). The
// encoding is what is hashed into the Merkle tree and signed through checkpoints, so it is
// versioned, fixed-endian and length-prefixed: the same entry gives the same bytes on every
// build and machine.
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
// Entries hold personal data (target resident codes, search conditions): they live only in
// the registry database, under its retention, never in a log file.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace kakunin::audit {

struct AuditEntry {
  uint64_t sequence = 0;
  int64_t time = 0;
  std::string actor;     // "os:<user>", "operator:<id>", "cert:<spki-sha256-hex>"
  std::string terminal;  // where the operation came from (host, console terminal)
  std::string action;    // e.g. "notification.apply", "resident.show", "resident.search"
  std::string purpose;   // the purpose named for a read; empty for writes
  std::vector<std::string> targets;  // resident codes
  std::string conditions;            // search conditions (JSON), or a short description
  int64_t result_count = 0;
  std::string outcome;  // "done", or "refused:<reason>"

  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

inline constexpr uint8_t kEntryVersion = 1;

std::string EncodeEntry(const AuditEntry& entry);
// Strict: the exact layout, nothing after it; kDataLoss otherwise.
Result<AuditEntry> DecodeEntry(std::string_view bytes);

// The leading fields, read without copying (views into `bytes`), for the verifier: what the
// searchable columns must equal. The rest of the entry is covered by its leaf hash.
struct EntryHead {
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
