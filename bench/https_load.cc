// An HTTPS load client for the API benchmarks (DESIGN §10: audited lookups over HTTPS
// keep-alive at ≥ 50 % of nginx serving a static file in the same run). wrk cannot present a
// client certificate; this can.
//
// Every connection is TLS 1.3 with a client certificate, verifies the server against a CA
// file and the URL's host (DNS name or IP address), and sends HTTP/1.1 keep-alive requests in
// a closed loop: one request, its whole response, the next request. Connections are spread
// over --threads threads; each thread drives its connections with non-blocking sockets and
// epoll (level-triggered). The TCP connect and the TLS handshake are blocking, then the socket
// turns non-blocking. With --blocking, a thread that has one connection uses blocking reads
// and writes instead (thread per connection).
//
// What the client's CPU costs matters: on 2 cores it competes with the server under test.
// Measured against nginx (2 workers, ~60–90k requests/s, 16 connections, client CPU time per
// request): 1 thread with epoll 4.6–7.1 µs; 2 threads 5.2–10 µs; 16 threads, blocking
// 11–16 µs; 16 threads with epoll 12–21 µs. Hence the default: one thread. An epoll_wait
// often returns several ready connections, and no thread switch happens per request.
//
// Modes:
//   fixed request  GET (or --method POST with --body-file) of the same request, repeated
//                  for --warmup then --seconds;
//   body list      --bodies-file: one request body per line (JSON), POSTed in order on ONE
//                  connection, each once, until the list is exhausted (for notification
//                  batches, whose sequences must arrive in order).
//
// Every response is read fully (status line, content-length; chunked responses are refused
// with an error) and its status counted. Anything but 2xx, a connection error, or a body
// containing --fail-if-body-contains makes the exit status 1, after the JSON line. Usage or
// setup errors (bad option, unreadable file, no connection) exit 2.
//
// Output, one JSON line on stdout:
//   {"bench":NAME,"connections":N,"threads":T,"seconds":S,"requests":R,"requests_per_s":X,
//    "p50_ms":…,"p99_ms":…,"max_ms":…,"statuses":{"200":R},"errors":0,…}
// Only responses completed in the measured window count; the warm-up's are reported apart.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_util.h"

namespace {

using kakunin::bench::Percentile;
using kakunin::bench::SteadyClock;

// Largest response head accepted, and largest body.
constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kMaxBody = 64 * 1024 * 1024;
// Connection errors printed to stderr (all are counted).
constexpr int kMaxErrorsPrinted = 5;
// Blocking I/O wakes up this often to look at the deadline.
constexpr suseconds_t kBlockingTimeoutUs = 200'000;
// Limit on the TCP connect plus the TLS handshake.
constexpr time_t kHandshakeTimeoutS = 10;

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "https_load: %s\n", msg.c_str());
  std::exit(2);
}

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("(no OpenSSL error)") : out;
}

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

struct Options {
  std::string name = "https_load";
  std::string url;
  std::string cert, key, ca;
  int connections = 16;
  int threads = 1;
  double seconds = -1;  // -1: 10 in fixed mode, no limit in body-list mode
  double warmup = -1;   // -1: 2 in fixed mode, 0 in body-list mode
  std::string method;   // default GET, or POST with a body
  std::string body_file, bodies_file, save_body, fail_if_body_contains;
  std::vector<std::string> headers;
  bool blocking = false;
  int timeout = 30;  // seconds a request may wait for its response
};

