#pragma once

// kakunin.toml: parsed, checked and written here, at the edge (DESIGN §3: app/ owns the
// configuration). The values land in registry::NodeConfig (registry/config.h), plain data the
// use cases and servers take; the file's format is described there.

#include <string>
#include <string_view>

#include "core/status.h"
#include "registry/config.h"

namespace kakunin::app {

// Parses a configuration; unknown keys and wrong types are errors (a typo in a retention
// setting must not silently keep the default). Relative paths resolve against `data_dir`.
// The largest kakunin.toml read (config check warns past 64 KiB).
inline constexpr size_t kMaxNodeConfigBytes = 1 << 20;

Result<registry::NodeConfig> ParseNodeConfig(std::string_view toml, const std::string& data_dir);

// Reads <data_dir>/kakunin.toml.
Result<registry::NodeConfig> LoadNodeConfig(const std::string& data_dir);

// The file `kakunin init` writes.
std::string RenderNodeConfig(const registry::NodeConfig& config);

}  // namespace kakunin::app
