// The HTTPS server (server.h): the one translation unit that includes Beast for it.
//
// Threads: `limits.io_threads` run one io_context. Each connection lives in one C++20 coroutine
// on its own strand, so its state needs no lock. A request is offered to the AsyncHandler on
// the I/O thread, then (declined) to the Handler on a net::thread_pool of
// `limits.worker_threads`; whoever answers does so through a Deferred, which resumes the
// coroutine on the connection's strand to write the response — so a handler waiting for a
// commit holds no thread. Ownership: a Connection is held by its coroutine frame (shared_ptr);
// the server keeps weak references to signal connections on Stop(), and the Deferreds not yet
// answered, to drop them once the I/O threads are gone.

#include "http/server.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/bytes.h"

namespace kakunin::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;  // `http` is this namespace
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Stream = beast::ssl_stream<beast::tcp_stream>;
using ParserType = bhttp::request_parser<bhttp::string_body>;
using SteadyClock = std::chrono::steady_clock;

// Completion token: errors as values, no exceptions through the coroutines.
constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);

// TLS close_notify exchange; a peer that does not answer is cut off (libraries.md A1).
constexpr std::chrono::seconds kTlsShutdownTimeout{2};
// After the drain deadline, how long Stop() waits for force-closed connections to unwind.
constexpr std::chrono::seconds kForceCloseWait{2};
// How many connections the newcomers of one source network may close in a second when every
// slot is taken (Server::Impl::AcceptLoop).
constexpr int kEvictionsPerNetworkPerSecond = 8;
// Resumed sessions skip certificate and CRL checks, so they are kept short.
constexpr long kSessionLifetimeSeconds = 300;
constexpr size_t kFirstReadBytes = 4096;
// The most a read of a body takes at once (Beast's http::async_read_some).
constexpr size_t kBodyReadBytes = 65536;

// The most a connection holds unparsed: a head up to its limit and one more read. Beast bounds
// the head (header_limit) and the body (body_limit) but not a chunk header's extensions nor
// the trailer, which it buffers until complete; past this, the read fails with buffer_overflow
// and the request is refused 413 (without it, one request could make the node hold gigabytes).
size_t BufferLimit(const Limits& limits) {
  return limits.max_header_bytes + kBodyReadBytes + kFirstReadBytes;
}

// Forward-secret AEAD only. TLS 1.3 suites all are; TLS 1.2 is limited to ECDHE with GCM or
// ChaCha20-Poly1305.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kTls13Suites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr char kGroups[] = "X25519:P-256:P-384";

// The source network an eviction is charged to: an IPv4 /24 (a v4-mapped IPv6 address counts as
// IPv4), an IPv6 /64 — the unit one party usually holds many addresses of.
std::string SourceNetwork(const tcp::endpoint& remote) {
  const net::ip::address a = remote.address();
  if (a.is_v4() || (a.is_v6() && a.to_v6().is_v4_mapped())) {
    const auto b = a.is_v4() ? a.to_v4().to_bytes()
                             : net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_bytes();
    return std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) + "/24";
  }
  const auto b = a.to_v6().to_bytes();
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out + "/64";
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// OpenSSL's first error reason (no data from the files: "no start line" rather than the last,
// generic "PEM lib"), and clears the queue.
std::string OpenSslError() {
  const char* text = ERR_reason_error_string(ERR_peek_error());
  std::string reason = text != nullptr ? text : "unknown error";
  ERR_clear_error();
  return reason;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(out).str();
}

std::string Sha256Raw(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  return std::string(reinterpret_cast<char*>(md), len);
}

// A request id for every request: 128 bits from a per-thread generator seeded once from
// OpenSSL's CSPRNG. Ids correlate logs; they are not secrets, so one RAND_bytes call (a locked
// DRBG) per request is not worth its cost.
std::string NewRequestId() {
  struct Generator {
    uint64_t state[2];
    Generator() {
      if (RAND_bytes(reinterpret_cast<unsigned char*>(state), sizeof state) != 1) {
        std::random_device device;
        state[0] = (uint64_t{device()} << 32) ^ device();
        state[1] = (uint64_t{device()} << 32) ^ device();
      }
      if ((state[0] | state[1]) == 0) state[1] = 1;
    }
    uint64_t Next() {  // xorshift128+
      uint64_t s1 = state[0];
      const uint64_t s0 = state[1];
      state[0] = s0;
      s1 ^= s1 << 23;
      state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
      return state[1] + s0;
    }
  };
  thread_local Generator generator;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = generator.Next();
    for (int i = 0; i < 16; ++i, v >>= 4) id[static_cast<size_t>(half * 16 + i)] = kHex[v & 15];
  }
  return id;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// What tells a replaced file from the one read before: a rename gives a new inode, a rewrite in
// place a new size or modification time. All zero if the file cannot be examined.
struct FileSignature {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileSignature&) const = default;
};

FileSignature SignatureOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, st.st_size,
          int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
          int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec};
}

// True if a line of the header section (`header`: up to its blank line) begins with a space or a
// tab: obsolete line folding (RFC 9112 §5.2), which Beast would silently join to the previous
// field. A server must refuse it: a proxy in front may read such a field (Transfer-Encoding
// above all) differently, which is how requests are smuggled.
bool HasObsFold(std::string_view header) {
  for (size_t i = header.find('\n'); i != std::string_view::npos; i = header.find('\n', i + 1)) {
    if (i + 1 < header.size() && (header[i + 1] == ' ' || header[i + 1] == '\t')) return true;
  }
  return false;
}

// RFC 9112 §3.2: an HTTP/1.1 request without Host, or any request with more than one, is
// answered 400. nullptr if the request is fine, else the reason for the event.
const char* HostProblem(const bhttp::request_header<>& header) {
  const size_t hosts = header.count(bhttp::field::host);
  if (hosts > 1) return "repeated Host header";
  if (hosts == 0 && header.version() >= 11) return "missing Host header";
  return nullptr;
}

// RFC 9112 §6.3: a request whose Transfer-Encoding does not end in chunked has no reliable
// length and must be refused (400, close); Beast would read it as having no body and serve the
// bytes after its head as the next request, which a proxy in front may have passed as this
// one's body (request smuggling). Only chunked is implemented, so anything but chunked alone
// (in any case, in one field) is refused; nullptr if the request is fine.
const char* TransferEncodingProblem(const bhttp::request_header<>& header) {
  const size_t fields = header.count(bhttp::field::transfer_encoding);
  if (fields == 0) return nullptr;
  if (fields > 1) return "repeated Transfer-Encoding header";
  std::string_view value = header[bhttp::field::transfer_encoding];
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (!beast::iequals(value, "chunked")) return "Transfer-Encoding other than chunked";
  return nullptr;
}

// The checks of a parsed header Beast does not make: HostProblem, TransferEncodingProblem.
const char* HeaderProblem(const bhttp::request_header<>& header) {
  if (const char* problem = HostProblem(header)) return problem;
  return TransferEncodingProblem(header);
}

// RFC 9457 problem document with only generic text: details go to the event, not the client.
// The codes are those of the API's error table (docs/api.md) for the statuses the server itself
// answers.
// A problem the server answers itself, before or instead of the handler: the same document, the
// same titles and the same cache-control as the API's (api/errors.cc); ToBeast adds the request
// id.
Response Problem(int status) {
  std::string_view code = "internal", title = "internal error";
  if (status == 400) code = "malformed_request", title = "malformed request";
  if (status == 413) code = "payload_too_large", title = "content too large";
  if (status == 431) code = "headers_too_large", title = "request header fields too large";
  if (status == 503) code = "unavailable", title = "service unavailable";
  Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.headers.emplace_back("cache-control", "no-store");
  r.body = "{\"type\":\"urn:kakunin:problem:" + std::string(code) + "\",\"title\":\"" +
           std::string(title) + "\",\"status\":" + std::to_string(status) + ",\"code\":\"" +
           std::string(code) + "\"}";
  return r;
}

