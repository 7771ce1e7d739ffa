#pragma once

// A node on the network: the HTTPS server, the API over the node's registry, a group-committing
// write queue for concurrent requests, metrics and the access log. Used by `kakunin serve`,
// `kakunin demo`, the integration tests and the benchmarks (all start the same thing).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <atomic>
#include <thread>

#include "api/console.h"
#include "api/metrics.h"
#include "api/service.h"
#include "audit/log.h"
#include "cli/node.h"
#include "core/clock.h"
#include "http/server.h"
#include "link/sender.h"
#include "registry/quota.h"
#include "registry/write_queue.h"

namespace kakunin::app {

// Calls `tick` on its own thread every `interval_micros` of `clock` time, until destroyed. It
// waits on a condition variable for the clock's remaining time, so with the system clock it
// ticks on time, and a test that moves a fake clock calls CheckNow() instead of sleeping.
class CheckpointTimer {
 public:
  // `clock` must outlive the timer and be thread-safe; interval_micros > 0.
  CheckpointTimer(const Clock* clock, int64_t interval_micros, std::function<void()> tick);
  CheckpointTimer(const CheckpointTimer&) = delete;
  CheckpointTimer& operator=(const CheckpointTimer&) = delete;
  ~CheckpointTimer();  // Stop()s

  // Wakes the thread to look at the clock now (ticking if due) and waits, at most `bound`, until
  // it has. False if it did not within `bound` or the timer is stopped.
  bool CheckNow(std::chrono::milliseconds bound = std::chrono::seconds(10));
  // No tick starts after this returns; a running one is waited for. Idempotent.
  void Stop();

 private:
  void Run();

  const Clock* clock_;
  const int64_t interval_micros_;
  const std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable wake_;     // the thread waits on it
  std::condition_variable checked_;  // CheckNow() waits on it
  bool stop_ = false;
  bool woken_ = false;
  uint64_t checks_ = 0;  // times the thread looked at the clock (and ticked if due)
  std::thread thread_;
};

struct NodeServerOptions {
  // The checkpoint timer's clock; nullptr: the node's. Tests pass one they move.
  const Clock* clock = nullptr;
  // T of DESIGN §6: a checkpoint is signed every T even when no entry arrives, so that an idle
  // node's log is covered (audit verify). The operation log's own setting by default.
  int64_t checkpoint_interval_micros = audit::LogSettings{}.checkpoint_interval_micros;
  // How often, at most, a new connection looks whether the CRL file was replaced.
  std::chrono::milliseconds crl_check_interval{1000};
  // Gets one line, without personal data, for what happens in the background: a reload of the
  // TLS files, a checkpoint that could not be signed. Called from any thread, one call at a
  // time. Empty: standard error.
  std::function<void(const std::string&)> report;
};

class NodeServer final : public cli::RunningServer {
 public:
  // Starts serving `node` (which must outlive the server) as `config` says; port 0 takes any free
  // port. The access log goes to `access_log` (not owned; nullptr: none). On an error nothing is
  // left running and the node is as it was.
  static Result<std::unique_ptr<NodeServer>> Start(cli::Node* node,
                                                   const registry::ServerConfig& config,
                                                   std::FILE* access_log,
                                                   const registry::ConsoleConfig& console = {},
                                                   const NodeServerOptions& options = {});
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;
  ~NodeServer();  // Stop()s

  uint16_t port() const override { return server_->port(); }
  // The console's port; 0 if the configuration has no [console].
  uint16_t console_port() const override {
    return console_server_ ? console_server_->port() : 0;
  }
  const api::Metrics& metrics() const { return metrics_; }

  // Reads the TLS files (the CRL above all) again for new connections of both listeners (SIGHUP);
  // open connections go on. Reads the key file again too, and re-seals under a new field key in
  // the background (docs/keys.md). On an error the previous files stay in use; the error is
  // returned and reported.
  Status ReloadTls() override;

  // The timer that signs checkpoints (tests: CheckNow() after moving the clock).
  CheckpointTimer& checkpoint_timer() { return *timer_; }
  CheckpointTimer& access_log_timer() { return *flush_timer_; }
  // The link's sender when the configuration has an [upstream]; nullptr otherwise.
  link::Sender* link_sender() { return sender_.get(); }

  // Graceful: stops accepting, lets requests in flight finish (their answers are durable when
  // sent), then signs a checkpoint and keeps it outside the database (SealLog). Idempotent.
  Status Stop() override;

 private:
  NodeServer() = default;
  void Report(const std::string& line);

  cli::Node* node_ = nullptr;
  api::Metrics metrics_;
  std::function<void(const std::string&)> report_;
  std::mutex report_mu_;
  std::unique_ptr<api::AccessLog> access_log_;
  std::unique_ptr<registry::WriteQueue> queue_;
  std::unique_ptr<registry::Quotas> quotas_;  // read quotas and real-time alerts
  std::unique_ptr<api::Service> service_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<api::ConsoleService> console_;
  std::unique_ptr<http::Server> console_server_;
  std::unique_ptr<CheckpointTimer> timer_;
  std::unique_ptr<CheckpointTimer> flush_timer_;  // the access log, every second
  std::unique_ptr<link::Sender> sender_;          // [upstream]: forwards the outbox
  // Field-key rotation's re-sealing (docs/keys.md), while older field keys are loaded; started
  // at Start and again after a reload of the keys (SIGHUP).
  void StartFieldKeyRotation();
  // Reports when the log's newest entry is dated more than kClockBehindLogWarning after `clock`.
  static constexpr int64_t kClockBehindLogWarning = int64_t{10} * 60 * 1000000;
  void WarnIfTheClockIsBehindTheLog(const Clock* clock);
  // The samplers' held refusals (Gateway/ConsoleService::WriteHeldRefusals); failures reported.
  void WriteHeldRefusals(bool everything);
  std::mutex rotation_mu_;  // guards starting and joining rotation_
  std::thread rotation_;
  std::atomic<bool> rotation_running_{false};
  std::atomic<bool> rotation_stop_{false};
  bool stopped_ = false;
};

}  // namespace kakunin::app