void Usage(FILE* f) {
  std::fputs(
      "usage: https_load --url https://HOST:PORT/PATH --cert PEM --key PEM --ca PEM [options]\n"
      "  --connections N        keep-alive connections (default 16)\n"
      "  --threads T            threads driving them (default 1: the least CPU)\n"
      "  --blocking             with one connection per thread, blocking I/O (no epoll)\n"
      "  --seconds S            measured duration (default 10; body list: no limit)\n"
      "  --warmup W             warm-up before measuring (default 2; body list: 0)\n"
      "  --timeout T            seconds a request may wait for its response (default 30)\n"
      "  --method M             GET (default) or POST (default with a body)\n"
      "  --body-file F          the request body, sent with every request\n"
      "  --bodies-file F        one body per line, POSTed once each in order on 1 connection\n"
      "  --header 'N: V'        an extra request header (repeatable)\n"
      "  --save-body F          write the first 2xx response body to F\n"
      "  --fail-if-body-contains STR  count responses whose body contains STR; exit 1 if any\n"
      "  --name NAME            the \"bench\" field of the JSON line (default https_load)\n"
      "Exit status: 0 all responses 2xx; 1 some were not (or connection errors, or matched\n"
      "bodies); 2 usage or setup error.\n",
      f);
}

double ParseDouble(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || d < 0) Die(opt + ": not a non-negative number: " + v);
  return d;
}

int ParseInt(const std::string& opt, const std::string& v) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 1) {
    Die(opt + ": not a positive integer: " + v);
  }
  return n;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  using S = const std::string&;
  const std::map<std::string, std::function<void(S)>> setters = {
      {"--url", [&](S v) { o.url = v; }},
      {"--cert", [&](S v) { o.cert = v; }},
      {"--key", [&](S v) { o.key = v; }},
      {"--ca", [&](S v) { o.ca = v; }},
      {"--connections", [&](S v) { o.connections = ParseInt("--connections", v); }},
      {"--threads", [&](S v) { o.threads = ParseInt("--threads", v); }},
      {"--seconds", [&](S v) { o.seconds = ParseDouble("--seconds", v); }},
      {"--timeout", [&](S v) { o.timeout = ParseInt("--timeout", v); }},
      {"--warmup", [&](S v) { o.warmup = ParseDouble("--warmup", v); }},
      {"--method", [&](S v) { o.method = v; }},
      {"--body-file", [&](S v) { o.body_file = v; }},
      {"--bodies-file", [&](S v) { o.bodies_file = v; }},
      {"--header", [&](S v) { o.headers.push_back(v); }},
      {"--save-body", [&](S v) { o.save_body = v; }},
      {"--fail-if-body-contains", [&](S v) { o.fail_if_body_contains = v; }},
      {"--name", [&](S v) { o.name = v; }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      Usage(stdout);
      std::exit(0);
    }
    if (a == "--blocking") {
      o.blocking = true;
      continue;
    }
    if (i + 1 >= argc) {
      Usage(stderr);
      Die("missing value or unknown option: " + a);
    }
    std::string v = argv[++i];
    auto it = setters.find(a);
    if (it == setters.end()) {
      Usage(stderr);
      Die("unknown option: " + a);
    }
    it->second(v);
  }
  if (o.url.empty() || o.cert.empty() || o.key.empty() || o.ca.empty()) {
    Usage(stderr);
    Die("--url, --cert, --key and --ca are required");
  }
  if (!o.body_file.empty() && !o.bodies_file.empty()) {
    Die("--body-file and --bodies-file exclude each other");
  }
  const bool list = !o.bodies_file.empty();
  if (list && o.connections != 1) {
    if (o.connections != 16) Die("--bodies-file sends on one connection: --connections 1");
    o.connections = 1;  // the default, silently
  }
  if (o.seconds < 0) o.seconds = list ? 0 : 10;
  if (o.warmup < 0) o.warmup = list ? 0 : 2;
  if (!list && o.seconds <= 0) Die("--seconds must be > 0");
  if (o.method.empty()) o.method = (list || !o.body_file.empty()) ? "POST" : "GET";
  if (o.method != "GET" && o.method != "POST" && o.method != "PUT" && o.method != "DELETE") {
    Die("--method: GET, POST, PUT or DELETE");
  }
  if (o.method == "GET" && (list || !o.body_file.empty())) Die("a body needs --method POST");
  o.threads = std::min(o.threads, o.connections);
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Target {
  std::string host;         // without brackets
  std::string port;         // "443" by default
  std::string path;         // with the query
  std::string host_header;  // as in the URL
  bool is_ip = false;
};

