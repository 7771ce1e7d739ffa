#pragma once

// SHA-256 through OpenSSL's SHA256_* functions: the same assembly as its EVP interface (the
// CPU's SHA extensions where present), without EVP's per-call dispatch through the provider,
// which cost a third of hashing a log entry or a tree node (45 of 140 ns; the verifier hashes
// four or five of them per entry). These hashes cover public log data and keep no secret; a
// build for a FIPS-validated provider would route them through EVP again (docs/audit-log.md).
// OpenSSL stays out of this header: callers get plain strings of raw bytes.

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace kakunin::crypto {

inline constexpr size_t kSha256Size = 32;

// The SHA-256 digest of `data`: kSha256Size raw bytes (HexEncode them for display).
// Thread-safe. Aborts the process if OpenSSL reports a failure (it has no reason to: the state is
// on the stack): a digest that silently came out wrong would corrupt the operation log.
std::string Sha256(std::string_view data);

// SHA-256 of the concatenation of `parts` into `out` (kSha256Size bytes), without a heap
// allocation: for the log verifier, which hashes every entry, node and chain step.
// Thread-safe like Sha256().
void Sha256To(std::initializer_list<std::string_view> parts, char* out);

// SHA-256 over data that arrives in pieces; the result equals Sha256() of the concatenation.
// Not thread-safe: one hasher per thread. Copyable and movable: its state is plain bytes (a
// copy continues the same message independently).
class Sha256Hasher {
 public:
  Sha256Hasher();

  // Appends `data` to the message.
  void Update(std::string_view data);

  // The digest of everything passed to Update() since construction or the previous Finish()
  // (kSha256Size raw bytes). Resets the hasher, so it can hash the next message.
  std::string Finish();
  // The same into `out` (kSha256Size bytes), without allocating.
  void FinishTo(char* out);

 private:
  // OpenSSL's SHA256_CTX (112 bytes on every platform OpenSSL supports), held in place so that
  // this header does not pull in <openssl/sha.h>; sha256.cc checks the size and alignment.
  alignas(8) unsigned char ctx_[128];
};

}  // namespace kakunin::crypto
