#include "core/random.h"

#include <gtest/gtest.h>

#include <set>

namespace kakunin {
namespace {

TEST(RandomTest, SeededIsDeterministic) {
  SeededRandom a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    (void)c;
  }
  EXPECT_NE(SeededRandom(42).Next(), SeededRandom(43).Next());
}

TEST(RandomTest, UniformStaysInRange) {
  SeededRandom r(1);
  std::vector<int> counts(7);
  for (int i = 0; i < 70000; ++i) {
    uint64_t v = r.Uniform(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 600);
  for (int i = 0; i < 1000; ++i) {
    double d = r.UniformDouble();
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 1.0);
  }
}

TEST(FeistelTest, IsABijection) {
  FeistelPermutation p(7, 12);
  std::set<uint64_t> seen;
  for (uint64_t x = 0; x < 4096; ++x) {
    uint64_t y = p.Apply(x);
    ASSERT_LT(y, 4096u);
    seen.insert(y);
  }
  EXPECT_EQ(seen.size(), 4096u);
  std::set<uint64_t> within;
  for (uint64_t x = 0; x < 1000; ++x) within.insert(p.ApplyWithin(x, 1000));
  EXPECT_EQ(within.size(), 1000u);
  EXPECT_LT(*within.rbegin(), 1000u);
}

}  // namespace
}  // namespace kakunin
