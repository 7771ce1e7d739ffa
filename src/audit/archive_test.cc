// Archives of the operation log for media (audit/archive.h): every entry the log can hold
// exports to an archive that reads back — an import batch's entry, one state leaf and one
// target per record, runs to megabytes as a line — and the reader still refuses, by name, a
// line longer than any entry can make. The export never writes a line its reader would refuse.

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <istream>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "audit/archive.h"
#include "audit/log.h"
#include "audit/state.h"
#include "core/bytes.h"
#include "crypto/sha256.h"
#include "support/registry_fixture.h"

namespace kakunin::audit {
namespace {

// What `kakunin import --batch 12000` logs for one batch: 12,000 records written, so 12,000
// state leaves (588,000 bytes, twice that in hex) and 12,000 targets. Past the 1 MiB lines
// archives were once read with.
constexpr int kBatch = 12000;

// `head`, then `length` bytes of 'x', then a newline, without holding the long line in memory.
class LongLineBuf : public std::streambuf {
 public:
  LongLineBuf(std::string head, size_t length) : head_(std::move(head)), left_(length) {}

 protected:
  int_type underflow() override {
    if (!head_.empty()) {
      chunk_ = std::move(head_);
      head_.clear();
    } else if (left_ > 0) {
      chunk_.assign(std::min<size_t>(left_, 1 << 16), 'x');
      left_ -= chunk_.size();
    } else if (!newline_done_) {
      chunk_ = "\n";
      newline_done_ = true;
    } else {
      return traits_type::eof();
    }
    setg(chunk_.data(), chunk_.data(), chunk_.data() + chunk_.size());
    return traits_type::to_int_type(chunk_[0]);
  }

 private:
  std::string head_;
  size_t left_;
  bool newline_done_ = false;
  std::string chunk_;
};

class ArchiveTest : public registry::testing::RegistryFixture {
 public:
  ArchiveTest() : RegistryFixture("kakunin_archive_", Date::FromYmd(2026, 11, 21)) {}

  // One entry as an import batch of `records` writes it.
  Status AppendBatch(int records) {
    return store_->Write([&](store::RegistryTxn& txn) -> Status {
      AuditEntry e;
      e.actor = "os:test";
      e.terminal = "console";
      e.action = "notification.import";
      for (int i = 0; i < records; ++i) {
        e.targets.push_back("mac:" + HexEncode(crypto::Sha256("resident " + std::to_string(i))) +
                            ":found");
        StateLeaf leaf;
        leaf.version_id = i + 1;
        leaf.person_id = i + 1;
        leaf.digest = crypto::Sha256("version " + std::to_string(i));
        e.state.push_back(std::move(leaf));
      }
      e.result_count = records;
      e.outcome = "done";
      return log_->Append(txn, std::move(e)).status();
    });
  }

  Status AppendRead() {
    return store_->Write([&](store::RegistryTxn& txn) -> Status {
      AuditEntry e;
      e.actor = "os:test";
      e.terminal = "console";
      e.action = "resident.show";
      e.purpose = "test";
      e.targets = {"mac:" + HexEncode(crypto::Sha256("resident 1")) + ":found"};
      e.result_count = 1;
      e.outcome = "done";
      return log_->Append(txn, std::move(e)).status();
    });
  }

