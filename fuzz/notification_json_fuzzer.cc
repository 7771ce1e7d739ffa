// Fuzzes the JSON notification reader: any bytes give a verdict without crashing, and an
// accepted notification survives its own canonical encoding unchanged.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "domain/notification_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kakunin;
  static const CheckOptions options = [] {
    CheckOptions o;
    o.today = Date::FromYmd(2026, 11, 21);
    return o;
  }();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckResult r = CheckJsonNotification(input, options);
  if (r.ok() != r.notification.has_value()) std::abort();
  if (r.ok()) {
    std::string canonical = ToCanonicalJson(*r.notification);
    CheckResult again = CheckJsonNotification(canonical, options);
    if (!again.ok() || !(*again.notification == *r.notification)) std::abort();
  }
  return 0;
}
