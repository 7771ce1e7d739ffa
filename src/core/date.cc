#include "core/date.h"

#include <array>
#include <charconv>
#include <cstdio>

namespace kakunin {
namespace {

struct Era {
  const char* name;  // UTF-8 kanji name
  char letter;
  Date start;  // first day of the era
};

// Era start dates as fixed by the contract (spec/notifications.md).
const std::array<Era, 5>& Eras() {
  static const std::array<Era, 5> kEras = {{
      {"明治", 'M', Date::FromYmd(1868, 1, 25)},
      {"大正", 'T', Date::FromYmd(1912, 7, 30)},
      {"昭和", 'S', Date::FromYmd(1926, 12, 25)},
      {"平成", 'H', Date::FromYmd(1989, 1, 8)},
      {"令和", 'R', Date::FromYmd(2019, 5, 1)},
  }};
  return kEras;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses exactly `s` as a non-negative decimal of 1..max_len ASCII digits.
std::optional<int> ParseDigits(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Validates an era date and converts it.
DateParse EraDate(size_t era_index, int era_year, int month, int day) {
  DateParse r;
  const auto& eras = Eras();
  if (era_year < 1) {
    r.error = DateError::kFormat;
    return r;
  }
  int year = eras[era_index].start.year() + era_year - 1;
  if (!Date::IsValid(year, month, day)) {
    r.error = DateError::kInvalid;
    return r;
  }
  Date d = Date::FromYmd(year, month, day);
  if (d < eras[era_index].start ||
      (era_index + 1 < eras.size() && d >= eras[era_index + 1].start)) {
    r.error = DateError::kInvalid;
    return r;
  }
  r.date = d;
  return r;
}

}  // namespace

bool Date::IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int Date::DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && IsLeapYear(y)) return 29;
  return kDays[m - 1];
}

bool Date::IsValid(int y, int m, int d) {
  return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= DaysInMonth(y, m);
}

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t Date::ToDays() const {
  int64_t y = year_ - (month_ <= 2 ? 1 : 0);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t mp = (month_ + 9) % 12;
  int64_t doy = (153 * mp + 2) / 5 + day_ - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Date Date::FromDays(int64_t z) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return Date(static_cast<int>(y + (m <= 2 ? 1 : 0)), static_cast<int>(m), static_cast<int>(d));
}

std::string Date::ToIso() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year_, month_, day_);
  return buf;
}

std::string Date::ToWareki() const {
  const auto& eras = Eras();
  for (size_t i = eras.size(); i-- > 0;) {
    if (*this >= eras[i].start) {
      int ey = year_ - eras[i].start.year() + 1;
      std::string s = eras[i].name;
      s += ey == 1 ? std::string("元") : std::to_string(ey);
      s += "年" + std::to_string(month_) + "月" + std::to_string(day_) + "日";
      return s;
    }
  }
  return std::to_string(year_) + "年" + std::to_string(month_) + "月" + std::to_string(day_) + "日";
}

DateParse ParseIsoDate(std::string_view s) {
  DateParse r;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return r;
  auto y = ParseDigits(s.substr(0, 4), 4);
  auto m = ParseDigits(s.substr(5, 2), 2);
  auto d = ParseDigits(s.substr(8, 2), 2);
  if (!y || !m || !d) return r;
  if (!Date::IsValid(*y, *m, *d)) {
    r.error = DateError::kInvalid;
    return r;
  }
  r.date = Date::FromYmd(*y, *m, *d);
  return r;
}

DateParse ParseWarekiDate(std::string_view s) {
  DateParse r;
  const auto& eras = Eras();
  // Letter form: R8.4.1, R08.04.01.
  if (!s.empty() && (s[0] >= 'A' && s[0] <= 'Z')) {
    for (size_t i = 0; i < eras.size(); ++i) {
      if (s[0] != eras[i].letter) continue;
      std::string_view rest = s.substr(1);
      size_t p1 = rest.find('.');
      if (p1 == std::string_view::npos) return r;
      size_t p2 = rest.find('.', p1 + 1);
      if (p2 == std::string_view::npos) return r;
      auto y = ParseDigits(rest.substr(0, p1), 2);
      auto m = ParseDigits(rest.substr(p1 + 1, p2 - p1 - 1), 2);
      auto d = ParseDigits(rest.substr(p2 + 1), 2);
      if (!y || !m || !d) return r;
      return EraDate(i, *y, *m, *d);
    }
    return r;
  }
  // Kanji form: 令和8年4月1日, 令和元年5月1日.
  for (size_t i = 0; i < eras.size(); ++i) {
    std::string_view name = eras[i].name;
    if (s.substr(0, name.size()) != name) continue;
    std::string_view rest = s.substr(name.size());
    static constexpr std::string_view kNen = "年", kTsuki = "月", kHi = "日", kGan = "元";
    size_t pn = rest.find(kNen);
    if (pn == std::string_view::npos) return r;
    std::optional<int> y;
    if (rest.substr(0, pn) == kGan) {
      y = 1;
    } else {
      y = ParseDigits(rest.substr(0, pn), 2);
    }
    rest = rest.substr(pn + kNen.size());
    size_t pm = rest.find(kTsuki);
    if (pm == std::string_view::npos) return r;
    auto m = ParseDigits(rest.substr(0, pm), 2);
    rest = rest.substr(pm + kTsuki.size());
    if (rest.size() < kHi.size() || rest.substr(rest.size() - kHi.size()) != kHi) return r;
    auto d = ParseDigits(rest.substr(0, rest.size() - kHi.size()), 2);
    if (!y || !m || !d) return r;
    return EraDate(i, *y, *m, *d);
  }
  return r;
}

DateParse ParseIsoOrWarekiDate(std::string_view s) {
  DateParse r = ParseIsoDate(s);
  if (r.date || r.error == DateError::kInvalid) return r;
  return ParseWarekiDate(s);
}

}  // namespace kakunin
