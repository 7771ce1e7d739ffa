// The national node of `kakunin demo` (demo_national.h).

#include "cli/demo_national.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/pki.h"
#include "text/json.h"

namespace kakunin::cli::demo {
namespace {

namespace fs = std::filesystem;

constexpr char kNationalDir[] = "national";

std::string Abs(const std::string& dir) { return fs::absolute(dir).lexically_normal().string(); }

std::string JsonStr(std::string_view s) {
  std::string o;
  text::AppendJsonString(s, &o);
  return o;
}

std::string ShellQuote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

// The link's settings the demo writes down and runs with: larger batches than the default, so
// the first run forwards its 100,000 residents quickly, and short retries, so a national node
// stopped by hand is found again within seconds.
constexpr int kBatchSize = 1000;
constexpr int kRetryMaxMs = 5000;

// Builds the national node in `nd` (a fresh directory): node, certificates, clients, [server].
Status PrepareNational(const std::string& dir, const std::string& nd, const std::string& address,
                       int port, Io& io) {
  io.err << "== 全国サーバを作成 / creating the national node in " << dir << "/" << kNationalDir
         << "\n";
  KAKUNIN_RETURN_IF_ERROR(InitNode(io, nd, 0, ""));  // prefecture 0: a national node
  std::error_code ec;
  fs::create_directories(nd + "/tls", ec);
  fs::create_directories(nd + "/clients", ec);
  if (ec) return Status::IoError("cannot create the national node's directories");
  std::vector<std::string> ips = {"127.0.0.1"};
  if (address != "127.0.0.1" && address != "0.0.0.0" && address != "::") ips.push_back(address);
  const std::string ca = dir + "/ca";
  auto server = crypto::IssueServerCertificate(ca, {"localhost"}, ips, 365,
                                               nd + "/tls/server.pem", nd + "/tls/server.key");
  if (!server.ok()) return server.status();
  // The prefecture node's client certificate for the link; the national node knows it as the
  // prefecture node of 19 (a certificate is never taken for another prefecture).
  crypto::ClientCertRequest link_req;
  link_req.kind = crypto::ClientKind::kNational;
  link_req.name = "山梨県";
  auto link =
      crypto::IssueClientCertificate(ca, link_req, dir + "/tls/link.pem", dir + "/tls/link.key");
  if (!link.ok()) return link.status();
  crypto::ClientCertRequest nenkin_req;
  nenkin_req.kind = crypto::ClientKind::kAgency;
  nenkin_req.name = "日本年金機構";
  auto nenkin = crypto::IssueClientCertificate(ca, nenkin_req, nd + "/clients/nenkin.pem",
                                               nd + "/clients/nenkin.key");
  if (!nenkin.ok()) return nenkin.status();
  auto node = OpenNode(io, nd);
  if (!node.ok()) return node.status();
  registry::Client pref;
  pref.spki_sha256 = link->spki_sha256_hex;
  pref.kind = registry::ClientKind::kPrefecture;
  pref.name = "山梨県";
  pref.prefecture = 19;
  KAKUNIN_RETURN_IF_ERROR((*node)->gateway->Register(pref, (*node)->actor));
  registry::Client body;
  body.spki_sha256 = nenkin->spki_sha256_hex;
  body.kind = registry::ClientKind::kAgency;
  body.name = "日本年金機構";
  body.recipient = "agency:nenkin";
  body.purposes = {kNationalPurpose};
  KAKUNIN_RETURN_IF_ERROR((*node)->gateway->Register(body, (*node)->actor));
  KAKUNIN_RETURN_IF_ERROR(SealLog(**node));
  // Relative paths: the demo directory may move. The CA and its CRL are the demo's.
  registry::NodeConfig config = (*node)->config;
  config.key_file = "keys";
  config.signing_key = "audit.key";
  config.purposes_file = "purposes.toml";
  config.server.present = true;
  config.server.address = address;
  config.server.port = port;
  config.server.certificate = "tls/server.pem";
  config.server.key = "tls/server.key";
  config.server.client_ca = "../ca/ca.pem";
  config.server.crl = "../ca/crl.pem";
  config.server.access_log = "access.log";
  node->reset();
  return io.nodes->WriteConfig(nd, config);
}

// Adds an [upstream] table to the prefecture node's kakunin.toml (written whole to a private
// temporary file, then renamed: a run stopped half-way leaves the old file).
Status AppendUpstream(const std::string& dir, const std::string& url) {
  const std::string path = dir + "/kakunin.toml";
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return Status::IoError("cannot read the demo's kakunin.toml");
  std::ostringstream o;
  o << text << (text.empty() || text.back() == '\n' ? "" : "\n") << "\n[upstream]\n"
    << "# The link to the demo's national node (var/demo/national), written by kakunin demo.\n"
    << "url = \"" << url << "\"\n"
    << "ca_file = \"ca/ca.pem\"\n"
    << "cert_file = \"tls/link.pem\"\n"
    << "key_file = \"tls/link.key\"\n"
    << "batch_size = " << kBatchSize << "\n"
    << "retry_max_ms = " << kRetryMaxMs << "\n";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    std::error_code ec;
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace, ec);
    out << o.str();
    out.flush();
    if (!out || ec) return Status::IoError("cannot write the demo's kakunin.toml");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IoError("cannot write the demo's kakunin.toml");
  return Status::Ok();
}

}  // namespace

std::string ReachableHost(const std::string& address) {
  return address == "0.0.0.0" || address == "::" ? "127.0.0.1" : address;
}

