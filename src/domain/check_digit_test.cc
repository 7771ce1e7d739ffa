#include "domain/check_digit.h"

#include <gtest/gtest.h>

#include "domain/identifiers.h"
#include "domain/local_gov_code.h"

namespace kakunin {
namespace {

// The contract's worked examples (spec/notifications.md, "Check digits").
TEST(CheckDigitTest, LocalGovCodeExamples) {
  EXPECT_EQ(LocalGovCheckDigit("19000"), 4);  // 山梨県 190004
  EXPECT_EQ(LocalGovCheckDigit("19201"), 5);  // 甲府市 192015
  EXPECT_EQ(LocalGovCheckDigit("04302"), 8);  // 七ヶ宿町 043028
  EXPECT_EQ(LocalGovCheckDigit("13104"), 1);  // 新宿区 131041 (r = 0)
  EXPECT_EQ(LocalGovCheckDigit("13113"), 0);  // 渋谷区 131130 (r = 1)
}

TEST(CheckDigitTest, IndividualNumberExamples) {
  ErrorCode e;
  EXPECT_TRUE(IndividualNumber::Parse("123456789018", &e));
  EXPECT_TRUE(IndividualNumber::Parse("983205673214", &e));
  EXPECT_FALSE(IndividualNumber::Parse("123456789019", &e));
  EXPECT_EQ(e, ErrorCode::kCheckDigit);
  EXPECT_FALSE(IndividualNumber::Parse("12345678901", &e));
  EXPECT_EQ(e, ErrorCode::kFormat);
  EXPECT_FALSE(IndividualNumber::Parse("12345678901a", &e));
  EXPECT_EQ(e, ErrorCode::kFormat);
  EXPECT_EQ(IndividualNumber::FromElevenDigits("98320567321").str(), "983205673214");
}

TEST(CheckDigitTest, ResidentCodeExample) {
  EXPECT_EQ(ResidentCode::FromTenDigits("2472705960").str(), "24727059608");
  ErrorCode e;
  EXPECT_TRUE(ResidentCode::Parse("24727059608", ResidentCodeCheck::kFull, &e));
  EXPECT_FALSE(ResidentCode::Parse("24727059609", ResidentCodeCheck::kFull, &e));
  EXPECT_EQ(e, ErrorCode::kCheckDigit);
  // The node setting that switches the unverified formula off.
  EXPECT_TRUE(ResidentCode::Parse("24727059609", ResidentCodeCheck::kFormatOnly, &e));
  EXPECT_FALSE(ResidentCode::Parse("2472705960", ResidentCodeCheck::kFormatOnly, &e));
  EXPECT_EQ(e, ErrorCode::kFormat);
}

TEST(LocalGovTableTest, BuiltinHasEveryLevel) {
  const LocalGovTable& t = LocalGovTable::Builtin();
  const LocalGovEntry* kofu = t.Find("192015");
  ASSERT_NE(kofu, nullptr);
  EXPECT_EQ(kofu->name, "甲府市");
  EXPECT_EQ(kofu->kana, "コウフシ");
  EXPECT_EQ(kofu->prefecture, "山梨県");
  EXPECT_EQ(kofu->kind, LocalGovKind::kCity);
  ASSERT_NE(t.Find("190004"), nullptr);
  EXPECT_EQ(t.Find("190004")->kind, LocalGovKind::kPrefecture);
  ASSERT_NE(t.Find("043028"), nullptr);
  EXPECT_EQ(t.Find("043028")->name, "七ヶ宿町");
  ASSERT_NE(t.Find("131041"), nullptr);
  EXPECT_EQ(t.Find("131041")->kind, LocalGovKind::kSpecialWard);
  const LocalGovEntry* chuo = t.Find("011011");
  ASSERT_NE(chuo, nullptr);
  EXPECT_EQ(chuo->kind, LocalGovKind::kWard);
  EXPECT_EQ(chuo->FullName(), "北海道札幌市中央区");
  // 47 prefectures, 27 municipalities of 山梨県, ~1,900 rows in all.
  int prefectures = 0;
  for (const auto& e : t.entries()) prefectures += e.kind == LocalGovKind::kPrefecture;
  EXPECT_EQ(prefectures, 47);
  EXPECT_EQ(t.MunicipalitiesOf(19).size(), 27u);
  EXPECT_GT(t.entries().size(), 1850u);
  // Every row's check digit holds (rows that fail are dropped when parsing).
  for (const auto& e : t.entries()) {
    EXPECT_EQ(LocalGovCheckDigit(std::string_view(e.code).substr(0, 5)), e.code[5] - '0');
  }
}

TEST(LocalGovTableTest, LookupErrors) {
  const LocalGovTable& t = LocalGovTable::Builtin();
  ErrorCode e;
  EXPECT_EQ(LookupLocalGovCode("19201", t, &e), nullptr);
  EXPECT_EQ(e, ErrorCode::kFormat);
  EXPECT_EQ(LookupLocalGovCode("192016", t, &e), nullptr);
  EXPECT_EQ(e, ErrorCode::kCheckDigit);
  // 19999 has a valid check digit but is no municipality.
  std::string code = "19999" + std::to_string(LocalGovCheckDigit("19999"));
  EXPECT_EQ(LookupLocalGovCode(code, t, &e), nullptr);
  EXPECT_EQ(e, ErrorCode::kUnknownValue);
}

TEST(LocalGovTableTest, AddressRule) {
  const LocalGovTable& t = LocalGovTable::Builtin();
  const LocalGovEntry& kofu = *t.Find("192015");
  EXPECT_TRUE(t.AddressBeginsWith(kofu, "山梨県甲府市丸の内一丁目6番1号"));
  EXPECT_TRUE(t.AddressBeginsWith(kofu, "山梨県　甲府市丸の内"));
  EXPECT_FALSE(t.AddressBeginsWith(kofu, "甲府市丸の内"));
  EXPECT_FALSE(t.AddressBeginsWith(kofu, "山梨県甲斐市"));
  EXPECT_FALSE(t.AddressBeginsWith(kofu, "山梨県南都留郡甲府市"));  // 郡 only for 町村
  const LocalGovEntry& kawaguchiko = *t.Find("194301");
  EXPECT_TRUE(t.AddressBeginsWith(kawaguchiko, "山梨県南都留郡富士河口湖町船津1"));
  EXPECT_TRUE(t.AddressBeginsWith(kawaguchiko, "山梨県富士河口湖町船津1"));
  // Its own 郡 only (review: any 郡, or any word ending in 郡, passed).
  EXPECT_FALSE(t.AddressBeginsWith(kawaguchiko, "山梨県北巨摩郡富士河口湖町船津1"));
  EXPECT_FALSE(t.AddressBeginsWith(kawaguchiko, "山梨県西八代郡富士河口湖町"));
  EXPECT_FALSE(t.AddressBeginsWith(kawaguchiko, "山梨県あいうえおか郡富士河口湖町"));
  EXPECT_TRUE(t.AddressBeginsWith(*t.Find("193461"), "山梨県西八代郡市川三郷町市川大門"));
  // 東京都's island towns have no 郡; the two 泊村 of 北海道 have two.
  EXPECT_FALSE(t.AddressBeginsWith(*t.Find("133612"), "東京都大島郡大島町元町"));
  EXPECT_TRUE(t.AddressBeginsWith(*t.Find("133612"), "東京都大島町元町"));
  EXPECT_TRUE(t.AddressBeginsWith(*t.Find("014036"), "北海道古宇郡泊村大字茅沼村"));
  EXPECT_FALSE(t.AddressBeginsWith(*t.Find("014036"), "北海道国後郡泊村"));
  // Every town and village outside 東京都's islands knows its 郡.
  size_t without = 0;
  for (int pref = 1; pref <= 47; ++pref) {
    for (const LocalGovEntry* e : t.MunicipalitiesOf(pref)) {
      if ((e->kind == LocalGovKind::kTown || e->kind == LocalGovKind::kVillage) &&
          e->county.empty()) {
        ++without;
        EXPECT_EQ(e->prefecture, "東京都") << e->code;
      }
    }
  }
  EXPECT_EQ(without, 9u);
  // The contract's example: 七ケ宿町 is 七ヶ宿町.
  const LocalGovEntry& shichikashuku = *t.Find("043028");
  EXPECT_TRUE(t.AddressBeginsWith(shichikashuku, "宮城県刈田郡七ケ宿町字関"));
  EXPECT_TRUE(t.AddressBeginsWith(shichikashuku, "宮城県七ヶ宿町"));
  // The usual spellings of names whose characters the general 異体字 folding keeps apart
  // (review: each was address_mismatch).
  EXPECT_TRUE(t.AddressBeginsWith(*t.Find("023213"), "青森県西津軽郡鯵ヶ沢町1"));
  EXPECT_TRUE(t.AddressBeginsWith(*t.Find("394050"), "高知県高岡郡檮原町1"));
  EXPECT_TRUE(t.AddressBeginsWith(*t.Find("082082"), "茨城県竜ヶ崎市1"));
  EXPECT_TRUE(t.AddressBeginsWith(*t.Find("042030"), "宮城県塩釜市1"));
  EXPECT_TRUE(t.AddressBeginsWith(*t.Find("212172"), "岐阜県飛驒市1"));
  EXPECT_TRUE(t.AddressBeginsWith(*t.Find("253847"), "滋賀県蒲生郡龍王町1"));
  EXPECT_FALSE(t.AddressBeginsWith(*t.Find("082082"), "茨城県竜王町1"));
  // A designated-city ward: city, then ward.
  const LocalGovEntry& chuo = *t.Find("011011");
  EXPECT_TRUE(t.AddressBeginsWith(chuo, "北海道札幌市中央区北1条西2丁目"));
  EXPECT_FALSE(t.AddressBeginsWith(chuo, "北海道中央区北1条西2丁目"));
  EXPECT_FALSE(t.AddressBeginsWith(chuo, "北海道札幌市北区"));
}

}  // namespace
}  // namespace kakunin
