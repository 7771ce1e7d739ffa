#pragma once

// Counters for GET /metrics (Prometheus text format 0.0.4). Labels are route templates,
// methods and statuses only: never a resident code, a name or a client's identity.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "http/server.h"

namespace kakunin::api {

// A request's method as metrics and the access log show it: the usual few, else "OTHER" — a
// client chooses the method token, so it could grow a label set or carry a value into a log.
std::string_view FoldedMethod(std::string_view method);

// Thread-safe; cheap enough for the I/O threads' event sink.
class Metrics {
 public:
  // One server event: requests by route/method/status with their latency, and refusals
  // (handshakes, timeouts, limits, connection cap). `route` is a template (RouteOf).
  void Count(const http::Event& event, std::string_view route);

  // A read refused by a quota (registry/quota.h); `kind` is client or operator.
  void CountQuotaRefusal(std::string_view kind);
  // A real-time alert raised; `rule` is one of audit::kLiveRules.
  void CountAlert(std::string_view rule);
  // An anonymous refusal on the console (docs/operators.md): `reason` is one of a fixed few
  // (session_required, login_failed, enrolment_refused, too_many_requests).
  void CountConsoleRefusal(std::string_view reason);

  // The exposition text. `halted` is the node's state at scrape time.
  std::string Render(bool halted) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // cumulative at render time
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, uint64_t> refusals_;  // by kind
  std::map<std::string, uint64_t, std::less<>> quota_refusals_;  // by kind (client, operator)
  std::map<std::string, uint64_t, std::less<>> alerts_;          // by rule
  std::map<std::string, uint64_t> console_refusals_;  // by reason
};

}  // namespace kakunin::api
