#include "notify/https_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <utility>

#include "core/file.h"

namespace kakunin::notify {
namespace {

SSL_CTX* Ctx(void* p) { return static_cast<SSL_CTX*>(p); }
SSL* Ssl(void* p) { return static_cast<SSL*>(p); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsIpLiteral(const std::string& host) {
  in_addr a4;
  in6_addr a6;
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// The OpenSSL error queue as text (certificate and key problems), cleared.
std::string SslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace

Result<HttpsUrl> ParseHttpsUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("url must begin with https://");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return Status::InvalidArgument("url has no host");
  if (rest.find_first_of("/?#@ ") != std::string_view::npos) {
    return Status::InvalidArgument("url must be https://HOST[:PORT] (no path, query or user)");
  }
  HttpsUrl out;
  std::string_view host = rest;
  std::string_view port;
  if (rest.front() == '[') {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("url: unclosed '['");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument("url: junk after ']'");
      port = after.substr(1);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty() || host.size() > 253) return Status::InvalidArgument("url: bad host");
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':')) {
      return Status::InvalidArgument("url: bad host");
    }
  }
  out.host = std::string(host);
  if (rest.front() != '[' && out.host.find(':') != std::string::npos) {
    return Status::InvalidArgument("url: write an IPv6 host in brackets");
  }
  if (!port.empty() || rest.back() == ':') {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) {
      return Status::InvalidArgument("url: port must be 1..65535");
    }
    out.port = static_cast<uint16_t>(v);
  }
  return out;
}

HttpsClient::HttpsClient(HttpsClientOptions options) : options_(std::move(options)) {}

HttpsClient::~HttpsClient() {
  Disconnect();
  if (ctx_ != nullptr) SSL_CTX_free(Ctx(ctx_));
}

Result<std::unique_ptr<HttpsClient>> HttpsClient::Create(const HttpsClientOptions& options) {
  std::unique_ptr<HttpsClient> c(new HttpsClient(options));
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Status::Internal("SSL_CTX_new failed");
  c->ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // The node serves forward-secret AEAD suites only; ask for nothing weaker.
  SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
  if (options.ca_file.empty()) return Status::InvalidArgument("ca_file is required");
  for (const auto& [path, what] : {std::pair{&options.ca_file, "the CA file"},
                                   std::pair{&options.cert_file, "the client certificate"},
                                   std::pair{&options.key_file, "the client key"}}) {
    if (Status st = CheckRegularFile(*path, what); !st.ok()) {
      return Status::InvalidArgument(st.message());
    }
  }
  if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    return Status::InvalidArgument("cannot load the CA file " + options.ca_file + ": " +
                                   SslErrors());
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return Status::InvalidArgument("cannot load the client certificate " + options.cert_file +
                                   ": " + SslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("cannot load the client key " + options.key_file +
                                   " (or it does not match the certificate): " + SslErrors());
  }
  return c;
}

void HttpsClient::Disconnect() {
  if (ssl_ != nullptr) {
    SSL_free(Ssl(ssl_));
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Status HttpsClient::Connect() {
  Disconnect();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options_.url.port);
  int gai = ::getaddrinfo(options_.url.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) {
    return Status::Unavailable("cannot resolve " + options_.url.host + ": " + gai_strerror(gai));
  }
  timeval tv{};
  tv.tv_sec = options_.timeout.count() / 1000;
  tv.tv_usec = static_cast<suseconds_t>((options_.timeout.count() % 1000) * 1000);
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    // SO_SNDTIMEO bounds connect(2) on Linux as well as writes.
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
      break;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) {
    return Status::Unavailable("cannot connect to " + options_.url.host + ":" + port + ": " + last);
  }
  SSL* ssl = SSL_new(Ctx(ctx_));
  if (ssl == nullptr) return Status::Internal("SSL_new failed");
  ssl_ = ssl;
  SSL_set_fd(ssl, fd_);
  const std::string& host = options_.url.host;
  if (IsIpLiteral(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
  }
  if (SSL_connect(ssl) != 1) {
    long verify = SSL_get_verify_result(ssl);
    std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : SslErrors();
    Disconnect();
    return Status::Unavailable("TLS handshake with " + host + " failed: " + why);
  }
  return Status::Ok();
}

Status HttpsClient::Fill(std::string* in) {
  char buf[16384];
  int n = SSL_read(Ssl(ssl_), buf, sizeof buf);
  if (n <= 0) {
    ERR_clear_error();
    return Status::Unavailable("the connection closed or timed out");
  }
  in->append(buf, static_cast<size_t>(n));
  if (in->size() > options_.max_response_bytes) {
    return Status::Unavailable("the response is too large");
  }
  return Status::Ok();
}

Result<HttpsResponse> HttpsClient::RoundTrip(const std::string& request, bool* nothing_read) {
  *nothing_read = true;
  std::string_view data = request;
  while (!data.empty()) {
    int n = SSL_write(Ssl(ssl_), data.data(), static_cast<int>(data.size()));
    if (n <= 0) {
      ERR_clear_error();
      return Status::Unavailable("the connection closed while sending");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  std::string in;
  size_t end;
  while ((end = in.find("\r\n\r\n")) == std::string::npos) {
    KAKUNIN_RETURN_IF_ERROR(Fill(&in));
    *nothing_read = false;
  }
  *nothing_read = false;
  const std::string head = in.substr(0, end);
  in.erase(0, end + 4);
  HttpsResponse r;
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) {
    return Status::Unavailable("not an HTTP/1.1 response");
  }
  auto [sp, sec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, r.status);
  if (sec != std::errc() || sp != status_line.data() + 12) {
    return Status::Unavailable("bad HTTP status line");
  }
  std::optional<size_t> length;
  bool close = false;
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string_view line(head.data() + pos, next - pos);
    pos = next + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Status::Unavailable("bad HTTP header");
    const std::string name = Lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "content-length") {
      size_t v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || p != value.data() + value.size() || length) {
        return Status::Unavailable("bad content-length");
      }
      if (v > options_.max_response_bytes) return Status::Unavailable("response too large");
      length = v;
    } else if (name == "transfer-encoding") {
      return Status::Unavailable("chunked responses are not supported");
    } else if (name == "connection") {
      close = Lower(value) == "close";
    } else if (name == "content-type") {
      r.content_type = std::string(value);
    }
  }
  if (!length) return Status::Unavailable("response without content-length");
  while (in.size() < *length) KAKUNIN_RETURN_IF_ERROR(Fill(&in));
  r.body = in.substr(0, *length);
  if (close || in.size() > *length) Disconnect();
  return r;
}

Result<HttpsResponse> HttpsClient::PostJson(std::string_view path, std::string_view body) {
  std::string request = "POST " + std::string(path) + " HTTP/1.1\r\nHost: " + options_.url.host;
  if (options_.url.port != 443) request += ":" + std::to_string(options_.url.port);
  request += "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n";
  request.append(body);
  bool reused = ssl_ != nullptr;
  if (!reused) KAKUNIN_RETURN_IF_ERROR(Connect());
  bool nothing_read = false;
  auto r = RoundTrip(request, &nothing_read);
  if (!r.ok()) {
    Disconnect();
    // A kept-alive connection the server had closed meanwhile: try once on a new one.
    if (reused && nothing_read) {
      KAKUNIN_RETURN_IF_ERROR(Connect());
      r = RoundTrip(request, &nothing_read);
      if (!r.ok()) Disconnect();
    }
  }
  return r;
}

}  // namespace kakunin::notify
