#include "text/csv.h"

#include <gtest/gtest.h>

#include <sstream>

namespace kakunin::text {
namespace {

std::vector<CsvRecord> ReadAll(const std::string& s, size_t limit = 1024, bool bom = true) {
  std::istringstream in(s);
  CsvReader r(in, limit, bom);
  std::vector<CsvRecord> out;
  CsvRecord rec;
  while (r.Next(&rec)) out.push_back(rec);
  return out;
}

TEST(CsvTest, Rfc4180Quoting) {
  auto recs = ReadAll("a,b,c\r\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\r\nlast,,\n");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].fields, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(recs[1].fields, (std::vector<std::string>{"x,1", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ(recs[1].line, 2u);
  EXPECT_EQ(recs[2].line, 4u);  // the quoted newline moved it down
  EXPECT_EQ(recs[2].fields, (std::vector<std::string>{"last", "", ""}));
}

TEST(CsvTest, SkipsEmptyLinesAndBom) {
  auto recs = ReadAll("\xEF\xBB\xBFh1,h2\n\n1,2\n\n");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].fields[0], "h1");
  EXPECT_EQ(recs[1].line, 3u);
}

TEST(CsvTest, FlagsMalformedRecordsAndResyncs) {
  auto recs = ReadAll("a,b\nx\"y,2\n\"ok\",3\n\"abc\"def,4\n\"open,5\n");
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_FALSE(recs[0].malformed);
  EXPECT_TRUE(recs[1].malformed);   // quote inside an unquoted field
  EXPECT_FALSE(recs[2].malformed);
  EXPECT_EQ(recs[2].fields[0], "ok");
  EXPECT_TRUE(recs[3].malformed);   // text after a closing quote
  EXPECT_TRUE(recs[4].malformed);   // unterminated at end of input
}

TEST(CsvTest, BoundsRecordSize) {
  std::string big(100, 'x');
  auto recs = ReadAll("a\n" + big + "\nb\n", 50);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_TRUE(recs[1].too_long);
  EXPECT_TRUE(recs[1].fields.empty());
  EXPECT_EQ(recs[2].fields[0], "b");
}

// A record or line of exactly the limit is not too long whatever line ending follows it (LF,
// CRLF or none); one byte more is (review finding: the terminator was counted).
TEST(CsvTest, TheLineEndingIsNotCountedAgainstTheLimit) {
  const std::string exact(50, 'x');
  for (const char* end : {"\n", "\r\n", ""}) {
    auto recs = ReadAll("a\n" + exact + end, 50);
    ASSERT_EQ(recs.size(), 2u) << end;
    EXPECT_FALSE(recs[1].too_long) << end;
    EXPECT_EQ(recs[1].fields[0], exact);
    auto over = ReadAll("a\n" + exact + "y" + end, 50);
    ASSERT_EQ(over.size(), 2u);
    EXPECT_TRUE(over[1].too_long) << end;
  }
  for (const char* end : {"\n", "\r\n", ""}) {
    const std::string after = std::string(end).empty() ? "" : "next\n";
    std::istringstream in(exact + end + after);
    LineReader r(in, 50);
    Line l;
    ASSERT_TRUE(r.Next(&l));
    EXPECT_FALSE(l.too_long) << end;
    EXPECT_EQ(l.text, exact);
  }
}

TEST(CsvTest, WriterQuotesWhenNeeded) {
  std::string out;
  AppendCsvField("plain", &out);
  out += ',';
  AppendCsvField("a,\"b\"", &out);
  EXPECT_EQ(out, "plain,\"a,\"\"b\"\"\"");
  auto recs = ReadAll(out + "\n");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].fields[1], "a,\"b\"");
}

TEST(LineReaderTest, DropsALeadingByteOrderMarkOnlyWhenAsked) {
  Line l;
  std::istringstream kept("\xEF\xBB\xBFone\n");
  LineReader plain(kept, 10);
  ASSERT_TRUE(plain.Next(&l));
  EXPECT_EQ(l.text, "\xEF\xBB\xBFone");
  std::istringstream dropped("\xEF\xBB\xBFone\n\xEF\xBB\xBFtwo\n");
  LineReader strip(dropped, 10, /*strip_bom=*/true);
  ASSERT_TRUE(strip.Next(&l));
  EXPECT_EQ(l.text, "one");
  EXPECT_EQ(l.number, 1u);
  ASSERT_TRUE(strip.Next(&l));
  EXPECT_EQ(l.text, "\xEF\xBB\xBFtwo");
}

TEST(LineReaderTest, SplitsAndBounds) {
  std::istringstream in("one\r\ntwo\n" + std::string(20, 'z') + "\nlast");
  LineReader r(in, 10);
  Line l;
  ASSERT_TRUE(r.Next(&l));
  EXPECT_EQ(l.text, "one");
  ASSERT_TRUE(r.Next(&l));
  EXPECT_EQ(l.text, "two");
  ASSERT_TRUE(r.Next(&l));
  EXPECT_TRUE(l.too_long);
  EXPECT_EQ(l.number, 3u);
  ASSERT_TRUE(r.Next(&l));
  EXPECT_EQ(l.text, "last");
  EXPECT_FALSE(r.Next(&l));
}

}  // namespace
}  // namespace kakunin::text
