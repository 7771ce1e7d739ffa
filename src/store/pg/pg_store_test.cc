// What only the PostgreSQL store has to show (issue 13); everything else it shares with SQLite is
// checked by the registry's and gateway's suites run on it (registry_test_postgresql, …).

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/pg/pg_registry_store.h"
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

}  // namespace
}  // namespace kakunin::store::pg
