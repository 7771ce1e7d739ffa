// The operation log's second edition through the registry: what reads and writes record (no
// name, number, address, birth date or resident code in clear), how a reviewer with the node's
// key tests a suspicion, and that the verifier holds the target leaves to their root.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "audit/entry.h"
#include "audit/key_rotation.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/signer.h"
#include "audit/statement.h"
#include "audit/targets.h"
#include "audit/verifier.h"
#include "core/bytes.h"
#include "crypto/sha256.h"
#include "registry/audit_desk.h"
#include "store/sqlite/db.h"
#include "support/registry_fixture.h"

namespace kakunin::registry {
namespace {

constexpr char kKofu[] = "192015";

class AuditV2Test : public testing::RegistryFixture {
 public:
  AuditV2Test() : RegistryFixture("kakunin_auditv2_", Date::FromYmd(2026, 11, 21)) {}

  void SetUp() override {
    RegistryFixture::SetUp();
    if (HasFatalFailure()) return;
    desk_ = std::make_unique<AuditDesk>(store_.get(), log_.get(), cipher_.get());
    n_ = Make(kKofu, 1, ChangeReason::kBirth, "1000000001", "10000000001");
    std::vector<PreparedNotification> batch = {
        registry_->Prepare(CheckJsonNotification(ToCanonicalJson(n_), registry_->check_options()))};
    auto r = registry_->Apply(batch, actor_);
    ASSERT_TRUE(r.ok() && (*r)[0].ok());
  }

  std::vector<store::AuditRow> Rows() {
    auto reader = *store_->OpenReader();
    std::vector<store::AuditRow> rows;
    EXPECT_TRUE(reader->ForEachAuditEntry(0, [&](const store::AuditRow& r) {
      rows.push_back(r);
      return true;
    }).ok());
    return rows;
  }

  audit::VerifyReport Verify() {
    auto v = desk_->Verify();
    EXPECT_TRUE(v.ok());
    return v.ok() ? *v : audit::VerifyReport{};
  }

  // Changes the database behind the registry's back (SQLite or PostgreSQL).
  void Sql(const std::string& sql) {
    Status st = TamperDatabase(sql);
    ASSERT_TRUE(st.ok()) << st.ToString() << ": " << sql;
  }

  Actor actor_{"os:test", "test"};
  Notification n_;
  std::unique_ptr<AuditDesk> desk_;
};

TEST_F(AuditV2Test, NothingPersonalInClear) {
  auto reader = *store_->OpenReader();
  SearchRequest req;
  req.kana = "ヤマダ";
  req.birth_date = "1980-05-01";
  auto found = registry_->Search(*reader, req, actor_, "test");
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->rows.size(), 1u);
  ASSERT_TRUE(registry_->Show(*reader, n_.resident_code.str(), actor_, "test").ok());
  ASSERT_TRUE(registry_->Checkpoint().ok());
  const std::string clear[] = {n_.resident_code.str(), n_.individual_number.str(), "ヤマダ",
                               "1980-05-01", "山田", n_.address};
  for (const auto& row : Rows()) {
    ASSERT_TRUE(row.payload);
    // Version 3 where the operation wrote records (its state leaves: row ids, keyed digests).
    EXPECT_TRUE(row.payload->at(0) == audit::kEntryVersion ||
                row.payload->at(0) == audit::kEntryVersion3)
        << row.seq;
    for (const auto& s : clear) {
      EXPECT_EQ(row.payload->find(s), std::string::npos) << row.seq << " holds " << s;
      if (row.targets) {
        EXPECT_EQ(row.targets->find(s), std::string::npos) << row.seq;
      }
    }
  }
  // The search: criteria by kind, a commitment, the target by its keyed MAC.
  LogQuery searches;
  searches.action = "resident.search";
  auto hits = desk_->Search(searches);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  const audit::AuditEntry& e = *(*hits)[0].entry;
  EXPECT_THAT(e.criteria, ::testing::ElementsAre("name_kana", "birth_date"));
  EXPECT_EQ(e.commitment.size(), 32u);
  EXPECT_THAT(e.targets, ::testing::ElementsAre(ResidentTarget(*cipher_, n_.resident_code.str(),
                                                               true)));
  EXPECT_EQ(e.result_count, 1);
  // Writes name the resident by MAC too, and `audit search --target` still finds both.
  LogQuery by_code;
  by_code.target = n_.resident_code.str();
  auto all = desk_->Search(by_code);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> actions;
  for (const auto& r : *all) actions.push_back(r.entry->action);
  EXPECT_THAT(actions, ::testing::ElementsAre("notification.apply", "resident.search",
                                              "resident.show"));
  EXPECT_TRUE(Verify().ok) << Verify().problem;
}

TEST_F(AuditV2Test, ReviewerTestsASuspicionWithTheKey) {
  auto reader = *store_->OpenReader();
  SearchRequest req;
  req.kana = "ヤマダ";
  req.birth_date = "1980-05-01";
  ASSERT_TRUE(registry_->Search(*reader, req, actor_, "test").ok());
  SearchRequest other;
  other.birth_date = "1980-05-01";
  ASSERT_TRUE(registry_->Search(*reader, other, actor_, "test").ok());
  auto test = [&](std::vector<std::pair<std::string, std::string>> criteria) {
    LogQuery q;
    q.criteria = std::move(criteria);
    auto r = desk_->Search(q);
    EXPECT_TRUE(r.ok());
    std::vector<int64_t> seqs;
    for (const auto& row : *r) seqs.push_back(row.seq);
    return seqs;
  };
  // Entry 0 is the notification; 1 and 2 the searches.
  EXPECT_THAT(test({{"birth_date", "1980-05-01"}, {"name_kana", "ヤマダ"}}),
              ::testing::ElementsAre(1));
  EXPECT_THAT(test({{"name_kana", "ヤマダ"}, {"birth_date", "1980-05-01"}}),  // any order
              ::testing::ElementsAre(1));
  EXPECT_THAT(test({{"birth_date", "1980-05-01"}}), ::testing::ElementsAre(2));
  EXPECT_THAT(test({{"birth_date", "1980-05-02"}}), ::testing::IsEmpty());
  EXPECT_THAT(test({{"name_kana", "ヤマダ"}}), ::testing::IsEmpty());
  // The commitment is keyed: without the key (another node's) it proves nothing.
  EXPECT_NE(ConditionCommitment(*cipher_, {{"birth_date", "1980-05-01"}}),
            crypto::Sha256("kakunin/conditions/v2:" +
                           CanonicalCriteria({{"birth_date", "1980-05-01"}})));
  // Canonical: length-prefixed, so kinds and values cannot run into each other.
  EXPECT_NE(CanonicalCriteria({{"ab", "c"}}), CanonicalCriteria({{"a", "bc"}}));
}

TEST_F(AuditV2Test, TargetLeavesAreHeldToTheirRoot) {
  auto reader = *store_->OpenReader();
  ASSERT_TRUE(registry_->Show(*reader, n_.resident_code.str(), actor_, "test").ok());
  ASSERT_TRUE(registry_->Show(*reader, "99999999999", actor_, "test").ok());  // not found
  ASSERT_TRUE(registry_->Checkpoint().ok());
  ASSERT_TRUE(Verify().ok) << Verify().problem;
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 3u);
  ASSERT_TRUE(rows[1].targets && rows[2].targets);
  auto leaves = audit::DecodeTargetLeaves(*rows[2].targets);
  ASSERT_TRUE(leaves.ok());
  ASSERT_EQ(leaves->size(), 1u);
  EXPECT_EQ((*leaves)[0].status, audit::TargetStatus::kMissing);
  // A target moved to another entry, altered or removed: each named.
  Sql("UPDATE audit_entries SET targets = (SELECT targets FROM audit_entries WHERE seq = 2) "
      "WHERE seq = 1");
  auto report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problems,
              ::testing::Contains("entry 1: its stored targets do not match the entry"));
  Sql("UPDATE audit_entries SET targets = (SELECT targets FROM audit_entries WHERE seq = 0) "
      "WHERE seq = 1");
  Sql("UPDATE audit_entries SET targets = NULL WHERE seq = 2");
  report = Verify();
  EXPECT_THAT(report.problems,
              ::testing::Contains("entry 2: its stored targets do not match the entry"));
}

// A log begun by an older version: version-1 entries (codes and conditions in clear) under a
// first-format checkpoint, then version-2 entries under C2SP checkpoints. Each entry verifies
// at its own version; the old ones still show their targets and conditions.
class MixedLogTest : public testing::RegistryFixture {
 public:
  MixedLogTest() : RegistryFixture("kakunin_mixedlog_", Date::FromYmd(2026, 11, 21)) {}
};

