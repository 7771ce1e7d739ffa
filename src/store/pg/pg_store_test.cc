// What only the PostgreSQL store has to show (issue 13); everything else it shares with SQLite is
// checked by the registry's and gateway's suites run on it (registry_test_postgresql, …).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <utility>
#include <thread>
#include <vector>

#include "registry/reader_pool.h"
#include "store/pg/pg_registry_store.h"
#include "store/pg/reconnect.h"
#include "store/pg/schema.h"
#include "support/pg_server.h"

namespace kakunin::store::pg {
namespace {

using kakunin::testing::PgServer;

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int next = 0;
    schema_ = "s" + std::to_string(++next);
    auto url = PgServer::Shared()->FreshSchema(schema_);
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
    auto s = OpenRegistryStore(url_, /*create=*/true);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  static AuditRow Entry(int64_t seq) {
    AuditRow a;
    a.seq = seq;
    a.time = seq;
    a.actor = "os:test";
    a.action = "test";
    a.payload = std::string("payload\0with a zero byte", 24);
    a.leaf_hash = std::string(32, static_cast<char>(seq & 0xff));
    return a;
  }

  std::string schema_, url_;
  std::unique_ptr<RegistryStore> store_;
};

TEST_F(PgStoreTest, OpeningWithoutCreateRefusesAnEmptySchema) {
  auto url = PgServer::Shared()->FreshSchema(schema_ + "_empty");
  ASSERT_TRUE(url.ok());
  auto s = OpenRegistryStore(*url, /*create=*/false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  // Nothing was written: the schema is still empty.
  auto tables = PgServer::Shared()->Psql("SELECT count(*) FROM pg_tables WHERE schemaname = '" +
                                         schema_ + "_empty'");
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, "0\n");
  // Reopening a migrated schema migrates nothing and keeps the data.
  ASSERT_TRUE(store_->SetMeta("prefecture", "19").ok());
  auto again = OpenRegistryStore(url_, /*create=*/false);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*(*again)->GetMeta("prefecture"), std::optional<std::string>("19"));
  EXPECT_TRUE((*again)->CheckIntegrity().ok());
}

TEST_F(PgStoreTest, BinaryValuesRoundTripAndTheLogRefusesAGap) {
  ASSERT_TRUE(store_->Write([](RegistryTxn& t) { return t.InsertAuditEntry(Entry(0), {}); }).ok());
  // An entry that skips a number is refused by the database, whoever writes it.
  Status gap = store_->Write([](RegistryTxn& t) { return t.InsertAuditEntry(Entry(2), {}); });
  EXPECT_FALSE(gap.ok());
  // And the failed transaction left nothing behind: the next entry is 1.
  ASSERT_TRUE(store_->Write([](RegistryTxn& t) { return t.InsertAuditEntry(Entry(1), {}); }).ok());
  auto reader = store_->OpenReader();
  ASSERT_TRUE(reader.ok());
  std::vector<AuditRow> rows;
  ASSERT_TRUE((*reader)
                  ->ForEachAuditEntry(0,
                                      [&](const AuditRow& r) {
                                        rows.push_back(r);
                                        return true;
                                      })
                  .ok());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].payload, Entry(1).payload);  // a NUL byte inside survives (bytea)
  EXPECT_EQ(rows[1].leaf_hash, Entry(1).leaf_hash);
  EXPECT_TRUE(store_->CheckIntegrity().ok());
}