Status EnsureNational(const std::string& dir, const std::string& address, int national_port,
                      Io& io) {
  const std::string nd = dir + "/" + kNationalDir;
  if (!fs::exists(nd + "/kakunin.toml")) {
    const std::string fresh = nd + ".new";
    std::error_code ec;
    fs::remove_all(fresh, ec);
    if (ec) return Status::IoError("cannot clear " + fresh);
    KAKUNIN_RETURN_IF_ERROR(PrepareNational(dir, fresh, address, national_port, io));
    fs::rename(fresh, nd, ec);
    if (ec) return Status::IoError("cannot move the national node into place");
  }
  if (national_port == 0) return Status::Ok();
  auto node = OpenNode(io, dir);
  if (!node.ok()) return node.status();
  if ((*node)->config.upstream.present) return Status::Ok();
  node->reset();
  return AppendUpstream(dir, "https://" + ReachableHost(address) + ":" +
                                 std::to_string(national_port));
}

registry::UpstreamConfig Upstream(const std::string& dir, const std::string& url) {
  const std::string abs = Abs(dir);
  registry::UpstreamConfig u;
  u.present = true;
  u.url = url;
  u.ca_file = abs + "/ca/ca.pem";
  u.cert_file = abs + "/tls/link.pem";
  u.key_file = abs + "/tls/link.key";
  u.batch_size = kBatchSize;
  u.retry_max_ms = kRetryMaxMs;
  return u;
}

Result<std::unique_ptr<NationalServer>> NationalServer::Start(
    const std::string& dir, const std::string& address, int port, Io& io,
    std::function<void(const std::string&)> report) {
  if (io.nodes == nullptr) return Status::FailedPrecondition("no node access in this program");
  const std::string nd = dir + "/" + kNationalDir;
  std::unique_ptr<NationalServer> s(new NationalServer());
  auto node = OpenNode(io, nd);
  if (!node.ok()) return node.status();
  s->node_ = std::move(*node);
  auto lock = TakeServeLock(s->node_->config);
  if (!lock.ok()) return Status(lock.status().code(), "national node: " + lock.status().message());
  s->serve_lock_ = std::move(*lock);
  registry::ServerConfig sc = s->node_->config.server;
  sc.address = address;
  sc.port = port;
  s->log_ = std::fopen((nd + "/access.log").c_str(), "ae");
  if (s->log_ == nullptr) return Status::IoError("cannot open the national node's access log");
  ServeOptions options;
  options.report = std::move(report);
  auto server = io.nodes->Serve(*s->node_, sc, s->log_, registry::ConsoleConfig{}, options);
  if (!server.ok()) {
    s->stopped_ = true;
    return Status(server.status().code(), "national node: " + server.status().message());
  }
  s->server_ = std::move(*server);
  s->url_ = "https://" + ReachableHost(address) + ":" + std::to_string(s->server_->port());
  return s;
}

Status NationalServer::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  Status st = server_ ? server_->Stop() : Status::Ok();
  server_.reset();
  node_.reset();
  if (log_ != nullptr) std::fclose(log_);
  log_ = nullptr;
  return st;
}

NationalServer::~NationalServer() { (void)Stop(); }

std::string NationalJson(const std::string& dir, const std::string& url) {
  const std::string abs = Abs(dir);
  const std::string nd = abs + "/" + kNationalDir;
  const std::string port = url.substr(url.rfind(':') + 1);
  return "\"national\":{\"url\":" + JsonStr(url) + ",\"port\":" + port +
         ",\"data_dir\":" + JsonStr(nd) +
         ",\"server_certificate\":" + JsonStr(nd + "/tls/server.pem") +
         ",\"server_key\":" + JsonStr(nd + "/tls/server.key") +
         ",\"link_certificate\":" + JsonStr(abs + "/tls/link.pem") +
         ",\"link_key\":" + JsonStr(abs + "/tls/link.key") +
         ",\"clients\":[{\"name\":\"日本年金機構\",\"kind\":\"agency\",\"recipient\":\"agency:nenkin\","
         "\"purposes\":[" + JsonStr(kNationalPurpose) + "],\"certificate\":" +
         JsonStr(nd + "/clients/nenkin.pem") + ",\"key\":" + JsonStr(nd + "/clients/nenkin.key") +
         "}],\"examples\":{\"purpose\":" + JsonStr(kNationalPurpose) + "}}";
}

void PrintNationalCommands(const std::string& dir, const std::string& url,
                           const std::string& resident_code, std::ostream& out) {
  const std::string abs = Abs(dir);
  const std::string nd = abs + "/" + kNationalDir;
  std::error_code ec;
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec || self.empty()) self = "kakunin";
  out << "# 5. 同じ変更が全国サーバ（" << url << "）に届く：日本年金機構が別表第一の利用事由 "
      << kNationalPurpose << " で照会\n"
      << "#    the same change reaches the national node: 日本年金機構 looks the resident up there "
         "for "
      << kNationalPurpose
      << " (住民基本台帳法 別表第一). The loop asks once a second until the new address is there\n"
      << "#    (a second or two; on the first run the 100,000 residents go first: up to a "
         "minute)\n"
      << "for i in $(seq 90); do curl -sS --cacert " << ShellQuote(abs + "/ca/ca.pem")
      << " --cert " << ShellQuote(nd + "/clients/nenkin.pem") << " --key "
      << ShellQuote(nd + "/clients/nenkin.key") << " '" << url << "/v1/residents/"
      << resident_code << "?purpose=" << kNationalPurpose
      << "' | grep 丸の内一丁目6番1号 && break; sleep 1; done\n\n"
      << "# 6. 両ノードの照合値が一致する / kakunin stats --digest is equal on both nodes (the "
         "prefecture node, then the national node)\n"
      << ShellQuote(self) << " stats --digest --data " << ShellQuote(abs) << "\n"
      << ShellQuote(self) << " stats --digest --data " << ShellQuote(nd) << "\n\n";
  out.flush();
}

}  // namespace kakunin::cli::demo
