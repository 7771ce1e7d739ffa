#include "core/clock.h"

#include <cstdio>

namespace kakunin {
namespace {
constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;
constexpr int64_t kJstOffsetMicros = int64_t{9} * 3600 * 1000000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

Date JstDate(int64_t micros) {
  return Date::FromDays(FloorDiv(micros + kJstOffsetMicros, kMicrosPerDay));
}

int64_t JstMidnightMicros(const Date& date) {
  return date.ToDays() * kMicrosPerDay - kJstOffsetMicros;
}

std::string JstIsoTime(int64_t micros) {
  const Date d = JstDate(micros);
  const int64_t in_day = micros - JstMidnightMicros(d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "T%02d:%02d:%02d.%06d+09:00",
                static_cast<int>(in_day / 3600000000), static_cast<int>(in_day / 60000000 % 60),
                static_cast<int>(in_day / 1000000 % 60), static_cast<int>(in_day % 1000000));
  return d.ToIso() + buf;
}

Date Clock::TodayJst() const { return JstDate(NowMicros()); }

int64_t SystemClock::NowMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

FixedClock FixedClock::AtDate(const Date& date) {
  return FixedClock(date.ToDays() * kMicrosPerDay + 3 * 3600 * int64_t{1000000});
}

}  // namespace kakunin
