#include "audit/entry.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "audit/checkpoint.h"
#include "audit/signer.h"

namespace kakunin::audit {
namespace {

AuditEntry Sample() {
  AuditEntry e;
  e.version = kEntryVersion1;
  e.sequence = 42;
  e.time = 1795293901471010;
  e.actor = "os:root";
  e.terminal = "cli@host";
  e.action = "resident.search";
  e.purpose = "disclosure";
  e.targets = {"24727059608", "03905367160"};
  e.conditions = R"({"kana":"ヤマダ"})";
  e.result_count = 2;
  e.outcome = "done";
  return e;
}

TEST(AuditEntryTest, CanonicalRoundTrip) {
  AuditEntry e = Sample();
  std::string bytes = EncodeEntry(e);
  EXPECT_EQ(bytes[0], 1);  // version
  auto back = DecodeEntry(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, e);
  EXPECT_EQ(EncodeEntry(*back), bytes);  // same entry, same bytes
}

TEST(AuditEntryTest, FixedLayout) {
  AuditEntry e;
  e.version = kEntryVersion1;
  e.sequence = 1;
  e.time = 2;
  std::string bytes = EncodeEntry(e);
  // version, u64 seq, i64 time, 4 empty strings, u32 0 targets, empty conditions, i64 0, empty.
  EXPECT_EQ(bytes.size(), 1u + 8 + 8 + 4 * 4 + 4 + 4 + 8 + 4);
  EXPECT_EQ(bytes.substr(1, 8), std::string("\0\0\0\0\0\0\0\1", 8));  // big-endian
}

TEST(AuditEntryTest, DecodeIsStrict) {
  std::string bytes = EncodeEntry(Sample());
  EXPECT_FALSE(DecodeEntry("").ok());
  EXPECT_FALSE(DecodeEntry(bytes + "x").ok());               // trailing bytes
  EXPECT_FALSE(DecodeEntry(bytes.substr(0, bytes.size() - 1)).ok());  // truncated
  std::string v3 = bytes;
  v3[0] = 3;
  EXPECT_FALSE(DecodeEntry(v3).ok());  // unknown version
  std::string as_v2 = bytes;
  as_v2[0] = 2;
  EXPECT_FALSE(DecodeEntry(as_v2).ok());  // a version-1 body is no version-2 entry
  std::string huge = bytes;
  huge[17] = '\x7F';  // actor length far beyond the buffer
  EXPECT_FALSE(DecodeEntry(huge).ok());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeEntry(bytes.substr(0, cut)).ok()) << cut;
  }
}

TEST(CheckpointTest, SignedAndParsed) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(::testing::TempDir()) / ("kakunin_cp_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ASSERT_TRUE(CreateSigningKeyFile((dir / "k").string()).ok());
  EXPECT_FALSE(CreateSigningKeyFile((dir / "k").string()).ok());  // never overwritten
  auto signer = LoadSigningKeyFile((dir / "k").string());
  ASSERT_TRUE(signer.ok());
  auto pub = LoadPublicKeyFile((dir / "k.pub").string());
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, (*signer)->public_key());
  Checkpoint c{7, std::string(32, '\x11'), 123, (*signer)->key_id(), "", "", ""};
  c.signature = *(*signer)->Sign(CheckpointMessage(c.tree_size, c.root, c.time));
  EXPECT_TRUE(VerifyCheckpoint(c, *pub));
  auto back = CheckpointFromJson(CheckpointToJson(c));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(VerifyCheckpoint(*back, *pub));
  Checkpoint other = c;
  other.tree_size = 8;
  EXPECT_FALSE(VerifyCheckpoint(other, *pub));
  other = c;
  other.root[0] = 0x12;
  EXPECT_FALSE(VerifyCheckpoint(other, *pub));
  EXPECT_FALSE(CheckpointFromJson("{}").ok());
  EXPECT_FALSE(CheckpointFromJson(R"({"tree_size":1,"root":"00","time":1,"key_id":"","signature":""})").ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kakunin::audit

namespace kakunin::audit {
namespace {
TEST(AuditEntryTest, HeadMatchesFullDecode) {
  AuditEntry e = Sample();
  std::string bytes = EncodeEntry(e);
  auto h = DecodeEntryHead(bytes);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sequence, e.sequence);
  EXPECT_EQ(h->time, e.time);
  EXPECT_EQ(h->actor, e.actor);
  EXPECT_EQ(h->action, e.action);
  EXPECT_EQ(h->purpose, e.purpose);
  for (size_t cut = 0; cut < 40; ++cut) EXPECT_FALSE(DecodeEntryHead(bytes.substr(0, cut))) << cut;
}
}  // namespace
}  // namespace kakunin::audit
