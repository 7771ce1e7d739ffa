#include "registry/config.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace kakunin::registry {
namespace {

std::string Resolve(const std::string& dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  return dir + "/" + path;
}

Status CheckKeys(const toml::table& t, const std::set<std::string>& allowed,
                 const std::string& where) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(std::string(k.str()))) {
      return Status::InvalidArgument("config: unknown key '" + where + std::string(k.str()) + "'");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<NodeConfig> ParseNodeConfig(std::string_view text, const std::string& data_dir) {
  if (text.size() > 64 * 1024) return Status::InvalidArgument("config: file too large");
  // Debian's toml++ is built with exceptions; they stop here, at the module edge.
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& err) {
    return Status::InvalidArgument("config: syntax error at line " +
                                   std::to_string(err.source().begin.line) + ": " +
                                   std::string(err.description()));
  }
  KAKUNIN_RETURN_IF_ERROR(CheckKeys(
      t, {"role", "prefecture", "database", "key_file", "signing_key", "retention", "checks"},
      ""));
  NodeConfig c;
  c.data_dir = data_dir;
  auto role = t["role"];
  if (!role) return Status::InvalidArgument("config: 'role' is required");
  if (!role.is_string()) return Status::InvalidArgument("config: 'role' must be a string");
  std::string r = *role.value<std::string>();
  if (r == "prefecture") {
    c.role = NodeRole::kPrefecture;
  } else if (r == "national") {
    c.role = NodeRole::kNational;
  } else {
    return Status::InvalidArgument("config: 'role' must be \"prefecture\" or \"national\"");
  }
  if (auto p = t["prefecture"]) {
    if (!p.is_integer()) return Status::InvalidArgument("config: 'prefecture' must be an integer");
    int64_t v = *p.value<int64_t>();
    if (v < 1 || v > 47) return Status::InvalidArgument("config: 'prefecture' must be 1..47");
    c.prefecture = static_cast<int>(v);
  } else if (c.role == NodeRole::kPrefecture) {
    return Status::InvalidArgument("config: a prefecture node needs 'prefecture'");
  }
  auto path = [&](const char* key, const char* def) -> Result<std::string> {
    auto n = t[key];
    if (!n) return Resolve(data_dir, def);
    if (!n.is_string() || n.value<std::string>()->empty()) {
      return Status::InvalidArgument(std::string("config: '") + key + "' must be a path");
    }
    return Resolve(data_dir, *n.value<std::string>());
  };
  auto db = path("database", "registry.db");
  if (!db.ok()) return db.status();
  c.database_path = *db;
  auto key = path("key_file", "keys");
  if (!key.ok()) return key.status();
  c.key_file = *key;
  auto signing = path("signing_key", "audit.key");
  if (!signing.ok()) return signing.status();
  c.signing_key = *signing;
  if (auto ret = t["retention"]) {
    if (!ret.is_table()) return Status::InvalidArgument("config: [retention] must be a table");
    const toml::table& rt = *ret.as_table();
    KAKUNIN_RETURN_IF_ERROR(
        CheckKeys(rt, {"superseded_years", "removed_years", "audit_years"}, "retention."));
    for (auto [key_name, target] :
         {std::pair{"superseded_years", &c.superseded_retention_years},
          std::pair{"removed_years", &c.removed_retention_years},
          std::pair{"audit_years", &c.audit_retention_years}}) {
      if (auto n = rt[key_name]) {
        if (!n.is_integer() || *n.value<int64_t>() < 1 || *n.value<int64_t>() > 1000) {
          return Status::InvalidArgument(std::string("config: retention.") + key_name +
                                         " must be an integer 1..1000");
        }
        *target = static_cast<int>(*n.value<int64_t>());
      }
    }
  }
  if (auto chk = t["checks"]) {
    if (!chk.is_table()) return Status::InvalidArgument("config: [checks] must be a table");
    const toml::table& ct = *chk.as_table();
    KAKUNIN_RETURN_IF_ERROR(CheckKeys(ct, {"resident_code_check"}, "checks."));
    if (auto n = ct["resident_code_check"]) {
      std::string v = n.value<std::string>().value_or("");
      if (v == "full") {
        c.resident_code_check = ResidentCodeCheck::kFull;
      } else if (v == "format") {
        c.resident_code_check = ResidentCodeCheck::kFormatOnly;
      } else {
        return Status::InvalidArgument(
            "config: checks.resident_code_check must be \"full\" or \"format\"");
      }
    }
  }
  return c;
}

Result<NodeConfig> LoadNodeConfig(const std::string& data_dir) {
  std::string path = data_dir + "/kakunin.toml";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("no node configuration at " + path + " (run kakunin init)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseNodeConfig(ss.str(), data_dir);
}

namespace {
// A TOML basic string: quotes, backslashes and control characters escaped (a path may hold any
// of them; the file must parse back to the same value).
std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(ch));
    } else if (ch < 0x20 || ch == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", ch);
      out += buf;
    } else {
      out.push_back(static_cast<char>(ch));
    }
  }
  return out + "\"";
}
}  // namespace

std::string RenderNodeConfig(const NodeConfig& c) {
  std::ostringstream o;
  o << "# Kakunin node configuration (written by kakunin init).\n"
    << "role = \"" << (c.role == NodeRole::kPrefecture ? "prefecture" : "national") << "\"\n";
  if (c.prefecture != 0) o << "prefecture = " << c.prefecture << "\n";
  o << "database = \"registry.db\"\n"
    << "# The key file encrypts individual numbers; keep it (and its backup) apart from the\n"
    << "# database's backups.\n"
    << "key_file = " << TomlString(c.key_file) << "\n"
    << "# Signs the operation log's checkpoints; its public half is audit.key.pub.\n"
    << "signing_key = " << TomlString(c.signing_key.empty() ? "audit.key" : c.signing_key)
    << "\n\n"
    << "[retention]\n"
    << "# 住民基本台帳法施行令: superseded versions are kept 150 years after the next\n"
    << "# notification for the person, removed residents 150 years after the removal.\n"
    << "superseded_years = " << c.superseded_retention_years << "\n"
    << "removed_years = " << c.removed_retention_years << "\n"
    << "# The operation log and the provision records: 7 years.\n"
    << "audit_years = " << c.audit_retention_years << "\n\n"
    << "[checks]\n"
    << "resident_code_check = \""
    << (c.resident_code_check == ResidentCodeCheck::kFull ? "full" : "format") << "\"\n";
  return o.str();
}

}  // namespace kakunin::registry
