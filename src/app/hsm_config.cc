#include "app/hsm_config.h"

#include <cstdio>
#include <set>
#include <sstream>

namespace kakunin::app {
namespace {

std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

}  // namespace

Status ParseHsmConfig(const toml::table& t, const std::string& data_dir,
                      registry::NodeConfig* config) {
  static const std::set<std::string> kKeys = {"module",   "token",   "pin_file",
                                              "pin_env",  "signing_key_label",
                                              "wrap_key_label"};
  for (const auto& [k, v] : t) {
    if (std::string(k.str()) == "pin") {
      return Status::InvalidArgument(
          "config: hsm.pin is not allowed: put the PIN in a file (hsm.pin_file, mode 0600) or an "
          "environment variable (hsm.pin_env)");
    }
    if (!kKeys.count(std::string(k.str()))) {
      return Status::InvalidArgument("config: unknown key 'hsm." + std::string(k.str()) + "'");
    }
  }
  crypto::HsmSettings h;
  for (auto [key, target] : {std::pair{"module", &h.module}, std::pair{"token", &h.token_label},
                             std::pair{"pin_file", &h.pin_file}, std::pair{"pin_env", &h.pin_env},
                             std::pair{"signing_key_label", &h.signing_key_label},
                             std::pair{"wrap_key_label", &h.wrap_key_label}}) {
    if (auto n = t[key]) {
      if (!n.is_string() || n.value<std::string>()->empty() ||
          n.value<std::string>()->size() > 1024) {
        return Status::InvalidArgument(std::string("config: hsm.") + key +
                                       " must be a non-empty string");
      }
      *target = *n.value<std::string>();
    }
  }
  if (h.module.empty() || h.module[0] != '/') {
    return Status::InvalidArgument("config: hsm.module must be the PKCS#11 module's absolute path");
  }
  if (h.token_label.empty()) return Status::InvalidArgument("config: hsm.token is required");
  if (h.token_label.size() > 32) {
    return Status::InvalidArgument("config: hsm.token is a token label, at most 32 bytes");
  }
  if (h.pin_file.empty() == h.pin_env.empty()) {
    return Status::InvalidArgument("config: [hsm] needs exactly one of pin_file and pin_env");
  }
  if (!h.pin_file.empty() && h.pin_file[0] != '/') h.pin_file = data_dir + "/" + h.pin_file;
  config->hsm = std::move(h);
  return Status::Ok();
}

std::string RenderHsmConfig(const registry::NodeConfig& config) {
  if (!config.hsm) return "";
  const crypto::HsmSettings& h = *config.hsm;
  std::ostringstream o;
  o << "\n[hsm]\n"
    << "# Keys on a PKCS#11 token (docs/keys.md). The PIN is never written here.\n"
    << "module = " << Quoted(h.module) << "\n"
    << "token = " << Quoted(h.token_label) << "\n";
  if (!h.pin_file.empty()) o << "pin_file = " << Quoted(h.pin_file) << "\n";
  if (!h.pin_env.empty()) o << "pin_env = " << Quoted(h.pin_env) << "\n";
  if (!h.signing_key_label.empty()) {
    o << "signing_key_label = " << Quoted(h.signing_key_label) << "\n";
  }
  o << "wrap_key_label = " << Quoted(h.wrap_key_label) << "\n";
  return o.str();
}

}  // namespace kakunin::app
