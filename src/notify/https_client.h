#pragma once

// A small blocking HTTPS/1.1 client for the municipal CS side (kakunin notify): mutual TLS on
// plain OpenSSL, one request at a time on a kept-alive connection, content-length framing only
// (what the node's server sends). Not thread-safe: one client per thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace kakunin::notify {

// https://HOST[:PORT][/] — nothing else (no path, query, user info).
struct HttpsUrl {
  std::string host;
  uint16_t port = 443;
};
Result<HttpsUrl> ParseHttpsUrl(std::string_view url);

struct HttpsClientOptions {
  HttpsUrl url;
  std::string ca_file;    // verifies the server's certificate for url.host (required)
  std::string cert_file;  // the client certificate chain (PEM)
  std::string key_file;   // its key (PEM)
  std::chrono::milliseconds timeout{30000};  // connect, and each read or write
  size_t max_response_bytes = 8 << 20;
};

struct HttpsResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

class HttpsClient {
 public:
  // Loads the CA and the client certificate and key: an error here is a start-up error.
  static Result<std::unique_ptr<HttpsClient>> Create(const HttpsClientOptions& options);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one POST with a JSON body and reads the answer; connects (or reconnects, once, when a
  // kept-alive connection turned out closed before anything was read) as needed. kUnavailable
  // for every network or TLS failure: the caller cannot know whether the server acted.
  Result<HttpsResponse> PostJson(std::string_view path, std::string_view body);

 private:
  explicit HttpsClient(HttpsClientOptions options);
  Status Connect();
  void Disconnect();
  Result<HttpsResponse> RoundTrip(const std::string& request, bool* nothing_read);
  Status Fill(std::string* in);

  HttpsClientOptions options_;
  void* ctx_ = nullptr;  // SSL_CTX
  void* ssl_ = nullptr;  // SSL
  int fd_ = -1;
};

}  // namespace kakunin::notify
