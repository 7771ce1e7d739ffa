#pragma once

// A small blocking HTTPS/1.1 client for the link to the national node (DESIGN §3 link/): plain
// OpenSSL over one keep-alive connection, mutual TLS, the server verified against a CA file and
// its host name. Content-Length framing only, bounded response size. Not thread-safe: the
// link's sender thread owns one.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace kakunin::link {

struct HttpsTarget {
  std::string host;  // a DNS name or an IPv4 address (verified against the certificate)
  uint16_t port = 443;
  std::string path_prefix;  // "" or "/something", without a trailing slash
};

// "https://host[:port][/prefix]"; kInvalidArgument otherwise (no userinfo, query or fragment).
Result<HttpsTarget> ParseHttpsUrl(const std::string& url);

struct HttpsOptions {
  std::string ca_file;                       // verifies the server's certificate
  std::string cert_file;                     // client certificate chain (PEM)
  std::string key_file;                      // its key
  std::chrono::milliseconds timeout{10000};  // connect, and each read or write
  size_t max_response_bytes = 1 << 20;
};

struct HttpsResponse {
  int status = 0;
  std::string body;
};

class HttpsClient {
 public:
  // Loads the CA, certificate and key now: a bad file is a start-up error, not a retry.
  static Result<std::unique_ptr<HttpsClient>> Create(const HttpsTarget& target,
                                                     const HttpsOptions& options);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // POSTs `body` (application/json) to target.path_prefix + `path`, connecting (again) if
  // needed. kUnavailable for a network or TLS failure (the connection is dropped; the next call
  // reconnects).
  Result<HttpsResponse> PostJson(const std::string& path, const std::string& body);
  void Disconnect();

 private:
  HttpsClient() = default;
  Status Connect();
  Status WriteAll(const std::string& data);
  Result<HttpsResponse> ReadResponse();

  HttpsTarget target_;
  HttpsOptions options_;
  struct Tls;
  std::unique_ptr<Tls> tls_;
  int fd_ = -1;
  std::string in_;
};

}  // namespace kakunin::link
