#pragma once

// The HTTPS API (docs/api.md, openapi.json): routes requests to the registry's use cases and
// translates JSON both ways. It decides nothing itself: authentication (the client register),
// authorisation (purposes) and recording happen in registry::Gateway, inside the use case.
// It holds no store type and no snapshot (DESIGN §3): the use cases read for themselves
// (ctest layering_api_has_no_store checks this folder).

#include <cstdio>
#include <initializer_list>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "api/metrics.h"
#include "core/clock.h"
#include "http/server.h"
#include "registry/disclosure.h"
#include "registry/gateway.h"
#include "registry/national.h"
#include "text/json.h"

namespace kakunin::api {

// The OpenAPI 3.1 document served at /v1/openapi.json (src/api/openapi.json, compiled in).
std::string_view OpenApiDocument();

// The route template of a request path, for logs and metrics: "/v1/residents/{resident_code}"
// rather than the path itself, which holds a resident code. "(unknown)" for no route.
std::string_view RouteOf(std::string_view path);

// Every route the systems' port serves, as (method, template): for tests that must cover them
// all (tests/integration/side_door_test.cc).
std::vector<std::pair<std::string, std::string>> SystemRoutes();

// A request's JSON body, strictly: application/json, an object, only `allowed` members, each
// once. On failure *error says which problem to answer (unsupported_media_type,
// malformed_request or invalid_request).
Result<text::JsonValue> ParseBody(const http::Request& request,
                                  std::initializer_list<std::string_view> allowed,
                                  ApiError* error);

// The purpose a resident route's query names (exactly "purpose=ID"); InvalidArgument otherwise.
Result<std::string> PurposeOfQuery(std::string_view query);

// A query of key=value pairs (percent-decoded), each key one of `allowed` and at most once;
// InvalidArgument otherwise (naming no value).
Result<std::map<std::string, std::string>> QueryOf(std::string_view query,
                                                   std::initializer_list<std::string_view> allowed);

// A JSON answer (application/json) with `status`.
http::Response JsonResponse(std::string body, int status = 200);

// The resident routes (lookup, history, search, provisions), shared by the systems' port and the
// console: any caller the Gateway knows (a client or an operator).
bool IsResidentRoute(std::string_view path);
http::Response ServeResidentRoute(const http::Request& request, const registry::Gateway& gateway,
                                  const registry::Caller& caller);

// Writes the access log: one JSON object per line per server event, without personal data
// (routes are templates; no query, body or header values other than the request id). Thread-safe.
//
// Requests answered are written one line each, as nginx does. The connection events — a refused
// handshake, a timeout, a connection closed at the cap, a request closed as too large — cost a
// client with no certificate nothing but a connect, so a churn of them would grow the log by its
// own speed. So, per second:
// - each source network (an IPv4 /24, an IPv6 /64) has its first kConnectionEventsPerSecond
//   written in full, and apart from those its first kConnectionEventsPerSecond refusals of a
//   certificate the client CA issued (expired, not yet valid, revoked: Event::client_ca_issued):
//   the certificate's hash and the reason are what a reviewer wants, and neither bare connects
//   nor self-made certificates can push them out (found in review);
// - all networks together write at most kConnectionEventLinesPerSecond of each of the two;
// - the rest are counted by network, and each Flush() writes `suppressed` lines for the seconds
//   that have passed: one for each of the kSummaryLinesPerFlush networks that held back most, and
//   one for all the others together (network "*", with how many networks).
// So connection events add at most 2 × kConnectionEventLinesPerSecond + kSummaryLinesPerFlush + 1
// lines a second, however many networks send them. Networks are told apart up to kMaxNetworks;
// past that, by a wider prefix (IPv4 /16, IPv6 /32) up to kMaxWideNetworks more, then together as
// "*". The metrics count every event.
class AccessLog {
 public:
  static constexpr int kConnectionEventsPerSecond = 8;
  static constexpr int kConnectionEventLinesPerSecond = 32;
  static constexpr size_t kSummaryLinesPerFlush = 16;
  static constexpr size_t kMaxNetworks = 4096;
  static constexpr size_t kMaxWideNetworks = 1024;

