#pragma once

// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed 64-bit
// pseudorandom function, fast on short inputs. The log verifier uses it, under a key drawn at
// random for each run, to compare a table with what the entries call for as a multiset
// (MultisetDigest) — one pass over each, in any order, in constant memory — where a table of
// millions of rows cannot be held to compare row by row. It is not a MAC for anything stored.

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace kakunin::crypto {

struct SipKey {
  uint64_t k0 = 0, k1 = 0;
};

// SipHash-2-4 of `data` under `key` (the key's 16 bytes read little-endian as k0, k1, as in the
// paper's reference).
uint64_t SipHash24(const SipKey& key, std::string_view data);

// A digest of a multiset of byte strings, independent of the order they are added in: the sum
// (mod 2^64) of each element's SipHash under a random key, and the count. Two different
// multisets fixed before the key was drawn get the same digest with probability about 2^-64
// (the key is drawn for each comparison and never leaves the process, so whoever chose the
// multisets cannot aim at it). Both sides of a comparison must use the same key (Keyed()).
class MultisetDigest {
 public:
  // A digest with fresh random keys; kInternal if the system's randomness fails.
  static Result<MultisetDigest> Random();
  // An empty digest under the same keys as this one.
  MultisetDigest Keyed() const;

  void Add(std::string_view element) {
    sum_ += SipHash24(k_, element);
    ++count_;
  }
  // Adds every element of `other` (same key).
  void Merge(const MultisetDigest& other) {
    sum_ += other.sum_;
    count_ += other.count_;
  }
  int64_t count() const { return count_; }
  // Same elements, as far as the keys can tell (the keys are not compared).
  bool SameAs(const MultisetDigest& o) const { return sum_ == o.sum_ && count_ == o.count_; }

 private:
  SipKey k_;
  uint64_t sum_ = 0;
  int64_t count_ = 0;
};

}  // namespace kakunin::crypto
