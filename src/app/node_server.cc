#include "app/node_server.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>

#include <unistd.h>

#include "text/json.h"

namespace kakunin::app {
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

// --- CheckpointTimer ---

CheckpointTimer::CheckpointTimer(const Clock* clock, int64_t interval_micros,
                                 std::function<void()> tick)
    : clock_(clock),
      interval_micros_(std::max<int64_t>(interval_micros, 1)),
      tick_(std::move(tick)),
      thread_([this] { Run(); }) {}

CheckpointTimer::~CheckpointTimer() { Stop(); }

void CheckpointTimer::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  checked_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool CheckpointTimer::CheckNow(std::chrono::milliseconds bound) {
  std::unique_lock lock(mu_);
  if (stop_) return false;
  const uint64_t before = checks_;
  woken_ = true;
  wake_.notify_all();
  return checked_.wait_for(lock, bound, [&] { return stop_ || checks_ > before; }) && !stop_;
}

void CheckpointTimer::Run() {
  std::unique_lock lock(mu_);
  int64_t due = clock_->NowMicros() + interval_micros_;
  while (!stop_) {
    // The clock is read and the check counted under the lock, so CheckNow() never mistakes a
    // look taken before the clock moved for one taken after.
    const int64_t now = clock_->NowMicros();
    if (now >= due) {
      lock.unlock();
      tick_();
      lock.lock();
      due = now + interval_micros_;
      continue;  // look again: the clock may have moved during the tick
    }
    // The system clock was set back: T from now, not from a time that may be hours away.
    if (due - now > interval_micros_) due = now + interval_micros_;
    ++checks_;
    checked_.notify_all();
    woken_ = false;
    // Real time stands in for the clock's: right for the system clock; a moved test clock
    // comes with a CheckNow().
    wake_.wait_for(lock, std::chrono::microseconds(due - now), [&] { return stop_ || woken_; });
  }
}

// --- NodeServer ---

Result<std::unique_ptr<NodeServer>> NodeServer::Start(cli::Node* node,
                                                      const registry::ServerConfig& config,
                                                      std::FILE* access_log,
                                                      const registry::ConsoleConfig& console,
                                                      const NodeServerOptions& options) {
  if (!config.present) {
    return Status::FailedPrecondition("the configuration has no [server] table");
  }
  KAKUNIN_RETURN_IF_ERROR(registry::CheckQuotaPurposes(node->config.quotas, *node->purposes));
  std::unique_ptr<NodeServer> s(new NodeServer());
  s->node_ = node;
  s->report_ = options.report;
  s->access_log_ = std::make_unique<api::AccessLog>(
      access_log, options.clock != nullptr ? options.clock : &node->clock);
  // Quotas on every read by a client or an operator, and alerts as misuse happens
  // (docs/quotas.md).
  s->quotas_ = std::make_unique<registry::Quotas>(node->config.quotas, &node->clock,
                                                  node->registry.get());
  api::Metrics* metrics = &s->metrics_;
  auto alert = [metrics, access_log](const audit::LiveAlert& a) {
    metrics->CountAlert(a.rule);
    // One fputs per line: stdio's lock keeps it whole among the access log's lines.
    const std::string line = AlertLine(a);
    std::FILE* out = access_log != nullptr ? access_log : stderr;
    std::fputs(line.c_str(), out);
    std::fflush(out);
    if (out != stderr) std::fputs(line.c_str(), stderr);
  };
  s->quotas_->SetHooks({[metrics](registry::QuotaSubject kind) {
                          metrics->CountQuotaRefusal(registry::QuotaSubjectName(kind));
                        },
                        alert});
  // The national node's state conflicts (registry/national.h) are alerts too.
  if (node->national) node->national->UseAlerts(alert);
  node->gateway->UseQuotas(s->quotas_.get());
  // Reads and notifications from many connections share durable commits.
  s->queue_ = node->NewWriteQueue(static_cast<size_t>(node->config.limits.write_batch));
  node->registry->UseWriteQueue(s->queue_.get());
  node->operators->UseWriteQueue(s->queue_.get());  // the console's writes share it
  s->service_ =
      std::make_unique<api::Service>(node->gateway.get(), &s->metrics_, s->access_log_.get());
  s->service_->UseNational(node->national.get());
  s->service_->UseDisclosures(node->disclosures.get());
  // A start that fails leaves nothing running and the node as it was; the destructor then has
  // nothing to stop and no checkpoint to sign (nothing was served).
  auto fail = [&](const Status& st) -> Status {
    s->sender_.reset();
    if (s->console_server_) s->console_server_->Stop();
    if (s->server_) s->server_->Stop();
    node->registry->UseWriteQueue(nullptr);
    node->gateway->UseQuotas(nullptr);
    node->operators->UseWriteQueue(nullptr);
    s->stopped_ = true;
    return st;
  };
  if (node->config.upstream.present) {
    // The link to the national node (src/link/): its TLS files are read now, so a bad one stops
    // the start instead of failing every round.
    auto upstream = link::NewHttpsUpstream(node->config.upstream);
    if (!upstream.ok()) return fail(upstream.status());
    NodeServer* me = s.get();
    const Clock* link_clock = options.clock != nullptr ? options.clock : &node->clock;
    s->sender_ = std::make_unique<link::Sender>(
        node->config.upstream, node->outbox.get(), link_clock, std::move(*upstream),
        static_cast<uint64_t>(link_clock->NowMicros()) ^ static_cast<uint64_t>(::getpid()),
        registry::Actor{"system:link", "upstream"},
        [me](const std::string& line) { me->Report(line); });
    link::Sender* sender = s->sender_.get();
    s->service_->UseReadiness([sender] { return sender->Ready(); });
    s->service_->UseExtraMetrics([sender] { return sender->RenderMetrics(); });
    s->service_->UseAfterNotify([sender] { sender->Wake(); });
  }
  if (const registry::NationalDesk* national = node->national.get()) {
    // Each prefecture's acknowledged point: compared with the prefecture's own, the lag.
    s->service_->UseExtraMetrics([national] {
      std::string o = "# TYPE kakunin_link_received_sequence gauge\n";
      auto received = national->Received();
      if (!received.ok()) return o;
      for (const auto& [prefecture, sequence] : *received) {
        o += "kakunin_link_received_sequence{prefecture=\"" + std::to_string(prefecture) +
             "\"} " + std::to_string(sequence) + "\n";
      }
      return o;
    });
  }
  http::TlsConfig tls;
  tls.cert_file = config.certificate;
  tls.key_file = config.key;
  tls.client_ca_file = config.client_ca;
  tls.crl_file = config.crl;
  tls.require_client_certificate = true;
  tls.crl_check_interval = options.crl_check_interval;
  NodeServer* self = s.get();
  tls.on_reload = [self](const Status& st) {
    self->Report(st.ok() ? "TLS files reloaded for the API (open connections are checked again at their next request)"
                         : st.message());
  };
  http::Limits limits;
  limits.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  limits.max_connections = config.max_connections;
  limits.max_connections_per_address = config.max_connections_per_address;
  limits.read_timeout = std::chrono::milliseconds(config.read_timeout_ms);
  limits.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  limits.io_threads = config.io_threads;
  limits.worker_threads = config.worker_threads;
  api::Service* service = s->service_.get();
  auto server = http::Server::Start(
      config.address, static_cast<uint16_t>(config.port), tls, limits,
      [service](const http::Request& r) { return service->Handle(r); },
      [service](const http::Event& e) { service->OnEvent(e); },
      [service](const std::shared_ptr<const http::Request>& r, http::Responder respond) {
        return service->HandleAsync(r, std::move(respond));
      });
  if (!server.ok()) return fail(server.status());
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
    options.disclosures = node->disclosures.get();
    options.registers = node->registers.get();
    options.audit = node->audit.get();
    s->console_ = std::make_unique<api::ConsoleService>(node->gateway.get(), node->operators.get(),
                                                        &node->clock, options);
    http::TlsConfig optional_card = tls;
    optional_card.require_client_certificate = false;  // the IC card, when there is one
    optional_card.on_reload = [self](const Status& st) {
      self->Report(st.ok() ? "TLS files reloaded for the console" : st.message());
    };
    http::Limits console_limits = limits;
    console_limits.max_body_bytes = 64 * 1024;
    api::ConsoleService* c = s->console_.get();
    auto cs = http::Server::Start(
        console.address, static_cast<uint16_t>(console.port), optional_card, console_limits,
        [c](const http::Request& r) { return c->Handle(r); },
        [service](const http::Event& e) { service->OnEvent(e); });
    if (!cs.ok()) return fail(cs.status());
    s->console_server_ = std::move(*cs);
    // WebAuthn checks the exact origin the browser reports.
    s->console_->SetOrigin("https://" + console.rp_id + ":" +
                           std::to_string(s->console_server_->port()));
  }
  // Entries sign a checkpoint when they arrive after T; this covers the last ones of a node that
  // then goes quiet (audit verify refuses entries no checkpoint covers). Then the newest
  // checkpoint, once the committed log is found to extend it, is kept in audit.head and trusted
  // by the signer (KeepHead): found in review, entries signed while the node served could be
  // cut from the database with their checkpoints, and the node signed the shorter log. Each
  // process writes audit.head through its own temporary file, so a command beside the node
  // never interleaves with it.
  s->timer_ = std::make_unique<CheckpointTimer>(
      options.clock != nullptr ? options.clock : &node->clock, options.checkpoint_interval_micros,
      [self] {
        // Refusals the samplers held back and no later refusal carried: written once their
        // interval has ended, so that a burst that stopped is in the log all the same.
        self->WriteHeldRefusals(/*everything=*/false);
        Status st = self->node_->registry->Checkpoint();
        if (!st.ok()) self->Report("the timed checkpoint was not signed: " + st.message());
        st = self->node_->KeepHead();
        if (!st.ok()) self->Report("the newest checkpoint was not kept: " + st.message());
        // A scrub a purge still owes (scrub_pending: readers kept it from finishing, here or in
        // `kakunin purge`, or the process died after the purge committed) is finished here,
        // tick after tick until the readers let it. Readers in the way are the expected case,
        // not worth a report.
        Status scrub = self->node_->registry->FinishPendingScrub();
        if (!scrub.ok() && scrub.code() != StatusCode::kUnavailable) {
          self->Report("the pending scrub after a purge failed: " + scrub.message());
        }
      });
  // The access log is written through stdio's buffer (fast); a person tailing it sees each line
  // within a second all the same.
  api::AccessLog* log = s->access_log_.get();
  s->flush_timer_ = std::make_unique<CheckpointTimer>(
      options.clock != nullptr ? options.clock : &node->clock, int64_t{1000000},
      [log] { log->Flush(); });
  if (s->sender_) s->sender_->Start();
  s->StartFieldKeyRotation();
  s->WarnIfTheClockIsBehindTheLog(options.clock != nullptr ? options.clock : &node->clock);
  return s;
}

