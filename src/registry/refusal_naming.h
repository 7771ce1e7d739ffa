#pragma once

// How often a refusal names a resident (registry.h, Registry::RefusalEntry). Every refusal is
// recorded; a refusal entry names the residents its request asked for by keyed MAC, so that
// `audit search --target` and the person's access statement show who tried. Found in review:
// 48,000 refused requests by one certificate in 20 seconds, each naming one resident, made that
// resident's statement larger than one can be (64 MiB), so the disclosure desk could not print
// their notice for the 7 years the entries are kept. So, per JST day:
// - one actor's entries name one resident at most kPerResident times;
// - one actor names at most kPerActor residents (a flood of made-up codes uses up its own
//   naming only: found in review, a table shared by every caller, once full, named nobody for
//   anyone until midnight);
// - beyond kTracked pairs in all (a memory bound no single actor reaches) entries name as
//   before, untracked.
// An entry that leaves residents out says how many: `targets_withheld=N` in its conditions. The
// count lives in the process (a restart starts it again, which only names a few more).

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "audit/entry.h"
#include "core/clock.h"

namespace kakunin::registry {

class RefusalNaming {
 public:
  static constexpr int kPerResident = 3;
  static constexpr size_t kPerActor = 1000;
  static constexpr size_t kTracked = size_t{1} << 22;

  explicit RefusalNaming(const Clock* clock) : clock_(clock) {}

  // Leaves out of `e->targets` what the day's counts of `actor_id` do not allow, and appends
  // `targets_withheld=N` to `e->conditions` when it left N out.
  void Apply(const std::string& actor_id, audit::AuditEntry* e) const;

 private:
  const Clock* clock_;
  mutable std::mutex mu_;
  mutable int64_t day_ = 0;
  mutable std::unordered_map<std::string, int> pairs_;       // actor '\n' target -> entries
  mutable std::unordered_map<std::string, size_t> actors_;   // actor -> residents named
};

}  // namespace kakunin::registry
