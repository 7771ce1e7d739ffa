#pragma once

// Rules that flag likely misuse in the operation log, for a reviewer (the seeds require the
// log to be reviewed for misuse). Each finding lists the entries behind it; a finding is a
// question for a person, not a verdict.

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/registry_store.h"

namespace kakunin::audit {

struct ReviewSettings {
  int office_start_minute = 8 * 60 + 30;  // JST, weekdays
  int office_end_minute = 17 * 60 + 30;
  int max_searches_per_day = 50;     // per actor
  int max_refusals_per_day = 3;      // per actor
  int max_not_found_per_day = 50;    // per actor, real-time only (the log keeps no misses)
};

struct Finding {
  std::string rule;   // off_hours | many_searches | search_without_follow_up |
                      // repeated_refusals | removed_resident | support_measure |
                      // disclosure_closed
  std::string actor;
  std::string day;    // YYYY-MM-DD (JST)
  std::string note;   // a sentence for the reviewer (no personal data)
  std::vector<int64_t> entries;
};

// The days (JST, YYYY-MM-DD, both inclusive) a resident was under a support measure (支援措置).
struct ProtectedPeriod {
  std::string from, to;
};
// Residents under a support measure as the log names them ("mac:<hex>", registry::AskedTarget,
// one key per code they held), with their periods.
using ProtectedTargets = std::map<std::string, std::vector<ProtectedPeriod>>;

// Reviews entries with time in [from_time, to_time) (µs). Entries whose payload retention
// erased are skipped. `protected_targets`: each provision (resident.provide, done) that gave out
// one of them on a day of its periods is a support_measure finding of its own, for a person to
// check the business need of.
Result<std::vector<Finding>> Review(store::RegistryReader& reader, int64_t from_time,
                                    int64_t to_time, const ReviewSettings& settings = {},
                                    const ProtectedTargets& protected_targets = {});

// --- Real time ---
// The rules that can be decided as an operation happens, evaluated on counters kept per actor
// and JST day, so the node raises an alert at once instead of the next day's review. Same
// settings and thresholds as Review; search_without_follow_up and removed_resident stay with
// Review (the first needs what happens later; the API never reads removed residents).
//
//   off_hours          a read outside office hours (weekdays, JST)
//   many_searches      more than max_searches_per_day searches in a day
//   repeated_refusals  max_refusals_per_day refused operations in a day
//   many_not_found     more than max_not_found_per_day residents asked for and not found
//   quota_exceeded     a read refused by a quota (registry/quota.h)
//   link_conflict      national node: forwarded changes whose state conflicted (another
//                      person's code, identity, municipality; registry/national.h), per batch
inline constexpr std::string_view kLiveRules[] = {"off_hours", "many_searches",
                                                  "repeated_refusals", "many_not_found",
                                                  "quota_exceeded", "link_conflict"};

struct LiveAlert {
  std::string rule;   // one of kLiveRules
  std::string actor;  // an actor id (not personal data)
  int64_t time = 0;   // µs
  int64_t count = 0;      // the counter that crossed the threshold (1 for a single event)
  int64_t threshold = 0;  // 0 for rules that fire on a single event
};

// Thread-safe. Memory is bounded: at most `max_actors` actors are tracked (those idle longest
// are forgotten first).
class LiveReview {
 public:
  explicit LiveReview(ReviewSettings settings = {},
                      int64_t alert_interval_micros = int64_t{3600} * 1000000,
                      size_t max_actors = 10000);

  // Each returns the alerts to raise now: at most one per (rule, actor) per interval.
  // An answered read (`search`: a search); `not_found` residents asked for were not found.
  std::vector<LiveAlert> OnRead(const std::string& actor, int64_t time, bool search,
                                int64_t not_found = 0);
  // A refused operation; `quota` if a quota refused it.
  std::vector<LiveAlert> OnRefusal(const std::string& actor, int64_t time, bool quota = false);

  size_t tracked() const;

 private:
  struct Day {
    int64_t day = 0;  // JST days since the epoch
    int64_t searches = 0, refusals = 0, not_found = 0;
    int64_t last_seen = 0;
    std::map<std::string, int64_t, std::less<>> last_alert;  // rule -> time
  };
  Day& Track(const std::string& actor, int64_t time);
  void Fire(Day& d, const std::string& actor, std::string_view rule, int64_t time, int64_t count,
            int64_t threshold, std::vector<LiveAlert>* out);

  ReviewSettings settings_;
  int64_t interval_;
  size_t max_actors_;
  mutable std::mutex mu_;
  std::map<std::string, Day> actors_;
};

}  // namespace kakunin::audit
