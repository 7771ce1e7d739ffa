// The operators' console on a real node: the authorisation matrix — every console endpoint ×
// every role × nominated or not, walked from ConsoleRules() itself, so deny by default is proven
// — and sessions: CSRF, lockout, suspension ending sessions, idle lock. Operators sign in with
// password + IC card (a client certificate bound to them); the browser tests cover WebAuthn.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "api/console.h"
#include "cli/generate.h"
#include "cli/node.h"
#include "cli/node_server.h"
#include "crypto/pki.h"
#include "domain/notification.h"
#include "http/test_client.h"
#include "openapi/openapi_check.h"
#include "auth/password.h"
#include "registry/operators.h"
#include "text/json.h"

namespace kakunin {
namespace {

namespace fs = std::filesystem;
using http::testing::ClientOptions;
using http::testing::ClientResponse;
using http::testing::TestClient;
using ::testing::HasSubstr;

constexpr char kPassword[] = "correct horse battery staple";

struct World {
  std::string dir;
  std::unique_ptr<cli::Node> node;
  std::unique_ptr<cli::NodeServer> server;
  std::string ca;
  std::string resident_code;
  int certs = 0;
};
World* w = nullptr;

// A signed-in operator: their TLS connection (with their IC card), cookie and CSRF token.
struct Signed {
  std::unique_ptr<TestClient> client;
  std::string cookie;
  std::string csrf;
  std::string stage;
};

// Same segment rules as the console's router: {…} matches one non-empty segment.
bool ConsoleRouteMatches(std::string_view route, std::string_view path) {
  while (!route.empty() && !path.empty()) {
    size_t rs = route.find('/', 1), ps = path.find('/', 1);
    std::string_view rseg = route.substr(0, rs), pseg = path.substr(0, ps);
    if (!(rseg.size() > 1 && rseg[1] == '{' && pseg.size() > 1) && rseg != pseg) return false;
    route = rs == std::string_view::npos ? "" : route.substr(rs);
    path = ps == std::string_view::npos ? "" : path.substr(ps);
  }
  return route.empty() && path.empty();
}

const testing::OpenApiChecker& Checker() {
  static const testing::OpenApiChecker* checker = [] {
    auto c = testing::OpenApiChecker::Load(api::OpenApiDocument());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return new testing::OpenApiChecker(std::move(*c));
  }();
  return *checker;
}

class ConsoleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::signal(SIGPIPE, SIG_IGN);
    w = new World();
    char tmpl[] = "/tmp/kakunin-console-XXXXXX";
    w->dir = ::mkdtemp(tmpl);
    const std::string node_dir = w->dir + "/node";
    ASSERT_TRUE(cli::InitNode(node_dir, 19, "").ok());
    auto node = cli::OpenNode(node_dir);
    ASSERT_TRUE(node.ok());
    w->node = std::move(*node);
    auto g = NotificationGenerator::Create(GenerateOptions{});
    ASSERT_TRUE(g.ok());
    std::vector<registry::PreparedNotification> batch;
    for (int i = 0; i < 20; ++i) {
      Notification n = (*g)->Next();
      if (i == 0) w->resident_code = n.resident_code.str();
      batch.push_back(w->node->registry->Prepare(
          CheckJsonNotification(ToCanonicalJson(n), w->node->registry->check_options())));
    }
    ASSERT_TRUE(w->node->registry->Apply(batch, w->node->actor).ok());
    w->ca = w->dir + "/ca";
    ASSERT_TRUE(crypto::CreateCertificateAuthority(w->ca, "Test CA", 365).ok());
    ASSERT_TRUE(crypto::IssueServerCertificate(w->ca, {"localhost"}, {"127.0.0.1"}, 30,
                                               w->dir + "/server.pem", w->dir + "/server.key")
                    .ok());
    registry::ServerConfig sc;
    sc.present = true;
    sc.port = 0;
    sc.certificate = w->dir + "/server.pem";
    sc.key = w->dir + "/server.key";
    sc.client_ca = w->ca + "/ca.pem";
    sc.worker_threads = 4;
    registry::ConsoleConfig cc;
    cc.present = true;
    cc.port = 0;
    cc.idle_lock_seconds = 2;
    cc.web_dir = KAKUNIN_SOURCE_DIR "/web";
    auto started = cli::NodeServer::Start(w->node.get(), sc, nullptr, cc);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    w->server = std::move(*started);
  }

