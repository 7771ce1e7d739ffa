// The pipelined log verifier (audit/verifier.h, issue 11: >= 2 M entries/s) against the
// one-thread reference it replaced: on a clean log and after every kind of tampering the
// verifier names, the reports are identical — whatever the chunk size (so a change in the
// middle of a chunk, at a chunk boundary and in the last entry are all covered), with the
// hasher on its own thread or not. The record-state replay riding on the scan (registry::
// StateReplayObserver) gives what its own scan gives. On SQLite, or on PostgreSQL with
// KAKUNIN_TEST_STORE=postgresql.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/key_rotation.h"
#include "audit/log.h"
#include "audit/signer.h"
#include "audit/verifier.h"
#include "registry/audit_desk.h"
#include "registry/state_verify.h"
#include "support/registry_fixture.h"

namespace kakunin::audit {
namespace {

constexpr char kKofu[] = "192015";

std::string Describe(const VerifyReport& r) {
  std::string out = "ok=" + std::to_string(r.ok) + " entries=" + std::to_string(r.entries) +
                    " erased=" + std::to_string(r.erased_payloads) +
                    " checkpoints=" + std::to_string(r.checkpoints) +
                    " count=" + std::to_string(r.problem_count) + " first=" + r.problem;
  for (const auto& p : r.problems) out += "\n  " + p;
  return out;
}

class VerifierTest : public registry::testing::RegistryFixture {
 public:
  VerifierTest() : RegistryFixture("kakunin_verifier_", Date::FromYmd(2026, 11, 21)) {}

  void Send(const std::vector<Notification>& ns) {
    std::vector<registry::PreparedNotification> batch;
    CheckOptions opt = registry_->check_options();
    for (const auto& n : ns) {
      batch.push_back(registry_->Prepare(CheckJsonNotification(ToCanonicalJson(n), opt)));
    }
    auto r = registry_->Apply(batch, actor_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const auto& x : *r) ASSERT_TRUE(x.ok());
  }

  static std::string Code(int i) { return std::to_string(1000000000 + i); }

  // 24 births (version-3 entries), reads of some of them (version 2, one target each, so
  // residents' chains step several times), two provisions (two and three targets, provision
  // records) and a checkpoint signing the resident map: kEntries entries.
  static constexpr int64_t kEntries = 24 + 20 + 2;
  void Fill() {
    for (int b = 0; b < 6; ++b) {
      std::vector<Notification> births;
      for (int i = b * 4; i < b * 4 + 4; ++i) {
        births.push_back(Make(kKofu, static_cast<uint64_t>(i + 1), ChangeReason::kBirth,
                              Code(i), std::to_string(10000000000LL + i)));
      }
      Send(births);
      if (HasFatalFailure()) return;
    }
    auto reader = *store_->OpenReader();
    for (int i = 0; i < 20; ++i) {
      const std::string code = ResidentCode::FromTenDigits(Code(i % 7)).str();
      ASSERT_TRUE(registry_->Show(*reader, code, actor_, "test", true).ok());
    }
    registry::ProvisionRequest req;
    req.resident_codes = {ResidentCode::FromTenDigits(Code(1)).str(),
                          ResidentCode::FromTenDigits(Code(2)).str()};
    req.purpose = "school.aid";
    req.provision_kind = "別表第六";
    req.recipient = "山梨県教育委員会";
    req.items = {"name", "address"};
    ASSERT_TRUE(registry_->Provide(*reader, req, actor_).ok());
    // Three targets: a root over a tree that is not perfect.
    req.resident_codes.push_back(ResidentCode::FromTenDigits(Code(3)).str());
    ASSERT_TRUE(registry_->Provide(*reader, req, actor_).ok());
    ASSERT_TRUE(registry_->Checkpoint().ok());
  }

