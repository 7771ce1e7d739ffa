#include "link/sender.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "text/json.h"

namespace kakunin::link {
namespace {

constexpr double kLagBounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
constexpr int64_t kPurgeEveryMicros = int64_t{60} * 1000000;

class HttpsUpstream final : public Upstream {
 public:
  explicit HttpsUpstream(std::unique_ptr<HttpsClient> client) : client_(std::move(client)) {}
  Result<HttpsResponse> PostBatch(const std::string& body) override {
    return client_->PostJson(kLinkPath, body);
  }

 private:
  std::unique_ptr<HttpsClient> client_;
};

std::string Seconds(int64_t micros) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(micros) / 1e6);
  return buf;
}

// What the sender reads of the national node's answer (api/national.cc), parsed once.
struct Answer {
  std::optional<int64_t> acknowledged;  // the national node's point; nullopt if absent
  std::string error;                    // "sequence_gap", "sequence_conflict", … or empty
  std::optional<int64_t> sequence;      // with sequence_conflict: the reused number
  bool support_measures = false;        // it applies support measures' changes
};

Answer AnswerOf(const std::string& body) {
  Answer a;
  auto json = text::ParseJson(body);
  if (!json.ok() || !json->is_object()) return a;
  auto count = [&](const char* name) -> std::optional<int64_t> {
    const text::JsonValue* v = json->Find(name);
    if (v == nullptr || !v->is_number()) return std::nullopt;
    auto n = v->AsInt64();
    if (!n || *n < 0) return std::nullopt;
    return n;
  };
  a.acknowledged = count("acknowledged");
  a.sequence = count("sequence");
  const text::JsonValue* error = json->Find("error");
  if (error != nullptr && error->is_string()) a.error = error->text();
  const text::JsonValue* measures = json->Find("support_measures");
  a.support_measures = measures != nullptr &&
                       measures->type() == text::JsonValue::Type::kBool && measures->bool_value();
  return a;
}

}  // namespace

std::unique_ptr<Upstream> NewHttpsUpstream(std::unique_ptr<HttpsClient> client) {
  return std::make_unique<HttpsUpstream>(std::move(client));
}

Result<std::unique_ptr<Upstream>> NewHttpsUpstream(const registry::UpstreamConfig& config) {
  KAKUNIN_ASSIGN_OR_RETURN(target, ParseHttpsUrl(config.url));
  HttpsOptions options;
  options.ca_file = config.ca_file;
  options.cert_file = config.cert_file;
  options.key_file = config.key_file;
  options.timeout = std::chrono::milliseconds(config.timeout_ms);
  KAKUNIN_ASSIGN_OR_RETURN(client, HttpsClient::Create(target, options));
  return NewHttpsUpstream(std::move(client));
}

Sender::Sender(const registry::UpstreamConfig& config, const registry::LinkOutbox* outbox,
               const Clock* clock, std::unique_ptr<Upstream> upstream, uint64_t jitter_seed,
               registry::Actor actor, std::function<void(const std::string&)> report)
    : config_(config),
      outbox_(outbox),
      clock_(clock),
      upstream_(std::move(upstream)),
      random_(jitter_seed),
      batch_size_(config.batch_size),
      actor_(std::move(actor)),
      report_(std::move(report)) {}

Sender::~Sender() { Stop(); }

int64_t Sender::RetryDelayMicros(int64_t failures) {
  const int64_t min = int64_t{config_.retry_min_ms} * 1000;
  const int64_t max = int64_t{config_.retry_max_ms} * 1000;
  int64_t d = min;
  for (int64_t i = 1; i < failures && d < max; ++i) d *= 2;
  d = std::min(d, max);
  // Uniform over [d/2, d]: spread, and never longer than the bound.
  const int64_t half = d / 2;
  return d - half + static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(half) + 1));
}

void Sender::Failed(const Status& why) {
  bool went_down = false;
  {
    std::lock_guard lock(mu_);
    ++stats_.failures_total;
    ++stats_.consecutive_failures;
    if (stats_.down_since == 0) {
      stats_.down_since = clock_->NowMicros();
      went_down = true;
    }
  }
  if (went_down && report_) report_("link to the national node failing: " + why.message());
}