// SQLite reports a taken key and lets the transaction go on; so must PostgreSQL (whose failed
// statement would abort the whole transaction): the registration statements do not fail.
TEST_F(PgStoreTest, ATakenKeyIsReportedAndTheTransactionGoesOn) {
  ClientRow c;
  c.spki_sha256 = std::string(64, 'a');
  c.kind = "agency";
  c.name = "教育委員会";
  Status st = store_->Write([&](RegistryTxn& t) -> Status {
    KAKUNIN_RETURN_IF_ERROR(t.InsertClient(c));
    Status again = t.InsertClient(c);
    if (again.code() != StatusCode::kAlreadyExists) return Status::Internal("not AlreadyExists");
    return t.SetMeta("after", "yes");  // the transaction is still usable
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(*store_->GetMeta("after"), std::optional<std::string>("yes"));
}

// Two stores on one database (two processes, one misconfigured) writing the log at once: the
// advisory lock makes them take turns, so every write succeeds and the sequence has no gap.
TEST_F(PgStoreTest, TwoWritersOnOneDatabaseKeepTheSequenceSingle) {
  auto other = OpenRegistryStore(url_, /*create=*/false);
  ASSERT_TRUE(other.ok());
  std::atomic<int> failures{0};
  auto append = [&](RegistryStore* s) {
    for (int i = 0; i < 40; ++i) {
      Status st = s->Write([](RegistryTxn& t) -> Status {
        KAKUNIN_ASSIGN_OR_RETURN(size, t.AuditSize());
        return t.InsertAuditEntry(Entry(size), {});
      });
      if (!st.ok()) failures++;
    }
  };
  std::thread a(append, store_.get()), b(append, other->get());
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  auto reader = store_->OpenReader();
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*(*reader)->AuditSize(), 80);
  EXPECT_TRUE(store_->CheckIntegrity().ok());
}

// Two processes writing one person's versions in turn (a node serving, `kakunin ingest` beside
// it): history is newest first by version id, so ids must follow the order of the writes. Found
// in review: ids drawn ahead and kept by the first writer's connection were lower than those the
// second drew meanwhile, and the first writer's later version was listed as older.
TEST_F(PgStoreTest, TwoWritersNumberVersionsInTheOrderOfTheirWrites) {
  auto other = OpenRegistryStore(url_, /*create=*/false);
  ASSERT_TRUE(other.ok());
  int64_t person = 0;
  auto write = [&](RegistryStore* s, const std::string& address) {
    return s->Write([&](RegistryTxn& t) -> Status {
      VersionRow v;
      v.municipality_code = "192015";
      v.sequence = static_cast<int64_t>(address.size());
      v.kind = person == 0 ? "entry" : "amendment";
      v.reason = person == 0 ? "birth" : "moved_within";
      v.change_date = "2026-04-01";
      v.resident_code = "1000000001";
      v.sealed_number = "sealed";
      v.name = "n";
      v.sex = "female";
      v.birth_date = "1990-01-01";
      v.address = address;
      if (person == 0) {
        ResidentRow r;
        r.resident_code = v.resident_code;
        r.municipality_code = v.municipality_code;
        r.name = "n";
        r.sex = "female";
        r.birth_date = "1990-01-01";
        r.address = address;
        r.number_mac = std::string(32, '\0');
        KAKUNIN_ASSIGN_OR_RETURN(id, t.InsertResident(r));
        person = id;
      }
      v.person_id = person;
      KAKUNIN_ASSIGN_OR_RETURN(vid, t.InsertVersion(v));
      return t.SetResidentVersion(person, vid);
    });
  };
  ASSERT_TRUE(write(store_.get(), "a").ok());      // draws a block, keeps the rest...
  ASSERT_TRUE(write(other->get(), "ab").ok());     // ...while another process draws after it
  ASSERT_TRUE(write(store_.get(), "abc").ok());    // the newest
  auto reader = store_->OpenReader();
  ASSERT_TRUE(reader.ok());
  auto history = (*reader)->History(person);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].address, "abc");
  EXPECT_EQ((*history)[1].address, "ab");
  EXPECT_EQ((*history)[2].address, "a");
}

// A server that goes away (a restart, a failover) fails the writes in flight as unavailable, and
// the store reconnects for the next ones: nothing to restart on the node.
TEST_F(PgStoreTest, WritesGoOnAfterTheServerRestarts) {
  ASSERT_TRUE(store_->SetMeta("k", "1").ok());
  auto reader = store_->OpenReader();
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(PgServer::Shared()->Restart().ok());
  Status first = store_->SetMeta("k", "2");
  if (!first.ok()) {
    EXPECT_EQ(first.code(), StatusCode::kUnavailable) << first.ToString();
  }
  Status st = store_->Write([](RegistryTxn& t) { return t.SetMeta("k", "3"); });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(*store_->GetMeta("k"), std::optional<std::string>("3"));
  // A reader opened before the restart is broken; a new one works (the pool drops dead ones).
  reader->reset();
  auto fresh = store_->OpenReader();
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(*(*fresh)->GetMeta("k"), std::optional<std::string>("3"));
}