// The handler's view of a parsed message (everything but the peer's identity).
void FillRequest(bhttp::request<bhttp::string_body>& message, Request* request) {
  request->method = std::string(message.method_string());
  request->target = std::string(message.target());
  size_t q = request->target.find('?');
  request->path = request->target.substr(0, q);
  if (q != std::string::npos) request->query = request->target.substr(q + 1);
  request->headers.reserve(16);
  for (const auto& field : message) {
    request->headers.emplace_back(ToLower(field.name_string()), std::string(field.value()));
  }
  request->body = std::move(message.body());
  // Always the node's own id: it is written to the access log, and any string a client chooses
  // can spell a person (found in review: hex of a name, a birth date or a code with a letter
  // in it passed every shape check). A client correlates by the id in the response.
  request->request_id = NewRequestId();
}

// Identity of the peer's certificate. Empty strings if there is none.
struct PeerIdentity {
  std::string spki_sha256;
  std::string subject_cn;
};

// Lower-case hex SHA-256 of the certificate's DER SubjectPublicKeyInfo; "" on failure.
std::string SpkiSha256Hex(const X509* cert) {
  const X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
  int len = i2d_X509_PUBKEY(spki, nullptr);
  if (len <= 0) return "";
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509_PUBKEY(spki, &p) != len) return "";
  return HexEncode(Sha256Raw(der));
}

// A certificate that failed verification, kept on its SSL (ex_data owns it) for the refusal
// event: OpenSSL keeps no peer certificate after a failure.
struct RefusedCert {
  std::string spki_sha256;  // of the certificate presented (not proof its key was held)
  // Event::client_ca_issued: refused at depth 0 as expired, not yet valid or revoked, with its
  // signature verified by its issuer in the chain here (OpenSSL looks up revocation by serial
  // before it checks signatures: found in review, a self-made certificate with a listed serial
  // was reported revoked).
  bool client_ca_issued = false;
};

int RefusedCertIndex() {
  static const int index = SSL_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<RefusedCert*>(ptr);
      });
  return index;
}

int VerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 1) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  if (ssl != nullptr && leaf != nullptr && SSL_get_ex_data(ssl, RefusedCertIndex()) == nullptr) {
    auto* refused = new RefusedCert{SpkiSha256Hex(leaf), false};
    const int error = X509_STORE_CTX_get_error(store);
    if (X509_STORE_CTX_get_error_depth(store) == 0 &&
        (error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID ||
         error == X509_V_ERR_CERT_REVOKED)) {
      STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store);
      X509* issuer = chain != nullptr && sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1) : nullptr;
      EVP_PKEY* key = issuer != nullptr ? X509_get0_pubkey(issuer) : nullptr;
      refused->client_ca_issued = key != nullptr && X509_verify(leaf, key) == 1;
      ERR_clear_error();
    }
    if (SSL_set_ex_data(ssl, RefusedCertIndex(), refused) != 1) delete refused;
  }
  return 0;
}

RefusedCert Refused(SSL* ssl) {
  const auto* refused = static_cast<const RefusedCert*>(SSL_get_ex_data(ssl, RefusedCertIndex()));
  return refused != nullptr ? *refused : RefusedCert{};
}

PeerIdentity ReadPeerIdentity(SSL* ssl) {
  PeerIdentity id;
  X509Ptr cert(SSL_get1_peer_certificate(ssl));
  if (cert == nullptr) return id;
  id.spki_sha256 = SpkiSha256Hex(cert.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  int index = subject == nullptr ? -1 : X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n >= 0) id.subject_cn.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  ERR_clear_error();
  return id;
}

// The configured TLS context: see server.h for the policy.
Result<std::unique_ptr<ssl::context>> MakeTlsContext(const TlsConfig& tls) {
  std::unique_ptr<ssl::context> context;
  try {
    context = std::make_unique<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("TLS context: ") + e.what());
  }
  SSL_CTX* ctx = context->native_handle();
  auto fail = [](std::string what) {
    return Status::FailedPrecondition(what + ": " + OpenSslError());
  };

  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return fail("TLS protocol versions");
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION | SSL_OP_LEGACY_SERVER_CONNECT |
                                 SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    return fail("TLS cipher configuration");
  }

  // A missing or unreadable file is said so, not with OpenSSL's "system lib".
  for (const auto& [path, what] : {std::pair{&tls.cert_file, "server certificate"},
                                   std::pair{&tls.key_file, "server key"},
                                   std::pair{&tls.client_ca_file, "client CA"},
                                   std::pair{&tls.crl_file, "CRL"}}) {
    if (path->empty() && path == &tls.crl_file) continue;
    // Not opened to find out: a FIFO would block the start for ever, with the stop signals
    // already blocked (found in review).
    struct stat st;
    if (::stat(path->c_str(), &st) != 0) {
      return Status::FailedPrecondition(std::string("cannot read ") + what + " " + *path + ": " +
                                        std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      return Status::FailedPrecondition(std::string(what) + " " + *path +
                                        " is not a regular file");
    }
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
      return Status::FailedPrecondition(std::string("cannot read ") + what + " " + *path + ": " +
                                        std::strerror(errno));
    }
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    return fail("server certificate " + tls.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("server key " + tls.key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) return fail("server key does not match certificate");

  // Trust only the client CA, never the system store.
  std::optional<std::string> ca_pem = ReadFile(tls.client_ca_file);
  if (!ca_pem) return Status::FailedPrecondition("cannot read client CA " + tls.client_ca_file);
  if (SSL_CTX_load_verify_locations(ctx, tls.client_ca_file.c_str(), nullptr) != 1) {
    return fail("client CA " + tls.client_ca_file);
  }
  STACK_OF(X509_NAME)* ca_names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
  if (ca_names == nullptr) return fail("client CA names " + tls.client_ca_file);
  SSL_CTX_set_client_CA_list(ctx, ca_names);  // takes ownership

  std::string crl_pem;
  if (!tls.crl_file.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (lookup == nullptr ||
        X509_load_crl_file(lookup, tls.crl_file.c_str(), X509_FILETYPE_PEM) <= 0) {
      return fail("CRL " + tls.crl_file);
    }
    // Leaf only: the CRL is the client CA's. An expired CRL fails every handshake (fail closed).
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    crl_pem = ReadFile(tls.crl_file).value_or("");
  }

  int mode = SSL_VERIFY_PEER;
  if (tls.require_client_certificate) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  if (RefusedCertIndex() < 0) return fail("SSL ex_data index");
  SSL_CTX_set_verify(ctx, mode, VerifyCallback);
  SSL_CTX_set_verify_depth(ctx, 4);

  // Without a session id context, resumption with client certificates fails with an internal
  // error alert (libraries.md A1). It names the verification policy, like envoy's, so sessions
  // from another policy are not resumed.
  std::string policy = "kakunin-http-v1|" + std::to_string(tls.require_client_certificate) + "|" +
                       *ca_pem + "|" + crl_pem;
  std::string sid = Sha256Raw(policy);
  if (sid.size() > SSL_MAX_SID_CTX_LENGTH) sid.resize(SSL_MAX_SID_CTX_LENGTH);
  if (SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(sid.data()),
                                     static_cast<unsigned int>(sid.size())) != 1) {
    return fail("session id context");
  }
  SSL_CTX_set_timeout(ctx, kSessionLifetimeSeconds);
  ERR_clear_error();
  return context;
}

