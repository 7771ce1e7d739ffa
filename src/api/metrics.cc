#include "api/metrics.h"

#include <cstdio>

#include "audit/review.h"

namespace kakunin::api {

std::string_view FoldedMethod(std::string_view method) {
  for (std::string_view known : {"GET", "POST", "HEAD", "PUT", "DELETE"}) {
    if (method == known) return known;
  }
  return "OTHER";
}
namespace {

std::string_view RefusalName(http::Event::Kind kind) {
  switch (kind) {
    case http::Event::kRefusedHandshake:
      return "handshake";
    case http::Event::kTimeout:
      return "timeout";
    case http::Event::kTooLarge:
      return "too_large";
    case http::Event::kConnectionCap:
      return "connection_cap";
    case http::Event::kRequest:
      break;
  }
  return "other";
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

void Metrics::Count(const http::Event& event, std::string_view route) {
  std::lock_guard<std::mutex> lock(mu_);
  if (event.kind != http::Event::kRequest && event.kind != http::Event::kTooLarge) {
    ++refusals_[std::string(RefusalName(event.kind))];
    return;
  }
  if (event.kind == http::Event::kTooLarge) ++refusals_["too_large"];
  ++requests_[{std::string(route), std::string(FoldedMethod(event.method)), event.status}];
  Histogram& h = latency_[std::string(route)];
  const double seconds = event.duration_ms / 1000.0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::CountQuotaRefusal(std::string_view kind) {
  // Only the two known labels: the label set stays fixed.
  if (kind != "client" && kind != "operator") return;
  std::lock_guard<std::mutex> lock(mu_);
  ++quota_refusals_[std::string(kind)];
}

void Metrics::CountAlert(std::string_view rule) {
  bool known = false;
  for (std::string_view r : audit::kLiveRules) known = known || r == rule;
  if (!known) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++alerts_[std::string(rule)];
}

namespace {
constexpr std::string_view kConsoleRefusals[] = {"session_required", "login_failed", "cross_site",
                                                 "enrolment_refused", "too_many_requests"};
}  // namespace

void Metrics::CountConsoleRefusal(std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::string_view known : kConsoleRefusals) {
    if (known == reason) ++console_refusals_[std::string(known)];
  }
}

std::string Metrics::Render(bool halted) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string o;
  o += "# HELP kakunin_http_requests_total HTTP requests answered, by route template.\n";
  o += "# TYPE kakunin_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    o += "kakunin_http_requests_total{route=\"" + route + "\",method=\"" + method +
         "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  }
  o += "# HELP kakunin_http_request_duration_seconds From the first byte of a request to its "
       "response written.\n";
  o += "# TYPE kakunin_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      o += "kakunin_http_request_duration_seconds_bucket{route=\"" + route + "\",le=\"" +
           Number(kBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    o += "kakunin_http_request_duration_seconds_bucket{route=\"" + route + "\",le=\"+Inf\"} " +
         std::to_string(h.count) + "\n";
    o += "kakunin_http_request_duration_seconds_sum{route=\"" + route + "\"} " + Number(h.sum) +
         "\n";
    o += "kakunin_http_request_duration_seconds_count{route=\"" + route + "\"} " +
         std::to_string(h.count) + "\n";
  }
  o += "# HELP kakunin_http_refusals_total Connections or requests refused by the server "
       "(handshake, timeout, too_large, connection_cap).\n";
  o += "# TYPE kakunin_http_refusals_total counter\n";
  for (std::string_view kind : {"handshake", "timeout", "too_large", "connection_cap"}) {
    auto it = refusals_.find(std::string(kind));
    o += "kakunin_http_refusals_total{kind=\"" + std::string(kind) + "\"} " +
         std::to_string(it == refusals_.end() ? 0 : it->second) + "\n";
  }
  o += "# HELP kakunin_quota_refusals_total Reads refused by a read quota (docs/quotas.md), by "
       "caller kind.\n";
  o += "# TYPE kakunin_quota_refusals_total counter\n";
  for (std::string_view kind : {"client", "operator"}) {
    auto it = quota_refusals_.find(kind);
    o += "kakunin_quota_refusals_total{kind=\"" + std::string(kind) + "\"} " +
         std::to_string(it == quota_refusals_.end() ? 0 : it->second) + "\n";
  }
  o += "# HELP kakunin_alerts_total Real-time misuse alerts raised (docs/quotas.md), by rule.\n";
  o += "# TYPE kakunin_alerts_total counter\n";
  for (std::string_view rule : audit::kLiveRules) {
    auto it = alerts_.find(rule);
    o += "kakunin_alerts_total{rule=\"" + std::string(rule) + "\"} " +
         std::to_string(it == alerts_.end() ? 0 : it->second) + "\n";
  }
  o += "# HELP kakunin_console_refusals_total Anonymous console requests refused (only a "
       "sample reaches the operation log).\n";
  o += "# TYPE kakunin_console_refusals_total counter\n";
  for (std::string_view reason : kConsoleRefusals) {
    auto it = console_refusals_.find(std::string(reason));
    o += "kakunin_console_refusals_total{reason=\"" + std::string(reason) + "\"} " +
         std::to_string(it == console_refusals_.end() ? 0 : it->second) + "\n";
  }
  o += "# HELP kakunin_halted 1 while the node is halted (作動停止).\n";
  o += "# TYPE kakunin_halted gauge\n";
  o += std::string("kakunin_halted ") + (halted ? "1" : "0") + "\n";
  return o;
}

}  // namespace kakunin::api
