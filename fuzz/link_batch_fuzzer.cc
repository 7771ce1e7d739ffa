// Fuzzes the national node's parser of forwarded batches (registry/national.h): a batch comes
// over the network from a prefecture node. Nothing may crash; whatever parses is within the
// batch limits the parser promises.

#include <cstdint>
#include <string_view>

#include "registry/national.h"
#include "text/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto json = kakunin::text::ParseJson(input);
  if (!json.ok()) return 0;
  (void)kakunin::registry::ParseForwardBatch(*json);
  return 0;
}
