// [hsm] in kakunin.toml (docs/keys.md): strict, never a PIN, rendered back the same.

#include <gtest/gtest.h>

#include "app/config.h"

namespace kakunin::app {
namespace {

constexpr char kBase[] = "role = \"prefecture\"\nprefecture = 19\n";

TEST(HsmConfigTest, ParsesAndRendersBack) {
  std::string text = std::string(kBase) +
                     "[hsm]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\ntoken = \"kakunin\"\n"
                     "pin_file = \"hsm.pin\"\nsigning_key_label = \"sign-2\"\n";
  auto c = ParseNodeConfig(text, "/d");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->hsm);
  EXPECT_EQ(c->hsm->module, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(c->hsm->token_label, "kakunin");
  EXPECT_EQ(c->hsm->pin_file, "/d/hsm.pin");  // relative to the data directory
  EXPECT_EQ(c->hsm->signing_key_label, "sign-2");
  EXPECT_EQ(c->hsm->wrap_key_label, "kakunin-wrap");  // the default
  auto back = ParseNodeConfig(RenderNodeConfig(*c), "/elsewhere");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << RenderNodeConfig(*c);
  ASSERT_TRUE(back->hsm);
  EXPECT_EQ(back->hsm->pin_file, "/d/hsm.pin");
  EXPECT_EQ(back->hsm->signing_key_label, "sign-2");
  EXPECT_EQ(RenderNodeConfig(*back), RenderNodeConfig(*c));

  auto env = ParseNodeConfig(std::string(kBase) +
                                 "[hsm]\nmodule = \"/m.so\"\ntoken = \"t\"\npin_env = \"PIN\"\n",
                             "/d");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->hsm->pin_env, "PIN");
  EXPECT_TRUE(env->hsm->signing_key_label.empty());  // the signing key stays in its file
  EXPECT_FALSE(ParseNodeConfig(kBase, "/d")->hsm);
}

TEST(HsmConfigTest, RefusesAPinAndWhatCouldSilentlyMisconfigure) {
  const char* bad[] = {
      "[hsm]\nmodule = \"/m.so\"\ntoken = \"t\"\npin = \"1234\"\n",        // the PIN itself
      "[hsm]\nmodule = \"/m.so\"\ntoken = \"t\"\n",                        // no PIN source
      "[hsm]\nmodule = \"/m.so\"\ntoken = \"t\"\npin_file = \"p\"\npin_env = \"E\"\n",  // both
      "[hsm]\nmodule = \"m.so\"\ntoken = \"t\"\npin_env = \"E\"\n",        // relative module
      "[hsm]\ntoken = \"t\"\npin_env = \"E\"\n",                           // no module
      "[hsm]\nmodule = \"/m.so\"\npin_env = \"E\"\n",                      // no token
      "[hsm]\nmodule = \"/m.so\"\ntoken = \"t\"\npin_env = \"E\"\nlabel = \"x\"\n",  // unknown
      "[hsm]\nmodule = \"/m.so\"\ntoken = \"t\"\npin_env = \"\"\n",        // empty
      "[hsm]\nmodule = \"/m.so\"\ntoken = \"a-token-label-longer-than-32-bytes\"\npin_env = \"E\"\n",
      "hsm = \"/m.so\"\n",                                                 // not a table
  };
  for (const char* b : bad) {
    auto c = ParseNodeConfig(std::string(kBase) + b, "/d");
    EXPECT_FALSE(c.ok()) << b;
    if (!c.ok()) {
      EXPECT_EQ(c.status().message().find("1234"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace kakunin::app