// The subtree source of a write transaction, for appending by hand as the old version did.
class TxnSubtrees final : public audit::SubtreeSource {
 public:
  explicit TxnSubtrees(store::RegistryTxn& t) : t_(t) {}
  Result<std::string> Subtree(uint32_t level, uint64_t index) override {
    auto h = t_.AuditNode(level, static_cast<int64_t>(index));
    if (!h.ok()) return h.status();
    if (!*h) return Status::NotFound("no node");
    return **h;
  }

 private:
  store::RegistryTxn& t_;
};

TEST_F(MixedLogTest, OldEntriesAndCheckpointsStillVerify) {
  ASSERT_TRUE(store_->Write([&](store::RegistryTxn& txn) -> Status {
    for (int i = 0; i < 5; ++i) {
      audit::AuditEntry e;
      e.version = audit::kEntryVersion1;
      e.sequence = static_cast<uint64_t>(i);
      e.time = clock_.NowMicros();
      e.actor = "os:old";
      e.action = "resident.search";
      e.targets = {"24727059608"};
      e.conditions = R"({"kana":"ヤマダ"})";
      store::AuditRow row{i, e.time, e.actor, e.action, e.purpose, audit::EncodeEntry(e), "",
                          std::nullopt};
      row.leaf_hash = audit::LeafHash(*row.payload);
      KAKUNIN_RETURN_IF_ERROR(txn.InsertAuditEntry(row, e.targets));
      TxnSubtrees source(txn);
      KAKUNIN_ASSIGN_OR_RETURN(nodes, audit::NodesCompletedBy(static_cast<uint64_t>(i),
                                                              row.leaf_hash, source));
      for (const auto& n : nodes) {
        if (n.level > 0) {
          KAKUNIN_RETURN_IF_ERROR(
              txn.PutAuditNode(n.level, static_cast<int64_t>(n.index), n.hash));
        }
      }
    }
    TxnSubtrees source(txn);
    KAKUNIN_ASSIGN_OR_RETURN(root, audit::RootHash(source, 5));
    store::CheckpointRow c{5, root, clock_.NowMicros(), signer_->key_id(), "", "", ""};
    KAKUNIN_ASSIGN_OR_RETURN(sig, signer_->Sign(audit::CheckpointMessage(5, root, c.time)));
    c.signature = sig;
    return txn.InsertCheckpoint(c);
  }).ok());
  AuditDesk desk(store_.get(), log_.get(), cipher_.get());
  auto old_cp = desk.LatestCheckpoint();
  ASSERT_TRUE(old_cp.ok() && *old_cp);
  EXPECT_TRUE((*old_cp)->origin.empty());
  // The new version appends version 2 and signs C2SP notes.
  auto reader = *store_->OpenReader();
  ASSERT_TRUE(registry_->Show(*reader, "24727059608", Actor{"os:new", "t"}, "test").ok());
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto report = desk.Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->entries, 6);
  EXPECT_EQ(report->checkpoints, 2);
  EXPECT_TRUE(desk.CheckExtends(audit::CheckpointToJson(**old_cp), "the old checkpoint").ok());
  auto rows = desk.Search(LogQuery{});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 6u);
  EXPECT_EQ((*rows)[0].entry->version, audit::kEntryVersion1);
  EXPECT_THAT((*rows)[0].entry->targets, ::testing::ElementsAre("24727059608"));
  EXPECT_EQ((*rows)[0].entry->conditions, R"({"kana":"ヤマダ"})");
  // As a reviewer sees them (audit search): the code by its keyed MAC, the value withheld.
  LogRecord shown = desk.ForReview((*rows)[0]);
  EXPECT_TRUE(shown.withheld);
  EXPECT_THAT(shown.entry->targets, ::testing::ElementsAre(AskedTarget(*cipher_, "24727059608")));
  EXPECT_EQ(shown.entry->conditions, R"x({"kana":"(withheld)"})x");
  LogRecord newer = desk.ForReview((*rows)[5]);
  EXPECT_FALSE(newer.withheld);
  EXPECT_EQ(newer.entry->targets, (*rows)[5].entry->targets);
  EXPECT_EQ((*rows)[5].entry->version, audit::kEntryVersion);
  // The old entries are as tamper-evident as ever.
  ASSERT_TRUE(TamperDatabase(
                  OnPostgres()
                      ? "UPDATE audit_entries SET payload = set_byte(payload, length(payload) - 1, "
                        "88) WHERE seq = 2"
                      : "UPDATE audit_entries SET payload = CAST(substr(payload, 1, "
                        "length(payload) - 1) || X'58' AS BLOB) WHERE seq = 2")
                  .ok());
  report = desk.Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(report->problems, ::testing::Contains("entry 2 does not match its leaf hash"));
}

TEST_F(AuditV2Test, CheckpointsAreC2spNotes) {
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto cp = desk_->LatestCheckpoint();
  ASSERT_TRUE(cp.ok() && *cp);
  EXPECT_EQ((*cp)->origin, "kakunin/" + signer_->key_id());
  const std::string note = desk_->CheckpointNote(**cp);
  auto back = audit::CheckpointFromNote(note, signer_->public_key());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(audit::VerifyCheckpoint(*back, signer_->public_key()));
  EXPECT_TRUE(desk_->CheckExtends(note, "the note").ok());
  EXPECT_TRUE(desk_->CheckExtends(audit::CheckpointToJson(**cp), "the json").ok());
}

}  // namespace
}  // namespace kakunin::registry

namespace kakunin::registry {
namespace {

// Access statements (issue 11 part 2): real statements from a real log, then tampered.
class StatementTest : public testing::RegistryFixture {
 public:
  StatementTest() : RegistryFixture("kakunin_statement_", Date::FromYmd(2026, 11, 21)) {}

  void SetUp() override {
    RegistryFixture::SetUp();
    if (HasFatalFailure()) return;
    desk_ = std::make_unique<AuditDesk>(store_.get(), log_.get(), cipher_.get());
    std::vector<Notification> ns;
    for (int i = 1; i <= 20; ++i) {
      char code[16], number[16];
      std::snprintf(code, sizeof code, "10000000%02d", i);
      std::snprintf(number, sizeof number, "100000000%02d", i);
      ns.push_back(Make(kKofu, static_cast<uint64_t>(i), ChangeReason::kBirth, code, number));
    }
    std::vector<PreparedNotification> batch;
    for (const auto& n : ns) {
      batch.push_back(
          registry_->Prepare(CheckJsonNotification(ToCanonicalJson(n), registry_->check_options())));
    }
    ASSERT_TRUE(registry_->Apply(batch, actor_).ok());
    code_ = ns[4].resident_code.str();
    other_ = ns[5].resident_code.str();
    auto reader = *store_->OpenReader();
    // Reads of our resident among reads of others, and a search that finds all twenty.
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(registry_->Show(*reader, code_, actor_, "test").ok());
      ASSERT_TRUE(registry_->Show(*reader, other_, actor_, "test").ok());
    }
    SearchRequest all;
    all.kana = "ヤマダ";
    all.limit = 100;
    ASSERT_TRUE(registry_->Search(*reader, all, actor_, "test").ok());
    ASSERT_TRUE(registry_->Checkpoint().ok());
  }

  audit::Statement Make(const std::string& code, std::optional<std::string> earlier = {}) {
    auto json = desk_->Statement(code, earlier);
    EXPECT_TRUE(json.ok()) << json.status().message();
    auto s = audit::StatementFromJson(json.ok() ? *json : "");
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : audit::Statement{};
  }
  using RegistryFixture::Make;

  bool SendOne(const Notification& n) {
    std::vector<PreparedNotification> batch = {
        registry_->Prepare(CheckJsonNotification(ToCanonicalJson(n), registry_->check_options()))};
    auto r = registry_->Apply(batch, actor_);
    return r.ok() && (*r)[0].ok();
  }
  // A valid resident code the registry never saw.
  static std::string Code(const char* ten) { return ResidentCode::FromTenDigits(ten).str(); }

  audit::StatementCheck Check(const audit::Statement& s,
                              const std::optional<audit::Checkpoint>& earlier = {}) {
    // Through JSON, as a resident's lawyer receives it.
    auto back = audit::StatementFromJson(audit::StatementToJson(s));
    EXPECT_TRUE(back.ok());
    return audit::CheckStatement(*back, signer_->public_key(), earlier);
  }