Target ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.rfind(kScheme, 0) != 0) Die("--url must start with https://: " + url);
  std::string rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  Target t;
  std::string authority = rest.substr(0, slash);
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  t.host_header = authority;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) Die("bad IPv6 address in --url: " + url);
    t.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') Die("bad --url: " + url);
      t.port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    t.host = authority.substr(0, colon);
    if (colon != std::string::npos) t.port = authority.substr(colon + 1);
  }
  if (t.host.empty()) Die("no host in --url: " + url);
  if (t.port.empty()) t.port = "443";
  unsigned char addr[16];
  t.is_ip = inet_pton(AF_INET, t.host.c_str(), addr) == 1 ||
            inet_pton(AF_INET6, t.host.c_str(), addr) == 1;
  return t;
}

std::string BuildRequest(const Options& o, const Target& t, const std::string* body) {
  std::string r = o.method + " " + t.path + " HTTP/1.1\r\nHost: " + t.host_header +
                  "\r\nUser-Agent: kakunin-https-load\r\nAccept: */*\r\n";
  for (const auto& h : o.headers) r += h + "\r\n";
  if (body != nullptr) {
    bool has_type = false;
    for (const auto& h : o.headers) {
      if (h.size() >= 13 && strncasecmp(h.c_str(), "content-type:", 13) == 0) has_type = true;
    }
    if (!has_type) r += "Content-Type: application/json\r\n";
    r += "Content-Length: " + std::to_string(body->size()) + "\r\n\r\n";
    r += *body;
  } else {
    r += "\r\n";
  }
  return r;
}

// What every thread shares, read-only after setup (but `stop` and the save-once flag).
struct Shared {
  Options opt;
  Target target;
  SslCtxPtr ctx;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string fixed_request;             // fixed mode
  std::vector<std::string> bodies;       // body-list mode
  SteadyClock::time_point t0;            // start of the warm-up
  SteadyClock::time_point measure_from;  // end of the warm-up
  SteadyClock::time_point deadline;      // end of the measured window (fixed mode)
  bool has_deadline = false;
  SteadyClock::duration request_timeout{};
  std::atomic<bool> stop{false};
  std::atomic<bool> body_saved{false};
  std::atomic<int> errors_printed{0};
};

// What one thread counted.
struct Tally {
  std::map<int, uint64_t> statuses;         // measured window
  std::map<int, uint64_t> warmup_statuses;  // warm-up
  std::vector<float> latencies_ms;
  uint64_t errors = 0;
  uint64_t reconnects = 0;
  uint64_t body_matches = 0;
  uint64_t bodies_sent = 0;
  std::string first_error;
  SteadyClock::time_point last_done{};
};

struct Conn {
  int fd = -1;
  SslPtr ssl;
  bool reading = false;   // false: writing the request
  bool want_out = false;  // registered for EPOLLOUT
  const std::string* req = nullptr;
  std::string own_req;  // body-list mode: this request
  std::string in;       // response bytes so far
  size_t head_end = 0;  // past "\r\n\r\n", 0 while unknown
  size_t body_len = 0;
  int status = 0;
  bool close_after = false;
  SteadyClock::time_point sent;
};

class Worker {
 public:
  // `blocking`: one connection, driven with blocking reads and writes instead of epoll.
  Worker(Shared& s, int connections, bool blocking)
      : s_(s), conns_(connections), blocking_(blocking && connections == 1) {}

  // Connects every connection (blocking), returns false when one cannot connect.
  bool Connect(std::string* why) {
    if (blocking_) {
      for (auto& c : conns_) {
        if (!Open(c, why)) return false;
      }
      return true;
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
      *why = std::string("epoll_create1: ") + std::strerror(errno);
      return false;
    }
    for (auto& c : conns_) {
      if (!Open(c, why)) return false;
    }
    return true;
  }