void NodeServer::StartFieldKeyRotation() {
  // While the key file holds older field keys, the values under them are re-sealed under the
  // current one in the background: a short transaction per batch, so serving goes on.
  std::lock_guard lock(rotation_mu_);
  if (rotation_running_) return;
  if (rotation_.joinable()) rotation_.join();  // a finished run (an earlier key)
  auto job = node_->NewFieldKeyRotation();
  if (!job) return;
  rotation_running_ = true;
  rotation_ = std::thread([this, job = std::move(job)] {
    int64_t resealed = 0;
    for (;;) {
      if (rotation_stop_) break;
      auto p = job->Step();
      if (!p.ok()) {
        Report("field-key rotation stopped: " + p.status().message());
        break;
      }
      resealed += p->resealed;
      if (p->done) {
        Report("field-key rotation: every value is sealed under the current key (" +
               std::to_string(resealed) +
               " re-sealed now); `kakunin keys retire-field-keys` removes the older keys");
        break;
      }
    }
    rotation_running_ = false;
  });
}

void NodeServer::WarnIfTheClockIsBehindTheLog(const Clock* clock) {
  // Found in review: one command run with the clock set half a year ahead dated every later
  // entry — provisions, their dates on disclosure notices, retention — at that time, and
  // nothing said so. The log cannot go back; the operator must know to fix the clock.
  auto newest = node_->audit->NewestEntryTime();
  if (!newest.ok()) return;
  const int64_t ahead = *newest - clock->NowMicros();
  if (ahead <= kClockBehindLogWarning) return;
  Report("警告: 操作履歴の最新の記録の日時 (" + JstIsoTime(*newest) + ") がこの機械の時計より " +
         std::to_string(ahead / 60000000) +
         " 分進んでいます。時計が追いつくまで、すべての記録がその日時になります。時計 (NTP) "
         "と、時計が進んだ状態で実行されたコマンドを確認してください / warning: the operation "
         "log's newest entry is dated " +
         JstIsoTime(*newest) + ", " + std::to_string(ahead / 60000000) +
         " minutes after this machine's clock: until the clock passes it, every entry (and "
         "every provision's date) carries that time. Check the clock (NTP) and what ran with it "
         "set ahead");
}

