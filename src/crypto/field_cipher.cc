#include "crypto/field_cipher.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kakunin::crypto {
namespace {

constexpr unsigned char kSealVersion = 0x01;
constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kHeaderSize = 1 + kNonceSize;

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

FieldCipher::FieldCipher(const NodeKeys& keys) {
  if (!InitSodium().ok()) Die("libsodium failed to initialise");
  if (keys.aead_key.size() != kKeySize || keys.hmac_key.size() != kKeySize) {
    Die("FieldCipher needs two keys of 32 bytes");
  }
  std::memcpy(aead_key_.data(), keys.aead_key.data(), kKeySize);
  std::memcpy(hmac_key_.data(), keys.hmac_key.data(), kKeySize);
}

FieldCipher::~FieldCipher() {
  sodium_memzero(aead_key_.data(), aead_key_.size());
  sodium_memzero(hmac_key_.data(), hmac_key_.size());
}

std::string FieldCipher::Seal(std::string_view plaintext, std::string_view associated_data) const {
  std::string sealed(plaintext.size() + kSealOverhead, '\0');
  unsigned char* out = Bytes(sealed);
  out[0] = kSealVersion;
  randombytes_buf(out + 1, kNonceSize);
  // Cannot fail for messages below crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX (~256 GiB).
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out + kHeaderSize, nullptr, Bytes(plaintext), plaintext.size(), Bytes(associated_data),
      associated_data.size(), nullptr, out + 1, aead_key_.data());
  return sealed;
}

Result<std::string> FieldCipher::Open(std::string_view sealed,
                                      std::string_view associated_data) const {
  const Status failed = Status::DataLoss("sealed field failed authentication");
  if (sealed.size() < kSealOverhead || Bytes(sealed)[0] != kSealVersion) return failed;
  std::string plaintext(sealed.size() - kSealOverhead, '\0');
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          Bytes(plaintext), nullptr, nullptr, Bytes(sealed) + kHeaderSize,
          sealed.size() - kHeaderSize, Bytes(associated_data), associated_data.size(),
          Bytes(sealed) + 1, aead_key_.data()) != 0) {
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
