#pragma once

// What keeps anonymous traffic on the console cheap (docs/operators.md, "Anonymous traffic"):
// a token bucket per source address for the password and enrolment steps, and a sampler that
// turns a stream of anonymous refusals into at most one operation-log entry per source address
// per interval. Both keep a bounded table: when it is full, addresses not in it share one
// overflow slot, so many addresses cannot grow memory and cannot escape the limits either.
// Time comes from the injected Clock. Thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace kakunin::auth {

class RateLimiter {
 public:
  // Each key may take `burst` requests at once, then one per `refill_micros`. At most
  // `max_keys` keys are tracked (>= 1). `clock` must outlive the limiter.
  RateLimiter(const Clock* clock, int burst, int64_t refill_micros, size_t max_keys);

  // Takes a token for `key`; false if its bucket is empty (answer 429).
  bool Allow(const std::string& key);

  size_t size() const;

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated = 0;
  };
  void Refill(Bucket& b, int64_t now) const;

  const Clock* clock_;
  double burst_;
  int64_t refill_;
  size_t max_keys_;
  mutable std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
  Bucket overflow_;
  int64_t last_sweep_ = INT64_MIN / 2;
};

class RefusalSampler {
 public:
  // `free_per_interval` (>= 1) entries per key per `interval_micros` (> 0), the first of them
  // carrying what was held back before. At most `max_keys` keys are tracked (>= 1).
  RefusalSampler(const Clock* clock, int64_t interval_micros, size_t max_keys,
                 int free_per_interval = 1);

  // What one log entry stands for: refusals by reason (e.g. session_required -> 12).
  using Counts = std::map<std::string, int64_t>;

  // Notes one refusal of `reason` from `key`. Returns the counts to write now — this refusal
  // and those held back since the key's last entry — if no entry was written for the key in the
  // last interval; nullopt if this refusal is held back (it is counted in the next entry).
  std::optional<Counts> Note(const std::string& key, const std::string& reason);
  // Appends to an entry's `conditions` what `counts` stand for ("count=N <reason>=k…"), unless
  // they are one refusal (unless `even_one`: an entry written for held counts alone): the form
  // sampled entries share, which audit review adds up.
  static void AppendCounts(const Counts& counts, std::string* conditions, bool even_one = false);
  // Takes the counts held back for keys whose interval has ended — all of them when
  // `everything` — so that the owner writes them although no further refusal came to carry them
  // (a timer; the node stopping). Found in review: a burst past the free entries that then
  // stopped was never written. The overflow slot's counts come under the key "".
  std::vector<std::pair<std::string, Counts>> TakeHeld(bool everything);

  size_t size() const;

 private:
  struct Window {
    int64_t written_at = 0;  // when this key's interval began
    bool written = false;
    int written_in_interval = 0;
    Counts held;
  };
  std::optional<Counts> NoteIn(Window& w, const std::string& reason, int64_t now);

  const Clock* clock_;
  int64_t interval_;
  size_t max_keys_;
  int free_;
  mutable std::mutex mu_;
  std::map<std::string, Window> windows_;
  Window overflow_;
  int64_t last_sweep_ = INT64_MIN / 2;
};

}  // namespace kakunin::auth
