#pragma once

// The node's HTTPS server: TLS 1.3/1.2 with mutual authentication, HTTP/1.1 keep-alive, limits
// and timeouts, behind a plain Request -> Response handler. It knows nothing of the domain:
// routing, authorisation and JSON live above it (DESIGN §3). Boost.Beast and OpenSSL stay out of
// this header; server.cc is the only translation unit that includes them for the server.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace kakunin::http {

// One HTTP request as the handler sees it. Plain data; copies are independent.
struct Request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // the request target as sent, e.g. "/a/b?x=1"
  std::string path;    // target before '?', not percent-decoded
  std::string query;   // target after '?' ("" if none), not percent-decoded
  // Header fields in the order received; names lower-cased, values as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo of the verified client certificate;
  // "" if the client sent none (possible only without require_client_certificate). Identify
  // clients by this, never by the CN (DESIGN §7).
  std::string client_spki_sha256;
  std::string client_subject_cn;  // UTF-8; for display only
  std::string remote_address;     // peer IP address, e.g. "127.0.0.1"
  std::string request_id;         // the x-request-id the response carries

  // The first header named `name` (lower-case), or nullptr.
  const std::string* FindHeader(std::string_view name) const;
};

struct Response {
  int status = 200;  // 200..599; anything else is answered as 500
  std::string content_type = "application/json";
  // Extra header fields. Names must be HTTP tokens and values must not contain CR, LF or NUL
  // (such fields are dropped). content-type, content-length, connection, transfer-encoding and
  // x-request-id are set by the server and ignored here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Never sees a request the server refused itself: 400 for bad syntax, obsolete line folding
// (a header line starting with a space or tab), a missing (HTTP/1.1) or repeated Host header or
// a Transfer-Encoding other than chunked alone; 413 and 431 for the limits.
// Runs on the worker pool, never on an I/O thread, so it may block (SQLite, argon2id, HSM).
// Called concurrently from several workers: must be thread-safe. An exception it throws is
// answered with a 500 problem document and never propagates further.
using Handler = std::function<Response(const Request&)>;

// Answers a request an AsyncHandler took (a deferred response). Copyable; any copy may answer,
// from any thread, once: later calls do nothing. Cheap: it only hands the response to the
// connection's I/O thread. If the handler lets every copy go without answering, the request
// is answered 500 (a bug must not leave a connection hanging). After Server::Stop() gave up on
// the request (drain_timeout) the response is dropped.
class Responder {
 public:
  class State;  // server.cc
  explicit Responder(std::shared_ptr<State> state);
  void operator()(Response response) const;
  // Only from within the AsyncHandler's call: runs `work` on the worker pool, for what may
  // block (SQLite writes, leading a group commit), with the request still to be answered
  // through this Responder (a copy may go with `work`). If the pool no longer takes work
  // (Stop()), the request is answered 503 and `work` is dropped.
  void Continue(std::function<void()> work) const;

