#pragma once

// The operators' console (docs/operators.md): static pages, sessions (password, then WebAuthn or
// an IC card), enrolment, operator management, and the resident routes for nominated operators.
// Every request is decided by one authorisation table (ConsoleRules()), deny by default.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/service.h"
#include "auth/sessions.h"
#include "auth/throttle.h"
#include "auth/webauthn.h"
#include "registry/gateway.h"
#include "registry/operators.h"
#include "registry/registers.h"

namespace kakunin::api {

// Who may call a console endpoint. Deny by default: a route not in the table is 404; a role not
// listed is 403.
struct ConsoleRule {
  const char* method;
  const char* route;      // template, e.g. "/v1/operators/{id}/status"
  bool public_route;      // no session needed (static pages, login, enrolment)
  bool password_stage;    // a session past the password is enough (the second factor itself)
  std::vector<const char*> roles;  // any of them; empty with !public_route: any active operator
  bool needs_nomination;  // resident routes: a nomination for the purpose
};
const std::vector<ConsoleRule>& ConsoleRules();

class Metrics;

struct ConsoleOptions {
  std::string rp_id = "localhost";
  std::string origin;  // "https://localhost:8444"; set when the port is known
  std::string web_dir;
  int idle_lock_seconds = 300;
  int lifetime_seconds = 8 * 3600;
  const registry::PurposeCatalogue* purposes = nullptr;  // titles of nominations; required
  // Anonymous refusals (no or unknown session, unknown operator id, bad enrolment link, too
  // many requests) are counted here (optional) and written to the operation log as a sample: at
  // most one entry per source address per this many seconds, carrying how many it stands for.
  Metrics* metrics = nullptr;
  int refusal_sample_seconds = 60;
  // The public routes (password step, enrolment) per source address: a burst of this many, then
  // this many per minute; 429 too_many_requests beyond.
  int login_attempts_per_minute = 30;
  // Source addresses tracked by the limiter and the sampler (beyond: they share one slot).
  size_t max_sources = 10000;
  // The disclosure desk (a prefecture node); nullptr: its routes answer 404.
  const registry::DisclosureDesk* disclosures = nullptr;
  // The staff's registers (training, contractors, reviews); nullptr: their routes answer 404.
  const registry::RegisterDesk* registers = nullptr;
  // The operation log, read through `registers` (GET /v1/audit/entries); nullptr: 404.
  const registry::AuditDesk* audit = nullptr;
};

// Thread-safe.
class ConsoleService {
 public:
  // Reads and writes go through `desk` (the operator register's use cases) and `gateway` (the
  // resident use cases); the console touches no store itself. Pointers must outlive it; `clock`
  // times sessions, the rate limit and the refusal sample.
  ConsoleService(registry::Gateway* gateway, registry::OperatorDesk* desk, const Clock* clock,
                 ConsoleOptions options);
  ~ConsoleService();

  void SetOrigin(const std::string& origin);
  http::Response Handle(const http::Request& request);
  // Writes the anonymous refusals the sampler held back and no later refusal carried, for
  // source addresses whose interval has ended (all of them when `everything`: the node
  // stopping). The node's checkpoint timer calls it.
  Status WriteHeldRefusals(bool everything);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kakunin::api
