#include "registry/refusal_naming.h"

#include <utility>
#include <vector>

namespace kakunin::registry {

void RefusalNaming::Apply(const std::string& actor_id, audit::AuditEntry* e) const {
  if (e->targets.empty()) return;
  const int64_t day = clock_->TodayJst().ToDays();
  size_t withheld = 0;
  std::vector<std::string> kept;
  std::lock_guard<std::mutex> lock(mu_);
  if (day != day_) {
    pairs_.clear();
    actors_.clear();
    day_ = day;
  }
  for (std::string& t : e->targets) {
    std::string key = actor_id + '\n' + t;
    auto it = pairs_.find(key);
    if (it != pairs_.end()) {
      if (it->second < kPerResident) {
        ++it->second;
        kept.push_back(std::move(t));
      } else {
        ++withheld;
      }
      continue;
    }
    size_t& named = actors_[actor_id];
    if (named >= kPerActor) {
      ++withheld;  // this actor's flood: its own naming only
      continue;
    }
    ++named;
    if (pairs_.size() < kTracked) pairs_.emplace(std::move(key), 1);
    kept.push_back(std::move(t));
  }
  e->targets = std::move(kept);
  if (withheld > 0) {
    e->conditions += (e->conditions.empty() ? "" : " ") + std::string("targets_withheld=") +
                     std::to_string(withheld);
  }
}

}  // namespace kakunin::registry
