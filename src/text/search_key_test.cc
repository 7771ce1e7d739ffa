#include "text/search_key.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(SearchKey("齊藤"), SearchKey("斎藤"));
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

TEST(SearchKeyTest, ExtensionBSurvives) {
  EXPECT_EQ(SearchKey("𠮷田"), "𠮷田");  // no fold invented for 𠮷
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
