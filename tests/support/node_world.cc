#include "support/node_world.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <utility>

#include "registry/registry.h"
#include "support/pg_server.h"

namespace kakunin::testing {

NodeWorld::~NodeWorld() { TearDown(); }

Status NodeWorld::MakeNode(const std::string& name) {
  ::signal(SIGPIPE, SIG_IGN);
  std::string tmpl = "/tmp/kakunin-" + name + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return Status::Internal("mkdtemp failed");
  dir = tmpl;
  const std::string node_dir = dir + "/node";
  // With KAKUNIN_TEST_STORE=postgresql the node keeps its registry in a fresh schema on the test
  // process's own PostgreSQL server, as the registry's suites do (support/registry_fixture.h).
  std::string database_url;
  if (TestStoreKind() == "postgresql") {
    static int next = 0;
    KAKUNIN_ASSIGN_OR_RETURN(url, PgServer::Shared()->FreshSchema("w" + std::to_string(++next)));
    database_url = url;
  }
  KAKUNIN_RETURN_IF_ERROR(app::InitNode(node_dir, 19, "", database_url));
  KAKUNIN_ASSIGN_OR_RETURN(opened, app::OpenNode(node_dir));
  node = std::move(opened);
  return Status::Ok();
}

Status NodeWorld::ApplyGenerated(const GenerateOptions& options, int count,
                                 const std::function<void(Notification&)>& each,
                                 bool every_one_ok) {
  KAKUNIN_ASSIGN_OR_RETURN(g, NotificationGenerator::Create(options));
  std::vector<registry::PreparedNotification> batch;
  const CheckOptions check = node->registry->check_options();
  for (int i = 0; i < count; ++i) {
    Notification n = g->Next();
    batch.push_back(node->registry->Prepare(CheckJsonNotification(ToCanonicalJson(n), check)));
    if (each) each(n);
  }
  KAKUNIN_ASSIGN_OR_RETURN(applied, node->registry->Apply(batch, node->actor));
  if (every_one_ok) {
    for (const auto& r : applied) {
      if (!r.ok()) return Status::Internal("a generated notification was refused");
    }
  }
  return Status::Ok();
}

Status NodeWorld::MakeCa() {
  ca = dir + "/ca";
  // Longer than the clients' default 365 days: a client certificate issued a second after
  // the CA would otherwise outlive it and be refused (a flake when the second turned between).
  KAKUNIN_RETURN_IF_ERROR(crypto::CreateCertificateAuthority(ca, "Test CA", 3650));
  return crypto::IssueServerCertificate(ca, {"localhost"}, {"127.0.0.1"}, 30, dir + "/server.pem",
                                        dir + "/server.key")
      .status();
}

Result<Cert> NodeWorld::IssueClientCert(const crypto::ClientCertRequest& req,
                                        const std::string& file, const Clock* clock,
                                        const std::string& ca_dir) {
  const std::string from = ca_dir.empty() ? ca : ca_dir;
  const std::string base = dir + "/" + file;
  KAKUNIN_ASSIGN_OR_RETURN(
      issued,
      clock == nullptr
          ? crypto::IssueClientCertificate(from, req, base + ".pem", base + ".key")
          : crypto::IssueClientCertificate(from, req, base + ".pem", base + ".key", *clock));
  return Cert{base + ".pem", base + ".key", issued.spki_sha256_hex, issued.serial_hex};
}

Status NodeWorld::RegisterClient(const Cert& cert, registry::ClientKind kind,
                                 const std::string& name, const std::string& municipality,
                                 const std::string& recipient, std::vector<std::string> purposes) {
  registry::Client client;
  client.spki_sha256 = cert.spki;
  client.kind = kind;
  client.name = name;
  client.municipality_code = municipality;
  client.recipient = recipient;
  client.purposes = std::move(purposes);
  return node->gateway->Register(client, node->actor);
}

registry::ServerConfig NodeWorld::ServerConfig(int worker_threads) const {
  registry::ServerConfig sc;
  sc.present = true;
  sc.port = 0;
  sc.certificate = dir + "/server.pem";
  sc.key = dir + "/server.key";
  sc.client_ca = ca_file();
  sc.worker_threads = worker_threads;
  return sc;
}

registry::ConsoleConfig NodeWorld::ConsoleConfig() {
  registry::ConsoleConfig cc;
  cc.present = true;
  cc.port = 0;
  cc.web_dir = KAKUNIN_SOURCE_DIR "/web";
  return cc;
}

Status NodeWorld::StartServer(const registry::ServerConfig& sc, bool with_access_log,
                              const registry::ConsoleConfig& cc) {
  if (with_access_log) {
    access_log_path = dir + "/access.log";
    access_log = std::fopen(access_log_path.c_str(), "w");
    if (access_log == nullptr) return Status::Internal("cannot open the access log");
  }
  KAKUNIN_ASSIGN_OR_RETURN(started, app::NodeServer::Start(node.get(), sc, access_log, cc));
  server = std::move(started);
  return Status::Ok();
}

void NodeWorld::TearDown() {
  if (server) {
    EXPECT_TRUE(server->Stop().ok());
  }
  server.reset();
  if (access_log) std::fclose(access_log);
  access_log = nullptr;
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    dir.clear();
  }
}

std::optional<http::testing::ClientResponse> PostLogin(http::testing::TestClient& client,
                                                       const std::string& id,
                                                       const std::string& password) {
  const std::string body = "{\"operator_id\":\"" + id + "\",\"password\":\"" + password + "\"}";
  return client.RoundTrip(
      "POST /v1/session/login HTTP/1.1\r\nHost: localhost\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
}

std::string SessionCookie(const http::testing::ClientResponse& r) {
  const std::string set = r.Header("set-cookie");
  return set.substr(0, set.find(';'));
}

}  // namespace kakunin::testing
