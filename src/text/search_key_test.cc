#include "text/search_key.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>

#include "text/utf8.h"

namespace kakunin::text {
namespace {

TEST(SearchKeyTest, KanaKindWidthAndSpacesFold) {
  // The example: three spellings of one reading.
  std::string k = SearchKey("やまだたろう");
  EXPECT_EQ(SearchKey("ﾔﾏﾀﾞ ﾀﾛｳ"), k);
  EXPECT_EQ(SearchKey("ヤマダ　タロウ"), k);
  EXPECT_EQ(SearchKey("ヤマダ タロウ"), k);
  EXPECT_EQ(k, "やまだたろう");
  EXPECT_EQ(SearchKey("ｶﾞｯｺｳ"), SearchKey("がつこう"));  // small kana fold too
  EXPECT_EQ(SearchKey("ジョン・スミス"), SearchKey("じょんすみす"));
}

TEST(SearchKeyTest, VariantIdeographsFold) {
  EXPECT_EQ(SearchKey("髙橋"), SearchKey("高橋"));
  EXPECT_EQ(SearchKey("山﨑"), SearchKey("山崎"));
  EXPECT_EQ(SearchKey("渡邊"), SearchKey("渡辺"));
  EXPECT_EQ(SearchKey("渡邉"), SearchKey("渡辺"));
  EXPECT_EQ(SearchKey("齋藤"), SearchKey("斎藤"));
  EXPECT_EQ(SearchKey("齊藤"), SearchKey("斉藤"));  // 齊 is 斉's old form, not 斎's
  EXPECT_EQ(SearchKey("濵田"), SearchKey("浜田"));
  EXPECT_EQ(SearchKey("濱田"), SearchKey("浜田"));
  EXPECT_EQ(SearchKey("七ヶ宿町"), SearchKey("七ケ宿町"));
  EXPECT_EQ(SearchKey("七ヵ宿町"), SearchKey("七ケ宿町"));
  EXPECT_NE(SearchKey("高橋"), SearchKey("高田"));
}

TEST(SearchKeyTest, SelectorsDroppedWidthFolded) {
  EXPECT_EQ(SearchKey("葛\xF3\xA0\x84\x80城"), SearchKey("葛城"));  // IVS
  EXPECT_EQ(SearchKey("ＡＢＣ１２３"), SearchKey("abc123"));
  EXPECT_EQ(SearchKey("Smith"), SearchKey("SMITH"));
  EXPECT_EQ(SearchKey("山梨県　甲府市"), SearchKey("山梨県甲府市"));
}

TEST(SearchKeyTest, ExtensionBFoldsWithoutBreaking) {
  // 𠮷 (U+20BB7, outside the BMP) folds to 吉: a search for 吉田 finds 𠮷田.
  EXPECT_EQ(SearchKey("𠮷田"), "吉田");
  EXPECT_EQ(SearchKey("𠮷田"), SearchKey("吉田"));
  EXPECT_EQ(SearchKey("𩸽"), "𩸽");  // a supplementary-plane character with no fold survives
}

// The fold table comes from data/variant_folds.tsv (Unihan, scripts/build-variant-folds) and
// is compiled in: it must be there and of the size the generator reported.
TEST(VariantFoldTest, TableIsCompiledIn) {
  EXPECT_GT(VariantFoldCount(), 1000u);
  EXPECT_EQ(FoldVariant(U'髙'), U'高');
  EXPECT_EQ(FoldVariant(U'高'), U'高');
  EXPECT_EQ(FoldVariant(U'a'), U'a');
  EXPECT_EQ(SearchKeyVersion().size(), 16u);
  EXPECT_EQ(SearchKeyVersion(), SearchKeyVersion());
}

// Surname and given-name variants a clerk expects to find one another. Each group folds to one
// key; the count is printed so the figure in the report can be checked.
TEST(VariantFoldTest, CommonNameVariantsFoldTogether) {
  const char* const kGroups[] = {
      "髙高", "﨑嵜崎", "𠮷吉", "邊邉辺", "齋斎", "齊斉", "澤沢", "濱濵浜", "廣広", "德徳",
      "櫻桜", "國国", "眞真", "遙遥", "惠恵", "嶋嶌島", "籠篭", "冨富", "槗橋", "澁渋", "藏蔵",
      "淺浅", "邨村", "龜亀", "會会", "萬万", "藝芸", "兒児", "壹壱", "彌弥", "曾曽", "瀧滝",
      "戶戸", "莊荘", "條条", "增増", "實実", "與与", "鐵鉄", "關関", "縣県", "靜静", "黑黒",
      "穗穂", "壽寿", "豐豊", "圓円", "凜凛", "槇槙", "讚讃", "繩縄", "驛駅", "舘館", "峯峰",
      "栁柳", "桒桑", "𦚰脇", "髮髪", "黃黄", "榮栄", "來来", "絲糸", "檜桧", "貳弐", "鬪闘",
      "豫予", "麵麺", "學学", "當当", "體体", "佛仏", "傳伝", "惡悪", "澤沢", "猪猪",
  };
  int folded = 0;
  for (const char* group : kGroups) {
    std::string s = group;
    std::string first;
    bool one = true;
    size_t pos = 0;
    while (pos < s.size()) {
      size_t start = pos;
      ASSERT_TRUE(DecodeOne(s, &pos).has_value());
      std::string key = SearchKey(s.substr(start, pos - start) + "田");
      if (first.empty()) first = key;
      if (key != first) one = false;
    }
    EXPECT_TRUE(one) << group;
    folded += one ? 1 : 0;
  }
  std::printf("variant groups folded: %d of %zu\n", folded, std::size(kGroups));
}

// Different names that must never share a key: characters that look or sound alike, 大字
// numerals, and pairs the law lists as characters of their own (斉/斎, 竜/龍, 芦/蘆).
TEST(VariantFoldTest, DistinctNamesStayApart) {
  const char* const kApart[][2] = {
      {"大田", "太田"}, {"土", "士"}, {"未", "末"}, {"己", "已"}, {"己", "巳"}, {"已", "巳"},
      {"斉藤", "斎藤"}, {"齊藤", "齋藤"}, {"荻", "萩"}, {"伊", "尹"}, {"芦田", "蘆田"},
      {"竜也", "龍也"}, {"崎", "埼"}, {"柿", "杮"}, {"島", "鳥"}, {"鳥", "烏"}, {"祐", "佑"},
      {"侑", "宥"}, {"浩", "皓"}, {"弘", "宏"}, {"崇", "祟"}, {"人", "入"}, {"干", "千"},
      {"刀", "力"}, {"日", "曰"}, {"王", "玉"}, {"天", "夫"}, {"冶", "治"}, {"瓜", "爪"},
      {"戊", "戌"}, {"戌", "戍"}, {"矢", "失"}, {"准", "準"}, {"杉", "彬"}, {"斌", "彬"},
      {"岳", "嶽"}, {"壹岐", "一岐"}, {"于", "於"}, {"鯰", "鮎"}, {"籐", "藤"}, {"澱", "淀"},
      {"范", "範"}, {"譚", "談"}, {"姆", "姥"}, {"捌", "八"}, {"弍", "二"}, {"颱", "台"},
      {"齣", "出"}, {"珪", "圭"}, {"澈", "徹"}, {"晁", "朝"}, {"匈", "胸"}, {"卍", "万"},
  };
  for (const auto& pair : kApart) {
    EXPECT_NE(SearchKey(pair[0]), SearchKey(pair[1])) << pair[0] << " / " << pair[1];
  }
  std::printf("distinct pairs kept apart: checked %zu\n", std::size(kApart));
}

// The table is one step: no canonical form is itself folded, so every member of a class maps
// to the same form whatever the order of folding.
TEST(VariantFoldTest, FoldIsOneStepOverEveryIdeograph) {
  int folded = 0;
  for (char32_t cp = 0x3400; cp <= 0x3134F; ++cp) {  // CJK Ext A .. Ext G
    char32_t once = FoldVariant(cp);
    if (once != cp) ++folded;
    ASSERT_EQ(FoldVariant(once), once) << std::hex << static_cast<uint32_t>(cp);
  }
  EXPECT_EQ(static_cast<size_t>(folded), VariantFoldCount());
}

TEST(KanaTextTest, AcceptsWhatTheContractAllows) {
  EXPECT_TRUE(IsKanaText("ヤマダ　タロウ"));
  EXPECT_TRUE(IsKanaText("やまだ たろう"));
  EXPECT_TRUE(IsKanaText("ﾔﾏﾀﾞ ﾀﾛｳ"));
  EXPECT_TRUE(IsKanaText("ジョン・スミス"));
  EXPECT_TRUE(IsKanaText("ユーコ"));
  EXPECT_FALSE(IsKanaText("山田"));
  EXPECT_FALSE(IsKanaText("yamada"));
  EXPECT_FALSE(IsKanaText("ヤマダ1"));
  EXPECT_FALSE(IsKanaText("　"));
  EXPECT_FALSE(IsKanaText(""));
  EXPECT_FALSE(IsKanaText("\xFF"));
}

}  // namespace
}  // namespace kakunin::text
