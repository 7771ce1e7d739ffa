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
#include "cli/node_server.h"
#include "crypto/pki.h"
#include "domain/notification.h"
#include "support/test_client.h"
#include "openapi/openapi_check.h"
#include "text/json.h"

namespace kakunin {
namespace {

namespace fs = std::filesystem;
using http::testing::ClientOptions;
using http::testing::ClientResponse;
using http::testing::TestClient;
using ::testing::HasSubstr;

class QuotaApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/kakunin-quota-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    const std::string node_dir = dir_ + "/node";
    ASSERT_TRUE(app::InitNode(node_dir, 19, "").ok());
    auto node = app::OpenNode(node_dir);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    node_ = std::move(*node);

    GenerateOptions gen;
    gen.seed = 5;
    auto g = NotificationGenerator::Create(gen);
    ASSERT_TRUE(g.ok());
    std::vector<registry::PreparedNotification> batch;
    const CheckOptions options = node_->registry->check_options();
    for (int i = 0; i < 5; ++i) {
      Notification n = (*g)->Next();
      code_ = n.resident_code.str();
      batch.push_back(node_->registry->Prepare(CheckJsonNotification(ToCanonicalJson(n), options)));
    }
    auto applied = node_->registry->Apply(batch, node_->actor);
    ASSERT_TRUE(applied.ok());

    const std::string ca = dir_ + "/ca";
    ASSERT_TRUE(crypto::CreateCertificateAuthority(ca, "Test CA", 365).ok());
    ca_file_ = ca + "/ca.pem";
    ASSERT_TRUE(crypto::IssueServerCertificate(ca, {"localhost"}, {"127.0.0.1"}, 30,
                                               dir_ + "/server.pem", dir_ + "/server.key")
                    .ok());
    crypto::ClientCertRequest req;
    req.kind = crypto::ClientKind::kAgency;
    req.name = "山梨県教育委員会";
    req.days = 30;
    auto issued = crypto::IssueClientCertificate(ca, req, dir_ + "/board.pem", dir_ + "/board.key");
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();
    spki_ = issued->spki_sha256_hex;
    registry::Client client;
    client.spki_sha256 = spki_;
    client.kind = registry::ClientKind::kAgency;
    client.name = "山梨県教育委員会";
    client.recipient = "agency:yamanashi-board-of-education";
    client.purposes = {"board.school_aid"};
    ASSERT_TRUE(node_->gateway->Register(client, node_->actor).ok());

    // Five reads a minute and a day for this purpose: the sixth is refused whatever the hour.
    node_->config.quotas.purposes["board.school_aid"].requests_per_minute = 5;
    node_->config.quotas.purposes["board.school_aid"].requests_per_day = 5;
    registry::ServerConfig sc;
    sc.present = true;
    sc.port = 0;
    sc.certificate = dir_ + "/server.pem";
    sc.key = dir_ + "/server.key";
    sc.client_ca = ca_file_;
    sc.worker_threads = 2;
    access_log_path_ = dir_ + "/access.log";
    access_log_ = std::fopen(access_log_path_.c_str(), "w");
    auto started = cli::NodeServer::Start(node_.get(), sc, access_log_);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(*started);
    auto checker = testing::OpenApiChecker::Load(api::OpenApiDocument());
    ASSERT_TRUE(checker.ok());
    openapi_ = std::make_unique<testing::OpenApiChecker>(std::move(*checker));
  }

  void TearDown() override {
    if (server_) {
      EXPECT_TRUE(server_->Stop().ok());
    }
    server_.reset();
    if (access_log_) std::fclose(access_log_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  ClientResponse Get(const std::string& target) {
    ClientOptions o;
    o.ca_file = ca_file_;
    o.cert_file = dir_ + "/board.pem";
    o.key_file = dir_ + "/board.key";
    std::string error;
    auto client = TestClient::Connect(server_->port(), o, &error);
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

  std::string dir_, ca_file_, spki_, code_, access_log_path_;
  std::unique_ptr<app::Node> node_;
  std::unique_ptr<cli::NodeServer> server_;
  std::FILE* access_log_ = nullptr;
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
  auto reader = node_->store->OpenReader();
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

  std::ifstream in(access_log_path_);
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_THAT(log.str(),
              HasSubstr("\"event\":\"alert\",\"rule\":\"quota_exceeded\",\"actor\":\"cert:" +
                        spki_ + "\""));
  EXPECT_THAT(log.str(), ::testing::Not(HasSubstr(code_)));
}

}  // namespace
}  // namespace kakunin
