// The history of local government codes (data/local_gov_code_history.tsv): abolished codes,
// their validity and successors, and what the notification reader makes of them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "domain/check_digit.h"
#include "domain/local_gov_code.h"
#include "domain/notification_reader.h"

namespace kakunin {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const LocalGovTable& Table() { return LocalGovTable::Builtin(); }

TEST(LocalGovHistoryTest, EveryRowOfTheShippedFileIsLoaded) {
  std::string current = ReadFile(KAKUNIN_SOURCE_DIR "/data/local_gov_codes.tsv");
  std::string history = ReadFile(KAKUNIN_SOURCE_DIR "/data/local_gov_code_history.tsv");
  ASSERT_FALSE(history.empty());
  size_t bad = 99, bad_history = 99;
  LocalGovTable t = LocalGovTable::Parse(current, history, &bad, &bad_history);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(bad_history, 0u);
  EXPECT_GE(t.history().size(), 2000u);
  EXPECT_EQ(t.history().size(), Table().history().size());
}

TEST(LocalGovHistoryTest, EveryCodeAndSuccessorPassesTheCheckDigit) {
  for (const LocalGovHistoryEntry& h : Table().history()) {
    SCOPED_TRACE(h.code);
    ASSERT_TRUE(IsDigits(h.code, 6));
    EXPECT_EQ(LocalGovCheckDigit(h.code.substr(0, 5)), h.code[5] - '0');
    EXPECT_EQ(Table().Find(h.code), nullptr) << "abolished but still current";
    ASSERT_FALSE(h.successors.empty());
    for (const std::string& s : h.successors) {
      EXPECT_EQ(LocalGovCheckDigit(s.substr(0, 5)), s[5] - '0') << s;
      EXPECT_TRUE(Table().Find(s) != nullptr || Table().FindAbolished(s) != nullptr) << s;
    }
  }
}

Date NextDay(Date d) { return Date::FromDays(d.ToDays() + 1); }

// Every change round-trips: valid on its last day (and its first, when known), abolished with
// exactly its successors the day after.
TEST(LocalGovHistoryTest, EveryChangeRoundTrips) {
  for (const LocalGovHistoryEntry& h : Table().history()) {
    SCOPED_TRACE(h.code);
    LocalGovLookup before = LookupLocalGovCodeOn(h.code, Table(), h.last_day);
    EXPECT_FALSE(before.error.has_value());
    EXPECT_EQ(before.historic, &h);
    if (h.valid_from) {
      LocalGovLookup first = LookupLocalGovCodeOn(h.code, Table(), *h.valid_from);
      EXPECT_EQ(first.historic, &h);
      LocalGovLookup earlier =
          LookupLocalGovCodeOn(h.code, Table(), Date::FromDays(h.valid_from->ToDays() - 1));
      EXPECT_EQ(earlier.error, ErrorCode::kUnknownValue);
    }
    Date next = NextDay(h.last_day);
    LocalGovLookup after = LookupLocalGovCodeOn(h.code, Table(), next);
    ASSERT_EQ(after.error, ErrorCode::kAbolished);
    // Exactly its successors, except that a successor abolished the same day (御前山村 went
    // into 大宮町, which became 常陸大宮市, both on 2004-10-16) stands for its own.
    std::set<std::string> expected;
    for (const std::string& s : h.successors) {
      LocalGovLookup l = LookupLocalGovCodeOn(s, Table(), next);
      if (!l.error) {
        expected.insert(s);
        continue;
      }
      ASSERT_EQ(l.error, ErrorCode::kAbolished) << s;
      const LocalGovHistoryEntry* same_day = Table().FindAbolished(s);
      ASSERT_NE(same_day, nullptr);
      EXPECT_EQ(same_day->last_day, h.last_day) << s;
      expected.insert(l.successors.begin(), l.successors.end());
    }
    EXPECT_EQ(after.successors, std::vector<std::string>(expected.begin(), expected.end()));
    // Today every successor chain ends in current codes.
    LocalGovLookup today = LookupLocalGovCodeOn(h.code, Table(), Date::FromYmd(2026, 4, 1));
    ASSERT_EQ(today.error, ErrorCode::kAbolished);
    for (const std::string& s : today.successors) EXPECT_NE(Table().Find(s), nullptr) << s;
  }
}

TEST(LocalGovHistoryTest, HamamatsuWardsOf2024) {
  auto on = Date::FromYmd(2026, 4, 1);
  EXPECT_THAT(LookupLocalGovCodeOn("221317", Table(), on).successors, ElementsAre("221384"));
  EXPECT_THAT(LookupLocalGovCodeOn("221325", Table(), on).successors, ElementsAre("221384"));
  EXPECT_THAT(LookupLocalGovCodeOn("221333", Table(), on).successors, ElementsAre("221384"));
  EXPECT_THAT(LookupLocalGovCodeOn("221341", Table(), on).successors, ElementsAre("221384"));
  EXPECT_THAT(LookupLocalGovCodeOn("221350", Table(), on).successors,
              ElementsAre("221384", "221392"));
  EXPECT_THAT(LookupLocalGovCodeOn("221368", Table(), on).successors, ElementsAre("221392"));
  EXPECT_THAT(LookupLocalGovCodeOn("221376", Table(), on).successors, ElementsAre("221406"));
  const LocalGovHistoryEntry* naka = Table().FindAbolished("221317");
  ASSERT_NE(naka, nullptr);
  EXPECT_EQ(naka->FullName(), "静岡県浜松市中区");
  EXPECT_EQ(naka->last_day, Date::FromYmd(2023, 12, 31));
}

// A chain of changes resolves to the codes valid on the date asked about.
TEST(LocalGovHistoryTest, SuccessorsFollowLaterChangesToTheDateAsked) {
  // 浦和市 → さいたま市 (2001-05-01) → the designated city's code (2003-04-01).
  EXPECT_THAT(LookupLocalGovCodeOn("112046", Table(), Date::FromYmd(2002, 1, 1)).successors,
              ElementsAre("112445"));
  EXPECT_THAT(LookupLocalGovCodeOn("112046", Table(), Date::FromYmd(2026, 1, 1)).successors,
              ElementsAre("111007"));
}

// The source splits one 改正事由 for two towns (鳳至郡 → 鳳珠郡, 2005-03-01) into every pair;
// each town went to its own new code (found in review: both named both).
TEST(LocalGovHistoryTest, TwoTownsOfOneChangeEachNameTheirOwnSuccessor) {
  EXPECT_THAT(LookupLocalGovCodeOn("174211", Table(), Date::FromYmd(2005, 3, 1)).successors,
              ElementsAre("174611"));  // 穴水町
  EXPECT_THAT(LookupLocalGovCodeOn("174220", Table(), Date::FromYmd(2005, 3, 1)).successors,
              ElementsAre("174629"));  // 門前町
  EXPECT_THAT(LookupLocalGovCodeOn("174220", Table(), Date::FromYmd(2026, 4, 1)).successors,
              ElementsAre("172049"));  // then into 輪島市 (2006-02-01)
}

TEST(LocalGovHistoryTest, UnknownCodeWithValidCheckDigitIsStillUnknownValue) {
  // 19999x: no such municipality, now or ever in the history.
  std::string code = "19999";
  code.push_back(static_cast<char>('0' + LocalGovCheckDigit(code)));
  EXPECT_EQ(LookupLocalGovCodeOn(code, Table(), Date::FromYmd(2026, 4, 1)).error,
            ErrorCode::kUnknownValue);
}

// --- the notification reader ---

std::string Notification(const std::string& code, const std::string& change_date,
                         const std::string& address) {
  return std::string("{\"municipality_code\":\"") + code +
         "\",\"sequence\":1,\"kind\":\"entry\",\"reason\":\"birth\",\"change_date\":\"" +
         change_date +
         "\",\"resident_code\":\"24727059608\",\"individual_number\":\"123456789018\","
         "\"name\":\"山田　太郎\",\"name_kana\":\"ヤマダ　タロウ\",\"sex\":\"male\","
         "\"birth_date\":\"" +
         change_date + "\",\"address\":\"" + address + "\"}";
}

CheckOptions Today(bool on_change_date = false) {
  CheckOptions o;
  o.today = Date::FromYmd(2026, 4, 1);
  o.municipality_on_change_date = on_change_date;
  return o;
}

TEST(NotificationReaderHistoryTest, AbolishedHamamatsuWardTodayNamesItsSuccessor) {
  CheckResult r = CheckJsonNotification(
      Notification("221317", "2026-04-01", "静岡県浜松市中央区元城町103番地の2"), Today());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "municipality_code");
  EXPECT_EQ(r.errors[0].code, ErrorCode::kAbolished);
  EXPECT_THAT(r.errors[0].successors, ElementsAre("221384"));
  std::string json;
  AppendSuccessorsJson(r.errors[0], &json);
  EXPECT_EQ(json, R"(,"successors":["221384"])");
}