  Result<std::string> Export(const ArchiveLimits& limits = {}) {
    KAKUNIN_RETURN_IF_ERROR(
        store_->Write([&](store::RegistryTxn& txn) { return log_->WriteCheckpoint(txn); }));
    KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
    std::ostringstream out;
    KAKUNIN_RETURN_IF_ERROR(
        ExportArchive(*reader, signer_->public_key(), 0, INT64_MAX, out, limits).status());
    return out.str();
  }
};

TEST_F(ArchiveTest, AnImportBatchOfTwelveThousandRecordsExportsAndVerifies) {
  ASSERT_TRUE(AppendRead().ok());
  ASSERT_TRUE(AppendBatch(kBatch).ok());
  ASSERT_TRUE(AppendRead().ok());
  auto archive = Export();
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  // The batch's line is past 1 MiB (the limit the reader once had).
  size_t longest = 0;
  std::istringstream lines(*archive);
  for (std::string l; std::getline(lines, l);) longest = std::max(longest, l.size());
  EXPECT_GT(longest, size_t{1} << 20);

  std::istringstream in(*archive);
  auto check = CheckArchive(in, signer_->public_key());
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->entries, 3);
}

TEST_F(ArchiveTest, TheLineLimitCoversTheLargestEntryTheLogHolds) {
  // Hex of the largest entry, its leaf hash and a full proof fit in a line.
  EXPECT_GE(kMaxArchiveLineBytes, 2 * kMaxEntryBytes + 65 * (2 * kHashSize + 3) + 100);
  // And it is a bound: an archive is outside input.
  EXPECT_LT(kMaxArchiveLineBytes, size_t{128} << 20);
}

TEST_F(ArchiveTest, TheLogRefusesAnEntryLargerThanAnArchiveCarries) {
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    AuditEntry e;
    e.actor = "os:test";
    e.action = "resident.search";
    e.conditions.assign(kMaxEntryBytes, 'c');
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  // Nothing was logged.
  auto reader = *store_->OpenReader();
  EXPECT_EQ(*reader->AuditSize(), 0);
}

TEST_F(ArchiveTest, AnExportNeverWritesALineItsReaderRefuses) {
  ASSERT_TRUE(AppendBatch(kBatch).ok());
  // With the reader's limit lowered to 1 MiB, the batch's entry cannot be carried: the export
  // fails rather than leave a copy that never verifies.
  auto archive = Export({.max_line_bytes = size_t{1} << 20});
  ASSERT_FALSE(archive.ok());
  EXPECT_EQ(archive.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(archive.status().message().find("operation-log entry 0 is too large for an archive"),
            std::string::npos)
      << archive.status().ToString();
}

TEST_F(ArchiveTest, ALineBeyondTheLimitIsRefusedByName) {
  ASSERT_TRUE(AppendRead().ok());
  auto archive = Export();
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  const std::string header = archive->substr(0, archive->find('\n') + 1);
  {
    // One byte more than the limit: refused as too long, before any parsing.
    LongLineBuf buf(header, kMaxArchiveLineBytes + 1);
    std::istream in(&buf);
    auto check = CheckArchive(in, signer_->public_key());
    ASSERT_TRUE(check.ok());
    EXPECT_FALSE(check->ok);
    EXPECT_EQ(check->problem, "archive line 2 is longer than any entry of an archive can be (at "
                              "most " + std::to_string(kMaxArchiveLineBytes) + " bytes)");
  }
  {
    // Exactly at the limit: read, and refused only as what it is (not JSON).
    LongLineBuf buf(header, kMaxArchiveLineBytes);
    std::istream in(&buf);
    auto check = CheckArchive(in, signer_->public_key());
    ASSERT_TRUE(check.ok());
    EXPECT_FALSE(check->ok);
    EXPECT_EQ(check->problem, "archive line 2 is malformed");
  }
}

TEST_F(ArchiveTest, ALineOfTinyValuesIsRefusedWithoutParsingThemAll) {
  ASSERT_TRUE(AppendRead().ok());
  auto archive = Export();
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  const std::string header = archive->substr(0, archive->find('\n') + 1);
  // Sixteen MiB of "0," in the proof would cost gigabytes as parsed values.
  std::string line = "{\"seq\":0,\"proof\":[";
  for (int i = 0; i < (8 << 20); ++i) line += "0,";
  line += "0]}\n";
  std::istringstream in(header + line);
  auto check = CheckArchive(in, signer_->public_key());
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->ok);
  EXPECT_EQ(check->problem, "archive line 2 is malformed");
}

}  // namespace
}  // namespace kakunin::audit
