// [upstream]: the link to the national node in kakunin.toml (registry/config.h).

#include <gtest/gtest.h>

#include "app/config.h"

namespace kakunin::app {
namespace {

constexpr char kPrefecture[] = "role = \"prefecture\"\nprefecture = 19\n";

TEST(UpstreamConfigTest, ParsesRendersAndResolvesPaths) {
  auto c = ParseNodeConfig(std::string(kPrefecture) +
                               "[upstream]\nurl = \"https://national.example:9443\"\n"
                               "ca_file = \"tls/ca.pem\"\ncert_file = \"/etc/link.pem\"\n"
                               "key_file = \"tls/link.key\"\nbatch_size = 50\n"
                               "ready_threshold_seconds = 30\n",
                           "/data");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->upstream.present);
  EXPECT_EQ(c->upstream.ca_file, "/data/tls/ca.pem");
  EXPECT_EQ(c->upstream.cert_file, "/etc/link.pem");
  EXPECT_EQ(c->upstream.batch_size, 50);
  EXPECT_EQ(c->upstream.ready_threshold_seconds, 30);
  EXPECT_EQ(c->upstream.retry_max_ms, 30000);  // a default
  auto back = ParseNodeConfig(RenderNodeConfig(*c), "/data");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->upstream.url, c->upstream.url);
  EXPECT_EQ(back->upstream.key_file, "/data/tls/link.key");
  EXPECT_EQ(back->upstream.batch_size, 50);
  // Without the table, no link.
  auto none = ParseNodeConfig(kPrefecture, "/data");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->upstream.present);
}

TEST(UpstreamConfigTest, RefusesWhatWouldNotDeliver) {
  const std::string files = "ca_file = \"a\"\ncert_file = \"b\"\nkey_file = \"c\"\n";
  for (const std::string& bad : {
           std::string(kPrefecture) + "[upstream]\n" + files,  // no url
           std::string(kPrefecture) + "[upstream]\nurl = \"http://x\"\n" + files,
           std::string(kPrefecture) + "[upstream]\nurl = \"https://x\"\nca_file = \"a\"\n",
           std::string(kPrefecture) + "[upstream]\nurl = \"https://x\"\n" + files +
               "batch_size = 5000\n",
           std::string(kPrefecture) + "[upstream]\nurl = \"https://x\"\n" + files +
               "retry_min_ms = 500\nretry_max_ms = 100\n",
           std::string(kPrefecture) + "[upstream]\nurl = \"https://x\"\n" + files + "typo = 1\n",
           // A national node forwards to nobody.
           std::string("role = \"national\"\n[upstream]\nurl = \"https://x\"\n") + files,
       }) {
    EXPECT_FALSE(ParseNodeConfig(bad, "/data").ok()) << bad;
  }
}

}  // namespace
}  // namespace kakunin::app
