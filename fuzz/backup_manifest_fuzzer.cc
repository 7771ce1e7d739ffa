// Fuzzes the backup manifest parser (registry/backup_format.h): a manifest comes from a medium
// anyone could have written. Nothing may crash, and a parsed manifest must write back to a
// manifest that parses to the same thing (the writer's output is the canonical form).

#include <cstdint>
#include <cstdlib>
#include <string>

#include "registry/backup_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kakunin::registry;
  std::string input(reinterpret_cast<const char*>(data), size);
  auto m = ParseManifest(input);
  if (!m.ok()) return 0;
  std::string json = ManifestToJson(*m);
  auto again = ParseManifest(json);
  if (!again.ok() || ManifestToJson(*again) != json) std::abort();
  (void)ManifestSigningMessage(input);
  return 0;
}
