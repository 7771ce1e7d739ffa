// The second edition of the operation-log entry: known answers for the encoding and the target
// tree, the strict decoder, and C2SP checkpoint notes.

#include <gtest/gtest.h>

#include <filesystem>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/merkle.h"
#include "audit/signer.h"
#include "audit/targets.h"
#include "core/bytes.h"
#include "crypto/sha256.h"

namespace kakunin::audit {
namespace {

TargetLeaf Leaf(char fill, TargetStatus status) {
  return TargetLeaf{std::string(kTargetMacSize, fill), status, ""};
}

AuditEntry SampleV2() {
  AuditEntry e;
  e.sequence = 42;
  e.time = 1795293901471010;
  e.actor = "os:root";
  e.terminal = "cli@host";
  e.action = "resident.search";
  e.purpose = "disclosure";
  std::vector<TargetLeaf> leaves = {Leaf('\x11', TargetStatus::kFound),
                                    Leaf('\x22', TargetStatus::kFound)};
  e.target_count = 2;
  e.target_root = TargetRoot(leaves);
  e.criteria = {"name_kana", "birth_date"};
  e.commitment = std::string(32, '\x33');
  e.conditions = "{}";
  e.result_count = 2;
  e.outcome = "done";
  return e;
}

TEST(EntryV2Test, KnownAnswer) {
  // Pinned bytes: any change to the encoding changes every leaf hash of every log.
  const std::string bytes = EncodeEntry(SampleV2());
  EXPECT_EQ(HexEncode(bytes),
            "02"                                  // version
            "000000000000002a"                    // sequence 42
            "000660cf6f43bd22"                    // time
            "000000076f733a726f6f74"              // "os:root"
            "00000008636c6940686f7374"            // "cli@host"
            "0000000f7265736964656e742e736561726368"  // "resident.search"
            "0000000a646973636c6f73757265"        // "disclosure"
            "00000002" +                          // target_count
                HexEncode(SampleV2().target_root) +
                "00000002"                        // two criteria
                "000000096e616d655f6b616e61"      // "name_kana"
                "0000000a62697274685f64617465"    // "birth_date"
                "00000020" + std::string(64, '3') +  // commitment
                "000000027b7d"                    // "{}"
                "0000000000000002"                // result_count
                "00000004646f6e65");              // "done"
  EXPECT_EQ(HexEncode(LeafHash(bytes)),
            HexEncode(crypto::Sha256(std::string(1, '\0') + bytes)));
  auto back = DecodeEntry(bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, SampleV2());
  EXPECT_EQ(EncodeEntry(*back), bytes);
  auto head = DecodeEntryHead(bytes);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->version, 2);
  EXPECT_EQ(head->target_count, 2u);
}

TEST(EntryV2Test, TargetTreeKnownAnswer) {
  const TargetLeaf a = Leaf('\x11', TargetStatus::kFound);
  // leaf = SHA-256(0x00 ‖ "kakunin-target-v2" ‖ mac ‖ status ‖ u8 digest length ‖ digest)
  EXPECT_EQ(TargetLeafHash(a), crypto::Sha256(std::string(1, '\0') + "kakunin-target-v2" +
                                              std::string(32, '\x11') + "\x01" +
                                              std::string(1, '\0')));
  std::vector<TargetLeaf> three = {a, Leaf('\x22', TargetStatus::kMissing),
                                   Leaf('\x33', TargetStatus::kNone)};
  three[2].digest = std::string(32, '\x44');
  const std::string h0 = TargetLeafHash(three[0]), h1 = TargetLeafHash(three[1]),
                    h2 = TargetLeafHash(three[2]);
  EXPECT_EQ(TargetRoot(three), NodeHash(NodeHash(h0, h1), h2));  // RFC 9162 shape
  EXPECT_EQ(TargetRoot({}), crypto::Sha256(""));
  for (size_t i = 0; i < three.size(); ++i) {
    auto path = TargetPath(three, i);
    EXPECT_TRUE(VerifyInclusion(TargetLeafHash(three[i]), i, 3, path, TargetRoot(three))) << i;
    EXPECT_FALSE(VerifyInclusion(TargetLeafHash(three[(i + 1) % 3]), i, 3, path,
                                 TargetRoot(three)))
        << i;
  }
  auto stored = DecodeTargetLeaves(EncodeTargetLeaves(three));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, three);
}