// The registry keeps readers between calls (registry::ReaderPool). After a restart or a
// failover their connections are dead: the pool must not hand one out again (every read would
// fail until the node restarted), it opens a new one.
TEST_F(PgStoreTest, APooledReaderWhoseConnectionBrokeIsNotHandedOutAgain) {
  ASSERT_TRUE(store_->SetMeta("k", "1").ok());
  registry::ReaderPool pool(store_.get());
  {
    auto lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
    ASSERT_TRUE((*lease)->GetMeta("k").ok());
  }
  ASSERT_EQ(pool.idle(), 1u);
  ASSERT_TRUE(PgServer::Shared()->Restart().ok());
  auto lease = pool.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  auto k = (*lease)->GetMeta("k");
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(*k, std::optional<std::string>("1"));
}

// While the server cannot be reached, one connection attempt per interval (50 ms doubling to
// 1 s, on an injected clock); the calls in between are kUnavailable at once, without trying.
TEST(PgReconnectTest, AttemptsBackOffWhileTheServerIsUnreachable) {
  std::atomic<int64_t> now{1'000'000};
  Reconnector r("postgresql:///x?host=/nonexistent-kakunin-socket-dir&user=kakunin",
                [&] { return now.load(); });
  auto first = r.Open();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.attempts(), 1);
  EXPECT_TRUE(r.unreachable());
  int64_t interval = 50'000;
  for (int round = 0; round < 8; ++round) {
    now += interval - 1;
    auto skipped = r.Open();
    ASSERT_FALSE(skipped.ok());
    EXPECT_EQ(skipped.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(skipped.status().message().find("unreachable"), std::string::npos);
    EXPECT_EQ(r.attempts(), round + 1) << "an attempt inside the interval, round " << round;
    now += 1;
    EXPECT_FALSE(r.Open().ok());
    EXPECT_EQ(r.attempts(), round + 2) << "no attempt once the interval was over, round " << round;
    interval = std::min<int64_t>(interval * 2, 1'000'000);
  }
  EXPECT_EQ(interval, 1'000'000);  // the cap was reached and held
}

// The first connection that succeeds ends the backoff: the next failure starts again at 50 ms.
TEST(PgReconnectTest, ASuccessResetsTheBackoff) {
  auto server = PgServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::atomic<int64_t> now{1'000'000};
  Reconnector r((*server)->Url(), [&] { return now.load(); });
  ASSERT_TRUE(r.Open().ok());
  ASSERT_TRUE((*server)->Stop().ok());
  for (int i = 0; i < 4; ++i) {  // the interval grows to 400 ms
    EXPECT_FALSE(r.Open().ok());
    now += 1'000'000;
  }
  EXPECT_EQ(r.attempts(), 5);
  ASSERT_TRUE((*server)->Restart().ok());  // pg_ctl restart starts a stopped server
  auto back = r.Open();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(r.unreachable());
  ASSERT_TRUE((*server)->Stop().ok());
  EXPECT_FALSE(r.Open().ok());
  now += 50'000;
  EXPECT_FALSE(r.Open().ok());
  EXPECT_EQ(r.attempts(), 8) << "after a success the interval starts at 50 ms again";
}

// A node made before migrations 6 and 7 (the media register, the link) upgrades in place: the
// clients' CHECK is replaced (PostgreSQL alters it; SQLite rebuilt the table) and the rows stay.
TEST_F(PgStoreTest, ANodeAtSchema5UpgradesAndKeepsItsClients) {
  const std::string old = schema_ + "_v5";
  auto url = PgServer::Shared()->FreshSchema(old);
  ASSERT_TRUE(url.ok());
  std::string sql;
  for (const Migration& m : kMigrations) {
    if (m.version <= 5) sql += m.sql;
  }
  sql += "CREATE TABLE schema_migrations (version int8 PRIMARY KEY, applied_at text NOT NULL);"
         "INSERT INTO schema_migrations SELECT v, 'then' FROM generate_series(1, 5) v;"
         "INSERT INTO clients VALUES ('" + std::string(64, 'b') +
         "', 'national', 'J-LIS', '', 'national', '', 1, 0);";
  auto made = PgServer::Shared()->Psql(sql, "postgres", old);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto s = OpenRegistryStore(*url, /*create=*/false);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE((*s)->CheckIntegrity().ok());  // at the latest version
  auto reader = (*s)->OpenReader();
  ASSERT_TRUE(reader.ok());
  auto kept = (*reader)->FindClient(std::string(64, 'b'));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->kind, "national");
  ClientRow pref;
  pref.spki_sha256 = std::string(64, 'c');
  pref.kind = "prefecture";
  pref.municipality_code = "19";
  EXPECT_TRUE((*s)->Write([&](RegistryTxn& t) { return t.InsertClient(pref); }).ok());
  pref.spki_sha256 = std::string(64, 'd');
  pref.kind = "somebody";  // the CHECK is still there
  EXPECT_FALSE((*s)->Write([&](RegistryTxn& t) { return t.InsertClient(pref); }).ok());
  auto received = (*reader)->ReceivedSequence(19);
  ASSERT_TRUE(received.ok()) << received.status().ToString();
  EXPECT_EQ(*received, 0);
  auto media = (*reader)->ListMedia();
  ASSERT_TRUE(media.ok()) << media.status().ToString();
  EXPECT_TRUE(media->empty());
}