bool IsHttpSyntaxError(const boost::system::error_code& ec) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) return false;
  switch (static_cast<bhttp::error>(ec.value())) {
    case bhttp::error::end_of_stream:
    case bhttp::error::partial_message:
    case bhttp::error::need_more:
    case bhttp::error::need_buffer:
    case bhttp::error::end_of_chunk:
    case bhttp::error::header_limit:
    case bhttp::error::body_limit:
    case bhttp::error::stale_parser:
    case bhttp::error::short_read:
      return false;
    default:
      return true;
  }
}

double MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

class Connection;

// What the handler gave for a request: the response, and for the event why it is not the
// handler's own (never an exception's message: it may hold personal data).
struct HandlerOutcome {
  Response response;
  const char* failure = nullptr;
};

// testing::SetAfterAnswerPosted.
std::atomic<void (*)()> after_answer_posted{nullptr};

// One request an AsyncHandler took: where its response meets the connection waiting for it.
// Thread-safe. The response may come before the connection waits (kept in `ready`) or after
// (handed to `waiter`, which posts it to the connection's strand). Once answered, further
// answers do nothing.
class Deferred {
 public:
  using Waiter = std::function<void(HandlerOutcome)>;

  // False if it was answered before (or dropped by Stop()).
  bool Answer(HandlerOutcome outcome) {
    std::lock_guard lock(mu_);
    if (answered_) return false;
    answered_ = true;
    if (waiter_) {
      // Under the lock, posting and letting go: the waiter holds the connection's strand, whose
      // last copy must go before the io_context does. Stop() takes the lock of a Deferred still
      // registered; the connection takes it (Settle) before it goes on after its answer.
      Waiter waiter = std::move(waiter_);
      waiter_ = nullptr;
      waiter(std::move(outcome));
      if (auto hook = after_answer_posted.load(std::memory_order_acquire)) hook();
    } else {
      ready_ = std::move(outcome);
    }
    return true;
  }

  // The connection: the outcome if it is already there; else `waiter` gets it later.
  std::optional<HandlerOutcome> TakeOrWait(Waiter waiter) {
    std::lock_guard lock(mu_);
    if (ready_) {
      std::optional<HandlerOutcome> out = std::move(ready_);
      ready_.reset();
      return out;
    }
    if (!answered_) waiter_ = std::move(waiter);
    return std::nullopt;
  }

  // Returns once no Answer() is running on another thread: the one that resumed the connection
  // may still be letting go of its copy of the strand.
  void Settle() { std::lock_guard lock(mu_); }

  // The request goes elsewhere (the handler declined it), or Stop() gives up on it: nothing is
  // delivered any more. Returns the waiter, if one was set, for the caller to destroy outside
  // the lock (destroying it destroys the waiting coroutine).
  Waiter Close() {
    std::lock_guard lock(mu_);
    answered_ = true;
    ready_.reset();
    Waiter waiter = std::move(waiter_);
    waiter_ = nullptr;
    return waiter;
  }

 private:
  std::mutex mu_;
  bool answered_ = false;
  std::optional<HandlerOutcome> ready_;
  Waiter waiter_;
};

}  // namespace

// What a Responder holds: when the last copy goes without an answer, the request is answered
// 500 rather than left hanging.
class Responder::State {
 public:
  State(std::shared_ptr<Deferred> deferred, Server::Impl* server)
      : deferred_(std::move(deferred)), server_(server) {}
  ~State() {
    if (!armed_.load(std::memory_order_acquire)) return;
    deferred_->Answer(HandlerOutcome{Problem(500),
                                     "the handler dropped the request"});
  }
  void Disarm() { armed_.store(false, std::memory_order_release); }
  void Continue(std::function<void()> work);
  void Answer(Response response) {
    if (!armed_.load(std::memory_order_acquire)) return;
    deferred_->Answer(HandlerOutcome{std::move(response), nullptr});
  }

 private:
  std::shared_ptr<Deferred> deferred_;
  Server::Impl* server_;  // valid during the AsyncHandler's call (Continue's contract)
  std::atomic<bool> armed_{true};
};

Responder::Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}

void Responder::operator()(Response response) const { state_->Answer(std::move(response)); }

void Responder::Continue(std::function<void()> work) const { state_->Continue(std::move(work)); }

class Server::Impl {
 public:
  Impl(const Limits& limits, Handler handler, EventSink on_event, AsyncHandler async)
      : limits_(limits),
        handler_(std::move(handler)),
        on_event_(std::move(on_event)),
        async_handler_(std::move(async)) {}

  Status Init(const std::string& address, uint16_t port, const TlsConfig& tls);
  void Stop();
  uint16_t port() const { return port_; }
  Status ReloadTls();

  // --- Used by connections (any thread unless noted). ---
  const Limits& limits() const { return limits_; }
  // The configuration for a new connection; the connection keeps it alive.
  std::shared_ptr<ssl::context> tls_context() {
    std::lock_guard lock(tls_mu_);
    return tls_;
  }
  // Bumped by every reload of the TLS files: a connection verified under an earlier one
  // checks its certificate again before its next request.
  uint64_t tls_generation() const { return tls_generation_.load(std::memory_order_acquire); }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  void Emit(const Event& event) {
    if (!on_event_) return;
    try {
      on_event_(event);
    } catch (...) {
      // The sink's failure must not take a connection down.
    }
  }

  // Hands `request` to the handlers; `deferred` gets the outcome, from whichever thread
  // answers: the AsyncHandler (called here, on the I/O thread) or, if it declines, the blocking
  // Handler on the worker pool. A 503 problem if the pool no longer takes work (Stop()).
  void Dispatch(const std::shared_ptr<const Request>& request,
                const std::shared_ptr<Deferred>& deferred);

  void Register(Connection* c, std::weak_ptr<Connection> weak, const std::string& address);
  void Unregister(Connection* c, const std::string& address);
  // `c` has a whole request read and is about to hand it to the handlers: it cannot be evicted
  // for a newcomer until Waiting() again. False if it was chosen for eviction meanwhile: the
  // request is then dropped before any handler sees it.
  bool Busy(Connection* c);
  // `c` waits for a request or reads one, and was active just now (its handshake ended, a
  // response went out, bytes of a request arrived): evictable, the last to be chosen for now.
  void Active(Connection* c);

  const AsyncHandler& async_handler() const { return async_handler_; }
  // Runs `work` on the worker pool, or answers `deferred` 503 if the pool is closed (Stop()).
  void OnPool(const std::shared_ptr<Deferred>& deferred, std::function<void()> work);
  // A request for the AsyncHandler, known to Stop() until Forget(): answered 503 at once if
  // Stop() already gave up on the waiting ones.
  std::shared_ptr<Deferred> NewDeferred();
  void Forget(Deferred* d);

 private:
  static net::awaitable<void> AcceptLoop(Impl* self);
  // At most every crl_check_interval: reloads if crl_file was replaced. On the accept strand.
  void MaybeReloadTls();
  // Builds a new context from tls_config_ and swaps it in, or keeps the old one; reports the
  // outcome. `seen`: crl_file's signature taken before reading it. Holds reload_mu_.
  Status ReloadLocked(const FileSignature& seen);
  // The handler with its exceptions turned into a 500 problem.
  HandlerOutcome InvokeHandler(const Request& request);
  // The AsyncHandler; false if it declined (nothing answered then). Its exceptions: a 500.
  bool TryAsync(const std::shared_ptr<const Request>& request,
                const std::shared_ptr<Deferred>& deferred);

