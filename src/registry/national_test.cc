// The link's use cases end to end in one process: prefecture nodes (Registry + LinkOutbox) and a
// national node (NationalDesk), each with its own store and keys, joined by the wire format
// (EncodeForwardBatch → ParseForwardBatch) and by the sender (link::Sender) over a fake upstream
// that can lose requests and answers. On SQLite, or on PostgreSQL with
// KAKUNIN_TEST_STORE=postgresql (national_test_postgresql: a schema per node).

#include "registry/national.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/national.h"
#include "audit/log.h"
#include "audit/review.h"
#include "audit/signer.h"
#include "audit/statement.h"
#include "core/bytes.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "domain/notification_reader.h"
#include "link/sender.h"
#include "registry/audit_desk.h"
#include "registry/detail/registry_internal.h"
#include "registry/registry.h"
#include "support/pg_server.h"
#include "support/registry_fixture.h"
#include "text/json.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

namespace fs = std::filesystem;

constexpr char kKofu[] = "192015";         // 山梨県甲府市
constexpr char kFujiyoshida[] = "192023";  // 山梨県富士吉田市
constexpr char kShinjuku[] = "131041";     // 東京都新宿区

// One node: its own directory, keys, store, log and use cases.
struct TestNode {
  fs::path dir;
  std::string pg_schema;  // on PostgreSQL: the node's schema
  NodeConfig config;
  std::unique_ptr<crypto::FieldCipher> cipher;
  std::unique_ptr<store::RegistryStore> store;
  std::unique_ptr<audit::Signer> signer;
  std::unique_ptr<audit::AuditLog> log;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<LinkOutbox> outbox;
  std::unique_ptr<NationalDesk> national;
  uint64_t next_seq = 1;  // per municipality would be right; one counter per node is enough
  std::map<std::string, uint64_t> seqs;
};

class NationalTest : public ::testing::Test {
 protected:
  NationalTest() : clock_(FixedClock::AtDate(Date::FromYmd(2026, 6, 1))) {}

  void SetUp() override {
    // A parameterised test's name has a '/', which would leave its parent directory behind.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    root_ = fs::path(::testing::TempDir()) /
            ("national_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    nodes_.clear();
    fs::remove_all(root_);
  }

  // prefecture 0: a national node.
  TestNode* MakeNode(const std::string& name, int prefecture,
                     ResidentCodeCheck check = ResidentCodeCheck::kFull) {
    auto n = std::make_unique<TestNode>();
    n->dir = root_ / name;
    fs::create_directories(n->dir);
    EXPECT_TRUE(crypto::CreateKeyFile((n->dir / "keys").string()).ok());
    auto keys = crypto::LoadKeyFile((n->dir / "keys").string());
    EXPECT_TRUE(keys.ok());
    n->cipher = std::make_unique<crypto::FieldCipher>(*keys);
    auto store = testing::OpenTestStore(n->dir, &n->pg_schema);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    n->store = std::move(*store);
    n->config.prefecture = prefecture;
    n->config.resident_code_check = check;
    n->config.role = prefecture == 0 ? NodeRole::kNational : NodeRole::kPrefecture;
    EXPECT_TRUE(audit::CreateSigningKeyFile((n->dir / "audit.key").string()).ok());
    n->signer = std::move(*audit::LoadSigningKeyFile((n->dir / "audit.key").string()));
    n->log = std::make_unique<audit::AuditLog>(n->signer.get(), &clock_);
    n->registry = std::make_unique<Registry>(n->config, n->store.get(), n->cipher.get(), &clock_,
                                             n->log.get());
    n->outbox = std::make_unique<LinkOutbox>(n->config, n->store.get(), n->cipher.get(), &clock_,
                                             n->log.get());
    if (prefecture == 0) {
      n->national = std::make_unique<NationalDesk>(n->config, n->store.get(), n->cipher.get(),
                                                   &clock_, n->log.get());
    }
    nodes_.push_back(std::move(n));
    return nodes_.back().get();
  }

  // Applies one notification on a prefecture node; `change_date` overrides the default.
  void Apply(TestNode* node, const std::string& municipality, ChangeReason reason,
             const std::string& code10, const std::string& number11,
             Date change_date = Date::FromYmd(2026, 4, 1)) {
    Notification n = testing::RegistryFixture::Make(municipality, 0, reason, code10, number11);
    n.change_date = change_date;
    ApplyMade(node, std::move(n));
  }

  // Applies `n` (made with RegistryFixture::Make, then changed) under its sender's next number.
  void ApplyMade(TestNode* node, Notification n) {
    n.sequence = ++node->seqs[n.municipality_code];
    std::vector<PreparedNotification> batch;
    batch.push_back(node->registry->Prepare(
        CheckJsonNotification(ToCanonicalJson(n), node->registry->check_options())));
    auto r = node->registry->Apply(batch, Actor{"os:test", "host"});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE((*r)[0].ok()) << ErrorCodeName((*r)[0].errors[0].code);
  }

  // A past record of 塩山市 (192031, merged into 甲州市 192139 on 2005-11-01), applied as of its
  // own date the way a bulk import of old records applies it: resident 1000000001.
  void ApplyPastEnzanBirth(TestNode* node) {
    Notification past = testing::RegistryFixture::Make(kKofu, 1, ChangeReason::kBirth,
                                                       "1000000001", "10000000001");
    past.municipality_code = "192031";  // 塩山市, until 2005-10-31
    past.change_date = Date::FromYmd(2004, 6, 1);
    past.address = "山梨県塩山市上於曽1番地";
    CheckOptions as_of_then = node->registry->check_options();
    as_of_then.municipality_on_change_date = true;
    std::vector<PreparedNotification> batch;
    batch.push_back(
        node->registry->Prepare(CheckJsonNotification(ToCanonicalJson(past), as_of_then)));
    auto imported = node->registry->Apply(batch, Actor{"os:test", "host"});
    ASSERT_TRUE(imported.ok() && (*imported)[0].ok());
  }

  static Client PrefectureClient(int prefecture) {
    Client c;
    c.spki_sha256 = std::string(63, 'a') + static_cast<char>('0' + prefecture % 10);
    c.kind = ClientKind::kPrefecture;
    c.name = "pref";
    c.prefecture = prefecture;
    return c;
  }

  // Registers the prefecture's client on the national node (as `clients register` does).
  void Register(TestNode* national, const Client& c) {
    Gateway gw(national->registry.get(), &catalogue(), &clock_, 0);
    ASSERT_TRUE(gw.Register(c, Actor{"os:test", "host"}).ok());
  }

  const PurposeCatalogue& catalogue() {
    if (!catalogue_) {
      catalogue_ = std::make_unique<PurposeCatalogue>(
          std::move(*PurposeCatalogue::Parse(SamplePurposeCatalogue())));
    }
    return *catalogue_;
  }

  // Sends the whole backlog of `pref` to `national` through the wire format.
  Result<ReceiveResult> Post(TestNode* national, const Client& client, const ForwardBatch& b) {
    auto json = text::ParseJson(EncodeForwardBatch(b));
    if (!json.ok()) return json.status();
    auto parsed = ParseForwardBatch(*json);
    if (!parsed.ok()) return parsed.status();
    return national->national->Receive(client, *parsed, "127.0.0.1");
  }

  static bool OnPostgres() { return testing::RegistryFixture::OnPostgres(); }

  // A digest of the current (active) records of residents of `prefecture`, without keys or
  // MACs (they differ per node): what two nodes must agree on once the link has drained.
  static std::string Digest(TestNode* node, int prefecture) {
    char pref[3];
    std::snprintf(pref, sizeof pref, "%02d", prefecture);
    const std::string where = std::string("FROM residents WHERE status = 'active' AND "
                                          "substr(municipality_code, 1, 2) = '") +
                              pref + "'";
    if (OnPostgres()) {
      // The same bytes as below, joined by the server and read back in hex.
      auto hex = kakunin::testing::PgServer::Shared()->Psql(
          "SELECT coalesce(encode(convert_to(string_agg(resident_code || chr(31) || "
          "municipality_code || chr(31) || name || chr(31) || coalesce(name_kana, '') || "
          "chr(31) || sex || chr(31) || birth_date || chr(31) || address || chr(31) || chr(30), "
          "'' ORDER BY resident_code), 'UTF8'), 'hex'), '') " +
              where,
          "postgres", node->pg_schema);
      EXPECT_TRUE(hex.ok()) << hex.status().ToString();
      if (!hex.ok()) return "";
      std::string h = *hex;
      while (!h.empty() && (h.back() == '\n' || h.back() == '\r')) h.pop_back();
      std::string bytes;
      for (size_t at = 0; at < h.size();) {  // psql wraps encode()'s output every 76 characters
        size_t nl = h.find('\n', at);
        if (nl == std::string::npos) nl = h.size();
        auto part = HexDecode(h.substr(at, nl - at));
        EXPECT_TRUE(part.has_value()) << "not hex";
        if (part) bytes += *part;
        at = nl + 1;
      }
      return HexEncode(crypto::Sha256(bytes));
    }
    sqlite3* db = nullptr;
    EXPECT_EQ(
        sqlite3_open_v2((node->dir / "registry.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
        SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    const std::string sql = "SELECT resident_code, municipality_code, name, "
                            "coalesce(name_kana, ''), sex, birth_date, address " +
                            where + " ORDER BY resident_code";
    sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    std::string all;
    while (sqlite3_step(s) == SQLITE_ROW) {
      for (int i = 0; i < 7; ++i) {
        all += reinterpret_cast<const char*>(sqlite3_column_text(s, i));
        all += '\x1f';
      }
      all += '\x1e';
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return HexEncode(crypto::Sha256(all));
  }

  // The first column of the first row of `sql` (-1 if none), on the node's own database.
  static int64_t Count(TestNode* node, const std::string& sql) {
    if (OnPostgres()) {
      auto out = kakunin::testing::PgServer::Shared()->Psql(sql, "postgres", node->pg_schema);
      if (!out.ok() || out->empty()) return -1;
      if ((*out)[0] == '\n') return 0;  // NULL, as sqlite3_column_int64 reads it
      return std::strtoll(out->c_str(), nullptr, 10);
    }
    sqlite3* db = nullptr;
    sqlite3_open_v2((node->dir / "registry.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
  }

  // How many "link.receive" entries hold `text` in their payload's bytes (a code in clear).
  static int64_t LinkEntriesHolding(TestNode* node, const std::string& text) {
    return EntriesHolding(node, "link.receive", text);
  }
  // How many `action` entries hold `text` in their payload's bytes (an outcome, a code).
  static int64_t EntriesHolding(TestNode* node, const std::string& action,
                                const std::string& text) {
    return Count(node, OnPostgres()
                           ? "SELECT count(*) FROM audit_entries WHERE action = '" + action +
                                 "' AND position('" + text + "'::bytea in payload) > 0"
                           : "SELECT count(*) FROM audit_entries WHERE action = '" + action +
                                 "' AND instr(payload, '" + text + "') > 0");
  }

  // A version row inserted behind the registry's back (a copy of version 1 under a new id): what
  // the record check must name. Returns its id.
  static int64_t PlantVersion(TestNode* node) {
    const int64_t next = Count(node, "SELECT max(version_id) FROM versions") + 1;
    const std::string insert =
        "INSERT INTO versions (version_id, person_id, municipality_code, sequence, kind, reason, "
        "change_date, resident_code, sealed_number, name, name_kana, former_surname, alias, sex, "
        "birth_date, address, new_resident_code, applied_at, superseded_at) SELECT " +
        std::to_string(next) +
        ", person_id, municipality_code, sequence, kind, reason, change_date, resident_code, "
        "sealed_number, name, name_kana, former_surname, alias, sex, birth_date, address, "
        "new_resident_code, applied_at, 1 FROM versions WHERE version_id = 1";
    if (OnPostgres()) {
      EXPECT_TRUE(
          kakunin::testing::PgServer::Shared()->Psql(insert, "postgres", node->pg_schema).ok());
    } else {
      sqlite3* db = nullptr;
      EXPECT_EQ(sqlite3_open((node->dir / "registry.db").c_str(), &db), SQLITE_OK);
      EXPECT_EQ(sqlite3_exec(db, insert.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
      sqlite3_close(db);
    }
    return next;
  }

  // The node's records are all covered by the log's state leaves (nothing counted as written
  // before the log recorded state), so a version inserted behind the registry's back is named.
  static void ExpectAnInsertedVersionNamed(TestNode* node) {
    audit::VerifyReport v = Verified(node);
    EXPECT_TRUE(v.ok) << v.problem;
    EXPECT_EQ(v.unattested_versions, 0);
    EXPECT_EQ(v.unattested_residents, 0);
    const int64_t planted = PlantVersion(node);
    v = Verified(node);
    EXPECT_FALSE(v.ok);
    EXPECT_NE(v.problem.find("version " + std::to_string(planted) + " was written by no entry"),
              std::string::npos)
        << v.problem;
  }

  // The node's operation log and records verify (the national node's merges included).
  static audit::VerifyReport Verified(TestNode* node) {
    EXPECT_TRUE(node->registry->Checkpoint().ok());
    AuditDesk desk(node->store.get(), node->log.get(), node->cipher.get());
    auto r = desk.Verify();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : audit::VerifyReport{};
  }

  // Forwards everything waiting on `pref` in batches of `size`, acknowledging as the sender does.
  void Drain(TestNode* pref, TestNode* national, const Client& client, int size = 100) {
    for (int i = 0; i < 1000; ++i) {
      auto acked = pref->outbox->Acknowledged();
      ASSERT_TRUE(acked.ok());
      auto b = pref->outbox->Next(*acked, size);
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      if (b->changes.empty()) return;
      auto r = Post(national, client, *b);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->conflict, 0) << "a reused sequence: nothing of the batch was applied";
      ASSERT_TRUE(pref->outbox->Acknowledge(r->acknowledged, r->applied, Actor{"os:t", "h"}).ok());
    }
    FAIL() << "did not drain";
  }

  FixedClock clock_;
  fs::path root_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::unique_ptr<PurposeCatalogue> catalogue_;
};

TEST_F(NationalTest, ForwardsInOrderAndDigestsAgree) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000002", "10000000002");
  Apply(yamanashi, kFujiyoshida, ChangeReason::kBirth, "1000000003", "10000000003");
  auto backlog = yamanashi->outbox->Backlog();
  ASSERT_TRUE(backlog.ok());
  EXPECT_EQ(backlog->pending, 3);

  auto batch = yamanashi->outbox->Next(0, 10);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->changes.size(), 3u);
  EXPECT_EQ(batch->changes[0].individual_number.size(), 12u);  // opened for the journey
  auto r = Post(national, client, *batch);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->gap);
  EXPECT_EQ(r->applied, 3);
  EXPECT_EQ(r->acknowledged, batch->changes.back().sequence);
  ASSERT_TRUE(yamanashi->outbox->Acknowledge(r->acknowledged, 3, Actor{"os:t", "h"}).ok());
  backlog = yamanashi->outbox->Backlog();
  EXPECT_EQ(backlog->pending, 0);
  EXPECT_EQ(backlog->delivered, 3);
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  EXPECT_NE(Digest(national, 19), Digest(national, 13));  // it reads records: 13 has none
  EXPECT_EQ(Count(national, "SELECT count(*) FROM residents"), 3);

  // The number is sealed again under the national node's own key.
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(batch->changes[0].resident_code);
  ASSERT_TRUE(row.ok() && row->has_value());
  auto v = (*reader)->Version((*row)->version_id);
  ASSERT_TRUE(v.ok() && v->has_value());
  auto opened = national->cipher->Open(
      (*v)->sealed_number, NumberAssociatedData((*v)->municipality_code, (*v)->sequence));
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, batch->changes[0].individual_number);

  // Delivered rows go after the retention, not before.
  auto purged = yamanashi->outbox->PurgeDelivered(clock_.NowMicros());
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 0);
  clock_.Advance(1);
  purged = yamanashi->outbox->PurgeDelivered(clock_.NowMicros());
  EXPECT_EQ(*purged, 3);
}

TEST_F(NationalTest, DuplicatedBatchIsAcknowledgedWithoutApplyingTwice) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000002", "10000000002");
  auto batch = yamanashi->outbox->Next(0, 10);
  ASSERT_TRUE(Post(national, client, *batch).ok());
  const int64_t versions = Count(national, "SELECT count(*) FROM versions");
  auto again = Post(national, client, *batch);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->applied, 0);
  EXPECT_EQ(again->duplicates, 2);
  EXPECT_EQ(again->acknowledged, batch->changes.back().sequence);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), versions);
}

