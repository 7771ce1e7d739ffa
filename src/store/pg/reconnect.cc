#include "store/pg/reconnect.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace kakunin::store::pg {
namespace {

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Reconnector::Reconnector(std::string url, std::function<int64_t()> now, Backoff backoff)
    : url_(std::move(url)), now_(now ? std::move(now) : SteadyMicros), backoff_(backoff) {}

Result<std::unique_ptr<Conn>> Reconnector::Open() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = now_();
    if (delay_ > 0) {
      if (now < next_attempt_) {
        return Status::Unavailable("the database is unreachable (next attempt in " +
                                   std::to_string((next_attempt_ - now + 999) / 1000) +
                                   " ms): " + last_error_);
      }
      // One attempt per interval: the threads arriving while this one tries fail at once.
      // (While the server is reachable nothing is gated: readers open side by side.)
      next_attempt_ = now + delay_;
    }
    ++attempts_;
  }
  auto c = Conn::Open(url_);
  std::lock_guard<std::mutex> lock(mu_);
  if (c.ok()) {
    delay_ = 0;
    next_attempt_ = 0;
    last_error_.clear();
    return c;
  }
  delay_ = delay_ == 0 ? backoff_.initial_micros : std::min(delay_ * 2, backoff_.max_micros);
  next_attempt_ = now_() + delay_;
  last_error_ = c.status().message();
  return Status::Unavailable(c.status().message());
}

int64_t Reconnector::attempts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return attempts_;
}

bool Reconnector::unreachable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return delay_ > 0;
}

}  // namespace kakunin::store::pg
