#pragma once

// Key files of format v2 (docs/keys.md): several field (aead) keys for rotation, in clear or
// wrapped by an AES key on a PKCS#11 token. Format v1 (crypto/keys.h) is still read; a v1 file
// is rewritten as v2 the first time a key is added or wrapped.
//
//   kakunin-keys v2                       kakunin-keys v2 wrapped
//                                         wrap <label of the AES key on the token>
//   hmac <64 hex>                         hmac <hex: IV ‖ AES-256-GCM ciphertext ‖ tag>
//   aead <64 hex>     (1 to 8 lines)      aead <hex: the same>        (1 to 8 lines)
//
// The aead lines run oldest first; the last is the current key, the first opens values sealed
// before key ids existed (version 0x01). Wrapped lines are authenticated with their role
// ("kakunin field key v2 hmac" / "… aead") as associated data, so the two kinds cannot be
// swapped. A wrapped file holds only ciphertext: a copy of the disk reveals nothing without
// the token.

#include <string>

#include "core/status.h"
#include "crypto/keys.h"
#include "crypto/pkcs11.h"

namespace kakunin::crypto {

inline constexpr size_t kMaxFieldKeys = 8;

enum class KeyFileKind { kV1, kV2, kWrapped };

// The kind of the key file at `path`, from its first line; NotFound / DataLoss otherwise.
Result<KeyFileKind> KeyFileKindOf(const std::string& path);

// The wrapping key's label of a wrapped file ("" for the others).
Result<std::string> WrappingLabelOf(const std::string& path);

// Loads a key file of any format. `token` is needed for a wrapped file (FailedPrecondition
// without it) and ignored otherwise. Same file checks as LoadKeyFile (owner only, regular file,
// ≤ 4 KiB, strict format); DataLoss also if a wrapped key does not open under the token's key.
Result<NodeKeys> LoadNodeKeyFile(const std::string& path, Pkcs11Token* token);

// Writes `keys` as a v2 file at `path`: wrapped by the token's AES key `wrap_label` if `token`
// is given, in clear otherwise. Atomic (temporary file, sync, rename, directory sync), mode 0600.
// Unless `replace`, an existing file is never touched (AlreadyExists). A wrapped file is read
// back through the token before it is put in place.
Status WriteNodeKeyFile(const std::string& path, const NodeKeys& keys, Pkcs11Token* token,
                        const std::string& wrap_label, bool replace);

// Generates fresh keys into a new wrapped file (for `kakunin keys init` on a new node).
Status CreateWrappedKeyFile(const std::string& path, Pkcs11Token& token,
                            const std::string& wrap_label);

// Field-key rotation, step one: adds a fresh aead key as the current key, keeping every older
// one, and rewrites the file in its own form (clear or wrapped). Returns the new key's id (hex).
// FailedPrecondition if the file already holds kMaxFieldKeys keys (retire the old ones first).
Result<std::string> AddFieldKey(const std::string& path, Pkcs11Token* token);

// Field-key rotation, last step (an administrator's, once `kakunin keys status` says no value is
// sealed under an older key): keeps only the current aead key. Returns how many were removed.
// `counted_against`: the id (FieldKeyId) of the current key the caller counted the values
// against; if the file's current key is another now (a key added meanwhile), nothing is removed
// (FailedPrecondition): the key the values are under would go.
Result<int> RetireOldFieldKeys(const std::string& path, Pkcs11Token* token,
                               std::string_view counted_against = {});

// Rewrites a key file in clear (v1 or v2) as a wrapped one, in place: afterwards the keys exist
// on disk only wrapped. AlreadyExists if it is wrapped already.
Status WrapKeyFile(const std::string& path, Pkcs11Token& token, const std::string& wrap_label);

}  // namespace kakunin::crypto