  // Applies `f` to every live connection.
  template <typename F>
  void ForEachConnection(F f);
  // Waits until no connection is left or `deadline`; true if none is left.
  bool WaitForConnections(SteadyClock::time_point deadline);

  const Limits limits_;
  const Handler handler_;
  const EventSink on_event_;
  const AsyncHandler async_handler_;
  uint16_t port_ = 0;
  TlsConfig tls_config_;

  // Copied for every new connection; replaced by a reload. Connections made before hold theirs.
  std::mutex tls_mu_;
  std::shared_ptr<ssl::context> tls_;

  // Serialises reloads (the accept loop's checks and ReloadTls() from a signal thread).
  std::mutex reload_mu_;
  FileSignature crl_seen_;  // crl_file as last read (or refused)
  std::atomic<uint64_t> tls_generation_{0};
  SteadyClock::time_point next_crl_check_;
  std::unique_ptr<net::io_context> ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::unique_ptr<tcp::acceptor> acceptor_;  // used on its strand only
  std::vector<std::thread> io_threads_;
  std::atomic<bool> stopping_{false};

  // Posting to the pool happens under pool_mu_, so that once pool_open_ is false no work can
  // reach the pool and join() covers every handler call.
  std::mutex pool_mu_;
  bool pool_open_ = true;
  std::unique_ptr<net::thread_pool> pool_;

  std::mutex connections_mu_;
  std::condition_variable connections_cv_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;
  std::unordered_map<std::string, int> per_address_;  // open connections by source address
  // Connections with no request in the handlers — in their TLS handshake, or past it waiting
  // for or reading a request — by when they were last active. When every slot is taken, a
  // newcomer closes the least recently active of them (as a web server closes its idle
  // keep-alive connections first). A connection whose request is in the handlers is never
  // evicted (Busy). Found in review, in four rounds, each breaking a finer rule: silent TCP
  // connections, silent TLS connections, connections trickling one byte, connections that
  // served one cheap request, from a few addresses or spread over a hundred, held every slot
  // or evicted a CS's busy keep-alive pool or a slow upload. Whatever an attacker holds goes
  // quiet, or costs it bytes to keep fresh; a newcomer is always the most recent, and a client
  // that keeps sending is the last to go.
  struct Waiter {
    uint64_t since = 0;
    const std::string* address = nullptr;  // the connection's own, which outlives the entry
  };
  std::unordered_map<Connection*, Waiter> waiting_;
  std::unordered_set<Connection*> evicting_;  // chosen, not yet gone: Busy refuses them
  uint64_t waits_ = 0;
  // Evictions a source network (an IPv4 /24, an IPv6 /64) has caused in the current second: at
  // most kEvictionsPerNetworkPerSecond, then its newcomers are refused as before (fourth fix
  // review: bare connects from ten addresses, a few hundred a second, closed every idle
  // keep-alive connection and every slow handshake). Cleared each second.
  std::unordered_map<std::string, int> evictions_by_network_;
  int64_t evictions_second_ = 0;

  // Requests taken by the AsyncHandler and not yet answered to their connection. Stop() drops
  // what is left once the I/O threads are gone, so no response is posted to a dead io_context.
  std::mutex deferred_mu_;
  bool deferred_closed_ = false;
  std::unordered_map<Deferred*, std::weak_ptr<Deferred>> deferred_;

  std::mutex stop_mu_;  // serialises Stop()
  bool stopped_ = false;
};

namespace {

// One TLS connection. Everything but the constructor runs on the connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl& server, std::shared_ptr<ssl::context> tls, tcp::socket&& socket,
             std::string remote_address)
      : server_(server),
        tls_(std::move(tls)),
        stream_(beast::tcp_stream(std::move(socket)), *tls_),
        remote_address_(std::move(remote_address)),
        buffer_(BufferLimit(server.limits())) {
    verified_generation_ = server.tls_generation();
  }
  ~Connection() { server_.Unregister(this, remote_address_); }

  void Start() {
    server_.Register(this, weak_from_this(), remote_address_);
    net::co_spawn(stream_.get_executor(), Run(shared_from_this()), [](std::exception_ptr) {
      // Run() handles its errors; anything else (bad_alloc) just ends the connection.
    });
  }

  // Stop(): no further request on this connection; an idle one closes now.
  void BeginShutdown() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->shutting_down_ = true;
      if (self->idle_) beast::get_lowest_layer(self->stream_).cancel();
    });
  }

  const std::string& remote_address() const { return remote_address_; }

  // Stop() past its deadline, or an eviction: close the socket whatever is happening on it.
  void ForceClose() {
    net::post(stream_.get_executor(),
              [self = shared_from_this()] { beast::get_lowest_layer(self->stream_).close(); });
  }

 private:
  enum class After { kKeepAlive, kClose, kAbort };

  static net::awaitable<void> Run(std::shared_ptr<Connection> self);
  net::awaitable<bool> Handshake();
  // Serves one request whose first bytes are in buffer_.
  net::awaitable<After> ServeOne();
  // Reads the header into `parser`. Sets *obs_fold (and returns no error) if the header section
  // has a folded line; the parser has then seen none of it.
  net::awaitable<boost::system::error_code> ReadHeader(ParserType& parser, bool* obs_fold);
  // Reads into `parser` until (parser.*done)() holds or an error.
  net::awaitable<boost::system::error_code> ReadUntil(ParserType& parser,
                                                      bool (ParserType::*done)() const);
  // Writes under the read_timeout deadline; false if it failed.
  net::awaitable<bool> Write(bhttp::response<bhttp::string_body>& res);
  // Writes a problem response for a refused request and closes.
  net::awaitable<void> Refuse(Event::Kind kind, int status, const ParserType& parser,
                              SteadyClock::time_point start, std::string detail);
  net::awaitable<void> CloseTls();
  // The outcome of a request the AsyncHandler took, when it is given.
  net::awaitable<HandlerOutcome> AwaitDeferred(std::shared_ptr<Deferred> deferred);
  // `head`: the Content-Length of the body is sent, the body is not.
  bhttp::response<bhttp::string_body> ToBeast(Response response, unsigned version,
                                              const std::string& request_id, bool keep_alive,
                                              bool head);
  Event MakeEvent(Event::Kind kind) const {
    Event e{kind, remote_address_, peer_.spki_sha256, "", "", 0, "", 0, "", false};
    return e;
  }

  Server::Impl& server_;
  // The TLS configuration this connection was made with: a reload does not touch it.
  std::shared_ptr<ssl::context> tls_;
  Stream stream_;
  uint64_t verified_generation_ = 0;  // the server's TLS generation the peer was verified under
  // The peer's certificate and chain verified against the server's current TLS context (its
  // CA and CRL), as the handshake verified them; false with OpenSSL's reason otherwise.
  bool StillVerifies(std::string* why) {
    SSL* ssl = stream_.native_handle();
    X509* leaf = SSL_get0_peer_certificate(ssl);
    if (leaf == nullptr) return true;  // no certificate was asked for: nothing to check again
    std::shared_ptr<ssl::context> current = server_.tls_context();
    X509_STORE* store = SSL_CTX_get_cert_store(current->native_handle());
    X509_STORE_CTX* check = X509_STORE_CTX_new();
    if (check == nullptr) {
      *why = "out of memory";
      return false;
    }
    bool ok = X509_STORE_CTX_init(check, store, leaf, SSL_get_peer_cert_chain(ssl)) == 1;
    if (ok) {
      X509_STORE_CTX_set_default(check, "ssl_client");  // as the handshake checks a client
      ok = X509_verify_cert(check) == 1;
      if (!ok) *why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(check));
    } else {
      *why = "cannot check the certificate";
    }
    X509_STORE_CTX_free(check);
    ERR_clear_error();
    return ok;
  }
  std::string remote_address_;
  PeerIdentity peer_;
  beast::flat_buffer buffer_;
  bool idle_ = false;           // waiting for the first byte of a request
  bool shutting_down_ = false;  // Stop() was called
};

