#include "app/config.h"

#include <gtest/gtest.h>

namespace kakunin::app {
namespace {

using registry::NodeConfig;
using registry::NodeRole;
using registry::QuotaLimits;

TEST(ConfigTest, RendersWhatItParses) {
  NodeConfig c;
  c.prefecture = 19;
  c.key_file = "/etc/kakunin/keys";
  c.superseded_retention_years = 120;
  auto back = ParseNodeConfig(RenderNodeConfig(c), "/data");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->prefecture, 19);
  EXPECT_EQ(back->role, NodeRole::kPrefecture);
  EXPECT_EQ(back->database_path, "/data/registry.db");
  EXPECT_EQ(back->key_file, "/etc/kakunin/keys");
  EXPECT_EQ(back->superseded_retention_years, 120);
  EXPECT_EQ(back->removed_retention_years, 150);
  EXPECT_EQ(back->resident_code_check, ResidentCodeCheck::kFull);
}

// [audit] map_every_checkpoint: off unless set, and kept when the file is written back (as
// migrate-store and init do).
TEST(ConfigTest, MapEveryCheckpointParsesAndRendersBack) {
  auto off = ParseNodeConfig("role = \"prefecture\"\nprefecture = 19\n", "/d");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->audit_map_every_checkpoint);
  EXPECT_EQ(RenderNodeConfig(*off).find("[audit]"), std::string::npos);
  auto on = ParseNodeConfig(
      "role = \"prefecture\"\nprefecture = 19\n[audit]\nmap_every_checkpoint = true\n", "/d");
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_TRUE(on->audit_map_every_checkpoint);
  auto back = ParseNodeConfig(RenderNodeConfig(*on), "/d");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->audit_map_every_checkpoint);
}

// [operators] require_training: on unless set to false (the operating rules' 研修), kept when the
// file is written back, and nothing but a boolean.
TEST(ConfigTest, RequireTrainingIsOnUnlessTurnedOff) {
  auto on = ParseNodeConfig("role = \"prefecture\"\nprefecture = 19\n", "/d");
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(on->operators_require_training);
  EXPECT_EQ(RenderNodeConfig(*on).find("[operators]"), std::string::npos);
  auto off = ParseNodeConfig(
      "role = \"prefecture\"\nprefecture = 19\n[operators]\nrequire_training = false\n", "/d");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->operators_require_training);
  auto back = ParseNodeConfig(RenderNodeConfig(*off), "/d");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->operators_require_training);
  for (const char* bad : {"[operators]\nrequire_training = \"no\"\n",
                          "[operators]\nrequire_trainings = false\n", "operators = 1\n"}) {
    EXPECT_FALSE(
        ParseNodeConfig(std::string("role = \"prefecture\"\nprefecture = 19\n") + bad, "/d").ok())
        << bad;
  }
}

// Regression (found by node_config_fuzzer): a path with a backslash or quote was written
// unescaped, so the rendered file no longer parsed to the same configuration.
TEST(ConfigTest, PathsWithEscapesRoundTrip) {
  for (const char* path : {"keyfre\\vull", "a\"b", "tab\there", "/etc/鍵/keys"}) {
    NodeConfig c;
    c.prefecture = 19;
    c.key_file = std::string("/") + path;
    auto back = ParseNodeConfig(RenderNodeConfig(c), "/d");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->key_file, c.key_file);
  }
}

TEST(ConfigTest, DefaultsAndRelativePaths) {
  auto c = ParseNodeConfig("role = \"prefecture\"\nprefecture = 13\n", "/d");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->key_file, "/d/keys");
  EXPECT_EQ(c->superseded_retention_years, 150);
}