// Review: what a prefecture node was right to take reaches the national node, whatever the
// national node's own settings — else the batch holding it is refused, the sender retries it
// for ever and every later change waits behind it. Here: a prefecture on
// resident_code_check = "format" (real codes failing the stand-in rule) and an address as long
// as the contract allows in four-byte characters (1,200 bytes), to a national node checking
// codes in full.
TEST_F(NationalTest, WhatThePrefectureTookIsForwardedWhateverTheNationalNodesSettings) {
  TestNode* yamanashi = MakeNode("p19", 19, ResidentCodeCheck::kFormatOnly);
  TestNode* national = MakeNode("national", 0, ResidentCodeCheck::kFull);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Notification n = testing::RegistryFixture::Make(kKofu, 0, ChangeReason::kBirth, "1000000005",
                                                  "10000000005");
  std::string code = n.resident_code.str();
  code.back() = code.back() == '9' ? '0' : code.back() + 1;
  ErrorCode error;
  auto loose = ResidentCode::Parse(code, ResidentCodeCheck::kFormatOnly, &error);
  ASSERT_TRUE(loose.has_value());
  ASSERT_FALSE(ResidentCode::Parse(code, ResidentCodeCheck::kFull, &error).has_value());
  n.resident_code = *loose;
  n.address = "山梨県甲府市丸の内一丁目";
  while (text::CodePointCount(n.address) < 300) n.address += "𠮷";
  ApplyMade(yamanashi, n);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000006", "10000000006");
  Drain(yamanashi, national, client);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 2);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM residents"), 2);
}

// Review: one change numbered far ahead — forged with the prefecture's link key, or a sender's
// bug — moved the national node's point past every number the prefecture would give out; its
// next real changes, at or below that point and never received, were counted as resends,
// acknowledged and lost, and both nodes reported a healthy link. They are refused now
// (sequence_conflict: the sender stops, loudly), and true resends are still duplicates.
TEST_F(NationalTest, AChangeNeverReceivedBelowThePointIsRefusedNotTakenForAResend) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Drain(yamanashi, national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000002", "10000000002");
  auto real = yamanashi->outbox->Next(1, 10);
  ASSERT_TRUE(real.ok());
  ASSERT_EQ(real->changes.size(), 1u);
  ForwardBatch forged = *real;
  // No sender skips further than 1,024 restores would: a change numbered beyond that is
  // refused, nothing applied (found in review: one numbered 2^63-1 stopped the link for ever).
  for (int64_t far : {INT64_MAX, int64_t{1} << 51, 1 + kMaxForwardedJump + 1}) {
    forged.changes[0].sequence = far;
    auto refused = Post(national, client, forged);
    ASSERT_TRUE(refused.ok()) << refused.status().ToString();
    EXPECT_EQ(refused->conflict, far);
    EXPECT_EQ(refused->applied, 0);
    EXPECT_EQ(refused->acknowledged, 1);
  }
  EXPECT_EQ(Count(national, "SELECT last_sequence FROM link_received WHERE prefecture = 19"), 1);
  forged.changes[0].sequence = 1 + kMaxForwardedJump;  // as far as it goes
  auto jumped = Post(national, client, forged);
  ASSERT_TRUE(jumped.ok()) << jumped.status().ToString();
  ASSERT_EQ(jumped->acknowledged, 1 + kMaxForwardedJump);
  // The real change 2: below the point, never received.
  auto r = Post(national, client, *real);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->conflict, real->changes[0].sequence);
  EXPECT_EQ(r->duplicates, 0);
  // A true resend of change 1 is still acknowledged as one.
  auto first = yamanashi->outbox->Next(0, 1);
  ASSERT_TRUE(first.ok());
  auto again = Post(national, client, *first);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->conflict, 0);
  EXPECT_EQ(again->duplicates, 1);

  // The way back, on the national node (kakunin link rewind): the point moves back to what the
  // prefecture had acknowledged, recorded, and the real change 2 applies. Only back, only a
  // prefecture of the country, only on a national node.
  const Actor host{"os:root", "host"};
  EXPECT_EQ(national->national->Rewind(19, 1 + kMaxForwardedJump, host).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(national->national->Rewind(48, 0, host).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(national->national->Rewind(19, -1, host).status().code(),
            StatusCode::kInvalidArgument);
  if (yamanashi->national) {
    EXPECT_EQ(yamanashi->national->Rewind(19, 0, host).status().code(),
              StatusCode::kFailedPrecondition);
  }
  auto had = national->national->Rewind(19, 1, host);
  ASSERT_TRUE(had.ok()) << had.status().ToString();
  EXPECT_EQ(*had, 1 + kMaxForwardedJump);
  EXPECT_EQ(Count(national, "SELECT last_sequence FROM link_received WHERE prefecture = 19"), 1);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM audit_entries WHERE action = 'link.rewind'"),
            1);
  EXPECT_EQ(EntriesHolding(national, "link.rewind", "10000000002"), 0);  // numbers only
  auto rewound = Post(national, client, *real);
  ASSERT_TRUE(rewound.ok()) << rewound.status().ToString();
  EXPECT_EQ(rewound->conflict, 0);
  EXPECT_EQ(rewound->applied, 1);
  EXPECT_EQ(rewound->acknowledged, real->changes[0].sequence);
  // The real change took the number's place: the forged change's MAC is gone, the real one's
  // kept (and the forged jump's own, far above, stays).
  EXPECT_EQ(Count(national, "SELECT count(*) FROM link_received_changes WHERE prefecture = 19"),
            3);

  // A rewind below changes applied before never applies them twice (found in review: 51
  // versions doubled): sent again, each is a duplicate, and the point moves on over them.
  const int64_t versions = Count(national, "SELECT count(*) FROM versions");
  ASSERT_TRUE(national->national->Rewind(19, 0, host).ok());
  auto both = yamanashi->outbox->Next(0, 10);
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->changes.size(), 2u);
  auto again_after_rewind = Post(national, client, *both);
  ASSERT_TRUE(again_after_rewind.ok()) << again_after_rewind.status().ToString();
  EXPECT_EQ(again_after_rewind->applied, 0);
  EXPECT_EQ(again_after_rewind->duplicates, 2);
  EXPECT_EQ(again_after_rewind->acknowledged, real->changes[0].sequence);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), versions);

  // Another change had taken the next number: after a rewind the real one applies, and the
  // entry says a number's change was replaced.
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000003", "10000000003");
  auto third = yamanashi->outbox->Next(real->changes[0].sequence, 10);
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->changes.size(), 1u);
  ForwardBatch other = *third;
  other.changes[0].applied_at += 1;
  auto taken = Post(national, client, other);
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->applied, 1);
  ASSERT_TRUE(national->national->Rewind(19, real->changes[0].sequence, host).ok());
  auto real_third = Post(national, client, *third);
  ASSERT_TRUE(real_third.ok()) << real_third.status().ToString();
  EXPECT_EQ(real_third->applied, 1);
  EXPECT_EQ(real_third->conflict, 0);
  EXPECT_EQ(EntriesHolding(national, "link.receive", "replaced=1"), 1);

  // Below the first change the node kept a MAC of (changes applied before schema 10 have
  // none), a resend would apply them again: refused.
  ASSERT_TRUE(national->store->SetMeta("link_macs_from_19", "3").ok());
  EXPECT_EQ(national->national->Rewind(19, 1, host).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(national->national->Rewind(19, 2, host).ok());
}

// A prefecture node restored from an older backup numbers its new changes again from the
// backup's point: under numbers the national node already applied, with other content. Taken
// as resends they would be acknowledged and lost; they are refused, recorded, and nothing of the
// batch is applied. A true resend (the same change) is still a duplicate.
TEST_F(NationalTest, AReusedSequenceIsRefusedNotAcknowledgedAndLost) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000002", "10000000002");
  Drain(yamanashi, national, client);
  ASSERT_EQ(Count(national, "SELECT count(*) FROM versions"), 2);
  // What the national node keeps of each applied change: a 32-byte keyed MAC, by sequence.
  EXPECT_EQ(Count(national, "SELECT count(*) FROM link_received_changes WHERE prefecture = 19 "
                            "AND length(change_mac) = 32"),
            2);

  // "Restored": another node of the same prefecture whose outbox starts again at 1.
  TestNode* restored = MakeNode("p19-restored", 19);
  Apply(restored, kKofu, ChangeReason::kBirth, "1000000003", "10000000003");
  auto reused = restored->outbox->Next(0, 10);
  ASSERT_TRUE(reused.ok());
  ASSERT_EQ(reused->changes.size(), 1u);
  ASSERT_EQ(reused->changes[0].sequence, 1);
  const int64_t entries = Count(national, "SELECT count(*) FROM audit_entries");
  auto r = Post(national, client, *reused);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->conflict, 1);
  EXPECT_EQ(r->acknowledged, 2);
  EXPECT_EQ(r->applied, 0);
  EXPECT_EQ(r->duplicates, 0);
  EXPECT_FALSE(r->gap);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 2);
  EXPECT_EQ(Count(national, "SELECT last_sequence FROM link_received WHERE prefecture = 19"), 2);
  // Recorded as a refusal (one entry, nothing applied), with no resident code in clear.
  EXPECT_EQ(Count(national, "SELECT count(*) FROM audit_entries"), entries + 1);
  EXPECT_EQ(LinkEntriesHolding(national, "1000000003"), 0);

  // One conflicting change refuses the whole batch, even after new ones.
  Apply(restored, kKofu, ChangeReason::kBirth, "1000000004", "10000000004");
  Apply(restored, kKofu, ChangeReason::kBirth, "1000000005", "10000000005");
  auto longer = restored->outbox->Next(0, 10);
  ASSERT_EQ(longer->changes.size(), 3u);
  r = Post(national, client, *longer);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->conflict, 1);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 2);

  // The same change resent is a duplicate, and the rest applies.
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000006", "10000000006");
  auto resend = yamanashi->outbox->Next(0, 10);
  ASSERT_EQ(resend->changes.size(), 3u);
  r = Post(national, client, *resend);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->conflict, 0);
  EXPECT_EQ(r->duplicates, 2);
  EXPECT_EQ(r->applied, 1);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 3);

  // A resend altered in any member is not the same change: its applied_at, say.
  ForwardBatch altered = *resend;
  altered.changes[0].applied_at += 1;
  r = Post(national, client, altered);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->conflict, altered.changes[0].sequence);
}

