#pragma once

// The [hsm] table of kakunin.toml (docs/keys.md, docs/configuration.md):
//
//   [hsm]
//   module = "/usr/lib/softhsm/libsofthsm2.so"   # the PKCS#11 module (absolute path)
//   token = "kakunin"                           # the token's label
//   pin_file = "hsm.pin"                        # the user PIN, mode 0600 (relative: data dir)
//   # pin_env = "KAKUNIN_HSM_PIN"               # or an environment variable; never the PIN
//   signing_key_label = "kakunin-signing"       # optional: checkpoints signed on the token
//   wrap_key_label = "kakunin-wrap"             # the AES key that wraps the field keys
//
// A PIN written into the configuration itself is refused: there is no key for it.

#include <string>

#include <toml++/toml.h>

#include "core/status.h"
#include "registry/config.h"

namespace kakunin::app {

// Parses `t` (the [hsm] table) into config->hsm; paths relative to `data_dir`. Strict: unknown
// keys, a missing module or token, neither or both PIN sources are InvalidArgument.
Status ParseHsmConfig(const toml::table& t, const std::string& data_dir,
                      registry::NodeConfig* config);

// The [hsm] table as RenderNodeConfig writes it ("" without one).
std::string RenderHsmConfig(const registry::NodeConfig& config);

}  // namespace kakunin::app