  void Run() {
    for (auto& c : conns_) StartRequest(c);
    if (blocking_) {
      // One connection: reads and writes block (up to kBlockingTimeout, to see the deadline).
      Conn& c = conns_[0];
      while (!s_.stop.load(std::memory_order_relaxed) && live_ > 0) {
        if (s_.has_deadline && SteadyClock::now() > s_.deadline) break;
        Drive(c);
        CheckTimeouts(SteadyClock::now());
      }
      for (auto& c2 : conns_) Close(c2, true);
      return;
    }
    epoll_event events[64];
    while (!s_.stop.load(std::memory_order_relaxed) && live_ > 0) {
      int timeout_ms = 200;
      if (s_.has_deadline) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(s_.deadline - SteadyClock::now());
        if (left.count() < 0) break;
        timeout_ms = static_cast<int>(std::min<int64_t>(left.count() + 1, 200));
      }
      int n = epoll_wait(ep_, events, 64, timeout_ms);
      if (n < 0) {
        if (errno == EINTR) continue;
        Error(nullptr, std::string("epoll_wait: ") + std::strerror(errno));
        break;
      }
      for (int i = 0; i < n; ++i) Drive(*static_cast<Conn*>(events[i].data.ptr));
      auto now = SteadyClock::now();
      if (now - last_check_ > std::chrono::milliseconds(200)) {
        CheckTimeouts(now);
        last_check_ = now;
      }
    }
    for (auto& c : conns_) Close(c, true);
    if (ep_ >= 0) close(ep_);
  }

  Tally& tally() { return t_; }

 private:
  // A request unanswered for --timeout seconds is a connection error.
  void CheckTimeouts(SteadyClock::time_point now) {
    for (auto& c : conns_) {
      if (c.fd >= 0 && now - c.sent > s_.request_timeout) {
        Error(&c, "no response within " + std::to_string(s_.opt.timeout) + " s");
      }
    }
  }

  bool Open(Conn& c, std::string* why) {
    c.fd = socket(s_.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      *why = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    ++live_;
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval handshake_timeout{kHandshakeTimeoutS, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &handshake_timeout, sizeof handshake_timeout);
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &handshake_timeout, sizeof handshake_timeout);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&s_.addr), s_.addr_len) != 0) {
      *why = "connect to " + s_.target.host_header + ": " + std::strerror(errno);
      Close(c, false);
      return false;
    }
    c.ssl.reset(SSL_new(s_.ctx.get()));
    SSL* ssl = c.ssl.get();
    if (ssl == nullptr || SSL_set_fd(ssl, c.fd) != 1) {
      *why = "SSL_new: " + SslErrors();
      Close(c, false);
      return false;
    }
    if (s_.target.is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), s_.target.host.c_str());
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, s_.target.host.c_str());
      SSL_set_tlsext_host_name(ssl, s_.target.host.c_str());
    }
    ERR_clear_error();
    errno = 0;
    if (int rc = SSL_connect(ssl); rc != 1) {
      int e = SSL_get_error(ssl, rc);
      std::string detail = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE
                               ? "timed out after " + std::to_string(kHandshakeTimeoutS) + " s"
                               : DescribeSslError(e);
      *why = "TLS handshake with " + s_.target.host_header + ": " + detail;
      long v = SSL_get_verify_result(ssl);
      if (v != X509_V_OK)
        *why += std::string(" (verify: ") + X509_verify_cert_error_string(v) + ")";
      Close(c, false);
      return false;
    }
    if (blocking_) {
      timeval tv{0, kBlockingTimeoutUs};
      setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      c.want_out = false;
      return true;
    }
    int flags = fcntl(c.fd, F_GETFL);
    if (flags < 0 || fcntl(c.fd, F_SETFL, flags | O_NONBLOCK) != 0) {
      *why = std::string("fcntl: ") + std::strerror(errno);
      Close(c, false);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      *why = std::string("epoll_ctl: ") + std::strerror(errno);
      Close(c, false);
      return false;
    }
    c.want_out = false;
    return true;
  }

  // `graceful`: send close_notify first (not after an error, when OpenSSL forbids it).
  void Close(Conn& c, bool graceful) {
    if (c.fd >= 0) {
      if (ep_ >= 0) epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      if (c.ssl && graceful) SSL_shutdown(c.ssl.get());
      close(c.fd);
      c.fd = -1;
      --live_;
    }
    c.ssl.reset();
  }

  void SetWantOut(Conn& c, bool want) {
    if (c.want_out == want || blocking_) return;
    epoll_event ev{};
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.ptr = &c;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = want;
  }

  // Counts a connection error; reconnects (fixed mode) or stops (body-list mode: the order of
  // the bodies cannot be kept across a failure, since it is unknown whether it was applied).
  void Error(Conn* c, const std::string& what) {
    ++t_.errors;
    if (t_.first_error.empty()) t_.first_error = what;
    if (s_.errors_printed.fetch_add(1) < kMaxErrorsPrinted) {
      std::fprintf(stderr, "https_load: %s\n", what.c_str());
    }
    if (c == nullptr) return;
    Close(*c, false);
    if (!s_.bodies.empty()) {
      s_.stop = true;
      return;
    }
    if (s_.stop.load() || (s_.has_deadline && SteadyClock::now() >= s_.deadline)) return;
    std::string why;
    if (!Open(*c, &why)) {
      ++t_.errors;
      std::fprintf(stderr, "https_load: reconnect failed: %s\n", why.c_str());
      return;
    }
    ++t_.reconnects;
    StartRequest(*c);
  }

  void StartRequest(Conn& c) {
    if (c.fd < 0) return;
    if (!s_.bodies.empty()) {
      if (next_body_ >= s_.bodies.size()) {
        s_.stop = true;
        return;
      }
      c.own_req = BuildRequest(s_.opt, s_.target, &s_.bodies[next_body_++]);
      c.req = &c.own_req;
    } else {
      c.req = &s_.fixed_request;
    }
    c.reading = false;
    c.in.clear();
    c.head_end = 0;
    c.body_len = 0;
    c.status = 0;
    c.close_after = false;
    c.sent = SteadyClock::now();
    Write(c);
  }

  void Drive(Conn& c) {
    if (c.fd < 0) return;
    if (c.reading) {
      Read(c);
    } else {
      Write(c);
    }
  }

  void Write(Conn& c) {
    ERR_clear_error();
    int n = SSL_write(c.ssl.get(), c.req->data(), static_cast<int>(c.req->size()));
    if (n > 0) {
      SetWantOut(c, false);
      c.reading = true;
      if (!s_.bodies.empty()) ++t_.bodies_sent;
      // The response is not there yet unless OpenSSL already holds bytes: epoll will say.
      if (SSL_has_pending(c.ssl.get())) Read(c);
      return;
    }
    int e = SSL_get_error(c.ssl.get(), n);
    if (e == SSL_ERROR_WANT_WRITE) return SetWantOut(c, true);
    if (e == SSL_ERROR_WANT_READ) return SetWantOut(c, false);
    Error(&c, "write: " + DescribeSslError(e));
  }

  std::string DescribeSslError(int e) {
    if (e == SSL_ERROR_SYSCALL) {
      return errno != 0 ? std::string(std::strerror(errno)) : std::string("connection closed");
    }
    if (e == SSL_ERROR_ZERO_RETURN) return "connection closed (close_notify)";
    return SslErrors();
  }

  void Read(Conn& c) {
    char buf[16384];
    for (;;) {
      ERR_clear_error();
      errno = 0;
      int n = SSL_read(c.ssl.get(), buf, sizeof buf);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        int r = Parse(c);
        if (r < 0) return;  // error handled
        if (r > 0) return Complete(c);
        continue;
      }
      int e = SSL_get_error(c.ssl.get(), n);
      if (e == SSL_ERROR_WANT_READ) return SetWantOut(c, false);
      if (e == SSL_ERROR_WANT_WRITE) return SetWantOut(c, true);
      std::string what = c.in.empty() ? "server closed the connection before answering: "
                                      : "server closed the connection mid-response: ";
      return Error(&c, what + DescribeSslError(e));
    }
  }

  // 1: response complete, 0: need more, -1: error (reported).
  int Parse(Conn& c) {
    if (c.head_end == 0) {
      size_t from = c.in.size() > 16400 ? c.in.size() - 16400 : 0;
      size_t p = c.in.find("\r\n\r\n", from);
      if (p == std::string::npos) {
        if (c.in.size() > kMaxHead) return Error(&c, "response head over 64 KiB"), -1;
        return 0;
      }
      c.head_end = p + 4;
      std::string_view head(c.in.data(), p + 2);
      // Status line: HTTP/1.x SSS reason
      if (head.size() < 12 || head.substr(0, 7) != "HTTP/1." || head[8] != ' ') {
        return Error(&c, "malformed status line"), -1;
      }
      int status = 0;
      auto [q, ec] = std::from_chars(head.data() + 9, head.data() + 12, status);
      if (ec != std::errc() || q != head.data() + 12) {
        return Error(&c, "malformed status code"), -1;
      }
      c.status = status;
      bool has_length = false;
      if (head[7] == '0') c.close_after = true;  // HTTP/1.0
      size_t line = head.find("\r\n") + 2;
      while (line < head.size()) {
        size_t eol = head.find("\r\n", line);
        std::string_view h = head.substr(line, eol - line);
        line = eol + 2;
        size_t colon = h.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view name = h.substr(0, colon);
        std::string_view value = h.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
          value.remove_prefix(1);
        }
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
          value.remove_suffix(1);
        }
        auto is = [&](std::string_view n) {
          return name.size() == n.size() && strncasecmp(name.data(), n.data(), n.size()) == 0;
        };
        if (is("content-length")) {
          size_t len = 0;
          auto [r, ec2] = std::from_chars(value.data(), value.data() + value.size(), len);
          if (ec2 != std::errc() || r != value.data() + value.size() || len > kMaxBody) {
            return Error(&c, "bad content-length"), -1;
          }
          c.body_len = len;
          has_length = true;
        } else if (is("transfer-encoding")) {
          // Not something the benchmark should meet: stop the whole run, loudly.
          std::fprintf(stderr,
                       "https_load: the server answered with transfer-encoding: %.*s; chunked "
                       "responses are not supported by this load client\n",
                       static_cast<int>(value.size()), value.data());
          std::exit(2);
        } else if (is("connection")) {
          if (value.size() == 5 && strncasecmp(value.data(), "close", 5) == 0) {
            c.close_after = true;
          }
        }
      }
      if (!has_length) {
        bool no_body = (status >= 100 && status < 200) || status == 204 || status == 304;
        if (status >= 100 && status < 200) {
          return Error(&c, "1xx interim responses are not supported"), -1;
        }
        if (!no_body) {
          std::fprintf(stderr,
                       "https_load: a %d response without content-length (body until close) is "
                       "not supported by this load client\n",
                       status);
          std::exit(2);
        }
        c.body_len = 0;
      }
    }
    size_t total = c.head_end + c.body_len;
    if (c.in.size() < total) return 0;
    if (c.in.size() > total) return Error(&c, "bytes after the response (none was asked)"), -1;
    return 1;
  }

  void Complete(Conn& c) {
    auto now = SteadyClock::now();
    std::string_view body(c.in.data() + c.head_end, c.body_len);
    const bool ok = c.status >= 200 && c.status < 300;
    if (!s_.opt.fail_if_body_contains.empty() &&
        body.find(s_.opt.fail_if_body_contains) != std::string_view::npos) {
      ++t_.body_matches;
    }
    if (ok && !s_.opt.save_body.empty() && !s_.body_saved.exchange(true)) {
      std::ofstream out(s_.opt.save_body, std::ios::binary);
      out.write(body.data(), static_cast<std::streamsize>(body.size()));
      if (!out) Die("cannot write " + s_.opt.save_body);
    }
    bool past_deadline = s_.has_deadline && now > s_.deadline;
    if (now < s_.measure_from) {
      ++t_.warmup_statuses[c.status];
    } else if (!past_deadline) {
      ++t_.statuses[c.status];
      t_.latencies_ms.push_back(
          static_cast<float>(std::chrono::duration<double, std::milli>(now - c.sent).count()));
      t_.last_done = now;
    }
    if (past_deadline) {
      s_.stop = true;
      return;
    }
    if (c.close_after) {
      Close(c, true);
      std::string why;
      if (!Open(c, &why)) return Error(nullptr, "reconnect failed: " + why);
      ++t_.reconnects;
    }
    StartRequest(c);
  }

  Shared& s_;
  std::vector<Conn> conns_;
  const bool blocking_;
  Tally t_;
  int ep_ = -1;
  int live_ = 0;
  SteadyClock::time_point last_check_{};
  size_t next_body_ = 0;  // body-list mode (one connection, one thread)
};

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  auto shared = std::make_unique<Shared>();
  Shared& s = *shared;
  s.opt = ParseArgs(argc, argv);
  const Options& o = s.opt;
  s.target = ParseUrl(o.url);

  // The request(s).
  std::string body;
  if (!o.body_file.empty()) body = ReadFile(o.body_file);
  if (!o.bodies_file.empty()) {
    std::istringstream lines(ReadFile(o.bodies_file));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) s.bodies.push_back(std::move(line));
    }
    if (s.bodies.empty()) Die("no bodies in " + o.bodies_file);
  } else {
    s.fixed_request = BuildRequest(o, s.target, o.body_file.empty() ? nullptr : &body);
  }

  // TLS 1.3, client certificate, server verified against the CA and the URL's host.
  s.ctx.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = s.ctx.get();
  if (ctx == nullptr) Die("SSL_CTX_new: " + SslErrors());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_load_verify_locations(ctx, o.ca.c_str(), nullptr) != 1) {
    Die("cannot load CA file " + o.ca + ": " + SslErrors());
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, o.cert.c_str()) != 1) {
    Die("cannot load certificate " + o.cert + ": " + SslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, o.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    Die("cannot load key " + o.key + ": " + SslErrors());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) Die("the key does not match the certificate");

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(s.target.host.c_str(), s.target.port.c_str(), &hints, &res); rc != 0) {
    Die("cannot resolve " + s.target.host + ": " + gai_strerror(rc));
  }
  std::memcpy(&s.addr, res->ai_addr, res->ai_addrlen);
  s.addr_len = res->ai_addrlen;
  freeaddrinfo(res);

  // Workers, each with its share of the connections, all connected before the clock starts.
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) {
    int n = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(s, n, o.blocking));
  }
  std::latch connected(o.threads);
  std::latch go(1);
  std::atomic<bool> connect_failed{false};
  std::mutex why_mu;
  std::string why_failed;
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&, wp = w.get()] {
      std::string why;
      if (!wp->Connect(&why)) {
        connect_failed = true;
        std::lock_guard lock(why_mu);
        if (why_failed.empty()) why_failed = why;
      }
      connected.count_down();
      go.wait();
      if (!connect_failed) wp->Run();
    });
  }
  connected.wait();
  s.t0 = SteadyClock::now();
  s.measure_from = s.t0 + std::chrono::duration_cast<SteadyClock::duration>(
                              std::chrono::duration<double>(o.warmup));
  s.request_timeout = std::chrono::seconds(o.timeout);
  s.has_deadline = o.seconds > 0;
  if (s.has_deadline) {
    s.deadline = s.measure_from + std::chrono::duration_cast<SteadyClock::duration>(
                                      std::chrono::duration<double>(o.seconds));
  }
  go.count_down();
  if (connect_failed) {
    for (auto& th : threads) th.join();
    Die(why_failed);
  }
  std::this_thread::sleep_until(s.measure_from);
  double cpu0 = CpuSeconds();
  for (auto& th : threads) th.join();
  double cpu1 = CpuSeconds();

  // Merge.
  Tally all;
  for (auto& w : workers) {
    Tally& t = w->tally();
    for (auto [k, v] : t.statuses) all.statuses[k] += v;
    for (auto [k, v] : t.warmup_statuses) all.warmup_statuses[k] += v;
    all.latencies_ms.insert(all.latencies_ms.end(), t.latencies_ms.begin(), t.latencies_ms.end());
    all.errors += t.errors;
    all.reconnects += t.reconnects;
    all.body_matches += t.body_matches;
    all.bodies_sent += t.bodies_sent;
    if (all.first_error.empty()) all.first_error = t.first_error;
    all.last_done = std::max(all.last_done, t.last_done);
  }
  double seconds = o.seconds;
  if (!s.has_deadline) {
    seconds = all.latencies_ms.empty()
                  ? 0
                  : std::chrono::duration<double>(all.last_done - s.measure_from).count();
  }
  uint64_t requests = all.latencies_ms.size();
  uint64_t non_2xx = 0, warmup_requests = 0, warmup_non_2xx = 0;
  for (auto [k, v] : all.statuses) non_2xx += (k >= 200 && k < 300) ? 0 : v;
  for (auto [k, v] : all.warmup_statuses) {
    warmup_requests += v;
    warmup_non_2xx += (k >= 200 && k < 300) ? 0 : v;
  }
  std::vector<double> lat(all.latencies_ms.begin(), all.latencies_ms.end());
  auto ms = [&](double p) { return lat.empty() ? 0.0 : Percentile(lat, p); };
  double max_ms = lat.empty() ? 0.0 : *std::max_element(lat.begin(), lat.end());
  auto status_json = [](const std::map<int, uint64_t>& m) {
    std::string j = "{";
    for (auto [k, v] : m) {
      if (j.size() > 1) j += ",";
      j += "\"" + std::to_string(k) + "\":" + std::to_string(v);
    }
    return j + "}";
  };

  std::printf(
      "{\"bench\":\"%s\",\"connections\":%d,\"threads\":%d,\"seconds\":%.3f,"
      "\"requests\":%llu,\"requests_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"max_ms\":%.3f,\"statuses\":%s,\"non_2xx\":%llu,\"errors\":%llu,"
      "\"reconnects\":%llu,\"warmup_requests\":%llu,\"warmup_statuses\":%s",
      JsonEscape(o.name).c_str(), o.connections, o.threads, seconds,
      static_cast<unsigned long long>(requests), seconds > 0 ? requests / seconds : 0.0, ms(0.50),
      ms(0.99), max_ms, status_json(all.statuses).c_str(), static_cast<unsigned long long>(non_2xx),
      static_cast<unsigned long long>(all.errors), static_cast<unsigned long long>(all.reconnects),
      static_cast<unsigned long long>(warmup_requests), status_json(all.warmup_statuses).c_str());
  if (!s.bodies.empty()) {
    std::printf(",\"bodies\":%zu,\"bodies_sent\":%llu", s.bodies.size(),
                static_cast<unsigned long long>(all.bodies_sent));
  }
  if (!o.fail_if_body_contains.empty()) {
    std::printf(",\"body_matches\":%llu", static_cast<unsigned long long>(all.body_matches));
  }
  std::printf(",\"client_cpu_s\":%.3f,\"client_cpu_us_per_request\":%.1f", cpu1 - cpu0,
              requests > 0 ? (cpu1 - cpu0) * 1e6 / static_cast<double>(requests) : 0.0);
  if (!all.first_error.empty()) {
    std::printf(",\"first_error\":\"%s\"", JsonEscape(all.first_error).c_str());
  }
  std::printf("}\n");
  std::fflush(stdout);

  bool failed =
      non_2xx > 0 || warmup_non_2xx > 0 || all.errors > 0 || all.body_matches > 0 || requests == 0;
  if (!s.bodies.empty() && all.bodies_sent < s.bodies.size() && !s.has_deadline) failed = true;
  if (failed) {
    std::fprintf(stderr,
                 "https_load: %s: %llu non-2xx, %llu warm-up non-2xx, %llu connection errors, "
                 "%llu bodies matching, %llu requests\n",
                 o.name.c_str(), static_cast<unsigned long long>(non_2xx),
                 static_cast<unsigned long long>(warmup_non_2xx),
                 static_cast<unsigned long long>(all.errors),
                 static_cast<unsigned long long>(all.body_matches),
                 static_cast<unsigned long long>(requests));
  }
  return failed ? 1 : 0;
}
