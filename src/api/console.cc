#include "api/console.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <semaphore>
#include <sstream>

#include "api/errors.h"
#include "api/metrics.h"
#include "auth/password.h"
#include "core/bytes.h"
#include "crypto/sha256.h"
#include "domain/local_gov_code.h"
#include "text/json.h"

namespace kakunin::api {
namespace {

using http::Request;
using http::Response;

// A management request whose body is not the fields its route takes: refused and recorded
// (invalid_request), naming no value.
Status MalformedBody() {
  return Status::InvalidArgument("the body must be a JSON object of the route's fields")
      .WithReason("invalid_request");
}

// The __Host- prefix: browsers take this cookie only from the console's own origin over TLS,
// with Path=/ and no Domain, so no sibling host of the domain can plant one of its own.
constexpr char kCookie[] = "__Host-kakunin_session";

const std::vector<ConsoleRule> kRules = {
    // Sessions: the password step is public; the second factor needs the password step.
    {"POST", "/v1/session/login", true, false, {}, false},
    {"POST", "/v1/session/webauthn/options", false, true, {}, false},
    {"POST", "/v1/session/webauthn/verify", false, true, {}, false},
    {"GET", "/v1/session", false, true, {}, false},
    {"POST", "/v1/session/logout", false, true, {}, false},
    // The operator's own password, from a session made active with the second factor.
    {"POST", "/v1/session/password", false, false, {}, false},
    // The holder confirms an IC card an access manager bound to them (any active operator).
    {"POST", "/v1/session/certificate", false, false, {}, false},
    // Enrolment from the one-time link.
    {"POST", "/v1/enrolment/options", true, false, {}, false},
    {"POST", "/v1/enrolment/finish", true, false, {}, false},
    // The operator register.
    {"GET",
     "/v1/operators",
     false,
     false,
     {"access_manager", "security_manager", "security_chief", "auditor"},
     false},
    {"POST", "/v1/operators", false, false, {"access_manager"}, false},
    // 作動停止 (DESIGN §7): the security chief halts and resumes the node.
    {"POST", "/v1/halt", false, false, {"security_chief"}, false},
    {"POST", "/v1/resume", false, false, {"security_chief"}, false},
    // The enrolment link: a security chief, never the access manager who made the account.
    {"POST", "/v1/operators/{id}/enrolment", false, false, {"security_chief"}, false},
    {"POST", "/v1/operators/{id}/status", false, false, {"access_manager"}, false},
    {"POST", "/v1/operators/{id}/role-requests", false, false, {"access_manager"}, false},
    {"GET",
     "/v1/operators/{id}/roles",
     false,
     false,
     {"security_chief", "access_manager", "auditor"},
     false},
    {"GET",
     "/v1/role-requests",
     false,
     false,
     {"security_chief", "access_manager", "auditor"},
     false},
    {"POST", "/v1/role-requests/{n}/approve", false, false, {"security_chief"}, false},
    {"POST", "/v1/role-requests/{n}/reject", false, false, {"security_chief"}, false},
    {"POST", "/v1/operators/{id}/nominations", false, false, {"security_manager"}, false},
    {"POST", "/v1/operators/{id}/certificates", false, false, {"access_manager"}, false},
    // Taking rights back: a nomination ended early, a role withdrawn, a lost card revoked.
    {"POST", "/v1/operators/{id}/nominations/end", false, false, {"security_manager"}, false},
    {"POST", "/v1/operators/{id}/roles/withdraw", false, false, {"security_chief"}, false},
    {"GET",
     "/v1/operators/{id}/credentials",
     false,
     false,
     {"access_manager", "security_chief", "auditor"},
     false},
    {"POST",
     "/v1/operators/{id}/credentials/revoke",
     false,
     false,
     {"access_manager", "security_chief"},
     false},
    // Resident data: operators, for purposes they are nominated for.
    {"GET", "/v1/residents/{resident_code}", false, false, {"operator"}, true},
    {"GET", "/v1/residents/{resident_code}/history", false, false, {"operator"}, true},
    {"POST", "/v1/residents/search", false, false, {"operator"}, true},
    {"POST", "/v1/provisions", false, false, {"operator"}, true},
    // Statistics purposes: counts, no record (Gateway::Population).
    {"GET", "/v1/statistics/population", false, false, {"operator"}, true},
    // The disclosure desk (registry/disclosure.h): an operator nominated for a disclosure
    // purpose; the printout register for those who keep and check it.
    {"POST", "/v1/disclosures", false, false, {"operator"}, true},
    {"GET", "/v1/disclosures", false, false, {"operator"}, true},
    {"GET", "/v1/disclosures/{n}", false, false, {"operator"}, true},
    {"POST", "/v1/disclosures/{n}/notice", false, false, {"operator"}, true},
    {"POST", "/v1/disclosures/{n}/close", false, false, {"operator"}, true},
    {"GET", "/v1/disclosures/{n}/statement", false, false, {"operator"}, true},
    {"POST", "/v1/disclosures/{n}/corrections", false, false, {"operator"}, true},
    // The written result of a correction request, once its municipality answered.
    {"POST",
     "/v1/disclosures/{n}/corrections/{correction_id}/notice",
     false,
     false,
     {"operator"},
     true},
    {"GET", "/v1/printouts", false, false, {"security_manager", "auditor"}, false},
    // What became of a printout (交付・廃棄): the register's keeper.
    {"POST", "/v1/printouts/{n}/outcome", false, false, {"security_manager"}, false},
    // The operation log for its reviewers (RegisterDesk::ReadLog checks a security manager's
    // unit).
    {"GET",
     "/v1/audit/entries",
     false,
     false,
     {"auditor", "access_manager", "security_manager"},
     false},
    // The staff's registers (registry/registers.h): training, contractors and their workers,
    // self-inspections, audits and log reviews. The desk checks the finer rules (who records
    // which kind of review).
    {"POST", "/v1/trainings", false, false, {"security_chief", "security_manager"}, false},
    {"GET",
     "/v1/trainings",
     false,
     false,
     {"security_chief", "security_manager", "auditor"},
     false},
    {"POST", "/v1/contracts", false, false, {"security_chief"}, false},
    {"GET",
     "/v1/contracts",
     false,
     false,
     {"security_chief", "security_manager", "access_manager", "auditor"},
     false},
    {"POST", "/v1/contracts/{n}/workers", false, false, {"security_chief"}, false},
    {"POST", "/v1/contracts/{n}/worker-removals", false, false, {"security_chief"}, false},
    {"POST", "/v1/contracts/{n}/end", false, false, {"security_chief"}, false},
    {"POST",
     "/v1/reviews",
     false,
     false,
     {"security_chief", "auditor", "security_manager", "access_manager"},
     false},
    {"GET", "/v1/reviews", false, false, {"security_chief", "auditor", "security_manager"}, false},
};

// Matches a path against a route template; fills `params` with the {…} segments.
bool MatchRoute(std::string_view route, std::string_view path, std::vector<std::string>* params) {
  params->clear();
  while (!route.empty() || !path.empty()) {
    if (route.empty() || path.empty() || route[0] != '/' || path[0] != '/') return false;
    route.remove_prefix(1);
    path.remove_prefix(1);
    size_t rs = route.find('/');
    size_t ps = path.find('/');
    std::string_view rseg = route.substr(0, rs);
    std::string_view pseg = path.substr(0, ps);
    if (!rseg.empty() && rseg.front() == '{') {
      if (pseg.empty() || pseg.size() > 64) return false;
      params->emplace_back(pseg);
    } else if (rseg != pseg) {
      return false;
    }
    route = rs == std::string_view::npos ? std::string_view() : route.substr(rs);
    path = ps == std::string_view::npos ? std::string_view() : path.substr(ps);
  }
  return true;
}

// The session cookie's value: the cookie whose whole name is kCookie, the header split at ';'
// (found in review: the name matched after any space, inside another cookie's value too, so a
// page of the same site could set "a=x __Host-kakunin_session=…" and have it read as the
// session). Two cookies of that name (only the node sets it, __Host-: never) give none.
std::string Cookie(const Request& req) {
  const std::string* h = req.FindHeader("cookie");
  if (h == nullptr) return "";
  std::string_view v = *h;
  std::string found;
  int count = 0;
  while (!v.empty()) {
    const size_t end = v.find(';');
    std::string_view pair = v.substr(0, end);
    v = end == std::string_view::npos ? std::string_view() : v.substr(end + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != kCookie) continue;
    found = std::string(pair.substr(eq + 1));
    ++count;
  }
  return count == 1 ? found : std::string();
}

// Fetch metadata (Sec-Fetch-Site) a browser sends with every request: the console's own pages
// call /v1/ only with fetch(), "same-origin". Anything else is not the console's page asking:
// another page's request carrying the operator's cookie — SameSite=Strict lets every port and
// host of the same site send it (found in review: an <img> on another port of the host made a
// recorded lookup in the operator's name, and kept the session from its idle lock) — or "none",
// a link opened from outside the browser (mail, chat, a bookmark), which carries the Strict
// cookie too (found in review: a mailed link to a resident's history recorded a provision in the
// operator's name and showed the record). No /v1/ route is a page a person opens by address: the
// pages and their files are outside /v1/, and their downloads are fetched. Clients that send no
// metadata (tools, tests) are not browsers and carry no browser's cookie.
bool CrossSite(const Request& req) {
  const std::string* site = req.FindHeader("sec-fetch-site");
  return site != nullptr && *site != "same-origin";
}

std::string Str(std::string_view s) {
  std::string o;
  text::AppendJsonString(s, &o);
  return o;
}

// A JSON object body with only string members from `allowed`.
Result<std::map<std::string, std::string>> Fields(const Request& req,
                                                  std::initializer_list<std::string_view> allowed) {
  // The console answers every body error with invalid_request.
  ApiError ignored;
  auto v = ParseBody(req, allowed, &ignored);
  if (!v.ok()) return v.status();
  std::map<std::string, std::string> out;
  for (const auto& [k, value] : v->members()) {
    if (!value.is_string() || !value.well_formed()) {
      return Status::InvalidArgument("members must be strings");
    }
    out[k] = value.text();
  }
  return out;
}

std::optional<std::string> B64(const std::map<std::string, std::string>& f, const char* key) {
  auto it = f.find(key);
  if (it == f.end()) return std::nullopt;
  return auth::Base64UrlDecode(it->second);
}

std::string ContentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "";
}

bool IsAssetName(std::string_view name) {
  if (name.empty() || name.size() > 64 || ContentType(name).empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return name.find("..") == std::string_view::npos;
}

void SecurityHeaders(Response* r) {
  r->headers.emplace_back(
      "content-security-policy",
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
      "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  r->headers.emplace_back("x-content-type-options", "nosniff");
  r->headers.emplace_back("referrer-policy", "no-referrer");
  // JSON answers and problems carry it already (api::JsonResponse, api::Problem).
  if (std::none_of(r->headers.begin(), r->headers.end(),
                   [](const auto& h) { return h.first == "cache-control"; })) {
    r->headers.emplace_back("cache-control", "no-store");
  }
  r->headers.emplace_back("x-frame-options", "DENY");
  // The console is only ever served over TLS: browsers must never try it in clear (two years,
  // the preload lists' minimum).
  r->headers.emplace_back("strict-transport-security", "max-age=63072000; includeSubDomains");
}

}  // namespace

const std::vector<ConsoleRule>& ConsoleRules() { return kRules; }

class ConsoleService::Impl {
 public:
  Impl(registry::Gateway* gateway, registry::OperatorDesk* desk, const Clock* clock,
       ConsoleOptions options)
      : gateway_(gateway),
        purposes_(options.purposes),
        desk_(desk),
        options_(std::move(options)),
        sessions_(clock, int64_t{options_.idle_lock_seconds} * 1000000,
                  int64_t{options_.lifetime_seconds} * 1000000),
        limiter_(clock, options_.login_attempts_per_minute,
                 60 * int64_t{1000000} / std::max(1, options_.login_attempts_per_minute),
                 options_.max_sources),
        sampler_(clock, int64_t{options_.refusal_sample_seconds} * 1000000,
                 options_.max_sources) {}

  void SetOrigin(const std::string& origin) {
    std::lock_guard<std::mutex> lock(mu_);
    options_.origin = origin;
  }

  Response Handle(const Request& req) {
    Response r = Route(req);
    SecurityHeaders(&r);
    return r;
  }

  Status WriteHeldRefusals(bool everything) {
    for (auto& [address, counts] : sampler_.TakeHeld(everything)) {
      KAKUNIN_RETURN_IF_ERROR(desk_->RecordAnonymousRefusals(
          counts, "console@" + (address.empty() ? std::string("(several)") : address)));
    }
    return desk_->WriteHeldLoginRefusals(everything);
  }

 private:
  auth::RelyingParty Rp() {
    std::lock_guard<std::mutex> lock(mu_);
    return {options_.rp_id, options_.origin};
  }

  // A refusal of someone not signed in: counted, and written to the log only as a sample — at
  // most one entry per source address per interval, standing for all of them — so that whoever
  // can reach the port cannot grow the 7-year log or hold up the writer.
  void Anonymous(const Request& req, const char* reason) {
    if (options_.metrics != nullptr) options_.metrics->CountConsoleRefusal(reason);
    if (auto counts = sampler_.Note(req.remote_address, reason)) {
      (void)desk_->RecordAnonymousRefusals(*counts, "console@" + req.remote_address);
    }
  }

  Response Static(const Request& req) {
    std::string name = req.path == "/" ? "index.html" : req.path.substr(1);
    if (req.method != "GET" || !IsAssetName(name)) return Problem(ApiError::kRouteNotFound, req.request_id);
    std::ifstream in(options_.web_dir + "/" + name, std::ios::binary);
    if (!in) return Problem(ApiError::kRouteNotFound, req.request_id);
    std::stringstream ss;
    ss << in.rdbuf();
    Response r;
    r.content_type = ContentType(name);
    r.body = ss.str();
    return r;
  }

  Response Route(const Request& req) {
    const std::string& rid = req.request_id;
    if (req.path.rfind("/v1/", 0) != 0) return Static(req);
    const ConsoleRule* rule = nullptr;
    std::vector<std::string> params;
    bool path_known = false;
    for (const ConsoleRule& r : kRules) {
      if (!MatchRoute(r.route, req.path, &params)) continue;
      // A literal route wins over a template (search vs {resident_code}).
      path_known = true;
      if (req.method == r.method) {
        rule = &r;
        break;
      }
    }
    if (rule == nullptr) {
      if (path_known) return Problem(ApiError::kMethodNotAllowed, rid);
      return Problem(ApiError::kRouteNotFound, rid);
    }
    if (req.path == "/v1/residents/search" && std::string_view(rule->route) != "/v1/residents/search") {
      return Problem(ApiError::kMethodNotAllowed, rid);
    }
    const std::string route = rule->route;
    const std::string terminal = "console@" + req.remote_address;

    // Every /v1/ request from another page is refused, sign-in and enrolment included (found in
    // review: those were answered before this check; only their JSON content type kept a
    // browser from sending them across sites).
    if (CrossSite(req)) {
      Anonymous(req, "cross_site");
      return Problem(ApiError::kCsrfFailed, rid);
    }

    if (rule->public_route) {
      // Each of these costs an argon2id hash or a database read: a budget per source address.
      if (!limiter_.Allow(req.remote_address)) {
        Anonymous(req, "too_many_requests");
        return Problem(ApiError::kTooManyRequests, rid);
      }
      if (route == "/v1/session/login") return Login(req, terminal);
      if (route == "/v1/enrolment/options") return EnrolOptions(req);
      if (route == "/v1/enrolment/finish") return EnrolFinish(req);
      return Problem(ApiError::kRouteNotFound, rid);
    }

    // Everything else needs a session, an active operator, and (POST) the CSRF token.
    const std::string token = Cookie(req);
    const bool touch = !(req.method == "GET" && route == "/v1/session");
    auto session = token.empty() ? std::nullopt : sessions_.Find(token, touch);
    if (!session) {
      Anonymous(req, "session_required");
      return Problem(ApiError::kSessionRequired, rid);
    }
    auto op = desk_->Find(session->operator_id);
    if (!op.ok()) return Problem(ApiError::kUnavailable, rid);
    if (!*op || !(*op)->active()) {
      // Suspended or retired: every session ends now.
      sessions_.EraseOperator(session->operator_id);
      (void)desk_->RecordRefusal(session->operator_id, "console.refused", "not_active", terminal);
      return Problem(ApiError::kSessionRequired, rid);
    }
    // What the session stands on goes with the operator into every use case: a read's recording
    // transaction checks both again (registry::CheckSessionStands), since a revocation or a
    // password change can commit between the checks below and that transaction (found in
    // review: reads were recorded and answered up to 30 ms after a revocation committed).
    (*op)->password_mark = session->password_mark;
    (*op)->session_credential = session->credential_id;
    const registry::OperatorView& who = **op;
    if (!session->password_mark.empty() &&
        session->password_mark != registry::PasswordMark(who.row.password_hash)) {
      // The password was changed since this session's password step — through another node
      // sharing the register, or a new enrolment: the session is not the new password's.
      sessions_.Erase(session->token);
      (void)desk_->RecordRefusal(who.row.operator_id, "console.refused", "password_changed",
                                 terminal);
      return Problem(ApiError::kSessionRequired, rid);
    }
    if (!session->card_spki.empty() &&
        !ConstantTimeEquals(req.client_spki_sha256, session->card_spki)) {
      // Made active with an IC card: without that card (a copied cookie, the card pulled out)
      // it is not the operator. The session ends; signing in again needs the card.
      sessions_.Erase(session->token);
      (void)desk_->RecordRefusal(who.row.operator_id, "console.refused", "card_absent:" + route,
                                 terminal);
      return Problem(ApiError::kSessionRequired, rid);
    }
    if (!session->credential_id.empty()) {
      // Revoked meanwhile — through this node (which ended its sessions at once) or another on
      // the same database (found in review: there the session went on until its idle lock).
      auto in_force = desk_->CredentialInForce(who.row.operator_id, session->credential_id);
      if (!in_force.ok()) return Problem(ApiError::kUnavailable, rid);
      if (!*in_force) {
        sessions_.Erase(session->token);
        (void)desk_->RecordRefusal(who.row.operator_id, "console.refused", "credential_revoked",
                                   terminal);
        return Problem(ApiError::kSessionRequired, rid);
      }
    }
    if (req.method == "POST") {
      const std::string* csrf = req.FindHeader("x-csrf-token");
      if (csrf == nullptr || !ConstantTimeEquals(*csrf, session->csrf_token)) {
        (void)desk_->RecordRefusal(who.row.operator_id, "console.refused", "csrf_failed", terminal);
        return Problem(ApiError::kCsrfFailed, rid);
      }
    }
    if (!rule->password_stage && session->stage != auth::SessionStage::kActive) {
      // Found in review: someone holding only the password probing the routes is an operator's
      // refusal like any other — one entry each, by route. (An idle-locked screen is not: the
      // lock is the console working as meant, and its unlock is recorded.)
      const bool locked = session->stage == auth::SessionStage::kLocked;
      if (!locked) {
        (void)desk_->RecordRefusal(who.row.operator_id, "console.refused",
                                   "second_factor_required:" + route, terminal);
      }
      return Problem(locked ? ApiError::kSessionLocked : ApiError::kSessionRequired, rid);
    }
    if (!rule->roles.empty()) {
      bool allowed = false;
      for (const char* role : rule->roles) allowed = allowed || who.HasRole(role);
      if (!allowed) {
        (void)desk_->RecordRefusal(who.row.operator_id, "console.refused",
                                   "not_permitted:" + route, terminal);
        return Problem(ApiError::kNotPermitted, rid);
      }
    }

    if (route == "/v1/session/webauthn/options") return AssertionOptions(*session, who, rid);
    if (route == "/v1/session/webauthn/verify") {
      return AssertionVerify(req, *session, who, terminal);
    }
    if (route == "/v1/session") return SessionInfo(*session, who);
    if (route == "/v1/session/certificate") {
      // Only in a session made active with the operator's own authenticator, on a connection
      // presenting the card: the holder shows both. (A session made active with a card holds only
      // with that card, so it never reaches here with another.)
      if (!session->card_spki.empty() || req.client_spki_sha256.empty()) {
        (void)desk_->RecordRefusal(who.row.operator_id, "operator.certificate.confirm",
                                   "ic_card_not_pending", terminal);
        return Problem(ApiError::kConflict, rid,
                       "sign in with your authenticator and present the IC card to confirm");
      }
      Status st = desk_->ConfirmCard(who.row.operator_id, req.client_spki_sha256, terminal);
      if (!st.ok()) return Problem(FromStatus(st), rid, st.message());
      return JsonResponse("{\"operator_id\":" + Str(who.row.operator_id) +
                          ",\"status\":\"confirmed\"}");
    }
    if (route == "/v1/session/password") return ChangePassword(req, who, session->token, terminal);
    if (route == "/v1/session/logout") {
      sessions_.Erase(session->token);
      (void)desk_->RecordSession(who.row.operator_id, "session.logout", terminal);
      Response r = JsonResponse("{\"status\":\"signed_out\"}");
      r.headers.emplace_back("set-cookie", std::string(kCookie) +
                                               "=; Max-Age=0; Path=/; Secure; HttpOnly; "
                                               "SameSite=Strict");
      return r;
    }
    if (route.rfind("/v1/disclosures", 0) == 0 || route.rfind("/v1/printouts", 0) == 0) {
      return Disclosures(req, who, route, params, terminal);
    }
    if (route.rfind("/v1/trainings", 0) == 0 || route.rfind("/v1/contracts", 0) == 0 ||
        route.rfind("/v1/reviews", 0) == 0 || route == "/v1/audit/entries") {
      return Registers(req, who, route, params, terminal);
    }
    if (rule->needs_nomination) {
      // The resident use cases (Gateway) read from snapshots of their own.
      const registry::Caller caller = registry::Caller::ForOperator(who, terminal, session->token);
      const char* action = route == "/v1/statistics/population" ? "resident.statistics"
                           : route == "/v1/residents/search"     ? "resident.search"
                                                                 : "resident.provide";
      if (Status st = gateway_->CheckRunningFor(caller, action); !st.ok()) {
        return Problem(FromStatus(st), rid);
      }
      if (route == "/v1/statistics/population") return Population(req, caller);
      return ServeResidentRoute(req, *gateway_, caller);
    }
    return Manage(req, who, route, params, terminal);
  }

  static std::string DisclosureJson(const registry::DisclosureSummary& d) {
    std::string o = "{\"disclosure_id\":" + std::to_string(d.id) + ",\"purpose\":" +
                    Str(d.purpose) + ",\"requester\":" + Str(d.requester) +
                    ",\"identity_document\":" + Str(d.identity_document) +
                    ",\"channel\":" + Str(d.channel) + ",\"received_on\":" +
                    Str(d.received_on) + ",\"due_on\":" + Str(d.due_on) +
                    ",\"status\":" + Str(d.status) +
                    (d.close_reason.empty() ? std::string()
                                            : ",\"close_reason\":" + Str(d.close_reason)) +
                    ",\"overdue\":" + (d.overdue ? "true" : "false") +
                    ",\"registered_by\":" + Str(d.registered_by) +
                    ",\"decided_by\":" + Str(d.decided_by) +
                    ",\"documents\":" + std::to_string(d.documents) +
                    (d.resident_code.empty() ? std::string()
                                             : ",\"resident_code\":" + Str(d.resident_code)) +
                    ",\"corrections\":[";
    for (size_t i = 0; i < d.corrections.size(); ++i) {
      const registry::CorrectionSummary& c = d.corrections[i];
      o += (i ? "," : "") + std::string("{\"correction_id\":") + std::to_string(c.id) +
           ",\"fields\":[";
      for (size_t j = 0; j < c.fields.size(); ++j) o += (j ? "," : "") + Str(c.fields[j]);
      // Not which municipality it went to: after a move under a support measure, that is where
      // the person lives now, and the desk needs only the outcome (found in review).
      o += "],\"status\":" + Str(c.status) + ",\"outcome\":" + Str(c.outcome);
      if (c.answered_at != 0) o += ",\"answered_at\":" + Str(JstIsoTime(c.answered_at));
      // When its written result first went out (調査結果通知書); absent before.
      if (c.notified_at != 0) o += ",\"notified_at\":" + Str(JstIsoTime(c.notified_at));
      o += "}";
    }
    return o + "]}";
  }

  Response Disclosures(const Request& req, const registry::OperatorView& who,
                       const std::string& route, const std::vector<std::string>& params,
                       const std::string& terminal) {
    const std::string& rid = req.request_id;
    const registry::DisclosureDesk* desk = options_.disclosures;
    if (desk == nullptr) return Problem(ApiError::kRouteNotFound, rid);
    const registry::Actor actor{"operator:" + who.row.operator_id, terminal};
    auto fail = [&](const Status& st) { return Problem(FromStatus(st), rid, st.message()); };
    // A malformed call of a signed-in operator is a refusal like any other: recorded (found in
    // review: only the use cases' own refusals were).
    auto malformed = [&](std::string_view detail = {}) {
      (void)desk_->RecordRefusal(who.row.operator_id, "console.refused",
                                 "invalid_request:" + route, terminal);
      return Problem(ApiError::kInvalidRequest, rid, detail);
    };
    if (!req.query.empty()) return malformed("no query here");
    auto printout_json = [](const registry::Printout& p) {
      std::string o = "{\"printout_id\":" + std::to_string(p.id) + ",\"kind\":" + Str(p.kind) +
                      ",\"reference\":" + Str(p.reference) +
                      ",\"printed_at\":" + Str(JstIsoTime(p.printed_at)) +
                      ",\"printed_by\":" + Str(p.printed_by) +
                      ",\"pages\":" + std::to_string(p.pages) + ",\"sha256\":" + Str(p.sha256);
      if (!p.outcome.empty()) {
        o += ",\"outcome\":" + Str(p.outcome);
        if (!p.outcome_method.empty()) o += ",\"outcome_method\":" + Str(p.outcome_method);
        o += ",\"outcome_on\":" + Str(p.outcome_on) +
             ",\"outcome_recorded_at\":" + Str(JstIsoTime(p.outcome_at)) +
             ",\"outcome_by\":" + Str(p.outcome_by);
      }
      return o + "}";
    };
    if (route == "/v1/printouts") {
      auto rows = desk->Printouts(who, actor);
      if (!rows.ok()) return fail(rows.status());
      std::string o = "{\"printouts\":[";
      for (size_t i = 0; i < rows->size(); ++i) o += (i ? "," : "") + printout_json((*rows)[i]);
      return JsonResponse(o + "]}");
    }
    if (route == "/v1/printouts/{n}/outcome") {
      auto f = Fields(req, {"outcome", "method", "on"});
      if (!f.ok() || !f->count("outcome") || !f->count("on")) {
        return malformed("outcome (handed_over, mailed or destroyed) and on (YYYY-MM-DD) are "
                         "required; method (shredded or dissolved) for destroyed");
      }
      // Not a number: no printout's (the desk answers as for an unknown one).
      const int64_t id = ParseRowId(params[0]).value_or(0);
      auto done = desk->RecordPrintoutOutcome(who, actor, id, (*f)["outcome"],
                                              f->count("method") ? (*f)["method"] : std::string(),
                                              (*f)["on"]);
      if (!done.ok()) return fail(done.status());
      return JsonResponse(printout_json(*done));
    }
    if (route == "/v1/disclosures" && req.method == "GET") {
      auto list = desk->List(who, actor);
      if (!list.ok()) return fail(list.status());
      std::string o = "{\"disclosures\":[";
      for (size_t i = 0; i < list->size(); ++i) o += (i ? "," : "") + DisclosureJson((*list)[i]);
      return JsonResponse(o + "]}");
    }
    if (route == "/v1/disclosures") {
      auto f = Fields(req, {"purpose", "resident_code", "requester", "identity_document",
                            "channel", "received_on"});
      if (!f.ok()) return malformed(f.status().message());
      registry::DisclosureInput in;
      in.purpose = (*f)["purpose"];
      in.resident_code = (*f)["resident_code"];
      in.requester = (*f)["requester"];
      in.identity_document = (*f)["identity_document"];
      in.channel = (*f)["channel"];
      in.received_on = (*f)["received_on"];
      auto made = desk->Receive(who, actor, in);
      if (!made.ok()) return fail(made.status());
      return JsonResponse(DisclosureJson(*made), 201);
    }
    // /v1/disclosures/{n}…
    // A number that is not one is no request's: the desk answers as for an unknown one (not
    // nominated first, then not found), so a malformed id tells nothing more.
    const int64_t n = ParseRowId(params[0]).value_or(0);
    if (route == "/v1/disclosures/{n}") {
      auto d = desk->Get(who, actor, n);
      if (!d.ok()) return fail(d.status());
      return JsonResponse(DisclosureJson(*d));
    }
    auto pdf_response = [](registry::IssuedNotice& notice, const std::string& filename) {
      Response r;
      r.content_type = "application/pdf";
      r.body = std::move(notice.pdf);
      r.headers.emplace_back("content-disposition", "attachment; filename=\"" + filename + "\"");
      r.headers.emplace_back("x-printout-id", std::to_string(notice.printout_id));
      r.headers.emplace_back("x-document-sha256", notice.sha256);
      return r;
    };
    if (route == "/v1/disclosures/{n}/notice") {
      auto f = Fields(req, {});
      if (!req.body.empty() && !f.ok()) return malformed();
      auto notice = desk->IssueNotice(who, actor, n);
      if (!notice.ok()) return fail(notice.status());
      return pdf_response(*notice, "disclosure-" + std::to_string(n) + ".pdf");
    }
    if (route == "/v1/disclosures/{n}/corrections/{correction_id}/notice") {
      auto f = Fields(req, {});
      if (!req.body.empty() && !f.ok()) return malformed();
      // Not a number: no correction's (answered as for an unknown one).
      const int64_t c = ParseRowId(params[1]).value_or(0);
      auto notice = desk->IssueCorrectionNotice(who, actor, n, c);
      if (!notice.ok()) return fail(notice.status());
      return pdf_response(*notice, "correction-" + std::to_string(n) + "-" +
                                       std::to_string(c) + ".pdf");
    }
    if (route == "/v1/disclosures/{n}/close") {
      auto f = Fields(req, {"outcome", "reason"});
      if (!f.ok() || !f->count("outcome")) {
        return malformed("outcome (withdrawn, rejected or entered_in_error) is required");
      }
      auto closed = desk->Close(who, actor, n, (*f)["outcome"],
                                f->count("reason") ? (*f)["reason"] : std::string());
      if (!closed.ok()) return fail(closed.status());
      return JsonResponse(DisclosureJson(*closed));
    }
    if (route == "/v1/disclosures/{n}/statement") {
      auto statement = desk->Statement(who, actor, n);
      if (!statement.ok()) return fail(statement.status());
      Response r = JsonResponse(std::move(*statement));
      r.headers.emplace_back("content-disposition", "attachment; filename=\"statement-" +
                                                        std::to_string(n) + ".json\"");
      return r;
    }
    if (route == "/v1/disclosures/{n}/corrections") {
      ApiError ignored;
      auto body = ParseBody(req, {"fields", "details"}, &ignored);
      if (!body.ok()) return malformed();
      const text::JsonValue* fields = body->Find("fields");
      const text::JsonValue* details = body->Find("details");
      if (fields == nullptr || !fields->is_array() || details == nullptr ||
          !details->is_string() || !details->well_formed() || fields->items().size() > 16) {
        return malformed(
                       "fields (an array of item names) and details (a string) are required");
      }
      std::vector<std::string> names;
      for (const auto& item : fields->items()) {
        if (!item.is_string() || !item.well_formed()) {
          return malformed("fields must be item names");
        }
        names.push_back(item.text());
      }
      auto id = desk->ReceiveCorrection(who, actor, n, names, details->text());
      if (!id.ok()) return fail(id.status());
      return JsonResponse("{\"correction_id\":" + std::to_string(*id) +
                              ",\"disclosure_id\":" + std::to_string(n) +
                              ",\"status\":\"open\"}",
                          201);
    }
    return Problem(ApiError::kRouteNotFound, rid);
  }

  static const char* TrainingLabel(const std::string& kind) {
    return kind == "operator" ? "操作者研修" : kind == "manager" ? "管理者研修" : "";
  }

  static const char* ReviewLabel(const std::string& kind) {
    return kind == "self_inspection" ? "自己点検"
           : kind == "audit"         ? "監査"
           : kind == "log_review"    ? "操作履歴の確認"
                                     : "";
  }

  // The staff's registers (registry/registers.h): no resident data in or out.
  Response Registers(const Request& req, const registry::OperatorView& who,
                     const std::string& route, const std::vector<std::string>& params,
                     const std::string& terminal) {
    const std::string& rid = req.request_id;
    const registry::RegisterDesk* desk = options_.registers;
    if (desk == nullptr) return Problem(ApiError::kRouteNotFound, rid);
    const registry::Actor actor{"operator:" + who.row.operator_id, terminal};
    auto fail = [&](const Status& st) { return Problem(FromStatus(st), rid, st.message()); };
    // A malformed call of a signed-in operator is a refusal like any other: recorded (found in
    // review: only the use cases' own refusals were).
    auto malformed = [&](std::string_view detail = {}) {
      (void)desk_->RecordRefusal(who.row.operator_id, "console.refused",
                                 "invalid_request:" + route, terminal);
      return Problem(ApiError::kInvalidRequest, rid, detail);
    };
    if (route == "/v1/audit/entries") {
      if (options_.audit == nullptr) return Problem(ApiError::kRouteNotFound, rid);
      auto query = QueryOf(req.query, {"from", "to", "actor", "action", "limit", "after"});
      if (!query.ok()) return malformed(query.status().message());
      registry::LogReadInput in;
      auto get = [&](const char* k) -> std::optional<std::string> {
        auto it = query->find(k);
        return it == query->end() ? std::nullopt : std::optional<std::string>(it->second);
      };
      in.from = get("from");
      in.to = get("to");
      in.actor = get("actor");
      in.action = get("action");
      if (auto l = get("limit")) {
        if (l->empty() || l->size() > 4 ||
            !std::all_of(l->begin(), l->end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return malformed("limit must be 1 to 1000");
        }
        in.limit = std::stoi(*l);
      }
      if (auto a = get("after")) {
        if (a->empty() || a->size() > 18 ||
            !std::all_of(a->begin(), a->end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return malformed("after must be an entry's sequence number");
        }
        in.after = std::stoll(*a);
      }
      auto page = desk->ReadLog(who, actor, *options_.audit, in);
      if (!page.ok()) return fail(page.status());
      std::string o = "{\"entries\":[";
      for (size_t i = 0; i < page->records.size(); ++i) {
        o += (i ? "," : "") + registry::LogRecordJson(page->records[i]);
      }
      o += "],\"truncated\":" + std::string(page->truncated ? "true" : "false");
      // The next page: the same query with after=<this>.
      if (page->truncated && !page->records.empty()) {
        o += ",\"next_after\":" + std::to_string(page->records.back().seq);
      }
      return JsonResponse(o + "}");
    }
    if (!req.query.empty()) return malformed("no query here");
    if (req.method == "GET") {
      if (route == "/v1/trainings") {
        auto rows = desk->Trainings(who, actor);
        if (!rows.ok()) return fail(rows.status());
        std::string o = "{\"trainings\":[";
        for (size_t i = 0; i < rows->size(); ++i) {
          const registry::Training& t = (*rows)[i];
          o += (i ? "," : "") + std::string("{\"training_id\":") + std::to_string(t.id) +
               ",\"held_on\":" + Str(t.held_on) + ",\"kind\":" + Str(t.kind) +
               ",\"kind_label\":" + Str(TrainingLabel(t.kind)) + ",\"title\":" + Str(t.title) +
               ",\"attendees\":[";
          for (size_t j = 0; j < t.attendees.size(); ++j) o += (j ? "," : "") + Str(t.attendees[j]);
          o += "],\"recorded_at\":" + Str(JstIsoTime(t.recorded_at)) +
               ",\"recorded_by\":" + Str(t.recorded_by) + "}";
        }
        return JsonResponse(o + "]}");
      }
      if (route == "/v1/contracts") {
        auto rows = desk->Contracts(who, actor);
        if (!rows.ok()) return fail(rows.status());
        std::string o = "{\"contracts\":[";
        for (size_t i = 0; i < rows->size(); ++i) {
          const registry::Contract& c = (*rows)[i];
          o += (i ? "," : "") + std::string("{\"contract_id\":") + std::to_string(c.id) +
               ",\"company\":" + Str(c.company) + ",\"work\":" + Str(c.work) +
               ",\"from\":" + Str(c.from) + ",\"to\":" + Str(c.to) +
               ",\"subcontracting\":" + Str(c.subcontracting);
          if (!c.approved_on.empty()) o += ",\"approved_on\":" + Str(c.approved_on);
          if (!c.pledge_received_on.empty()) {
            o += ",\"pledge_received_on\":" + Str(c.pledge_received_on);
          }
          if (!c.ended_on.empty()) {
            o += ",\"ended_on\":" + Str(c.ended_on) + ",\"ended_at\":" +
                 Str(JstIsoTime(c.ended_at)) + ",\"ended_by\":" + Str(c.ended_by);
          }
          o += std::string(",\"in_force\":") + (c.in_force ? "true" : "false") +
               ",\"recorded_at\":" + Str(JstIsoTime(c.recorded_at)) +
               ",\"recorded_by\":" + Str(c.recorded_by) + ",\"workers\":[";
          for (size_t j = 0; j < c.workers.size(); ++j) {
            const registry::ContractWorker& w = c.workers[j];
            o += (j ? "," : "") + std::string("{\"operator_id\":") + Str(w.operator_id) +
                 ",\"added_at\":" + Str(JstIsoTime(w.added_at)) +
                 ",\"added_by\":" + Str(w.added_by);
            if (w.removed_at != 0) {
              o += ",\"removed_at\":" + Str(JstIsoTime(w.removed_at)) +
                   ",\"removed_by\":" + Str(w.removed_by);
            }
            o += "}";
          }
          o += "]}";
        }
        return JsonResponse(o + "]}");
      }
      if (route == "/v1/reviews") {
        auto rows = desk->Reviews(who, actor);
        if (!rows.ok()) return fail(rows.status());
        std::string o = "{\"reviews\":[";
        for (size_t i = 0; i < rows->size(); ++i) {
          const registry::Review& r = (*rows)[i];
          o += (i ? "," : "") + std::string("{\"review_id\":") + std::to_string(r.id) +
               ",\"kind\":" + Str(r.kind) + ",\"kind_label\":" + Str(ReviewLabel(r.kind)) +
               ",\"period_from\":" + Str(r.period_from) + ",\"period_to\":" + Str(r.period_to) +
               ",\"conducted_on\":" + Str(r.conducted_on) + ",\"result\":" + Str(r.result) +
               ",\"summary\":" + Str(r.summary) +
               ",\"recorded_at\":" + Str(JstIsoTime(r.recorded_at)) +
               ",\"recorded_by\":" + Str(r.recorded_by) + "}";
        }
        return JsonResponse(o + "]}");
      }
      return Problem(ApiError::kRouteNotFound, rid);
    }
    if (route == "/v1/trainings") {
      ApiError ignored;
      auto body = ParseBody(req, {"held_on", "kind", "title", "attendees"}, &ignored);
      if (!body.ok()) return malformed(body.status().message());
      registry::TrainingInput in;
      for (auto [key, out] : {std::pair{"held_on", &in.held_on}, std::pair{"kind", &in.kind},
                              std::pair{"title", &in.title}}) {
        const text::JsonValue* v = body->Find(key);
        if (v == nullptr || !v->is_string() || !v->well_formed()) {
          return malformed(
                         std::string(key) + " is required (a string)");
        }
        *out = v->text();
      }
      const text::JsonValue* attendees = body->Find("attendees");
      if (attendees == nullptr || !attendees->is_array() || attendees->items().size() > 200) {
        return malformed(
                       "attendees (an array of 1 to 200 operator ids) is required");
      }
      for (const auto& a : attendees->items()) {
        if (!a.is_string() || !a.well_formed()) {
          return malformed("attendees must be operator ids");
        }
        in.attendees.push_back(a.text());
      }
      auto id = desk->RecordTraining(who, actor, in);
      if (!id.ok()) return fail(id.status());
      return JsonResponse("{\"training_id\":" + std::to_string(*id) + "}", 201);
    }
    if (route == "/v1/contracts") {
      auto f = Fields(req, {"company", "work", "from", "to", "subcontracting", "approved_on",
                            "pledge_received_on"});
      if (!f.ok()) return malformed(f.status().message());
      registry::ContractInput in;
      in.company = (*f)["company"];
      in.work = (*f)["work"];
      in.from = (*f)["from"];
      in.to = (*f)["to"];
      in.subcontracting = (*f)["subcontracting"];
      in.approved_on = (*f)["approved_on"];
      in.pledge_received_on = (*f)["pledge_received_on"];
      auto id = desk->RecordContract(who, actor, in);
      if (!id.ok()) return fail(id.status());
      return JsonResponse("{\"contract_id\":" + std::to_string(*id) + "}", 201);
    }
    if (route == "/v1/contracts/{n}/workers" || route == "/v1/contracts/{n}/worker-removals" ||
        route == "/v1/contracts/{n}/end") {
      // A number that is not one is no contract's: the desk answers not_found.
      const int64_t n = ParseRowId(params[0]).value_or(0);
      if (route == "/v1/contracts/{n}/end") {
        auto f = Fields(req, {"last_day"});
        if (!f.ok()) return malformed(f.status().message());
        Status st = desk->EndContract(who, actor, n, (*f)["last_day"]);
        if (!st.ok()) return fail(st);
        return JsonResponse("{\"contract_id\":" + std::to_string(n) +
                            ",\"last_day\":" + Str((*f)["last_day"]) + "}");
      }
      auto f = Fields(req, {"operator_id"});
      if (!f.ok()) return malformed(f.status().message());
      const std::string op = (*f)["operator_id"];
      const bool add = route == "/v1/contracts/{n}/workers";
      Status st = add ? desk->AddWorker(who, actor, n, op) : desk->RemoveWorker(who, actor, n, op);
      if (!st.ok()) return fail(st);
      return JsonResponse(
          "{\"contract_id\":" + std::to_string(n) + ",\"operator_id\":" + Str(op) + "}",
          add ? 201 : 200);
    }
    if (route == "/v1/reviews") {
      auto f = Fields(req, {"kind", "period_from", "period_to", "conducted_on", "result",
                            "summary"});
      if (!f.ok()) return malformed(f.status().message());
      registry::ReviewInput in;
      in.kind = (*f)["kind"];
      in.period_from = (*f)["period_from"];
      in.period_to = (*f)["period_to"];
      in.conducted_on = (*f)["conducted_on"];
      in.result = (*f)["result"];
      in.summary = (*f)["summary"];
      auto id = desk->RecordReview(who, actor, in);
      if (!id.ok()) return fail(id.status());
      return JsonResponse("{\"review_id\":" + std::to_string(*id) + "}", 201);
    }
    return Problem(ApiError::kRouteNotFound, rid);
  }

  Response Population(const Request& req, const registry::Caller& caller) {
    const std::string& rid = req.request_id;
    auto purpose = PurposeOfQuery(req.query);
    if (!purpose.ok()) return Problem(ApiError::kInvalidRequest, rid, purpose.status().message());
    auto t = gateway_->Population(caller, *purpose);
    if (!t.ok()) return Problem(FromStatus(t.status()), rid);
    std::string o = "{\"purpose\":";
    text::AppendJsonString(t->purpose, &o);
    o += ",\"as_of\":\"" + t->as_of + "\",\"by\":[";
    bool first_dimension = true;
    for (std::string_view d : t->Dimensions()) {
      o += (first_dimension ? "\"" : ",\"") + std::string(d) + "\"";
      first_dimension = false;
    }
    o += "],\"total\":" + std::to_string(t->total) + ",\"cells\":[";
    bool first = true;
    for (const registry::PopulationCell& c : t->cells) {
      if (!first) o += ",";
      first = false;
      o += "{";
      if (t->by_municipality) {
        o += "\"municipality_code\":\"" + c.municipality_code + "\",";
        if (const LocalGovEntry* e = LocalGovTable::Builtin().Find(c.municipality_code)) {
          o += "\"municipality_name\":" + Str(e->FullName()) + ",";
        }
      }
      if (t->by_sex) o += "\"sex\":\"" + c.sex + "\",";
      if (t->by_age) {
        o += "\"age_band\":\"" + std::to_string(c.age_band) + "-" +
             (c.age_band >= 100 ? std::string() : std::to_string(c.age_band + 4)) + "\",";
      }
      o += "\"count\":" + std::to_string(c.count) + "}";
    }
    return JsonResponse(o + "]}");
  }

  Response Login(const Request& req, const std::string& terminal) {
    const std::string& rid = req.request_id;
    auto f = Fields(req, {"operator_id", "password"});
    if (!f.ok() || !f->count("operator_id") || !f->count("password")) {
      return Problem(ApiError::kInvalidRequest, rid);
    }
    // argon2id is costly on purpose: at most two at a time, so logins cannot starve the node.
    hashing_.acquire();
    auto op = desk_->CheckPassword((*f)["operator_id"], (*f)["password"], terminal);
    hashing_.release();
    if (!op.ok()) {
      // An unknown id is anonymous traffic: sampled, not one entry per guess.
      if (op.status().code() == StatusCode::kNotFound) Anonymous(req, "login_failed");
      return Problem(FromStatus(op.status()), rid);
    }
    if (std::string old = Cookie(req); !old.empty()) sessions_.Erase(old);
    // An IC card bound to this operator (and no system's key) is the second factor.
    auth::SessionStage stage = auth::SessionStage::kSecondFactor;
    std::string card;
    if (!req.client_spki_sha256.empty() &&
        desk_->CardPassed(op->row.operator_id, req.client_spki_sha256, terminal).ok()) {
      stage = auth::SessionStage::kActive;
      card = req.client_spki_sha256;  // the session holds only with this card presented
    }
    auth::Session s = sessions_.Create(op->row.operator_id, stage, card, op->password_mark);
    Response r = JsonResponse("{\"stage\":\"" + std::string(auth::SessionStageName(s.stage)) +
                      "\",\"csrf_token\":\"" + s.csrf_token + "\"}");
    r.headers.emplace_back("set-cookie", std::string(kCookie) + "=" + s.token +
                                             "; Path=/; Secure; HttpOnly; SameSite=Strict");
    return r;
  }

  Response AssertionOptions(const auth::Session& session, const registry::OperatorView& who,
                            const std::string& rid) {
    auto challenge = auth::NewChallenge();
    if (!challenge.ok()) return Problem(ApiError::kInternal, rid);
    auto creds = desk_->WebAuthnCredentials(who.row.operator_id);
    if (!creds.ok()) return Problem(ApiError::kUnavailable, rid);
    if (!sessions_.SetChallenge(session.token, *challenge)) {
      return Problem(ApiError::kSessionRequired, rid);
    }
    std::string o = "{\"publicKey\":{\"challenge\":" + Str(auth::Base64UrlEncode(*challenge)) +
                    ",\"rpId\":" + Str(Rp().id) + ",\"allowCredentials\":[";
    for (size_t i = 0; i < creds->size(); ++i) {
      o += (i ? "," : "") + std::string("{\"type\":\"public-key\",\"id\":") +
           Str(auth::Base64UrlEncode((*creds)[i])) + "}";
    }
    o += "],\"userVerification\":\"required\",\"timeout\":60000}}";
    return JsonResponse(std::move(o));
  }

  Response AssertionVerify(const Request& req, auth::Session session,
                           const registry::OperatorView& who, const std::string& terminal) {
    const std::string& rid = req.request_id;
    // Taken in one step, whatever happens next: of parallel verifications only one has it.
    const std::string challenge = sessions_.TakeChallenge(session.token);
    auto f = Fields(req, {"id", "clientDataJSON", "authenticatorData", "signature", "userHandle",
                          "type"});
    if (!f.ok()) return Problem(ApiError::kInvalidRequest, rid);
    auto id = B64(*f, "id");
    auto client_data = B64(*f, "clientDataJSON");
    auto auth_data = B64(*f, "authenticatorData");
    auto signature = B64(*f, "signature");
    if (!id || !client_data || !auth_data || !signature) {
      return Problem(ApiError::kInvalidRequest, rid);
    }
    Status st = desk_->VerifyWebAuthn(who.row.operator_id, Rp(), challenge, *id, *client_data,
                                      *auth_data, *signature, terminal);
    if (!st.ok()) {
      return Problem(st.code() == StatusCode::kPermissionDenied ? ApiError::kLoginFailed
                                                                 : ApiError::kUnavailable,
                     rid);
    }
    // Active under new tokens (and the same after an idle lock): a token seen or planted
    // before the second factor is worth nothing now.
    auto fresh = sessions_.Activate(session.token, *id);
    if (!fresh) return Problem(ApiError::kSessionRequired, rid);
    Response r =
        JsonResponse("{\"stage\":\"active\",\"csrf_token\":\"" + fresh->csrf_token + "\"}");
    r.headers.emplace_back("set-cookie", std::string(kCookie) + "=" + fresh->token +
                                             "; Path=/; Secure; HttpOnly; SameSite=Strict");
    return r;
  }

  Response SessionInfo(const auth::Session& s, const registry::OperatorView& who) {
    // Before the second factor (and while locked) the session tells only the next step: the
    // password alone does not show who this is, what they may do, or for which purposes.
    if (s.stage != auth::SessionStage::kActive) {
      return JsonResponse("{\"stage\":\"" + std::string(auth::SessionStageName(s.stage)) +
                          "\",\"csrf_token\":\"" + s.csrf_token + "\"}");
    }
    std::string o = "{\"operator_id\":" + Str(who.row.operator_id) + ",\"name\":" +
                    Str(who.row.name) + ",\"unit\":" + Str(who.row.unit) + ",\"roles\":[";
    for (size_t i = 0; i < who.roles.size(); ++i) o += (i ? "," : "") + Str(who.roles[i]);
    o += "],\"nominations\":[";
    bool first = true;
    for (const auto& n : who.nominations) {
      if (n.ended_at != 0) continue;  // ended early: allows nothing, shown no more
      o += first ? "" : ",";
      first = false;
      const registry::Purpose* p = purposes_->Find(n.purpose);
      o += "{\"purpose\":" + Str(n.purpose) + ",\"title\":" + Str(p ? p->title : "") +
           ",\"kind\":" + Str(p ? std::string(registry::PurposeKindName(p->kind)) : "") +
           ",\"from\":" + Str(n.valid_from) +
           ",\"to\":" + Str(n.valid_to) + "}";
    }
    o += "],\"stage\":\"" + std::string(auth::SessionStageName(s.stage)) +
         "\",\"idle_lock_seconds\":" + std::to_string(sessions_.idle_lock_micros() / 1000000) +
         ",\"csrf_token\":\"" + s.csrf_token + "\"}";
    return JsonResponse(std::move(o));
  }

  Response EnrolOptions(const Request& req) {
    const std::string& rid = req.request_id;
    auto f = Fields(req, {"token"});
    if (!f.ok() || !f->count("token")) return Problem(ApiError::kInvalidRequest, rid);
    auto op = desk_->EnrolmentFor((*f)["token"]);
    if (!op.ok()) {
      if (op.status().code() == StatusCode::kNotFound) Anonymous(req, "enrolment_refused");
      return Problem(FromStatus(op.status()), rid);
    }
    auto challenge = auth::NewChallenge();
    if (!challenge.ok()) return Problem(ApiError::kInternal, rid);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (enrol_challenges_.size() > 1000) enrol_challenges_.clear();
      enrol_challenges_[crypto::Sha256((*f)["token"])] = *challenge;
    }
    const auto& row = op->row;
    std::string o = "{\"operator_id\":" + Str(row.operator_id) + ",\"name\":" + Str(row.name) +
                    ",\"publicKey\":{\"challenge\":" + Str(auth::Base64UrlEncode(*challenge)) +
                    ",\"rp\":{\"id\":" + Str(Rp().id) + ",\"name\":\"Kakunin\"}" +
                    ",\"user\":{\"id\":" + Str(auth::Base64UrlEncode(row.operator_id)) +
                    ",\"name\":" + Str(row.operator_id) + ",\"displayName\":" + Str(row.name) +
                    "},\"pubKeyCredParams\":[{\"type\":\"public-key\",\"alg\":-7},"
                    "{\"type\":\"public-key\",\"alg\":-8}],\"authenticatorSelection\":"
                    "{\"userVerification\":\"required\",\"residentKey\":\"preferred\"},"
                    "\"attestation\":\"none\",\"timeout\":60000}}";
    return JsonResponse(std::move(o));
  }

  Response EnrolFinish(const Request& req) {
    const std::string& rid = req.request_id;
    auto f = Fields(req, {"token", "password", "clientDataJSON", "attestationObject", "id", "type"});
    if (!f.ok() || !f->count("token") || !f->count("password")) {
      return Problem(ApiError::kInvalidRequest, rid);
    }
    auto op = desk_->EnrolmentFor((*f)["token"]);
    if (!op.ok()) {
      if (op.status().code() == StatusCode::kNotFound) Anonymous(req, "enrolment_refused");
      return Problem(FromStatus(op.status()), rid);
    }
    const std::string id = op->row.operator_id;
    if (Status st = auth::CheckPasswordPolicy((*f)["password"], id); !st.ok()) {
      return Problem(ApiError::kInvalidRequest, rid, st.message());
    }
    std::string challenge;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = enrol_challenges_.find(crypto::Sha256((*f)["token"]));
      if (it != enrol_challenges_.end()) {
        challenge = it->second;
        enrol_challenges_.erase(it);
      }
    }
    auto client_data = B64(*f, "clientDataJSON");
    auto attestation = B64(*f, "attestationObject");
    if (challenge.empty() || !client_data || !attestation) {
      return Problem(ApiError::kInvalidRequest, rid, "ask for enrolment options first");
    }
    auto cred = auth::VerifyRegistration(Rp(), challenge, *client_data, *attestation);
    if (!cred.ok()) return Problem(ApiError::kInvalidRequest, rid, "the credential was refused");
    hashing_.acquire();
    auto hash = auth::HashPassword((*f)["password"]);
    hashing_.release();
    if (!hash.ok()) return Problem(ApiError::kUnavailable, rid);
    Status st = desk_->FinishEnrolment((*f)["token"], *hash, *cred);
    if (!st.ok()) return Problem(FromStatus(st), rid);
    return JsonResponse("{\"operator_id\":" + Str(id) + ",\"status\":\"enrolled\"}");
  }

  // POST /v1/session/password {current_password, new_password}: the current one is checked as at
  // sign-in (a wrong one counts toward the lock), the new one must meet the policy and differ.
  // Every session of the operator ends, this one too: the next step is signing in with the new
  // password and the second factor. Recorded either way; no password reaches the log.
  Response ChangePassword(const Request& req, const registry::OperatorView& who,
                          const std::string& token, const std::string& terminal) {
    const std::string& rid = req.request_id;
    const std::string& id = who.row.operator_id;
    constexpr char kAction[] = "operator.password.change";
    auto f = Fields(req, {"current_password", "new_password"});
    if (!f.ok() || !f->count("current_password") || !f->count("new_password")) {
      (void)desk_->RecordRefusal(id, kAction, "invalid_request", terminal);
      return Problem(ApiError::kInvalidRequest, rid);
    }
    const std::string& current = (*f)["current_password"];
    const std::string& next = (*f)["new_password"];
    if (Status st = auth::CheckPasswordPolicy(next, id); !st.ok()) {
      (void)desk_->RecordRefusal(id, kAction, "password_policy", terminal);
      return Problem(ApiError::kInvalidRequest, rid, st.message());
    }
    if (next == current) {
      (void)desk_->RecordRefusal(id, kAction, "password_unchanged", terminal);
      return Problem(ApiError::kInvalidRequest, rid,
                     "the new password must differ from the current one");
    }
    // argon2 runs share the two slots of sign-in: the same per-address bucket as the password
    // step keeps one session's loop from holding them (found in review).
    if (!limiter_.Allow(req.remote_address)) {
      (void)desk_->RecordRefusal(id, kAction, "too_many_requests", terminal);
      return Problem(ApiError::kTooManyRequests, rid);
    }
    hashing_.acquire();
    Status st = desk_->ChangePassword(id, current, next, terminal, who.session_credential);
    hashing_.release();
    if (st.reason() == "credential_revoked") {
      // Revoked while the request was on its way: the session ends here, as at arrival.
      sessions_.Erase(token);
      return Problem(ApiError::kSessionRequired, rid);
    }
    if (!st.ok()) {
      return Problem(st.reason() == "login_failed" ? ApiError::kLoginFailed : ApiError::kUnavailable,
                     rid);
    }
    sessions_.EraseOperator(id);
    Response r = JsonResponse("{\"status\":\"changed\"}");
    r.headers.emplace_back("set-cookie", std::string(kCookie) +
                                             "=; Max-Age=0; Path=/; Secure; HttpOnly; "
                                             "SameSite=Strict");
    return r;
  }

  Response Manage(const Request& req, const registry::OperatorView& who, const std::string& route,
                  const std::vector<std::string>& params, const std::string& terminal) {
    const std::string& rid = req.request_id;
    auto fail = [&](const Status& st) {
      // Refused by the use case — nobody acts on themselves or approves their own request, a
      // nomination for a national or an agency's purpose, a system's key as a person's card,
      // the last security chief: recorded, as every refusal of a signed-in operator is (found
      // in review: only the permission refusals were). The two the desk records itself
      // (contract_required, training_required) are not recorded twice; a failure (the store,
      // a halt of the disk) is no decision and is not a refusal.
      const StatusCode code = st.code();
      const bool refusal = code == StatusCode::kPermissionDenied ||
                           code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound ||
                           code == StatusCode::kFailedPrecondition ||
                           code == StatusCode::kAlreadyExists;
      if (refusal && st.reason() != "contract_required" && st.reason() != "training_required") {
        // Without a reason of its own, the answer's code names it (FromStatus).
        std::string why(st.reason().empty() ? InfoOf(FromStatus(st)).code : st.reason());
        (void)desk_->RecordRefusal(who.row.operator_id, "console.refused", why + ":" + route,
                                   terminal);
      }
      return Problem(FromStatus(st), rid, st.message());
    };
    if (route == "/v1/halt") {
      auto f = Fields(req, {"reason"});
      if (!f.ok() || !f->count("reason")) return fail(Status::InvalidArgument("reason is required"));
      if (Status st = gateway_->HaltBy(who, (*f)["reason"], terminal); !st.ok()) return fail(st);
      return JsonResponse("{\"halted\":true}");
    }
    if (route == "/v1/resume") {
      auto f = Fields(req, {});
      if (!req.body.empty() && !f.ok()) return fail(Status::InvalidArgument("no body here"));
      if (Status st = gateway_->ResumeBy(who, terminal); !st.ok()) return fail(st);
      return JsonResponse("{\"halted\":false}");
    }
    if (route == "/v1/operators" && req.method == "GET") {
      auto list = desk_->List(who, terminal);
      if (!list.ok()) return fail(list.status());
      std::string o = "{\"operators\":[";
      for (size_t i = 0; i < list->size(); ++i) {
        const registry::OperatorView& v = (*list)[i];
        o += (i ? "," : "") + std::string("{\"operator_id\":") + Str(v.row.operator_id) +
             ",\"name\":" + Str(v.row.name) + ",\"unit\":" + Str(v.row.unit) +
             ",\"status\":" + Str(v.row.status) + ",\"roles\":[";
        for (size_t j = 0; j < v.roles.size(); ++j) o += (j ? "," : "") + Str(v.roles[j]);
        // Every nomination with its period, and whether it was ended early: the register of who
        // may read under which purpose (操作者一覧表).
        o += "],\"nominations\":[";
        for (size_t j = 0; j < v.nominations.size(); ++j) {
          const auto& n = v.nominations[j];
          o += (j ? "," : "") + std::string("{\"purpose\":") + Str(n.purpose) +
               ",\"from\":" + Str(n.valid_from) + ",\"to\":" + Str(n.valid_to) +
               ",\"nominated_by\":" + Str(n.nominated_by) + ",\"ended\":" +
               (n.ended_at != 0 ? "true" : "false") + "}";
        }
        o += "]}";
      }
      return JsonResponse(o + "]}");
    }
    if (route == "/v1/operators") {
      auto f = Fields(req, {"operator_id", "name", "unit"});
      if (!f.ok()) return fail(MalformedBody());
      auto made = desk_->Create(who, (*f)["operator_id"], (*f)["name"], (*f)["unit"]);
      if (!made.ok()) return fail(made.status());
      // No enrolment link here: a security chief issues it (separation of duties).
      return JsonResponse("{\"operator_id\":" + Str(*made) + "}", 201);
    }
    if (route == "/v1/operators/{id}/enrolment") {
      auto issued = desk_->IssueEnrolment(who, params[0]);
      if (!issued.ok()) return fail(issued.status());
      return JsonResponse("{\"operator_id\":" + Str(issued->operator_id) +
                              ",\"enrolment_token\":" + Str(issued->token) + "}",
                          201);
    }
    if (route == "/v1/operators/{id}/status") {
      auto f = Fields(req, {"status"});
      if (!f.ok()) return fail(MalformedBody());
      Status st = desk_->SetStatus(who, params[0], (*f)["status"]);
      if (!st.ok()) return fail(st);
      if ((*f)["status"] != "active") sessions_.EraseOperator(params[0]);
      return JsonResponse("{\"operator_id\":" + Str(params[0]) + ",\"status\":" + Str((*f)["status"]) + "}");
    }
    if (route == "/v1/operators/{id}/role-requests") {
      auto f = Fields(req, {"role"});
      if (!f.ok()) return fail(MalformedBody());
      auto n = desk_->RequestRole(who, params[0], (*f)["role"]);
      if (!n.ok()) return fail(n.status());
      return JsonResponse("{\"request_id\":" + std::to_string(*n) + "}", 201);
    }
    if (route == "/v1/operators/{id}/roles") {
      auto rows = desk_->RoleGrants(who, params[0], terminal);
      if (!rows.ok()) return fail(rows.status());
      std::string o = "{\"operator_id\":" + Str(params[0]) + ",\"grants\":[";
      for (size_t i = 0; i < rows->size(); ++i) {
        const registry::RoleGrantView& g = (*rows)[i];
        o += (i ? "," : "") + std::string("{\"role\":") + Str(g.role) +
             ",\"granted_at\":" + Str(JstIsoTime(g.granted_at)) +
             ",\"approved_by\":" + Str(g.approved_by) + ",\"withdrawn_at\":" +
             (g.withdrawn_at == 0 ? std::string("null") : Str(JstIsoTime(g.withdrawn_at))) +
             ",\"withdrawn_by\":" +
             (g.withdrawn_at == 0 ? std::string("null") : Str(g.withdrawn_by)) + "}";
      }
      return JsonResponse(o + "]}");
    }
    if (route == "/v1/role-requests") {
      auto rows = desk_->PendingRoleRequests(who, terminal);
      if (!rows.ok()) return fail(rows.status());
      std::string o = "{\"role_requests\":[";
      for (size_t i = 0; i < rows->size(); ++i) {
        const registry::RoleRequestView& r = (*rows)[i];
        o += (i ? "," : "") + std::string("{\"request_id\":") + std::to_string(r.request_id) +
             ",\"operator_id\":" + Str(r.operator_id) + ",\"role\":" + Str(r.role) +
             ",\"requested_by\":" + Str(r.requested_by) +
             ",\"requested_at\":" + Str(JstIsoTime(r.requested_at)) + "}";
      }
      return JsonResponse(o + "]}");
    }
    if (route == "/v1/role-requests/{n}/approve" || route == "/v1/role-requests/{n}/reject") {
      char* end = nullptr;
      long long n = std::strtoll(params[0].c_str(), &end, 10);
      if (*end != '\0' || n <= 0) return fail(MalformedBody());
      const bool approve = route == "/v1/role-requests/{n}/approve";
      Status st = approve ? desk_->ApproveRole(who, n) : desk_->RejectRole(who, n);
      if (!st.ok()) return fail(st);
      return JsonResponse("{\"request_id\":" + std::to_string(n) + ",\"status\":" +
                          (approve ? "\"approved\"}" : "\"rejected\"}"));
    }
    if (route == "/v1/operators/{id}/nominations") {
      auto f = Fields(req, {"purpose", "from", "to"});
      if (!f.ok()) return fail(MalformedBody());
      Status st = desk_->Nominate(who, params[0], (*f)["purpose"], (*f)["from"], (*f)["to"]);
      if (!st.ok()) return fail(st);
      return JsonResponse("{\"operator_id\":" + Str(params[0]) + ",\"purpose\":" + Str((*f)["purpose"]) +
                      "}",
                  201);
    }
    if (route == "/v1/operators/{id}/nominations/end") {
      auto f = Fields(req, {"purpose"});
      if (!f.ok()) return fail(MalformedBody());
      Status st = desk_->EndNomination(who, params[0], (*f)["purpose"]);
      if (!st.ok()) return fail(st);
      return JsonResponse("{\"operator_id\":" + Str(params[0]) + ",\"purpose\":" +
                          Str((*f)["purpose"]) + ",\"status\":\"ended\"}");
    }
    if (route == "/v1/operators/{id}/roles/withdraw") {
      auto f = Fields(req, {"role"});
      if (!f.ok()) return fail(MalformedBody());
      Status st = desk_->WithdrawRole(who, params[0], (*f)["role"]);
      if (!st.ok()) return fail(st);
      return JsonResponse("{\"operator_id\":" + Str(params[0]) + ",\"role\":" +
                          Str((*f)["role"]) + ",\"status\":\"withdrawn\"}");
    }
    if (route == "/v1/operators/{id}/credentials") {
      auto list = desk_->ListCredentials(who, params[0], terminal);
      if (!list.ok()) return fail(list.status());
      std::string o = "{\"operator_id\":" + Str(params[0]) + ",\"credentials\":[";
      for (size_t i = 0; i < list->size(); ++i) {
        const registry::CredentialView& c = (*list)[i];
        o += (i ? "," : "") + std::string("{\"kind\":") + Str(c.kind) +
             ",\"credential_id\":" + Str(c.credential_id) +
             ",\"created_at\":" + Str(JstIsoTime(c.created_at)) + ",\"revoked_at\":" +
             (c.revoked_at == 0 ? std::string("null") : Str(JstIsoTime(c.revoked_at))) +
             ",\"revoked_by\":" + (c.revoked_at == 0 ? std::string("null") : Str(c.revoked_by)) +
             ",\"confirmed\":" +
             (c.confirmed() ? "true" : "false") + "}";
      }
      return JsonResponse(o + "]}");
    }
    if (route == "/v1/operators/{id}/credentials/revoke") {
      auto f = Fields(req, {"credential_id"});
      if (!f.ok()) return fail(MalformedBody());
      Status st = desk_->RevokeCredential(who, params[0], (*f)["credential_id"]);
      if (!st.ok()) return fail(st);
      // A session made with the lost card or authenticator ends now; signing in again needs one
      // still in use.
      sessions_.EraseOperator(params[0]);
      return JsonResponse("{\"operator_id\":" + Str(params[0]) + ",\"status\":\"revoked\"}");
    }
    if (route == "/v1/operators/{id}/certificates") {
      auto f = Fields(req, {"spki_sha256"});
      if (!f.ok()) return fail(MalformedBody());
      Status st = desk_->BindCertificate(who, params[0], (*f)["spki_sha256"]);
      if (!st.ok()) return fail(st);
      return JsonResponse("{\"operator_id\":" + Str(params[0]) + "}", 201);
    }
    return Problem(ApiError::kRouteNotFound, rid);
  }

  registry::Gateway* gateway_;
  const registry::PurposeCatalogue* purposes_;
  registry::OperatorDesk* desk_;
  std::mutex mu_;
  ConsoleOptions options_;
  auth::SessionStore sessions_;
  auth::RateLimiter limiter_;
  auth::RefusalSampler sampler_;
  std::map<std::string, std::string> enrol_challenges_;  // SHA-256(token) -> challenge
  std::counting_semaphore<2> hashing_{2};
};

ConsoleService::ConsoleService(registry::Gateway* gateway, registry::OperatorDesk* desk,
                               const Clock* clock, ConsoleOptions options)
    : impl_(std::make_unique<Impl>(gateway, desk, clock, std::move(options))) {}

ConsoleService::~ConsoleService() = default;

void ConsoleService::SetOrigin(const std::string& origin) { impl_->SetOrigin(origin); }

Status ConsoleService::WriteHeldRefusals(bool everything) {
  return impl_->WriteHeldRefusals(everything);
}

http::Response ConsoleService::Handle(const http::Request& request) {
  return impl_->Handle(request);
}

}  // namespace kakunin::api