Status Sender::CheckPurged(int64_t point) {
  auto purged = outbox_->PurgedThrough();
  if (!purged.ok()) return purged.status();
  bool first = false;
  {
    std::lock_guard lock(mu_);
    const bool needed = point < *purged;
    first = needed && !stats_.resync_needed;
    stats_.resync_needed = needed;
  }
  if (point >= *purged) return Status::Ok();
  // Numbers only: the operators of both nodes need the range, never a change.
  Status why =
      Status::FailedPrecondition(
          "the national node's point " + std::to_string(point) +
          " is below the outbox rows this node purged (through " + std::to_string(*purged) +
          "): changes " + std::to_string(point + 1) + ".." + std::to_string(*purged) +
          " can no longer be sent; resync the national node (docs/backup.md, "
          "`kakunin link resync`)")
          .WithReason("link_resync");
  if (first && report_) report_(why.message());
  Failed(why);
  return why;
}

Result<int64_t> Sender::Step() {
  auto halted = outbox_->Halted();
  if (!halted.ok()) return halted.status();
  {
    std::lock_guard lock(mu_);
    stats_.halted = *halted;
  }
  answered_ = false;
  if (*halted) return int64_t{0};
  if (!loaded_) {
    auto acked = outbox_->Acknowledged();
    if (!acked.ok()) return acked.status();
    std::lock_guard lock(mu_);
    stats_.acknowledged = *acked;
    loaded_ = true;
  }
  int64_t after;
  {
    std::lock_guard lock(mu_);
    after = stats_.acknowledged;
  }
  // Behind the purged rows nothing may be sent: the national node would take the rows after
  // them for the next ones and the rest would be lost without a word.
  KAKUNIN_RETURN_IF_ERROR(CheckPurged(after));
  auto batch = outbox_->Next(after, batch_size_);
  if (!batch.ok()) return batch.status();
  // Nothing waiting: nothing to send — except, once per process, an empty batch to learn
  // whether the national node applies support measures' changes (its answer says so), so that
  // a quiet prefecture does not wait for its next record change to start forwarding them.
  if (batch->changes.empty() && (measures_accepted_ || probed_)) return int64_t{0};
  probed_ = true;
  const std::string body = registry::EncodeForwardBatch(*batch);
  // A halt committed while the batch was read (its numbers opened) stops it here, not after it
  // left (found in review; the POST itself cannot be taken back).
  auto halted_now = outbox_->Halted();
  if (!halted_now.ok()) return halted_now.status();
  if (*halted_now) {
    std::lock_guard lock(mu_);
    stats_.halted = true;
    return int64_t{0};
  }
  auto answer = upstream_->PostBatch(body);
  if (!answer.ok()) {
    Failed(answer.status());
    return answer.status();
  }
  if (answer->status == 413 && batch_size_ > 1) {
    // The national node's body limit is below this batch (long names, many changes): smaller
    // batches from now on, so one limit cannot stop the link.
    batch_size_ = std::max(1, batch_size_ / 2);
  }
  const Answer parsed = AnswerOf(answer->body);
  if (answer->status == 409 && parsed.error == "sequence_conflict") {
    // The national node applied another change under a number of this batch: this node's
    // outbox numbers were used before (a database restored other than by `kakunin restore`,
    // which moves the numbering on). Acknowledging would
    // lose the change; resending cannot help. The link stays failing, loudly, until operators
    // resolve it (docs/backup.md); the body names the sequence, never a value.
    // The numbers (never a value) go into the message, for the operators of both nodes.
    auto number = [](const std::optional<int64_t>& n) {
      return n ? std::to_string(*n) : std::string("?");
    };
    Status why = Status::FailedPrecondition(
        "the national node holds another change under sequence " + number(parsed.sequence) +
        " of this batch (its point: " + number(parsed.acknowledged) +
        "; sequence_conflict: this node's outbox numbers were used before, or another sender "
        "moved the national node's point; see docs/backup.md)");
    {
      std::lock_guard lock(mu_);
      stats_.conflict = true;
    }
    Failed(why);
    return why;
  }
  const std::optional<int64_t>& ack = parsed.acknowledged;
  if ((answer->status != 200 && answer->status != 409) || !ack) {
    Status why =
        Status::Unavailable("the national node answered HTTP " + std::to_string(answer->status));
    Failed(why);
    return why;
  }
  // 409: a gap — the national node is behind our point (restored): resend from its point.
  // 200: everything up to *ack is applied there.
  const int64_t sent =
      answer->status == 200
          ? std::count_if(batch->changes.begin(), batch->changes.end(),
                          [&](const registry::ForwardedChange& c) { return c.sequence <= *ack; })
          : 0;
  Status st = outbox_->Acknowledge(*ack, sent, actor_);
  if (!st.ok()) {
    Failed(st);
    return st;
  }
  const int64_t now = clock_->NowMicros();
  bool came_back = false;
  {
    std::lock_guard lock(mu_);
    came_back = stats_.down_since != 0;
    stats_.acknowledged = *ack;
    stats_.forwarded_total += sent;
    stats_.consecutive_failures = 0;
    stats_.down_since = 0;
    stats_.conflict = false;
    stats_.last_success_at = now;
    for (const registry::ForwardedChange& c : batch->changes) {
      if (answer->status != 200 || c.sequence > *ack) break;
      const int64_t lag = std::max<int64_t>(0, now - c.applied_at);
      stats_.lag_last_micros = lag;
      const double s = static_cast<double>(lag) / 1e6;
      for (int i = 0; i < kLagBuckets; ++i) {
        if (s <= kLagBounds[i]) ++lag_buckets_[i];
      }
      ++lag_count_;
      lag_sum_ += s;
    }
  }
  answered_ = true;
  if (came_back && report_) report_("link to the national node delivering again");
  if (answer->status == 200 && parsed.support_measures && !measures_accepted_) {
    // The national node applies support measures' changes: queue them from now on, and the
    // ones in force now (once; a no-op after a restart). After the acknowledgement is
    // recorded, so a failure here is retried at the next round and resends nothing.
    Status accepted = outbox_->AcceptMeasures(actor_).status();
    if (!accepted.ok()) {
      Failed(accepted);
      return accepted;
    }
    measures_accepted_ = true;
  }
  // A gap that rewound the point below the purged rows: loud at once, not at the next round.
  if (answer->status == 409) KAKUNIN_RETURN_IF_ERROR(CheckPurged(*ack));
  return sent;
}

