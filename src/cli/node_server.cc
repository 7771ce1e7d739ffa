#include "cli/node_server.h"

#include <cstdio>
#include <ctime>
#include <string>

#include "text/json.h"

namespace kakunin::cli {
namespace {

// An alert as one JSON line for the server's log (the access log, standard error by default):
// rule and actor ids only, nothing about residents.
std::string AlertLine(const audit::LiveAlert& a) {
  const std::time_t secs = static_cast<std::time_t>(a.time / 1000000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((a.time / 1000) % 1000));
  std::string line = buf;
  line += ",\"event\":\"alert\",\"rule\":";
  text::AppendJsonString(a.rule, &line);
  line += ",\"actor\":";
  text::AppendJsonString(a.actor, &line);
  line += ",\"count\":" + std::to_string(a.count) + ",\"threshold\":" +
          std::to_string(a.threshold) + "}\n";
  return line;
}

}  // namespace

Result<std::unique_ptr<NodeServer>> NodeServer::Start(Node* node,
                                                      const registry::ServerConfig& config,
                                                      std::FILE* access_log,
                                                      const registry::ConsoleConfig& console) {
  if (!config.present) {
    return Status::FailedPrecondition("the configuration has no [server] table");
  }
  KAKUNIN_RETURN_IF_ERROR(registry::CheckQuotaPurposes(node->config.quotas, *node->purposes));
  std::unique_ptr<NodeServer> s(new NodeServer());
  s->node_ = node;
  s->access_log_ = std::make_unique<api::AccessLog>(access_log);
  // Quotas on every read by a client or an operator, and alerts as misuse happens
  // (docs/quotas.md).
  s->quotas_ = std::make_unique<registry::Quotas>(node->config.quotas, &node->clock,
                                                  node->registry.get());
  api::Metrics* metrics = &s->metrics_;
  s->quotas_->SetHooks(
      {[metrics](registry::QuotaSubject kind) {
         metrics->CountQuotaRefusal(registry::QuotaSubjectName(kind));
       },
       [metrics, access_log](const audit::LiveAlert& a) {
         metrics->CountAlert(a.rule);
         // One fputs per line: stdio's lock keeps it whole among the access log's lines.
         const std::string line = AlertLine(a);
         std::FILE* out = access_log != nullptr ? access_log : stderr;
         std::fputs(line.c_str(), out);
         std::fflush(out);
         if (out != stderr) std::fputs(line.c_str(), stderr);
       }});
  node->gateway->UseQuotas(s->quotas_.get());
  // Reads and notifications from many connections share durable commits.
  s->queue_ = std::make_unique<registry::WriteQueue>(node->store.get(), 256);
  node->registry->UseWriteQueue(s->queue_.get());
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
    node->gateway->UseQuotas(nullptr);
    return server.status();
  }
  s->server_ = std::move(*server);
  if (console.present) {
    api::ConsoleOptions options;
    options.rp_id = console.rp_id;
    options.web_dir = console.web_dir.empty() ? std::string(KAKUNIN_WEB_DIR) : console.web_dir;
    options.idle_lock_seconds = console.idle_lock_seconds;
    options.purposes = node->purposes.get();
    s->console_ = std::make_unique<api::ConsoleService>(node->gateway.get(), node->operators.get(),
                                                        node->store.get(), &node->clock, options);
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
      node->gateway->UseQuotas(nullptr);
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
  node_->gateway->UseQuotas(nullptr);
  access_log_->Flush();
  return SealLog(*node_);
}

}  // namespace kakunin::cli
