// A node made by an earlier release opens with this build, migrates forward and keeps working
// (issue 14). The earlier node is built here, not kept as a binary fixture: for every schema
// version k before the newest, a database holding only migrations 1..k (the schema an older
// release made) receives the rows of a node this build made — its metadata, registers, residents
// and operation log — and becomes that node's database. Opening it must run migrations k+1..N,
// and the node must verify its log, report, accept notifications and verify again.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "app/node.h"
#include "cli/commands.h"
#include "store/sqlite/schema.h"

namespace kakunin::cli {
namespace {

namespace fs = std::filesystem;
using store::sqlite::kMigrations;

struct Out {
  int status;
  std::string out, err;
};

Out Kakunin(std::vector<std::string> args, const std::string& in = "") {
  args.insert(args.begin(), "kakunin");
  std::istringstream is(in);
  std::ostringstream os, es;
  static const app::NodeAccess nodes;
  Io io{is, os, es, &nodes};
  int st = Main(args, io);
  return {st, os.str(), es.str()};
}

int Latest() {
  int v = 0;
  for (const auto& m : kMigrations) v = std::max(v, m.version);
  return v;
}

class Sql {
 public:
  explicit Sql(const std::string& path) { EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK); }
  ~Sql() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << "\n" << sql;
  }
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
    while (s && sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string Quote(const std::string& name) { return "\"" + name + "\""; }

class MigrationForwardTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kakunin_migrate_" + std::to_string(::getpid()) + "_v" + std::to_string(GetParam()));
    fs::remove_all(dir_);
    data_ = (dir_ / "node").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string data_;
};

TEST_P(MigrationForwardTest, AnOlderNodeOpensMigratesAndVerifies) {
  const int k = GetParam();
  // A node with residents, a client and a log, made by this build.
  ASSERT_EQ(Kakunin({"init", "--data", data_, "--prefecture", "19"}).status, 0);
  auto gen = Kakunin({"generate", "--count", "30", "--seed", "7", "--today", "2026-04-01"});
  auto ing = Kakunin({"ingest", "--data", data_, "--today", "2026-04-01", "-"}, gen.out);
  ASSERT_EQ(ing.status, 0) << ing.err;
  const std::string db = data_ + "/registry.db";
  for (const char* suffix : {"-wal", "-shm"}) ASSERT_FALSE(fs::exists(db + suffix));
  // Schema 14 kept support measures that the link did not carry. 15 queues none of them: the
  // national node may be older and refuse them (LinkOutbox::AcceptMeasures queues the ones in
  // force once it says it applies them; NationalSupportMeasureTest).
  const bool measures = k == 14;
  if (measures) {
    Sql cur(db);
    cur.Exec(
        "INSERT INTO support_measures SELECT person_id, '2026-04-01', "
        "date('now', '+9 hours', '+30 days'), 0, municipality_code, "
        "CAST(strftime('%s', '2026-04-01 03:00:00') AS INTEGER) * 1000000, "
        "'tls:cs' FROM residents WHERE status = 'active' ORDER BY person_id LIMIT 3");
  }

  // The same rows in a database with the schema of migrations 1..k only.
  const std::string old_db = (dir_ / "old.db").string();
  {
    Sql old(old_db);
    old.Exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) "
        "STRICT");
    for (const auto& m : kMigrations) {
      if (m.version > k) continue;
      old.Exec(std::string("BEGIN;") + m.sql + ";INSERT INTO schema_migrations VALUES (" +
               std::to_string(m.version) + ", datetime('now'));COMMIT;");
    }
    old.Exec("ATTACH DATABASE '" + db + "' AS cur");
    const std::set<std::string> current_tables = [&] {
      auto v = old.Column("SELECT name FROM cur.sqlite_schema WHERE type = 'table'");
      return std::set<std::string>(v.begin(), v.end());
    }();
    // A node of schema k kept only what its tables could hold. When a table this node filled
    // came later (the operation log came with migration 2), no node of schema k can carry this
    // node's data: such a node had no log to verify and no signing key, and this build does not
    // open it (it is not a release anyone ran).
    std::string later;
    for (const std::string& table : current_tables) {
      if (table.rfind("sqlite_", 0) == 0 || table == "schema_migrations") continue;
      if (!old.Column("SELECT name FROM main.sqlite_schema WHERE name = '" + table + "'").empty()) {
        continue;
      }
      if (old.Column("SELECT count(*) FROM cur." + Quote(table)) != std::vector<std::string>{"0"}) {
        later += " " + table;
      }
    }
    if (!later.empty()) GTEST_SKIP() << "schema " << k << " has no table for:" << later;
    old.Exec("BEGIN");
    for (const std::string& table : old.Column(
             "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name NOT LIKE "
             "'sqlite_%' AND name != 'schema_migrations'")) {
      ASSERT_TRUE(current_tables.count(table)) << table << " was dropped by a later migration";
      auto now = old.Column("SELECT name FROM pragma_table_info(" + Quote(table) + ", 'cur')");
      std::set<std::string> now_set(now.begin(), now.end());
      std::string cols;
      for (const std::string& c :
           old.Column("SELECT name FROM pragma_table_info(" + Quote(table) + ", 'main')")) {
        ASSERT_TRUE(now_set.count(c)) << table << "." << c << " was dropped by a later migration";
        cols += (cols.empty() ? "" : ", ") + Quote(c);
      }
      old.Exec("INSERT INTO main." + Quote(table) + " (" + cols + ") SELECT " + cols +
               " FROM cur." + Quote(table));
    }
    old.Exec("COMMIT");
    old.Exec("DETACH DATABASE cur");
  }
  fs::rename(old_db, db);
  fs::permissions(db, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  {
    Sql check(db);
    ASSERT_EQ(check.Column("SELECT max(version) FROM schema_migrations"),
              std::vector<std::string>{std::to_string(k)});
  }

  // This build opens it: migrations k+1..N run, and the log still extends the sealed head.
  auto verify = Kakunin({"audit", "verify", "--data", data_});
  EXPECT_EQ(verify.status, 0) << verify.out << verify.err;
  {
    Sql check(db);
    EXPECT_EQ(check.Column("SELECT max(version) FROM schema_migrations"),
              std::vector<std::string>{std::to_string(Latest())});
    if (measures) {
      EXPECT_EQ(check.Column("SELECT count(*) FROM outbox WHERE measure_municipality IS NOT NULL"),
                std::vector<std::string>{"0"});
      EXPECT_EQ(check.Column("SELECT count(*) FROM support_measures"),
                std::vector<std::string>{"3"});
    }
  }
  auto stats = Kakunin({"stats", "--data", data_, "--json"});
  EXPECT_EQ(stats.status, 0) << stats.err;
  EXPECT_NE(stats.out.find("30"), std::string::npos) << stats.out;
  // New notifications apply (replays of the old ones are recognised as such).
  auto more = Kakunin({"generate", "--count", "40", "--seed", "7", "--today", "2026-04-01"});
  auto again = Kakunin({"ingest", "--data", data_, "--today", "2026-04-01", "-"}, more.out);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("\"duplicate\":true"), std::string::npos);
  auto verify2 = Kakunin({"audit", "verify", "--data", data_});
  EXPECT_EQ(verify2.status, 0) << verify2.out << verify2.err;
}

