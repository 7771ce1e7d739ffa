#pragma once

// Randomness is injected (DESIGN §8). `Random` is the interface; `SeededRandom` is a
// fast deterministic generator (xoshiro256**, seeded through splitmix64) for the data
// generator and tests. Not for keys: cryptographic randomness lives in crypto/.

#include <cstdint>

namespace kakunin {

class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t Next() = 0;
  // Uniform in [0, n). REQUIRES: n > 0.
  uint64_t Uniform(uint64_t n);
  // Uniform in [0, 1).
  double UniformDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
};

// Not thread-safe: one per thread.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed);
  uint64_t Next() override;

 private:
  uint64_t s_[4];
};

// A bijection on [0, 2^bits) keyed by `key` (a small Feistel network); with cycle
// walking it gives unique pseudo-random values in any range [0, n). REQUIRES: bits even,
// 2 <= bits <= 62.
class FeistelPermutation {
 public:
  FeistelPermutation(uint64_t key, int bits);
  uint64_t Apply(uint64_t x) const;
  // A bijection on [0, n) by cycle walking. REQUIRES: n <= 2^bits.
  uint64_t ApplyWithin(uint64_t x, uint64_t n) const;

 private:
  uint64_t keys_[4];
  int half_bits_;
  uint64_t mask_;
};

}  // namespace kakunin
