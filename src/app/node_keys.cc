#include "app/node_keys.h"

#include "audit/pkcs11_signer.h"
#include "crypto/key_file.h"

namespace kakunin::app {

Result<std::shared_ptr<crypto::Pkcs11Token>> OpenConfiguredToken(
    const registry::NodeConfig& config) {
  if (!config.hsm) return std::shared_ptr<crypto::Pkcs11Token>();
  auto pin = crypto::ReadPin(*config.hsm);
  if (!pin.ok()) return pin.status();
  auto token = crypto::Pkcs11Token::Open(*config.hsm, *pin);
  volatile char* p = pin->data();
  for (size_t i = 0; i < pin->size(); ++i) p[i] = 0;
  if (!token.ok()) return token.status();
  return std::shared_ptr<crypto::Pkcs11Token>(std::move(*token));
}

Result<crypto::NodeKeys> LoadConfiguredKeys(const registry::NodeConfig& config,
                                            crypto::Pkcs11Token* token) {
  return crypto::LoadNodeKeyFile(config.key_file, token);
}

Result<std::unique_ptr<audit::Signer>> LoadConfiguredSigner(
    const registry::NodeConfig& config, const std::shared_ptr<crypto::Pkcs11Token>& token) {
  if (config.hsm && !config.hsm->signing_key_label.empty()) {
    if (!token) return Status::FailedPrecondition("no PKCS#11 token is open");
    return audit::OpenPkcs11Signer(token, config.hsm->signing_key_label);
  }
  return audit::LoadSigningKeyFile(config.signing_key);
}

}  // namespace kakunin::app
