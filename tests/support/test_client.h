#pragma once

// A blocking HTTPS/1.1 client for the tests (tests/support/, outside every production library),
// on plain OpenSSL and a socket: no Beast, so test files compile fast. Header-only.
// Not for production: no proxy, no chunked responses, one response at a time. Not thread-safe:
// one TestClient per thread.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kakunin::http::testing {

struct ClientOptions {
  std::string ca_file;    // verifies the server's certificate for "localhost" ("" = no check)
  std::string cert_file;  // client certificate chain ("" = none)
  std::string key_file;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string tls12_ciphers;       // "" = OpenSSL's default
  bool legacy = false;             // security level 0, so that TLS 1.0/1.1 hellos are really sent
  SSL_SESSION* session = nullptr;  // resume this session (not owned)
  std::chrono::milliseconds timeout{5000};  // per read or write
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
};

class TestClient {
 public:
  // Connects to 127.0.0.1:`port` and completes the TLS handshake. nullptr and `*error` set if
  // either fails. With TLS 1.3 a handshake can succeed on the client side although the server
  // refuses the client's certificate: the refusal shows on the first read.
  static std::unique_ptr<TestClient> Connect(uint16_t port, const ClientOptions& options,
                                             std::string* error) {
    std::unique_ptr<TestClient> client(new TestClient());
    client->timeout_ = options.timeout;
    client->fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (client->fd_ < 0) return Fail(error, "socket");
    int one = 1;
    ::setsockopt(client->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    client->SetTimeout(options.timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(client->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return Fail(error, "connect");
    }
    client->ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX* ctx = client->ctx_;
    if (ctx == nullptr) return Fail(error, "SSL_CTX_new");
    if (options.legacy) {
      SSL_CTX_set_security_level(ctx, 0);
      SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
    }
    SSL_CTX_set_min_proto_version(ctx, options.min_version);
    SSL_CTX_set_max_proto_version(ctx, options.max_version);
    if (!options.tls12_ciphers.empty() &&
        SSL_CTX_set_cipher_list(ctx, options.tls12_ciphers.c_str()) != 1) {
      return Fail(error, "cipher list");
    }
    if (!options.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
        return Fail(error, "CA file");
      }
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }
    if (!options.cert_file.empty()) {
      if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        return Fail(error, "client certificate");
      }
    }
    client->ssl_ = SSL_new(ctx);
    SSL* ssl = client->ssl_;
    SSL_set_fd(ssl, client->fd_);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (!options.ca_file.empty()) SSL_set1_host(ssl, "localhost");
    if (options.session != nullptr) SSL_set_session(ssl, options.session);
    if (SSL_connect(ssl) != 1) return Fail(error, "handshake");
    return client;
  }

  ~TestClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  bool Write(std::string_view data) {
    while (!data.empty()) {
      int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response (content-length framing; `head`: the response to a HEAD, which has no
  // body whatever its content-length says). nullopt on close, alert, timeout or garbage.
  std::optional<ClientResponse> ReadResponse(bool head_request = false) {
    size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    std::string head = in_.substr(0, end);
    in_.erase(0, end + 4);
    ClientResponse response;
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) return std::nullopt;
    response.status = std::stoi(status_line.substr(9, 3));
    size_t content_length = 0;
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        if (name == "content-length") content_length = std::stoul(value);
        response.headers.emplace_back(std::move(name), std::move(value));
      }
      pos = next + 2;
    }
    if (head_request) content_length = 0;
    while (in_.size() < content_length) {
      if (!Fill()) return std::nullopt;
    }
    response.body = in_.substr(0, content_length);
    in_.erase(0, content_length);
    return response;
  }

  // Sends a request and reads its response.
  std::optional<ClientResponse> RoundTrip(std::string_view request) {
    if (!Write(request)) return std::nullopt;
    return ReadResponse();
  }

  // True if the server closes the connection (close_notify, EOF, reset or alert) within
  // `within`; false if it is still open then or sends data.
  bool WaitClosed(std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
      if (SSL_pending(ssl_) > 0) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready == 0) return false;
      // A session ticket alone makes SSL_read wait for more: bound the wait.
      SetTimeout(left);
      char byte;
      errno = 0;
      int n = SSL_read(ssl_, &byte, 1);
      int err = SSL_get_error(ssl_, n);
      bool timed_out = err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK);
      SetTimeout(timeout_);
      ERR_clear_error();
      if (n > 0) {
        in_.push_back(byte);
        return false;
      }
      if (err == SSL_ERROR_WANT_READ || timed_out) continue;
      return true;
    }
  }

  // The session, for resumption (caller frees with SSL_SESSION_free). Read a response first:
  // TLS 1.3 tickets arrive after the handshake.
  SSL_SESSION* Session() const { return SSL_get1_session(ssl_); }
  bool Resumed() const { return SSL_session_reused(ssl_) == 1; }
  std::string Version() const { return SSL_get_version(ssl_); }
  // Sends close_notify.
  void Shutdown() { SSL_shutdown(ssl_); }

 private:
  TestClient() = default;

  static std::unique_ptr<TestClient> Fail(std::string* error, const char* what) {
    if (error != nullptr) {
      unsigned long code = ERR_peek_last_error();
      *error = std::string(what) + (code != 0 ? std::string(": ") + ERR_reason_error_string(code)
                                              : std::string(": errno ") + std::to_string(errno));
    }
    ERR_clear_error();
    return nullptr;
  }

  void SetTimeout(std::chrono::milliseconds t) {
    if (t.count() <= 0) t = std::chrono::milliseconds(1);
    timeval tv{static_cast<time_t>(t.count() / 1000),
               static_cast<suseconds_t>(t.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  bool Fill() {
    char buf[16384];
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) {
      ERR_clear_error();
      return false;
    }
    in_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string in_;
  std::chrono::milliseconds timeout_{5000};
};

// Connects to 127.0.0.1:`port`, sends a line that is not TLS and reads until the server closes:
// one refused handshake in its access log. False if the connect or the write failed.
inline bool SendNotTls(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool sent = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
              ::write(fd, "not tls\r\n\r\n", 11) > 0;
  char buf[64];
  while (sent && ::read(fd, buf, sizeof buf) > 0) {
  }
  ::close(fd);
  return sent;
}

}  // namespace kakunin::http::testing