// What a restore does to the outbox (registry/backup.cc): the next change is numbered above
// every number the database gave out, on either store.
TEST_F(NationalTest, SkippedOutboxNumbersAreNeverGivenOutAgain) {
  TestNode* yamanashi = MakeNode("p19", 19);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000002", "10000000002");
  const int64_t last = Count(yamanashi, "SELECT max(outbox_id) FROM outbox");
  ASSERT_GE(last, 2);
  int64_t next = 0;
  ASSERT_TRUE(yamanashi->store
                  ->Write([&](store::RegistryTxn& txn) -> Status {
                    KAKUNIN_ASSIGN_OR_RETURN(n, txn.SkipOutboxNumbers(int64_t{1} << 40));
                    next = n;
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(next, last + (int64_t{1} << 40) + 1);  // the same on both stores
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000003", "10000000003");
  EXPECT_EQ(Count(yamanashi, "SELECT max(outbox_id) FROM outbox"), next);
  EXPECT_EQ(Count(yamanashi, "SELECT count(*) FROM outbox"), 3);
}

// Review: the sender took any acknowledgement, one above every number this node ever gave out
// included (a national node ahead of a restored prefecture node): the point moved past rows
// not yet made, and they would never have been sent. Refused; within skipped numbers it stands.
TEST_F(NationalTest, AnAcknowledgementOfANumberNeverGivenOutIsRefused) {
  TestNode* yamanashi = MakeNode("p19", 19);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  const int64_t last = Count(yamanashi, "SELECT max(outbox_id) FROM outbox");
  const Actor link_actor{"system:link", "upstream"};
  Status st = yamanashi->outbox->Acknowledge(last + 5, 0, link_actor);
  EXPECT_EQ(st.reason(), "acknowledged_unsent") << st.ToString();
  auto point = yamanashi->outbox->Acknowledged();
  ASSERT_TRUE(point.ok());
  EXPECT_EQ(*point, 0);
  EXPECT_TRUE(yamanashi->outbox->Acknowledge(last, 1, link_actor).ok());
  ASSERT_TRUE(yamanashi->store
                  ->Write([&](store::RegistryTxn& txn) {
                    return txn.SkipOutboxNumbers(100).status();
                  })
                  .ok());
  EXPECT_TRUE(yamanashi->outbox->Acknowledge(last + 50, 0, link_actor).ok());
}

// A resident registered under a code abolished since (a past record of 塩山市, merged into
// 甲州市) is amended by the successor on the prefecture node; the national node must take that
// amendment as current too, not as another municipality's history.
TEST_F(NationalTest, TheSuccessorsAmendmentIsCurrentOnBothNodes) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  Register(national, c19);
  ASSERT_NO_FATAL_FAILURE(ApplyPastEnzanBirth(yamanashi));
  Drain(yamanashi, national, c19);
  Apply(yamanashi, "192139", ChangeReason::kMovedWithin, "1000000001", "10000000001");
  Drain(yamanashi, national, c19);
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("1000000001").str());
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, "192139");
}

// Review: a resident of 塩山市 (merged into 甲州市) moves to 東京都 and 東京都's 転入 reaches the
// national node first: the move-out is then expected from 塩山市's code, and 甲州市's 転出 was set
// aside (conflict:wrong_municipality, stored nowhere, an alert) instead of kept as history.
TEST_F(NationalTest, TheSuccessorsLateMoveOutToAnotherPrefectureIsKeptAsHistory) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  ASSERT_NO_FATAL_FAILURE(ApplyPastEnzanBirth(yamanashi));
  Drain(yamanashi, national, c19);
  Apply(tokyo, kShinjuku, ChangeReason::kMovedIn, "1000000001", "10000000001",
        Date::FromYmd(2026, 4, 1));
  Drain(tokyo, national, c13);
  Apply(yamanashi, "192139", ChangeReason::kMovedOut, "1000000001", "10000000001",
        Date::FromYmd(2026, 3, 31));
  Drain(yamanashi, national, c19);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:"), 0);
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("1000000001").str());
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kShinjuku);
  EXPECT_EQ((*row)->status, store::ResidentStatus::kActive);
  auto history = (*reader)->History((*row)->person_id);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 3u);  // birth (塩山市), 転入 (新宿区), 転出 (甲州市)
}

// As AMoveInDatedBeforeTheOriginsLastAmendmentStillRegistersThePerson, for a resident 塩山市
// entered and its successor 甲州市 amended (found in review: the registration's 記載 was looked
// for under the successor's code only, and the person ended removed at the national node).
TEST_F(NationalTest, AMoveInDatedBeforeTheSuccessorsLastAmendmentStillRegistersThePerson) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  ASSERT_NO_FATAL_FAILURE(ApplyPastEnzanBirth(yamanashi));
  Apply(yamanashi, "192139", ChangeReason::kMovedWithin, "1000000001", "10000000001",
        Date::FromYmd(2026, 4, 18));
  Drain(yamanashi, national, c19);
  Apply(tokyo, kShinjuku, ChangeReason::kMovedIn, "1000000001", "10000000001",
        Date::FromYmd(2026, 4, 15));
  Drain(tokyo, national, c13);
  Apply(yamanashi, "192139", ChangeReason::kMovedOut, "1000000001", "10000000001",
        Date::FromYmd(2026, 4, 20));
  Drain(yamanashi, national, c19);
  EXPECT_EQ(Digest(tokyo, 13), Digest(national, 13));
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("1000000001").str());
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kShinjuku);
  EXPECT_EQ((*row)->status, store::ResidentStatus::kActive);
}

// The MACs of received changes (one per forwarded change, for ever otherwise) go with the
// operation log's retention at a purge: a dry run counts them, the purge erases only those.
TEST_F(NationalTest, ReceivedChangeMacsGoWithTheLogsRetention) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000002", "10000000002");
  Drain(yamanashi, national, client);
  clock_.Advance(int64_t{7 * 366 + 2} * 86400 * 1000000);  // past 7 years
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000003", "10000000003",
        clock_.TodayJst());
  Drain(yamanashi, national, client);
  ASSERT_EQ(Count(national, "SELECT count(*) FROM link_received_changes"), 3);

  const Actor chief{"os:chief", "host"};
  auto preview = national->registry->Purge(clock_.TodayJst(), /*dry_run=*/true, chief);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(preview->received_changes, 2);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM link_received_changes"), 3);
  auto purged = national->registry->Purge(clock_.TodayJst(), /*dry_run=*/false, chief);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(purged->received_changes, 2);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM link_received_changes WHERE sequence = 3"), 1);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM link_received_changes"), 1);
  // The latest change is still told from another under its number.
  TestNode* restored = MakeNode("p19-restored", 19);
  for (const char* code : {"1000000004", "1000000005", "1000000006"}) {
    Apply(restored, kKofu, ChangeReason::kBirth, code, "2" + std::string(code));
  }
  auto reused = restored->outbox->Next(2, 1);
  ASSERT_TRUE(reused.ok());
  ASSERT_EQ(reused->changes.size(), 1u);
  ASSERT_EQ(reused->changes[0].sequence, 3);
  auto r = Post(national, client, *reused);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->conflict, 3);  // the sequence refused
}

// An upstream that answers as the API does (api/national.cc): 409 sequence_gap or
// sequence_conflict, else 200.
class FaithfulUpstream final : public link::Upstream {
 public:
  // `measures`: the answer says the node applies support measures' changes, as api/national.cc
  // does (false: a national node older than them).
  FaithfulUpstream(TestNode* national, Client client, bool measures = false)
      : national_(national), client_(std::move(client)), measures_(measures) {}
  Result<link::HttpsResponse> PostBatch(const std::string& body) override {
    auto json = text::ParseJson(body);
    auto batch = ParseForwardBatch(*json);
    if (!batch.ok()) return batch.status();
    auto r = national_->national->Receive(client_, *batch, "127.0.0.1");
    if (!r.ok()) return r.status();
    link::HttpsResponse out;
    if (r->conflict != 0) {
      out.status = 409;
      out.body = "{\"error\":\"sequence_conflict\",\"sequence\":" +
                 std::to_string(r->conflict) +
                 ",\"acknowledged\":" + std::to_string(r->acknowledged) + "}";
    } else if (r->gap) {
      out.status = 409;
      out.body = "{\"error\":\"sequence_gap\",\"acknowledged\":" +
                 std::to_string(r->acknowledged) + "}";
    } else {
      out.status = 200;
      out.body = "{\"acknowledged\":" + std::to_string(r->acknowledged) +
                 (measures_ ? ",\"support_measures\":true}" : "}");
    }
    return out;
  }

 private:
  TestNode* national_;
  Client client_;
  bool measures_;
};

// The restored prefecture's sender: the conflict is a failure it reports and repeats, never an
// acknowledgement that would mark its new changes delivered.
TEST_F(NationalTest, TheSenderOfARestoredNodeStopsAtASequenceConflict) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  for (const char* code : {"1000000001", "1000000002", "1000000003"}) {
    Apply(yamanashi, kKofu, ChangeReason::kBirth, code, std::string("1") + code);
  }
  Drain(yamanashi, national, client);
  TestNode* restored = MakeNode("p19-restored", 19);
  Apply(restored, kKofu, ChangeReason::kBirth, "1000000009", "10000000009");
  UpstreamConfig config;
  link::Sender sender(config, restored->outbox.get(), &clock_,
                      std::make_unique<FaithfulUpstream>(national, client), 7,
                      Actor{"system:link", "upstream"});
  for (int round = 0; round < 3; ++round) {
    auto r = sender.Step();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("sequence_conflict"), std::string::npos)
        << r.status().ToString();
    // The numbers the operators need: the reused one and the national node's point.
    EXPECT_NE(r.status().message().find("sequence 1 of this batch (its point: 3;"),
              std::string::npos)
        << r.status().ToString();
  }
  EXPECT_EQ(sender.Stats().acknowledged, 0);
  EXPECT_EQ(sender.Stats().consecutive_failures, 3);
  EXPECT_EQ(restored->outbox->Backlog()->pending, 1);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 3);
  // Not ready at once: resending cannot help, so there are no 300 s of "down" to wait for
  // (found in review: /readyz said ready while the conflict stopped the link).
  EXPECT_TRUE(sender.Stats().conflict);
  EXPECT_EQ(sender.Ready().reason(), "link_sequence_conflict");
}

TEST_F(NationalTest, ReorderedBatchIsAGapAndNothingIsApplied) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  for (int i = 1; i <= 4; ++i) {
    Apply(yamanashi, kKofu, ChangeReason::kBirth, "100000000" + std::to_string(i),
          "1000000000" + std::to_string(i));
  }
  auto first = yamanashi->outbox->Next(0, 2);
  auto second = yamanashi->outbox->Next(first->changes.back().sequence, 2);
  ASSERT_EQ(second->changes.size(), 2u);
  auto r = Post(national, client, *second);  // arrives first
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->gap);
  EXPECT_EQ(r->acknowledged, 0);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 0);
  ASSERT_TRUE(Post(national, client, *first).ok());
  r = Post(national, client, *second);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->gap);
  EXPECT_EQ(r->applied, 2);
  // A batch overlapping what was applied applies only the rest.
  auto all = yamanashi->outbox->Next(0, 10);
  r = Post(national, client, *all);
  EXPECT_EQ(r->applied, 0);
  EXPECT_EQ(r->duplicates, 4);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 4);
}

TEST_F(NationalTest, AnotherPrefecturesResidentRefusesTheWholeBatch) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client yamanashi_cert = PrefectureClient(19);
  Register(national, yamanashi_cert);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Apply(tokyo, kShinjuku, ChangeReason::kBirth, "2000000001", "20000000001");
  auto mine = yamanashi->outbox->Next(0, 10);
  auto theirs = tokyo->outbox->Next(0, 10);
  ForwardBatch mixed = *mine;
  mixed.changes.push_back(theirs->changes[0]);
  mixed.changes.back().sequence = mine->changes.back().sequence + 1;
  const int64_t entries = Count(national, "SELECT count(*) FROM audit_entries");
  auto r = Post(national, yamanashi_cert, mixed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "sender_mismatch");
  // Claiming to be Tokyo with Yamanashi's certificate is the same refusal.
  theirs->prefecture = 13;
  r = Post(national, yamanashi_cert, *theirs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "sender_mismatch");
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 0);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM link_received"), 0);
  // Recorded, with keyed MACs: no resident code in clear in the log.
  EXPECT_EQ(Count(national, "SELECT count(*) FROM audit_entries"), entries + 2);
  EXPECT_EQ(LinkEntriesHolding(national, "2000000001"), 0);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM audit_targets WHERE resident_code LIKE 'mac:%'"),
            Count(national, "SELECT count(*) FROM audit_targets"));
  // Not a prefecture node, or revoked: refused too.
  Client agency = yamanashi_cert;
  agency.kind = ClientKind::kAgency;
  r = Post(national, agency, *mine);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "not_permitted");
  // Only a national node receives.
  NationalDesk not_national(yamanashi->config, yamanashi->store.get(), yamanashi->cipher.get(),
                            &clock_, yamanashi->log.get());
  EXPECT_FALSE(not_national.Receive(yamanashi_cert, *mine, "x").ok());
}

// 山梨県 → 東京都: a 転出 from 19's node and a 転入 from 13's, in either order. Either way the
// national node holds the 転入's record as current and both versions in history.
class MoveOrderTest : public NationalTest, public ::testing::WithParamInterface<bool> {};

