#pragma once

// The national node of `kakunin demo` (issue 12): a national node (全国サーバ) in DIR/national,
// served by the same process on its own port, which the demo's prefecture node forwards to
// through [upstream] with mutual TLS — certificates from the demo CA: the prefecture node's link
// certificate (DIR/tls/link.pem, registered on the national node as kind prefecture for 19), the
// national node's server certificate (DIR/national/tls/server.pem), and 日本年金機構's
// (DIR/national/clients/nenkin.pem), registered there for the 別表第一 purpose
// nenkin.address_check of the national sample catalogue.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <ostream>
#include <string>

#include "cli/args.h"
#include "cli/node.h"
#include "core/status.h"
#include "registry/config.h"

namespace kakunin::cli::demo {

inline constexpr int kDefaultNationalPort = 8445;
inline constexpr char kNationalPurpose[] = "nenkin.address_check";

// Makes the national node in DIR/national if there is none yet (in DIR/national.new, renamed
// when complete, so an interrupted run starts it over), and gives the prefecture node's
// kakunin.toml an [upstream] table naming it when it has none and `national_port` is not 0 (a
// port chosen at start-up has no number to write down; the link then exists for that run only).
Status EnsureNational(const std::string& dir, const std::string& address, int national_port,
                      Io& io);

// The host the prefecture node and the printed commands reach both nodes at.
std::string ReachableHost(const std::string& address);

// The link as the demo runs it, to the national node at `url`; paths absolute.
registry::UpstreamConfig Upstream(const std::string& dir, const std::string& url);

// The national node, served in this process until Stop() (or destruction).
class NationalServer {
 public:
  // Opens DIR/national and serves it on `port` (0: any free one) at `address`; its access log is
  // DIR/national/access.log. Background reports go to `report`.
  static Result<std::unique_ptr<NationalServer>> Start(
      const std::string& dir, const std::string& address, int port, Io& io,
      std::function<void(const std::string&)> report);
  ~NationalServer();
  uint16_t port() const { return server_->port(); }
  const std::string& url() const { return url_; }
  Status Stop();

 private:
  NationalServer() = default;
  std::unique_ptr<Node> node_;
  FileDescriptor serve_lock_;  // TakeServeLock, while it serves
  std::unique_ptr<RunningServer> server_;
  std::FILE* log_ = nullptr;
  std::string url_;
  bool stopped_ = false;
};

// demo.json's "national" member: `"national":{…}` (URL, port, data directory, certificates).
std::string NationalJson(const std::string& dir, const std::string& url);

// The printed commands of the national node: the lookup by 日本年金機構 that waits for the
// change, and `kakunin stats --digest` on both nodes.
void PrintNationalCommands(const std::string& dir, const std::string& url,
                           const std::string& resident_code, std::ostream& out);

}  // namespace kakunin::cli::demo
