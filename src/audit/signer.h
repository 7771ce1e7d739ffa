#pragma once

// Signing of checkpoints (DESIGN §6). `Signer` is the seam: a key file today, PKCS#11 later.
// Ed25519 through libsodium; verification is libsodium's (strict: it rejects non-canonical
// encodings and small-order points) — the one verifier this project uses for the log.

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace kakunin::audit {

// Thread-safe implementations only.
class Signer {
 public:
  virtual ~Signer() = default;
  // A detached signature over `message`.
  virtual Result<std::string> Sign(std::string_view message) const = 0;
  // The raw 32-byte Ed25519 public key.
  virtual const std::string& public_key() const = 0;
  // A short public fingerprint of the key (hex), stored with each checkpoint.
  std::string key_id() const;
};

// Creates an Ed25519 key file (mode 0600, never overwritten) and writes its public key
// beside it as `<path>.pub` (hex), for outside verifiers.
Status CreateSigningKeyFile(const std::string& path);

// Loads a key file made by CreateSigningKeyFile.
Result<std::unique_ptr<Signer>> LoadSigningKeyFile(const std::string& path);

// Reads a public key file (`<path>.pub`: 64 hex characters and a newline).
Result<std::string> LoadPublicKeyFile(const std::string& path);

bool VerifySignature(std::string_view public_key, std::string_view message,
                     std::string_view signature);

// The fingerprint of a public key: first 16 hex characters of its SHA-256.
std::string PublicKeyId(std::string_view public_key);

}  // namespace kakunin::audit
