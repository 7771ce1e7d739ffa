#pragma once

// The node's field keys wrapped by an AES key on a PKCS#11 token (docs/keys.md). The key file
// then holds only ciphertext: a copy of the disk (database and key file together) reveals no
// individual number without the token. The keys are unwrapped into memory at start-up.
//
//   kakunin-keys v2 wrapped
//   wrap <label of the AES key on the token>
//   aead <hex: AES-256-GCM IV ‖ ciphertext ‖ tag of the 32-byte aead key>
//   hmac <hex: the same for the hmac key>
//
// Each line's associated data names its role ("kakunin field key v2 aead"/"… hmac"), so the two
// ciphertexts cannot be swapped.

#include <string>

#include "core/status.h"
#include "crypto/keys.h"
#include "crypto/pkcs11.h"

namespace kakunin::crypto {

// Whether the file at `path` starts with the wrapped format's header (it is not parsed).
bool IsWrappedKeyFile(const std::string& path);

// Writes `keys` wrapped by the token's AES key `wrap_label` to a new file at `path` (0600,
// never overwritten; atomic like CreateKeyFile). Errors: AlreadyExists if `path` exists; the
// token's errors (NotFound if it holds no such key).
Status WriteWrappedKeyFile(const std::string& path, const NodeKeys& keys, Pkcs11Token& token,
                           const std::string& wrap_label);

// Generates fresh keys and writes them wrapped, as above.
Status CreateWrappedKeyFile(const std::string& path, Pkcs11Token& token,
                            const std::string& wrap_label);

// Reads, strictly parses and unwraps a wrapped key file. The same checks on the file as
// LoadKeyFile (owner-only, regular, ≤ 4 KiB); DataLoss if malformed or if a key does not open
// under the token's key (another token, or an altered file).
Result<NodeKeys> LoadWrappedKeyFile(const std::string& path, Pkcs11Token& token);

}  // namespace kakunin::crypto