TEST_P(MoveOrderTest, MoveBetweenPrefecturesEndsRightInEitherOrder) {
  const bool tokyo_first = GetParam();
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001",
        Date::FromYmd(2020, 1, 1));
  Drain(yamanashi, national, c19);
  // The move: 転出 dated the day before the 転入.
  Apply(yamanashi, kKofu, ChangeReason::kMovedOut, "1000000001", "10000000001",
        Date::FromYmd(2026, 3, 31));
  Apply(tokyo, kShinjuku, ChangeReason::kMovedIn, "1000000001", "10000000001",
        Date::FromYmd(2026, 4, 1));
  // One whose 転入 is dated before the 転出 (the 転出届 gave a planned date; the person moved
  // earlier): registered in 東京都 whichever side arrives first.
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "3000000001", "30000000001",
        Date::FromYmd(2019, 1, 1));
  Drain(yamanashi, national, c19);
  Apply(yamanashi, kKofu, ChangeReason::kMovedOut, "3000000001", "30000000001",
        Date::FromYmd(2026, 4, 20));
  Apply(tokyo, kShinjuku, ChangeReason::kMovedIn, "3000000001", "30000000001",
        Date::FromYmd(2026, 4, 15));
  // And one moving the other way, so that both directions cross in the same run.
  Apply(tokyo, kShinjuku, ChangeReason::kBirth, "2000000001", "20000000001",
        Date::FromYmd(2021, 1, 1));
  Apply(tokyo, kShinjuku, ChangeReason::kMovedOut, "2000000001", "20000000001",
        Date::FromYmd(2026, 4, 10));
  Apply(yamanashi, kFujiyoshida, ChangeReason::kMovedIn, "2000000001", "20000000001",
        Date::FromYmd(2026, 4, 11));
  clock_.Advance(int64_t{3} * 3600 * 1000000);  // hours apart
  if (tokyo_first) {
    Drain(tokyo, national, c13, 1);
    clock_.Advance(int64_t{5} * 3600 * 1000000);
    Drain(yamanashi, national, c19, 1);
  } else {
    Drain(yamanashi, national, c19, 1);
    clock_.Advance(int64_t{5} * 3600 * 1000000);
    Drain(tokyo, national, c13, 1);
  }
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  EXPECT_EQ(Digest(tokyo, 13), Digest(national, 13));
  auto reader = national->store->OpenReader();
  auto moved = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("1000000001").str());
  ASSERT_TRUE(moved.ok() && moved->has_value());
  EXPECT_EQ((*moved)->municipality_code, kShinjuku);
  EXPECT_EQ((*moved)->status, store::ResidentStatus::kActive);
  auto history = (*reader)->History((*moved)->person_id);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);  // birth (19), 転出 (19), 転入 (13): both prefectures' versions
  int current = 0;
  for (const auto& v : *history) {
    if (v.superseded_at == 0) {
      ++current;
      EXPECT_EQ(v.reason, "moved_in");
      EXPECT_EQ(v.municipality_code, kShinjuku);
    }
  }
  EXPECT_EQ(current, 1);
  // The history a recipient is given lists the versions in the order they arrived here and
  // marks the one a lookup gives now: for the one whose 転入 came first, its late 転出 lists
  // above the 転入 that is current (its removal, the same items as the birth, is left out
  // when it came first).
  ProvisionRequest req;
  req.resident_codes = {ResidentCode::FromTenDigits("3000000001").str()};
  req.function = "history";
  req.purpose = "board.school_aid";
  req.provision_kind = "別表第六";
  req.recipient = "agency:test";
  req.items = {"name", "address"};
  auto given = national->registry->ProvideHistory(**reader, req, Actor{"os:test", "host"});
  ASSERT_TRUE(given.ok() && given->has_value()) << given.status().ToString();
  std::string listed;
  for (const auto& v : **given) listed += v.reason + (v.current ? "(current) " : " ");
  EXPECT_EQ(listed, tokyo_first ? "moved_out moved_in(current) birth "
                                : "moved_in(current) birth ");
  auto back = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("2000000001").str());
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((*back)->municipality_code, kFujiyoshida);
  EXPECT_EQ((*back)->status, store::ResidentStatus::kActive);
  auto early = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("3000000001").str());
  ASSERT_TRUE(early.ok() && early->has_value());
  EXPECT_EQ((*early)->municipality_code, kShinjuku);
  EXPECT_EQ((*early)->status, store::ResidentStatus::kActive);
}

// The origin amended the record after the day the person moved in elsewhere (a 転居 recorded
// while the 転出届's planned date had not come), the amendment reached the national node first,
// then the 転入, then the 転出. The 転入 is dated after the registration in 甲府市 began, so it
// is the person's registration now: found in review, it was kept as history (dated before the
// amendment) and the 転出 then left the person removed at the national node while 新宿区 holds
// them.
TEST_F(NationalTest, AMoveInDatedBeforeTheOriginsLastAmendmentStillRegistersThePerson) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "4000000001", "40000000001",
        Date::FromYmd(2019, 1, 1));
  Apply(yamanashi, kKofu, ChangeReason::kMovedWithin, "4000000001", "40000000001",
        Date::FromYmd(2026, 4, 18));
  Drain(yamanashi, national, c19);
  Apply(tokyo, kShinjuku, ChangeReason::kMovedIn, "4000000001", "40000000001",
        Date::FromYmd(2026, 4, 15));
  Drain(tokyo, national, c13);
  Apply(yamanashi, kKofu, ChangeReason::kMovedOut, "4000000001", "40000000001",
        Date::FromYmd(2026, 4, 20));
  Drain(yamanashi, national, c19);
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  EXPECT_EQ(Digest(tokyo, 13), Digest(national, 13));
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("4000000001").str());
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kShinjuku);
  EXPECT_EQ((*row)->status, store::ResidentStatus::kActive);
  auto history = (*reader)->History((*row)->person_id);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 4u);  // birth, 転居 and 転出 (19), 転入 (13)
  EXPECT_TRUE(Verified(national).ok);

  // A 転入 dated before the registration in 甲府市 began is an earlier registration arriving
  // late, as before: history, and its own 転出 is still to come.
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "5000000001", "50000000001",
        Date::FromYmd(2019, 1, 1));
  Apply(yamanashi, kKofu, ChangeReason::kMovedOut, "5000000001", "50000000001",
        Date::FromYmd(2020, 5, 1));
  Apply(yamanashi, kFujiyoshida, ChangeReason::kMovedIn, "5000000001", "50000000001",
        Date::FromYmd(2020, 5, 2));
  Drain(yamanashi, national, c19);
  Apply(tokyo, kShinjuku, ChangeReason::kMovedIn, "5000000001", "50000000001",
        Date::FromYmd(2020, 4, 1));
  Drain(tokyo, national, c13);
  auto stays = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("5000000001").str());
  ASSERT_TRUE(stays.ok() && stays->has_value());
  EXPECT_EQ((*stays)->municipality_code, kFujiyoshida);
  EXPECT_EQ((*stays)->status, store::ResidentStatus::kActive);
}

// Within one prefecture a 転出 that reaches the prefecture node first removes the resident, and
// the 転入 that follows registers them again whatever its date (the contract's "Moves"): the
// national node, fed in that order, must end the same, not keep the removal because the 転入
// is dated earlier.
TEST_F(NationalTest, AMoveInDatedBeforeTheMoveOutEndsTheSameOnBothNodes) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  Register(national, c19);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001",
        Date::FromYmd(2020, 1, 1));
  Apply(yamanashi, kKofu, ChangeReason::kMovedOut, "1000000001", "10000000001",
        Date::FromYmd(2026, 3, 1));
  Apply(yamanashi, kFujiyoshida, ChangeReason::kMovedIn, "1000000001", "10000000001",
        Date::FromYmd(2026, 2, 25));
  Drain(yamanashi, national, c19);
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("1000000001").str());
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kFujiyoshida);
  EXPECT_EQ((*row)->status, store::ResidentStatus::kActive);
}

INSTANTIATE_TEST_SUITE_P(BothOrders, MoveOrderTest, ::testing::Bool());

// An upstream that applies through the national desk and can lose the request (nothing applied)
// or the answer (applied, the sender never hears): at least once, nothing twice.
class LossyUpstream final : public link::Upstream {
 public:
  LossyUpstream(TestNode* national, Client client)
      : national_(national), client_(std::move(client)) {}
  Result<link::HttpsResponse> PostBatch(const std::string& body) override {
    ++posts;
    const int fate = static_cast<int>(random_.Uniform(4));
    if (down || fate == 0) return Status::Unavailable("connection refused");
    auto json = text::ParseJson(body);
    auto batch = ParseForwardBatch(*json);
    if (!batch.ok()) return batch.status();
    auto r = national_->national->Receive(client_, *batch, "127.0.0.1");
    if (!r.ok()) return r.status();
    if (fate == 1) return Status::Unavailable("connection reset");  // applied, answer lost
    link::HttpsResponse out;
    out.status = r->gap ? 409 : 200;
    out.body = "{\"acknowledged\":" + std::to_string(r->acknowledged) + "}";
    return out;
  }
  bool down = false;
  int posts = 0;

 private:
  TestNode* national_;
  Client client_;
  SeededRandom random_{42};
};

TEST_F(NationalTest, SenderDeliversEverythingOnceThroughLostRequestsAndAnswers) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  for (int i = 1; i <= 40; ++i) {
    char code[11], number[12];
    std::snprintf(code, sizeof code, "30%08d", i);
    std::snprintf(number, sizeof number, "300%08d", i);
    Apply(yamanashi, i % 2 ? kKofu : kFujiyoshida, ChangeReason::kBirth, code, number);
  }
  UpstreamConfig config;
  config.batch_size = 7;
  auto upstream = std::make_unique<LossyUpstream>(national, client);
  LossyUpstream* lossy = upstream.get();
  link::Sender sender(config, yamanashi->outbox.get(), &clock_, std::move(upstream), 7,
                      Actor{"system:link", "upstream"});
  int failures = 0;
  for (int round = 0; round < 500; ++round) {
    auto r = sender.Step();
    if (!r.ok()) ++failures;
    auto backlog = yamanashi->outbox->Backlog();
    if (backlog->pending == 0) break;
  }
  EXPECT_GT(failures, 0);
  EXPECT_EQ(yamanashi->outbox->Backlog()->pending, 0);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 40);
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  EXPECT_EQ(sender.Stats().acknowledged, Count(yamanashi, "SELECT max(outbox_id) FROM outbox"));

  // A restart of the sender resumes from the point kept in the database: nothing is resent.
  // (Once per process it posts an empty batch, whose answer says whether the national node
  // applies support measures' changes; it carries no change.)
  (void)lossy;
  const int64_t received = Count(national, "SELECT count(*) FROM link_received_changes");
  auto fresh = std::make_unique<LossyUpstream>(national, client);
  LossyUpstream* second = fresh.get();
  link::Sender restarted(config, yamanashi->outbox.get(), &clock_, std::move(fresh), 8,
                         Actor{"system:link", "upstream"});
  Result<int64_t> r = Status::Unavailable("not yet");
  for (int round = 0; round < 20 && !r.ok(); ++round) r = restarted.Step();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 40);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM link_received_changes"), received);
  const int posts = second->posts;
  EXPECT_GE(posts, 1);
  r = restarted.Step();  // nothing waiting, and it asked already: no post
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(second->posts, posts);
}

TEST_F(NationalTest, HaltStopsForwardingAndResumeDrains) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  ASSERT_TRUE(yamanashi->registry->Halt("drill", Actor{"os:chief", "host"}).ok());
  UpstreamConfig config;
  auto upstream = std::make_unique<LossyUpstream>(national, client);
  LossyUpstream* lossy = upstream.get();
  link::Sender sender(config, yamanashi->outbox.get(), &clock_, std::move(upstream), 1,
                      Actor{"system:link", "upstream"});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sender.Step().ok());
  EXPECT_EQ(lossy->posts, 0);
  EXPECT_TRUE(sender.Stats().halted);
  ASSERT_TRUE(yamanashi->registry->Resume(Actor{"os:chief", "host"}).ok());
  for (int i = 0; i < 50 && yamanashi->outbox->Backlog()->pending > 0; ++i) (void)sender.Step();
  EXPECT_EQ(yamanashi->outbox->Backlog()->pending, 0);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 1);
}

TEST_F(NationalTest, ReadinessFailsOnlyAfterTheThresholdAndRetriesBackOff) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  UpstreamConfig config;
  config.ready_threshold_seconds = 60;
  config.retry_min_ms = 100;
  config.retry_max_ms = 1000;
  auto upstream = std::make_unique<LossyUpstream>(national, client);
  upstream->down = true;
  LossyUpstream* lossy = upstream.get();
  link::Sender sender(config, yamanashi->outbox.get(), &clock_, std::move(upstream), 3,
                      Actor{"system:link", "upstream"});
  EXPECT_FALSE(sender.Step().ok());
  EXPECT_TRUE(sender.Ready().ok());  // down, but not yet for long
  clock_.Advance(int64_t{61} * 1000000);
  EXPECT_FALSE(sender.Step().ok());
  EXPECT_EQ(sender.Ready().reason(), "link_down");
  std::string metrics = sender.RenderMetrics();
  EXPECT_NE(metrics.find("kakunin_link_backlog 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("kakunin_link_up 0\n"), std::string::npos);
  EXPECT_NE(metrics.find("kakunin_link_oldest_pending_seconds 61."), std::string::npos);
  // Delays double from the minimum to the maximum, each within its upper half.
  for (int64_t failures = 1; failures <= 10; ++failures) {
    const int64_t bound = std::min<int64_t>(int64_t{100000} << (failures - 1), 1000000);
    for (int i = 0; i < 20; ++i) {
      const int64_t d = sender.RetryDelayMicros(failures);
      EXPECT_GE(d, bound / 2);
      EXPECT_LE(d, bound);
    }
  }
  lossy->down = false;
  for (int i = 0; i < 50 && yamanashi->outbox->Backlog()->pending > 0; ++i) (void)sender.Step();
  EXPECT_TRUE(sender.Ready().ok());
  EXPECT_NE(sender.RenderMetrics().find("kakunin_link_up 1\n"), std::string::npos);
}

TEST_F(NationalTest, WireParserIsStrict) {
  auto parse = [](const std::string& s) -> Status {
    auto j = text::ParseJson(s);
    if (!j.ok()) return j.status();
    return ParseForwardBatch(*j).status();
  };
  EXPECT_TRUE(parse("{\"prefecture\":19,\"after\":0,\"changes\":[]}").ok());
  EXPECT_FALSE(parse("{\"prefecture\":48,\"after\":0,\"changes\":[]}").ok());
  EXPECT_FALSE(parse("{\"prefecture\":19,\"after\":-1,\"changes\":[]}").ok());
  EXPECT_FALSE(parse("{\"prefecture\":19,\"after\":0,\"changes\":[],\"x\":1}").ok());
  EXPECT_FALSE(parse("{\"prefecture\":19,\"prefecture\":19,\"after\":0,\"changes\":[]}").ok());
  EXPECT_FALSE(parse("{\"prefecture\":19,\"after\":0}").ok());
  // A message names the member, never the value.
  TestNode* yamanashi = MakeNode("p19", 19);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  auto b = yamanashi->outbox->Next(0, 1);
  std::string good = EncodeForwardBatch(*b);
  EXPECT_TRUE(parse(good).ok());
  std::string bad = good;
  bad.replace(bad.find(b->changes[0].individual_number), 12, "12345678901X");
  Status st = parse(bad);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("12345678901X"), std::string::npos);
  // Sequences must increase past `after`.
  ForwardBatch twice = *b;
  twice.changes.push_back(b->changes[0]);
  EXPECT_FALSE(parse(EncodeForwardBatch(twice)).ok());
  ForwardBatch behind = *b;
  behind.after = b->changes[0].sequence;
  EXPECT_FALSE(parse(EncodeForwardBatch(behind)).ok());
}

