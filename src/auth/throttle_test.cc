#include "auth/throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace kakunin::auth {
namespace {

constexpr int64_t kSecond = 1000000;

TEST(RateLimiterTest, BurstThenOnePerRefillPerAddress) {
  FixedClock clock(1000 * kSecond);
  RateLimiter limiter(&clock, 3, 10 * kSecond, 100);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("10.0.0.1")) << i;
  EXPECT_FALSE(limiter.Allow("10.0.0.1")) << "the burst is spent";
  EXPECT_TRUE(limiter.Allow("10.0.0.2")) << "another address has its own bucket";
  clock.Advance(9 * kSecond);
  EXPECT_FALSE(limiter.Allow("10.0.0.1"));
  clock.Advance(1 * kSecond);
  EXPECT_TRUE(limiter.Allow("10.0.0.1")) << "one token back after the refill time";
  EXPECT_FALSE(limiter.Allow("10.0.0.1"));
}

TEST(RateLimiterTest, ManyAddressesDoNotGrowTheTableOrEscapeTheLimit) {
  FixedClock clock(0);
  RateLimiter limiter(&clock, 2, 60 * kSecond, 4);
  int allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += limiter.Allow("addr" + std::to_string(i)) ? 1 : 0;
  EXPECT_LE(limiter.size(), 4u);
  // Four tracked addresses took their first token; the rest shared one overflow bucket of 2.
  EXPECT_EQ(allowed, 4 + 2);
}

TEST(RateLimiterTest, ConcurrentCallersNeverGetMoreThanTheBurst) {
  FixedClock clock(0);
  RateLimiter limiter(&clock, 5, 3600 * kSecond, 10);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) allowed += limiter.Allow("one") ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 5);
}

TEST(RefusalSamplerTest, OneEntryPerAddressPerIntervalCarryingTheCount) {
  FixedClock clock(1000 * kSecond);
  RefusalSampler sampler(&clock, 60 * kSecond, 100);
  auto first = sampler.Note("10.0.0.1", "session_required");
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)["session_required"], 1);
  for (int i = 0; i < 99; ++i) {
    EXPECT_FALSE(sampler.Note("10.0.0.1", i % 2 ? "session_required" : "login_failed"));
  }
  EXPECT_TRUE(sampler.Note("10.0.0.2", "session_required")) << "each address has its own window";
  clock.Advance(59 * kSecond);
  EXPECT_FALSE(sampler.Note("10.0.0.1", "login_failed"));
  clock.Advance(1 * kSecond);
  auto next = sampler.Note("10.0.0.1", "session_required");
  ASSERT_TRUE(next) << "the interval has passed";
  // Everything held back since the first entry, and this one.
  EXPECT_EQ((*next)["session_required"], 49 + 1);
  EXPECT_EQ((*next)["login_failed"], 50 + 1);
}

TEST(RefusalSamplerTest, ManyAddressesShareOneOverflowWindow) {
  FixedClock clock(0);
  RefusalSampler sampler(&clock, 60 * kSecond, 8);
  int written = 0;
  for (int i = 0; i < 1000; ++i) {
    if (sampler.Note("addr" + std::to_string(i), "session_required")) ++written;
  }
  EXPECT_LE(sampler.size(), 8u);
  EXPECT_EQ(written, 8 + 1) << "eight tracked addresses and the overflow window";
  // Once their windows have ended, the tracked addresses make room for new ones.
  clock.Advance(60 * kSecond);
  EXPECT_TRUE(sampler.Note("newcomer", "session_required"));
  EXPECT_LE(sampler.size(), 8u);
}

// Fix review: a key refused twice in its window (one held back) and never again kept its slot
// for good; enough of them and every newcomer shared the overflow window. Ten intervals on, such
// a window is forgotten, held count and all.
TEST(RefusalSamplerTest, AWindowHoldingACountIsForgottenTenIntervalsOn) {
  FixedClock clock(0);
  RefusalSampler sampler(&clock, 60 * kSecond, 4);
  for (int i = 0; i < 4; ++i) {
    const std::string key = "cert" + std::to_string(i);
    EXPECT_TRUE(sampler.Note(key, "client_not_registered"));
    EXPECT_FALSE(sampler.Note(key, "client_not_registered"));  // held back
  }
  clock.Advance(2 * 60 * kSecond);
  EXPECT_TRUE(sampler.Note("late", "client_not_registered"));  // the overflow window's first
  EXPECT_FALSE(sampler.Note("later", "client_not_registered")) << "still sharing the overflow";
  clock.Advance(9 * 60 * kSecond);
  EXPECT_TRUE(sampler.Note("newcomer", "client_not_registered")) << "a slot of its own again";
  EXPECT_LE(sampler.size(), 4u);
}

// Fix review: refusals held back after a burst were written only if another refusal came from
// the same key; one that never came lost them. TakeHeld hands them over once the interval ends.
TEST(RefusalSamplerTest, HeldCountsAreTakenWhenTheIntervalEndsOrAtTheEnd) {
  FixedClock clock(0);
  RefusalSampler sampler(&clock, 60 * kSecond, 2, /*free_per_interval=*/2);
  EXPECT_TRUE(sampler.Note("a", "quota_exceeded"));
  EXPECT_TRUE(sampler.Note("a", "quota_exceeded"));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(sampler.Note("a", i < 3 ? "quota_exceeded" : "bad"));
  EXPECT_TRUE(sampler.Note("b", "quota_exceeded"));
  EXPECT_TRUE(sampler.Note("b", "quota_exceeded"));
  EXPECT_FALSE(sampler.Note("b", "quota_exceeded"));
  for (int i = 0; i < 3; ++i) sampler.Note("c" + std::to_string(i), "quota_exceeded");  // overflow
  EXPECT_TRUE(sampler.TakeHeld(false).empty()) << "the interval has not ended";
  clock.Advance(60 * kSecond);
  auto held = sampler.TakeHeld(false);
  ASSERT_EQ(held.size(), 3u);
  EXPECT_EQ(held[0].first, "a");
  EXPECT_EQ(held[0].second["quota_exceeded"], 3);
  EXPECT_EQ(held[0].second["bad"], 2);
  EXPECT_EQ(held[1].first, "b");
  EXPECT_EQ(held[1].second["quota_exceeded"], 1);
  EXPECT_EQ(held[2].first, "") << "the overflow slot";
  EXPECT_EQ(held[2].second["quota_exceeded"], 1);
  EXPECT_TRUE(sampler.TakeHeld(true).empty()) << "taken once";
  // The next refusal starts a new interval and carries nothing taken before.
  auto next = sampler.Note("a", "quota_exceeded");
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)["quota_exceeded"], 1);
  EXPECT_EQ(next->size(), 1u);
  // At the end, everything held is taken, whether or not its interval has ended.
  EXPECT_TRUE(sampler.Note("a", "quota_exceeded"));
  EXPECT_FALSE(sampler.Note("a", "quota_exceeded"));
  EXPECT_TRUE(sampler.TakeHeld(false).empty());
  held = sampler.TakeHeld(true);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].second["quota_exceeded"], 1);
}

}  // namespace
}  // namespace kakunin::auth
