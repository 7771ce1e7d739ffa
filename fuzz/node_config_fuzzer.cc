// Fuzzes the operator-written TOML parsers — the node configuration and the purpose
// catalogue: any bytes give a value or a clear error, never a crash, and an accepted
// configuration renders to text that parses to the same values.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "app/config.h"
#include "registry/purposes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kakunin::registry;
  using kakunin::app::ParseNodeConfig;
  using kakunin::app::RenderNodeConfig;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)PurposeCatalogue::Parse(text);
  auto c = ParseNodeConfig(text, "/data");
  if (!c.ok()) return 0;
  auto again = ParseNodeConfig(RenderNodeConfig(*c), "/data");
  if (!again.ok() || again->prefecture != c->prefecture ||
      again->superseded_retention_years != c->superseded_retention_years ||
      again->removed_retention_years != c->removed_retention_years ||
      again->resident_code_check != c->resident_code_check) {
    std::abort();
  }
  return 0;
}