// Issue 11 part 4: the national node's link.apply entries commit the versions they write
// (current and history-only alike), so its records verify against its log and a change made
// in its database is named by version id.
TEST_F(NationalTest, TheNationalNodesRecordsVerifyAgainstItsLogAndAnEditIsNamed) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  // The 転入 at 富士吉田 before 甲府's 転出: history-only versions on both nodes.
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001",
        Date::FromYmd(2020, 1, 1));
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000002", "10000000002",
        Date::FromYmd(2020, 1, 1));
  Apply(yamanashi, kFujiyoshida, ChangeReason::kMovedIn, "1000000001", "10000000001",
        Date::FromYmd(2026, 4, 1));
  Apply(yamanashi, kKofu, ChangeReason::kMovedOut, "1000000001", "10000000001",
        Date::FromYmd(2026, 3, 31));
  Drain(yamanashi, national, client, 1);
  auto verify = [](TestNode* node) {
    EXPECT_TRUE(node->registry->Checkpoint().ok());
    AuditDesk desk(node->store.get(), node->log.get(), node->cipher.get());
    auto r = desk.Verify();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : audit::VerifyReport{};
  };
  for (TestNode* node : {yamanashi, national}) {
    audit::VerifyReport r = verify(node);
    EXPECT_TRUE(r.ok) << r.problem;
    EXPECT_EQ(r.versions, 4);
    EXPECT_EQ(r.residents, 2);
    EXPECT_EQ(r.unattested_versions, 0);
  }
  const int64_t history = Count(national, "SELECT max(version_id) FROM versions");
  const int64_t current = Count(national, "SELECT version_id FROM residents WHERE person_id = 1");
  auto tamper = [&](const std::string& sql) {
    if (OnPostgres()) {
      ASSERT_TRUE(
          kakunin::testing::PgServer::Shared()->Psql(sql, "postgres", national->pg_schema).ok());
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((national->dir / "registry.db").c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  };
  tamper("UPDATE versions SET address = address || '2' WHERE version_id = " +
         std::to_string(history));
  audit::VerifyReport r = verify(national);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("version " + std::to_string(history) + " does not match what entry"),
            std::string::npos)
      << r.problem;
  tamper("UPDATE residents SET birth_date = '1901-01-01' WHERE person_id = 1");
  r = verify(national);
  EXPECT_EQ(r.problem_count, 2);
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_EQ(r.problems[1].rfind("resident row 1 differs from its current version " +
                                     std::to_string(current) + " (entry ",
                                 0),
            0u)
      << r.problems[1];
  EXPECT_TRUE(r.problems[1].ends_with("): birth_date")) << r.problems[1];
}

}  // namespace
}  // namespace kakunin::registry

namespace kakunin::registry {
namespace {

// An upstream whose body limit admits at most `max` changes: 413 above it.
class SmallLimitUpstream final : public link::Upstream {
 public:
  explicit SmallLimitUpstream(size_t max) : max_(max) {}
  Result<link::HttpsResponse> PostBatch(const std::string& body) override {
    auto batch = ParseForwardBatch(*text::ParseJson(body));
    link::HttpsResponse out;
    if (batch->changes.size() > max_) {
      out.status = 413;
      out.body = "{}";
      return out;
    }
    acked_ = batch->changes.back().sequence;
    out.status = 200;
    out.body = "{\"acknowledged\":" + std::to_string(acked_) + "}";
    return out;
  }

 private:
  size_t max_;
  int64_t acked_ = 0;
};

TEST_F(NationalTest, ABatchOverTheBodyLimitIsHalvedUntilItPasses) {
  TestNode* yamanashi = MakeNode("p19", 19);
  for (int i = 1; i <= 9; ++i) {
    Apply(yamanashi, kKofu, ChangeReason::kBirth, "100000000" + std::to_string(i),
          "1000000000" + std::to_string(i));
  }
  UpstreamConfig config;
  config.batch_size = 8;
  link::Sender sender(config, yamanashi->outbox.get(), &clock_,
                      std::make_unique<SmallLimitUpstream>(3), 1, Actor{"system:link", "up"});
  for (int i = 0; i < 20 && yamanashi->outbox->Backlog()->pending > 0; ++i) (void)sender.Step();
  EXPECT_EQ(yamanashi->outbox->Backlog()->pending, 0);
}

}  // namespace
}  // namespace kakunin::registry

namespace kakunin::registry {
namespace {

// Within one prefecture the prefecture node already ordered a move whose 転入 came first (the
// late 転出 is history there): the national node ends in the same state.
TEST_F(NationalTest, MoveInsideAPrefectureWithTheMoveInFirstAgrees) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001",
        Date::FromYmd(2020, 1, 1));
  Apply(yamanashi, kFujiyoshida, ChangeReason::kMovedIn, "1000000001", "10000000001",
        Date::FromYmd(2026, 4, 1));
  Apply(yamanashi, kKofu, ChangeReason::kMovedOut, "1000000001", "10000000001",
        Date::FromYmd(2026, 3, 31));
  Drain(yamanashi, national, client, 1);
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("1000000001").str());
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kFujiyoshida);
  EXPECT_EQ((*row)->status, store::ResidentStatus::kActive);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 3);
}

}  // namespace
}  // namespace kakunin::registry

namespace kakunin::registry {
namespace {

// Review, finding 1: 19 changes a resident's code X → Y and the resident moves to 13, whose
// 転入 under Y reaches the national node first. The change to Y then met Y held by another
// row, every attempt failed on the unique code (the link of 19 stopped for good). Now the two
// rows are found to be one person and merged: both nodes agree, every version is kept, the
// conflict is recorded and alerted, and the records still verify against the log.
TEST_F(NationalTest, ACodeChangeOvertakenByAMoveInUnderTheNewCodeDoesNotStopTheLink) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  std::vector<audit::LiveAlert> alerts;
  national->national->UseAlerts([&](const audit::LiveAlert& a) { alerts.push_back(a); });
  const std::string x = ResidentCode::FromTenDigits("1000000001").str();
  const std::string y = ResidentCode::FromTenDigits("1000000099").str();
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001",
        Date::FromYmd(2020, 1, 1));
  Drain(yamanashi, national, c19);
  Notification change = testing::RegistryFixture::Make(kKofu, 0, ChangeReason::kResidentCodeChanged,
                                                       "1000000001", "10000000001");
  change.new_resident_code = ResidentCode::FromTenDigits("1000000099");
  change.change_date = Date::FromYmd(2026, 3, 1);
  ApplyMade(yamanashi, change);
  Apply(yamanashi, kKofu, ChangeReason::kMovedOut, "1000000099", "10000000001",
        Date::FromYmd(2026, 3, 31));
  Apply(tokyo, kShinjuku, ChangeReason::kMovedIn, "1000000099", "10000000001",
        Date::FromYmd(2026, 4, 1));
  Drain(tokyo, national, c13);
  Drain(yamanashi, national, c19);  // failed with already_exists before
  EXPECT_EQ(yamanashi->outbox->Backlog()->pending, 0);
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  EXPECT_EQ(Digest(tokyo, 13), Digest(national, 13));
  EXPECT_EQ(Count(national, "SELECT count(*) FROM residents"), 1);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 4);
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(y);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kShinjuku);
  EXPECT_EQ((*row)->status, store::ResidentStatus::kActive);
  auto by_old = (*reader)->FindByResidentCode(x);  // the old code leads to the person
  ASSERT_TRUE(by_old.ok() && by_old->has_value());
  EXPECT_EQ((*by_old)->person_id, (*row)->person_id);
  // Recorded (no code in clear) and alerted.
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:merged"), 1);
  EXPECT_EQ(EntriesHolding(national, "link.apply", y), 0);
  // The entry under the new code, while the old row held its number, was kept and alerted
  // too (conflict:number_held): until the change arrives, two rows hold one number.
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:number_held"), 1);
  ASSERT_EQ(alerts.size(), 2u);
  for (const auto& a : alerts) {
    EXPECT_EQ(a.rule, "link_conflict");
    EXPECT_EQ(a.count, 1);
  }
  audit::VerifyReport verified = Verified(national);
  EXPECT_TRUE(verified.ok) << verified.problem;
  EXPECT_EQ(verified.versions, 4);
  EXPECT_EQ(verified.residents, 1);
  // The person's access statement on the national node has both codes' parts, and the merge
  // counts as the code change that joins them: a statement without the old code's part is
  // refused (review finding).
  ASSERT_TRUE(national->registry->Checkpoint().ok());
  AuditDesk desk(national->store.get(), national->log.get(), national->cipher.get());
  auto json = desk.Statement(y, std::nullopt);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  auto statement = audit::StatementFromJson(*json);
  ASSERT_TRUE(statement.ok());
  ASSERT_EQ(statement->parts.size(), 2u);
  auto checked = audit::CheckStatement(*statement, national->signer->public_key(), std::nullopt);
  EXPECT_TRUE(checked.ok) << checked.problem;
  for (size_t drop = 0; drop < 2; ++drop) {
    audit::Statement partial = *statement;
    partial.parts.erase(partial.parts.begin() + static_cast<ptrdiff_t>(drop));
    EXPECT_FALSE(
        audit::CheckStatement(partial, national->signer->public_key(), std::nullopt).ok)
        << "without part " << drop;
  }
}

// Found in review: another prefecture's node (its certificate, or a CS there in error) sent a
// birth carrying a 山梨県 resident's 個人番号 with another birth date, and later amended one of
// its own residents to that number. Each prefecture checks number_in_use among its own
// residents only; the national node sees both, so it sets such a change aside (recorded,
// alerted) and a search by the number keeps finding the one person who holds it.
TEST_F(NationalTest, AnotherPrefectureCannotGiveAResidentsNumberToSomeoneElse) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  std::vector<audit::LiveAlert> alerts;
  national->national->UseAlerts([&](const audit::LiveAlert& a) { alerts.push_back(a); });
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000003", "10000000003");
  Drain(yamanashi, national, c19);
  auto born_elsewhere = [&](const std::string& code10, const std::string& number11) {
    Notification n =
        testing::RegistryFixture::Make(kShinjuku, 0, ChangeReason::kBirth, code10, number11);
    n.birth_date = Date::FromYmd(1999, 9, 9);
    n.change_date = Date::FromYmd(2026, 4, 1);
    return n;
  };
  ApplyMade(tokyo, born_elsewhere("2000000001", "10000000001"));  // the 山梨県 resident's number
  ApplyMade(tokyo, born_elsewhere("2000000002", "20000000002"));
  Notification renumbered =
      testing::RegistryFixture::Make(kShinjuku, 0, ChangeReason::kIndividualNumberChanged,
                                     "2000000002", "10000000003");
  renumbered.birth_date = Date::FromYmd(1999, 9, 9);
  renumbered.change_date = Date::FromYmd(2026, 5, 1);
  ApplyMade(tokyo, renumbered);
  Drain(tokyo, national, c13);
  EXPECT_EQ(tokyo->outbox->Backlog()->pending, 0);  // set aside, never a stop of the link
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:number_in_use"), 2);
  EXPECT_GE(alerts.size(), 1u);
  auto reader = national->store->OpenReader();
  ASSERT_TRUE(reader.ok());
  auto holders = (*reader)->FindByNumberMac(
      detail::NumberMac(*national->cipher,
                        IndividualNumber::FromElevenDigits("10000000001").str()),
      /*include_removed=*/true);
  ASSERT_TRUE(holders.ok());
  ASSERT_EQ(holders->size(), 1u);
  EXPECT_EQ((*holders)[0].municipality_code, kKofu);
  // The other 東京都 resident keeps the number they had here.
  auto second = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("2000000002").str());
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_TRUE(ConstantTimeEquals(
      (*second)->number_mac,
      detail::NumberMac(*national->cipher,
                        IndividualNumber::FromElevenDigits("20000000002").str())));
  audit::VerifyReport verified = Verified(national);
  EXPECT_TRUE(verified.ok) << verified.problem;
}