  // `out` is not owned (stderr, or a file the caller keeps open); nullptr writes nothing.
  // `clock` (not owned; nullptr: the system clock) times the per-network seconds.
  explicit AccessLog(std::FILE* out, const Clock* clock = nullptr);
  void Write(const http::Event& event);
  // Writes the counts of the seconds that have passed (`all`: of every second, the current ones
  // too, as at shutdown), then flushes the file.
  void Flush(bool all = false);
  // The network an address is counted in: "a.b.c.0/24" (a v4-mapped IPv6 address counts as
  // IPv4), the first 64 bits of an IPv6 address and "/64", or "?" for what is not an address.
  // `wide`: "a.b.0.0/16", or the first 32 bits and "/32".
  static std::string NetworkOf(std::string_view address, bool wide = false);

 private:
  // What a network held back: by http::Event::Kind, and of them how many were refusals of a
  // certificate the client CA issued.
  struct Held {
    int64_t since = 0;
    int64_t by_kind[5] = {0, 0, 0, 0, 0};
    int64_t client_ca = 0;
    int64_t Total() const;
    void Add(const Held& other);
  };
  struct Window {
    int64_t start = 0;
    int written[2] = {0, 0};  // lines this second: other events, client-CA certificates
    Held held;
  };
  // Moves what `w` held back into held_ (under `network`).
  void Hold(const std::string& network, const Window& w);

  std::mutex mu_;
  std::FILE* out_;
  const Clock* clock_;
  std::map<std::string, Window> windows_;  // guarded by mu_, as all below
  size_t wide_windows_ = 0;                 // of them, by a wider prefix
  std::map<std::string, Held> held_;        // the seconds passed, until the next Flush()
  int64_t second_start_ = 0;                // the node-wide budget's second
  int second_written_[2] = {0, 0};
};

// Thread-safe: Handle runs on the server's worker threads concurrently.
class Service {
 public:
  // All pointers must outlive the service; `metrics` and `access_log` may be null. The
  // gateway must have its store (Gateway::UseStore).
  Service(registry::Gateway* gateway, Metrics* metrics, AccessLog* access_log);

  http::Response Handle(const http::Request& request);
  // The server's AsyncHandler (on its I/O threads): takes GET /healthz — answered there when
  // the client is registered — and the audited lookup GET /v1/residents/{code}, which goes on
  // on a worker and is answered when its provision record is durable: no worker waits for the
  // commit, so many lookups share one. Declines the rest (false) for Handle. Answers exactly
  // what Handle would.
  bool HandleAsync(const std::shared_ptr<const http::Request>& request, http::Responder respond);
  // The server's event sink: metrics and the access log.
  void OnEvent(const http::Event& event);

  // The link (set before serving; each may stay unset): the national node's receiving route,
  // a further readiness condition for /readyz (the link's), and lines appended to /metrics.
  void UseNational(const registry::NationalDesk* desk) { national_ = desk; }
  // A prefecture node's disclosure desk: the municipalities' correction routes.
  void UseDisclosures(const registry::DisclosureDesk* desk) { disclosures_ = desk; }
  void UseReadiness(std::function<Status()> check) { readiness_ = std::move(check); }
  void UseExtraMetrics(std::function<std::string()> render) { extra_metrics_ = std::move(render); }
  // Called after notifications were applied (the link's sender looks at once).
  void UseAfterNotify(std::function<void()> hook) { after_notify_ = std::move(hook); }

 private:
  // HandleAsync's part on a worker.
  void ServeAsync(const http::Request& request, const http::Responder& respond, bool healthz);

  const registry::NationalDesk* national_ = nullptr;
  const registry::DisclosureDesk* disclosures_ = nullptr;
  std::function<Status()> readiness_;
  std::function<std::string()> extra_metrics_;
  std::function<void()> after_notify_;
  registry::Gateway* gateway_;
  Metrics* metrics_;
  AccessLog* access_log_;
};

}  // namespace kakunin::api
