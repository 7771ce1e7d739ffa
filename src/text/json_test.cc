#include "text/json.h"

#include <gtest/gtest.h>

namespace kakunin::text {
namespace {

TEST(JsonTest, ParsesValues) {
  auto v = ParseJson(R"( {"a": 1, "b": [true, false, null], "c": "x\"y", "d": -1.5e3} )");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_TRUE(v->is_object());
  ASSERT_EQ(v->members().size(), 4u);
  EXPECT_EQ(v->Find("a")->AsInt64(), 1);
  EXPECT_EQ(v->Find("b")->items().size(), 3u);
  EXPECT_EQ(v->Find("c")->text(), "x\"y");
  EXPECT_FALSE(v->Find("d")->is_integer_literal());
  EXPECT_EQ(v->Find("d")->AsInt64(), std::nullopt);
}

TEST(JsonTest, KeepsDuplicateKeysInOrder) {
  auto v = ParseJson(R"({"role":"viewer","role":"admin"})");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->members().size(), 2u);
  EXPECT_EQ(v->Find("role")->text(), "viewer");  // the first, never silently the last
}

TEST(JsonTest, RejectsMalformedDocuments) {
  for (const char* bad : {"", "{", "{\"a\":}", "{\"a\":1,}", "[1,]", "01", "1.", "-", "+1",
                          "{'a':1}", "{\"a\":1} x", "\"\\x\"", "\"a\nb\"", "nul", "[1 2]",
                          "{\"a\" 1}", "\"\\u12G4\"", "NaN", "Infinity"}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
}

TEST(JsonTest, LimitsDepthAndSize) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(ParseJson(deep).ok());
  JsonLimits small;
  small.max_bytes = 10;
  EXPECT_FALSE(ParseJson("[1,2,3,4,5,6,7]", small).ok());
  EXPECT_TRUE(ParseJson("[1,2,3]", small).ok());
  // Values counted, nested ones included: [1,[2,3]] holds five.
  JsonLimits few;
  few.max_values = 5;
  EXPECT_TRUE(ParseJson("[1,[2,3]]", few).ok());
  auto many = ParseJson("[1,[2,3],4]", few);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.status().message().find("too many values"), std::string::npos);
}

TEST(JsonTest, MarksBadStringsWithoutFailingTheDocument) {
  auto v = ParseJson("{\"name\":\"\xFF\",\"ok\":\"a\"}");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->Find("name")->well_formed());
  EXPECT_TRUE(v->Find("ok")->well_formed());
  auto lone = ParseJson(R"({"name":"a\ud800b"})");
  ASSERT_TRUE(lone.ok());
  EXPECT_FALSE(lone->Find("name")->well_formed());
  auto low = ParseJson(R"({"name":"\udc00"})");
  ASSERT_TRUE(low.ok());
  EXPECT_FALSE(low->Find("name")->well_formed());
  auto pair = ParseJson(R"({"name":"\ud842\udfb7"})");  // 𠮷
  ASSERT_TRUE(pair.ok());
  EXPECT_TRUE(pair->Find("name")->well_formed());
  EXPECT_EQ(pair->Find("name")->text(), "𠮷");
  // A malformed key is a document error: the key cannot be named in a report.
  EXPECT_FALSE(ParseJson("{\"\xFF\":1}").ok());
}

TEST(JsonTest, WriterEscapesAndKeepsUtf8) {
  std::string out;
  AppendJsonString("a\"b\\c\n\x01𠮷", &out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001𠮷\"");
  auto back = ParseJson(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->text(), "a\"b\\c\n\x01𠮷");
}

}  // namespace
}  // namespace kakunin::text