TEST(NotificationReaderHistoryTest, AbolishedWardOnAPastChangeDateIsAcceptedUnderImport) {
  CheckResult r = CheckJsonNotification(
      Notification("221317", "2023-06-01", "静岡県浜松市中区元城町103番地の2"), Today(true));
  ASSERT_TRUE(r.ok()) << ErrorCodeName(r.errors[0].code) << " " << r.errors[0].field;
  EXPECT_EQ(r.notification->municipality_code, "221317");
}

TEST(NotificationReaderHistoryTest, ImportChecksTheAddressAgainstTheOldName) {
  // The new ward's name does not fit a record of the old ward's time.
  CheckResult r = CheckJsonNotification(
      Notification("221317", "2023-06-01", "静岡県浜松市中央区元城町103番地の2"), Today(true));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "address");
  EXPECT_EQ(r.errors[0].code, ErrorCode::kAddressMismatch);
}

TEST(NotificationReaderHistoryTest, ImportAfterTheLastDayIsStillAbolished) {
  CheckResult r = CheckJsonNotification(
      Notification("221317", "2024-01-01", "静岡県浜松市中区元城町103番地の2"), Today(true));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kAbolished);
  EXPECT_THAT(r.errors[0].successors, ElementsAre("221384"));
}

TEST(NotificationReaderHistoryTest, WithoutImportAPastChangeDateDoesNotHelp) {
  CheckResult r = CheckJsonNotification(
      Notification("221317", "2023-06-01", "静岡県浜松市中区元城町103番地の2"), Today());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kAbolished);
}

