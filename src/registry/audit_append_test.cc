// The operation log's append path (issue 11, part 3): an append writes its entry, index rows
// and tree nodes and nothing per resident; the chains are stepped from the stored entries
// when a checkpoint signs the map, so nothing lives in memory between transactions and a
// crash, a rolled-back transaction or a fresh process changes nothing.

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "audit/log.h"
#include "audit/resident_map.h"
#include "audit/statement.h"
#include "audit/targets.h"
#include "core/bytes.h"
#include "crypto/sha256.h"
#include "support/registry_fixture.h"

namespace kakunin::registry {
namespace {

class AuditAppendTest : public testing::RegistryFixture {
 public:
  AuditAppendTest() : RegistryFixture("kakunin_auditappend_", Date::FromYmd(2026, 11, 21)) {}

  static std::string Key(const std::string& who) { return crypto::Sha256(who); }
  static std::string Target(const std::string& who) { return "mac:" + HexEncode(Key(who)) + ":found"; }

  // Appends one read of each of `who` through `log`, in one transaction.
  Status Read(const audit::AuditLog& log, std::initializer_list<const char*> who) {
    return store_->Write([&](store::RegistryTxn& txn) -> Status {
      for (const char* w : who) {
        audit::AuditEntry e;
        e.actor = "os:test";
        e.terminal = "test";
        e.action = "resident.show";
        e.purpose = "test";
        e.targets = {Target(w)};
        e.result_count = 1;
        e.outcome = "done";
        KAKUNIN_RETURN_IF_ERROR(log.Append(txn, std::move(e)).status());
      }
      return Status::Ok();
    });
  }

  std::optional<store::ResidentHeadRow> Head(const std::string& who) {
    auto reader = *store_->OpenReader();
    auto h = reader->ResidentHead(Key(who));
    EXPECT_TRUE(h.ok());
    return h.ok() ? *h : std::nullopt;
  }

  audit::VerifyReport Verify() {
    auto reader = *store_->OpenReader();
    auto r = audit::VerifyLog(*reader, signer_->public_key());
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : audit::VerifyReport{};
  }

