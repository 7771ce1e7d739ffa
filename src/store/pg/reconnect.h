#pragma once

// Opening connections again after the database went away (a restart, a failover): the store's
// writer and its reader pool share one Reconnector. While the server cannot be reached, at most
// one attempt is made per backoff interval (50 ms doubling to 1 s); the calls in between fail at
// once with kUnavailable, which the API answers 503 (retryable), so a node under load does not
// hammer a recovering server with a connection attempt per request, each of which tries every
// host of a multi-host URL. The first connection that succeeds resets the backoff.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"
#include "store/pg/conn.h"

namespace kakunin::store::pg {

struct Backoff {
  int64_t initial_micros = 50'000;
  int64_t max_micros = 1'000'000;
};

// Thread-safe.
class Reconnector {
 public:
  // `now` gives µs on a clock that does not jump (the steady clock unless a test injects one).
  explicit Reconnector(std::string url, std::function<int64_t()> now = {}, Backoff backoff = {});

  // A new connection, or kUnavailable: the server's refusal, or, during the backoff after a
  // failed attempt, without trying.
  Result<std::unique_ptr<Conn>> Open();

  // Attempts made (for tests), and whether the last one failed.
  int64_t attempts() const;
  bool unreachable() const;

 private:
  const std::string url_;
  const std::function<int64_t()> now_;
  const Backoff backoff_;
  mutable std::mutex mu_;
  int64_t delay_ = 0;  // the current interval; 0 while the server is reachable
  int64_t next_attempt_ = 0;  // no attempt before this instant
  int64_t attempts_ = 0;
  std::string last_error_;  // libpq's words (hosts and ports, never data)
};

}  // namespace kakunin::store::pg