TEST(ConfigTest, RejectsWhatCouldSilentlyMisconfigure) {
  const char* bad[] = {
      "",                                                               // no role
      "role = \"county\"\nprefecture = 19\n",                           // unknown role
      "role = \"prefecture\"\n",                                        // no prefecture
      "role = \"prefecture\"\nprefecture = 48\n",                       // out of range
      "role = \"prefecture\"\nprefecture = \"19\"\n",                   // wrong type
      "role = \"prefecture\"\nprefecture = 19\nprefectrue = 19\n",      // typo: unknown key
      "role = \"prefecture\"\nprefecture = 19\n[retention]\nremoved_yaers = 5\n",
      "role = \"prefecture\"\nprefecture = 19\n[retention]\nremoved_years = 0\n",
      // Shorter than provision records and the log are kept (7 years).
      "role = \"prefecture\"\nprefecture = 19\n[retention]\naudit_years = 1\n",
      "role = \"prefecture\"\nprefecture = 19\n[retention]\naudit_years = 4\n",
      "role = \"prefecture\"\nprefecture = 19\n[retention]\naudit_years = 6\n",
      "role = \"prefecture\"\nprefecture = 19\n[retention]\nremoved_years = \"150\"\n",
      "role = \"prefecture\"\nprefecture = 19\n[checks]\nresident_code_check = \"lax\"\n",
      "role = \"prefecture\"\nprefecture = 19\nkey_file = \"\"\n",
      "role = \"prefecture\"\nprefecture = 19\nretention = 5\n",
      "role = \"prefecture\"\nprefecture = 19\n[audit]\nmap_every_checkpoint = \"yes\"\n",
      "role = \"prefecture\"\nprefecture = 19\n[audit]\nmap_every_checkpiont = true\n",
      "role = \"prefecture\"\nprefecture = 19\naudit = true\n",
      "role = \"prefecture\" prefecture = 19\n",                        // syntax
      "role = \"prefecture\"\nrole = \"national\"\nprefecture = 19\n",  // duplicate key
      // A national node has no prefecture: with one, only a prefecture database would match.
      "role = \"national\"\nprefecture = 19\n",
  };
  for (const char* text : bad) {
    auto c = ParseNodeConfig(text, "/d");
    EXPECT_FALSE(c.ok()) << text;
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

// The [quotas] table (docs/quotas.md).

constexpr char kBase[] = "role = \"prefecture\"\nprefecture = 19\n";

// Issue 13: [database] chooses the store; SQLite stays the default.
TEST(DatabaseConfigTest, KindAndUrlParseAndRenderBack) {
  auto sqlite = ParseNodeConfig("role = \"prefecture\"\nprefecture = 19\n", "/d");
  ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
  EXPECT_EQ(sqlite->database_kind, "sqlite");
  EXPECT_EQ(sqlite->database_path, "/d/registry.db");
  auto table = ParseNodeConfig(
      "role = \"prefecture\"\nprefecture = 19\n[database]\nkind = \"sqlite\"\npath = \"r.db\"\n",
      "/d");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->database_path, "/d/r.db");
  const std::string url = "postgresql://kakunin@db1,db2/kakunin?target_session_attrs=read-write";
  auto pg = ParseNodeConfig("role = \"national\"\n[database]\nkind = \"postgresql\"\nurl = \"" +
                                url + "\"\n",
                            "/d");
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  EXPECT_EQ(pg->database_kind, "postgresql");
  EXPECT_EQ(pg->database_url, url);
  auto back = ParseNodeConfig(RenderNodeConfig(*pg), "/d");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << RenderNodeConfig(*pg);
  EXPECT_EQ(back->database_kind, "postgresql");
  EXPECT_EQ(back->database_url, url);
}

TEST(DatabaseConfigTest, RejectsWhatCouldSilentlyMisconfigure) {
  for (const char* body : {
           "[database]\nkind = \"postgres\"\nurl = \"x\"\n",        // a misspelt kind
           "[database]\nkind = \"postgresql\"\n",                    // no url
           "[database]\nkind = \"postgresql\"\nurl = \"\"\n",         // an empty url
           "[database]\nurl = \"postgresql:///k\"\n",                 // a url for SQLite
           "[database]\nkind = \"postgresql\"\nurl = \"x\"\npath = \"r.db\"\n",
           "[database]\nkind = \"postgresql\"\nurl = 5\n",
           "[database]\nkind = \"sqlite\"\nhost = \"db1\"\n",         // an unknown key
       }) {
    auto c = ParseNodeConfig(std::string("role = \"prefecture\"\nprefecture = 19\n") + body, "/d");
    EXPECT_FALSE(c.ok()) << body;
  }
}

TEST(QuotaConfigTest, DefaultsWithoutATable) {
  auto c = ParseNodeConfig(kBase, "/d");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->quotas.enabled);
  EXPECT_FALSE(c->quotas.present);
  EXPECT_EQ(c->quotas.defaults, (QuotaLimits{120, 600, 10000, 10000}));
}

