#include "crypto/siphash.h"

#include <openssl/rand.h>

#include <cstring>


namespace kakunin::crypto {
namespace {

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline uint64_t Load64Le(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);  // one load on this little-endian target
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "SipHash reads words little-endian");
  return v;
}

struct State {
  uint64_t v0, v1, v2, v3;
  void Round() {
    v0 += v1;
    v1 = Rotl(v1, 13);
    v1 ^= v0;
    v0 = Rotl(v0, 32);
    v2 += v3;
    v3 = Rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = Rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = Rotl(v1, 17);
    v1 ^= v2;
    v2 = Rotl(v2, 32);
  }
  void Compress(uint64_t m) {
    v3 ^= m;
    Round();
    Round();
    v0 ^= m;
  }
};

}  // namespace

uint64_t SipHash24(const SipKey& key, std::string_view data) {
  State s{key.k0 ^ 0x736f6d6570736575ull, key.k1 ^ 0x646f72616e646f6dull,
          key.k0 ^ 0x6c7967656e657261ull, key.k1 ^ 0x7465646279746573ull};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  const size_t whole = n - n % 8;
  for (size_t i = 0; i < whole; i += 8) s.Compress(Load64Le(p + i));
  // The last block: the remaining bytes, little-endian, with the length's low byte on top.
  uint64_t last = static_cast<uint64_t>(n & 0xff) << 56;
  for (size_t i = 0; i < n % 8; ++i) last |= static_cast<uint64_t>(p[whole + i]) << (8 * i);
  s.Compress(last);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.Round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

Result<MultisetDigest> MultisetDigest::Random() {
  MultisetDigest d;
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Status::Internal("no randomness for a key");
  d.k_ = {Load64Le(bytes), Load64Le(bytes + 8)};
  return d;
}

MultisetDigest MultisetDigest::Keyed() const {
  MultisetDigest d;
  d.k_ = k_;
  return d;
}

}  // namespace kakunin::crypto
