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

#include "core/status.h"
#include "store/registry_store.h"

namespace kakunin::audit {

struct ArchiveSummary {
  int64_t from_seq = 0;
  int64_t to_seq = 0;  // exclusive
  int64_t tree_size = 0;
};

// Writes the entries with time in [from_time, to_time) (µs), proven against the latest
// checkpoint. REQUIRES: the latest checkpoint covers the whole log (call Checkpoint first).
Result<ArchiveSummary> ExportArchive(store::RegistryReader& reader, std::string_view public_key,
                                     int64_t from_time, int64_t to_time, std::ostream& out);

struct ArchiveCheck {
  bool ok = false;
  int64_t entries = 0;
  int64_t erased = 0;  // entries whose payload retention had erased before the export
  std::string problem;
};

// Checks an archive: the checkpoint's signature (with `trusted_public_key` if given, which must
// then equal the archive's own key), every entry's payload against its leaf hash and its
// proof against the checkpoint, and that the entries are contiguous. Strict and bounded:
// lines over 1 MiB or malformed JSON are problems, never crashes.
Result<ArchiveCheck> CheckArchive(std::istream& in,
                                  const std::optional<std::string>& trusted_public_key);

}  // namespace kakunin::audit