TEST(NotificationReaderHistoryTest, OtherErrorsCarryNoSuccessors) {
  CheckResult r = CheckJsonNotification(
      Notification("221318", "2026-04-01", "静岡県浜松市中央区元城町"), Today());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].code, ErrorCode::kCheckDigit);
  EXPECT_THAT(r.errors[0].successors, IsEmpty());
  std::string json;
  AppendSuccessorsJson(r.errors[0], &json);
  EXPECT_EQ(json, "");
}

// 平成17年 (2005) changes in the history: refused today with their successors, accepted
// under import with a change_date of their time and the old name in the address.
struct Heisei17 {
  const char* code;
  const char* old_address;  // before the change
  const char* day_before;
  std::vector<std::string> successors_today;
};

TEST(NotificationReaderHistoryTest, Heisei17ChangesBehaveAsTheHistorySays) {
  const std::vector<Heisei17> cases = {
      // 塩山市 → 甲州市 (2005-11-01, 新設合併 with 勝沼町 and 大和村).
      {"192031", "山梨県塩山市上於曽1085番地1", "2005-10-31", {"192139"}},
      // 静岡市 → 政令指定都市 静岡市 (2005-04-01).
      {"222011", "静岡県静岡市追手町5番1号", "2005-03-31", {"221007"}},
      // 岩槻市 → さいたま市 (2005-04-01, 編入; today its 岩槻区 is a ward of the city).
      {"112135", "埼玉県岩槻市本町三丁目2番5号", "2005-03-31", {"111007"}},
      // 上福岡市 → ふじみ野市 (2005-10-01, 新設合併 with 大井町).
      {"112364", "埼玉県上福岡市福岡一丁目1番1号", "2005-09-30", {"112453"}},
      // 新津市 → 新潟市 (2005-03-21, 編入) → 政令指定都市 新潟市 (2007-04-01).
      {"152072", "新潟県新津市程島2009番地", "2005-03-20", {"151009"}},
      // 天竜市 and 三ケ日町 → 浜松市 (2005-07-01, 編入) → 政令指定都市 浜松市 (2007-04-01).
      {"222178", "静岡県天竜市二俣町二俣481番地", "2005-06-30", {"221309"}},
      {"225231", "静岡県引佐郡三ケ日町三ケ日1番地", "2005-06-30", {"221309"}},
      // 鹿島町 (相馬郡) → 南相馬市 (2006-01-01, 新設合併; decided in 平成17年).
      {"075621", "福島県相馬郡鹿島町西町一丁目1番地", "2005-12-31", {"072125"}},
      // 大原町 → いすみ市 (2005-12-05, 新設合併).
      {"124443", "千葉県夷隅郡大原町大原1番地", "2005-12-04", {"122386"}},
  };
  for (const Heisei17& c : cases) {
    SCOPED_TRACE(c.code);
    CheckResult today =
        CheckJsonNotification(Notification(c.code, "2026-04-01", c.old_address), Today());
    ASSERT_FALSE(today.ok());
    EXPECT_EQ(today.errors[0].code, ErrorCode::kAbolished);
    EXPECT_THAT(today.errors[0].successors, ElementsAreArray(c.successors_today));
    CheckResult then =
        CheckJsonNotification(Notification(c.code, c.day_before, c.old_address), Today(true));
    EXPECT_TRUE(then.ok()) << (then.ok() ? "" : then.errors[0].field);
  }
}

// Every code abolished in 平成17年 (2005) as the history file has it: refused today with
// successors that exist today; accepted on its last day under import, with the old name.
TEST(NotificationReaderHistoryTest, EveryHeisei17AbolitionBehavesAsTheHistorySays) {
  size_t n = 0;
  for (const LocalGovHistoryEntry& h : Table().history()) {
    if (h.last_day.year() != 2005) continue;
    ++n;
    SCOPED_TRACE(h.code + " " + h.FullName());
    std::string address = h.FullName() + "1番地";
    CheckResult today = CheckJsonNotification(Notification(h.code, "2026-04-01", address), Today());
    ASSERT_FALSE(today.ok());
    ASSERT_EQ(today.errors[0].field, "municipality_code");
    ASSERT_EQ(today.errors[0].code, ErrorCode::kAbolished);
    ASSERT_FALSE(today.errors[0].successors.empty());
    for (const std::string& s : today.errors[0].successors) EXPECT_NE(Table().Find(s), nullptr);
    CheckResult then =
        CheckJsonNotification(Notification(h.code, h.last_day.ToIso(), address), Today(true));
    EXPECT_TRUE(then.ok()) << (then.ok() ? "" : then.errors[0].field);
  }
  // 平成17年 was the peak of the 平成の大合併.
  EXPECT_GE(n, 900u);
}

}  // namespace
}  // namespace kakunin
