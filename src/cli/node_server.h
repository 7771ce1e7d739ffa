#pragma once

// A node on the network: the HTTPS server, the API over the node's registry, a group-committing
// write queue for concurrent requests, metrics and the access log. Used by `kakunin serve`,
// `kakunin demo`, the integration tests and the benchmarks (all start the same thing).

#include <cstdio>
#include <memory>

#include "api/metrics.h"
#include "api/console.h"
#include "api/service.h"
#include "cli/node.h"
#include "http/server.h"
#include "registry/quota.h"
#include "registry/write_queue.h"

namespace kakunin::cli {

class NodeServer {
 public:
  // Starts serving `node` (which must outlive the server) as `config` says; port 0 takes any free
  // port. The access log goes to `access_log` (not owned; nullptr: none).
  static Result<std::unique_ptr<NodeServer>> Start(Node* node,
                                                   const registry::ServerConfig& config,
                                                   std::FILE* access_log,
                                                   const registry::ConsoleConfig& console = {});
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;
  ~NodeServer();  // Stop()s

  uint16_t port() const { return server_->port(); }
  // The console's port; 0 if the configuration has no [console].
  uint16_t console_port() const { return console_server_ ? console_server_->port() : 0; }
  const api::Metrics& metrics() const { return metrics_; }

  // Graceful: stops accepting, lets requests in flight finish (their answers are durable when
  // sent), then signs a checkpoint and keeps it outside the database (SealLog). Idempotent.
  Status Stop();

 private:
  NodeServer() = default;
  Node* node_ = nullptr;
  api::Metrics metrics_;
  std::unique_ptr<api::AccessLog> access_log_;
  std::unique_ptr<registry::WriteQueue> queue_;
  std::unique_ptr<registry::Quotas> quotas_;  // read quotas and real-time alerts
  std::unique_ptr<api::Service> service_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<api::ConsoleService> console_;
  std::unique_ptr<http::Server> console_server_;
  bool stopped_ = false;
};

}  // namespace kakunin::cli