net::awaitable<void> Connection::Run(std::shared_ptr<Connection> self) {
  auto& tcp_stream = beast::get_lowest_layer(self->stream_);
  if (!co_await self->Handshake()) {
    tcp_stream.close();
    co_return;
  }
  const Limits& limits = self->server_.limits();
  bool first = true;
  for (;;) {
    if (self->buffer_.size() == 0) {
      if (self->shutting_down_ || self->server_.stopping()) break;
      // Before the first byte of a request, the idle deadline applies (read_timeout for the first
      // request: a connection that says nothing holds a slot for no reason).
      tcp_stream.expires_after(first ? limits.read_timeout : limits.idle_timeout);
      self->idle_ = true;
      // Evictable while it waits and while it reads the request (Busy once it is whole).
      if (!first) self->server_.Active(self.get());
      auto [ec, n] =
          co_await self->stream_.async_read_some(self->buffer_.prepare(kFirstReadBytes), kNoThrow);
      self->idle_ = false;
      if (!ec) self->server_.Active(self.get());
      if (ec) {
        if (ec == beast::error::timeout && first) {
          Event e = self->MakeEvent(Event::kTimeout);
          e.detail = "no request after handshake";
          self->server_.Emit(e);
        }
        if (ec == net::error::eof || ec == net::error::operation_aborted ||
            ec == beast::error::timeout) {
          break;  // peer's close_notify, Stop() or idle: say goodbye properly
        }
        tcp_stream.close();  // reset, truncated: the peer is gone
        co_return;
      }
      self->buffer_.commit(n);
    }
    first = false;
    After after = co_await self->ServeOne();
    if (after == After::kAbort) {
      tcp_stream.close();
      co_return;
    }
    if (after == After::kClose) break;
  }
  co_await self->CloseTls();
}

net::awaitable<bool> Connection::Handshake() {
  auto& tcp_stream = beast::get_lowest_layer(stream_);
  tcp_stream.expires_after(server_.limits().read_timeout);
  auto start = SteadyClock::now();
  auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, kNoThrow);
  if (!ec) {
    server_.Active(this);
    peer_ = ReadPeerIdentity(stream_.native_handle());
    co_return true;
  }
  Event e = MakeEvent(ec == beast::error::timeout ? Event::kTimeout : Event::kRefusedHandshake);
  e.duration_ms = MillisSince(start);
  if (ec == beast::error::timeout) {
    e.detail = "TLS handshake";
  } else {
    SSL* ssl = stream_.native_handle();
    long verify = SSL_get_verify_result(ssl);
    e.detail = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : ec.message();
    const RefusedCert refused = Refused(ssl);
    e.client_spki_sha256 = refused.spki_sha256;
    e.client_ca_issued = refused.client_ca_issued;
  }
  ERR_clear_error();
  server_.Emit(e);
  co_return false;
}

net::awaitable<Connection::After> Connection::ServeOne() {
  const Limits& limits = server_.limits();
  auto& tcp_stream = beast::get_lowest_layer(stream_);
  const auto start = SteadyClock::now();
  // One deadline for the whole request: a client dribbling bytes cannot extend it (slowloris).
  const auto deadline = start + limits.read_timeout;
  tcp_stream.expires_at(deadline);

  ParserType parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
  bool obs_fold = false;
  boost::system::error_code ec = co_await ReadHeader(parser, &obs_fold);
  if (!ec && obs_fold) {
    co_await Refuse(Event::kRequest, 400, parser, start,
                    "malformed request: obsolete line folding");
    co_return After::kAbort;
  }
  if (!ec) {
    // Before any 100-continue: the request is refused whatever its body.
    if (const char* problem = HeaderProblem(parser.get())) {
      co_await Refuse(Event::kRequest, 400, parser, start,
                      std::string("malformed request: ") + problem);
      co_return After::kAbort;
    }
  }
  if (!ec && !parser.is_done()) {
    const auto& header = parser.get();
    if (header.version() == 11 && beast::iequals(header[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::string_body> proceed{bhttp::status::continue_, 11};
      if (!co_await Write(proceed)) co_return After::kAbort;
      tcp_stream.expires_at(deadline);  // Write() set its own
    }
    ec = co_await ReadUntil(parser, &ParserType::is_done);
  }
  if (ec == bhttp::error::header_limit) {
    co_await Refuse(Event::kTooLarge, 431, parser, start,
                    "header limit");
    co_return After::kAbort;
  }
  if (ec == bhttp::error::body_limit) {
    co_await Refuse(Event::kTooLarge, 413, parser, start, "body limit");
    co_return After::kAbort;
  }
  if (ec == bhttp::error::buffer_overflow) {
    co_await Refuse(Event::kTooLarge, 413, parser, start,
                    "chunk extension or trailer over the buffer limit");
    co_return After::kAbort;
  }
  if (IsHttpSyntaxError(ec)) {
    co_await Refuse(Event::kRequest, 400, parser, start,
                    "malformed request: " + ec.message());
    co_return After::kAbort;
  }
  if (ec == beast::error::timeout) {
    Event e = MakeEvent(Event::kTimeout);
    e.detail = "request not received within read_timeout";
    e.duration_ms = MillisSince(start);
    server_.Emit(e);
    co_return After::kAbort;
  }
  if (ec) co_return After::kAbort;  // the peer closed or reset mid-request

  // The TLS files were reloaded since this connection's certificate was verified (a new CRL):
  // it is verified again, against the current ones, before any more of its requests is served.
  // A certificate revoked or expired since is refused as at a handshake, and the connection
  // closed.
  if (const uint64_t generation = server_.tls_generation(); generation != verified_generation_) {
    std::string why;
    if (!StillVerifies(&why)) {
      Event e = MakeEvent(Event::kRefusedHandshake);
      e.detail = "certificate no longer valid under the reloaded TLS files: " + why;
      e.client_ca_issued = true;  // verified at its handshake
      e.duration_ms = MillisSince(start);
      server_.Emit(e);
      co_return After::kAbort;
    }
    verified_generation_ = generation;
  }

  auto& message = parser.get();
  auto request = std::make_shared<Request>();
  FillRequest(message, request.get());
  request->client_spki_sha256 = peer_.spki_sha256;
  request->client_subject_cn = peer_.subject_cn;
  request->remote_address = remote_address_;

  // From here the request is in the handlers' hands: no newcomer closes the connection. One
  // chosen for eviction a moment ago is closed now, before any handler sees its request.
  if (!server_.Busy(this)) co_return After::kAbort;
  // The handlers answer through `deferred`, on this thread or another (server.h).
  std::shared_ptr<Deferred> deferred = server_.NewDeferred();
  server_.Dispatch(request, deferred);
  HandlerOutcome outcome = co_await AwaitDeferred(deferred);
  server_.Forget(deferred.get());
  auto& [response, failure] = outcome;
  // Back on the strand. Stop() may have come meanwhile: answer, then close.
  const bool keep_alive = message.keep_alive() && !shutting_down_ && !server_.stopping();
  auto res = ToBeast(std::move(response), message.version(), request->request_id, keep_alive,
                     message.method() == bhttp::verb::head);
  const int status = static_cast<int>(res.result_int());
  bool written = co_await Write(res);

  Event e = MakeEvent(Event::kRequest);
  e.method = request->method;
  e.path = request->path;
  e.status = status;
  e.request_id = request->request_id;
  e.duration_ms = MillisSince(start);
  if (failure != nullptr) e.detail = failure;
  if (!written) {
    e.detail += e.detail.empty() ? "response not delivered" : "; response not delivered";
  }
  server_.Emit(e);
  if (!written) co_return After::kAbort;
  co_return keep_alive ? After::kKeepAlive : After::kClose;
}

net::awaitable<boost::system::error_code> Connection::ReadHeader(ParserType& parser,
                                                                 bool* obs_fold) {
  // Beast parses a header only once its blank line is in the buffer, so the raw header section
  // can be checked here, before the parser joins folded lines.
  size_t searched = 0;  // buffer_ bytes known to hold no "\r\n\r\n"
  for (;;) {
    if (buffer_.size() > 0) {
      std::string_view bytes(static_cast<const char*>(buffer_.data().data()), buffer_.size());
      size_t end = bytes.find("\r\n\r\n", searched >= 3 ? searched - 3 : 0);
      searched = bytes.size();
      if (end != std::string_view::npos && end + 4 <= server_.limits().max_header_bytes &&
          HasObsFold(bytes.substr(0, end + 2))) {
        *obs_fold = true;
        co_return boost::system::error_code{};
      }
      boost::system::error_code ec;
      size_t used = parser.put(buffer_.data(), ec);
      buffer_.consume(used);
      if (used > 0) searched = 0;
      if (parser.is_header_done()) co_return boost::system::error_code{};
      if (ec && ec != bhttp::error::need_more) co_return ec;
    }
    // Not reached (the parser's header_limit comes first), but prepare() would throw.
    if (buffer_.size() + kFirstReadBytes > buffer_.max_size()) co_return bhttp::error::header_limit;
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kFirstReadBytes), kNoThrow);
    if (!ec) server_.Active(this);
    if (ec) {
      // As Beast's own read: a close before a complete header is not a syntax error.
      if (ec == net::error::eof || ec == net::ssl::error::stream_truncated) {
        co_return bhttp::error::partial_message;
      }
      co_return ec;
    }
    buffer_.commit(n);
  }
}