// The same attack, reviewed again: a row planted as the resident by birth date and sex is kept
// (it cannot be told from a code change overtaken by an entry) but alerted; it can then be
// amended to no other birth date or sex, and never be merged into the resident's older row; a
// removal under an unknown code carrying the resident's number as someone else is set aside
// too, so the entry that would revive it finds nothing.
TEST_F(NationalTest, ARowPlantedUnderAResidentsNumberIsAlertedAndGoesNoFurther) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  std::vector<audit::LiveAlert> alerts;
  national->national->UseAlerts([&](const audit::LiveAlert& a) { alerts.push_back(a); });
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Drain(yamanashi, national, c19);
  const std::string victim = ResidentCode::FromTenDigits("1000000001").str();
  // (a) Planted with the resident's birth date and sex: kept, alerted.
  Apply(tokyo, kShinjuku, ChangeReason::kBirth, "2000000005", "10000000001");
  Drain(tokyo, national, c13);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:number_held"), 1);
  EXPECT_EQ(alerts.size(), 1u);
  // (b) Then amended to another birth date: set aside.
  Notification other = testing::RegistryFixture::Make(
      kShinjuku, 0, ChangeReason::kOtherAmendment, "2000000005", "10000000001");
  other.birth_date = Date::FromYmd(1990, 2, 2);
  other.change_date = Date::FromYmd(2026, 5, 1);
  ApplyMade(tokyo, other);
  Drain(tokyo, national, c13);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:number_in_use"), 1);
  // (d) Then "changed" to the resident's code: not merged into the resident's older row.
  Notification merge = testing::RegistryFixture::Make(
      kShinjuku, 0, ChangeReason::kResidentCodeChanged, "2000000005", "10000000001");
  merge.birth_date = Date::FromYmd(1990, 2, 2);
  merge.new_resident_code = ResidentCode::FromTenDigits("1000000001");
  merge.change_date = Date::FromYmd(2026, 5, 2);
  ApplyMade(tokyo, merge);
  Drain(tokyo, national, c13);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:merged"), 0);
  auto reader = national->store->OpenReader();
  ASSERT_TRUE(reader.ok());
  auto row = (*reader)->FindByResidentCode(victim);
  ASSERT_TRUE(row.ok() && row->has_value());
  auto history = (*reader)->History((*row)->person_id);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 1u) << "the resident's history holds only their own version";
  EXPECT_EQ((*row)->municipality_code, kKofu);
  // (c) A removal under a code nobody holds, with the resident's number as someone else, then
  // the entry that would make it current.
  auto next = tokyo->outbox->Next(0, 1);
  ASSERT_TRUE(next.ok() && next->changes.size() == 1u);
  ForwardBatch forged = *next;
  auto received = national->national->Received();
  ASSERT_TRUE(received.ok());
  int64_t last = 0;
  for (auto [p, seq] : *received) {
    if (p == 13) last = seq;
  }
  forged.after = last;
  ForwardedChange gone = forged.changes[0];
  gone.sequence = last + 1;
  gone.municipal_sequence = 90;
  gone.kind = "removal";
  gone.reason = "moved_out";
  gone.resident_code = ResidentCode::FromTenDigits("2000000077").str();
  gone.new_resident_code.reset();
  gone.individual_number = IndividualNumber::FromElevenDigits("10000000001").str();
  gone.birth_date = "1990-02-02";
  ForwardedChange back = gone;
  back.sequence = last + 2;
  back.municipal_sequence = 91;
  back.kind = "entry";
  back.reason = "moved_in";
  forged.changes = {gone, back};
  auto r = Post(national, c13, forged);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto holders = (*reader)->FindByNumberMac(
      detail::NumberMac(*national->cipher,
                        IndividualNumber::FromElevenDigits("10000000001").str()),
      /*include_removed=*/true);
  ASSERT_TRUE(holders.ok());
  for (const auto& h : *holders) {
    EXPECT_EQ(h.birth_date, (*row)->birth_date) << "a row under the number as someone else";
  }
  audit::VerifyReport verified = Verified(national);
  EXPECT_TRUE(verified.ok) << verified.problem;
}

// Review, finding 2: two prefectures gave one resident code to two different people. Only the
// national node sees both; the second must not replace the first, nor stop the link.
// A forged code change: 山梨県's certificate names a 東京都 resident's code as the old code and
// one of its own residents' as the new, with that resident's identity. The rows must not be
// merged (the 東京都 resident would be deleted into 山梨県's): the sender does not speak for
// the old row, so the change is set aside (review finding).
TEST_F(NationalTest, AForgedCodeChangeCannotMergeAnotherPrefecturesResident) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  Apply(tokyo, kShinjuku, ChangeReason::kBirth, "2000000001", "20000000001");
  Drain(tokyo, national, c13);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Drain(yamanashi, national, c19);
  const std::string theirs = ResidentCode::FromTenDigits("2000000001").str();
  const std::string mine = ResidentCode::FromTenDigits("1000000001").str();
  const std::string digest13 = Digest(national, 13);
  auto next = yamanashi->outbox->Next(0, 1);
  ASSERT_TRUE(next.ok());
  ForwardBatch forged = *next;
  ASSERT_EQ(forged.changes.size(), 1u);
  forged.after = 1;
  ForwardedChange& c = forged.changes[0];
  c.sequence = 2;
  c.municipal_sequence = 99;
  c.kind = "amendment";
  c.reason = "resident_code_changed";
  c.resident_code = theirs;
  c.new_resident_code = mine;
  auto r = Post(national, c19, forged);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->conflicts, 1);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM residents"), 2);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 2);
  EXPECT_EQ(Digest(national, 13), digest13);
  EXPECT_EQ(Digest(tokyo, 13), Digest(national, 13));
  auto reader = national->store->OpenReader();
  auto victim = (*reader)->FindByResidentCode(theirs);
  ASSERT_TRUE(victim.ok() && victim->has_value());
  EXPECT_EQ((*victim)->municipality_code, kShinjuku);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:wrong_municipality"), 1);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:merged"), 0);
  audit::VerifyReport verified = Verified(national);
  EXPECT_TRUE(verified.ok) << verified.problem;
}

// Two prefectures gave one code to two people, and 山梨県's resident changes to that code: the
// change is set aside, not stored as anyone's history, so neither person's record (or access
// statement) carries the other's data or entries (review finding).
TEST_F(NationalTest, ACodeChangeToAnotherPersonsCodeIsStoredNowhere) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  Apply(tokyo, kShinjuku, ChangeReason::kBirth, "1000000099", "20000000001");
  Drain(tokyo, national, c13);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Notification change = testing::RegistryFixture::Make(kKofu, 0, ChangeReason::kResidentCodeChanged,
                                                       "1000000001", "10000000001");
  change.new_resident_code = ResidentCode::FromTenDigits("1000000099");
  ApplyMade(yamanashi, change);
  Drain(yamanashi, national, c19);
  EXPECT_EQ(yamanashi->outbox->Backlog()->pending, 0);  // the link goes on
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 2);  // the two births only
  EXPECT_EQ(Count(national, "SELECT count(*) FROM code_changes"), 0);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:code_in_use"), 1);
  EXPECT_EQ(Digest(tokyo, 13), Digest(national, 13));
  // The set-aside entry wrote nothing: it does not make the node's records "written before
  // the log recorded state", so a row inserted behind the registry's back is still named (a
  // prefecture sending one conflicting change must not switch the record check off).
  ExpectAnInsertedVersionNamed(national);
}

TEST_F(NationalTest, AnotherPrefecturesBirthUnderAHeldCodeDoesNotReplaceItsHolder) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  std::vector<audit::LiveAlert> alerts;
  national->national->UseAlerts([&](const audit::LiveAlert& a) { alerts.push_back(a); });
  Notification first =
      testing::RegistryFixture::Make(kKofu, 0, ChangeReason::kBirth, "1000000001", "10000000001");
  first.birth_date = Date::FromYmd(2020, 1, 1);
  first.change_date = Date::FromYmd(2020, 1, 1);
  ApplyMade(yamanashi, first);
  Notification second = testing::RegistryFixture::Make(kShinjuku, 0, ChangeReason::kBirth,
                                                       "1000000001", "20000000002");
  second.sex = Sex::kFemale;
  second.birth_date = Date::FromYmd(2026, 3, 1);
  second.change_date = Date::FromYmd(2026, 3, 1);
  ApplyMade(tokyo, second);
  Notification gone = second;  // and 13's person moves away
  gone.kind = NotificationKind::kRemoval;
  gone.reason = ChangeReason::kMovedOut;
  gone.change_date = Date::FromYmd(2026, 4, 1);
  ApplyMade(tokyo, gone);
  Drain(yamanashi, national, c19);
  Drain(tokyo, national, c13);
  EXPECT_EQ(tokyo->outbox->Backlog()->pending, 0);
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(ResidentCode::FromTenDigits("1000000001").str());
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kKofu);
  EXPECT_EQ((*row)->sex, "male");
  EXPECT_EQ((*row)->status, store::ResidentStatus::kActive);
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  // 13's birth of another person is set aside (as the holder's history it would be read and
  // provided as theirs: review finding), and so is its removal of a resident it never
  // registered; each is a recorded conflict.
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 1);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:identity_mismatch"), 1);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:wrong_municipality"), 1);
  int64_t alerted = 0;
  for (const auto& a : alerts) alerted += a.count;
  EXPECT_EQ(alerted, 2);
  audit::VerifyReport verified = Verified(national);
  EXPECT_TRUE(verified.ok) << verified.problem;
}

// Review, finding 4: a prefecture's certificate may send changes of its own municipalities
// only, but those changes named residents of any prefecture: 山梨県's node could add versions
// to a 東京都 resident, or rename one through a change carrying a new code.
TEST_F(NationalTest, APrefectureCannotWriteIntoAnotherPrefecturesResident) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  Apply(tokyo, kShinjuku, ChangeReason::kBirth, "2000000001", "20000000001");
  Drain(tokyo, national, c13);
  const std::string theirs = ResidentCode::FromTenDigits("2000000001").str();
  const std::string digest = Digest(national, 13);
  // 山梨県's own change, retargeted at 東京都's resident with the resident's identity.
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "20000000001");
  auto own = yamanashi->outbox->Next(0, 1);
  ASSERT_TRUE(own.ok() && own->changes.size() == 1u);
  ForwardBatch forged = *own;
  ForwardedChange& c = forged.changes[0];
  c.resident_code = theirs;
  c.kind = "removal";
  c.reason = "death";
  auto r = Post(national, c19, forged);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->applied, 1);  // its number is used up: the link goes on
  EXPECT_EQ(r->conflicts, 1);
  c.sequence += 1;
  c.kind = "amendment";
  c.reason = "name_changed";
  r = Post(national, c19, forged);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Digest(national, 13), digest);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 1);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:wrong_municipality"), 2);
  // A new code rides only on a resident-code change: the wire refuses anything else.
  c.sequence += 1;
  c.kind = "entry";
  c.reason = "moved_in";
  c.new_resident_code = ResidentCode::FromTenDigits("2000000099").str();
  auto parsed = ParseForwardBatch(*text::ParseJson(EncodeForwardBatch(forged)));
  EXPECT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message().find(theirs), std::string::npos);
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(theirs);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kShinjuku);
  EXPECT_EQ((*row)->status, store::ResidentStatus::kActive);
}

// Review: an entry from another prefecture, with the resident's identity and dated 2099, became
// current over the resident's own registration (the rule lets a later entry supersede) and
// stayed so against every real change after it. The contract refuses a future date on every
// prefecture node; here such a change is set aside, a recorded conflict.
TEST_F(NationalTest, AFutureDatedEntryFromAnotherPrefectureTakesNothingOver) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  Apply(tokyo, kShinjuku, ChangeReason::kBirth, "2000000001", "20000000001");
  Drain(tokyo, national, c13);
  const std::string theirs = ResidentCode::FromTenDigits("2000000001").str();
  const std::string digest = Digest(national, 13);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "20000000001");
  auto own = yamanashi->outbox->Next(0, 1);
  ASSERT_TRUE(own.ok() && own->changes.size() == 1u);
  ForwardBatch forged = *own;
  ForwardedChange& c = forged.changes[0];
  c.resident_code = theirs;
  c.kind = "entry";
  c.reason = "moved_in";
  c.change_date = "2099-12-31";
  auto r = Post(national, c19, forged);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->applied, 1);  // its number is used up: the link goes on
  EXPECT_EQ(r->conflicts, 1);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:future_date"), 1);
  EXPECT_EQ(Digest(national, 13), digest);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM versions"), 1);
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(theirs);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kShinjuku);
  // Tomorrow still passes (a sending node's clock a little ahead).
  c.sequence += 1;
  c.resident_code = ResidentCode::FromTenDigits("1000000002").str();
  c.kind = "entry";
  c.reason = "birth";
  c.change_date = "2026-06-02";  // the test clock stands at 2026-06-01
  c.individual_number = IndividualNumber::FromElevenDigits("10000000002").str();  // its own
  r = Post(national, c19, forged);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->conflicts, 0);
  audit::VerifyReport verified = Verified(national);
  EXPECT_TRUE(verified.ok) << verified.problem;
}

// Review: a prefecture "changed" a code the national node had never held to one of its own; the
// change was recorded as a chain, so the rightful municipality's birth under the old code was set
// aside as another person's and lookups of it led to the invented person.
TEST_F(NationalTest, ACodeChangeFromACodeNeverHeldClaimsNothing) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  Apply(tokyo, kShinjuku, ChangeReason::kBirth, "2000000001", "20000000001");
  auto own = tokyo->outbox->Next(0, 1);
  ASSERT_TRUE(own.ok() && own->changes.size() == 1u);
  ForwardBatch forged = *own;
  ForwardedChange& c = forged.changes[0];
  const std::string claimed = ResidentCode::FromTenDigits("1000000001").str();
  c.kind = "amendment";
  c.reason = "resident_code_changed";
  c.resident_code = claimed;
  c.new_resident_code = ResidentCode::FromTenDigits("2000000009").str();
  auto r = Post(national, c13, forged);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // 甲府市's birth under the code is the person of that code, not a conflict.
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Drain(yamanashi, national, c19);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:identity_mismatch"), 0);
  auto reader = national->store->OpenReader();
  auto row = (*reader)->FindByResidentCode(claimed);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->municipality_code, kKofu);
  EXPECT_EQ(Digest(yamanashi, 19), Digest(national, 19));
  audit::VerifyReport verified = Verified(national);
  EXPECT_TRUE(verified.ok) << verified.problem;
}