  Actor actor_{"os:test", "test"};
  std::string code_, other_;
  std::unique_ptr<AuditDesk> desk_;
};

TEST_F(StatementTest, ValidAndRevealsNoOneElse) {
  audit::Statement s = Make(code_);
  // The notification, three reads and the search.
  EXPECT_EQ(s.parts[0].entries.size(), 5u);
  auto check = Check(s);
  EXPECT_TRUE(check.ok) << check.problem;
  EXPECT_EQ(check.entries, 5);
  // Of the search that found twenty, only this resident's target leaf is in the statement.
  const std::string json = audit::StatementToJson(s);
  auto theirs = audit::ParseTargetName(ResidentTarget(*cipher_, other_, true));
  EXPECT_EQ(json.find(HexEncode(theirs->mac)), std::string::npos);
  EXPECT_EQ(json.find(other_), std::string::npos);
  EXPECT_EQ(json.find(code_), std::string::npos);
  for (const auto& e : s.parts[0].entries) EXPECT_LE(e.target_path.size(), 5u);  // O(log t)
}

TEST_F(StatementTest, EntryRemovedAddedOrAlteredIsDetected) {
  const audit::Statement s = Make(code_);
  audit::Statement removed = s;
  removed.parts[0].entries.erase(removed.parts[0].entries.begin() + 2);
  auto c = Check(removed);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("left out, added or altered"));
  // Added: an entry about someone else, with its real proofs.
  audit::Statement theirs = Make(other_);
  audit::Statement added = s;
  added.parts[0].entries.push_back(theirs.parts[0].entries.front());  // their notification
  std::sort(added.parts[0].entries.begin(), added.parts[0].entries.end(),
            [](const auto& a, const auto& b) { return a.seq < b.seq; });
  c = Check(added);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("names another resident"));
  // Added: one of ours repeated.
  audit::Statement twice = s;
  twice.parts[0].entries.push_back(twice.parts[0].entries.back());
  EXPECT_FALSE(Check(twice).ok);
  // Altered: the purpose of a read.
  audit::Statement altered = s;
  auto e = audit::DecodeEntry(altered.parts[0].entries[1].payload);
  ASSERT_TRUE(e.ok());
  e->purpose = "other";
  altered.parts[0].entries[1].payload = audit::EncodeEntry(*e);
  c = Check(altered);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("not in the signed log"));
  // Altered: the map proof.
  audit::Statement bad_map = s;
  ASSERT_FALSE(bad_map.parts[0].map_proof.siblings.empty());
  bad_map.parts[0].map_proof.siblings[0][0] ^= 1;
  EXPECT_FALSE(Check(bad_map).ok);
}

TEST_F(StatementTest, AnotherKeyOrAForkedLogIsDetected) {
  const audit::Statement s = Make(code_);
  // A checkpoint signed by another key: the statement does not verify under the node's key.
  auto other_dir = dir_ / "otherkey";
  std::filesystem::create_directories(other_dir);
  ASSERT_TRUE(audit::CreateSigningKeyFile((other_dir / "k").string()).ok());
  auto other = *audit::LoadSigningKeyFile((other_dir / "k").string());
  auto cp = audit::CheckpointFromNote(s.checkpoint_note, signer_->public_key());
  ASSERT_TRUE(cp.ok());
  audit::Checkpoint resigned = *cp;
  resigned.key_id = other->key_id();
  resigned.signature = *other->Sign(audit::SignedMessage(resigned));
  audit::Statement foreign = s;
  foreign.checkpoint_note = audit::CheckpointToNote(resigned, other->public_key());
  auto c = Check(foreign);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("not a note signed by this key"));
  // A forked log signed by the same key: the first checkpoint the resident saw, then a log
  // that does not extend it. With --checkpoint the statement must carry a consistency proof,
  // and the proof must hold.
  auto earlier = desk_->LatestCheckpoint();
  ASSERT_TRUE(earlier.ok() && *earlier);
  auto reader = *store_->OpenReader();
  ASSERT_TRUE(registry_->Show(*reader, code_, actor_, "test").ok());
  ASSERT_TRUE(registry_->Checkpoint().ok());
  audit::Statement later = Make(code_, audit::CheckpointToJson(**earlier));
  EXPECT_TRUE(Check(later, **earlier).ok) << Check(later, **earlier).problem;
  EXPECT_EQ(later.parts[0].entries.size(), 6u);
  audit::Statement no_proof = later;
  no_proof.consistency_old_size.reset();
  EXPECT_THAT(Check(no_proof, **earlier).problem, ::testing::HasSubstr("no consistency proof"));
  // The fork: an earlier checkpoint of the same size with another root (another history),
  // signed by the same key.
  audit::Checkpoint forked = **earlier;
  forked.root[0] ^= 1;
  forked.signature = *signer_->Sign(audit::SignedMessage(forked));
  c = Check(later, forked);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("forked or rewritten"));
  // Nor does the node write a statement against a checkpoint its log does not extend.
  auto refused = desk_->Statement(code_, audit::CheckpointToJson(forked));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("does not extend"));
  // Without any earlier checkpoint an older statement still checks on its own.
  EXPECT_TRUE(Check(s).ok);
}

