// Fuzzes the decoders of the operation log's second edition: a version-2 or -3 entry (and the
// verifier's head reader on it), an entry's
// stored target leaves, a C2SP checkpoint note, and an access statement (checked too). The first byte picks the parser. Nothing
// may crash; what decodes must re-encode to the same bytes.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/statement.h"
#include "audit/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kakunin::audit;
  if (size == 0) return 0;
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  static const std::string kKey(32, '\x07');
  switch (data[0] % 4) {
    case 0: {
      // A version-2 or -3 entry (with state leaves, part 4; the version byte forced, so the
      // fuzzer spends its time past it).
      input.insert(input.begin(),
                   static_cast<char>(data[0] & 0x80 ? kEntryVersion3 : kEntryVersion));
      auto e = DecodeEntry(input);
      if (e.ok() && EncodeEntry(*e) != input) std::abort();
      // The verifier's head reader (raw database bytes, found unfuzzed in review): whatever it
      // reads must agree with the full decoder on an entry that decodes.
      auto head = DecodeEntryHead(input);
      if (e.ok() && head &&
          (head->sequence != e->sequence || head->time != e->time || head->actor != e->actor ||
           head->action != e->action || head->purpose != e->purpose)) {
        std::abort();
      }
      break;
    }
    case 1: {
      auto leaves = DecodeTargetLeaves(input);
      if (leaves.ok()) {
        if (EncodeTargetLeaves(*leaves) != input) std::abort();
        const std::string root = TargetRoot(*leaves);
        if (!leaves->empty()) (void)TargetPath(*leaves, leaves->size() - 1);
        (void)root;
      }
      break;
    }
    case 3: {
      auto st = StatementFromJson(input);
      if (st.ok()) (void)CheckStatement(*st, kKey, std::nullopt);
      break;
    }
    default: {
      auto c = CheckpointFromNote(input, kKey);
      if (c.ok()) {
        (void)VerifyCheckpoint(*c, kKey);
        // What parses is exactly one note text.
        if (input.rfind(CheckpointNoteText(*c), 0) != 0) std::abort();
      }
      break;
    }
  }
  return 0;
}