  void Tamper(std::string sql) {
    if (OnPostgres()) {
      for (size_t at; (at = sql.find("zeroblob(32)")) != std::string::npos;) {
        sql.replace(at, 12, "decode(repeat('00', 32), 'hex')");
      }
    }
    Status st = TamperDatabase(sql);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  static std::string ChangeLastByte(const std::string& where) {
    if (OnPostgres()) {
      return "UPDATE audit_entries SET payload = set_byte(payload, length(payload) - 1, "
             "CASE WHEN get_byte(payload, length(payload) - 1) = 88 THEN 89 ELSE 88 END) WHERE " +
             where;
    }
    return "UPDATE audit_entries SET payload = CAST(substr(payload, 1, length(payload) - 1) || "
           "CASE WHEN substr(payload, -1) = X'58' THEN X'59' ELSE X'58' END AS BLOB) WHERE " +
           where;
  }

  // The reference's report, after checking that every tuning of the pipelined verifier gives
  // exactly the same (with `key`, or the node's signing key).
  VerifyReport Verify(std::string key = "") {
    if (key.empty()) key = signer_->public_key();
    auto reader = *store_->OpenReader();
    auto reference = VerifyLogReference(*reader, key);
    EXPECT_TRUE(reference.ok()) << reference.status().ToString();
    if (!reference.ok()) return VerifyReport();
    const std::string want = Describe(*reference);
    for (VerifierTuning t : {VerifierTuning{1, 2, true}, VerifierTuning{3, 2, true},
                             VerifierTuning{8, 4, true}, VerifierTuning{8, 4, false},
                             VerifierTuning{5, 3, false}, VerifierTuning{}}) {
      auto got = VerifyLogWith(*reader, key, {}, t);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (got.ok()) {
        EXPECT_EQ(Describe(*got), want) << "chunk_rows " << t.chunk_rows << ", in flight "
                                        << t.chunks_in_flight << ", thread " << t.second_thread;
      }
    }
    auto plain = VerifyLog(*reader, key);
    EXPECT_TRUE(plain.ok() && Describe(*plain) == want);
    return *reference;
  }

  registry::Actor actor_{"os:test", "test"};
};

TEST_F(VerifierTest, ACleanLogGivesTheSameReportAtEveryChunkSize) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << Describe(r);
  EXPECT_EQ(r.entries, kEntries);
}

// With chunks of 8 rows: entry 11 lies inside the second chunk, 15 and 16 on either side of a
// boundary, and the last entry (45) ends a partial chunk; with 3 and 5, others.
TEST_F(VerifierTest, AChangedEntryIsNamedInAChunkAtABoundaryAndAtTheEnd) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  const std::string last = std::to_string(kEntries - 1);
  for (const std::string& seq : {std::string("11"), std::string("15"), std::string("16"), last}) {
    Tamper(ChangeLastByte("seq = " + seq));
    VerifyReport r = Verify();
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.problems, ::testing::Contains("entry " + seq + " does not match its leaf hash"))
        << Describe(r);
  }
  EXPECT_EQ(Verify().problem_count, 4);
}

// Every kind of problem the verifier names, one after another on the same log: the pipelined
// verifier's report stays the reference's at each step.
TEST_F(VerifierTest, EveryKindOfTamperingGivesTheReferencesReport) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  const std::vector<std::string> steps = {
      "UPDATE provisions SET recipient = '別の機関' WHERE audit_seq = " +
          std::to_string(kEntries - 1),
      // the resident map a checkpoint signs, through a reader's chain (its target leaves)
      "UPDATE audit_entries SET targets = (SELECT targets FROM audit_entries WHERE seq = 30) "
      "WHERE seq = 32",
      "DELETE FROM audit_targets WHERE seq = 8",
      // a stored target leaf cut short (malformed)
      "UPDATE audit_entries SET targets = substr(targets, 1, 40) WHERE seq = 44",
      "UPDATE audit_entries SET actor = 'os:someone-else' WHERE seq = 12",
      "UPDATE audit_entries SET time = 1 WHERE seq = 14",
      "UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 1",
      "DELETE FROM audit_nodes WHERE level = 1 AND idx = 9",
      "DELETE FROM audit_entries WHERE seq = 21",
      "UPDATE audit_entries SET payload = (SELECT payload FROM audit_entries WHERE seq = 3) "
      "WHERE seq = 4",
      "UPDATE audit_entries SET payload = NULL WHERE seq = 17",
      "UPDATE audit_checkpoints SET root = zeroblob(32)",
  };
  std::string before;
  for (const std::string& sql : steps) {
    SCOPED_TRACE(sql);
    Tamper(sql);
    VerifyReport r = Verify();
    EXPECT_FALSE(r.ok);
    EXPECT_NE(Describe(r), before) << "the change was not named";
    before = Describe(r);
  }
}