std::vector<int> OlderVersions() {
  std::vector<int> v;
  for (int k = 1; k < Latest(); ++k) v.push_back(k);
  return v;
}

INSTANTIATE_TEST_SUITE_P(EveryOlderSchema, MigrationForwardTest,
                         ::testing::ValuesIn(OlderVersions()),
                         [](const auto& info) { return "v" + std::to_string(info.param); });

// Migration 17 on an operator register of migration 16: IC cards bound before it wait for their
// holders' confirmation (found in review: marking them confirmed kept any card a dishonest access
// manager had bound as a second factor), authenticators stay confirmed, and the existing grants —
// a withdrawn one among them — become grant rows numbered in time order.
TEST(Migration17Test, CardsWaitForTheirHoldersAndGrantsKeepTheirOrder) {
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("kakunin_migration17_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    Sql db((dir / "r.db").string());
    for (const auto& m : kMigrations) {
      if (m.version < 17) db.Exec(m.sql);
    }
    db.Exec(
        "INSERT INTO operator_credentials (credential_id, operator_id, kind, alg, public_key, "
        "sign_count, created_at) VALUES (x'01', 'op', 'certificate', 0, x'', 0, 100), "
        "(x'02', 'op', 'webauthn', -7, x'00', 0, 200);"
        "INSERT INTO operator_roles (operator_id, role, granted_at, approved_by, withdrawn_at, "
        "withdrawn_by) VALUES ('op', 'operator', 300, 'chief', 0, ''), "
        "('op', 'auditor', 100, 'chief', 200, 'chief');");
    for (const auto& m : kMigrations) {
      if (m.version == 17) db.Exec(m.sql);
    }
    EXPECT_EQ(db.Column("SELECT confirmed_at FROM operator_credentials ORDER BY credential_id"),
              (std::vector<std::string>{"0", "200"}));
    EXPECT_EQ(db.Column("SELECT role || ':' || withdrawn_at FROM operator_roles ORDER BY grant_id"),
              (std::vector<std::string>{"auditor:200", "operator:0"}));
    // The auditor role granted again: a grant of its own, the withdrawn one kept.
    db.Exec("INSERT INTO operator_roles (operator_id, role, granted_at, approved_by) "
            "VALUES ('op', 'auditor', 400, 'chief')");
    EXPECT_EQ(db.Column("SELECT count(*) FROM operator_roles WHERE role = 'auditor'"),
              (std::vector<std::string>{"2"}));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kakunin::cli