  Status Seal(const audit::AuditLog& log) {
    return store_->Write([&](store::RegistryTxn& txn) { return log.WriteCheckpoint(txn); });
  }
};

TEST_F(AuditAppendTest, AnAppendWritesNoHeadTheSealStepsEachChainOnce) {
  ASSERT_TRUE(Read(*log_, {"a", "b", "a"}).ok());
  ASSERT_TRUE(Read(*log_, {"a"}).ok());
  EXPECT_FALSE(Head("a").has_value());  // nothing per resident on the append path
  ASSERT_TRUE(Seal(*log_).ok());
  ASSERT_TRUE(Head("a").has_value());
  EXPECT_EQ(Head("a")->count, 3);
  EXPECT_EQ(Head("b")->count, 1);
  auto report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  // And again: the next seal takes only what came after the last one.
  ASSERT_TRUE(Read(*log_, {"b"}).ok());
  ASSERT_TRUE(Seal(*log_).ok());
  EXPECT_EQ(Head("a")->count, 3);
  EXPECT_EQ(Head("b")->count, 2);
  report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_F(AuditAppendTest, RolledBackAppendsAndAFreshProcessChangeNothing) {
  ASSERT_TRUE(Read(*log_, {"a", "b"}).ok());
  // A transaction that appends and then fails leaves no trace in the chains.
  Status failed = store_->Write([&](store::RegistryTxn& txn) -> Status {
    audit::AuditEntry e;
    e.actor = "os:test";
    e.action = "resident.show";
    e.targets = {Target("a")};
    e.outcome = "done";
    KAKUNIN_RETURN_IF_ERROR(log_->Append(txn, std::move(e)).status());
    return Status::Internal("the operation failed after its entry");
  });
  ASSERT_FALSE(failed.ok());
  ASSERT_TRUE(Read(*log_, {"a"}).ok());
  // As after a crash: another log object (a new process) seals what the first one appended;
  // everything it needs is on disk.
  audit::AuditLog fresh(signer_.get(), &clock_);
  ASSERT_TRUE(Seal(fresh).ok());
  EXPECT_EQ(Head("a")->count, 2);
  EXPECT_EQ(Head("b")->count, 1);
  auto report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_F(AuditAppendTest, HeadsWrittenPerEntryByTheFirstReleaseAreNotSteppedTwice) {
  ASSERT_TRUE(Read(*log_, {"a", "a", "b"}).ok());
  // The first release of version 2 stepped each head as it appended: do that by hand.
  auto reader = *store_->OpenReader();
  std::string head = audit::MapEmpty();
  int64_t count = 0, last = 0;
  ASSERT_TRUE(reader
                  ->ForEachAuditEntry(0,
                                      [&](const store::AuditRow& row) {
                                        if (row.targets && row.targets->starts_with(Key("a"))) {
                                          head = audit::NextResidentHead(
                                              head, static_cast<uint64_t>(row.seq), row.leaf_hash);
                                          ++count;
                                          last = row.seq;
                                        }
                                        return true;
                                      })
                  .ok());
  ASSERT_EQ(count, 2);
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) {
                    return txn.PutResidentHead({Key("a"), count, head, last});
                  })
                  .ok());
  ASSERT_TRUE(Seal(*log_).ok());
  EXPECT_EQ(Head("a")->count, 2);
  EXPECT_EQ(Head("a")->head, head);
  auto report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
}

// A proof's or a statement's reads share one snapshot (store::ReadSnapshot): an append committed
// in between is not seen until the outermost snapshot ends, and the connection reads on
// afterwards — on both stores (PostgreSQL's readers once took a snapshot per call, and a
// statement built while a checkpoint committed did not verify).
TEST_F(AuditAppendTest, AReadSnapshotHoldsUntilItsOutermostScopeEnds) {
  ASSERT_TRUE(Read(*log_, {"a"}).ok());
  auto reader = *store_->OpenReader();
  const int64_t before = *reader->AuditSize();
  const int64_t held = before;
  {
    store::ReadSnapshot outer(*reader);
    ASSERT_TRUE(outer.ok());
    EXPECT_EQ(*reader->AuditSize(), before);
    {
      store::ReadSnapshot inner(*reader);
      ASSERT_TRUE(inner.ok());
      ASSERT_TRUE(Read(*log_, {"b"}).ok());
      EXPECT_EQ(*reader->AuditSize(), held);
    }
    EXPECT_EQ(*reader->AuditSize(), held);  // the inner scope did not end the outer snapshot
  }
  EXPECT_EQ(*reader->AuditSize(), before + 1);
  reader->EndSnapshot();  // one end too many ends nothing
  ASSERT_TRUE(Read(*log_, {"c"}).ok());
  EXPECT_EQ(*reader->AuditSize(), before + 2);
}

TEST_F(AuditAppendTest, EveryCheckpointSignsTheMapWhenAsked) {
  audit::LogSettings every;
  every.checkpoint_every = 2;
  every.map_every_checkpoint = true;
  audit::AuditLog log(signer_.get(), &clock_, every);
  auto reader = *store_->OpenReader();
  const int64_t before = *reader->AuditSize();
  ASSERT_TRUE(Read(log, {"a", "b", "a", "c", "a", "b"}).ok());
  auto checkpoints = reader->Checkpoints();
  ASSERT_TRUE(checkpoints.ok());
  int signed_maps = 0;
  for (const auto& c : *checkpoints) {
    if (c.tree_size <= before) continue;
    EXPECT_EQ(c.map_root.size(), 32u) << c.tree_size;
    ++signed_maps;
  }
  EXPECT_GE(signed_maps, 3);
  ASSERT_TRUE(Seal(log).ok());  // the tail past the last periodic checkpoint, if any
  auto report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  // A statement against the newest of them, without a seal.
  auto s = audit::BuildStatement(*reader, signer_->public_key(), {Key("a")}, std::nullopt);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->parts[0].entries.size(), 3u);
  auto check = audit::CheckStatement(*s, signer_->public_key(), std::nullopt);
  EXPECT_TRUE(check.ok) << check.problem;
}

}  // namespace
}  // namespace kakunin::registry
