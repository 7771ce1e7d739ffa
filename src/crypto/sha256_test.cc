#include "crypto/sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "core/bytes.h"
#include "core/random.h"

namespace kakunin::crypto {
namespace {

// FIPS 180-2, appendix B.
constexpr std::string_view kAbcDigest =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view k448BitMessage =
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr std::string_view k448BitDigest =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";

TEST(Sha256Test, FipsKnownAnswers) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")), kAbcDigest);
  EXPECT_EQ(HexEncode(Sha256(k448BitMessage)), k448BitDigest);
}

TEST(Sha256Test, OneMillionAs) {
  Sha256Hasher hasher;
  const std::string thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i) hasher.Update(thousand);
  EXPECT_EQ(HexEncode(hasher.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, DigestIsRawBytes) { EXPECT_EQ(Sha256("abc").size(), kSha256Size); }

TEST(Sha256HasherTest, IncrementalEqualsOneShotOnRandomSplits) {
  SeededRandom random(180);
  for (int round = 0; round < 200; ++round) {
    std::string message(random.Uniform(300), '\0');
    for (char& c : message) c = static_cast<char>(random.Uniform(256));
    Sha256Hasher hasher;
    size_t pos = 0;
    while (pos < message.size()) {
      size_t piece = random.Uniform(message.size() - pos + 1);  // empty pieces too
      hasher.Update(std::string_view(message).substr(pos, piece));
      pos += piece;
    }
    ASSERT_EQ(hasher.Finish(), Sha256(message)) << "round " << round;
  }
}

TEST(Sha256HasherTest, FinishResetsForTheNextMessage) {
  Sha256Hasher hasher;
  hasher.Update("ab");
  hasher.Update("c");
  EXPECT_EQ(HexEncode(hasher.Finish()), kAbcDigest);
  hasher.Update(k448BitMessage);
  EXPECT_EQ(HexEncode(hasher.Finish()), k448BitDigest);
  EXPECT_EQ(hasher.Finish(), Sha256(""));
}

TEST(Sha256HasherTest, MovedHasherKeepsItsState) {
  Sha256Hasher first;
  first.Update("a");
  Sha256Hasher second(std::move(first));
  second.Update("b");
  Sha256Hasher third;
  third = std::move(second);
  third.Update("c");
  EXPECT_EQ(HexEncode(third.Finish()), kAbcDigest);
}

TEST(Sha256HasherTest, ACopyContinuesTheMessageOnItsOwn) {
  Sha256Hasher first;
  first.Update("ab");
  Sha256Hasher copy = first;
  copy.Update("c");
  first.Update("x");
  EXPECT_EQ(HexEncode(copy.Finish()), kAbcDigest);
  EXPECT_EQ(first.Finish(), Sha256("abx"));
}

// Sha256To over parts, against the one-shot digest, at every split around SHA-256's 64-byte
// block and its 55/56-byte padding boundary.
TEST(Sha256Test, PartsEqualTheWholeAtEveryBlockBoundary) {
  std::string message;
  for (int i = 0; i < 130; ++i) message.push_back(static_cast<char>('a' + i % 26));
  for (size_t len : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 119u, 120u, 128u, 130u}) {
    const std::string_view whole = std::string_view(message).substr(0, len);
    for (size_t cut = 0; cut <= len; cut += (len > 8 ? len / 4 : 1)) {
      char out[kSha256Size];
      Sha256To({whole.substr(0, cut), whole.substr(cut)}, out);
      EXPECT_EQ(std::string(out, kSha256Size), Sha256(whole)) << len << " cut at " << cut;
    }
  }
  EXPECT_EQ(HexEncode(Sha256(k448BitMessage)), k448BitDigest);
}

}  // namespace
}  // namespace kakunin::crypto