TEST_F(NationalTest, WireParserChecksKindsCodesAndCheckDigits) {
  TestNode* yamanashi = MakeNode("p19", 19);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Notification change = testing::RegistryFixture::Make(kKofu, 0, ChangeReason::kResidentCodeChanged,
                                                       "1000000001", "10000000001");
  change.new_resident_code = ResidentCode::FromTenDigits("1000000002");
  ApplyMade(yamanashi, change);
  auto b = yamanashi->outbox->Next(0, 10);
  ASSERT_TRUE(b.ok() && b->changes.size() == 2u);
  auto parses = [](ForwardBatch batch) {
    auto j = text::ParseJson(EncodeForwardBatch(batch));
    return j.ok() && ParseForwardBatch(*j).ok();
  };
  ASSERT_TRUE(parses(*b));
  auto with = [&](int i, auto change) {
    ForwardBatch copy = *b;
    change(copy.changes[i]);
    return parses(copy);
  };
  auto bump_last = [](std::string& s) { s.back() = s.back() == '9' ? '0' : s.back() + 1; };
  // A reason of another kind.
  EXPECT_FALSE(with(0, [](ForwardedChange& c) { c.reason = "death"; }));
  EXPECT_FALSE(with(1, [](ForwardedChange& c) { c.kind = "entry"; }));
  // A new code only with a resident-code change, and always with one.
  const std::string valid_code = ResidentCode::FromTenDigits("1000000003").str();
  EXPECT_FALSE(with(0, [&](ForwardedChange& c) { c.new_resident_code = valid_code; }));
  EXPECT_FALSE(with(1, [](ForwardedChange& c) { c.new_resident_code.reset(); }));
  EXPECT_FALSE(with(1, [](ForwardedChange& c) { c.new_resident_code = c.resident_code; }));
  // Check digits.
  EXPECT_FALSE(with(0, [&](ForwardedChange& c) { bump_last(c.municipality_code); }));
  EXPECT_FALSE(with(0, [&](ForwardedChange& c) { bump_last(c.individual_number); }));
  // Of a resident code, the shape: the sending node checked its check digit under its own
  // setting (a prefecture on "format" sends codes the stand-in rule refuses).
  EXPECT_TRUE(with(0, [&](ForwardedChange& c) { bump_last(c.resident_code); }));
  EXPECT_TRUE(with(1, [&](ForwardedChange& c) { bump_last(*c.new_resident_code); }));
  EXPECT_FALSE(with(0, [&](ForwardedChange& c) { c.resident_code.pop_back(); }));
  EXPECT_FALSE(with(0, [&](ForwardedChange& c) { c.resident_code.back() = 'x'; }));
  EXPECT_FALSE(with(1, [&](ForwardedChange& c) { c.new_resident_code->push_back('1'); }));
  // Text as long as the contract allows: an address of 300 four-byte characters (1,200 bytes)
  // and a name of 200.
  std::string long_address = "山梨県甲府市丸の内一丁目";
  while (text::CodePointCount(long_address) < 300) long_address += "𠮷";
  EXPECT_TRUE(with(0, [&](ForwardedChange& c) { c.address = long_address; }));
  std::string long_name;
  while (text::CodePointCount(long_name) < 200) long_name += "𠮷";
  EXPECT_TRUE(with(0, [&](ForwardedChange& c) { c.name = long_name; }));
  EXPECT_FALSE(with(0, [&](ForwardedChange& c) { c.address = std::string(2401, 'a'); }));
}

// Review, finding 3: the national node restored from a backup older than the sender's
// delivered_retention_hours answers a gap that rewinds the sender below rows it has purged.
// The sender then sent the rows after them as if nothing were missing: the purged changes
// never reached the national node and nothing said so.
TEST_F(NationalTest, ANationalNodeBehindThePurgedRowsIsNeverSentTheRowsAfterThem) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  for (const char* code : {"1000000001", "1000000002", "1000000003"}) {
    Apply(yamanashi, kKofu, ChangeReason::kBirth, code, std::string("1") + code);
  }
  Drain(yamanashi, national, client);
  clock_.Advance(int64_t{169} * 3600 * 1000000);  // past delivered_retention_hours
  ASSERT_EQ(*yamanashi->outbox->PurgeDelivered(clock_.NowMicros() - int64_t{168} * 3600000000), 3);
  // "Restored from an older backup": a national node that holds none of them.
  TestNode* restored = MakeNode("national-restored", 0);
  Register(restored, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000004", "11000000004", clock_.TodayJst());
  UpstreamConfig config;
  config.ready_threshold_seconds = 3600;
  link::Sender sender(config, yamanashi->outbox.get(), &clock_,
                      std::make_unique<FaithfulUpstream>(restored, client), 7,
                      Actor{"system:link", "upstream"});
  int failures = 0;
  for (int round = 0; round < 5; ++round) {
    if (!sender.Step().ok()) ++failures;
  }
  // Nothing was sent past the missing changes, and the link says so at once.
  EXPECT_EQ(Count(restored, "SELECT count(*) FROM versions"), 0);
  EXPECT_EQ(yamanashi->outbox->Backlog()->pending, 1);
  EXPECT_GE(failures, 4);
  EXPECT_EQ(sender.Ready().reason(), "link_resync");
  const std::string metrics = sender.RenderMetrics();
  EXPECT_NE(metrics.find("kakunin_link_up 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("kakunin_link_resync_needed 1\n"), std::string::npos) << metrics;
  auto st = sender.Step();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("changes 1..3 can no longer be sent"), std::string::npos)
      << st.status().ToString();
  EXPECT_EQ(EntriesHolding(yamanashi, "link.forward", "rewound:purged"), 1);
  // Even a sender that ignored its point: the batch declares it, the national node refuses.
  auto batch = yamanashi->outbox->Next(0, 10);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->after, 3);
  auto r = Post(restored, client, *batch);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->gap);
  EXPECT_EQ(Count(restored, "SELECT count(*) FROM versions"), 0);

  // The operators' resync: the loss is recorded, the link resumes.
  auto lost = yamanashi->outbox->Resync(Actor{"os:admin", "host"});
  ASSERT_TRUE(lost.ok()) << lost.status().ToString();
  EXPECT_EQ(*lost, 3);
  EXPECT_EQ(EntriesHolding(yamanashi, "link.resync", "lost=1..3"), 1);
  for (int i = 0; i < 5 && yamanashi->outbox->Backlog()->pending > 0; ++i) (void)sender.Step();
  EXPECT_EQ(yamanashi->outbox->Backlog()->pending, 0);
  EXPECT_EQ(Count(restored, "SELECT count(*) FROM versions"), 1);
  EXPECT_TRUE(sender.Ready().ok());
  EXPECT_FALSE(yamanashi->outbox->Resync(Actor{"os:admin", "host"}).ok());  // nothing missing
}

// Review, finding 5: the national node's gap answer (and, below, an unreadable batch) left
// nothing in its operation log.
TEST_F(NationalTest, AGapIsARecordedRefusal) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000002", "10000000002");
  auto first = yamanashi->outbox->Next(0, 1);
  auto second = yamanashi->outbox->Next(first->changes.back().sequence, 1);
  const int64_t entries = Count(national, "SELECT count(*) FROM audit_entries");
  auto r = Post(national, client, *second);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->gap);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM audit_entries"), entries + 1);
  EXPECT_EQ(EntriesHolding(national, "link.receive", "refused:sequence_gap"), 1);
  EXPECT_EQ(LinkEntriesHolding(national, second->changes[0].resident_code), 0);
}

}  // namespace
}  // namespace kakunin::registry

namespace kakunin::registry {
namespace {

// Review, finding 5: the route's 400s for a registered prefecture node's unreadable batch
// (not JSON, not a batch, too many changes) left nothing in the operation log.
TEST_F(NationalTest, TheLinkRouteRecordsUnreadableBatches) {
  TestNode* national = MakeNode("national", 0);
  const Client client = PrefectureClient(19);
  Register(national, client);
  Gateway gateway(national->registry.get(), &catalogue(), &clock_, 0);
  auto post = [&](std::string body) {
    http::Request req;
    req.method = "POST";
    req.target = req.path = "/v1/link/changes";
    req.headers.emplace_back("content-type", "application/json");
    req.body = std::move(body);
    req.remote_address = "127.0.0.1";
    req.request_id = "t";
    return api::ServeLinkChanges(req, gateway, national->national.get(), client);
  };
  std::string many = "{\"prefecture\":19,\"after\":0,\"changes\":[";
  for (size_t i = 0; i <= kMaxForwardedPerBatch; ++i) many += i == 0 ? "{}" : ",{}";
  many += "]}";
  const struct {
    std::string body;
    const char* outcome;
  } cases[] = {
      {"{\"prefecture\":19,", "refused:malformed_request"},
      {"{\"prefecture\":19,\"after\":0,\"changes\":[{\"sequence\":1}]}", "refused:invalid_request"},
      {many, "refused:too_many_changes"},
  };
  for (const auto& c : cases) {
    const int64_t entries = Count(national, "SELECT count(*) FROM audit_entries");
    http::Response r = post(c.body);
    EXPECT_EQ(r.status, 400) << c.outcome;
    EXPECT_EQ(Count(national, "SELECT count(*) FROM audit_entries"), entries + 1) << c.outcome;
    EXPECT_EQ(EntriesHolding(national, "link.receive", c.outcome), 1) << c.outcome;
  }
  // A gap is answered 409 and recorded too.
  const int64_t entries = Count(national, "SELECT count(*) FROM audit_entries");
  http::Response r = post("{\"prefecture\":19,\"after\":5,\"changes\":[]}");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Count(national, "SELECT count(*) FROM audit_entries"), entries + 1);
}

// Review: the national node takes changes only from prefecture nodes, over the link. A
// municipal CS could be registered on it (the prefecture check applied only on a prefecture
// node) and then post notifications straight into the national records, past its prefecture.
TEST_F(NationalTest, AMunicipalCsNeitherRegistersWithNorNotifiesTheNationalNode) {
  TestNode* national = MakeNode("national", 0);
  Gateway gateway(national->registry.get(), &catalogue(), &clock_, 0);
  Client cs;
  cs.spki_sha256 = std::string(64, 'c');
  cs.kind = ClientKind::kMunicipalCs;
  cs.name = "甲府市CS";
  cs.municipality_code = kKofu;
  Status registered = gateway.Register(cs, Actor{"os:test", "host"});
  EXPECT_EQ(registered.code(), StatusCode::kInvalidArgument) << registered.ToString();
  EXPECT_EQ(Count(national, "SELECT count(*) FROM clients"), 0);

  // A register entry from before this rule (or written around it) still sends nothing.
  const int64_t entries = Count(national, "SELECT count(*) FROM audit_entries");
  auto item = text::ParseJson(
      "{\"municipality_code\":\"" + std::string(kKofu) +
      "\",\"sequence\":1,\"change\":\"entry\",\"reason\":\"birth\"}");
  ASSERT_TRUE(item.ok());
  auto r = gateway.Notify(cs, {&*item}, "t");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().reason(), "not_permitted");
  EXPECT_EQ(Count(national, "SELECT count(*) FROM residents"), 0);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM audit_entries"), entries + 1);
  EXPECT_EQ(EntriesHolding(national, "notification.refused", "refused:not_permitted"), 1);
}

// 支援措置 over the link (docs/support-measures.md): a measure set or ended by the holding
// municipality reaches the national node in order with the records, and the national node's
// answers holding the address carry the mark while it is in force there.
class NationalSupportMeasureTest : public NationalTest {
 protected:
  // A prefecture node's CS of `municipality`, registered there; `gateway` is kept for the test.
  Client RegisterCs(TestNode* pref, const std::string& municipality, char spki) {
    gateways_.push_back(std::make_unique<Gateway>(pref->registry.get(), &catalogue(), &clock_,
                                                  pref->config.prefecture));
    Client cs;
    cs.spki_sha256 = std::string(64, spki);
    cs.kind = ClientKind::kMunicipalCs;
    cs.name = "CS";
    cs.municipality_code = municipality;
    EXPECT_TRUE(gateways_.back()->Register(cs, Actor{"os:test", "host"}).ok());
    return cs;
  }
  Gateway& gateway() { return *gateways_.back(); }
  // As the sender does when the national node's answer says it applies measures' changes.
  static void Accept(TestNode* pref) {
    auto queued = pref->outbox->AcceptMeasures(Actor{"system:link", "upstream"});
    ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  }

  // Whether `node` answers the record of `code` with its address marked.
  static bool Marked(TestNode* node, const std::string& code) {
    auto reader = node->store->OpenReader();
    EXPECT_TRUE(reader.ok());
    ProvisionRequest req;
    req.resident_codes = {code};
    req.purpose = "board.school_aid";
    req.provision_kind = "別表第六";
    req.recipient = "agency:test";
    req.items = {"name", "address"};
    auto r = node->registry->Provide(**reader, req, Actor{"os:test", "host"});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r.ok() && (*r)[0].found);
    return r.ok() && (*r)[0].support_measure;
  }

  std::string Day(int days_from_today) {
    return Date::FromDays(clock_.TodayJst().ToDays() + days_from_today).ToIso();
  }

  std::vector<std::unique_ptr<Gateway>> gateways_;
};

TEST_F(NationalSupportMeasureTest, ASetAndAnEndReachTheNationalNodeInOrder) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  Register(national, c19);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000002", "10000000002");
  const std::string code = ResidentCode::FromTenDigits("1000000001").str();
  const std::string other = ResidentCode::FromTenDigits("1000000002").str();
  const Client kofu = RegisterCs(yamanashi, kKofu, 'd');
  Accept(yamanashi);
  ASSERT_TRUE(gateway().SetSupportMeasure(kofu, "cs", code, Day(30)).ok());
  // A change of the record after the measure goes after it, in the outbox's order.
  Apply(yamanashi, kKofu, ChangeReason::kMovedWithin, "1000000001", "10000000001");

  auto batch = yamanashi->outbox->Next(0, 10);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->changes.size(), 4u);
  const ForwardedChange& m = batch->changes[2];
  EXPECT_EQ(m.kind, "support_measure");
  EXPECT_EQ(m.reason, "set");
  EXPECT_EQ(m.resident_code, code);
  EXPECT_EQ(m.municipality_code, kKofu);
  EXPECT_EQ(m.valid_until, Day(30));
  EXPECT_EQ(m.change_date, Day(0));
  // Nothing of the record travels with it: no number opened, no name, no address.
  EXPECT_TRUE(m.individual_number.empty() && m.name.empty() && m.address.empty());
  const std::string wire = EncodeForwardBatch(*batch);
  EXPECT_NE(wire.find("\"kind\":\"support_measure\",\"reason\":\"set\""), std::string::npos);
  EXPECT_EQ(batch->changes[3].kind, "amendment");

  Drain(yamanashi, national, c19);
  EXPECT_TRUE(Marked(national, code));
  EXPECT_FALSE(Marked(national, other));
  EXPECT_TRUE(Marked(yamanashi, code));
  // The national node's review lists its read of the protected person, and only that one.
  {
    AuditDesk desk(national->store.get(), national->log.get(), national->cipher.get());
    auto findings = desk.Review(0, INT64_MAX);
    ASSERT_TRUE(findings.ok()) << findings.status().ToString();
    int flagged = 0;
    for (const auto& f : *findings) flagged += f.rule == "support_measure" ? 1 : 0;
    EXPECT_EQ(flagged, 1);
  }
  EXPECT_EQ(EntriesHolding(national, "link.apply", "support_measure.set"), 1);
  // Named by keyed MAC only, as every link entry.
  EXPECT_EQ(EntriesHolding(national, "link.apply", code), 0);

  // A resend after a lost answer is a duplicate, applied once.
  auto again = Post(national, c19, *batch);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->duplicates, 4);
  EXPECT_EQ(again->applied, 0);

  // Extended, then ended: the national node follows.
  ASSERT_TRUE(gateway().SetSupportMeasure(kofu, "cs", code, Day(200)).ok());
  Drain(yamanashi, national, c19);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM support_measures WHERE valid_until = '" +
                                Day(200) + "' AND since = '" + Day(0) + "'"),
            1);
  ASSERT_TRUE(gateway().EndSupportMeasure(kofu, "cs", code).ok());
  Drain(yamanashi, national, c19);
  EXPECT_FALSE(Marked(national, code));
  EXPECT_FALSE(Marked(yamanashi, code));
  EXPECT_EQ(EntriesHolding(national, "link.apply", "support_measure.end"), 1);
  // Kept, ended, for the national node's own review.
  EXPECT_EQ(Count(national, "SELECT count(*) FROM support_measures WHERE ended_at > 0"), 1);
  // Review: a measure's entry (link.apply, one row stored, no state leaf: a measure is not a
  // record) was taken for an older edition's write, and from then on a row inserted behind the
  // registry's back was only counted as "written before the log recorded state", never named.
  ExpectAnInsertedVersionNamed(national);
}

