#pragma once

// A self-contained export of part of the operation log, for media (媒体へのバックアップ): the
// entries, an inclusion proof of each in one signed checkpoint, that checkpoint and the
// public key. Another machine checks it with nothing but this file (and, to trust it, the
// node's public key obtained separately).
//
// JSON Lines, UTF-8:
//   {"format":"kakunin-audit-archive","version":1,"public_key":"<hex>","checkpoint":{…},
//    "from_seq":A,"to_seq":B}
//   {"seq":A,"time":T,"payload":"<hex>"|null,"leaf_hash":"<hex>","proof":["<hex>",…]}
//   … one line per entry A … B−1

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>

#include "audit/entry.h"
#include "audit/merkle.h"
#include "core/status.h"
#include "store/registry_store.h"

namespace kakunin::audit {

// The most proof hashes an entry line may carry (a tree of up to 2^64 leaves).
inline constexpr size_t kMaxArchiveProofHashes = 64;
// The longest entry line an archive can hold: the largest entry the log holds (kMaxEntryBytes,
// hex, so twice its size), its leaf hash and proof in hex with their quotes and commas, and
// 256 bytes for the keys, the sequence number and the time. Derived, not chosen: an import
// batch's entry runs to megabytes (one state leaf per record), and every entry the log holds
// must export to an archive that reads back. Still a bound, as an archive is outside input.
inline constexpr size_t kMaxArchiveLineBytes =
    2 * kMaxEntryBytes + (kMaxArchiveProofHashes + 1) * (2 * kHashSize + 3) + 256;

struct ArchiveLimits {
  // Longer lines are refused. Tests and the fuzz target lower it to reach the refusal with
  // small inputs; everything else keeps the default.
  size_t max_line_bytes = kMaxArchiveLineBytes;
};

struct ArchiveSummary {
  int64_t from_seq = 0;
  int64_t to_seq = 0;  // exclusive
  int64_t tree_size = 0;
};

// Writes the entries with time in [from_time, to_time) (µs), proven against the latest
// checkpoint. REQUIRES: the latest checkpoint covers the whole log (call Checkpoint first).
// Never writes a line CheckArchive would refuse: an entry whose line would exceed
// `limits.max_line_bytes` fails the export (FailedPrecondition) and `out` is to be discarded.
Result<ArchiveSummary> ExportArchive(store::RegistryReader& reader, std::string_view public_key,
                                     int64_t from_time, int64_t to_time, std::ostream& out,
                                     const ArchiveLimits& limits = {});

struct ArchiveCheck {
  bool ok = false;
  int64_t entries = 0;
  int64_t erased = 0;  // entries whose payload retention had erased before the export
  std::string problem;
};

// Checks an archive: the checkpoint's signature (with `trusted_public_key` if given, which must
// then equal the archive's own key), every entry's payload against its leaf hash and its
// proof against the checkpoint, and that the entries are contiguous. Strict and bounded:
// lines over `limits.max_line_bytes` or malformed JSON are problems, never crashes.
Result<ArchiveCheck> CheckArchive(std::istream& in,
                                  const std::optional<std::string>& trusted_public_key,
                                  const ArchiveLimits& limits = {});

}  // namespace kakunin::audit