TEST(EntryV2Test, TargetNames) {
  const std::string hex(64, 'a');
  auto found = ParseTargetName("mac:" + hex + ":found");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->status, TargetStatus::kFound);
  EXPECT_EQ(TargetName(*found), "mac:" + hex + ":found");
  EXPECT_EQ(ParseTargetName("mac:" + hex + ":missing")->status, TargetStatus::kMissing);
  EXPECT_EQ(ParseTargetName("mac:" + hex)->status, TargetStatus::kNone);
  // A resident code in clear never becomes a target.
  EXPECT_FALSE(ParseTargetName("24727059608").ok());
  EXPECT_FALSE(ParseTargetName("mac:" + hex + ":other").ok());
  EXPECT_FALSE(ParseTargetName("mac:" + std::string(63, 'a')).ok());
  EXPECT_FALSE(ParseTargetName("mac:" + std::string(64, 'g')).ok());
}

TEST(EntryV2Test, DecodersAreStrict) {
  const std::string bytes = EncodeEntry(SampleV2());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeEntry(bytes.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(DecodeEntry(bytes + "x").ok());
  // No targets but a root that is not the empty tree's, and the other way round.
  AuditEntry e = SampleV2();
  e.target_count = 0;
  EXPECT_FALSE(DecodeEntry(EncodeEntry(e)).ok());
  e = SampleV2();
  e.target_root = crypto::Sha256("");
  EXPECT_FALSE(DecodeEntry(EncodeEntry(e)).ok());
  e = SampleV2();
  e.commitment = "short";
  EXPECT_FALSE(DecodeEntry(EncodeEntry(e)).ok());
  e = SampleV2();
  e.criteria.push_back("");
  EXPECT_FALSE(DecodeEntry(EncodeEntry(e)).ok());
  e = SampleV2();
  e.criteria.assign(kMaxCriteria + 1, "x");
  EXPECT_FALSE(DecodeEntry(EncodeEntry(e)).ok());
  // Stored target leaves: whole records, known statuses, digests of 0 or 32 bytes.
  std::string leaves = EncodeTargetLeaves({Leaf('\x11', TargetStatus::kFound)});
  EXPECT_TRUE(DecodeTargetLeaves(leaves).ok());
  EXPECT_FALSE(DecodeTargetLeaves(leaves + "x").ok());
  EXPECT_FALSE(DecodeTargetLeaves(leaves.substr(0, leaves.size() - 1)).ok());
  std::string bad_status = leaves;
  bad_status[32] = 3;
  EXPECT_FALSE(DecodeTargetLeaves(bad_status).ok());
  std::string bad_len = leaves;
  bad_len[33] = 5;
  EXPECT_FALSE(DecodeTargetLeaves(bad_len + "12345").ok());
}

TEST(EntryV2Test, NothingPersonalInTheEncoding) {
  // The version-2 encoding has no place for targets or condition values: what the builder
  // put in `targets` is not in the bytes.
  AuditEntry e = SampleV2();
  e.targets = {"24727059608"};
  const std::string bytes = EncodeEntry(e);
  EXPECT_EQ(bytes.find("24727059608"), std::string::npos);
  EXPECT_EQ(bytes, EncodeEntry(SampleV2()));
}

class NoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace fs = std::filesystem;
    dir_ = fs::path(::testing::TempDir()) / ("kakunin_note_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(CreateSigningKeyFile((dir_ / "k").string()).ok());
    ASSERT_TRUE(CreateSigningKeyFile((dir_ / "other").string()).ok());
    signer_ = std::move(*LoadSigningKeyFile((dir_ / "k").string()));
    other_ = std::move(*LoadSigningKeyFile((dir_ / "other").string()));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Checkpoint Signed(const Signer& s, std::string map_root = "") {
    Checkpoint c{20852163, std::string(32, '\x5a'), 1795293901471010, s.key_id(), "",
                 "kakunin.example/pref-19/" + s.key_id(), std::move(map_root)};
    c.signature = *s.Sign(SignedMessage(c));
    return c;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Signer> signer_, other_;
};

TEST_F(NoteTest, C2spLayout) {
  Checkpoint c = Signed(*signer_);
  const std::string note = CheckpointToNote(c, signer_->public_key());
  const std::string text = "kakunin.example/pref-19/" + signer_->key_id() +
                           "\n20852163\nWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n"
                           "time 1795293901471010\n";
  EXPECT_EQ(CheckpointNoteText(c), text);
  ASSERT_EQ(note.substr(0, text.size() + 1), text + "\n");
  // "— <key name> base64(key hash ‖ signature)": key hash per c2sp.org/signed-note.
  const std::string sig_line = note.substr(text.size() + 1);
  EXPECT_EQ(sig_line.substr(0, 3), "\xE2\x80\x94");
  EXPECT_EQ(NoteKeyHash(c.origin, signer_->public_key()),
            crypto::Sha256(c.origin + "\n\x01" + signer_->public_key()).substr(0, 4));
  EXPECT_TRUE(VerifySignature(signer_->public_key(), text, c.signature));
  auto back = CheckpointFromNote(note, signer_->public_key());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(VerifyCheckpoint(*back, signer_->public_key()));
  EXPECT_EQ(back->tree_size, c.tree_size);
  EXPECT_EQ(back->root, c.root);
  EXPECT_EQ(back->time, c.time);
  // JSON keeps the origin; both forms verify.
  auto json = CheckpointFromJson(CheckpointToJson(c));
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->origin, c.origin);
  EXPECT_TRUE(VerifyCheckpoint(*json, signer_->public_key()));
}

TEST_F(NoteTest, MapRootIsSignedAsAnExtensionLine) {
  Checkpoint c = Signed(*signer_, std::string(32, '\x01'));
  const std::string note = CheckpointToNote(c, signer_->public_key());
  EXPECT_NE(note.find("\nresident-map AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"),
            std::string::npos);
  auto back = CheckpointFromNote(note, signer_->public_key());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->map_root, c.map_root);
  EXPECT_TRUE(VerifyCheckpoint(*back, signer_->public_key()));
  back->map_root[0] = 2;
  EXPECT_FALSE(VerifyCheckpoint(*back, signer_->public_key()));
}

