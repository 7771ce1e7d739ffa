#pragma once

// The steps the integration tests (tests/integration/) take to stand up a real node: a fresh
// directory, an initialised and opened node, generated residents applied through the registry,
// a test CA with a server certificate for localhost, client certificates, the client register,
// the node's server on port 0, and operators signing in on the console. Each suite keeps its own
// choices (how many residents, which certificates, limits, clocks) and calls these steps.
// Errors come back as values; the suite asserts on them.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/node.h"
#include "cli/generate.h"
#include "app/node_server.h"
#include "core/clock.h"
#include "core/status.h"
#include "crypto/pki.h"
#include "domain/notification.h"
#include "registry/config.h"
#include "support/test_client.h"

namespace kakunin::testing {

// A client certificate and its key on disk, and what the node knows it by.
struct Cert {
  std::string pem, key, spki, serial;
};

class NodeWorld {
 public:
  NodeWorld() = default;
  NodeWorld(const NodeWorld&) = delete;
  NodeWorld& operator=(const NodeWorld&) = delete;
  ~NodeWorld();  // TearDown()

  // A fresh directory /tmp/kakunin-<name>-XXXXXX and a node of prefecture 19 initialised in
  // <dir>/node and opened (its registry in SQLite there, or with KAKUNIN_TEST_STORE=postgresql in
  // a fresh schema on the process's own PostgreSQL server). SIGPIPE is ignored: a client writing a body the server refused gets
  // EPIPE, not a signal.
  Status MakeNode(const std::string& name);

  // `count` notifications from the generator, applied in one batch by the node's registry as its
  // own actor. `each` sees every notification after it was prepared (it may move it away).
  // `every_one_ok`: a notification the registry refuses is an error too.
  Status ApplyGenerated(const GenerateOptions& options, int count,
                        const std::function<void(Notification&)>& each = {},
                        bool every_one_ok = true);

  // A test CA in <dir>/ca and a server certificate for localhost and 127.0.0.1 (30 days) in
  // <dir>/server.pem and server.key.
  Status MakeCa();
  std::string ca_file() const { return ca + "/ca.pem"; }

  // A client certificate from `ca_dir` (default: this world's CA) in <dir>/<file>.pem and .key;
  // issued as of `clock` if given.
  Result<Cert> IssueClientCert(const crypto::ClientCertRequest& req, const std::string& file,
                               const Clock* clock = nullptr, const std::string& ca_dir = "");

  // Puts `cert` in the node's client register.
  Status RegisterClient(const Cert& cert, registry::ClientKind kind, const std::string& name,
                        const std::string& municipality, const std::string& recipient,
                        std::vector<std::string> purposes);

  // The systems' API on port 0 with the server certificate, trusting this world's CA.
  registry::ServerConfig ServerConfig(int worker_threads) const;
  // The console on port 0, serving web/ of the source tree.
  static registry::ConsoleConfig ConsoleConfig();

  // Starts the node's server; with `access_log` it writes <dir>/access.log (access_log_path).
  Status StartServer(const registry::ServerConfig& sc, bool access_log = false,
                     const registry::ConsoleConfig& cc = {});

  // Stops the server (which must stop cleanly), closes the access log, removes the directory.
  // The node itself goes with the world.
  void TearDown();

  std::string dir, ca;
  std::unique_ptr<app::Node> node;
  std::unique_ptr<app::NodeServer> server;
  std::string access_log_path;
  std::FILE* access_log = nullptr;
};

// POST /v1/session/login with `id` and `password` on `client` (the console's port).
std::optional<http::testing::ClientResponse> PostLogin(http::testing::TestClient& client,
                                                       const std::string& id,
                                                       const std::string& password);

// The session cookie (name=value) of a successful sign-in's answer.
std::string SessionCookie(const http::testing::ClientResponse& r);

}  // namespace kakunin::testing