TEST(QuotaConfigTest, ParsesOverridesAndRendersThemBack) {
  const std::string text = std::string(kBase) +
                           "[quotas]\nrequests_per_minute = 60\nalert_interval_minutes = 15\n"
                           "[quotas.operator]\nresidents_per_day = 500\n"
                           "[quotas.purpose.\"board.school_aid\"]\nresidents_per_day = 50000\n";
  auto c = ParseNodeConfig(text, "/d");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->quotas.defaults.requests_per_minute, 60);
  EXPECT_EQ(c->quotas.defaults.residents_per_minute, 600);
  EXPECT_EQ(c->quotas.alert_interval_minutes, 15);
  EXPECT_EQ(c->quotas.operators.residents_per_day, 500);
  ASSERT_EQ(c->quotas.purposes.count("board.school_aid"), 1u);
  EXPECT_EQ(c->quotas.LimitsFor(false, "board.school_aid").residents_per_day, 50000);
  EXPECT_EQ(c->quotas.LimitsFor(true, "other").residents_per_day, 500);
  auto back = ParseNodeConfig(RenderNodeConfig(*c), "/d");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << RenderNodeConfig(*c);
  EXPECT_EQ(back->quotas.defaults, c->quotas.defaults);
  EXPECT_EQ(back->quotas.operators, c->quotas.operators);
  EXPECT_EQ(back->quotas.purposes, c->quotas.purposes);
  EXPECT_EQ(back->quotas.alert_interval_minutes, 15);
}

TEST(QuotaConfigTest, RejectsWhatCouldSilentlyMisconfigure) {
  const char* bad[] = {
      "[quotas]\nrequests_per_minut = 5\n",                        // typo: unknown key
      "[quotas]\nrequests_per_minute = 0\n",                       // zero is not "unlimited"
      "[quotas]\nresidents_per_day = -1\n",                        // negative
      "[quotas]\nrequests_per_day = \"100\"\n",                    // wrong type
      "[quotas]\nrequests_per_day = 1.5\n",                        // not an integer
      "[quotas]\nresidents_per_minute = 10000000000\n",            // absurd
      "[quotas]\nenabled = \"no\"\n",                              // not a boolean
      "[quotas]\nalert_interval_minutes = 0\n",                    //
      "quotas = 5\n",                                              // not a table
      "[quotas.operator]\nrequests = 5\n",                         // unknown key
      "[quotas.operator]\nrequests_per_minute = 0\n",              //
      "[quotas.purpose.\"board.school_aid\"]\nenabled = false\n",  // not a limit
      "[quotas.purpose.\"board.school_aid\"]\nrequests_per_day = 0\n",
      "[quotas.purpose.\"Board School\"]\nrequests_per_day = 5\n",  // not a purpose id
      "[quotas]\npurpose = 5\n",                                    // not a table
      "[quotas]\npurpose.x = 5\n",                                  // a purpose that is no table
  };
  for (const char* tail : bad) {
    auto c = ParseNodeConfig(std::string(kBase) + tail, "/d");
    EXPECT_FALSE(c.ok()) << tail;
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << tail;
    }
  }
}

// [limits] (docs/import.md): the memory and queue bounds, checked and rendered back.
TEST(LimitsConfigTest, ParsesChecksAndRendersBack) {
  const std::string base = "role = \"prefecture\"\nprefecture = 19\n";
  auto d = ParseNodeConfig(base, "/d");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->limits.present);
  EXPECT_EQ(d->limits.cache_mib, 64);
  EXPECT_EQ(d->limits.import_batch, 50000);
  EXPECT_EQ(d->limits.import_queue, 1);
  EXPECT_EQ(d->limits.write_batch, 256);
  auto c = ParseNodeConfig(base + "[limits]\ncache_mib = 200\nimport_batch = 1000\n"
                                  "import_queue = 2\nwrite_batch = 64\n",
                           "/d");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto back = ParseNodeConfig(RenderNodeConfig(*c), "/d");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->limits.present);
  EXPECT_EQ(back->limits.cache_mib, 200);
  EXPECT_EQ(back->limits.import_batch, 1000);
  EXPECT_EQ(back->limits.import_queue, 2);
  EXPECT_EQ(back->limits.write_batch, 64);
  for (const char* bad : {"cache_mib = 0", "import_batch = -1", "import_queue = 65",
                          "write_batch = \"many\"", "page_cache = 10"}) {
    auto r = ParseNodeConfig(base + "[limits]\n" + bad + "\n", "/d");
    EXPECT_FALSE(r.ok()) << bad;
  }
}

}  // namespace
}  // namespace kakunin::app
