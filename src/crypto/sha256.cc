#include "crypto/sha256.h"

#include <openssl/evp.h>

#include <cassert>
#include <cstdio>
#include <cstdlib>

namespace kakunin::crypto {
namespace {

// OpenSSL fails here only without memory; carrying on would produce wrong digests.
void CheckOpenSsl(int ok) {
  if (ok == 1) return;
  std::fputs("kakunin::crypto: OpenSSL SHA-256 failed; aborting\n", stderr);
  std::abort();
}

}  // namespace

std::string Sha256(std::string_view data) {
  // One context per thread, reused: creating an EVP context per hash costs more than hashing
  // a small log entry (the verifier hashes every entry and node).
  thread_local Sha256Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

namespace {
// Fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up (under a lock) at
// every EVP_DigestInit_ex, which cost more than hashing a log entry.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? static_cast<const EVP_MD*>(fetched) : EVP_sha256();
  }();
  return md;
}
}  // namespace

void Sha256Hasher::ContextDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  CheckOpenSsl(ctx_ != nullptr);
  CheckOpenSsl(EVP_DigestInit_ex(ctx_.get(), Sha256Md(), nullptr));
}

void Sha256Hasher::Update(std::string_view data) {
  assert(ctx_ != nullptr);
  CheckOpenSsl(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()));
}

void Sha256Hasher::FinishTo(char* out) {
  assert(ctx_ != nullptr);
  unsigned int size = 0;
  CheckOpenSsl(EVP_DigestFinal_ex(ctx_.get(), reinterpret_cast<unsigned char*>(out), &size));
  assert(size == kSha256Size);
  CheckOpenSsl(EVP_DigestInit_ex(ctx_.get(), Sha256Md(), nullptr));
}

void Sha256To(std::initializer_list<std::string_view> parts, char* out) {
  thread_local Sha256Hasher hasher;
  for (std::string_view p : parts) hasher.Update(p);
  hasher.FinishTo(out);
}

std::string Sha256Hasher::Finish() {
  assert(ctx_ != nullptr);
  std::string digest(kSha256Size, '\0');
  unsigned int size = 0;
  CheckOpenSsl(
      EVP_DigestFinal_ex(ctx_.get(), reinterpret_cast<unsigned char*>(digest.data()), &size));
  assert(size == kSha256Size);
  CheckOpenSsl(EVP_DigestInit_ex(ctx_.get(), Sha256Md(), nullptr));
  return digest;
}

}  // namespace kakunin::crypto
