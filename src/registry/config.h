#pragma once

// Node configuration (TOML), written by `kakunin init` into the data directory as
// kakunin.toml and read by every command that takes --data.
//
//   role = "prefecture"            # or "national"
//   prefecture = 19                # JIS X 0401; the node accepts only its municipalities
//   database = "registry.db"       # relative paths are relative to the data directory
//   key_file = "keys"              # the node's key file (kakunin init creates it, mode 0600)
//   signing_key = "audit.key"      # signs the operation log's checkpoints (+ audit.key.pub)
//   [retention]
//   superseded_years = 150         # 住民基本台帳法施行令: 150 years after the next notification
//   removed_years = 150            # ... and after the removal
//   audit_years = 7                # operation log and provision records
//   [checks]
//   resident_code_check = "full"   # or "format" (the 住民票コード formula is a stand-in)

#include <string>

#include "core/status.h"
#include "domain/identifiers.h"

namespace kakunin::registry {

enum class NodeRole { kPrefecture, kNational };

struct NodeConfig {
  NodeRole role = NodeRole::kPrefecture;
  int prefecture = 0;  // 1..47; 0 for a national node
  std::string data_dir;
  std::string database_path;  // absolute after loading
  std::string key_file;       // absolute after loading
  std::string signing_key;    // the operation log's Ed25519 key; absolute after loading
  int superseded_retention_years = 150;
  int removed_retention_years = 150;
  int audit_retention_years = 7;  // operation log and provision records
  ResidentCodeCheck resident_code_check = ResidentCodeCheck::kFull;
};

// Parses a configuration; unknown keys and wrong types are errors (a typo in a retention
// setting must not silently keep the default). Relative paths resolve against `data_dir`.
Result<NodeConfig> ParseNodeConfig(std::string_view toml, const std::string& data_dir);

// Reads <data_dir>/kakunin.toml.
Result<NodeConfig> LoadNodeConfig(const std::string& data_dir);

// The file `kakunin init` writes.
std::string RenderNodeConfig(const NodeConfig& config);

}  // namespace kakunin::registry