TEST_F(NationalSupportMeasureTest, AMeasureFollowsTheCodeChangeThatCameBeforeIt) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  Register(national, c19);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  Notification change = testing::RegistryFixture::Make(
      kKofu, 0, ChangeReason::kResidentCodeChanged, "1000000001", "10000000001");
  change.new_resident_code = ResidentCode::FromTenDigits("1000000077");
  ApplyMade(yamanashi, change);
  const std::string new_code = change.new_resident_code->str();
  const Client kofu = RegisterCs(yamanashi, kKofu, 'd');
  Accept(yamanashi);
  ASSERT_TRUE(gateway().SetSupportMeasure(kofu, "cs", new_code, Day(10)).ok());
  auto batch = yamanashi->outbox->Next(0, 10);
  ASSERT_TRUE(batch.ok() && batch->changes.size() == 3u);
  EXPECT_EQ(batch->changes[2].resident_code, new_code);
  Drain(yamanashi, national, c19);
  EXPECT_TRUE(Marked(national, new_code));
  // One measure, the person's (not a second row under the old code).
  EXPECT_EQ(Count(national, "SELECT count(*) FROM support_measures"), 1);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:"), 0);
}

TEST_F(NationalSupportMeasureTest, APrefectureCannotMarkAnotherPrefecturesResident) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* tokyo = MakeNode("p13", 13);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  const Client c13 = PrefectureClient(13);
  Register(national, c19);
  Register(national, c13);
  Apply(tokyo, kShinjuku, ChangeReason::kBirth, "2000000001", "20000000001");
  Drain(tokyo, national, c13);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  const std::string mine = ResidentCode::FromTenDigits("1000000001").str();
  const std::string theirs = ResidentCode::FromTenDigits("2000000001").str();
  const Client kofu = RegisterCs(yamanashi, kKofu, 'd');
  Accept(yamanashi);
  ASSERT_TRUE(gateway().SetSupportMeasure(kofu, "cs", mine, Day(30)).ok());
  Drain(yamanashi, national, c19);
  ASSERT_TRUE(Marked(national, mine));
  ASSERT_FALSE(Marked(national, theirs));

  // A forged measure change from 山梨県 for 東京都's resident, under numbers its own outbox
  // will not give out (a forging node's, or a buggy one's): set aside, the link goes on.
  ForwardedChange forged;
  forged.sequence = 1000;
  forged.municipality_code = kKofu;
  forged.kind = "support_measure";
  forged.reason = "set";
  forged.change_date = Day(0);
  forged.resident_code = theirs;
  forged.valid_until = Day(30);
  forged.applied_at = clock_.NowMicros();
  ForwardBatch batch;
  batch.prefecture = 19;
  batch.after = *yamanashi->outbox->Acknowledged();
  batch.changes.push_back(forged);
  auto r = Post(national, c19, batch);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->applied, 1);  // its number is used up: the link goes on
  EXPECT_EQ(r->conflicts, 1);
  EXPECT_FALSE(Marked(national, theirs));
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:wrong_municipality"), 1);
  // ... and a code nobody holds is set aside too.
  batch.after = 1000;
  batch.changes[0].sequence = 1001;
  batch.changes[0].resident_code = ResidentCode::FromTenDigits("1000000099").str();
  r = Post(national, c19, batch);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->conflicts, 1);
  EXPECT_EQ(EntriesHolding(national, "link.apply", "conflict:not_found"), 1);
  EXPECT_EQ(Count(national, "SELECT count(*) FROM support_measures"), 1);  // 山梨県's own only
  // A measure change of another prefecture's municipality refuses the whole batch.
  batch.changes[0].sequence = 1002;
  batch.changes[0].municipality_code = kShinjuku;
  batch.changes[0].resident_code = mine;
  batch.changes[0].reason = "end";
  batch.changes[0].valid_until.reset();
  r = Post(national, c19, batch);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "sender_mismatch");
  EXPECT_TRUE(Marked(national, mine));

  // Nor can 東京都 end 山梨県's resident's measure.
  ForwardBatch end;
  end.prefecture = 13;
  end.after = *tokyo->outbox->Acknowledged();
  batch.changes[0].sequence = end.after + 1;
  end.changes.push_back(batch.changes[0]);
  r = Post(national, c13, end);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->conflicts, 1);
  EXPECT_TRUE(Marked(national, mine));

  // 山梨県's own end, numbered after what the national node applied, still ends it.
  ASSERT_TRUE(yamanashi->outbox->SkipNumbers(1000, Actor{"os:test", "host"}).ok());
  ASSERT_TRUE(gateway().EndSupportMeasure(kofu, "cs", mine).ok());
  Drain(yamanashi, national, c19);
  EXPECT_FALSE(Marked(national, mine));
  EXPECT_EQ(EntriesHolding(national, "link.apply", "support_measure.end"), 2);  // 東京都's, then its
}

TEST_F(NationalSupportMeasureTest, TheWireIsStrictAboutAMeasureChange) {
  TestNode* yamanashi = MakeNode("p19", 19);
  Apply(yamanashi, kKofu, ChangeReason::kBirth, "1000000001", "10000000001");
  const std::string code = ResidentCode::FromTenDigits("1000000001").str();
  const Client kofu = RegisterCs(yamanashi, kKofu, 'd');
  Accept(yamanashi);
  ASSERT_TRUE(gateway().SetSupportMeasure(kofu, "cs", code, Day(30)).ok());
  auto b = yamanashi->outbox->Next(1, 1);
  ASSERT_TRUE(b.ok() && b->changes.size() == 1u);
  const std::string good = EncodeForwardBatch(*b);
  auto parse = [](const std::string& s) -> Status {
    auto j = text::ParseJson(s);
    if (!j.ok()) return j.status();
    return ParseForwardBatch(*j).status();
  };
  ASSERT_TRUE(parse(good).ok()) << good;
  auto changed = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  const std::string until = "\"valid_until\":\"" + Day(30) + "\"";
  for (const std::string& bad : {
           changed(until, "\"valid_until\":null"),                       // a set names its day
           changed("\"reason\":\"set\"", "\"reason\":\"end\""),         // an end names none
           changed("\"reason\":\"set\"", "\"reason\":\"birth\""),
           changed(until, "\"valid_until\":\"2026-6-30\""),
           changed(until, until + ",\"name\":\"山梨　花子\""),              // no record travels
           changed(until, until + ",\"valid_until\":null"),
           changed("\"kind\":\"support_measure\"", "\"kind\":\"support-measure\""),
           changed(",\"applied_at\"", ",\"x\""),
       }) {
    Status st = parse(bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.message().find(code), std::string::npos);
  }
  // How far ahead is the prefecture's rule, and a day already past is simply not in force:
  // refusing either would stop the prefecture's link for good.
  EXPECT_TRUE(parse(changed(until, "\"valid_until\":\"" + Day(800) + "\"")).ok());
  EXPECT_TRUE(parse(changed(until, "\"valid_until\":\"" + Day(-1) + "\"")).ok());
}

// The wire bytes of a change are what the national node's keyed MAC of it covers (a resend is
// told from a reused number by it), so they must not change between releases: known answers.
TEST(ForwardWireTest, TheEncodingOfEachKindIsStable) {
  ForwardedChange r;
  r.sequence = 42;
  r.municipality_code = "192015";
  r.municipal_sequence = 7;
  r.kind = "amendment";
  r.reason = "resident_code_changed";
  r.change_date = "2026-04-01";
  r.resident_code = "10000000014";
  r.individual_number = "123456789018";
  r.name = "山田　太郎";
  r.name_kana = "ヤマダ　タロウ";
  r.sex = "male";
  r.birth_date = "1980-05-01";
  r.address = "山梨県甲府市丸の内一丁目6番1号";
  r.new_resident_code = "10000000022";
  r.applied_at = 1767225600000000;
  ForwardedChange m;
  m.sequence = 43;
  m.municipality_code = "192015";
  m.kind = "support_measure";
  m.reason = "end";
  m.change_date = "2026-11-20";
  m.resident_code = "10000000022";
  m.applied_at = 1795100000000000;
  ForwardBatch b;
  b.prefecture = 19;
  b.after = 41;
  b.changes = {r, m};
  EXPECT_EQ(EncodeForwardBatch(b),
            R"({"prefecture":19,"after":41,"changes":[)"
            R"({"sequence":42,"municipality_code":"192015","municipal_sequence":7,)"
            R"("kind":"amendment","reason":"resident_code_changed","change_date":"2026-04-01",)"
            R"("resident_code":"10000000014","individual_number":"123456789018",)"
            R"("name":"山田　太郎","name_kana":"ヤマダ　タロウ","former_surname":null,"alias":null,)"
            R"("sex":"male","birth_date":"1980-05-01","address":"山梨県甲府市丸の内一丁目6番1号",)"
            R"("new_resident_code":"10000000022","applied_at":1767225600000000},)"
            R"({"sequence":43,"municipality_code":"192015","kind":"support_measure",)"
            R"("reason":"end","change_date":"2026-11-20","resident_code":"10000000022",)"
            R"("valid_until":null,"applied_at":1795100000000000}]})");
}

// A national node older than the measures' changes would refuse every batch holding one: a
// prefecture node queues none until its national node's answer says it applies them, and then
// queues the measures in force once (not one ended, nor one lapsed), then each set and end.
TEST_F(NationalSupportMeasureTest, MeasuresGoOnlyToANationalNodeThatSaysItAppliesThem) {
  TestNode* yamanashi = MakeNode("p19", 19);
  TestNode* national = MakeNode("national", 0);
  const Client c19 = PrefectureClient(19);
  Register(national, c19);
  std::vector<std::string> codes;
  for (const char* ten : {"1000000001", "1000000002", "1000000003"}) {
    Apply(yamanashi, kKofu, ChangeReason::kBirth, ten, std::string("1") + ten);
    codes.push_back(ResidentCode::FromTenDigits(ten).str());
  }
  const Client kofu = RegisterCs(yamanashi, kKofu, 'd');
  ASSERT_TRUE(gateway().SetSupportMeasure(kofu, "cs", codes[0], Day(30)).ok());
  ASSERT_TRUE(gateway().SetSupportMeasure(kofu, "cs", codes[1], Day(30)).ok());
  ASSERT_TRUE(gateway().EndSupportMeasure(kofu, "cs", codes[1]).ok());
  ASSERT_TRUE(gateway().SetSupportMeasure(kofu, "cs", codes[2], Day(0)).ok());
  const std::string queued_measures =
      "SELECT count(*) FROM outbox WHERE measure_municipality IS NOT NULL";
  EXPECT_EQ(Count(yamanashi, queued_measures), 0);

  UpstreamConfig config;
  const Actor link_actor{"system:link", "upstream"};
  {
    link::Sender older(config, yamanashi->outbox.get(), &clock_,
                       std::make_unique<FaithfulUpstream>(national, c19, false), 7, link_actor);
    auto sent = older.Step();
    ASSERT_TRUE(sent.ok()) << sent.status().ToString();
    EXPECT_EQ(*sent, 3);  // the births: the link goes on
  }
  EXPECT_EQ(Count(yamanashi, queued_measures), 0);
  EXPECT_FALSE(Marked(national, codes[0]));

  // The next day (the third measure has lapsed), the national node is upgraded.
  clock_.Advance(int64_t{24} * 3600 * 1000000);
  Apply(yamanashi, kKofu, ChangeReason::kMovedWithin, "1000000001", "11000000001");
  link::Sender sender(config, yamanashi->outbox.get(), &clock_,
                      std::make_unique<FaithfulUpstream>(national, c19, true), 7, link_actor);
  auto sent = sender.Step();
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(Count(yamanashi, queued_measures), 1);  // the one in force
  EXPECT_EQ(EntriesHolding(yamanashi, "link.measures", "queued=1"), 1);
  sent = sender.Step();
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(*sent, 1);
  EXPECT_TRUE(Marked(national, codes[0]));
  EXPECT_FALSE(Marked(national, codes[1]));
  EXPECT_FALSE(Marked(national, codes[2]));
  // From now on each set and end goes as it is made; knowing it again queues nothing more.
  ASSERT_TRUE(gateway().SetSupportMeasure(kofu, "cs", codes[1], Day(30)).ok());
  EXPECT_EQ(Count(yamanashi, queued_measures), 2);
  auto again = yamanashi->outbox->AcceptMeasures(link_actor);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(Count(yamanashi, queued_measures), 2);
  sent = sender.Step();
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_TRUE(Marked(national, codes[1]));
}

}  // namespace
}  // namespace kakunin::registry