TEST_F(NoteTest, WitnessCosignaturesAreIgnoredOtherKeysRejected) {
  Checkpoint c = Signed(*signer_);
  std::string note = CheckpointToNote(c, signer_->public_key());
  // A cosignature by another key (another name) is ignored, as the spec asks.
  const std::string cosig = "\xE2\x80\x94 witness.example/w1 AAAAAAECAwQ=\n";
  EXPECT_TRUE(CheckpointFromNote(note + cosig, signer_->public_key()).ok());
  // A note signed only by another key does not pass as this node's.
  Checkpoint forged = Signed(*other_);
  forged.origin = c.origin;
  forged.signature = *other_->Sign(SignedMessage(forged));
  const std::string forged_note = CheckpointToNote(forged, other_->public_key());
  EXPECT_FALSE(CheckpointFromNote(forged_note, signer_->public_key()).ok());
  // Same name and key hash but a signature by another key: parses, fails verification.
  std::string swapped = CheckpointToNote(c, signer_->public_key());
  Checkpoint sig_other = c;
  sig_other.signature = forged.signature;
  swapped = CheckpointToNote(sig_other, signer_->public_key());
  auto parsed = CheckpointFromNote(swapped, signer_->public_key());
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(VerifyCheckpoint(*parsed, signer_->public_key()));
}

TEST_F(NoteTest, ParserIsStrict) {
  const std::string note = CheckpointToNote(Signed(*signer_), signer_->public_key());
  const std::string& pk = signer_->public_key();
  EXPECT_FALSE(CheckpointFromNote("", pk).ok());
  for (size_t cut = 0; cut + 1 < note.size(); ++cut) {
    EXPECT_FALSE(CheckpointFromNote(note.substr(0, cut), pk).ok()) << cut;
  }
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string n = note;
    n.replace(n.find(from), from.size(), to);
    return n;
  };
  EXPECT_FALSE(CheckpointFromNote(replace("\n20852163\n", "\n020852163\n"), pk).ok());
  EXPECT_FALSE(CheckpointFromNote(replace("\n20852163\n", "\n-1\n"), pk).ok());
  EXPECT_FALSE(CheckpointFromNote(replace("time ", "time  "), pk).ok());
  EXPECT_FALSE(CheckpointFromNote(replace("Wlo=", "Wlo"), pk).ok());        // padding
  EXPECT_FALSE(CheckpointFromNote(replace("\n20852163", "\r\n20852163"), pk).ok());
  EXPECT_FALSE(CheckpointFromNote(std::string(kMaxNoteBytes + 1, 'a'), pk).ok());
  // An origin with a space or a plus is no key name.
  EXPECT_FALSE(IsValidOrigin("a b"));
  EXPECT_FALSE(IsValidOrigin("a+b"));
  EXPECT_FALSE(IsValidOrigin(""));
  EXPECT_TRUE(IsValidOrigin("kakunin.example/pref-19/abcd"));
  // The first format still verifies.
  Checkpoint v1{7, std::string(32, '\x11'), 123, signer_->key_id(), "", "", ""};
  v1.signature = *signer_->Sign(CheckpointMessage(v1.tree_size, v1.root, v1.time));
  EXPECT_TRUE(VerifyCheckpoint(v1, pk));
  auto json = ParseCheckpoint(CheckpointToJson(v1), pk);
  ASSERT_TRUE(json.ok());
  EXPECT_TRUE(VerifyCheckpoint(*json, pk));
}

}  // namespace
}  // namespace kakunin::audit
