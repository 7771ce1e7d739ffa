#include "text/utf8.h"

#include <gtest/gtest.h>

namespace kakunin::text {
namespace {

TEST(Utf8Test, AcceptsWellFormed) {
  EXPECT_TRUE(IsValidUtf8("abc"));
  EXPECT_TRUE(IsValidUtf8("山田太郎"));
  EXPECT_TRUE(IsValidUtf8("\xF0\xA0\xAE\xB7"));  // 𠮷 (CJK Extension B)
  EXPECT_TRUE(IsValidUtf8("葛\xF3\xA0\x84\x80"));  // 葛 + IVS U+E0100
}

TEST(Utf8Test, RejectsMalformed) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // encoded surrogate U+D800 (CESU)
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE5\xB1"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

TEST(Utf8Test, CountsCodePoints) {
  EXPECT_EQ(CodePointCount("abc"), 3u);
  EXPECT_EQ(CodePointCount("山田"), 2u);
  EXPECT_EQ(CodePointCount("𠮷野"), 2u);
  EXPECT_EQ(CodePointCount("葛\xF3\xA0\x84\x80"), 2u);  // the selector counts
}

TEST(Utf8Test, ForbiddenCharacters) {
  size_t n = 0;
  EXPECT_EQ(CheckText("山田　太郎", &n), TextCheck::kOk);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(CheckText(std::string("a\0b", 3)), TextCheck::kInvalid);
  EXPECT_EQ(CheckText("a\tb"), TextCheck::kInvalid);
  EXPECT_EQ(CheckText("a\x7F"), TextCheck::kInvalid);
  EXPECT_EQ(CheckText("a\xC2\x85"), TextCheck::kInvalid);      // U+0085 (C1)
  EXPECT_EQ(CheckText("a\xE2\x80\xAE"), TextCheck::kInvalid);  // U+202E RLO
  EXPECT_EQ(CheckText("a\xE2\x81\xA6"), TextCheck::kInvalid);  // U+2066 LRI
  EXPECT_EQ(CheckText("a\xE2\x80\xAF"), TextCheck::kOk);       // U+202F is allowed
  EXPECT_EQ(CheckText("\xEE\x80\x80"), TextCheck::kOk);        // PUA (外字) allowed
}

TEST(Utf8Test, EncodeDecodeRoundTrip) {
  for (char32_t cp : {0x41u, 0x3042u, 0x20BB7u, 0xE0100u, 0x10FFFFu, 0x7FFu, 0x800u}) {
    std::string s;
    AppendUtf8(cp, &s);
    size_t pos = 0;
    auto back = DecodeOne(s, &pos);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, cp);
    EXPECT_EQ(pos, s.size());
  }
}

}  // namespace
}  // namespace kakunin::text