  static void TearDownTestSuite() {
    if (w->server) {
      EXPECT_TRUE(w->server->Stop().ok());
    }
    std::error_code ec;
    fs::remove_all(w->dir, ec);
    delete w;
    w = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(w != nullptr && w->server) << "the test node did not start"; }

  static registry::OperatorDesk& desk() { return *w->node->operators; }

  static registry::OperatorView Load(const std::string& id) {
    auto reader = w->node->store->OpenReader();
    auto v = desk().Load(**reader, id);
    EXPECT_TRUE(v.ok() && *v) << id;
    return **v;
  }

  // Sets a password as enrolment would (with a placeholder WebAuthn credential).
  static void Enrol(const registry::Enrolled& e) {
    auto hash = auth::HashPassword(kPassword);
    ASSERT_TRUE(hash.ok());
    store::CredentialRow c;
    c.credential_id = "placeholder-credential-" + e.operator_id;
    c.operator_id = e.operator_id;
    c.kind = "webauthn";
    c.alg = -7;
    c.public_key = std::string(64, 'k');
    ASSERT_TRUE(desk().FinishEnrolment(e.token, *hash, c).ok());
  }

  // Issues an IC card (client certificate), bound to `id` by `binder`.
  static std::pair<std::string, std::string> Card(const std::string& id,
                                                  const registry::OperatorView& binder) {
    crypto::ClientCertRequest req;
    req.kind = crypto::ClientKind::kOperator;
    req.name = "card-" + id;
    req.days = 30;
    const std::string base = w->dir + "/card-" + std::to_string(++w->certs);
    auto issued = crypto::IssueClientCertificate(w->ca, req, base + ".pem", base + ".key");
    EXPECT_TRUE(issued.ok());
    EXPECT_TRUE(desk().BindCertificate(binder, id, issued->spki_sha256_hex).ok());
    return {base + ".pem", base + ".key"};
  }