void Sender::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Sender::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Sender::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void Sender::Run() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    int64_t delay_micros = int64_t{config_.poll_ms} * 1000;
    auto sent = Step();
    if (!sent.ok()) {
      int64_t failures;
      {
        std::lock_guard lock(mu_);
        failures = std::max<int64_t>(1, stats_.consecutive_failures);
      }
      delay_micros = RetryDelayMicros(failures);
    } else if (answered_) {
      delay_micros = 0;  // a batch went (or a gap rewound the point): more may be waiting
    }
    const int64_t now = clock_->NowMicros();
    if (now - last_purge_at_ >= kPurgeEveryMicros) {
      last_purge_at_ = now;
      const int64_t keep = int64_t{config_.delivered_retention_hours} * 3600 * 1000000;
      auto purged = outbox_->PurgeDelivered(now - keep);
      if (!purged.ok() && report_)
        report_("delivered outbox rows not purged: " + purged.status().message());
    }
    if (delay_micros > 0) {
      std::unique_lock lock(mu_);
      // Real time stands in for the clock's here, as in the checkpoint timer.
      wake_.wait_for(lock, std::chrono::microseconds(delay_micros),
                     [&] { return stop_ || woken_; });
      woken_ = false;
    }
  }
}

LinkStats Sender::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status Sender::Ready() const {
  std::lock_guard lock(mu_);
  if (stats_.resync_needed) {
    return Status::Unavailable("the link to the national node needs a resync")
        .WithReason("link_resync");
  }
  if (stats_.conflict) {
    return Status::Unavailable(
               "the national node holds other changes under this node's numbers")
        .WithReason("link_sequence_conflict");
  }
  if (stats_.down_since != 0 && clock_->NowMicros() - stats_.down_since >
                                    int64_t{config_.ready_threshold_seconds} * 1000000) {
    return Status::Unavailable("the link to the national node is down").WithReason("link_down");
  }
  return Status::Ok();
}

