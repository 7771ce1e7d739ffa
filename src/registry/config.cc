#include "registry/config.h"

namespace kakunin::registry {

QuotaLimits QuotaOverride::Over(QuotaLimits base) const {
  if (requests_per_minute) base.requests_per_minute = *requests_per_minute;
  if (residents_per_minute) base.residents_per_minute = *residents_per_minute;
  if (requests_per_day) base.requests_per_day = *requests_per_day;
  if (residents_per_day) base.residents_per_day = *residents_per_day;
  return base;
}

QuotaLimits QuotaConfig::LimitsFor(bool is_operator, const std::string& purpose) const {
  QuotaLimits l = defaults;
  if (is_operator) l = operators.Over(l);
  auto it = purposes.find(purpose);
  if (it != purposes.end()) l = it->second.Over(l);
  return l;
}

}  // namespace kakunin::registry