  static Signed SignIn(const std::string& id, const std::pair<std::string, std::string>& card,
                       const std::string& password = kPassword) {
    Signed s;
    ClientOptions o;
    o.ca_file = w->ca + "/ca.pem";
    o.cert_file = card.first;
    o.key_file = card.second;
    s.client = TestClient::Connect(w->server->console_port(), o, nullptr);
    EXPECT_NE(s.client, nullptr);
    if (!s.client) return s;
    std::string body = "{\"operator_id\":\"" + id + "\",\"password\":\"" + password + "\"}";
    auto r = s.client->RoundTrip("POST /v1/session/login HTTP/1.1\r\nHost: localhost\r\n"
                                 "Content-Type: application/json\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body);
    EXPECT_TRUE(r.has_value());
    if (!r || r->status != 200) return s;
    std::string set = r->Header("set-cookie");
    s.cookie = set.substr(0, set.find(';'));
    auto v = text::ParseJson(r->body);
    s.csrf = v->Find("csrf_token")->text();
    s.stage = v->Find("stage")->text();
    return s;
  }

  static ClientResponse Send(Signed& s, const std::string& method, const std::string& target,
                             const std::string& body = "", bool csrf = true) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
    if (!s.cookie.empty()) req += "Cookie: " + s.cookie + "\r\n";
    if (csrf && !s.csrf.empty()) req += "X-CSRF-Token: " + s.csrf + "\r\n";
    if (method == "POST") {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    auto r = s.client->RoundTrip(req + "\r\n" + body);
    EXPECT_TRUE(r.has_value()) << method << " " << target;
    if (!r) return {};
    // Every answer of a console route matches the OpenAPI document.
    const std::string path = target.substr(0, target.find('?'));
    bool documented = false;
    for (const api::ConsoleRule& rule : api::ConsoleRules()) {
      documented = documented || ConsoleRouteMatches(rule.route, path);
    }
    if (documented) {
      Status st = Checker().CheckResponse(method, path, r->status, r->Header("content-type"),
                                          r->body);
      EXPECT_TRUE(st.ok()) << method << " " << path << ": " << st.ToString() << "\n" << r->body;
    }
    return *r;
  }

  static std::string Code(const ClientResponse& r) {
    auto v = text::ParseJson(r.body);
    return v.ok() && v->Find("code") ? v->Find("code")->text() : "";
  }
};

// Bootstraps the chief and access manager, and a second access manager to bind their cards.
struct Staff {
  registry::OperatorView chief, access, access2;
  std::pair<std::string, std::string> chief_card, access_card;
};

Staff* g_staff = nullptr;

Staff& TheStaff() {
  if (g_staff != nullptr) return *g_staff;
  g_staff = new Staff();
  auto made = w->node->operators->Bootstrap("chief", "統括", "access", "管理", "test");
  EXPECT_TRUE(made.ok());
  for (const auto& e : *made) {
    auto hash = auth::HashPassword(kPassword);
    store::CredentialRow c{"cred-" + e.operator_id, e.operator_id, "webauthn", -7,
                           std::string(64, 'k'), 0, 0};
    EXPECT_TRUE(w->node->operators->FinishEnrolment(e.token, *hash, c).ok());
  }
  auto reader = w->node->store->OpenReader();
  auto load = [&](const std::string& id) { return **w->node->operators->Load(**reader, id); };
  g_staff->chief = load("chief");
  g_staff->access = load("access");
  // A second access manager (requested by the first, approved by the chief) binds the first's card.
  auto e2 = w->node->operators->Create(g_staff->access, "access2", "管理二", "");
  EXPECT_TRUE(e2.ok());
  auto n = w->node->operators->RequestRole(g_staff->access, "access2", "access_manager");
  EXPECT_TRUE(n.ok());
  EXPECT_TRUE(w->node->operators->ApproveRole(g_staff->chief, *n).ok());
  reader = w->node->store->OpenReader();
  g_staff->access2 = **w->node->operators->Load(**reader, "access2");
  return *g_staff;
}

TEST_F(ConsoleTest, SeparationOfDutiesIsEnforcedByTheUseCases) {
  Staff& s = TheStaff();
  // The access manager cannot grant a role, nominate, or act on themselves.
  auto n = desk().RequestRole(s.access, "access", "operator");
  EXPECT_FALSE(n.ok());
  auto other = desk().RequestRole(s.access, "chief", "operator");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(desk().ApproveRole(s.access, *other).ok()) << "only a chief approves";
  EXPECT_FALSE(desk().ApproveRole(s.chief, *other).ok()) << "not a role for themselves";
  EXPECT_FALSE(desk().Nominate(s.access, "chief", "registry.maintenance", "2026-01-01",
                               "2030-12-31")
                   .ok());
  // Bootstrap works once.
  EXPECT_FALSE(desk().Bootstrap("x1", "x", "x2", "y", "test").ok());
}

TEST_F(ConsoleTest, AuthorisationMatrixDeniesByDefault) {
  Staff& staff = TheStaff();
  const std::string today = w->node->clock.TodayJst().ToIso();
  // Someone to act on.
  auto target = desk().Create(staff.access, "target", "対象", "");
  ASSERT_TRUE(target.ok());
  int serial = 0;
  auto body_for = [&](const std::string& route) -> std::pair<std::string, std::string> {
    ++serial;
    if (route == "/v1/operators") {
      return {"/v1/operators", "{\"operator_id\":\"made" + std::to_string(serial) +
                                   "\",\"name\":\"新人\",\"unit\":\"市町村課\"}"};
    }
    if (route == "/v1/operators/{id}/status") {
      return {"/v1/operators/target/status", "{\"status\":\"active\"}"};
    }
    if (route == "/v1/operators/{id}/role-requests") {
      return {"/v1/operators/target/role-requests", "{\"role\":\"auditor\"}"};
    }
    if (route == "/v1/role-requests/{n}/approve") return {"/v1/role-requests/999999/approve", ""};
    if (route == "/v1/operators/{id}/nominations") {
      return {"/v1/operators/target/nominations",
              "{\"purpose\":\"registry.maintenance\",\"from\":\"" + today + "\",\"to\":\"" + today +
                  "\"}"};
    }
    if (route == "/v1/operators/{id}/certificates") {
      std::string spki(64, '0');
      spki[60] = static_cast<char>('a' + serial % 6);
      spki[61] = static_cast<char>('a' + (serial / 6) % 6);
      spki[62] = static_cast<char>('a' + (serial / 36) % 6);
      return {"/v1/operators/target/certificates", "{\"spki_sha256\":\"" + spki + "\"}"};
    }
    if (route == "/v1/residents/{resident_code}") {
      return {"/v1/residents/" + w->resident_code + "?purpose=registry.maintenance", ""};
    }
    if (route == "/v1/residents/{resident_code}/history") {
      return {"/v1/residents/" + w->resident_code + "/history?purpose=registry.maintenance", ""};
    }
    if (route == "/v1/residents/search") {
      return {route, "{\"purpose\":\"registry.maintenance\",\"name\":\"山田\",\"birth_date\":"
                     "\"1980-01-01\"}"};
    }
    if (route == "/v1/provisions") {
      return {route, "{\"purpose\":\"registry.maintenance\",\"resident_codes\":[\"" +
                         w->resident_code + "\"]}"};
    }
    return {route, route.find("verify") != std::string::npos ? "{}" : ""};
  };

  // One operator per role (the bootstrap staff for theirs), plus an operator nominated today.
  struct Subject {
    std::string id;
    std::string role;
    bool nominated;
  };
  std::vector<Subject> subjects;
  for (const char* role : registry::kRoles) {
    subjects.push_back({std::string("r-") + role, role, false});
  }
  subjects.push_back({"r-operator-nominated", "operator", true});
  size_t checked = 0;
  for (const Subject& subject : subjects) {
    std::string id = subject.id;
    std::replace(id.begin(), id.end(), '_', '-');
    auto made = desk().Create(staff.access, id, "試験", "");
    ASSERT_TRUE(made.ok()) << id;
    Enrol(*made);
    auto n = desk().RequestRole(staff.access, id, subject.role);
    ASSERT_TRUE(n.ok());
    ASSERT_TRUE(desk().ApproveRole(staff.chief, *n).ok());
    if (subject.nominated) {
      // A security manager nominates (made here as well).
      static bool made_sm = false;
      if (!made_sm) {
        auto sm = desk().Create(staff.access, "sm", "責任者", "");
        auto r = desk().RequestRole(staff.access, "sm", "security_manager");
        ASSERT_TRUE(sm.ok() && r.ok() && desk().ApproveRole(staff.chief, *r).ok());
        made_sm = true;
      }
      ASSERT_TRUE(desk().Nominate(Load("sm"), id, "registry.maintenance", today, today).ok());
    }
    auto card = Card(id, staff.access);
    Signed s = SignIn(id, card);
    ASSERT_EQ(s.stage, "active") << "password + IC card is both factors";
    for (const api::ConsoleRule& rule : api::ConsoleRules()) {
      if (rule.public_route || std::string_view(rule.route) == "/v1/session/logout") continue;
      auto [target_path, body] = body_for(rule.route);
      if (std::string_view(rule.method) == "GET") body.clear();
      auto r = Send(s, rule.method, target_path, body);
      bool role_ok = rule.roles.empty();
      for (const char* role : rule.roles) role_ok = role_ok || subject.role == role;
      const bool allowed = role_ok && (!rule.needs_nomination || subject.nominated);
      const std::string code = Code(r);
      const bool denied = r.status == 403 && (code == "not_permitted" || code == "not_nominated");
      EXPECT_EQ(allowed, !denied) << subject.role << (subject.nominated ? " (nominated) " : " ")
                                  << rule.method << " " << rule.route << " -> " << r.status
                                  << " " << r.body;
      EXPECT_NE(r.status, 401) << rule.route << " " << r.body;
      if (allowed && rule.needs_nomination) {
        EXPECT_EQ(r.status, 200) << rule.route << " " << r.body;
      }
      ++checked;
      // Without the CSRF token no POST gets through.
      if (std::string_view(rule.method) == "POST") {
        auto again = Send(s, rule.method, target_path, body, /*csrf=*/false);
        EXPECT_EQ(Code(again), "csrf_failed") << rule.route;
      }
    }
    // Without a session, nothing but the public routes.
    Signed anonymous;
    anonymous.client = std::move(s.client);
    for (const api::ConsoleRule& rule : api::ConsoleRules()) {
      if (rule.public_route) continue;
      auto [target_path, body] = body_for(rule.route);
      if (std::string_view(rule.method) == "GET") body.clear();
      auto r = Send(anonymous, rule.method, target_path, body);
      EXPECT_EQ(Code(r), "session_required") << rule.route;
    }
  }
  EXPECT_GT(checked, 100u);
  // Routes outside the table do not exist.
  Signed probe = SignIn("r-operator-nominated", Card("r-operator-nominated", staff.access));
  EXPECT_EQ(Send(probe, "GET", "/v1/notifications").status, 404);
  EXPECT_EQ(Send(probe, "DELETE", "/v1/operators").status, 405);
}

TEST_F(ConsoleTest, PasswordFailuresLockTheAccountWithoutTellingWhy) {
  Staff& staff = TheStaff();
  auto made = desk().Create(staff.access, "locky", "施錠", "");
  ASSERT_TRUE(made.ok());
  Enrol(*made);
  auto card = Card("locky", staff.access);
  Signed unknown = SignIn("no-such-operator", card, "whatever-password");
  EXPECT_TRUE(unknown.cookie.empty());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(SignIn("locky", card, "wrong password!!").cookie.empty());
  EXPECT_TRUE(SignIn("locky", card).cookie.empty()) << "locked for 15 minutes";
}

TEST_F(ConsoleTest, SuspendingEndsSessionsAndIdleLockNeedsTheSecondFactorAgain) {
  Staff& staff = TheStaff();
  auto made = desk().Create(staff.access, "susp", "停止", "");
  ASSERT_TRUE(made.ok());
  Enrol(*made);
  auto card = Card("susp", staff.access);
  Signed s = SignIn("susp", card);
  ASSERT_EQ(s.stage, "active");
  EXPECT_EQ(Send(s, "GET", "/v1/session").status, 200);
  // Idle for longer than the lock (2 s here): resident data needs the second factor again.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto r = Send(s, "GET", "/v1/residents/" + w->resident_code + "?purpose=registry.maintenance");
  EXPECT_EQ(Code(r), "session_locked");
  EXPECT_THAT(Send(s, "GET", "/v1/session").body, HasSubstr("\"stage\":\"locked\""));
  // Suspension ends the session at once.
  Signed fresh = SignIn("susp", card);
  ASSERT_EQ(fresh.stage, "active");
  ASSERT_TRUE(desk().SetStatus(staff.access, "susp", "suspended").ok());
  EXPECT_EQ(Code(Send(fresh, "GET", "/v1/session")), "session_required");
  EXPECT_TRUE(SignIn("susp", card).cookie.empty());
}

TEST_F(ConsoleTest, PagesCarryAStrictContentSecurityPolicy) {
  ClientOptions o;
  o.ca_file = w->ca + "/ca.pem";
  auto c = TestClient::Connect(w->server->console_port(), o, nullptr);
  ASSERT_NE(c, nullptr);
  auto r = c->RoundTrip("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->Header("content-security-policy"), HasSubstr("script-src 'self'"));
  EXPECT_THAT(r->Header("content-security-policy"), HasSubstr("default-src 'none'"));
  EXPECT_EQ(r->Header("strict-transport-security"), "max-age=63072000; includeSubDomains");
  auto bad = c->RoundTrip("GET /../kakunin.toml HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 404);
}

}  // namespace
}  // namespace kakunin