std::string Sender::RenderMetrics() const {
  auto backlog = outbox_->Backlog();
  const int64_t now = clock_->NowMicros();
  std::lock_guard lock(mu_);
  std::string o;
  o += "# HELP kakunin_link_backlog Changes waiting for the national node.\n";
  o += "# TYPE kakunin_link_backlog gauge\n";
  o += "kakunin_link_backlog " + std::to_string(backlog.ok() ? backlog->pending : -1) + "\n";
  o += "# HELP kakunin_link_oldest_pending_seconds Age of the oldest undelivered change.\n";
  o += "# TYPE kakunin_link_oldest_pending_seconds gauge\n";
  const int64_t oldest =
      backlog.ok() && backlog->oldest_pending_at > 0 ? now - backlog->oldest_pending_at : 0;
  o += "kakunin_link_oldest_pending_seconds " + Seconds(std::max<int64_t>(0, oldest)) + "\n";
  o += "# HELP kakunin_link_last_success_timestamp_seconds Last batch the national node "
       "acknowledged (0: none since start).\n";
  o += "# TYPE kakunin_link_last_success_timestamp_seconds gauge\n";
  o += "kakunin_link_last_success_timestamp_seconds " + Seconds(stats_.last_success_at) + "\n";
  o += "# TYPE kakunin_link_acknowledged_sequence gauge\n";
  o += "kakunin_link_acknowledged_sequence " + std::to_string(stats_.acknowledged) + "\n";
  o += "# TYPE kakunin_link_forwarded_total counter\n";
  o += "kakunin_link_forwarded_total " + std::to_string(stats_.forwarded_total) + "\n";
  o += "# TYPE kakunin_link_failures_total counter\n";
  o += "kakunin_link_failures_total " + std::to_string(stats_.failures_total) + "\n";
  o += "# HELP kakunin_link_up 1 unless the last attempt failed.\n";
  o += "# TYPE kakunin_link_up gauge\n";
  o += std::string("kakunin_link_up ") + (stats_.down_since == 0 ? "1" : "0") + "\n";
  o += "# HELP kakunin_link_resync_needed 1 when the national node is behind the purged outbox "
       "rows: nothing is sent until the operators resync.\n";
  o += "# TYPE kakunin_link_resync_needed gauge\n";
  o += std::string("kakunin_link_resync_needed ") + (stats_.resync_needed ? "1" : "0") + "\n";
  o += "# HELP kakunin_link_lag_seconds From the apply on this node to the national node's "
       "acknowledgement.\n";
  o += "# TYPE kakunin_link_lag_seconds histogram\n";
  for (int i = 0; i < kLagBuckets; ++i) {
    char le[32];
    std::snprintf(le, sizeof le, "%g", kLagBounds[i]);
    o += "kakunin_link_lag_seconds_bucket{le=\"" + std::string(le) + "\"} " +
         std::to_string(lag_buckets_[i]) + "\n";
  }
  o += "kakunin_link_lag_seconds_bucket{le=\"+Inf\"} " + std::to_string(lag_count_) + "\n";
  char sum[48];
  std::snprintf(sum, sizeof sum, "%.6f", lag_sum_);
  o += "kakunin_link_lag_seconds_sum " + std::string(sum) + "\n";
  o += "kakunin_link_lag_seconds_count " + std::to_string(lag_count_) + "\n";
  return o;
}

}  // namespace kakunin::link