// Stored nodes no log of this size has are counted exactly, as ranges per level: one just past
// the last complete node of a level, a negative index, and levels outside 1..62; the log's own
// nodes, the last complete one of every level included, are not.
TEST_F(VerifierTest, StrayNodesAreCountedAtEachLevelsBoundary) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  auto reader = *store_->OpenReader();
  const int64_t size = *reader->AuditSize();
  ASSERT_GE(size, 8);
  auto count = [&] {
    auto n = reader->CountStrayAuditNodes(size);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  };
  EXPECT_EQ(count(), 0);
  // A tree one entry short of an even size lacks the level-1 node that entry completed.
  auto smaller = reader->CountStrayAuditNodes((size & ~int64_t{1}) - 1);
  ASSERT_TRUE(smaller.ok());
  EXPECT_GE(*smaller, 1);
  const std::string h = "zeroblob(32)";
  Tamper("INSERT INTO audit_nodes (level, idx, hash) VALUES (1, " + std::to_string(size >> 1) +
         ", " + h + ")");
  EXPECT_EQ(count(), 1);
  Tamper("INSERT INTO audit_nodes (level, idx, hash) VALUES (2, " + std::to_string(size >> 2) +
         ", " + h + ")");
  Tamper("INSERT INTO audit_nodes (level, idx, hash) VALUES (3, -1, " + h + ")");
  Tamper("INSERT INTO audit_nodes (level, idx, hash) VALUES (0, 5, " + h + ")");
  Tamper("INSERT INTO audit_nodes (level, idx, hash) VALUES (63, 0, " + h + ")");
  EXPECT_EQ(count(), 5);
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
}

// The resident map is recomputed on the hasher thread and compared at the checkpoint that
// signs it: a stored map that no longer gives the signed root is named, as by the reference.
TEST_F(VerifierTest, TheStoredResidentMapIsCheckedAgainstTheChainsOfTheHasher) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  Tamper("UPDATE audit_map_nodes SET hash = zeroblob(32) WHERE depth = 0");
  VerifyReport r = Verify();
  EXPECT_THAT(r.problems, ::testing::ElementsAre(::testing::HasSubstr(
                              "the stored resident map does not give the signed map root")));
}

// Signing-key announcements are collected on the scan and the signatures judged after it; a
// checkpoint's root problem stands only under a good signature. After a rotation, with either
// key trusted, a forged checkpoint and an altered announcement: the reference's reports.
TEST_F(VerifierTest, SignaturesJudgedAfterTheScanGiveTheReferencesReport) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  const std::string path = (dir_ / "next.key").string();
  ASSERT_TRUE(CreateSigningKeyFile(path).ok());
  auto next = LoadSigningKeyFile(path);
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) {
                    return RotateSigningKey(txn, *signer_, **next, clock_, "os:admin", "test");
                  })
                  .ok());
  EXPECT_TRUE(Verify((*next)->public_key()).ok);
  EXPECT_TRUE(Verify().ok);
  // A checkpoint whose root no longer matches, signed again by nobody: a bad signature, and
  // no root problem for it.
  Tamper("UPDATE audit_checkpoints SET root = zeroblob(32) WHERE tree_size = " +
         std::to_string(kEntries));
  VerifyReport r = Verify((*next)->public_key());
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.problem, ::testing::HasSubstr("bad signature"));
  // The announcement changed: every later checkpoint is signed by a key it does not name.
  Tamper(ChangeLastByte("action = 'key.signing.rotate'"));
  Verify((*next)->public_key());
  Verify();
}

// The record-state replay seen through the verifier's scan is the replay of its own scan: the
// same counts and the same problems, on a clean node and after a record was edited.
TEST_F(VerifierTest, TheStateReplayOnTheScanGivesWhatItsOwnScanGives) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  auto compare = [&] {
    auto reader = *store_->OpenReader();
    auto own = registry::VerifyState(*reader, *cipher_);
    ASSERT_TRUE(own.ok());
    for (VerifierTuning t : {VerifierTuning{3, 2, true}, VerifierTuning{}}) {
      registry::StateReplayObserver replay;
      ASSERT_TRUE(VerifyLogWith(*reader, signer_->public_key(), {}, t, &replay).ok());
      auto ridden = registry::VerifyState(*reader, *cipher_, nullptr, &replay);
      ASSERT_TRUE(ridden.ok());
      EXPECT_EQ(ridden->state_entries, own->state_entries);
      EXPECT_EQ(ridden->versions, own->versions);
      EXPECT_EQ(ridden->residents, own->residents);
      EXPECT_EQ(ridden->unattested_versions, own->unattested_versions);
      EXPECT_EQ(ridden->legacy, own->legacy);
      EXPECT_EQ(ridden->log_size, own->log_size);
      EXPECT_EQ(ridden->problems, own->problems);
    }
  };
  compare();
  Tamper("UPDATE versions SET name = 'x' WHERE version_id = 2");
  compare();
  // As `audit verify` runs it.
  registry::AuditDesk desk(store_.get(), log_.get(), cipher_.get());
  auto r = desk.Verify();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_THAT(r->problem, ::testing::HasSubstr("version 2"));
  // An entry whose leaf hash no longer matches: its state leaves are not taken, either way.
  Tamper(ChangeLastByte("seq = 2"));
  compare();
}

}  // namespace
}  // namespace kakunin::audit
