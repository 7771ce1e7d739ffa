#pragma once

// Rules that flag likely misuse in the operation log, for a reviewer (the seeds require the
// log to be reviewed for misuse). Each finding lists the entries behind it; a finding is a
// question for a person, not a verdict.

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/registry_store.h"

namespace kakunin::audit {

struct ReviewSettings {
  int office_start_minute = 8 * 60 + 30;  // JST, weekdays
  int office_end_minute = 17 * 60 + 30;
  int max_searches_per_day = 50;     // per actor
  int max_refusals_per_day = 3;      // per actor
};

struct Finding {
  std::string rule;   // off_hours | many_searches | search_without_follow_up |
                      // repeated_refusals | removed_resident
  std::string actor;
  std::string day;    // YYYY-MM-DD (JST)
  std::string note;   // a sentence for the reviewer (no personal data)
  std::vector<int64_t> entries;
};

// Reviews entries with time in [from_time, to_time) (µs). Entries whose payload retention
// erased are skipped.
Result<std::vector<Finding>> Review(store::RegistryReader& reader, int64_t from_time,
                                    int64_t to_time, const ReviewSettings& settings = {});

}  // namespace kakunin::audit
