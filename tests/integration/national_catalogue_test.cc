// The sample national catalogue (data/purposes/national.toml): it loads, and a node configured
// with it serves an agency (日本年金機構) reading for a 別表第一 purpose through the lookup route,
// with only that purpose's fields, and refuses a purpose the agency is not registered for.

#include <gtest/gtest.h>

#include <string>

#include "app/node.h"
#include "registry/purposes.h"
#include "support/node_world.h"
#include "support/test_client.h"
#include "text/json.h"

namespace kakunin::testing {
namespace {

const std::string kCatalogue = std::string(KAKUNIN_SOURCE_DIR) + "/data/purposes/national.toml";

TEST(NationalCatalogueTest, LoadsAndProvidesOnlyToNationalBodies) {
  auto c = registry::PurposeCatalogue::Load(kCatalogue);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_GE(c->purposes().size(), 3u);
  for (const auto& p : c->purposes()) {
    SCOPED_TRACE(p.id);
    EXPECT_EQ(p.kind, registry::PurposeKind::kProvision);
    EXPECT_FALSE(p.OpenToOperators());
    EXPECT_NE(p.legal_basis.find("別表第一"), std::string::npos);
    for (const auto& r : p.recipients) EXPECT_EQ(r.rfind("agency:", 0), 0u) << r;
    // A purpose without a 項 number says it is an example.
    if (p.legal_basis.find("の項") == std::string::npos) {
      EXPECT_NE(p.id.find(".example"), std::string::npos);
    }
  }
  const registry::Purpose* pension = c->Find("nenkin.pension");
  ASSERT_NE(pension, nullptr);
  EXPECT_TRUE(pension->AllowsRecipient("agency:nenkin"));
  EXPECT_NE(pension->legal_basis.find("第七十三の項"), std::string::npos);
}

TEST(NationalCatalogueTest, ANodeWithItServesAnAgencyForAPurposeOfTheFirstTable) {
  NodeWorld w;
  ASSERT_TRUE(w.MakeNode("national-catalogue").ok());
  // The node's configuration names the national catalogue; reopen it.
  registry::NodeConfig config = w.node->config;
  config.purposes_file = kCatalogue;
  const std::string node_dir = w.dir + "/node";
  w.node.reset();
  ASSERT_TRUE(app::WriteNodeConfig(node_dir, config).ok());
  auto reopened = app::OpenNode(node_dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  w.node = std::move(*reopened);
  ASSERT_NE(w.node->purposes->Find("nenkin.pension"), nullptr);
  ASSERT_EQ(w.node->purposes->Find("board.school_aid"), nullptr);

  std::vector<Notification> residents;
  ASSERT_TRUE(
      w.ApplyGenerated({.seed = 8}, 20, [&](Notification& n) { residents.push_back(n); }).ok());
  ASSERT_TRUE(w.MakeCa().ok());
  auto nenkin = w.IssueClientCert({crypto::ClientKind::kAgency, "日本年金機構"}, "nenkin");
  ASSERT_TRUE(nenkin.ok()) << nenkin.status().message();
  ASSERT_TRUE(w.RegisterClient(*nenkin, registry::ClientKind::kAgency, "日本年金機構", "",
                               "agency:nenkin", {"nenkin.address_check"})
                  .ok());
  ASSERT_TRUE(w.StartServer(w.ServerConfig(2)).ok());

  http::testing::ClientOptions o;
  o.ca_file = w.ca_file();
  o.cert_file = nenkin->pem;
  o.key_file = nenkin->key;
  std::string error;
  auto client = http::testing::TestClient::Connect(w.server->port(), o, &error);
  ASSERT_NE(client, nullptr) << error;
  auto get = [&](const std::string& purpose) {
    return client->RoundTrip("GET /v1/residents/" + residents[3].resident_code.str() +
                             "?purpose=" + purpose + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  };
  auto r = get("nenkin.address_check");
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find(residents[3].address), std::string::npos);
  // Only the purpose's fields: no 個人番号, no kana.
  EXPECT_EQ(r->body.find(residents[3].individual_number.str()), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("name_kana"), std::string::npos) << r->body;

  // A 別表第一 purpose of the same body it is not registered for, and another body's purpose.
  for (const char* purpose : {"nenkin.pension", "mofa.passport.example", "board.school_aid"}) {
    auto refused = get(purpose);
    ASSERT_TRUE(refused.has_value()) << purpose;
    EXPECT_EQ(refused->status, 403) << purpose << " " << refused->body;
  }
}

}  // namespace
}  // namespace kakunin::testing