TEST_F(StatementTest, ParserIsStrict) {
  const std::string json = audit::StatementToJson(Make(code_));
  EXPECT_TRUE(audit::StatementFromJson(json).ok());
  for (size_t cut = 0; cut + 1 < json.size(); cut += 97) {
    EXPECT_FALSE(audit::StatementFromJson(json.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(audit::StatementFromJson("{}").ok());
  std::string extra = json;
  extra.insert(extra.size() - 1, ",\"x\":1");
  EXPECT_FALSE(audit::StatementFromJson(extra).ok());
}

// A resident no entry names gets a statement of no entries: the signed map's proof that it
// holds no chain for them, both where their path ends in an empty subtree and where it ends at
// another resident's leaf. A forged "no entries" for a resident who has entries fails.
TEST_F(StatementTest, NeverNamedResidentGetsAProofOfAbsence) {
  bool saw_empty = false, saw_other = false;
  audit::Statement absent;
  // The map's keys are keyed MACs under this run's random key, so which kinds of path 64 codes
  // meet depends on the run: the twenty keys can split so that almost no path ends in an empty
  // subtree (seen once in CI). Then twenty more residents join the map and the codes are asked
  // again, each round under one checkpoint.
  for (int round = 0; round < 8 && !(saw_empty && saw_other); ++round) {
    if (round > 0) {
      std::vector<PreparedNotification> more;
      for (int i = 0; i < 20; ++i) {
        char code[16], number[16];
        std::snprintf(code, sizeof code, "4%02d00000%02d", round, i);
        std::snprintf(number, sizeof number, "3%03d%07d", round, i);
        more.push_back(registry_->Prepare(CheckJsonNotification(
            ToCanonicalJson(Make(kKofu, static_cast<uint64_t>(20 * round + i + 1),
                                 ChangeReason::kBirth, code, number)),
            registry_->check_options())));
      }
      auto applied = registry_->Apply(more, actor_);
      ASSERT_TRUE(applied.ok()) << applied.status().ToString();
      for (const auto& r : *applied) ASSERT_TRUE(r.ok());
      ASSERT_TRUE(registry_->Checkpoint().ok());
    }
    saw_empty = saw_other = false;
    for (int i = 0; i < 64 && !(saw_empty && saw_other); ++i) {
      char ten[16];
      std::snprintf(ten, sizeof ten, "2%02d00000%02d", round, i);
      const std::string code = Code(ten);
      audit::Statement s = Make(code);
      ASSERT_TRUE(s.parts[0].absence.has_value()) << code;
      EXPECT_TRUE(s.parts[0].entries.empty());
      auto c = Check(s);
      EXPECT_TRUE(c.ok) << code << ": " << c.problem;
      EXPECT_EQ(c.entries, 0);
      (s.parts[0].absence->other_key.empty() ? saw_empty : saw_other) = true;
      if (!s.parts[0].absence->other_key.empty()) absent = s;
    }
  }
  EXPECT_TRUE(saw_empty);
  EXPECT_TRUE(saw_other);
  ASSERT_TRUE(absent.parts[0].absence.has_value());
  // The neighbour's leaf shows only its keyed MAC and value: not our resident's, not a code.
  const std::string json = audit::StatementToJson(absent);
  EXPECT_EQ(json.find(code_), std::string::npos);
  EXPECT_NE(json.find("\"absence_proof\""), std::string::npos);
  // Forged: the absence proof presented for a resident who has entries.
  const audit::Statement real = Make(code_);
  audit::Statement forged = absent;
  forged.parts[0].resident_key = real.parts[0].resident_key;
  auto c = Check(forged);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("does not show that no entry names"));
  // Forged: the resident's own statement with every entry dropped.
  audit::Statement emptied = real;
  emptied.parts[0].entries.clear();
  EXPECT_FALSE(Check(emptied).ok);
  // Forged: an absence proof whose neighbour is made up, moved to the resident's path, or
  // altered.
  audit::Statement made_up = absent;
  made_up.parts[0].absence->other_value[0] ^= 1;
  EXPECT_FALSE(Check(made_up).ok);
  audit::Statement as_empty = absent;
  as_empty.parts[0].absence->other_key.clear();
  as_empty.parts[0].absence->other_value.clear();
  EXPECT_FALSE(Check(as_empty).ok);
  audit::Statement itself = absent;
  itself.parts[0].absence->other_key = itself.parts[0].resident_key;
  EXPECT_FALSE(Check(itself).ok);
  // A statement of absence that lists entries does not parse.
  audit::Statement listed = absent;
  listed.parts[0].entries = real.parts[0].entries;
  EXPECT_FALSE(audit::StatementFromJson(audit::StatementToJson(listed)).ok());
  EXPECT_FALSE(audit::CheckStatement(listed, signer_->public_key(), std::nullopt).ok);
}

// A statement is as good as its checkpoint: shown a newer one (published since, or from a
// later statement), check-statement refuses a statement made before it, which cannot show the
// entries since.
TEST_F(StatementTest, StaleStatementIsRefusedAgainstANewerCheckpoint) {
  const audit::Statement old = Make(code_);
  auto reader = *store_->OpenReader();
  ASSERT_TRUE(registry_->Show(*reader, code_, actor_, "test").ok());  // a read the old one lacks
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto newer = desk_->LatestCheckpoint();
  ASSERT_TRUE(newer.ok() && *newer);
  EXPECT_TRUE(Check(old).ok);  // on its own it still checks, as of its checkpoint
  auto c = Check(old, **newer);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("older than the checkpoint given"));
  // Also when it is handed a consistency proof of some other size.
  audit::Statement dressed = old;
  dressed.consistency_old_size = (*newer)->tree_size;
  EXPECT_FALSE(Check(dressed, **newer).ok);
  // A statement made now checks against the same checkpoint, with or without a proof from it.
  const audit::Statement fresh = Make(code_);
  EXPECT_EQ(fresh.parts[0].entries.size(), old.parts[0].entries.size() + 1);
  c = Check(fresh, **newer);
  EXPECT_TRUE(c.ok) << c.problem;
  c = Check(Make(code_, audit::CheckpointToJson(**newer)), **newer);
  EXPECT_TRUE(c.ok) << c.problem;
  // Absence too: a statement of no entries made before the resident's first read is refused
  // against the checkpoint after it.
  const audit::Statement none = Make(Code("2000000001"));
  ASSERT_TRUE(none.parts[0].absence.has_value());
  ASSERT_TRUE(registry_->Show(*reader, Code("2000000001"), actor_, "test").ok());
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto after = desk_->LatestCheckpoint();
  EXPECT_FALSE(Check(none, **after).ok);
  EXPECT_EQ(Make(Code("2000000001")).parts[0].entries.size(), 1u);
}

// Retention. The resident's record goes (here after 1 year, a node so configured) while the log
// keeps its entries 7 years: statements still show them, from the resident code alone. Once
// the entries go too, the resident's chain restarts after the erased prefix: a statement
// then shows only the kept entries (none: a chain of none), and other residents' statements,
// and the log, still verify.
TEST_F(StatementTest, RetentionErasesTheRecordThenTheEntriesAndStatementsStayTrue) {
  ASSERT_TRUE(SendOne(Make(kKofu, 21, ChangeReason::kDeath, "1000000005", "10000000005")));
  ASSERT_TRUE(registry_->Checkpoint().ok());
  config_.removed_retention_years = 1;
  registry_ = std::make_unique<Registry>(config_, store_.get(), cipher_.get(), &clock_, log_.get());
  const size_t before = Make(code_).parts[0].entries.size();
  EXPECT_EQ(before, 6u);  // birth, three reads, the search, the death
  clock_ = FixedClock::AtDate(Date::FromYmd(2028, 1, 10));
  auto purged = registry_->Purge(Date::FromYmd(2028, 1, 10), false, actor_);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(purged->removed_residents, 1);
  EXPECT_EQ(purged->audit_payloads, 0);
  {
    auto reader = *store_->OpenReader();
    auto shown = registry_->Show(*reader, code_, actor_, "test");
    ASSERT_TRUE(shown.ok());
    EXPECT_FALSE(shown->has_value());  // the record is gone
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  // The record is gone, the entries (and the read just now, which found nothing) are not.
  audit::Statement kept = Make(code_);
  EXPECT_EQ(kept.parts[0].entries.size(), before + 1);
  EXPECT_TRUE(Check(kept).ok) << Check(kept).problem;
  // Seven years on: a read of the other resident, then the purge erases the entries of 2026-28.
  clock_ = FixedClock::AtDate(Date::FromYmd(2035, 2, 1));
  {
    auto reader = *store_->OpenReader();
    ASSERT_TRUE(registry_->Show(*reader, other_, actor_, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  const audit::Statement other_before = Make(other_);
  EXPECT_EQ(other_before.parts[0].entries.size(), 6u);  // birth, three reads, the search, this read
  purged = registry_->Purge(Date::FromYmd(2035, 2, 1), false, actor_);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_GT(purged->audit_payloads, 0);
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto report = desk_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_GT(report->erased_payloads, 0);
  // The resident whose entries all went: a chain of none, valid, "0 entries".
  audit::Statement gone = Make(code_);
  EXPECT_TRUE(gone.parts[0].entries.empty());
  EXPECT_FALSE(gone.parts[0].absence.has_value());  // the map still holds the key, with count 0
  auto c = Check(gone);
  EXPECT_TRUE(c.ok) << c.problem;
  EXPECT_EQ(c.entries, 0);
  // The other: only the read kept, valid.
  audit::Statement other_now = Make(other_);
  ASSERT_EQ(other_now.parts[0].entries.size(), 1u);
  c = Check(other_now);
  EXPECT_TRUE(c.ok) << c.problem;
  // A third resident, never read, only its erased birth: also none. Someone never named: absent.
  EXPECT_TRUE(Check(Make(Code("1000000007"))).ok);
  EXPECT_TRUE(Make(Code("1000000007")).parts[0].entries.empty());
  EXPECT_TRUE(Make(Code("2000000002")).parts[0].absence.has_value());
  EXPECT_TRUE(Check(Make(Code("2000000002"))).ok);
  // The statement made before the purge still checks as of its own checkpoint; against the
  // newest one it is stale (the erased entries are no longer the log's to show).
  EXPECT_TRUE(Check(other_before).ok);
  auto latest = desk_->LatestCheckpoint();
  EXPECT_FALSE(Check(other_before, **latest).ok);
  // Appending again after the restart continues the restarted chain.
  {
    auto reader = *store_->OpenReader();
    ASSERT_TRUE(registry_->Show(*reader, other_, actor_, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  c = Check(Make(other_));
  EXPECT_TRUE(c.ok) << c.problem;
  EXPECT_EQ(c.entries, 2);
  // A purge dated before the last one erases nothing new and restarts nothing.
  purged = registry_->Purge(Date::FromYmd(2035, 1, 1), false, actor_);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(purged->audit_payloads, 0);
  // Seven more years: the purge scans from where the last one stopped, and finds the reads of
  // 2035 (other's last two entries) to erase.
  clock_ = FixedClock::AtDate(Date::FromYmd(2042, 6, 1));
  purged = registry_->Purge(Date::FromYmd(2042, 6, 1), false, actor_);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_GT(purged->audit_payloads, 0);
  ASSERT_TRUE(registry_->Checkpoint().ok());
  audit::Statement other_later = Make(other_);
  EXPECT_TRUE(other_later.parts[0].entries.empty());
  c = Check(other_later);
  EXPECT_TRUE(c.ok) << c.problem;
  EXPECT_EQ(c.entries, 0);
}

// After retention erased entries, `audit verify` still checks the resident map the checkpoint
// after the purge signs: the chains over the kept entries, and the chain of none for residents
// whose every entry went. Before, the check was skipped once anything was erased, so a deleted
// or altered map (statements then unprovable) went unnoticed.
TEST_F(StatementTest, AfterRetentionVerifyStillChecksTheResidentMap) {
  clock_ = FixedClock::AtDate(Date::FromYmd(2035, 2, 1));
  {
    auto reader = *store_->OpenReader();
    ASSERT_TRUE(registry_->Show(*reader, other_, actor_, "test").ok());
  }
  auto purged = registry_->Purge(Date::FromYmd(2035, 2, 1), false, actor_);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  ASSERT_GT(purged->audit_payloads, 0);
  ASSERT_TRUE(registry_->Checkpoint().ok());
  // A read after the purge, under the next map-signing checkpoint: chains go on from the kept.
  {
    auto reader = *store_->OpenReader();
    ASSERT_TRUE(registry_->Show(*reader, other_, actor_, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto verify = [&] {
    auto report = desk_->Verify();
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : audit::VerifyReport();
  };
  auto clean = verify();
  EXPECT_TRUE(clean.ok) << clean.problem;
  EXPECT_GT(clean.erased_payloads, 0);
  // Both verifiers agree (the one-thread reference is what the pipelined one is held to).
  {
    auto reader = *store_->OpenReader();
    auto ref = audit::VerifyLogReference(*reader, signer_->public_key());
    ASSERT_TRUE(ref.ok());
    EXPECT_TRUE(ref->ok) << ref->problem;
  }
  // The chain of none of a resident all of whose entries went, deleted: the map the entries
  // give no longer matches the signed one.
  const audit::Statement none = Make(code_);
  ASSERT_TRUE(none.parts[0].entries.empty());  // every entry naming it was erased: a chain of none
  const std::string emptied = HexEncode(none.parts[0].resident_key);
  ASSERT_TRUE(TamperDatabase(
                  OnPostgres() ? "DELETE FROM audit_resident_heads WHERE key = decode('" + emptied +
                                     "', 'hex')"
                               : "DELETE FROM audit_resident_heads WHERE key = X'" + emptied + "'")
                  .ok());
  auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, ::testing::HasSubstr("signs a resident map that the entries do not "
                                                   "give"));
  {
    auto reader = *store_->OpenReader();
    auto ref = audit::VerifyLogReference(*reader, signer_->public_key());
    ASSERT_TRUE(ref.ok());
    EXPECT_EQ(ref->problem, report.problem);
  }
}

// A resident's entries on both sides of a signing-key rotation: the statement is signed by the
// new key and checks with it alone; with the old key it checks through the announcement it
// carries (signed into the log under the old key). Another key, a statement without its
// history, or an altered announcement: refused.
TEST_F(StatementTest, StatementAcrossASigningKeyRotation) {
  // A checkpoint the resident (or a witness) kept from before the rotation, as a note.
  auto before = desk_->LatestCheckpoint();
  ASSERT_TRUE(before.ok() && *before);
  const std::string before_note = desk_->CheckpointNote(**before);
  ASSERT_TRUE(audit::CreateSigningKeyFile((dir_ / "audit2.key").string()).ok());
  auto next = *audit::LoadSigningKeyFile((dir_ / "audit2.key").string());
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) {
                    return audit::RotateSigningKey(txn, *signer_, *next, clock_, "os:admin",
                                                   "cli@test");
                  })
                  .ok());
  audit::AuditLog log2(next.get(), &clock_);
  Registry registry2(config_, store_.get(), cipher_.get(), &clock_, &log2);
  AuditDesk desk2(store_.get(), &log2, cipher_.get());
  {
    auto reader = *store_->OpenReader();
    ASSERT_TRUE(registry2.Show(*reader, code_, actor_, "test").ok());
  }
  ASSERT_TRUE(registry2.Checkpoint().ok());
  auto json = desk2.Statement(code_, std::nullopt);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  auto s = audit::StatementFromJson(*json);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->key_history.size(), 1u);
  auto c = audit::CheckStatement(*s, next->public_key(), std::nullopt);
  EXPECT_TRUE(c.ok) << c.problem;
  EXPECT_EQ(c.entries, 6);  // five before the rotation, one after
  EXPECT_EQ(c.keys_followed, 0);
  c = audit::CheckStatement(*s, signer_->public_key(), std::nullopt);
  EXPECT_TRUE(c.ok) << c.problem;
  EXPECT_EQ(c.keys_followed, 1);
  // Another key: nothing leads from it to the signing key.
  ASSERT_TRUE(audit::CreateSigningKeyFile((dir_ / "stranger.key").string()).ok());
  auto stranger = *audit::LoadSigningKeyFile((dir_ / "stranger.key").string());
  c = audit::CheckStatement(*s, stranger->public_key(), std::nullopt);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("not a note signed by this key"));
  // Without its history the old key cannot check it.
  audit::Statement bare = *s;
  bare.key_history.clear();
  EXPECT_FALSE(audit::CheckStatement(bare, signer_->public_key(), std::nullopt).ok);
  EXPECT_TRUE(audit::CheckStatement(bare, next->public_key(), std::nullopt).ok);
  // An announcement altered (to hand trust to the stranger's key), or its proof broken.
  audit::Statement altered = *s;
  auto e = audit::DecodeEntry(altered.key_history[0].payload);
  ASSERT_TRUE(e.ok());
  const std::string next_hex = HexEncode(next->public_key());
  e->conditions.replace(e->conditions.find(next_hex), next_hex.size(),
                        HexEncode(stranger->public_key()));
  altered.key_history[0].payload = audit::EncodeEntry(*e);
  c = audit::CheckStatement(altered, signer_->public_key(), std::nullopt);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("is not in the log the key it replaces signed"));
  audit::Statement broken = *s;
  ASSERT_FALSE(broken.key_history[0].inclusion.empty());
  broken.key_history[0].inclusion[0][0] ^= 1;
  EXPECT_FALSE(audit::CheckStatement(broken, signer_->public_key(), std::nullopt).ok);
  // Through JSON, as it is handed over.
  auto back = audit::StatementFromJson(audit::StatementToJson(*s));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(audit::CheckStatement(*back, signer_->public_key(), std::nullopt).ok);
  // The checkpoint kept from before the rotation, signed by the old key: the node still shows
  // that its log extends it (audit verify --checkpoint), and makes a statement with a
  // consistency proof from it (audit statement --checkpoint), note or JSON alike.
  EXPECT_TRUE(desk2.CheckExtends(before_note, "the old note").ok());
  EXPECT_TRUE(desk2.CheckExtends(audit::CheckpointToJson(**before), "the old json").ok());
  for (const std::string& earlier : {before_note, audit::CheckpointToJson(**before)}) {
    auto from_old = desk2.Statement(code_, earlier);
    ASSERT_TRUE(from_old.ok()) << from_old.status().ToString();
    auto parsed = audit::StatementFromJson(*from_old);
    ASSERT_TRUE(parsed.ok());
    ASSERT_TRUE(parsed->consistency_old_size.has_value());
    auto old_cp = audit::ParseCheckpoint(before_note, signer_->public_key());
    ASSERT_TRUE(old_cp.ok());
    c = audit::CheckStatement(*parsed, signer_->public_key(), *old_cp);
    EXPECT_TRUE(c.ok) << c.problem;
  }
  // A checkpoint by a key the log never announced is still refused.
  audit::Checkpoint forged = **before;
  forged.key_id = stranger->key_id();
  forged.signature = *stranger->Sign(audit::SignedMessage(forged));
  EXPECT_FALSE(desk2.Statement(code_, audit::CheckpointToNote(forged, stranger->public_key())).ok());
  EXPECT_FALSE(desk2.CheckExtends(audit::CheckpointToNote(forged, stranger->public_key()), "x").ok());
}

// The restart is planned on a snapshot and applied in the purge's transaction only if no chain
// moved in between.
TEST_F(StatementTest, ChainRestartRefusesAHeadThatMovedSinceThePlan) {
  auto reader = *store_->OpenReader();
  auto plan = audit::PlanChainRestarts(*reader, INT64_MAX);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->restarts.size(), 20u);
  for (const auto& r : plan->restarts) EXPECT_EQ(r.count, 0);
  ASSERT_TRUE(registry_->Show(*reader, code_, actor_, "test").ok());
  Status st = store_->Write([&](store::RegistryTxn& txn) {
    return audit::ApplyChainRestarts(txn, *plan, plan->before_seq, 0);
  });
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  st = store_->Write([&](store::RegistryTxn& txn) {
    return audit::ApplyChainRestarts(txn, *plan, plan->before_seq + 1, 0);
  });
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  // Nothing was written: the statement is as before, plus the read.
  ASSERT_TRUE(registry_->Checkpoint().ok());
  EXPECT_TRUE(Check(Make(code_)).ok);
}

// A resident-code change in the middle of a resident's entries (住民票コードの変更): the log
// names each code by its own keyed MAC, so a statement keyed on one code alone left out every
// entry written under the other, and still checked VALID. Asked for by either code, the statement
// now has one part per code with all the entries on both sides, against one checkpoint; a part
// or an entry of one part left out is detected.
TEST_F(StatementTest, CodeChangeInTheMiddleStatementFromEitherCodeShowsAll) {
  auto reader = *store_->OpenReader();
  const std::string ten = "1000000005";  // code_ (SetUp's fifth resident), number 10000000005
  ASSERT_EQ(Code(ten.c_str()), code_);
  // Before the change: a 転居, a read.
  ASSERT_TRUE(SendOne(Make(kKofu, 21, ChangeReason::kMovedWithin, ten, "10000000005")));
  ASSERT_TRUE(registry_->Show(*reader, code_, actor_, "test").ok());
  // A change to another resident's code is refused: it names that code, but that code is not
  // this resident's, and nothing of the other resident may be in this statement.
  auto refused = Make(kKofu, 22, ChangeReason::kResidentCodeChanged, ten, "10000000005");
  refused.new_resident_code = ResidentCode::FromTenDigits("1000000006");  // other_
  ASSERT_FALSE(SendOne(refused));
  // The change, then reads by the new code and by the old one (found through the chain).
  auto change = Make(kKofu, 22, ChangeReason::kResidentCodeChanged, ten,
                     "10000000005");  // 22 again: a refusal consumes no sequence
  change.new_resident_code = ResidentCode::FromTenDigits("3000000005");
  ASSERT_TRUE(SendOne(change));
  const std::string new_code = change.new_resident_code->str();
  ASSERT_TRUE(registry_->Show(*reader, new_code, actor_, "test").ok());
  ASSERT_TRUE(registry_->Show(*reader, code_, actor_, "test").ok());
  ASSERT_TRUE(registry_->Checkpoint().ok());

  // Birth, three reads, the search, the 転居, a read, the refused change, the change, two reads.
  const audit::Statement by_new = Make(new_code);
  const audit::Statement by_old = Make(code_);
  ASSERT_EQ(by_new.parts.size(), 2u);
  EXPECT_EQ(audit::StatementToJson(by_new), audit::StatementToJson(by_old));
  auto c = Check(by_new);
  EXPECT_TRUE(c.ok) << c.problem;
  EXPECT_EQ(c.entries, 11);
  EXPECT_EQ(c.codes, 2);
  c = Check(by_old);
  EXPECT_TRUE(c.ok) << c.problem;
  EXPECT_EQ(c.entries, 11);
  // The old code's part runs up to the change, the new code's from it; the change is in both.
  const auto& before = by_new.parts[0].entries;
  const auto& after = by_new.parts[1].entries;
  ASSERT_EQ(before.size(), 9u);
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(before.back().seq, after.front().seq);
  EXPECT_LT(before.front().seq, after.front().seq);
  // `audit search --target` expands the chain the same way, from either code.
  for (const std::string& code : {code_, new_code}) {
    LogQuery q;
    q.target = code;
    int codes = 0;
    auto found = desk_->Search(q, &codes);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(codes, 2);
    EXPECT_EQ(found->size(), 11u) << code;
  }
  // Nothing of the other resident: not their MAC, not a code in clear.
  const std::string json = audit::StatementToJson(by_new);
  auto theirs = audit::ParseTargetName(ResidentTarget(*cipher_, other_, true));
  EXPECT_EQ(json.find(HexEncode(theirs->mac)), std::string::npos);
  for (const std::string& code : {code_, new_code, other_}) {
    EXPECT_EQ(json.find(code), std::string::npos);
  }

  // A part left out: the change it shows names a code whose part is missing.
  for (size_t drop : {0u, 1u}) {
    audit::Statement one = by_new;
    one.parts.erase(one.parts.begin() + drop);
    c = Check(one);
    EXPECT_FALSE(c.ok) << drop;
    EXPECT_THAT(c.problem, ::testing::HasSubstr("lacks the part of the other code"));
  }
  // An entry of one part left out (the read by the new code; the change itself).
  audit::Statement dropped = by_new;
  dropped.parts[1].entries.erase(dropped.parts[1].entries.begin() + 1);
  c = Check(dropped);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("left out, added or altered"));
  EXPECT_THAT(c.problem, ::testing::HasSubstr("(code 2 of 2)"));
  dropped = by_new;
  dropped.parts[0].entries.pop_back();
  dropped.parts[1].entries.erase(dropped.parts[1].entries.begin());
  EXPECT_FALSE(Check(dropped).ok);
  // A part repeated, or another resident's part added (a complete one, with its real proofs):
  // the first is refused; the second names nobody of this person, so it is theirs to see.
  audit::Statement twice = by_new;
  twice.parts.push_back(twice.parts[1]);
  EXPECT_THAT(Check(twice).problem, ::testing::HasSubstr("shown twice"));
  // What the first release made (version 1, one code at the top level) is still read and
  // checked: a resident without a code change checks VALID; the new code's part alone does
  // not (it shows the change, not the old code).
  auto v1 = [](const audit::Statement& s) {
    std::string j = audit::StatementToJson(s);
    j.replace(j.find("\"version\":2"), 11, "\"version\":1");
    j.replace(j.find(",\"parts\":[{"), 11, ",");
    j.replace(j.size() - 3, 3, "}");
    return j;
  };
  audit::Statement only_new = by_new;
  only_new.parts.erase(only_new.parts.begin());
  auto old_format = audit::StatementFromJson(v1(only_new));
  ASSERT_TRUE(old_format.ok());
  c = audit::CheckStatement(*old_format, signer_->public_key(), std::nullopt);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.problem, ::testing::HasSubstr("lacks the part of the other code"));
  old_format = audit::StatementFromJson(v1(Make(other_)));
  ASSERT_TRUE(old_format.ok());
  c = audit::CheckStatement(*old_format, signer_->public_key(), std::nullopt);
  EXPECT_TRUE(c.ok) << c.problem;
  EXPECT_EQ(c.codes, 1);
  // A statement of no code does not parse, nor check.
  audit::Statement no_parts = by_new;
  no_parts.parts.clear();
  EXPECT_FALSE(audit::StatementFromJson(audit::StatementToJson(no_parts)).ok());
  EXPECT_FALSE(audit::CheckStatement(no_parts, signer_->public_key(), std::nullopt).ok);
}

}  // namespace
}  // namespace kakunin::registry

