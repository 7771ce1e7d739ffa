#include "link/https_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/file.h"

namespace kakunin::link {

struct HttpsClient::Tls {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~Tls() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
  }
};

namespace {

Status TlsError(const char* what) {
  char buf[256] = {0};
  unsigned long e = ERR_get_error();
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Status::Unavailable(std::string("upstream: ") + what + (buf[0] ? ": " : "") + buf);
}

// A write to a connection the national node has closed (killed, restarted) raises SIGPIPE, whose
// default action ends the whole node. Blocked on this thread while the client writes, and a
// SIGPIPE raised meanwhile is taken off before the mask is restored: the write fails with EPIPE
// instead, and the sender retries.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
}

}  // namespace

Result<HttpsTarget> ParseHttpsUrl(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.size() > 2000 || url.compare(0, kScheme.size(), kScheme) != 0) {
    return Status::InvalidArgument("upstream url must begin with https://");
  }
  std::string rest = url.substr(kScheme.size());
  HttpsTarget t;
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) {
    t.path_prefix = rest.substr(slash);
    while (!t.path_prefix.empty() && t.path_prefix.back() == '/') t.path_prefix.pop_back();
    for (char c : t.path_prefix) {
      if (c == '?' || c == '#' || c == ' ' || static_cast<unsigned char>(c) < 0x21) {
        return Status::InvalidArgument("upstream url: no query, fragment or spaces");
      }
    }
  }
  size_t colon = authority.rfind(':');
  t.host = authority.substr(0, colon);
  if (colon != std::string::npos) {
    std::string port = authority.substr(colon + 1);
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
      return Status::InvalidArgument("upstream url: bad port");
    }
    t.port = static_cast<uint16_t>(p);
  }
  if (t.host.empty() || t.host.size() > 253) {
    return Status::InvalidArgument("upstream url: missing host");
  }
  for (char c : t.host) {
    if (!IsHostChar(c)) return Status::InvalidArgument("upstream url: bad host");
  }
  return t;
}

Result<std::unique_ptr<HttpsClient>> HttpsClient::Create(const HttpsTarget& target,
                                                         const HttpsOptions& options) {
  std::unique_ptr<HttpsClient> c(new HttpsClient());
  c->target_ = target;
  c->options_ = options;
  c->tls_ = std::make_unique<Tls>();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return TlsError("SSL_CTX_new");
  c->tls_->ctx = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Not opened to find out: a FIFO would block the start for ever (found in review).
  for (const auto& [path, what] : {std::pair{&options.ca_file, "upstream ca_file"},
                                   std::pair{&options.cert_file, "upstream cert_file"},
                                   std::pair{&options.key_file, "upstream key_file"}}) {
    if (Status st = CheckRegularFile(*path, what); !st.ok()) {
      return Status::InvalidArgument(st.message());
    }
  }
  if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("upstream: cannot load ca_file");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("upstream: cannot load cert_file and key_file as a pair");
  }
  return c;
}

HttpsClient::~HttpsClient() { Disconnect(); }

void HttpsClient::Disconnect() {
  SigpipeGuard guard;
  if (tls_ && tls_->ssl != nullptr) {
    SSL_free(tls_->ssl);
    tls_->ssl = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  in_.clear();
}

Status HttpsClient::Connect() {
  Disconnect();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(target_.port);
  if (::getaddrinfo(target_.host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return Status::Unavailable("upstream: cannot resolve the host");
  }
  timeval tv{};
  tv.tv_sec = options_.timeout.count() / 1000;
  tv.tv_usec = (options_.timeout.count() % 1000) * 1000;
  Status st = Status::Unavailable("upstream: cannot connect");
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
      st = Status::Ok();
      break;
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (!st.ok()) return st;
  SSL* ssl = SSL_new(tls_->ctx);
  if (ssl == nullptr) return TlsError("SSL_new");
  tls_->ssl = ssl;
  SSL_set_fd(ssl, fd_);
  in6_addr a6;
  in_addr a4;
  const bool ip = ::inet_pton(AF_INET, target_.host.c_str(), &a4) == 1 ||
                  ::inet_pton(AF_INET6, target_.host.c_str(), &a6) == 1;
  if (!ip) SSL_set_tlsext_host_name(ssl, target_.host.c_str());
  if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target_.host.c_str()) != 1
         : SSL_set1_host(ssl, target_.host.c_str()) != 1) {
    Disconnect();
    return TlsError("host check");
  }
  if (SSL_connect(ssl) != 1) {
    Status e = TlsError("handshake");
    Disconnect();
    return e;
  }
  return Status::Ok();
}

Status HttpsClient::WriteAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    int n = SSL_write(tls_->ssl, data.data() + off, static_cast<int>(data.size() - off));
    if (n <= 0) return TlsError("write");
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<HttpsResponse> HttpsClient::ReadResponse() {
  auto fill = [&]() -> Status {
    char buf[16384];
    int n = SSL_read(tls_->ssl, buf, sizeof buf);
    if (n <= 0) return TlsError("read");
    in_.append(buf, static_cast<size_t>(n));
    if (in_.size() > options_.max_response_bytes + 16384) {
      return Status::Unavailable("upstream: response too large");
    }
    return Status::Ok();
  };
  size_t end;
  while ((end = in_.find("\r\n\r\n")) == std::string::npos) KAKUNIN_RETURN_IF_ERROR(fill());
  std::string head = in_.substr(0, end);
  in_.erase(0, end + 4);
  if (head.compare(0, 7, "HTTP/1.") != 0 || head.size() < 12) {
    return Status::Unavailable("upstream: not an HTTP response");
  }
  HttpsResponse r;
  r.status = std::atoi(head.substr(9, 3).c_str());
  size_t length = 0;
  bool have_length = false;
  bool close = false;
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos < head.size()) {
    pos += 2;
    size_t next = head.find("\r\n", pos);
    std::string line = head.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    pos = next;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (name == "content-length") {
      char* e = nullptr;
      unsigned long long v = std::strtoull(value.c_str(), &e, 10);
      if (value.empty() || *e != '\0' || v > options_.max_response_bytes) {
        return Status::Unavailable("upstream: bad or too large content-length");
      }
      length = static_cast<size_t>(v);
      have_length = true;
    } else if (name == "transfer-encoding") {
      return Status::Unavailable("upstream: chunked responses are not supported");
    } else if (name == "connection") {
      for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      close = value.find("close") != std::string::npos;
    }
  }
  if (!have_length) return Status::Unavailable("upstream: response without content-length");
  while (in_.size() < length) KAKUNIN_RETURN_IF_ERROR(fill());
  r.body = in_.substr(0, length);
  in_.erase(0, length);
  if (close) Disconnect();
  return r;
}

Result<HttpsResponse> HttpsClient::PostJson(const std::string& path, const std::string& body) {
  SigpipeGuard guard;
  // A kept-alive connection the server has closed since fails on first use: one fresh retry.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = fd_ >= 0;
    if (!reused) KAKUNIN_RETURN_IF_ERROR(Connect());
    std::string req =
        "POST " + target_.path_prefix + path + " HTTP/1.1\r\nHost: " + target_.host + ":" +
        std::to_string(target_.port) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n";
    req += body;
    Status st = WriteAll(req);
    if (st.ok()) {
      auto r = ReadResponse();
      if (r.ok()) return r;
      st = r.status();
    }
    Disconnect();
    if (!reused) return st;
  }
  return Status::Unavailable("upstream: connection lost");
}

}  // namespace kakunin::link
