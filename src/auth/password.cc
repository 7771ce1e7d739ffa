#include "auth/password.h"

#include <sodium.h>

#include "text/utf8.h"

namespace kakunin::auth {
namespace {
constexpr unsigned long long kOpsLimit = 2;
constexpr size_t kMemLimit = 19 * 1024 * 1024;
}  // namespace

Status CheckPasswordPolicy(std::string_view password, std::string_view operator_id) {
  if (!text::IsValidUtf8(password)) return Status::InvalidArgument("the password is not UTF-8");
  const size_t n = text::CodePointCount(password);
  if (n < 12) return Status::InvalidArgument("the password needs at least 12 characters");
  if (n > 128) return Status::InvalidArgument("the password may have at most 128 characters");
  for (unsigned char c : password) {
    if (c < 0x20 || c == 0x7F) {
      return Status::InvalidArgument("the password may not contain control characters");
    }
  }
  if (!operator_id.empty() && password.find(operator_id) != std::string_view::npos) {
    return Status::InvalidArgument("the password may not contain the operator id");
  }
  return Status::Ok();
}

Result<std::string> HashPassword(std::string_view password) {
  if (sodium_init() < 0) return Status::Internal("libsodium could not start");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), kOpsLimit, kMemLimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::ResourceExhausted("out of memory while hashing a password");
  }
  return std::string(out);
}

bool VerifyPassword(const std::string& hash, std::string_view password) {
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  if (sodium_init() < 0) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

const std::string& DummyPasswordHash() {
  static const std::string hash = [] {
    unsigned char random[32];
    randombytes_buf(random, sizeof random);
    auto h = HashPassword(std::string_view(reinterpret_cast<char*>(random), sizeof random));
    return h.ok() ? *h : std::string();
  }();
  return hash;
}

}  // namespace kakunin::auth