// stats --digest's walk (ForEachCurrentRecord) reads pages; across a page boundary the order is
// still the codes' byte order, each resident's record the latest from the municipality it is
// registered in, removed residents left out; an error from the caller stops the walk and leaves
// the reader usable.
TEST_F(PgStoreTest, CurrentRecordsAreReadInPagesInCodeOrder) {
  constexpr int kResidents = 2600;  // more than one page (2000)
  ASSERT_TRUE(store_
                  ->Write([&](RegistryTxn& t) -> Status {
                    for (int i = 0; i < kResidents; ++i) {
                      ResidentRow r;
                      // Codes in an order unlike the insertion order.
                      r.resident_code = std::to_string(1000000000 + (i * 7919) % 9000000);
                      r.status = i % 100 == 99 ? ResidentStatus::kRemoved : ResidentStatus::kActive;
                      r.municipality_code = "192015";
                      r.name = "n";
                      r.sex = "female";
                      r.birth_date = "1990-01-01";
                      r.address = "a";
                      r.number_mac = std::string(32, '\0');
                      KAKUNIN_ASSIGN_OR_RETURN(person, t.InsertResident(r));
                      VersionRow v;
                      v.person_id = person;
                      v.kind = "entry";
                      v.reason = "birth";
                      v.change_date = "2026-04-01";
                      v.resident_code = r.resident_code;
                      v.sealed_number = std::string("\0sealed", 7);
                      v.name = "n";
                      v.sex = "female";
                      v.birth_date = "1990-01-01";
                      v.address = "a";
                      // Registered in 192015: its sequence 2i+2 is the record; 2i+1 from there
                      // is older, and a later 転出 from 192023 is history.
                      for (auto [muni, seq] : {std::pair<const char*, int64_t>{"192015", 2 * i + 2},
                                               {"192015", 2 * i + 1},
                                               {"192023", 10 * kResidents + i}}) {
                        v.municipality_code = muni;
                        v.sequence = seq;
                        KAKUNIN_ASSIGN_OR_RETURN(id, t.InsertVersion(v));
                        KAKUNIN_RETURN_IF_ERROR(t.SetResidentVersion(person, id));
                      }
                    }
                    return Status::Ok();
                  })
                  .ok());
  auto reader = store_->OpenReader();
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> codes;
  bool right_versions = true;
  ASSERT_TRUE((*reader)
                  ->ForEachCurrentRecord([&](const CurrentRecordRow& row) -> Status {
                    codes.push_back(row.resident_code);
                    right_versions = right_versions && row.version.municipality_code == "192015" &&
                                     row.version.sequence % 2 == 0 &&
                                     row.version.resident_code == row.resident_code &&
                                     row.version.sealed_number == std::string("\0sealed", 7);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(codes.size(), static_cast<size_t>(kResidents - kResidents / 100));
  EXPECT_TRUE(std::is_sorted(codes.begin(), codes.end()));
  EXPECT_EQ(std::adjacent_find(codes.begin(), codes.end()), codes.end());
  EXPECT_TRUE(right_versions);
  int seen = 0;
  Status stop = (*reader)->ForEachCurrentRecord([&](const CurrentRecordRow&) -> Status {
    return ++seen == 2100 ? Status::DataLoss("stop here") : Status::Ok();
  });
  EXPECT_EQ(stop.code(), StatusCode::kDataLoss);
  EXPECT_EQ(seen, 2100);
  auto stats = (*reader)->Stats();  // the walk's snapshot was closed: the reader goes on
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->active, kResidents - kResidents / 100);
}

// The import's progress table appears on first use; a backup by copy is refused with the way out.
TEST_F(PgStoreTest, ImportProgressAndTheRefusedCopy) {
  ASSERT_TRUE(store_
                  ->Write([](RegistryTxn& t) -> Status {
                    KAKUNIN_ASSIGN_OR_RETURN(none, t.ImportedBatch(1, 0));
                    return none ? Status::Internal("a batch before any import") : Status::Ok();
                  })
                  .ok());
  BulkLoadOptions bad;
  bad.cache_mib = 0;
  EXPECT_EQ(store_->BeginBulkLoad(bad).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->BeginBulkLoad(BulkLoadOptions()).ok());
  ASSERT_TRUE(store_->BeginBulkLoad(BulkLoadOptions()).ok());  // again, as a resumed import does
  ImportBatchRow row{1, 0, 1, 500, 500, 498, std::string("\0digest", 7) + std::string(25, 'x'), 3};
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) { return t.RecordImportBatch(row); }).ok());
  std::optional<ImportBatchRow> back;
  ASSERT_TRUE(store_
                  ->Write([&](RegistryTxn& t) -> Status {
                    KAKUNIN_ASSIGN_OR_RETURN(b, t.ImportedBatch(1, 0));
                    back = b;
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->digest, row.digest);
  EXPECT_EQ(back->last_line, 500);
  EXPECT_EQ(back->applied, 498);
  EXPECT_EQ(back->audit_seq, 3);
  EXPECT_TRUE(store_->EndBulkLoad().ok());
  Status copy = store_->CopyTo(::testing::TempDir() + "/never.db");
  EXPECT_EQ(copy.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(copy.message().find("pg_basebackup"), std::string::npos);
}

// The rule of docs/postgresql.md ("Privacy on the server"), setting by setting: parameters reach
// the server's log where statements are logged and log_parameter_max_length is not 0, and where
// auto_explain logs plans (which hold them as constants) whatever that length.
TEST(PgParameterLoggingTest, WhichSettingsLogBoundParameters) {
  using Settings = std::map<std::string, std::string>;
  const Settings quiet = {{"log_statement", "none"},
                          {"log_min_duration_statement", "-1"},
                          {"log_min_duration_sample", "-1"},
                          {"log_statement_sample_rate", "1"},
                          {"log_transaction_sample_rate", "0"},
                          {"log_parameter_max_length", "-1"},
                          {"log_parameter_max_length_on_error", "0"}};
  auto with = [&](Settings changes) {
    Settings s = quiet;
    for (auto& [k, v] : changes) s[k] = v;
    return WouldLogParameters(s);
  };
  EXPECT_EQ(WouldLogParameters(quiet).setting, "");
  EXPECT_EQ(with({{"log_statement", "ddl"}}).setting, "");  // DDL has no parameters
  EXPECT_EQ(with({{"log_min_duration_sample", "0"}, {"log_statement_sample_rate", "0"}}).setting,
            "");
  for (const Settings& loud : std::vector<Settings>{{{"log_statement", "mod"}},
                                                    {{"log_statement", "all"}},
                                                    {{"log_min_duration_statement", "0"}},
                                                    {{"log_min_duration_statement", "5000"}},
                                                    {{"log_min_duration_sample", "100"}},
                                                    {{"log_transaction_sample_rate", "0.01"}}}) {
    const ParameterLogging logged = with(loud);
    EXPECT_NE(logged.setting.find(loud.begin()->first), std::string::npos) << logged.setting;
    EXPECT_EQ(logged.fix, "log_parameter_max_length = 0");
    // Truncated is logged all the same (a name's first bytes); 0 logs none.
    Settings truncated = loud;
    truncated["log_parameter_max_length"] = "8";
    EXPECT_NE(with(truncated).setting, "");
    Settings none = loud;
    none["log_parameter_max_length"] = "0";
    EXPECT_EQ(with(none).setting, "") << loud.begin()->first;
  }
  // A server before PostgreSQL 13 has no length setting: it logs them in full.
  Settings old = quiet;
  old.erase("log_parameter_max_length");
  old["log_statement"] = "all";
  EXPECT_NE(WouldLogParameters(old).setting, "");
  // auto_explain: no length setting helps; off at -1 or with a sample rate of 0.
  const ParameterLogging explained =
      with({{"log_parameter_max_length", "0"}, {"auto_explain.log_min_duration", "0"}});
  EXPECT_NE(explained.setting.find("auto_explain.log_min_duration = 0"), std::string::npos);
  EXPECT_EQ(explained.fix, "auto_explain.log_min_duration = -1");
  EXPECT_EQ(with({{"auto_explain.log_min_duration", "-1"}}).setting, "");
  EXPECT_EQ(
      with({{"auto_explain.log_min_duration", "0"}, {"auto_explain.sample_rate", "0"}}).setting,
      "");
  EXPECT_NE(with({{"log_parameter_max_length_on_error", "-1"}}).setting, "");
}

// Found in review: a node whose role is not a superuser, on a server logging every statement,
// with no log_parameter_max_length set on the role (docs/postgresql.md), wrote every bound name,
// address and code into the server's log. The connection is refused now, naming the setting and
// the fix; with the role setting, or as a superuser (which sets it itself), it is accepted.
TEST(PgParameterLoggingTest, AConnectionThatWouldLogParametersIsRefused) {
  PgServer* server = PgServer::Shared();
  auto url = [&](const std::string& role) {
    return "postgresql:///postgres?host=" + server->dir() + "&user=" + role;
  };
  auto role = [&](const std::string& name, const std::string& settings) {
    auto made =
        server->Psql("DROP ROLE IF EXISTS " + name + "; CREATE ROLE " + name + " LOGIN" + settings);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
  };
  role("t_loud", "; ALTER ROLE t_loud SET log_statement = 'all'");
  auto refused = Conn::Open(url("t_loud"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(
      refused.status().message().find("log_statement = 'all' with log_parameter_max_length = -1"),
      std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("ALTER ROLE t_loud SET log_parameter_max_length = 0"),
            std::string::npos)
      << refused.status().message();
  // The store refuses to open, before it reads or writes anything.
  EXPECT_EQ(OpenRegistryStore(url("t_loud"), /*create=*/true).status().code(),
            StatusCode::kFailedPrecondition);
  // What the documentation tells the administrator to do.
  ASSERT_TRUE(server->Psql("ALTER ROLE t_loud SET log_parameter_max_length = 0").ok());
  auto accepted = Conn::Open(url("t_loud"));
  EXPECT_TRUE(accepted.ok()) << accepted.status().ToString();

  // Slow statements, sampled statements and sampled transactions log parameters too.
  for (const char* setting : {"log_min_duration_statement = 0", "log_min_duration_sample = 0",
                              "log_transaction_sample_rate = 0.5"}) {
    role("t_sampled", std::string("; ALTER ROLE t_sampled SET ") + setting);
    auto sampled = Conn::Open(url("t_sampled"));
    ASSERT_FALSE(sampled.ok()) << setting;
    EXPECT_EQ(sampled.status().code(), StatusCode::kFailedPrecondition) << setting;
  }
  // A superuser sets log_parameter_max_length itself.
  role("t_super", " SUPERUSER; ALTER ROLE t_super SET log_statement = 'all'");
  auto super = Conn::Open(url("t_super"));
  EXPECT_TRUE(super.ok()) << super.status().ToString();
  // auto_explain's plans hold the values whatever log_parameter_max_length says.
  role("t_explain",
       "; ALTER ROLE t_explain SET session_preload_libraries = 'auto_explain'; "
       "ALTER ROLE t_explain SET auto_explain.log_min_duration = 0; "
       "ALTER ROLE t_explain SET log_parameter_max_length = 0");
  auto explained = Conn::Open(url("t_explain"));
  ASSERT_FALSE(explained.ok());
  EXPECT_NE(explained.status().message().find(
                "ALTER ROLE t_explain SET auto_explain.log_min_duration = -1"),
            std::string::npos)
      << explained.status().message();
  ASSERT_TRUE(server->Psql("ALTER ROLE t_explain SET auto_explain.log_min_duration = -1").ok());
  auto quiet = Conn::Open(url("t_explain"));
  EXPECT_TRUE(quiet.ok()) << quiet.status().ToString();
}

}  // namespace
}  // namespace kakunin::store::pg
