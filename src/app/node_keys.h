#pragma once

// Where a node's keys come from (docs/keys.md): the field keys from the key file (in clear, or
// wrapped by an AES key on a PKCS#11 token), the checkpoint signing key from its file or from
// the token, as kakunin.toml's [hsm] says.

#include <memory>

#include "audit/signer.h"
#include "core/status.h"
#include "crypto/keys.h"
#include "crypto/pkcs11.h"
#include "registry/config.h"

namespace kakunin::app {

// The token [hsm] names, logged in with the PIN from its file or variable; nullptr without
// [hsm]. Errors name the module, token, PIN file or variable — never the PIN.
Result<std::shared_ptr<crypto::Pkcs11Token>> OpenConfiguredToken(
    const registry::NodeConfig& config);

// The field keys from config.key_file, of any format (a wrapped file needs `token`).
Result<crypto::NodeKeys> LoadConfiguredKeys(const registry::NodeConfig& config,
                                            crypto::Pkcs11Token* token);

// The checkpoint signer: the token's pair hsm.signing_key_label if set, else config.signing_key.
Result<std::unique_ptr<audit::Signer>> LoadConfiguredSigner(
    const registry::NodeConfig& config, const std::shared_ptr<crypto::Pkcs11Token>& token);

}  // namespace kakunin::app
