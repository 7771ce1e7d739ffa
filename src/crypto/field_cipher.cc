#include "crypto/field_cipher.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "crypto/sha256.h"

namespace kakunin::crypto {
namespace {

constexpr unsigned char kSealVersion = 0x01;
constexpr unsigned char kSealVersionWithKeyId = 0x02;
constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kHeaderSize = 1 + kNonceSize;
constexpr std::string_view kKeyIdLabel = "kakunin field key id v1";

static_assert(kSealOverhead == kHeaderSize + crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kLookupHashSize == crypto_auth_hmacsha256_BYTES);

[[noreturn]] void Die(const char* why) {
  std::fprintf(stderr, "kakunin::crypto: %s; aborting\n", why);
  std::abort();
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

}  // namespace

std::string FieldKeyId(std::string_view aead_key) {
  std::string input(kKeyIdLabel);
  input.append(aead_key);
  std::string id = Sha256(input).substr(0, kKeyIdSize);
  sodium_memzero(input.data(), input.size());
  return id;
}

FieldCipher::FieldCipher(const NodeKeys& keys) {
  if (!InitSodium().ok()) Die("libsodium failed to initialise");
  if (keys.aead_key.size() != kKeySize || keys.hmac_key.size() != kKeySize) {
    Die("FieldCipher needs two keys of 32 bytes");
  }
  auto add = [&](const std::string& k) {
    if (k.size() != kKeySize) Die("FieldCipher needs aead keys of 32 bytes");
    AeadKey a;
    std::memcpy(a.key.data(), k.data(), kKeySize);
    a.id = FieldKeyId(k);
    aead_keys_.push_back(std::move(a));
  };
  for (const std::string& k : keys.previous_aead_keys) add(k);
  add(keys.aead_key);
  key_ids_ = keys.key_ids;
  std::memcpy(hmac_key_.data(), keys.hmac_key.data(), kKeySize);
}

size_t FieldCipher::key_count() const {
  std::shared_lock lock(mu_);
  return aead_keys_.size();
}

Status FieldCipher::Reload(const NodeKeys& keys) {
  if (keys.hmac_key.size() != kKeySize || keys.aead_key.size() != kKeySize ||
      sodium_memcmp(keys.hmac_key.data(), hmac_key_.data(), kKeySize) != 0) {
    return Status::FailedPrecondition("the reloaded key file has another lookup (hmac) key");
  }
  std::vector<const std::string*> all;
  for (const std::string& k : keys.previous_aead_keys) all.push_back(&k);
  all.push_back(&keys.aead_key);
  std::vector<AeadKey> loaded;
  for (const std::string* k : all) {
    if (k->size() != kKeySize) return Status::FailedPrecondition("a field key is not 32 bytes");
    AeadKey a;
    std::memcpy(a.key.data(), k->data(), kKeySize);
    a.id = FieldKeyId(*k);
    loaded.push_back(std::move(a));
  }
  std::unique_lock lock(mu_);
  for (AeadKey& k : aead_keys_) sodium_memzero(k.key.data(), k.key.size());
  aead_keys_ = std::move(loaded);
  key_ids_ = keys.key_ids;
  return Status::Ok();
}

FieldCipher::~FieldCipher() {
  for (AeadKey& k : aead_keys_) sodium_memzero(k.key.data(), k.key.size());
  sodium_memzero(hmac_key_.data(), hmac_key_.size());
}

std::string FieldCipher::Seal(std::string_view plaintext, std::string_view associated_data) const {
  std::shared_lock lock(mu_);
  const AeadKey& current = aead_keys_.back();
  const size_t prefix = key_ids_ ? 1 + kKeyIdSize : 1;
  std::string sealed(plaintext.size() + kSealOverhead + prefix - 1, '\0');
  unsigned char* out = Bytes(sealed);
  out[0] = key_ids_ ? kSealVersionWithKeyId : kSealVersion;
  if (key_ids_) std::memcpy(out + 1, current.id.data(), kKeyIdSize);
  unsigned char* nonce = out + prefix;
  randombytes_buf(nonce, kNonceSize);
  // Cannot fail for messages below crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX (~256 GiB).
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceSize, nullptr, Bytes(plaintext), plaintext.size(), Bytes(associated_data),
      associated_data.size(), nullptr, nonce, current.key.data());
  return sealed;
}

bool FieldCipher::SealedUnderCurrentKey(std::string_view sealed) const {
  return sealed.starts_with(CurrentPrefix());
}

std::string FieldCipher::CurrentPrefix() const {
  std::shared_lock lock(mu_);
  if (!key_ids_) {
    // Without key ids only one key can be current, and only while it is the only key.
    return aead_keys_.size() == 1 ? std::string(1, static_cast<char>(kSealVersion))
                                  : std::string(1, '\0');  // matches no blob
  }
  return std::string(1, static_cast<char>(kSealVersionWithKeyId)) + aead_keys_.back().id;
}

Result<std::string> FieldCipher::Open(std::string_view sealed,
                                      std::string_view associated_data) const {
  const Status failed = Status::DataLoss("sealed field failed authentication");
  if (sealed.size() < kSealOverhead) return failed;
  std::shared_lock lock(mu_);
  const AeadKey* key = nullptr;
  size_t prefix = 1;
  if (Bytes(sealed)[0] == kSealVersion) {
    key = &aead_keys_.front();
  } else if (Bytes(sealed)[0] == kSealVersionWithKeyId && sealed.size() >= kSealOverheadWithKeyId) {
    prefix = 1 + kKeyIdSize;
    std::string_view id = sealed.substr(1, kKeyIdSize);
    for (const AeadKey& k : aead_keys_) {
      if (k.id == id) key = &k;
    }
  }
  if (key == nullptr) return failed;
  const unsigned char* nonce = Bytes(sealed) + prefix;
  const size_t body = sealed.size() - prefix - kNonceSize;
  std::string plaintext(sealed.size() - prefix - kSealOverhead + 1, '\0');
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          Bytes(plaintext), nullptr, nullptr, nonce + kNonceSize, body, Bytes(associated_data),
          associated_data.size(), nonce, key->key.data()) != 0) {
    return failed;
  }
  return plaintext;
}

std::string FieldCipher::LookupHash(std::string_view value) const {
  std::string hash(kLookupHashSize, '\0');
  crypto_auth_hmacsha256(Bytes(hash), Bytes(value), value.size(), hmac_key_.data());
  return hash;
}

}  // namespace kakunin::crypto
