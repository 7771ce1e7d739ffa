#include "core/date.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace kakunin {
namespace {

Date D(int y, int m, int d) { return Date::FromYmd(y, m, d); }

std::optional<Date> Iso(const char* s) { return ParseIsoDate(s).date; }
std::optional<Date> Wareki(const char* s) { return ParseWarekiDate(s).date; }
DateError WarekiError(const char* s) { return ParseWarekiDate(s).error; }

TEST(DateTest, GregorianValidity) {
  EXPECT_TRUE(Date::IsValid(2024, 2, 29));
  EXPECT_FALSE(Date::IsValid(2023, 2, 29));
  EXPECT_TRUE(Date::IsValid(2000, 2, 29));
  EXPECT_FALSE(Date::IsValid(1900, 2, 29));
  EXPECT_FALSE(Date::IsValid(2024, 4, 31));
  EXPECT_FALSE(Date::IsValid(2024, 13, 1));
  EXPECT_FALSE(Date::IsValid(2024, 0, 1));
}

TEST(DateTest, DaysRoundTrip) {
  EXPECT_EQ(D(1970, 1, 1).ToDays(), 0);
  EXPECT_EQ(D(1969, 12, 31).ToDays(), -1);
  for (int64_t d = -60000; d < 60000; d += 7) {
    EXPECT_EQ(Date::FromDays(d).ToDays(), d);
  }
  EXPECT_EQ(Date::FromDays(D(2026, 4, 1).ToDays() + 1), D(2026, 4, 2));
}

TEST(DateTest, IsoIsStrict) {
  EXPECT_EQ(Iso("2026-04-01"), D(2026, 4, 1));
  EXPECT_FALSE(Iso("2026-4-1"));
  EXPECT_FALSE(Iso("2026/04/01"));
  EXPECT_FALSE(Iso(" 2026-04-01"));
  EXPECT_FALSE(Iso("２０２６-04-01"));
  EXPECT_EQ(ParseIsoDate("2026-4-01").error, DateError::kFormat);
  EXPECT_EQ(ParseIsoDate("2023-02-29").error, DateError::kInvalid);
  EXPECT_EQ(ParseIsoDate("2023-13-01").error, DateError::kInvalid);
  EXPECT_EQ(D(2026, 4, 1).ToIso(), "2026-04-01");
}

TEST(DateTest, WarekiForms) {
  // The contract's three spellings.
  EXPECT_EQ(Wareki("令和8年4月1日"), D(2026, 4, 1));
  EXPECT_EQ(Wareki("R8.4.1"), D(2026, 4, 1));
  EXPECT_EQ(Wareki("R08.04.01"), D(2026, 4, 1));
  EXPECT_EQ(Wareki("令和元年5月1日"), D(2019, 5, 1));
  EXPECT_EQ(Wareki("H1.1.8"), D(1989, 1, 8));
  EXPECT_EQ(Wareki("S64.1.7"), D(1989, 1, 7));
  EXPECT_EQ(Wareki("昭和元年12月25日"), D(1926, 12, 25));
  EXPECT_EQ(Wareki("T1.7.30"), D(1912, 7, 30));
  EXPECT_EQ(Wareki("M45.7.29"), D(1912, 7, 29));
  EXPECT_EQ(Wareki("明治6年1月1日"), D(1873, 1, 1));
}

TEST(DateTest, WarekiEraBoundaries) {
  // The last day of each era and the first day of the next exist; one step beyond does not.
  EXPECT_EQ(Wareki("平成31年4月30日"), D(2019, 4, 30));
  EXPECT_FALSE(Wareki("平成31年5月1日"));
  EXPECT_EQ(WarekiError("平成31年5月1日"), DateError::kInvalid);
  EXPECT_FALSE(Wareki("令和元年4月30日"));
  EXPECT_FALSE(Wareki("S64.1.8"));
  EXPECT_FALSE(Wareki("H1.1.7"));
  EXPECT_FALSE(Wareki("T1.7.29"));
  EXPECT_FALSE(Wareki("M45.7.30"));
  EXPECT_EQ(Wareki("大正15年12月24日"), D(1926, 12, 24));
  EXPECT_FALSE(Wareki("大正15年12月25日"));
  EXPECT_FALSE(Wareki("昭和元年12月24日"));
  EXPECT_FALSE(Wareki("明治元年1月24日"));
  EXPECT_EQ(Wareki("明治元年1月25日"), D(1868, 1, 25));
}

TEST(DateTest, WarekiRejectsMalformed) {
  EXPECT_EQ(WarekiError("令和8年4月"), DateError::kFormat);
  EXPECT_EQ(WarekiError("X8.4.1"), DateError::kFormat);
  EXPECT_EQ(WarekiError("R8-4-1"), DateError::kFormat);
  EXPECT_EQ(WarekiError("R.4.1"), DateError::kFormat);
  EXPECT_EQ(WarekiError("R0.4.1"), DateError::kFormat);
  EXPECT_EQ(WarekiError("r8.4.1"), DateError::kFormat);
  EXPECT_EQ(WarekiError("令和8年4月1日 "), DateError::kFormat);
  EXPECT_EQ(WarekiError("R8.2.30"), DateError::kInvalid);
  EXPECT_EQ(WarekiError("R123.4.1"), DateError::kFormat);
}

TEST(DateTest, IsoOrWareki) {
  EXPECT_EQ(ParseIsoOrWarekiDate("2026-04-01").date, D(2026, 4, 1));
  EXPECT_EQ(ParseIsoOrWarekiDate("R8.4.1").date, D(2026, 4, 1));
  EXPECT_EQ(ParseIsoOrWarekiDate("2023-02-29").error, DateError::kInvalid);
}

TEST(DateTest, FormatsWareki) {
  EXPECT_EQ(D(2026, 4, 1).ToWareki(), "令和8年4月1日");
  EXPECT_EQ(D(2019, 5, 1).ToWareki(), "令和元年5月1日");
  EXPECT_EQ(D(2019, 4, 30).ToWareki(), "平成31年4月30日");
  EXPECT_EQ(D(1989, 1, 7).ToWareki(), "昭和64年1月7日");
  EXPECT_EQ(D(1989, 1, 8).ToWareki(), "平成元年1月8日");
  EXPECT_EQ(D(1926, 12, 25).ToWareki(), "昭和元年12月25日");
  EXPECT_EQ(D(1912, 7, 30).ToWareki(), "大正元年7月30日");
  EXPECT_EQ(D(1873, 1, 1).ToWareki(), "明治6年1月1日");
  // Formatting and parsing agree across a long span.
  for (int64_t d = D(1873, 1, 1).ToDays(); d < D(2030, 1, 1).ToDays(); d += 13) {
    Date date = Date::FromDays(d);
    EXPECT_EQ(Wareki(date.ToWareki().c_str()), date) << date.ToIso();
  }
}

TEST(ClockTest, TodayIsJapanTime) {
  // 2026-03-31T15:00:00Z is 2026-04-01 00:00 JST.
  int64_t micros = D(2026, 3, 31).ToDays() * 86400LL * 1000000 + 15LL * 3600 * 1000000;
  EXPECT_EQ(FixedClock(micros).TodayJst(), D(2026, 4, 1));
  EXPECT_EQ(FixedClock(micros - 1).TodayJst(), D(2026, 3, 31));
  EXPECT_EQ(FixedClock::AtDate(D(2026, 4, 1)).TodayJst(), D(2026, 4, 1));
}

TEST(ClockTest, TimesArePrintedInJapanTime) {
  // 2026-03-31T15:00:00Z is 2026-04-01 00:00 JST; one µs earlier is still 31 March.
  int64_t micros = D(2026, 3, 31).ToDays() * 86400LL * 1000000 + 15LL * 3600 * 1000000;
  EXPECT_EQ(JstIsoTime(micros), "2026-04-01T00:00:00.000000+09:00");
  EXPECT_EQ(JstIsoTime(micros - 1), "2026-03-31T23:59:59.999999+09:00");
  EXPECT_EQ(JstIsoTime(micros + 13 * 3600000000LL + 5 * 60000000LL + 7000042),
            "2026-04-01T13:05:07.000042+09:00");
}

}  // namespace
}  // namespace kakunin
