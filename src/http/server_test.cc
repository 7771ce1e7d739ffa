// The HTTPS server over real TLS on 127.0.0.1, with certificates made by the openssl CLI.

#include "http/server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/test_client.h"

namespace kakunin::http {
namespace {

using namespace std::chrono_literals;
using testing::ClientOptions;
using testing::ClientResponse;
using testing::TestClient;

// --- Certificates ---

constexpr char kOpensslCnf[] = R"([ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial
crlnumber = ./crlnumber
certificate = ./ca.pem
private_key = ./ca.key
default_md = sha256
default_days = 30
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[ client_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
)";

// Files made once for the suite in a temporary directory.
struct Pki {
  std::string dir;
  std::string Path(const std::string& name) const { return dir + "/" + name; }
  std::string client_spki;  // lower-case hex, computed by the openssl CLI
};
Pki* g_pki = nullptr;

bool Run(const std::string& dir, const std::string& command) {
  std::string full = "cd '" + dir + "' && (" + command + ") >>openssl.log 2>&1";
  return std::system(full.c_str()) == 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr char kNewKey[] = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

bool MakeCa(const std::string& dir, const std::string& name, const std::string& cn) {
  return Run(dir, "openssl req -x509 -config openssl.cnf -extensions v3_ca " +
                      std::string(kNewKey) + " -keyout " + name + ".key -out " + name +
                      ".pem -days 3650 -subj '/CN=" + cn + "'");
}

bool MakeCsr(const std::string& dir, const std::string& name) {
  return Run(dir, "openssl req -new -config openssl.cnf " + std::string(kNewKey) + " -keyout " +
                      name + ".key -out " + name + ".csr -subj '/CN=" + name + "'");
}

// Signs name.csr with the suite's CA (openssl ca, so it can be revoked).
bool SignWithCa(const std::string& dir, const std::string& name, const std::string& ext,
                const std::string& extra = "") {
  return MakeCsr(dir, name) &&
         Run(dir, "openssl ca -batch -notext -config openssl.cnf -extensions " + ext + " " + extra +
                      " -in " + name + ".csr -out " + name + ".pem");
}

void MakePki(Pki* pki) {
  char tmpl[] = "/tmp/kakunin-http-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  pki->dir = tmpl;
  const std::string& d = pki->dir;
  {
    std::ofstream(d + "/openssl.cnf") << kOpensslCnf;
    std::ofstream(d + "/index.txt");
    std::ofstream(d + "/serial") << "1000\n";
    std::ofstream(d + "/crlnumber") << "1000\n";
    std::filesystem::create_directory(d + "/newcerts");
  }
  ASSERT_TRUE(MakeCa(d, "ca", "Kakunin Test CA")) << ReadAll(d + "/openssl.log");
  ASSERT_TRUE(SignWithCa(d, "server", "server_ext")) << ReadAll(d + "/openssl.log");
  ASSERT_TRUE(SignWithCa(d, "client", "client_ext")) << ReadAll(d + "/openssl.log");
  ASSERT_TRUE(
      SignWithCa(d, "expired", "client_ext", "-startdate 20200101000000Z -enddate 20200201000000Z"))
      << ReadAll(d + "/openssl.log");
  ASSERT_TRUE(SignWithCa(d, "revoked", "client_ext")) << ReadAll(d + "/openssl.log");
  ASSERT_TRUE(Run(d, "openssl ca -config openssl.cnf -revoke revoked.pem"));
  ASSERT_TRUE(Run(d, "openssl ca -config openssl.cnf -gencrl -out crl.pem"));
  // A client certificate from a CA the server does not trust.
  ASSERT_TRUE(MakeCa(d, "other_ca", "Other CA"));
  ASSERT_TRUE(MakeCsr(d, "stranger"));
  ASSERT_TRUE(Run(d,
                  "openssl x509 -req -in stranger.csr -CA other_ca.pem -CAkey other_ca.key "
                  "-CAcreateserial -days 30 -extfile openssl.cnf -extensions client_ext "
                  "-out stranger.pem"));
  ASSERT_TRUE(Run(d,
                  "openssl x509 -in client.pem -pubkey -noout | openssl pkey -pubin -outform der "
                  "| openssl dgst -sha256 -r > client.spki"));
  std::string spki = ReadAll(d + "/client.spki");
  pki->client_spki = spki.substr(0, spki.find(' '));
  ASSERT_EQ(pki->client_spki.size(), 64u) << spki;
}

// --- Events ---

class EventLog {
 public:
  void Add(const Event& e) {
    if (std::getenv("KAKUNIN_HTTP_TEST_EVENTS") != nullptr) {
      std::fprintf(stderr, "event kind=%d status=%d path=%s detail=%s spki=%.12s\n", e.kind,
                   e.status, e.path.c_str(), e.detail.c_str(), e.client_spki_sha256.c_str());
    }
    std::lock_guard lock(mu_);
    events_.push_back(e);
    cv_.notify_all();
  }
  // Waits for an event of `kind`; returns it.
  std::optional<Event> WaitFor(Event::Kind kind, std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mu_);
    std::optional<Event> found;
    cv_.wait_for(lock, within, [&] {
      for (const Event& e : events_) {
        if (e.kind == kind) {
          found = e;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  int Count(Event::Kind kind) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const Event& e : events_) n += e.kind == kind;
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

// --- Fixture ---

std::string Get(const std::string& path, const std::string& extra_headers = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
}

std::string Post(const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signal(SIGPIPE, SIG_IGN);  // the test client writes with plain write()
    g_pki = new Pki();
    MakePki(g_pki);
  }
  static void TearDownTestSuite() {
    if (g_pki != nullptr && !g_pki->dir.empty()) std::filesystem::remove_all(g_pki->dir);
    delete g_pki;
    g_pki = nullptr;
  }

  void SetUp() override {
    if (g_pki == nullptr || g_pki->client_spki.empty()) {
      FAIL() << "the test PKI could not be made (see SetUpTestSuite)";
    }
    limits_.read_timeout = 2000ms;
    limits_.idle_timeout = 2000ms;
    limits_.drain_timeout = 3000ms;
    limits_.io_threads = 2;
    limits_.worker_threads = 4;
  }

  static TlsConfig Tls() {
    TlsConfig tls;
    tls.cert_file = g_pki->Path("server.pem");
    tls.key_file = g_pki->Path("server.key");
    tls.client_ca_file = g_pki->Path("ca.pem");
    return tls;
  }

  // A handler that answers {"path":...} and remembers the last request.
  Handler EchoHandler() {
    return [this](const Request& request) {
      {
        std::lock_guard lock(mu_);
        last_request_ = request;
        ++calls_;
      }
      Response r;
      r.body = "{\"path\":\"" + request.path +
               "\",\"size\":" + std::to_string(request.body.size()) + "}";
      return r;
    };
  }

  void StartServer(Handler handler = nullptr, const TlsConfig* tls = nullptr) {
    auto started = Server::Start("127.0.0.1", 0, tls != nullptr ? *tls : Tls(), limits_,
                                 handler ? handler : EchoHandler(),
                                 [this](const Event& e) { events_.Add(e); });
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
    ASSERT_NE(server_->port(), 0);
  }

  static ClientOptions ClientAs(const std::string& name) {
    ClientOptions options;
    options.ca_file = g_pki->Path("ca.pem");
    if (!name.empty()) {
      options.cert_file = g_pki->Path(name + ".pem");
      options.key_file = g_pki->Path(name + ".key");
    }
    return options;
  }

  std::unique_ptr<TestClient> Connect(const ClientOptions& options) {
    std::string error;
    auto client = TestClient::Connect(server_->port(), options, &error);
    EXPECT_NE(client, nullptr) << error;
    return client;
  }

  // The client gets no HTTP at all: the handshake fails, or (TLS 1.3, where the client
  // certificate is checked after the client finished) the first read does.
  void ExpectNoHttp(const ClientOptions& options) {
    int calls_before = calls();
    std::string error;
    auto client = TestClient::Connect(server_->port(), options, &error);
    if (client != nullptr) {
      EXPECT_FALSE(client->RoundTrip(Get("/secret")).has_value());
    }
    EXPECT_EQ(calls(), calls_before);
  }

  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  Request last_request() {
    std::lock_guard lock(mu_);
    return last_request_;
  }

  Limits limits_;
  EventLog events_;
  std::unique_ptr<Server> server_;
  std::mutex mu_;
  Request last_request_;
  int calls_ = 0;
};

bool IsHex32(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// --- Mutual TLS ---

TEST_F(ServerTest, ValidClientCertificateGets200AndHandlerSeesItsSpki) {
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto response = client->RoundTrip(Get("/v1/things?x=1", "X-Custom: Value\r\n"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "{\"path\":\"/v1/things\",\"size\":0}");
  EXPECT_EQ(response->Header("content-type"), "application/json");
  EXPECT_TRUE(IsHex32(response->Header("x-request-id"))) << response->Header("x-request-id");

  Request seen = last_request();
  EXPECT_EQ(seen.client_spki_sha256, g_pki->client_spki);
  EXPECT_EQ(seen.client_subject_cn, "client");
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/v1/things?x=1");
  EXPECT_EQ(seen.path, "/v1/things");
  EXPECT_EQ(seen.query, "x=1");
  EXPECT_EQ(seen.remote_address, "127.0.0.1");
  EXPECT_EQ(seen.request_id, response->Header("x-request-id"));
  ASSERT_NE(seen.FindHeader("x-custom"), nullptr);
  EXPECT_EQ(*seen.FindHeader("x-custom"), "Value");

  auto event = events_.WaitFor(Event::kRequest);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->status, 200);
  EXPECT_EQ(event->path, "/v1/things");
  EXPECT_EQ(event->method, "GET");
  EXPECT_EQ(event->client_spki_sha256, g_pki->client_spki);
  EXPECT_EQ(event->request_id, seen.request_id);
}

TEST_F(ServerTest, NoClientCertificateGetsNoHttp) {
  StartServer();
  ExpectNoHttp(ClientAs(""));
  auto event = events_.WaitFor(Event::kRefusedHandshake);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->remote_address, "127.0.0.1");
  EXPECT_EQ(events_.Count(Event::kRequest), 0);
}

TEST_F(ServerTest, CertificateFromUnknownCaIsRefused) {
  StartServer();
  ExpectNoHttp(ClientAs("stranger"));
  auto event = events_.WaitFor(Event::kRefusedHandshake);
  ASSERT_TRUE(event.has_value());
  EXPECT_NE(event->detail.find("issuer"), std::string::npos) << event->detail;
  // The refusal log names the key that was refused.
  EXPECT_EQ(event->client_spki_sha256.size(), 64u);
  EXPECT_NE(event->client_spki_sha256, g_pki->client_spki);
}

TEST_F(ServerTest, ExpiredCertificateIsRefused) {
  StartServer();
  ExpectNoHttp(ClientAs("expired"));
  auto event = events_.WaitFor(Event::kRefusedHandshake);
  ASSERT_TRUE(event.has_value());
  EXPECT_NE(event->detail.find("expired"), std::string::npos) << event->detail;
}

TEST_F(ServerTest, RevokedCertificateIsRefusedWithCrlAndOthersStillPass) {
  TlsConfig tls = Tls();
  tls.crl_file = g_pki->Path("crl.pem");
  StartServer(nullptr, &tls);
  ExpectNoHttp(ClientAs("revoked"));
  auto event = events_.WaitFor(Event::kRefusedHandshake);
  ASSERT_TRUE(event.has_value());
  EXPECT_NE(event->detail.find("revoked"), std::string::npos) << event->detail;
  EXPECT_EQ(event->client_spki_sha256.size(), 64u);

  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto response = client->RoundTrip(Get("/"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST_F(ServerTest, WithoutCrlTheRevokedCertificateStillChains) {
  // Guards the test above: the refusal comes from the CRL, not from the certificate itself.
  StartServer();
  auto client = Connect(ClientAs("revoked"));
  ASSERT_NE(client, nullptr);
  auto response = client->RoundTrip(Get("/"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST_F(ServerTest, OptionalClientCertificateLeavesSpkiEmpty) {
  TlsConfig tls = Tls();
  tls.require_client_certificate = false;
  StartServer(nullptr, &tls);
  auto client = Connect(ClientAs(""));
  ASSERT_NE(client, nullptr);
  auto response = client->RoundTrip(Get("/"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(last_request().client_spki_sha256, "");
  // An untrusted certificate is still refused.
  std::string error;
  auto stranger = TestClient::Connect(server_->port(), ClientAs("stranger"), &error);
  if (stranger != nullptr) {
    EXPECT_FALSE(stranger->RoundTrip(Get("/")).has_value());
  }
}

TEST_F(ServerTest, Tls13ResumptionKeepsTheClientIdentity) {
  StartServer();
  SSL_SESSION* session = nullptr;
  {
    auto client = Connect(ClientAs("client"));
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->RoundTrip(Get("/")).has_value());
    session = client->Session();
    client->Shutdown();
  }
  ASSERT_NE(session, nullptr);
  ClientOptions options = ClientAs("client");
  options.session = session;
  auto again = Connect(options);
  ASSERT_NE(again, nullptr);
  auto response = again->RoundTrip(Get("/again"));
  SSL_SESSION_free(session);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(again->Resumed());
  EXPECT_EQ(last_request().client_spki_sha256, g_pki->client_spki);
}

// --- Protocol versions and suites ---

TEST_F(ServerTest, Tls11ClientIsRefused) {
  StartServer();
  ClientOptions options = ClientAs("client");
  options.legacy = true;
  options.min_version = TLS1_1_VERSION;
  options.max_version = TLS1_1_VERSION;
  std::string error;
  EXPECT_EQ(TestClient::Connect(server_->port(), options, &error), nullptr);
  auto event = events_.WaitFor(Event::kRefusedHandshake);
  ASSERT_TRUE(event.has_value());
  EXPECT_NE(event->detail.find("protocol"), std::string::npos) << event->detail;
}

TEST_F(ServerTest, Tls12WithAeadIsAcceptedAndCbcRefused) {
  StartServer();
  ClientOptions options = ClientAs("client");
  options.max_version = TLS1_2_VERSION;
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->Version(), "TLSv1.2");
  auto response = client->RoundTrip(Get("/"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);

  options.tls12_ciphers = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384";
  std::string error;
  EXPECT_EQ(TestClient::Connect(server_->port(), options, &error), nullptr);
  EXPECT_TRUE(events_.WaitFor(Event::kRefusedHandshake).has_value());
}

// --- HTTP ---

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto first = client->RoundTrip(Get("/one"));
  ASSERT_TRUE(first.has_value());
  auto second = client->RoundTrip(Post("/two", "{\"a\":1}"));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->body, "{\"path\":\"/one\",\"size\":0}");
  EXPECT_EQ(second->body, "{\"path\":\"/two\",\"size\":7}");
  EXPECT_NE(first->Header("x-request-id"), second->Header("x-request-id"));
  EXPECT_EQ(last_request().body, "{\"a\":1}");
}

TEST_F(ServerTest, WellFormedClientRequestIdIsKeptOthersReplaced) {
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto kept = client->RoundTrip(Get("/", "X-Request-Id: abc-DEF-123\r\n"));
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->Header("x-request-id"), "abc-DEF-123");
  auto bad = client->RoundTrip(Get("/", "X-Request-Id: no spaces/or slashes\r\n"));
  ASSERT_TRUE(bad.has_value());
  EXPECT_TRUE(IsHex32(bad->Header("x-request-id")));
  auto too_long = client->RoundTrip(Get("/", "X-Request-Id: " + std::string(65, 'a') + "\r\n"));
  ASSERT_TRUE(too_long.has_value());
  EXPECT_TRUE(IsHex32(too_long->Header("x-request-id")));
}

TEST_F(ServerTest, HeadGetsTheContentLengthButNoBody) {
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Write("HEAD /h HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto head = client->ReadResponse(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), "22");  // {"path":"/h","size":0}, as for a GET
  EXPECT_EQ(head->body, "");
  // Framing intact: the next response on the connection is read cleanly.
  auto next = client->RoundTrip(Get("/next"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body, "{\"path\":\"/next\",\"size\":0}");
}

TEST_F(ServerTest, Expect100ContinueIsAnswered) {
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(
      client->Write("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                    "Expect: 100-continue\r\n\r\n"));
  auto interim = client->ReadResponse();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  auto response = client->RoundTrip("hello");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "{\"path\":\"/upload\",\"size\":5}");
}

TEST_F(ServerTest, OversizedBodyGets413AndTheConnectionCloses) {
  limits_.max_body_bytes = 1024;
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto response = client->RoundTrip(Post("/big", std::string(4096, 'x')));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->Header("content-type"), "application/problem+json");
  EXPECT_EQ(response->body,
            "{\"type\":\"urn:kakunin:problem:payload_too_large\",\"title\":\"Content Too Large\","
            "\"status\":413,\"code\":\"payload_too_large\"}");
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(IsHex32(response->Header("x-request-id")));
  EXPECT_TRUE(client->WaitClosed(3s));
  EXPECT_EQ(calls(), 0);
  auto event = events_.WaitFor(Event::kTooLarge);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->status, 413);
  EXPECT_EQ(event->path, "/big");
}

TEST_F(ServerTest, OversizedChunkedBodyGets413) {
  limits_.max_body_bytes = 1024;
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  std::string chunk(800, 'y');
  auto response = client->RoundTrip(
      "POST /chunks HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
      "320\r\n" +
      chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(client->WaitClosed(3s));
}

TEST_F(ServerTest, OversizedHeadersGet431) {
  limits_.max_header_bytes = 1024;
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto response = client->RoundTrip(Get("/", "X-Big: " + std::string(2000, 'a') + "\r\n"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(response->body,
            "{\"type\":\"urn:kakunin:problem:headers_too_large\",\"title\":\"Request Header "
            "Fields Too Large\",\"status\":431,\"code\":\"headers_too_large\"}");
  EXPECT_TRUE(client->WaitClosed(3s));
  auto event = events_.WaitFor(Event::kTooLarge);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->status, 431);
}

TEST_F(ServerTest, MalformedRequestGets400AndTheConnectionCloses) {
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto response = client->RoundTrip("NOT HTTP AT ALL\r\n\r\n");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  EXPECT_EQ(response->Header("content-type"), "application/problem+json");
  EXPECT_TRUE(client->WaitClosed(3s));
  EXPECT_EQ(calls(), 0);
}

TEST_F(ServerTest, HandlerThatThrowsGets500AndTheConnectionStaysUsable) {
  StartServer([](const Request& request) -> Response {
    if (request.path == "/throw") throw std::runtime_error("resident 1234 not found");
    return Response{};
  });
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto response = client->RoundTrip(Get("/throw"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body,
            "{\"type\":\"urn:kakunin:problem:internal\",\"title\":\"Internal Server Error\","
            "\"status\":500,\"code\":\"internal\"}");
  auto after = client->RoundTrip(Get("/fine"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, 200);
  auto event = events_.WaitFor(Event::kRequest);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->status, 500);
  EXPECT_EQ(event->detail, "handler threw");  // never the exception's text
}

TEST_F(ServerTest, HandlerHeadersAreSanitised) {
  StartServer([](const Request&) {
    Response r;
    r.status = 201;
    r.content_type = "text/plain";
    r.headers = {{"X-Ok", "yes"},
                 {"X-Injected", "a\r\nSet-Cookie: evil"},
                 {"Bad Name", "x"},
                 {"Content-Length", "999"},
                 {"x-request-id", "forged"}};
    r.body = "made";
    return r;
  });
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto response = client->RoundTrip(Get("/"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "made");
  EXPECT_EQ(response->Header("x-ok"), "yes");
  EXPECT_EQ(response->Header("x-injected"), "");
  EXPECT_EQ(response->Header("set-cookie"), "");
  EXPECT_EQ(response->Header("content-length"), "4");
  EXPECT_TRUE(IsHex32(response->Header("x-request-id")));
}

// --- Timeouts and caps ---

TEST_F(ServerTest, SlowClientIsCutOffAtReadTimeout) {
  limits_.read_timeout = 300ms;
  limits_.idle_timeout = 5000ms;
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  // Part of the headers, then a byte every 50 ms: the deadline covers the whole request, so
  // dribbling does not extend it.
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client->Write("GET /slow HTTP/1.1\r\nHost: localhost\r\nX-Pad: "));
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - start < 4s) {
    if (!client->Write("a")) break;
    closed = client->WaitClosed(50ms);
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(closed || client->WaitClosed(1s));
  EXPECT_LT(elapsed, 2500ms);
  EXPECT_GE(elapsed, 250ms);
  auto event = events_.WaitFor(Event::kTimeout);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(calls(), 0);
}

TEST_F(ServerTest, SilentTcpConnectionIsClosedAtReadTimeout) {
  limits_.read_timeout = 300ms;
  StartServer();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  // No ClientHello: the handshake deadline closes the connection.
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 3000), 1);
  char byte;
  EXPECT_LE(::recv(fd, &byte, 1, 0), 0);
  ::close(fd);
  auto event = events_.WaitFor(Event::kTimeout);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->detail, "TLS handshake");
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  limits_.idle_timeout = 300ms;
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->RoundTrip(Get("/")).has_value());
  EXPECT_TRUE(client->WaitClosed(3s));
}

TEST_F(ServerTest, ConnectionsBeyondTheCapAreClosed) {
  limits_.max_connections = 2;
  StartServer();
  auto a = Connect(ClientAs("client"));
  auto b = Connect(ClientAs("client"));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->RoundTrip(Get("/a")).has_value());
  ASSERT_TRUE(b->RoundTrip(Get("/b")).has_value());
  ExpectNoHttp(ClientAs("client"));
  auto event = events_.WaitFor(Event::kConnectionCap);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->remote_address, "127.0.0.1");

  // A slot frees when a connection closes.
  a->Shutdown();
  a.reset();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    std::string error;
    auto c = TestClient::Connect(server_->port(), ClientAs("client"), &error);
    served = c != nullptr && c->RoundTrip(Get("/c")).has_value();
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

// --- Threads ---

TEST_F(ServerTest, ConcurrentClientsAreAllAnswered) {
  StartServer();
  constexpr int kThreads = 8;
  constexpr int kRequests = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<TestClient> client;
      for (int i = 0; i < kRequests; ++i) {
        if (i % 10 == 0) {  // a new connection every ten requests
          std::string error;
          client = TestClient::Connect(server_->port(), ClientAs("client"), &error);
          if (client == nullptr) return;
        }
        std::string path = "/t" + std::to_string(t) + "/r" + std::to_string(i);
        auto response = client->RoundTrip(Post(path, "{}"));
        if (response && response->status == 200 &&
            response->body == "{\"path\":\"" + path + "\",\"size\":2}") {
          ++ok;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_EQ(calls(), kThreads * kRequests);
}

TEST_F(ServerTest, BlockingHandlerDoesNotBlockTheIoThread) {
  // One I/O thread. The first handler blocks until the second has run: if handlers ran on the
  // I/O thread, the second request would never be read.
  limits_.io_threads = 1;
  limits_.worker_threads = 2;
  std::mutex mu;
  std::condition_variable cv;
  bool second_ran = false;
  StartServer([&](const Request& request) {
    Response r;
    std::unique_lock lock(mu);
    if (request.path == "/first") {
      bool ok = cv.wait_for(lock, 3s, [&] { return second_ran; });
      r.body = ok ? "true" : "false";
    } else {
      second_ran = true;
      cv.notify_all();
    }
    return r;
  });
  std::optional<ClientResponse> first;
  std::thread t([&] {
    auto client = TestClient::Connect(server_->port(), ClientAs("client"), nullptr);
    if (client != nullptr) first = client->RoundTrip(Get("/first"));
  });
  std::this_thread::sleep_for(100ms);
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  auto second = client->RoundTrip(Get("/second"));
  t.join();
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "true");
}

// --- Stop ---

TEST_F(ServerTest, StopDeliversTheResponseOfARunningHandler) {
  std::atomic<bool> entered{false};
  StartServer([&](const Request&) {
    entered = true;
    std::this_thread::sleep_for(500ms);
    Response r;
    r.body = "{\"done\":true}";
    return r;
  });
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Write(Get("/slow")));
  while (!entered) std::this_thread::sleep_for(5ms);
  std::thread stopper([&] { server_->Stop(); });
  auto response = client->ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "{\"done\":true}");
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(client->WaitClosed(3s));
  client->Shutdown();
  stopper.join();
  // No longer accepting.
  std::string error;
  EXPECT_EQ(TestClient::Connect(server_->port(), ClientAs("client"), &error), nullptr);
}

TEST_F(ServerTest, StopClosesIdleConnectionsPromptly) {
  limits_.idle_timeout = 10000ms;
  limits_.drain_timeout = 10000ms;
  StartServer();
  auto client = Connect(ClientAs("client"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->RoundTrip(Get("/")).has_value());
  auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { server_->Stop(); });
  EXPECT_TRUE(client->WaitClosed(3s));
  client->Shutdown();
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  server_->Stop();  // idempotent
}

// --- Start errors ---

TEST_F(ServerTest, StartReportsConfigurationErrorsAsValues) {
  TlsConfig missing = Tls();
  missing.cert_file = g_pki->Path("nope.pem");
  auto a = Server::Start("127.0.0.1", 0, missing, limits_, EchoHandler(), nullptr);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kFailedPrecondition);

  TlsConfig wrong_key = Tls();
  wrong_key.key_file = g_pki->Path("client.key");
  auto b = Server::Start("127.0.0.1", 0, wrong_key, limits_, EchoHandler(), nullptr);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kFailedPrecondition);

  auto c = Server::Start("not-an-address", 0, Tls(), limits_, EchoHandler(), nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);

  StartServer();
  auto d = Server::Start("127.0.0.1", server_->port(), Tls(), limits_, EchoHandler(), nullptr);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kakunin::http
