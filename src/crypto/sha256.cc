#include "crypto/sha256.h"

// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but kept and supported
// through the 3.x series; this file asks for the 1.1.1 API so that they are declared without the
// deprecation attribute (sha256.h says why they are used).
#define OPENSSL_API_COMPAT 10101
#include <openssl/sha.h>

#include <cstdio>
#include <cstdlib>
#include <new>

namespace kakunin::crypto {
namespace {

// OpenSSL's SHA-256 functions fail only on a null argument; carrying on would produce wrong
// digests, so a failure aborts.
void CheckOpenSsl(int ok) {
  if (ok == 1) return;
  std::fputs("kakunin::crypto: OpenSSL SHA-256 failed; aborting\n", stderr);
  std::abort();
}

SHA256_CTX* Ctx(unsigned char* bytes) {
  return std::launder(reinterpret_cast<SHA256_CTX*>(bytes));
}

}  // namespace

std::string Sha256(std::string_view data) {
  std::string digest(kSha256Size, '\0');
  Sha256To({data}, digest.data());
  return digest;
}

void Sha256To(std::initializer_list<std::string_view> parts, char* out) {
  Sha256Hasher hasher;  // on the stack: no allocation, no context to fetch
  for (std::string_view p : parts) hasher.Update(p);
  hasher.FinishTo(out);
}

Sha256Hasher::Sha256Hasher() {
  static_assert(sizeof(SHA256_CTX) <= sizeof(ctx_), "Sha256Hasher::ctx_ too small");
  static_assert(alignof(SHA256_CTX) <= 8, "Sha256Hasher::ctx_ under-aligned");
  CheckOpenSsl(SHA256_Init(new (ctx_) SHA256_CTX));
}

void Sha256Hasher::Update(std::string_view data) {
  CheckOpenSsl(SHA256_Update(Ctx(ctx_), data.data(), data.size()));
}

void Sha256Hasher::FinishTo(char* out) {
  CheckOpenSsl(SHA256_Final(reinterpret_cast<unsigned char*>(out), Ctx(ctx_)));
  CheckOpenSsl(SHA256_Init(Ctx(ctx_)));
}

std::string Sha256Hasher::Finish() {
  std::string digest(kSha256Size, '\0');
  FinishTo(digest.data());
  return digest;
}

}  // namespace kakunin::crypto
