#pragma once

// The sender of the link (DESIGN §1.3): delivers the prefecture node's outbox to the national
// node in order, at least once, over mutual TLS (registry/national.h has the wire format and
// the national node's side). One thread; batches of upstream.batch_size changes after the
// acknowledged point; the national node's answer moves that point (and marks rows delivered);
// a failure is retried after a delay that doubles from retry_min_ms to retry_max_ms, each
// jittered uniformly over its upper half so that many prefectures do not retry in step. Once
// per process it posts a batch even when nothing waits (an empty one): the answer says whether
// the national node applies support measures' changes (LinkOutbox::AcceptMeasures). The
// point is kept in the database: after a restart of either side the sender resumes from it, and
// a national node that is behind it (restored) answers a gap that rewinds it. A national node
// behind the rows this node already purged (delivered_retention_hours) cannot be sent them:
// the sender then stops, says so at once (not ready: link_resync; kakunin_link_resync_needed;
// the report line; the "link.forward" entry "rewound:purged") and never skips them, until the
// operators resync (LinkOutbox::Resync, `kakunin link resync`).
//
// Halted (作動停止): nothing is forwarded; on resume the backlog drains.
// Observability (no personal data): counts, ages and times only.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/random.h"
#include "link/https_client.h"
#include "registry/config.h"
#include "registry/national.h"

namespace kakunin::link {

// Where batches go (the national node's POST /v1/link/changes); a fake in tests.
class Upstream {
 public:
  virtual ~Upstream() = default;
  virtual Result<HttpsResponse> PostBatch(const std::string& body) = 0;
};

// The real one, over `client`.
std::unique_ptr<Upstream> NewHttpsUpstream(std::unique_ptr<HttpsClient> client);
// From [upstream]: loads the TLS files now (a bad file is a start-up error).
Result<std::unique_ptr<Upstream>> NewHttpsUpstream(const registry::UpstreamConfig& config);

inline constexpr char kLinkPath[] = "/v1/link/changes";

struct LinkStats {
  int64_t acknowledged = 0;     // the national node's last acknowledged sequence
  int64_t forwarded_total = 0;  // changes acknowledged since start
  int64_t failures_total = 0;   // failed rounds since start
  int64_t consecutive_failures = 0;
  int64_t last_success_at = 0;  // µs; 0 if none since start
  int64_t down_since = 0;       // µs of the first failure of the current streak; 0 if up
  int64_t lag_last_micros = 0;  // apply on this node → acknowledged, of the last change
  bool halted = false;
  // The national node's point is below the purged outbox rows (LinkOutbox::PurgedThrough):
  // nothing is sent until the operators resync.
  bool resync_needed = false;
  // The national node holds another change under a number this node sent (sequence_conflict):
  // resending cannot help, so not ready at once (found in review: /readyz said ready for the
  // 300 s of link_down while a forged batch had moved the national point).
  bool conflict = false;
};

class Sender {
 public:
  // `outbox` and `clock` must outlive the sender. `report` gets a line (no personal data) when
  // the link goes down or comes back; may be empty.
  Sender(const registry::UpstreamConfig& config, const registry::LinkOutbox* outbox,
         const Clock* clock, std::unique_ptr<Upstream> upstream, uint64_t jitter_seed,
         registry::Actor actor, std::function<void(const std::string&)> report = {});
  ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  // One round on the calling thread (the background thread's loop, and tests): unless halted,
  // posts the next batch after the acknowledged point and records the answer. Returns how many
  // changes it sent that are now acknowledged (0: nothing was waiting, halted, or a gap rewound
  // the point); an error if the national node could not be reached or refused the batch.
  Result<int64_t> Step();

  // The delay before the next attempt after `failures` (≥ 1) consecutive failures, µs.
  int64_t RetryDelayMicros(int64_t failures);

  // Runs Step in a background thread until Stop: at once while changes are waiting, every
  // poll_ms when idle or halted, after RetryDelayMicros on a failure. Purges delivered rows
  // older than the retention once a minute.
  void Start();
  void Stop();
  // Look now (after an apply): less lag than waiting for the next poll.
  void Wake();

  LinkStats Stats() const;
  // Not ready (kUnavailable, reason link_down) when the link has been failing for longer than
  // ready_threshold_seconds; at once (reason link_resync) when it needs a resync.
  Status Ready() const;
  // Prometheus lines: kakunin_link_backlog, kakunin_link_oldest_pending_seconds,
  // kakunin_link_last_success_timestamp_seconds, kakunin_link_acknowledged_sequence,
  // kakunin_link_forwarded_total, kakunin_link_failures_total, kakunin_link_up,
  // kakunin_link_resync_needed, kakunin_link_lag_seconds (histogram).
  std::string RenderMetrics() const;

 private:
  void Run();
  void Failed(const Status& why);
  // The failure when the point is below the purged rows (and the flag for Ready and metrics);
  // Ok otherwise.
  Status CheckPurged(int64_t point);

  registry::UpstreamConfig config_;
  const registry::LinkOutbox* outbox_;
  const Clock* clock_;
  std::unique_ptr<Upstream> upstream_;
  SeededRandom random_;
  int batch_size_;  // halved on a 413 (the national node's body limit)
  registry::Actor actor_;
  std::function<void(const std::string&)> report_;
  bool loaded_ = false;    // acknowledged point read from the database
  bool answered_ = false;  // the last Step sent a batch and got an answer
  bool measures_accepted_ = false;  // LinkOutbox::AcceptMeasures done in this process
  bool probed_ = false;             // a batch (perhaps empty) was posted in this process
  int64_t last_purge_at_ = 0;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool woken_ = false;
  LinkStats stats_;
  static constexpr int kLagBuckets = 12;
  uint64_t lag_buckets_[kLagBuckets] = {};
  uint64_t lag_count_ = 0;
  double lag_sum_ = 0;
  std::thread thread_;
};

}  // namespace kakunin::link
