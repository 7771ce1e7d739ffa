#include "cli/node_server.h"

namespace kakunin::cli {

Result<std::unique_ptr<NodeServer>> NodeServer::Start(Node* node,
                                                      const registry::ServerConfig& config,
                                                      std::FILE* access_log,
                                                      const registry::ConsoleConfig& console) {
  if (!config.present) {
    return Status::FailedPrecondition("the configuration has no [server] table");
  }
  std::unique_ptr<NodeServer> s(new NodeServer());
  s->node_ = node;
  s->access_log_ = std::make_unique<api::AccessLog>(access_log);
  // Reads and notifications from many connections share durable commits.
  s->queue_ = std::make_unique<registry::WriteQueue>(node->store.get(), 256);
  node->registry->UseWriteQueue(s->queue_.get());
  node->operators->UseWriteQueue(s->queue_.get());  // the console's writes share it
  s->service_ = std::make_unique<api::Service>(node->registry.get(), node->gateway.get(),
                                               node->store.get(), &s->metrics_,
                                               s->access_log_.get());
  http::TlsConfig tls;
  tls.cert_file = config.certificate;
  tls.key_file = config.key;
  tls.client_ca_file = config.client_ca;
  tls.crl_file = config.crl;
  tls.require_client_certificate = true;
  http::Limits limits;
  limits.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  limits.max_connections = config.max_connections;
  limits.read_timeout = std::chrono::milliseconds(config.read_timeout_ms);
  limits.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  limits.io_threads = config.io_threads;
  limits.worker_threads = config.worker_threads;
  api::Service* service = s->service_.get();
  auto server = http::Server::Start(
      config.address, static_cast<uint16_t>(config.port), tls, limits,
      [service](const http::Request& r) { return service->Handle(r); },
      [service](const http::Event& e) { service->OnEvent(e); });
  if (!server.ok()) {
    node->registry->UseWriteQueue(nullptr);
    node->operators->UseWriteQueue(nullptr);
    return server.status();
  }
  s->server_ = std::move(*server);
  if (console.present) {
    api::ConsoleOptions options;
    options.rp_id = console.rp_id;
    options.web_dir = console.web_dir.empty() ? std::string(KAKUNIN_WEB_DIR) : console.web_dir;
    options.idle_lock_seconds = console.idle_lock_seconds;
    options.purposes = node->purposes.get();
    options.metrics = &s->metrics_;
    options.refusal_sample_seconds = console.refusal_sample_seconds;
    options.login_attempts_per_minute = console.login_attempts_per_minute;
    s->console_ = std::make_unique<api::ConsoleService>(node->gateway.get(), node->operators.get(),
                                                        &node->clock, options);
    http::TlsConfig optional_card = tls;
    optional_card.require_client_certificate = false;  // the IC card, when there is one
    http::Limits console_limits = limits;
    console_limits.max_body_bytes = 64 * 1024;
    api::ConsoleService* c = s->console_.get();
    auto cs = http::Server::Start(
        console.address, static_cast<uint16_t>(console.port), optional_card, console_limits,
        [c](const http::Request& r) { return c->Handle(r); },
        [service](const http::Event& e) { service->OnEvent(e); });
    if (!cs.ok()) {
      s->server_->Stop();
      node->registry->UseWriteQueue(nullptr);
      node->operators->UseWriteQueue(nullptr);
      return cs.status();
    }
    s->console_server_ = std::move(*cs);
    // WebAuthn checks the exact origin the browser reports.
    s->console_->SetOrigin("https://" + console.rp_id + ":" +
                           std::to_string(s->console_server_->port()));
  }
  return s;
}

NodeServer::~NodeServer() { (void)Stop(); }

Status NodeServer::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  if (console_server_) console_server_->Stop();
  server_->Stop();  // every handler has returned: nothing is left in the queue
  node_->registry->UseWriteQueue(nullptr);
  node_->operators->UseWriteQueue(nullptr);
  access_log_->Flush();
  return SealLog(*node_);
}

}  // namespace kakunin::cli