net::awaitable<boost::system::error_code> Connection::ReadUntil(ParserType& parser,
                                                                bool (ParserType::*done)() const) {
  // One read operation type for header and body keeps this translation unit's compile time
  // down (async_read_header and async_read are separate instantiations).
  while (!(parser.*done)()) {
    auto [ec, n] = co_await bhttp::async_read_some(stream_, buffer_, parser, kNoThrow);
    if (ec) co_return ec;
    server_.Active(this);  // a body arriving keeps its connection fresh
  }
  co_return boost::system::error_code{};
}

net::awaitable<bool> Connection::Write(bhttp::response<bhttp::string_body>& res) {
  beast::get_lowest_layer(stream_).expires_after(server_.limits().read_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream_, res, kNoThrow);
  co_return !ec;
}

net::awaitable<void> Connection::Refuse(Event::Kind kind, int status,
                                        const ParserType& parser, SteadyClock::time_point start,
                                        std::string detail) {
  std::string request_id = NewRequestId();
  Event e = MakeEvent(kind);
  // After a limit error the start line may be parsed although the header is not.
  if (!parser.get().target().empty()) {
    const auto& header = parser.get();
    e.method = std::string(header.method_string());
    std::string_view target = header.target();
    e.path = std::string(target.substr(0, target.find('?')));
  }
  auto res = ToBeast(Problem(status), 11, request_id, /*keep_alive=*/false,
                     /*head=*/false);
  bool written = co_await Write(res);
  e.status = status;
  e.request_id = request_id;
  e.duration_ms = MillisSince(start);
  e.detail = std::move(detail);
  if (!written) e.detail += "; response not delivered";
  server_.Emit(e);
  if (written) co_await CloseTls();
}

net::awaitable<HandlerOutcome> Connection::AwaitDeferred(std::shared_ptr<Deferred> deferred) {
  // Answered while the handler ran (/healthz, a refusal): no suspension, no post.
  if (std::optional<HandlerOutcome> now = deferred->TakeOrWait(nullptr)) co_return std::move(*now);
  co_return co_await net::async_initiate<decltype(net::use_awaitable), void(HandlerOutcome)>(
      [&deferred](auto completion) {
        // Resumes on the connection's strand, never on the thread that answers.
        auto strand = net::get_associated_executor(completion);
        auto shared = std::make_shared<decltype(completion)>(std::move(completion));
        std::optional<HandlerOutcome> now =
            deferred->TakeOrWait([strand, shared](HandlerOutcome outcome) {
              net::post(strand, [shared, outcome = std::move(outcome)]() mutable {
                std::move (*shared)(std::move(outcome));
              });
            });
        if (now) {
          net::post(strand, [shared, outcome = std::move(*now)]() mutable {
            std::move (*shared)(std::move(outcome));
          });
        }
      },
      net::use_awaitable);
}

net::awaitable<void> Connection::CloseTls() {
  auto& tcp_stream = beast::get_lowest_layer(stream_);
  if (tcp_stream.socket().is_open()) {
    // Sends close_notify, then discards what the peer still sends (an unread body) until its
    // close_notify or EOF, so the response is not lost to a TCP reset. stream_truncated and
    // timeouts are expected here.
    tcp_stream.expires_after(kTlsShutdownTimeout);
    co_await stream_.async_shutdown(kNoThrow);
  }
  boost::system::error_code ignored;
  tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp_stream.close();
}

bhttp::response<bhttp::string_body> Connection::ToBeast(Response response, unsigned version,
                                                        const std::string& request_id,
                                                        bool keep_alive, bool head) {
  if (response.status < 200 || response.status > 599) {
    response = Problem(500);
  }
  // Every problem document names the request's id, as the header does (docs/api.md): the
  // server's own (Problem) get it here, as those made before it was known (a handler that threw,
  // the server stopping; found in review: they had none). The id is 32 hex digits
  // (NewRequestId): nothing to escape.
  if (response.content_type == "application/problem+json" && response.body.size() > 2 &&
      response.body.front() == '{' && response.body.back() == '}' &&
      response.body.find("\"request_id\"") == std::string::npos) {
    response.body.insert(response.body.size() - 1, ",\"request_id\":\"" + request_id + "\"");
  }
  bhttp::response<bhttp::string_body> res;
  res.version(version == 10 ? 10 : 11);
  res.result(static_cast<unsigned>(response.status));
  if (response.status == 204 || response.status == 304) response.body.clear();
  if (!response.content_type.empty() &&
      response.content_type.find_first_of("\r\n") == std::string::npos &&
      response.content_type.find('\0') == std::string::npos) {
    res.set(bhttp::field::content_type, response.content_type);
  }
  for (auto& [name, value] : response.headers) {
    if (!IsToken(name) || value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      continue;
    }
    std::string lower = ToLower(name);
    if (lower == "content-type" || lower == "content-length" || lower == "connection" ||
        lower == "transfer-encoding" || lower == "x-request-id") {
      continue;
    }
    res.insert(name, value);
  }
  res.set("x-request-id", request_id);
  res.body() = std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  if (head) res.body().clear();  // the serializer sends what the body holds
  return res;
}

}  // namespace