 private:
  std::shared_ptr<State> state_;
};

// Tried first for every request, on the connection's I/O thread. Returns false to leave the
// request to Handler (on the worker pool); true if it took it, and then it (or whatever it
// hands `respond` to) must call `respond` exactly once — possibly before returning (a health
// check: no hop to a worker at all), possibly much later (when the commit that records a read
// is durable), without holding a thread meanwhile: the response is written by the connection's
// I/O thread whenever it comes. Every connection of the I/O thread waits while it runs, so
// anything that may block goes to a worker with respond.Continue(). Called concurrently from
// the I/O threads: must be thread-safe. An exception it throws is answered with a 500 problem
// document. The Request stays alive as long as the handler keeps the pointer.
using AsyncHandler = std::function<bool(const std::shared_ptr<const Request>&, Responder respond)>;

struct TlsConfig {
  std::string cert_file;       // PEM server certificate chain (leaf first)
  std::string key_file;        // PEM private key of the leaf
  std::string client_ca_file;  // PEM CA certificate(s) client certificates must chain to
  std::string crl_file;        // optional PEM CRL(s) of the client CA; "" = no revocation check
  // true: a client without a valid certificate completes no handshake and gets no HTTP at all.
  // false: a certificate is requested and, if sent, must still verify.
  bool require_client_certificate = true;
  // How often, at most, a new connection looks at crl_file (size, times, inode) to see whether
  // it was replaced; if so, the TLS files are read again for new handshakes (ReloadTls). A CRL
  // lives kCrlValidityDays and a revocation must not need a restart. 0: at every connection.
  std::chrono::milliseconds crl_check_interval{1000};
  // Told the outcome of every reload: Ok, or why the files were refused (the previous
  // configuration then stays). Called on an I/O thread or ReloadTls()'s caller; must be
  // thread-safe. May be empty. The status names files and OpenSSL's reason, never their content.
  std::function<void(const Status&)> on_reload;
};

struct Limits {
  size_t max_header_bytes = 16 * 1024;  // request line + fields; beyond it: 431 and close
  size_t max_body_bytes = 1 << 20;      // beyond it: 413 and close
  int max_connections = 256;            // open TLS connections; excess are closed at accept
  // Open connections from one source address (TLS or not yet): beyond it, closed at accept, so
  // that one host cannot take every slot and lock every system out.
  int max_connections_per_address = 128;
  // Deadline for the TLS handshake, for a whole request once its first byte arrived (slowloris),
  // for the first request of a connection, and for writing each response.
  std::chrono::milliseconds read_timeout{10000};
  // How long a keep-alive connection may wait for its next request.
  std::chrono::milliseconds idle_timeout{30000};
  // How long Stop() waits for in-flight requests before it closes connections by force.
  std::chrono::milliseconds drain_timeout{10000};
  int io_threads = 2;
  int worker_threads = 4;
};

// Something for the access log or refusal log. Never carries personal data, bodies, queries or
// header values (other than the request id). `path` is the request path without the query,
// so routes must not put personal data into paths.
struct Event {
  enum Kind {
    kRequest,           // a response was written (any status, 400 for malformed requests)
    kRefusedHandshake,  // the TLS handshake failed: no or untrusted certificate, old protocol...
    kTimeout,           // handshake or request not received within read_timeout
    kTooLarge,          // 431 or 413 was answered and the connection closed
    kConnectionCap,     // a connection beyond max_connections was closed at accept
  } kind;
  std::string remote_address;
  // As in Request; for kRefusedHandshake, that of the certificate presented (unverified), if any.
  std::string client_spki_sha256;
  std::string method;
  std::string path;
  int status = 0;
  std::string request_id;
  double duration_ms = 0;  // from the first byte of the request to the response written
  std::string detail;      // e.g. OpenSSL's reason for a refused handshake
  // kRefusedHandshake: the certificate presented was signed by the client CA (its signature
  // checked against its issuer in the chain) and refused for what the CA or time says of it
  // (expired, not yet valid, revoked; or no longer valid after a reload). A certificate anyone can
  // make (self-signed, another issuer, a listed serial) is not one. A copy of a real certificate
  // is, since the chain is checked before the client proves it holds the key: the hash names a
  // certificate presented, not who presented it.
  bool client_ca_issued = false;
};

// Called on I/O threads, concurrently: must be thread-safe, fast and non-blocking. Exceptions
// it throws are swallowed.
using EventSink = std::function<void(const Event&)>;

// A running HTTPS server. Thread-safe: port() and Stop() may be called from any thread except
// from within the handler or the event sink (Stop() would wait for itself).
class Server {
 public:
  // Loads the TLS configuration, binds `address`:`port` (0 = any free port), and starts
  // limits.io_threads I/O threads and limits.worker_threads handler threads.
  // Errors: kInvalidArgument (bad address or limits), kFailedPrecondition (unreadable or
  // inconsistent certificate, key, CA or CRL), kUnavailable (cannot bind or listen).
  // `async` (optional) is tried first for every request (AsyncHandler).
  static Result<std::unique_ptr<Server>> Start(const std::string& address, uint16_t port,
                                               const TlsConfig& tls, const Limits& limits,
                                               Handler handler, EventSink on_event,
                                               AsyncHandler async = {});

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Stop()s.
  ~Server();

  // The bound port.
  uint16_t port() const;

  // Reads the certificate, key, client CA and CRL files again and uses them for every handshake
  // from now on; open connections keep the configuration they were made with. On an error the
  // previous configuration stays (fail safe: a half-written CRL never opens the door). Also
  // called by the server itself when crl_file changes (TlsConfig::crl_check_interval); the
  // outcome goes to TlsConfig::on_reload as well. Thread-safe (SIGHUP).
  Status ReloadTls();

  // Graceful: stops accepting, closes idle keep-alive connections, lets requests being received
  // or handled finish and their responses be written (with "connection: close"), waiting up to
  // limits.drain_timeout; then closes what is left, and a deferred response not given by then
  // is dropped (its connection closed without an answer). Returns only after every handler call
  // has returned and every thread has been joined, so a handler that never returns blocks it.
  // Idempotent.
  void Stop();

  class Impl;  // server.cc

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses one request from `bytes` with the server's own parser and limits, as a connection would,
// without a network: for fuzzing the request path and for tests. Bytes after the request are
// ignored. Errors: kResourceExhausted for the header or body limit (431/413 on a connection),
// kInvalidArgument for a syntax error, obsolete line folding, a missing (HTTP/1.1) or repeated
// Host header, a Transfer-Encoding other than chunked alone, or an incomplete request (400). The result has no client
// identity or remote address; its request id is the one sent if well-formed, else a new one.
Result<Request> ParseRequest(std::string_view bytes, const Limits& limits);

namespace testing {

// For tests: `hook` runs on the thread that answers a deferred request, after the answer was
// posted to its connection and before that thread lets go of the connection's executor (a
// test widens that moment to check that Stop() waits for it). nullptr removes it.
void SetAfterAnswerPosted(void (*hook)());

}  // namespace testing

}  // namespace kakunin::http
