#include "core/random.h"

namespace kakunin {
namespace {
uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

uint64_t Random::Uniform(uint64_t n) {
  // Lemire's nearly divisionless method, with rejection for exact uniformity.
  unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    uint64_t t = -n % n;
    while (low < t) {
      m = static_cast<unsigned __int128>(Next()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

SeededRandom::SeededRandom(uint64_t seed) {
  for (auto& s : s_) s = SplitMix64(seed);
}

uint64_t SeededRandom::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

FeistelPermutation::FeistelPermutation(uint64_t key, int bits)
    : half_bits_(bits / 2), mask_((uint64_t{1} << (bits / 2)) - 1) {
  for (auto& k : keys_) k = SplitMix64(key);
}

uint64_t FeistelPermutation::Apply(uint64_t x) const {
  uint64_t l = x >> half_bits_, r = x & mask_;
  for (uint64_t k : keys_) {
    uint64_t f = r ^ k;
    f = SplitMix64(f) & mask_;
    uint64_t nl = r;
    r = l ^ f;
    l = nl;
  }
  return (l << half_bits_) | r;
}

uint64_t FeistelPermutation::ApplyWithin(uint64_t x, uint64_t n) const {
  do {
    x = Apply(x);
  } while (x >= n);
  return x;
}

}  // namespace kakunin