// --- Server::Impl ---

Status Server::Impl::Init(const std::string& address, uint16_t port, const TlsConfig& tls) {
  if (limits_.io_threads < 1 || limits_.worker_threads < 1 || limits_.max_connections < 1 ||
      limits_.max_connections_per_address < 1 ||
      limits_.max_header_bytes == 0 || limits_.max_header_bytes > UINT32_MAX ||
      limits_.read_timeout.count() <= 0 || limits_.idle_timeout.count() <= 0 ||
      limits_.drain_timeout.count() < 0) {
    return Status::InvalidArgument("http server limits out of range");
  }
  if (!handler_) return Status::InvalidArgument("http server needs a handler");
  boost::system::error_code ec;
  net::ip::address ip = net::ip::make_address(address, ec);
  if (ec) return Status::InvalidArgument("not an IP address: " + address);

  if (tls.crl_check_interval.count() < 0) {
    return Status::InvalidArgument("http server crl_check_interval out of range");
  }
  tls_config_ = tls;
  // Taken before the file is read: a change after this is seen at the next check.
  if (!tls.crl_file.empty()) crl_seen_ = SignatureOf(tls.crl_file);
  auto tls_context = MakeTlsContext(tls);
  if (!tls_context.ok()) return tls_context.status();
  tls_ = std::move(tls_context).value();
  next_crl_check_ = SteadyClock::now() + tls.crl_check_interval;

  ioc_ = std::make_unique<net::io_context>(limits_.io_threads);
  acceptor_ = std::make_unique<tcp::acceptor>(net::make_strand(*ioc_));
  tcp::endpoint endpoint(ip, port);
  if (acceptor_->open(endpoint.protocol(), ec); ec) {
    return Status::Unavailable("cannot open socket: " + ec.message());
  }
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec); ec) {
    return Status::Unavailable("cannot set SO_REUSEADDR: " + ec.message());
  }
  if (acceptor_->bind(endpoint, ec); ec) {
    return Status::Unavailable("cannot bind " + address + ":" + std::to_string(port) + ": " +
                               ec.message());
  }
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec); ec) {
    return Status::Unavailable("cannot listen: " + ec.message());
  }
  port_ = acceptor_->local_endpoint(ec).port();

  pool_ = std::make_unique<net::thread_pool>(static_cast<size_t>(limits_.worker_threads));
  work_.emplace(ioc_->get_executor());
  net::co_spawn(acceptor_->get_executor(), AcceptLoop(this), [](std::exception_ptr) {});
  for (int i = 0; i < limits_.io_threads; ++i) {
    io_threads_.emplace_back([this] {
      for (;;) {
        try {
          ioc_->run();
          return;
        } catch (...) {
          // A handler escaped with an exception; keep serving the others.
        }
      }
    });
  }
  return Status::Ok();
}

