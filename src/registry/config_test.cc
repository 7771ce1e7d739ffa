#include "registry/config.h"

#include <gtest/gtest.h>

namespace kakunin::registry {
namespace {

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
      "role = \"prefecture\"\nprefecture = 19\n[retention]\nremoved_years = \"150\"\n",
      "role = \"prefecture\"\nprefecture = 19\n[checks]\nresident_code_check = \"lax\"\n",
      "role = \"prefecture\"\nprefecture = 19\nkey_file = \"\"\n",
      "role = \"prefecture\"\nprefecture = 19\nretention = 5\n",
      "role = \"prefecture\" prefecture = 19\n",                        // syntax
      "role = \"prefecture\"\nrole = \"national\"\nprefecture = 19\n",  // duplicate key
  };
  for (const char* text : bad) {
    auto c = ParseNodeConfig(text, "/d");
    EXPECT_FALSE(c.ok()) << text;
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace kakunin::registry
