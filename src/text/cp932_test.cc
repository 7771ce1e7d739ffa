#include "text/cp932.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kakunin::text {
namespace {

// Encodes UTF-8 text to CP932 with the system's iconv, as a municipal system's export would.
std::string Iconv(const std::string& utf8) {
  char in_path[] = "/tmp/kakunin_cp932_XXXXXX";
  int fd = mkstemp(in_path);
  EXPECT_GE(fd, 0);
  FILE* f = fdopen(fd, "wb");
  fwrite(utf8.data(), 1, utf8.size(), f);
  fclose(f);
  std::string out_path = std::string(in_path) + ".out";
  std::string cmd = "iconv -f UTF-8 -t CP932 " + std::string(in_path) + " > " + out_path;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out_path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::remove(in_path);
  std::remove(out_path.c_str());
  return ss.str();
}

TEST(Cp932Test, DecodesWhatIconvEncodes) {
  const std::string text =
      "山田　太郎,ﾔﾏﾀﾞ ﾀﾛｳ,髙橋,﨑,①,～,－,ー,ヶ,山梨県甲府市丸の内一丁目6番1号,\\";
  std::string cp932 = Iconv(text);
  ASSERT_FALSE(cp932.empty());
  ASSERT_NE(cp932, text);
  auto decoded = DecodeCp932(cp932);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, text);
}

TEST(Cp932Test, AsciiPassesThrough) {
  EXPECT_EQ(DecodeCp932("192015,1,entry"), "192015,1,entry");
}

TEST(Cp932Test, RejectsInvalidBytesInsteadOfSubstituting) {
  EXPECT_FALSE(DecodeCp932("\x81"));          // truncated lead byte
  EXPECT_FALSE(DecodeCp932("\x82\x20"));      // lead byte + invalid trail
  EXPECT_FALSE(DecodeCp932("a\xFD"));         // unused single byte
  EXPECT_FALSE(DecodeCp932("\x85\x40"));      // unassigned row
}

TEST(Cp932Test, StructureBytesNeverTrailBytes) {
  // Every trail byte is >= 0x40, so ',' '"' CR LF can split records before decoding.
  std::string cp932 = Iconv("表,ソ,能");  // 0x5C trail bytes (表=95 5C, ソ=83 5C, 能=94 5C)
  auto decoded = DecodeCp932(cp932);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, "表,ソ,能");
  EXPECT_TRUE(IsCp932LeadByte(0x95));
  EXPECT_FALSE(IsCp932LeadByte(','));
}

}  // namespace
}  // namespace kakunin::text
