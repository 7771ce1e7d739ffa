#pragma once

// SHA-256 through OpenSSL's EVP interface, which uses the CPU's SHA extensions where present
// (the operation log's hash chain and Merkle tree hash every entry, so speed matters).
// OpenSSL stays out of this header: callers get plain strings of raw bytes.

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

// OpenSSL's EVP_MD_CTX, declared here so that this header does not pull in <openssl/evp.h>.
struct evp_md_ctx_st;

namespace kakunin::crypto {

inline constexpr size_t kSha256Size = 32;

// The SHA-256 digest of `data`: kSha256Size raw bytes (HexEncode them for display).
// Thread-safe. Aborts the process if OpenSSL fails, which happens only when it cannot allocate
// memory: a digest that silently came out wrong would corrupt the operation log.
std::string Sha256(std::string_view data);

// SHA-256 of the concatenation of `parts` into `out` (kSha256Size bytes), without a heap
// allocation: for the log verifier, which hashes every entry, node and chain step.
// Thread-safe like Sha256().
void Sha256To(std::initializer_list<std::string_view> parts, char* out);

// SHA-256 over data that arrives in pieces; the result equals Sha256() of the concatenation.
// Not thread-safe: one hasher per thread. Movable (a moved-from hasher may only be destroyed or
// assigned to) but not copyable, since it owns an OpenSSL context. Aborts like Sha256() if
// OpenSSL fails.
class Sha256Hasher {
 public:
  Sha256Hasher();
  Sha256Hasher(Sha256Hasher&&) noexcept = default;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept = default;
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  ~Sha256Hasher() = default;

  // Appends `data` to the message.
  void Update(std::string_view data);

  // The digest of everything passed to Update() since construction or the previous Finish()
  // (kSha256Size raw bytes). Resets the hasher, so it can hash the next message.
  std::string Finish();
  // The same into `out` (kSha256Size bytes), without allocating.
  void FinishTo(char* out);

 private:
  struct ContextDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, ContextDeleter> ctx_;
};

}  // namespace kakunin::crypto