namespace kakunin::registry {
namespace {

class MapTamperTest : public testing::RegistryFixture {
 public:
  MapTamperTest() : RegistryFixture("kakunin_maptamper_", Date::FromYmd(2026, 11, 21)) {}

 protected:
  // The first problem verify names ("" for none), the pipelined verifier's, checked to be the
  // reference's too.
  std::string FirstProblemOfBothVerifiers() {
    AuditDesk desk(store_.get(), log_.get(), cipher_.get());
    auto report = desk.Verify();
    EXPECT_TRUE(report.ok());
    if (!report.ok()) return "?";
    auto r = *store_->OpenReader();
    auto ref = audit::VerifyLogReference(*r, signer_->public_key());
    EXPECT_TRUE(ref.ok());
    if (ref.ok()) {
      EXPECT_EQ(ref->problem, report->problem);
    }
    return report->ok ? std::string() : report->problem;
  }
  // A blob literal of `hex` in the store's SQL.
  std::string Blob(const std::string& hex) {
    return OnPostgres() ? "decode('" + hex + "', 'hex')" : "X'" + hex + "'";
  }
};

TEST_F(MapTamperTest, VerifyRecomputesTheResidentMap) {
  AuditDesk desk(store_.get(), log_.get(), cipher_.get());
  auto reader = *store_->OpenReader();
  const Actor actor{"os:test", "test"};
  for (const char* code : {"24727059608", "03905367160", "24727059608"}) {
    ASSERT_TRUE(registry_->Show(*reader, code, actor, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto clean = desk.Verify();
  ASSERT_TRUE(clean.ok());
  ASSERT_TRUE(clean->ok) << clean->problem;
  // A chain reset to hide the first read, so the next checkpoint that steps it (the resident
  // is read again) signs a map without it.
  auto key = audit::ParseTargetName(ResidentTarget(*cipher_, "24727059608", false))->mac;
  ASSERT_TRUE(TamperDatabase("UPDATE audit_resident_heads SET count = 1, last_seq = 1000 WHERE "
                             "key = " +
                             (OnPostgres() ? "decode('" + HexEncode(key) + "', 'hex')"
                                           : "X'" + HexEncode(key) + "'"))
                  .ok());
  ASSERT_TRUE(registry_->Show(*reader, "24727059608", actor, "test").ok());
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto report = desk.Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_THAT(report->problem, ::testing::HasSubstr("signs a resident map that the entries do "
                                                    "not give"));
}

// The stored heads, from which the next checkpoint builds its map, are compared with the
// chains at once (found in review: a head edited by hand was found only once the next
// checkpoint had signed a map built from it, and that checkpoint was blamed). Edited, deleted
// or invented: each named, by the pipelined verifier and the reference alike, before any
// checkpoint signs it.
TEST_F(MapTamperTest, VerifyComparesTheStoredHeadsWithTheChains) {
  auto reader = *store_->OpenReader();
  const Actor actor{"os:test", "test"};
  for (const char* code : {"24727059608", "03905367160", "24727059608"}) {
    ASSERT_TRUE(registry_->Show(*reader, code, actor, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  const std::string key =
      HexEncode(audit::ParseTargetName(ResidentTarget(*cipher_, "24727059608", false))->mac);
  const std::string where =
      " WHERE key = " + (OnPostgres() ? "decode('" + key + "', 'hex')" : "X'" + key + "'");
  auto problem = [&] { return FirstProblemOfBothVerifiers(); };
  ASSERT_EQ(problem(), "");
  // The chain shortened to its first read: the next checkpoint would sign it.
  ASSERT_TRUE(TamperDatabase("UPDATE audit_resident_heads SET count = 1" + where).ok());
  EXPECT_THAT(problem(), ::testing::HasSubstr("the stored access chain of resident map key " +
                                              key.substr(0, 16) + "… does not match the entries"));
  ASSERT_TRUE(TamperDatabase("UPDATE audit_resident_heads SET count = 2" + where).ok());
  ASSERT_EQ(problem(), "");
  // Marked as moved after the checkpoint, as only a purge's restart is: the next checkpoint
  // would take it for one and sign it.
  ASSERT_TRUE(TamperDatabase("CREATE TABLE seq_saved AS SELECT last_seq FROM audit_resident_heads" +
                             where)
                  .ok());
  ASSERT_TRUE(
      TamperDatabase("UPDATE audit_resident_heads SET count = 1, last_seq = 1000" + where).ok());
  EXPECT_THAT(problem(), ::testing::HasSubstr("was moved after the checkpoint by no purge"));
  ASSERT_TRUE(TamperDatabase("UPDATE audit_resident_heads SET count = 2, last_seq = (SELECT "
                             "last_seq FROM seq_saved)" +
                             where)
                  .ok());
  ASSERT_EQ(problem(), "");
  // Deleted: the next read would start the chain again from none.
  ASSERT_TRUE(
      TamperDatabase("CREATE TABLE saved_heads AS SELECT * FROM audit_resident_heads" + where)
          .ok());
  ASSERT_TRUE(TamperDatabase("DELETE FROM audit_resident_heads" + where).ok());
  EXPECT_THAT(problem(), ::testing::HasSubstr("… is missing"));
  ASSERT_TRUE(
      TamperDatabase("INSERT INTO audit_resident_heads SELECT * FROM saved_heads").ok());
  ASSERT_EQ(problem(), "");
  // Invented: a chain for a key no entry names.
  const std::string invented(64, 'a');
  const std::string blob =
      OnPostgres() ? "decode('" + invented + "', 'hex')" : "X'" + invented + "'";
  ASSERT_TRUE(TamperDatabase("INSERT INTO audit_resident_heads (key, count, head, last_seq) "
                             "SELECT " + blob + ", 1, head, last_seq FROM saved_heads")
                  .ok());
  EXPECT_THAT(problem(), ::testing::HasSubstr("the stored access chain of resident map key "
                                              "aaaaaaaaaaaaaaaa… names no entry"));
}

// Found in review: the stored map was checked by its root only, so a node below it changed,
// invented or deleted verified — statements were then refused, and the next checkpoint signed a
// map the entries do not give. Every stored node is compared (and a chain of none, which only a
// purge leaves, is named when nothing was purged): by the pipelined verifier and the reference
// alike.
TEST_F(MapTamperTest, VerifyComparesEveryStoredMapNodeWithTheEntries) {
  auto reader = *store_->OpenReader();
  const Actor actor{"os:test", "test"};
  for (const char* code : {"24727059608", "03905367160", "03905367160"}) {
    ASSERT_TRUE(registry_->Show(*reader, code, actor, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto problems = [&] { return FirstProblemOfBothVerifiers(); };
  ASSERT_EQ(problems(), "");
  ASSERT_TRUE(TamperDatabase("CREATE TABLE saved_map AS SELECT * FROM audit_map_nodes").ok());
  auto restore = [&] {
    ASSERT_TRUE(TamperDatabase("DELETE FROM audit_map_nodes").ok());
    ASSERT_TRUE(TamperDatabase("INSERT INTO audit_map_nodes SELECT * FROM saved_map").ok());
    ASSERT_EQ(problems(), "");
  };
  const std::string kMapProblem = "the stored resident map holds ";
  // A leaf's hash below the root, the root left as signed.
  ASSERT_TRUE(TamperDatabase("UPDATE audit_map_nodes SET hash = " + Blob(std::string(64, '0')) +
                             " WHERE depth > 0 AND leaf_key IS NOT NULL")
                  .ok());
  EXPECT_THAT(problems(), ::testing::HasSubstr("not all of them the same"));
  restore();
  // A leaf moved to another key.
  ASSERT_TRUE(TamperDatabase("UPDATE audit_map_nodes SET leaf_key = " + Blob(std::string(64, 'b')) +
                             " WHERE depth > 0 AND leaf_key IS NOT NULL")
                  .ok());
  EXPECT_THAT(problems(), ::testing::HasSubstr(kMapProblem));
  restore();
  // A node invented beside them.
  ASSERT_TRUE(TamperDatabase("INSERT INTO audit_map_nodes (depth, prefix, hash, leaf_key) VALUES "
                             "(200, " + Blob(std::string(64, 'c')) + ", " +
                             Blob(std::string(64, '1')) + ", " + Blob(std::string(64, 'c')) + ")")
                  .ok());
  EXPECT_THAT(problems(), ::testing::AllOf(::testing::HasSubstr(kMapProblem),
                                           ::testing::Not(::testing::HasSubstr("the same"))));
  restore();
  // A leaf deleted.
  ASSERT_TRUE(TamperDatabase("DELETE FROM audit_map_nodes WHERE depth > 0 AND leaf_key IS NOT "
                             "NULL AND prefix = (SELECT prefix FROM audit_map_nodes WHERE depth "
                             "> 0 AND leaf_key IS NOT NULL ORDER BY prefix LIMIT 1)")
                  .ok());
  EXPECT_THAT(problems(), ::testing::HasSubstr(kMapProblem));
  restore();
  // A chain of none for a key no entry names, where nothing was ever purged.
  ASSERT_TRUE(TamperDatabase("INSERT INTO audit_resident_heads (key, count, head, last_seq) "
                             "VALUES (" + Blob(std::string(64, 'a')) + ", 0, " +
                             Blob(std::string(64, '0')) + ", 1)")
                  .ok());
  EXPECT_THAT(problems(), ::testing::HasSubstr("the stored access chain of resident map key "
                                               "aaaaaaaaaaaaaaaa… names no entry"));
}

// Found in review: the target index (audit search --target) was only counted, so a row rewritten
// to name another resident, or to say missing for found, verified, and the reviewer's "was this
// resident's record read?" was answered no. Every row of a version-2 entry is compared with the
// targets the entry names: by the pipelined verifier and the reference alike.
TEST_F(MapTamperTest, VerifyComparesTheTargetIndexWithTheEntries) {
  auto reader = *store_->OpenReader();
  const Actor actor{"os:test", "test"};
  for (const char* code : {"24727059608", "03905367160"}) {
    ASSERT_TRUE(registry_->Show(*reader, code, actor, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto problems = [&] { return FirstProblemOfBothVerifiers(); };
  ASSERT_EQ(problems(), "");
  // Not held by this node: the reads name them missing.
  const std::string name = ResidentTarget(*cipher_, "24727059608", false);
  const std::string mac = name.substr(0, name.size() - std::string(":missing").size());
  const std::string other = "mac:" + std::string(63, '0') + "1:missing";  // no entry names it
  ASSERT_TRUE(TamperDatabase("CREATE TABLE saved_targets AS SELECT * FROM audit_targets").ok());

  auto restore = [&] {
    ASSERT_TRUE(TamperDatabase("DELETE FROM audit_targets").ok());
    ASSERT_TRUE(TamperDatabase("INSERT INTO audit_targets SELECT * FROM saved_targets").ok());
    ASSERT_EQ(problems(), "");
  };
  const std::string kIndexProblem = "the target index names other residents or entries";
  for (const std::string& to : {other, mac + ":found", mac, std::string("24727059608")}) {
    SCOPED_TRACE(to);
    ASSERT_TRUE(TamperDatabase("UPDATE audit_targets SET resident_code = '" + to +
                               "' WHERE resident_code = '" + name + "'")
                    .ok());
    EXPECT_THAT(problems(), ::testing::HasSubstr(kIndexProblem));
    restore();
  }
  // Moved to another entry of the same resident's.
  ASSERT_TRUE(TamperDatabase("UPDATE audit_targets SET seq = seq + 1 WHERE resident_code = '" +
                             name + "'")
                  .ok());
  EXPECT_THAT(problems(), ::testing::HasSubstr(kIndexProblem));
}

// Found in review: entries signed while a node served were cut from the database together
// with their checkpoints, tree nodes and index rows, and the node signed the shorter log, which
// then verified clean. A checkpoint the node has found extended by its committed log (audit.head
// at start, the newest one from the server's timer: both through CheckExtends) is trusted: the
// signer refuses a log that no longer gives its root, and signs again once it does.
TEST_F(MapTamperTest, NothingIsSignedOverALogCutBehindATrustedCheckpoint) {
  AuditDesk desk(store_.get(), log_.get(), cipher_.get());
  auto reader = *store_->OpenReader();
  const Actor actor{"os:test", "test"};
  for (const char* code : {"24727059608", "03905367160", "24727059608"}) {
    ASSERT_TRUE(registry_->Show(*reader, code, actor, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto trusted = *desk.LatestCheckpoint();
  ASSERT_TRUE(trusted);
  const int64_t size = trusted->tree_size;
  // The newest checkpoint, found extended: trusted from now on.
  ASSERT_TRUE(desk.CheckExtends(audit::CheckpointToJson(*trusted), "the newest").ok());
  // Cut back one entry, with the checkpoints and tree nodes past it.
  const std::string cut = std::to_string(size - 1);
  ASSERT_TRUE(TamperDatabase("DELETE FROM audit_targets WHERE seq >= " + cut).ok());
  ASSERT_TRUE(TamperDatabase("DELETE FROM audit_entries WHERE seq >= " + cut).ok());
  ASSERT_TRUE(TamperDatabase("DELETE FROM audit_checkpoints WHERE tree_size >= " + cut).ok());
  ASSERT_TRUE(TamperDatabase("DELETE FROM audit_nodes WHERE ((idx + 1) << CAST(level AS INTEGER)) > " +
                             cut)
                  .ok());
  // The next read (its entry is due a checkpoint here) or the next checkpoint is refused: a
  // read that cannot be recorded in the signed log is not answered.
  auto shown = registry_->Show(*reader, "03905367160", actor, "test");
  Status st = shown.ok() ? registry_->Checkpoint() : shown.status();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_EQ(st.reason(), "log_not_extended");
  // A log object that trusts nothing (a process started without audit.head) signs it, and
  // verify then names the cut against the checkpoint kept outside (as audit.head would hold it).
  audit::AuditLog fresh(signer_.get(), &clock_);
  ASSERT_TRUE(store_->Write([&](store::RegistryTxn& txn) { return fresh.WriteCheckpoint(txn); })
                  .ok());
  EXPECT_FALSE(desk.CheckExtends(audit::CheckpointToJson(*trusted), "the kept one").ok());
}

// Found in review: a row of the target index moved to another key in the database hid a read
// from the statement, which the node wrote all the same (and whose digest a notice would carry).
// The node checks each statement it builds as the resident would, and issues none that fails.
TEST_F(MapTamperTest, AStatementThatWouldLeaveAnEntryOutIsNotIssued) {
  AuditDesk desk(store_.get(), log_.get(), cipher_.get());
  auto reader = *store_->OpenReader();
  const Actor actor{"os:test", "test"};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(registry_->Show(*reader, "24727059608", actor, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto good = desk.Statement("24727059608", std::nullopt);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  const std::string key =
      HexEncode(audit::ParseTargetName(ResidentTarget(*cipher_, "24727059608", true))->mac);
  // The newest entry naming the resident, moved to another key in the index.
  const std::string naming = "resident_code LIKE 'mac:" + key + "%'";
  ASSERT_TRUE(TamperDatabase("UPDATE audit_targets SET resident_code = 'mac:" +
                             std::string(64, 'b') + ":missing' WHERE " + naming +
                             " AND seq = (SELECT max(seq) FROM audit_targets WHERE " + naming +
                             ")")
                  .ok());
  auto bad = desk.Statement("24727059608", std::nullopt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("does not check"));
}

// Found in review: a purge entry written into the database (well formed, through the log's own
// append, as anyone who can write the tables can) named entries made minutes before; their
// payloads were erased, the node signed it, and verify accepted the erasure. An erasure counts
// only if the entries were signed 7 years before the purge (give or take 31 days).
TEST_F(MapTamperTest, APurgeOfRecentEntriesIsNotAnErasureAPurgeMakes) {
  AuditDesk desk(store_.get(), log_.get(), cipher_.get());
  auto reader = *store_->OpenReader();
  const Actor actor{"os:test", "test"};
  for (const char* code : {"24727059608", "03905367160"}) {
    ASSERT_TRUE(registry_->Show(*reader, code, actor, "test").ok());
  }
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto size = reader->AuditSize();
  ASSERT_TRUE(size.ok());
  const std::string before = std::to_string(*size);
  audit::AuditEntry purge;
  purge.actor = "os:root";
  purge.terminal = "cli";
  purge.action = "registry.purge";
  purge.conditions = "as_of=2026-11-21 audit_years=7 erased_before_seq=" + before;
  purge.outcome = "done";
  // Dated 8 years ahead, as whoever writes the entry can date it (found in review: the cutoff
  // was counted from the entry's own time); the node's clock, and so the checkpoint that signs
  // it, is today's.
  constexpr int64_t kEightYears = int64_t{8} * 366 * 86400 * 1000000;
  clock_.Advance(kEightYears);
  ASSERT_TRUE(registry_->Record(purge).ok());
  clock_.Advance(-kEightYears);
  ASSERT_TRUE(TamperDatabase("UPDATE audit_entries SET payload = NULL WHERE seq < " + before).ok());
  ASSERT_TRUE(TamperDatabase("DELETE FROM audit_targets WHERE seq < " + before).ok());
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto report = desk.Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_THAT(report->problem, ::testing::HasSubstr("(registry.purge) erases entries 0…" +
                                                    std::to_string(*size - 1) + ", but the "
                                                    "first checkpoint over them was signed on"));
  EXPECT_THAT(report->problem, ::testing::HasSubstr("not an erasure a purge makes"));
  auto r = *store_->OpenReader();
  auto ref = audit::VerifyLogReference(*r, signer_->public_key());
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->problem, report->problem);
}

TEST_F(MapTamperTest, StoredMapMustGiveTheSignedRoot) {
  AuditDesk desk(store_.get(), log_.get(), cipher_.get());
  auto reader = *store_->OpenReader();
  ASSERT_TRUE(registry_->Show(*reader, "24727059608", Actor{"os:t", "t"}, "test").ok());
  ASSERT_TRUE(registry_->Checkpoint().ok());
  ASSERT_TRUE(TamperDatabase(std::string("UPDATE audit_map_nodes SET hash = ") +
                             (OnPostgres() ? "decode(repeat('00', 32), 'hex')" : "zeroblob(32)") +
                             " WHERE depth = 0")
                  .ok());
  auto report = desk.Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(report->problems,
              ::testing::Contains("the stored resident map does not give the signed map root "
                                  "(access statements cannot be proved)"));
}

}  // namespace
}  // namespace kakunin::registry
