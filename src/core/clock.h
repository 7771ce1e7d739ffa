#pragma once

// The environment is injected (DESIGN §8): code that needs "now" takes a Clock, so
// tests fix time and the CLI's --today can override it.

#include <chrono>
#include <cstdint>
#include <string>

#include "core/date.h"

namespace kakunin {

// The registry's dates are Japanese civil dates (JST, UTC+9, no daylight saving).
// The JST date of an instant (µs since the Unix epoch).
Date JstDate(int64_t micros);
// The instant (µs since the Unix epoch) at which `date` begins in JST.
int64_t JstMidnightMicros(const Date& date);
// An instant as people in Japan read it, ISO 8601: "2026-12-05T04:16:44.123456+09:00".
std::string JstIsoTime(int64_t micros);

// Thread-safe implementations only.
class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch, UTC.
  virtual int64_t NowMicros() const = 0;
  // Today's date in Japan Standard Time (UTC+9, no daylight saving): the registry's
  // dates (異動年月日) are Japanese civil dates.
  Date TodayJst() const;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override;
};

// A clock that stands still until moved; for tests and for fixing "today".
class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t micros) : micros_(micros) {}
  // Noon JST of `date`.
  static FixedClock AtDate(const Date& date);
  int64_t NowMicros() const override { return micros_; }
  void Advance(int64_t micros) { micros_ += micros; }

 private:
  int64_t micros_;
};

}  // namespace kakunin
