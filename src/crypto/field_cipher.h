#pragma once

// Personal fields at rest (DESIGN §5): the 個人番号 is stored sealed with an AEAD, so a copy of
// the database reveals nothing without the key file, together with a keyed hash, so that the
// registry can still find a record by number through an ordinary index.

#include <array>
#include <cstddef>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "crypto/keys.h"

namespace kakunin::crypto {

// What Seal() adds to the plaintext: a version byte, a 24-byte nonce and a 16-byte tag — and,
// in version 0x02 (key files of format v2, docs/keys.md), a 4-byte key id after the version.
inline constexpr size_t kSealOverhead = 1 + 24 + 16;
inline constexpr size_t kKeyIdSize = 4;
inline constexpr size_t kSealOverheadWithKeyId = kSealOverhead + kKeyIdSize;

// The public id of an aead key as version-0x02 blobs carry it: the first 4 bytes of
// SHA-256("kakunin field key id v1" ‖ key). Shown in hex (8 digits) by `kakunin keys status`.
std::string FieldKeyId(std::string_view aead_key);
inline constexpr size_t kLookupHashSize = 32;

// Seals, opens and hashes fields under the node's keys. Thread-safe: the methods are const and
// the object holds nothing but the keys, so one instance may serve every thread. Not copyable,
// so that the keys exist once; the destructor wipes them.
class FieldCipher {
 public:
  // Copies the keys; `keys` may be destroyed afterwards. REQUIRES: both keys are kKeySize
  // bytes (LoadKeyFile guarantees it); otherwise the process aborts, since reading a key
  // beyond its end would be worse. Also aborts if libsodium cannot start: call InitSodium()
  // at startup to get a Status instead.
  explicit FieldCipher(const NodeKeys& keys);
  ~FieldCipher();
  FieldCipher(const FieldCipher&) = delete;
  FieldCipher& operator=(const FieldCipher&) = delete;

  // Encrypts and authenticates `plaintext` with XChaCha20-Poly1305 under a fresh random nonce
  // (192 bits, so random nonces never collide in practice). Returns
  // version 0x01 ‖ nonce ‖ ciphertext ‖ tag, plaintext.size() + kSealOverhead bytes.
  // `associated_data` is authenticated, not stored: pass what identifies the row (e.g. the
  // record's id), so that a sealed value copied into another row fails to open. Sealing the
  // same value twice gives different blobs, so equal numbers cannot be spotted in the table.
  // With `keys.key_ids` (a v2 key file): version 0x02 ‖ key id ‖ nonce ‖ ciphertext ‖ tag,
  // under the current key, plaintext.size() + kSealOverheadWithKeyId bytes.
  std::string Seal(std::string_view plaintext, std::string_view associated_data) const;

  // Whether `sealed` was made under the current key (field-key rotation re-seals the others).
  bool SealedUnderCurrentKey(std::string_view sealed) const;
  // The prefix every blob sealed under the current key starts with (version, key id): what the
  // store compares to count the values still under an older key.
  std::string CurrentPrefix() const;
  // How many aead keys are loaded: more than one while a field key is being rotated.
  size_t key_count() const;

  // Takes the aead keys of `keys` in place of those loaded (a serving node's SIGHUP after
  // `kakunin keys rotate-field-key`): later seals use its current key, later opens any of its
  // keys. Thread-safe against every other method. FailedPrecondition if the hmac key differs
  // (the lookup hashes are made with it) or a key is not kKeySize bytes; nothing changes then.
  Status Reload(const NodeKeys& keys);

  // The plaintext of a blob from Seal() with the same `associated_data` and keys. Any other
  // input (wrong key, wrong associated data, a changed or missing byte, unknown version) is
  // DataLoss("sealed field failed authentication"); the causes are deliberately not told apart.
  Result<std::string> Open(std::string_view sealed, std::string_view associated_data) const;

  // HMAC-SHA-256 of `value` under the hmac key: kLookupHashSize raw bytes. Deterministic, so
  // equal values have equal hashes and an index on it finds a record by number; not reversible
  // without the key, even though there are only 10^12 possible numbers. Normalise `value`
  // (e.g. the 12 ASCII digits) before hashing, since different spellings hash differently.
  std::string LookupHash(std::string_view value) const;

 private:
  struct AeadKey {
    std::array<unsigned char, kKeySize> key;
    std::string id;  // kKeyIdSize raw bytes
  };
  // Oldest first; the last is current, the first opens version-0x01 blobs. Guarded by mu_
  // (Reload replaces them while other threads seal and open).
  mutable std::shared_mutex mu_;
  std::vector<AeadKey> aead_keys_;
  bool key_ids_ = false;
  std::array<unsigned char, kKeySize> hmac_key_;
};

}  // namespace kakunin::crypto
