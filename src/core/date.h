#pragma once

// Calendar dates: the proleptic Gregorian calendar, and the Japanese era calendar (和暦)
// as the notification contract uses it. Dates before 1873-01-01 (when Japan adopted the
// Gregorian calendar) are representable but the contract rejects them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kakunin {

class Date {
 public:
  // REQUIRES: IsValid(year, month, day).
  static Date FromYmd(int year, int month, int day) { return Date(year, month, day); }
  static bool IsValid(int year, int month, int day);
  static bool IsLeapYear(int year);
  static int DaysInMonth(int year, int month);

  // Days since 1970-01-01 (negative before), and back.
  static Date FromDays(int64_t days);
  int64_t ToDays() const;

  int year() const { return year_; }
  int month() const { return month_; }
  int day() const { return day_; }

  // "YYYY-MM-DD".
  std::string ToIso() const;

  // 和暦, e.g. "令和8年4月1日", "令和元年5月1日". Before 明治 (1868-01-25) the Gregorian
  // form "1867年12月31日" is returned.
  std::string ToWareki() const;

  friend bool operator==(const Date& a, const Date& b) = default;
  friend auto operator<=>(const Date& a, const Date& b) = default;

 private:
  Date(int y, int m, int d) : year_(y), month_(m), day_(d) {}
  int year_;
  int month_;
  int day_;
};

// Why a date string was rejected: its shape (`kFormat`) or its value (`kInvalid`:
// no such day, or outside its era). The contract maps these to `format` and
// `invalid_date`.
enum class DateError { kFormat, kInvalid };

struct DateParse {
  std::optional<Date> date;
  DateError error = DateError::kFormat;  // meaningful only when !date
};

// Strict "YYYY-MM-DD": four-digit year, two-digit month and day, ASCII digits only.
DateParse ParseIsoDate(std::string_view s);

// 和暦 as the contract allows for CSV input: "令和8年4月1日", "令和元年5月1日",
// "R8.4.1", "R08.04.01" (letters M, T, S, H, R). The day must lie within the era
// (平成31年5月1日 and 昭和64年1月8日 do not exist).
DateParse ParseWarekiDate(std::string_view s);

// ISO first, then 和暦.
DateParse ParseIsoOrWarekiDate(std::string_view s);

// The first day of the Gregorian calendar in Japan; earlier dates are invalid in
// notifications.
inline Date GregorianAdoption() { return Date::FromYmd(1873, 1, 1); }

}  // namespace kakunin
