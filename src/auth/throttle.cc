#include "auth/throttle.h"

#include <algorithm>

namespace kakunin::auth {
namespace {
constexpr int64_t kSweepEvery = 1000000;  // µs
}  // namespace

RateLimiter::RateLimiter(const Clock* clock, int burst, int64_t refill_micros, size_t max_keys)
    : clock_(clock),
      burst_(std::max(1, burst)),
      refill_(std::max<int64_t>(1, refill_micros)),
      max_keys_(std::max<size_t>(1, max_keys)) {
  overflow_.tokens = burst_;
  overflow_.updated = clock_->NowMicros();
}

void RateLimiter::Refill(Bucket& b, int64_t now) const {
  if (now > b.updated) {
    b.tokens = std::min(burst_, b.tokens + static_cast<double>(now - b.updated) / refill_);
  }
  b.updated = std::max(b.updated, now);
}

bool RateLimiter::Allow(const std::string& key) {
  const int64_t now = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_ && now - last_sweep_ >= kSweepEvery) {
      // A full bucket is the same as no bucket: forget those to make room. At most once a
      // second, so a stream of new addresses cannot make every request walk the table.
      last_sweep_ = now;
      for (auto i = buckets_.begin(); i != buckets_.end();) {
        Refill(i->second, now);
        i = i->second.tokens >= burst_ ? buckets_.erase(i) : std::next(i);
      }
    }
    if (buckets_.size() >= max_keys_) {
      Refill(overflow_, now);
      if (overflow_.tokens < 1) return false;
      overflow_.tokens -= 1;
      return true;
    }
    it = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  Refill(b, now);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

size_t RateLimiter::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

RefusalSampler::RefusalSampler(const Clock* clock, int64_t interval_micros, size_t max_keys,
                               int free_per_interval)
    : clock_(clock),
      interval_(std::max<int64_t>(1, interval_micros)),
      max_keys_(std::max<size_t>(1, max_keys)),
      free_(std::max(1, free_per_interval)) {}

std::optional<RefusalSampler::Counts> RefusalSampler::NoteIn(Window& w, const std::string& reason,
                                                             int64_t now) {
  ++w.held[reason];
  if (!w.written || now - w.written_at >= interval_) {
    w.written = true;
    w.written_at = now;
    w.written_in_interval = 0;
  }
  if (w.written_in_interval >= free_) return std::nullopt;
  ++w.written_in_interval;
  Counts out;
  out.swap(w.held);
  return out;
}

std::optional<RefusalSampler::Counts> RefusalSampler::Note(const std::string& key,
                                                           const std::string& reason) {
  const int64_t now = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    if (windows_.size() >= max_keys_ && now - last_sweep_ >= kSweepEvery) {
      // A window that has ended with nothing held back tells nothing more: forget it (at most
      // once a second, as above). One whose key has not come back for ten intervals is
      // forgotten too, held counts and all (found in review: keys refused twice and never again
      // would otherwise fill the table for good, and every newcomer share the overflow slot).
      last_sweep_ = now;
      for (auto i = windows_.begin(); i != windows_.end();) {
        const int64_t age = now - i->second.written_at;
        const bool idle = (i->second.held.empty() && age >= interval_) || age >= 10 * interval_;
        i = idle ? windows_.erase(i) : std::next(i);
      }
    }
    if (windows_.size() >= max_keys_) return NoteIn(overflow_, reason, now);
    it = windows_.emplace(key, Window{}).first;
  }
  return NoteIn(it->second, reason, now);
}

void RefusalSampler::AppendCounts(const Counts& counts, std::string* conditions,
                                  bool even_one) {
  int64_t n = 0;
  for (const auto& [reason, k] : counts) n += k;
  if (n <= 1 && counts.size() <= 1 && !even_one) return;
  std::string by_reason;
  for (const auto& [reason, k] : counts) by_reason += " " + reason + "=" + std::to_string(k);
  *conditions += (conditions->empty() ? "" : " ") + std::string("count=") + std::to_string(n) +
                 by_reason;
}

std::vector<std::pair<std::string, RefusalSampler::Counts>> RefusalSampler::TakeHeld(
    bool everything) {
  const int64_t now = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, Counts>> out;
  auto take = [&](const std::string& key, Window& w) {
    if (w.held.empty() || (!everything && now - w.written_at < interval_)) return;
    out.emplace_back(key, Counts{});
    out.back().second.swap(w.held);
  };
  for (auto& [key, w] : windows_) take(key, w);
  take("", overflow_);
  return out;
}

size_t RefusalSampler::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return windows_.size();
}

}  // namespace kakunin::auth
