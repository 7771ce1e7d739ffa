// Read quotas over HTTPS (docs/quotas.md): a real node with a small quota for one purpose, an
// agency's certificate reading past it — 429 quota_exceeded as the OpenAPI document says, the
// refusal in the operation log, the metrics, and the alert line in the access log.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/service.h"
#include "app/node.h"
#include "cli/generate.h"
#include "app/node_server.h"
#include "crypto/pki.h"
#include "domain/notification.h"
#include "support/node_world.h"
#include "support/test_client.h"
#include "openapi/openapi_check.h"
#include "text/json.h"

namespace kakunin {
namespace {

using http::testing::ClientOptions;
using http::testing::ClientResponse;
using http::testing::TestClient;
using ::testing::HasSubstr;

class QuotaApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status st = world_.MakeNode("quota");
    ASSERT_TRUE(st.ok()) << st.ToString();
    GenerateOptions gen;
    gen.seed = 5;
    st = world_.ApplyGenerated(
        gen, 5, [&](const Notification& n) { code_ = n.resident_code.str(); },
        /*every_one_ok=*/false);
    ASSERT_TRUE(st.ok()) << st.ToString();

    ASSERT_TRUE(world_.MakeCa().ok());
    crypto::ClientCertRequest req;
    req.kind = crypto::ClientKind::kAgency;
    req.name = "山梨県教育委員会";
    req.days = 30;
    auto issued = world_.IssueClientCert(req, "board");
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();
    spki_ = issued->spki;
    ASSERT_TRUE(world_
                    .RegisterClient(*issued, registry::ClientKind::kAgency, "山梨県教育委員会", "",
                                    "agency:yamanashi-board-of-education", {"board.school_aid"})
                    .ok());

    // Five reads a minute and a day for this purpose: the sixth is refused whatever the hour.
    world_.node->config.quotas.purposes["board.school_aid"].requests_per_minute = 5;
    world_.node->config.quotas.purposes["board.school_aid"].requests_per_day = 5;
    st = world_.StartServer(world_.ServerConfig(2), /*access_log=*/true);
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto checker = testing::OpenApiChecker::Load(api::OpenApiDocument());
    ASSERT_TRUE(checker.ok());
    openapi_ = std::make_unique<testing::OpenApiChecker>(std::move(*checker));
  }

  void TearDown() override { world_.TearDown(); }

  ClientResponse Get(const std::string& target) {
    ClientOptions o;
    o.ca_file = world_.ca_file();
    o.cert_file = world_.dir + "/board.pem";
    o.key_file = world_.dir + "/board.key";
    std::string error;
    auto client = TestClient::Connect(world_.server->port(), o, &error);
    EXPECT_NE(client, nullptr);
    if (!client) return {};
    auto r = client->RoundTrip("GET " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_TRUE(r.has_value());
    if (!r) return {};
    const std::string path = target.substr(0, target.find('?'));
    Status st = openapi_->CheckResponse("GET", path, r->status, r->Header("content-type"), r->body);
    EXPECT_TRUE(st.ok()) << path << ": " << st.ToString() << "\n" << r->body;
    return *r;
  }

  testing::NodeWorld world_;
  std::string spki_, code_;
  std::unique_ptr<testing::OpenApiChecker> openapi_;
};

TEST_F(QuotaApiTest, AReadOverQuotaIs429RecordedCountedAndAlerted) {
  const std::string lookup = "/v1/residents/" + code_ + "?purpose=board.school_aid";
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Get(lookup).status, 200) << i;
  ClientResponse refused = Get(lookup);
  ASSERT_EQ(refused.status, 429) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("\"code\":\"quota_exceeded\""));
  EXPECT_EQ(refused.Header("retry-after"), "60");
  EXPECT_THAT(refused.body, ::testing::Not(HasSubstr(code_)));

  // Recorded, under the read's action, without the resident code asked for.
  auto reader = world_.node->store->OpenReader();
  ASSERT_TRUE(reader.ok());
  store::AuditQuery q;
  q.actor = "cert:" + spki_;
  auto rows = (*reader)->SearchAudit(q);
  ASSERT_TRUE(rows.ok());
  int refusals = 0;
  bool alert = false;
  for (const auto& row : *rows) {
    auto e = audit::DecodeEntry(*row.payload);
    ASSERT_TRUE(e.ok());
    if (e->outcome == "refused:quota_exceeded") {
      ++refusals;
      EXPECT_EQ(e->action, "resident.provide");
      EXPECT_TRUE(e->targets.empty());
    }
    alert = alert ||
            (e->action == "alert.raised" && e->conditions.rfind("rule=quota_exceeded", 0) == 0);
  }
  EXPECT_EQ(refusals, 1);
  EXPECT_TRUE(alert);

  ClientResponse metrics = Get("/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("kakunin_quota_refusals_total{kind=\"client\"} 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("kakunin_quota_refusals_total{kind=\"operator\"} 0\n"));
  EXPECT_THAT(metrics.body, HasSubstr("kakunin_alerts_total{rule=\"quota_exceeded\"} 1\n"));

  std::ifstream in(world_.access_log_path);
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_THAT(log.str(),
              HasSubstr("\"event\":\"alert\",\"rule\":\"quota_exceeded\",\"actor\":\"cert:" +
                        spki_ + "\""));
  EXPECT_THAT(log.str(), ::testing::Not(HasSubstr(code_)));
}

}  // namespace
}  // namespace kakunin