net::awaitable<void> Server::Impl::AcceptLoop(Impl* self) {
  for (;;) {
    auto [ec, socket] =
        co_await self->acceptor_->async_accept(net::make_strand(*self->ioc_), kNoThrow);
    if (self->stopping() || !self->acceptor_->is_open()) co_return;
    if (ec) {
      // EMFILE and the like: back off instead of spinning.
      net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    boost::system::error_code ignored;
    auto remote = socket.remote_endpoint(ignored);
    std::string remote_address = ignored ? "" : remote.address().to_string();
    bool full;
    int from_address = 0;
    std::shared_ptr<Connection> evict;
    {
      std::lock_guard lock(self->connections_mu_);
      full = self->connections_.size() >= static_cast<size_t>(self->limits_.max_connections);
      auto it = self->per_address_.find(remote_address);
      if (it != self->per_address_.end()) from_address = it->second;
      if (full && from_address < self->limits_.max_connections_per_address) {
        // Every slot taken: the least recently active of the connections with no request in the
        // handlers makes room, within the newcomer's network's evictions for this second.
        auto chosen = self->waiting_.end();
        for (auto w = self->waiting_.begin(); w != self->waiting_.end(); ++w) {
          if (chosen == self->waiting_.end() || w->second.since < chosen->second.since) chosen = w;
        }
        const int64_t second = std::chrono::duration_cast<std::chrono::seconds>(
                                   SteadyClock::now().time_since_epoch())
                                   .count();
        if (second != self->evictions_second_) {
          self->evictions_by_network_.clear();
          self->evictions_second_ = second;
        }
        if (chosen != self->waiting_.end()) {
          int& spent = self->evictions_by_network_[SourceNetwork(remote)];
          auto c = self->connections_.find(chosen->first);
          if (spent < kEvictionsPerNetworkPerSecond && c != self->connections_.end()) {
            evict = c->second.lock();
          }
          if (evict != nullptr) {
            ++spent;
            self->evicting_.insert(chosen->first);
            self->waiting_.erase(chosen);  // never chosen twice
          }
        }
      }
    }
    if (evict != nullptr) {
      evict->ForceClose();
      Event e{Event::kConnectionCap, evict->remote_address(), "", "", "", 0, "", 0,
              "evicted: the least recently active connection when every slot was taken", false};
      self->Emit(e);
    }
    const bool per_address = from_address >= self->limits_.max_connections_per_address;
    if (per_address || (full && evict == nullptr)) {  // else its slot is the evicted one's
      socket.close(ignored);
      Event e{Event::kConnectionCap, remote_address, "", "", "", 0, "", 0,
              per_address ? "per-address connection cap" : "connection cap", false};
      self->Emit(e);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ignored);
    self->MaybeReloadTls();
    std::make_shared<Connection>(*self, self->tls_context(), std::move(socket),
                                 std::move(remote_address))
        ->Start();
  }
}

void Server::Impl::MaybeReloadTls() {
  if (tls_config_.crl_file.empty()) return;
  // A reload by ReloadTls() is under way: this connection takes whichever context is current.
  std::unique_lock lock(reload_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  const auto now = SteadyClock::now();
  if (now < next_crl_check_) return;
  next_crl_check_ = now + tls_config_.crl_check_interval;
  FileSignature current = SignatureOf(tls_config_.crl_file);
  if (current == crl_seen_) return;
  (void)ReloadLocked(current);
}

Status Server::Impl::ReloadTls() {
  std::lock_guard lock(reload_mu_);
  return ReloadLocked(tls_config_.crl_file.empty() ? FileSignature{}
                                                   : SignatureOf(tls_config_.crl_file));
}

Status Server::Impl::ReloadLocked(const FileSignature& seen) {
  // Remembered even when refused: a broken file is reported once, not at every connection, and
  // tried again when it changes.
  crl_seen_ = seen;
  Status status;
  try {
    auto context = MakeTlsContext(tls_config_);
    if (context.ok()) {
      std::shared_ptr<ssl::context> fresh = std::move(context).value();
      std::lock_guard lock(tls_mu_);
      tls_.swap(fresh);
      tls_generation_.fetch_add(1, std::memory_order_acq_rel);
      // `fresh` (the old context) is released here or by the last connection made with it.
    } else {
      status = context.status();
    }
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("TLS context: ") + e.what());
  }
  if (!status.ok()) {
    status = Status(status.code(),
                    "TLS files not reloaded, the previous ones stay in use: " + status.message());
  }
  if (tls_config_.on_reload) {
    try {
      tls_config_.on_reload(status);
    } catch (...) {
      // A failing reporter must not take the accept loop down.
    }
  }
  return status;
}

void Responder::State::Continue(std::function<void()> work) {
  server_->OnPool(deferred_, std::move(work));
}

void Server::Impl::Dispatch(const std::shared_ptr<const Request>& request,
                            const std::shared_ptr<Deferred>& deferred) {
  if (async_handler_ && TryAsync(request, deferred)) return;
  OnPool(deferred, [this, request, deferred] { deferred->Answer(InvokeHandler(*request)); });
}

bool Server::Impl::TryAsync(const std::shared_ptr<const Request>& request,
                            const std::shared_ptr<Deferred>& deferred) {
  auto state = std::make_shared<Responder::State>(deferred, this);
  try {
    if (async_handler_(request, Responder(state))) return true;
  } catch (...) {
    deferred->Answer(HandlerOutcome{Problem(500), "handler threw"});
    return true;
  }
  state->Disarm();  // declined: its Responder must not answer 500 when it goes
  return false;
}

void Server::Impl::OnPool(const std::shared_ptr<Deferred>& deferred, std::function<void()> work) {
  std::lock_guard lock(pool_mu_);
  if (!pool_open_) {
    deferred->Answer(HandlerOutcome{Problem(503), "server stopping"});
    return;
  }
  net::post(*pool_, std::move(work));
}

HandlerOutcome Server::Impl::InvokeHandler(const Request& request) {
  try {
    return HandlerOutcome{handler_(request), nullptr};
  } catch (...) {
    return HandlerOutcome{Problem(500), "handler threw"};
  }
}

std::shared_ptr<Deferred> Server::Impl::NewDeferred() {
  auto d = std::make_shared<Deferred>();
  std::lock_guard lock(deferred_mu_);
  if (deferred_closed_) {
    d->Answer(HandlerOutcome{Problem(503), "server stopping"});
  } else {
    deferred_.emplace(d.get(), d);
  }
  return d;
}

void Server::Impl::Forget(Deferred* d) {
  {
    std::lock_guard lock(deferred_mu_);
    deferred_.erase(d);
  }
  // The thread that answered may not have left Answer() yet; once this connection goes on, it
  // may close, and Stop() destroy the io_context that thread's copy of the strand belongs to.
  d->Settle();
}

void Server::Impl::Register(Connection* c, std::weak_ptr<Connection> weak,
                            const std::string& address) {
  std::lock_guard lock(connections_mu_);
  connections_.emplace(c, std::move(weak));
  ++per_address_[address];
  waiting_[c] = Waiter{++waits_, &c->remote_address()};
}

bool Server::Impl::Busy(Connection* c) {
  std::lock_guard lock(connections_mu_);
  waiting_.erase(c);
  return evicting_.count(c) == 0;
}

void Server::Impl::Active(Connection* c) {
  std::lock_guard lock(connections_mu_);
  if (connections_.count(c) != 0 && evicting_.count(c) == 0) {
    waiting_[c] = Waiter{++waits_, &c->remote_address()};
  }
}

void Server::Impl::Unregister(Connection* c, const std::string& address) {
  std::lock_guard lock(connections_mu_);
  connections_.erase(c);
  waiting_.erase(c);
  evicting_.erase(c);
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
  if (connections_.empty()) connections_cv_.notify_all();
}

template <typename F>
void Server::Impl::ForEachConnection(F f) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(connections_mu_);
    for (auto& [ptr, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) f(*c);
}

bool Server::Impl::WaitForConnections(SteadyClock::time_point deadline) {
  std::unique_lock lock(connections_mu_);
  return connections_cv_.wait_until(lock, deadline, [this] { return connections_.empty(); });
}

void Server::Impl::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  if (io_threads_.empty()) {
    // Init() failed before anything ran: nothing to drain.
    acceptor_.reset();
    ioc_.reset();
    pool_.reset();
    return;
  }

  // 1. Stop accepting.
  std::promise<void> closed;
  net::post(acceptor_->get_executor(), [this, &closed] {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    closed.set_value();
  });
  closed.get_future().wait();

  // 2. Idle connections close now; busy ones after their response. A connection registered
  // after this loop sees stopping() before it waits for a request.
  ForEachConnection([](Connection& c) { c.BeginShutdown(); });
  if (!WaitForConnections(SteadyClock::now() + limits_.drain_timeout)) {
    ForEachConnection([](Connection& c) { c.ForceClose(); });
    (void)WaitForConnections(SteadyClock::now() + kForceCloseWait);
  }

  // 3. No new handler calls; wait for the running ones (their completions still need the I/O
  // threads, which keep running).
  {
    std::lock_guard lock(pool_mu_);
    pool_open_ = false;
  }
  pool_->join();

  // 4. Stop the I/O threads, then destroy whatever coroutine frames are left while this object
  // (their Impl&) is still alive.
  work_.reset();
  ioc_->stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  // Deferred responses still not given (their connections were closed): a late answer must
  // not post to the io_context about to go, and their waiting coroutines go with it.
  std::vector<Deferred::Waiter> dropped;
  {
    std::lock_guard lock(deferred_mu_);
    deferred_closed_ = true;
    for (auto& [ptr, weak] : deferred_) {
      if (auto d = weak.lock()) dropped.push_back(d->Close());
    }
    deferred_.clear();
  }
  dropped.clear();
  acceptor_.reset();
  ioc_.reset();
  pool_.reset();
}

// --- Server ---

const std::string* Request::FindHeader(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(const std::string& address, uint16_t port,
                                              const TlsConfig& tls, const Limits& limits,
                                              Handler handler, EventSink on_event,
                                              AsyncHandler async) {
  auto impl = std::make_unique<Impl>(limits, std::move(handler), std::move(on_event),
                                     std::move(async));
  Status status;
  try {
    status = impl->Init(address, port, tls);
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("http server start: ") + e.what());
  }
  if (!status.ok()) {
    impl->Stop();
    return status;
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port(); }

Status Server::ReloadTls() { return impl_->ReloadTls(); }

void Server::Stop() {
  if (impl_) impl_->Stop();
}

Result<Request> ParseRequest(std::string_view bytes, const Limits& limits) {
  ParserType parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
  parser.eager(true);
  boost::system::error_code ec;
  // As a connection does (ReadHeader): the raw header section first, then the parser.
  if (size_t end = bytes.find("\r\n\r\n");
      end != std::string_view::npos && end + 4 <= limits.max_header_bytes &&
      HasObsFold(bytes.substr(0, end + 2))) {
    return Status::InvalidArgument("malformed request: obsolete line folding");
  }
  while (!ec && !parser.is_done() && !bytes.empty()) {
    size_t used = parser.put(net::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
      if (used == 0) break;
    }
  }
  if (ec == bhttp::error::header_limit) return Status::ResourceExhausted("header limit");
  if (ec == bhttp::error::body_limit) return Status::ResourceExhausted("body limit");
  if (ec) return Status::InvalidArgument("malformed request: " + ec.message());
  if (!parser.is_done()) return Status::InvalidArgument("incomplete request");
  if (const char* problem = HeaderProblem(parser.get())) {
    return Status::InvalidArgument(std::string("malformed request: ") + problem);
  }
  Request request;
  FillRequest(parser.get(), &request);
  return request;
}

namespace testing {

void SetAfterAnswerPosted(void (*hook)()) {
  after_answer_posted.store(hook, std::memory_order_release);
}

}  // namespace testing

}  // namespace kakunin::http