NodeServer::~NodeServer() { (void)Stop(); }

void NodeServer::WriteHeldRefusals(bool everything) {
  Status st = node_->gateway->WriteHeldRefusals(everything);
  if (st.ok() && console_) st = console_->WriteHeldRefusals(everything);
  if (!st.ok()) Report("refusals held back by sampling were not written: " + st.message());
}

void NodeServer::Report(const std::string& line) {
  std::lock_guard lock(report_mu_);
  if (report_) {
    report_(line);
  } else {
    std::fprintf(stderr, "kakunin: %s\n", line.c_str());
  }
}

Status NodeServer::ReloadTls() {
  Status st = server_->ReloadTls();
  if (console_server_) {
    Status console_st = console_server_->ReloadTls();
    if (st.ok()) st = console_st;
  }
  // The field keys too (docs/keys.md): after `kakunin keys rotate-field-key`, SIGHUP makes the
  // node seal under the new key and re-seal the rest in the background, without a restart.
  auto keys = node_->ReloadFieldKeys();
  if (!keys.ok()) {
    Report("the field keys were not reloaded (the previous ones stay in use): " +
           keys.status().message());
    if (st.ok()) st = keys.status();
  } else {
    Report("field keys reloaded: " + std::to_string(*keys) + " loaded");
    if (*keys > 1 && !stopped_) StartFieldKeyRotation();
  }
  return st;
}

Status NodeServer::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  if (sender_) sender_->Stop();  // no batch in flight past this point
  rotation_stop_ = true;
  {
    std::lock_guard lock(rotation_mu_);
    if (rotation_.joinable()) rotation_.join();
  }
  if (timer_) timer_->Stop();
  if (flush_timer_) flush_timer_->Stop();
  if (console_server_) console_server_->Stop();
  if (server_) server_->Stop();  // every handler has returned: nothing new comes to the queue
  node_->registry->UseWriteQueue(nullptr);
  node_->operators->UseWriteQueue(nullptr);
  // A batch may still be finishing (an answer Stop() gave up on after drain_timeout): its Dones
  // use the quotas and the metrics, so the writer thread ends before anything else goes.
  queue_.reset();
  node_->gateway->UseQuotas(nullptr);
  WriteHeldRefusals(/*everything=*/true);  // before the last checkpoint (Seal) covers them
  access_log_->Flush(/*all=*/true);
  return node_->Seal();
}

}  // namespace kakunin::app
