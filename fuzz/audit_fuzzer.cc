// Fuzzes every parser of the operation log's outside input: an entry's canonical encoding, a
// checkpoint, inclusion and consistency proofs, and an archive from media. The first byte
// picks the parser (and, for an archive, the line limit). Nothing may crash; a decoded entry must re-encode to the same bytes.

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "audit/archive.h"
#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/log.h"
#include "audit/merkle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kakunin::audit;
  if (size == 0) return 0;
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto e = DecodeEntry(input);
      if (e.ok() && EncodeEntry(*e) != input) std::abort();
      break;
    }
    case 1: {
      auto c = CheckpointFromJson(input);
      if (c.ok()) (void)VerifyCheckpoint(*c, std::string(32, '\0'));
      break;
    }
    case 2: {
      auto p = InclusionProofFromJson(input);
      if (p.ok() && p->tree_size > 0 && p->leaf_index >= 0) {
        (void)VerifyInclusion(p->leaf_hash, static_cast<uint64_t>(p->leaf_index),
                              static_cast<uint64_t>(p->tree_size), p->path, std::string(32, 'x'));
      }
      break;
    }
    case 3: {
      auto p = ConsistencyProofFromJson(input);
      if (p.ok() && p->old_size > 0 && p->new_size >= p->old_size) {
        (void)VerifyConsistency(static_cast<uint64_t>(p->old_size),
                                static_cast<uint64_t>(p->new_size), std::string(32, 'a'),
                                std::string(32, 'b'), p->path);
      }
      break;
    }
    default: {
      // The real line limit (about 100 MiB, what the largest entry needs) is beyond any input
      // the fuzzer makes: half the inputs read with a small one, so that the refusal of a long
      // line and a line just under it are reached too.
      std::istringstream in(input);
      ArchiveLimits limits;
      if ((data[0] / 5) % 2 == 1) limits.max_line_bytes = 512;
      (void)CheckArchive(in, std::nullopt, limits);
      break;
    }
  }
  return 0;
}
