// The node on the network: kakunin serve, halt, resume, clients, demo.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <ostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/demo_national.h"
#include "cli/node.h"
#include "crypto/pki.h"
#include "text/json.h"

namespace kakunin::cli {
namespace {

namespace fs = std::filesystem;

int Usage(Io& io, const char* command, const std::string& msg) {
  io.err << "kakunin " << command << ": " << msg << "\n詳しくは / see: kakunin " << command
         << " --help\n";
  return kExitUsage;
}

int Fail(Io& io, const char* command, const Status& st) {
  io.err << "kakunin " << command << ": " << st.message() << "\n";
  return st.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitRejected;
}

// serve and demo cannot start (port taken, a TLS file missing or unreadable, a bad configuration):
// always the usage status, so scripts and service managers can tell it from a refusal.
int FailStart(Io& io, const char* command, const Status& st) {
  io.err << "kakunin " << command << ": 起動できません / cannot start: " << st.message() << "\n";
  return kExitUsage;
}

// Parses the arguments or prints help; returns nullopt with *exit set when the command is done.
std::optional<Args> ParseOrHelp(const std::vector<std::string>& argv,
                                const std::vector<OptionSpec>& specs, const char* command,
                                const char* help, Io& io, int* exit) {
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) {
    *exit = Usage(io, command, args.status().message());
    return std::nullopt;
  }
  if (args->help()) {
    io.out << help;
    *exit = kExitOk;
    return std::nullopt;
  }
  return std::move(*args);
}

// Blocks SIGINT, SIGTERM and SIGHUP in this thread and every thread started after it, so that
// only WaitForSignal() receives them (SIGHUP would otherwise end the process).
sigset_t BlockServerSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int WaitForSignal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// serve

const char kServeHelp[] =
    "使い方 / usage: kakunin serve (--config FILE | --data DIR) [--port N]\n\n"
    "ノードをHTTPS（相互TLS）で公開します。SIGINT/SIGTERMで安全に停止します。\n"
    "Serves the node over HTTPS with mutual TLS (docs/api.md) as the configuration's [server]\n"
    "table says, until SIGINT or SIGTERM: then it stops accepting, finishes the requests in\n"
    "flight (every answer sent is durable) and signs a checkpoint of the operation log.\n"
    "The access log (JSON lines, no personal data) goes to server.access_log.\n"
    "SIGHUP, or a new server.crl file (looked at once a second at most), makes new connections\n"
    "use the TLS files as they are now; open connections go on. A file that does not load is\n"
    "reported and the previous one stays in use. Exit status 2 if it cannot start.\n\n"
    "Examples:\n"
    "  kakunin serve --config /var/lib/kakunin/kakunin.toml\n"
    "  kakunin serve --data /var/lib/kakunin --port 0\n";

// Serves until a stop signal; prints where it listens on io.err, and calls `ready` once listening.
int ServeUntilSignal(Node& node, registry::ServerConfig config, Io& io, const char* command,
                     const std::function<Status(uint16_t, uint16_t)>& ready,
                     const registry::ConsoleConfig& console = {}) {
  std::FILE* log = stderr;
  std::FILE* opened = nullptr;
  if (config.access_log != "-") {
    // A FIFO, socket or directory is refused before it is opened (opening a FIFO blocks).
    struct stat st;
    if (::stat(config.access_log.c_str(), &st) == 0 &&
        (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISDIR(st.st_mode))) {
      return FailStart(io, command, Status::IoError("the access log is not a file"));
    }
    // Created owner-only, as everything else in the data directory (found in review: 0644 under
    // the usual umask). It holds routes and no personal data, but a log moved out of the data
    // directory should not become world-readable; an existing file keeps the mode it was given.
    const int fd =
        ::open(config.access_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    opened = fd >= 0 ? ::fdopen(fd, "a") : nullptr;
    if (opened == nullptr && fd >= 0) ::close(fd);
    if (opened == nullptr) {
      return FailStart(io, command, Status::IoError("cannot open the access log"));
    }
    log = opened;
  }
  const sigset_t signals = BlockServerSignals();
  // Background reports (a CRL reloaded or refused) come from server threads.
  std::mutex err_mu;
  ServeOptions options;
  options.report = [&io, &err_mu, command](const std::string& line) {
    std::lock_guard lock(err_mu);
    io.err << "kakunin " << command << ": " << line << "\n";
    io.err.flush();
  };
  if (io.nodes == nullptr) {
    if (opened) std::fclose(opened);
    return FailStart(io, command, Status::FailedPrecondition("no node access in this program"));
  }
  auto server = io.nodes->Serve(node, config, log, console, options);
  if (!server.ok()) {
    if (opened) std::fclose(opened);
    return FailStart(io, command, server.status());
  }
  std::unique_lock err_lock(err_mu);
  const uint16_t port = (*server)->port();
  io.err << "kakunin " << command << ": 待ち受け中 / listening on https://" << config.address << ":"
         << port << " (Ctrl-C で停止 / to stop)\n";
  if (console.present) {
    io.err << "kakunin " << command << ": 操作者コンソール / operators' console on https://"
           << console.rp_id << ":" << (*server)->console_port() << "/\n";
  }
  io.err.flush();
  int exit = kExitOk;
  if (ready) {
    Status st = ready(port, (*server)->console_port());
    if (!st.ok()) {
      exit = Fail(io, command, st);
    }
  }
  err_lock.unlock();
  // SIGHUP: read the TLS files again (a new CRL) without dropping a connection. The outcome is
  // reported through options.report.
  while (exit == kExitOk && WaitForSignal(signals) == SIGHUP) {
    {
      std::lock_guard lock(err_mu);
      io.err << "kakunin " << command << ": SIGHUP: TLS ファイルを再読込 / reloading the TLS files\n";
    }
    (void)(*server)->ReloadTls();
  }
  err_lock.lock();
  io.err << "kakunin " << command << ": 停止中 / stopping\n";
  err_lock.unlock();
  Status st = (*server)->Stop();
  server->reset();
  if (opened) std::fclose(opened);
  if (!st.ok()) return Fail(io, command, st);
  io.err << "kakunin " << command << ": 停止しました / stopped\n";
  return exit;
}

int RunServe(const std::vector<std::string>& argv, Io& io) {
  int exit = 0;
  auto args = ParseOrHelp(argv,
                          {{"config", "FILE", "ノードの設定ファイル / the node's kakunin.toml"},
                           DataOption(),
                           {"port", "N", "待受ポート（設定より優先）/ port (overrides the config)"}},
                          "serve", kServeHelp, io, &exit);
  if (!args) return exit;
  auto config = args->Get("config");
  auto data = args->Get("data");
  if (config.has_value() == data.has_value()) return Usage(io, "serve", "give --config or --data");
  auto node = OpenNode(io, data.value_or(""), true, config.value_or(""));
  if (!node.ok()) return FailStart(io, "serve", node.status());
  // One serving process per SQLite database (found in review: a second started beside the
  // first, and the quotas and alert thresholds, kept per process, counted double). Held while
  // serving (a process that dies drops it); PostgreSQL nodes sharing a database are a
  // deployment's choice (docs/postgresql.md).
  auto serve_lock = TakeServeLock((*node)->config);
  if (!serve_lock.ok()) return FailStart(io, "serve", serve_lock.status());
  // A restored database may hold what purges erased since its backup: not served until the
  // operator has purged it as of today (registry/backup.h RetentionDue).
  if ((*node)->backup) {
    auto due = (*node)->backup->RetentionDue();
    if (!due.ok()) return FailStart(io, "serve", due.status());
    if (*due) {
      return FailStart(io, "serve",
                       Status::FailedPrecondition(
                           "復元したデータベースには保存期間を過ぎた記録が残っている可能性があります。"
                           "kakunin purge --data DIR --dry-run で基準日を確かめ、kakunin purge "
                           "で消去してから起動してください / the restored database may hold records "
                           "past their retention: check the date with kakunin purge --data DIR "
                           "--dry-run, erase them with kakunin purge, then serve"));
    }
  }
  registry::ServerConfig sc = (*node)->config.server;
  if (auto p = args->Get("port")) {
    char* end = nullptr;
    long v = std::strtol(p->c_str(), &end, 10);
    if (p->empty() || *end != '\0' || v < 0 || v > 65535) {
      return Usage(io, "serve", "--port must be 0..65535");
    }
    sc.port = static_cast<int>(v);
  }
  return ServeUntilSignal(**node, sc, io, "serve", nullptr, (*node)->config.console);
}

// ---------------------------------------------------------------------------------------------
// halt / resume

const char kHaltHelp[] =
    "使い方 / usage: kakunin halt --data DIR --reason TEXT\n\n"
    "作動停止：外部への提供と更新通知の受付を直ちに止めます（操作履歴に記録）。\n"
    "Halts the node (作動停止): from the next request on, every /v1/ endpoint of a running\n"
    "`kakunin serve` answers 503 and nothing is provided or applied, here or over the API,\n"
    "until `kakunin resume`. Both are recorded in the operation log. Run it on the node's host.\n\n"
    "Example:\n"
    "  kakunin halt --data /var/lib/kakunin --reason \"不正アクセスの疑い\"\n";

const char kResumeHelp[] =
    "使い方 / usage: kakunin resume --data DIR\n\n"
    "作動停止を解除します（操作履歴に記録）。\n"
    "Lifts a halt; recorded in the operation log.\n\n"
    "Example:\n"
    "  kakunin resume --data /var/lib/kakunin\n";

int RunHalt(const std::vector<std::string>& argv, Io& io) {
  int exit = 0;
  auto args = ParseOrHelp(argv, {DataOption(), {"reason", "TEXT", "理由 / the reason"}}, "halt",
                          kHaltHelp, io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "halt", io);
  if (!data) return kExitUsage;
  auto reason = args->Get("reason");
  if (!reason || reason->empty()) return Usage(io, "halt", "--reason TEXT is required");
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, "halt", node.status());
  Status st = (*node)->registry->Halt(*reason, (*node)->actor);
  if (!st.ok()) return Fail(io, "halt", st);
  (void)SealLog(**node);
  io.out << "作動停止しました / halted: the API answers 503 until kakunin resume\n";
  return kExitOk;
}

int RunResume(const std::vector<std::string>& argv, Io& io) {
  int exit = 0;
  auto args = ParseOrHelp(argv, {DataOption()}, "resume", kResumeHelp, io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "resume", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, "resume", node.status());
  auto reason = (*node)->registry->HaltReason();
  Status st = (*node)->registry->Resume((*node)->actor);
  if (!st.ok()) return Fail(io, "resume", st);
  (void)SealLog(**node);
  io.out << "作動停止を解除しました / resumed";
  // The reason's keyed hash, as the log holds it: the reason itself, free text that may name
  // a resident, is kept nowhere and is written down with the review of the halt.
  if (reason.ok() && !reason->empty()) {
    io.out << "（停止の理由のハッシュ / the halt's reason as logged: " << *reason << "）";
  }
  io.out << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// clients

const char kClientsHelp[] =
    "使い方 / usage: kakunin clients SUBCOMMAND --data DIR [OPTIONS]\n\n"
    "接続を許すシステムの登録簿（証明書の公開鍵SHA-256で識別）。\n"
    "The client register: which systems may connect, identified by the SHA-256 of their\n"
    "certificate's public key (SPKI), never by its name. Changes are recorded in the log.\n\n"
    "  register --cert FILE --kind municipal_cs|agency|national|prefecture --name NAME\n"
    "           [--municipality CODE] [--recipient ID --purposes ID,ID…] [--prefecture NN]\n"
    "  revoke (--cert FILE | --spki HEX)        refused from the next request on\n"
    "  list [--json]\n\n"
    "Examples:\n"
    "  kakunin clients register --data /var/lib/kakunin --cert kofu.pem --kind municipal_cs \\\n"
    "      --name 甲府市CS --municipality 192015\n"
    "  kakunin clients register --data /var/lib/kakunin --cert boe.pem --kind agency \\\n"
    "      --name 山梨県教育委員会 --recipient agency:yamanashi-board-of-education \\\n"
    "      --purposes board.school_aid\n"
    "  kakunin clients revoke --data /var/lib/kakunin --cert kofu.pem\n";

int RunClients(const std::vector<std::string>& argv, Io& io) {
  int exit = 0;
  auto args = ParseOrHelp(
      argv,
      {DataOption(),
       {"cert", "FILE", "クライアント証明書 (PEM) / the client certificate"},
       {"spki", "HEX", "公開鍵のSHA-256 / its SPKI SHA-256"},
       {"kind", "KIND", "municipal_cs | agency | national | prefecture"},
       {"prefecture", "NN", "都道府県コード (prefecture: a prefecture node, on a national node)"},
       {"name", "NAME", "名称 / a name for people"},
       {"municipality", "CODE", "全国地方公共団体コード (municipal_cs)"},
       {"recipient", "ID", "提供先ID (agency), e.g. agency:yamanashi-board-of-education"},
       {"purposes", "IDS", "利用事由 (agency), comma-separated"},
       {"json", "", "JSONで出力 / print JSON"}},
      "clients", kClientsHelp, io, &exit);
  if (!args) return exit;
  if (args->positional().size() != 1) return Usage(io, "clients", "give one subcommand");
  const std::string sub = args->positional()[0];
  auto data = RequireData(*args, "clients", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, "clients", node.status());
  Node& n = **node;
  auto spki_of = [&]() -> Result<std::string> {
    if (auto cert = args->Get("cert")) return crypto::CertificateSpkiSha256File(*cert);
    if (auto spki = args->Get("spki")) return *spki;
    return Status::InvalidArgument("give --cert FILE or --spki HEX");
  };
  if (sub == "register") {
    auto spki = spki_of();
    if (!spki.ok()) return Fail(io, "clients", spki.status());
    auto kind = registry::ParseClientKind(args->Get("kind").value_or(""));
    if (!kind) {
      return Usage(io, "clients", "--kind must be municipal_cs, agency, national or prefecture");
    }
    registry::Client c;
    c.spki_sha256 = *spki;
    c.kind = *kind;
    c.name = args->Get("name").value_or("");
    c.municipality_code = args->Get("municipality").value_or("");
    c.recipient = args->Get("recipient").value_or("");
    c.purposes = SplitComma(args->Get("purposes").value_or(""));
    if (auto pref = args->Get("prefecture")) {
      const std::string& v = *pref;
      if (v.empty() || v.size() > 2 || v.find_first_not_of("0123456789") != std::string::npos) {
        return Usage(io, "clients", "--prefecture must be 1..47");
      }
      c.prefecture = std::stoi(v);
    }
    Status st = n.gateway->Register(c, n.actor);
    (void)SealLog(n);
    if (!st.ok()) return Fail(io, "clients", st);
    io.out << "登録しました / registered " << *spki << "\n";
    return kExitOk;
  }
  if (sub == "revoke") {
    auto spki = spki_of();
    if (!spki.ok()) return Fail(io, "clients", spki.status());
    Status st = n.gateway->Revoke(*spki, n.actor);
    (void)SealLog(n);
    if (!st.ok()) return Fail(io, "clients", st);
    io.out << "失効しました / revoked " << *spki << "\n";
    return kExitOk;
  }
  if (sub == "list") {
    auto list = n.reports->Clients();
    if (!list.ok()) return Fail(io, "clients", list.status());
    for (const auto& c : *list) {
      std::string o = "{\"spki_sha256\":\"" + c.spki_sha256 + "\",\"kind\":\"" +
                      std::string(registry::ClientKindName(c.kind)) + "\",\"name\":";
      text::AppendJsonString(c.name, &o);
      o += ",\"municipality_code\":\"" + c.municipality_code + "\",\"recipient\":";
      text::AppendJsonString(c.recipient, &o);
      o += ",\"purposes\":[";
      for (size_t i = 0; i < c.purposes.size(); ++i) {
        o += (i ? "," : "");
        text::AppendJsonString(c.purposes[i], &o);
      }
      o += "],\"revoked\":" + std::string(c.revoked_at ? "true" : "false") + "}";
      io.out << o << "\n";
    }
    return kExitOk;
  }
  return Usage(io, "clients", "unknown subcommand '" + Echoable(sub) + "'");
}

// ---------------------------------------------------------------------------------------------
// demo

const char kDemoHelp[] =
    "使い方 / usage: kakunin demo --data DIR [--port N] [--residents N] [--address ADDR]\n\n"
    "デモ用ノードを準備して起動します（山梨県の架空住民、デモ用認証局、甲府市CSと県教育委員会の\n"
    "クライアント証明書、設定）。DIR/demo.json に作成物を書き、そのまま使える curl を表示します。\n"
    "Prepares a demo node in DIR — generated residents of 山梨県, a demo CA, client certificates\n"
    "for the municipal CS of 甲府市 (192015), an agency (山梨県教育委員会, purpose\n"
    "board.school_aid) and the national node, all registered, and a [server] configuration — then\n"
    "serves it until Ctrl-C. Once listening it writes DIR/demo.json (URL, CA file, each client's\n"
    "kind, municipality or purposes, certificate and key) and prints curl commands that work as\n"
    "printed. A DIR that already holds a demo node is served again as it is.\n\n"
    "Options: --port (default 8443; 0 = any free port), --residents (default 100000),\n"
    "--address (default 127.0.0.1), --console-port (the operators' console, default 8444;\n"
    "0 = any), --idle-lock-seconds (the console's idle lock, default 300; less for tests).\n"
    "demo.json then also has console_url; create the first operators with\n"
    "`kakunin operator bootstrap`.\n\n"
    "The same process serves a national node (全国サーバ) made in DIR/national on\n"
    "--national-port (default 8445; 0 with --port 0 unless given; 0 = any): the prefecture node\n"
    "forwards every change to it through [upstream] with mutual TLS, and 日本年金機構 (a client\n"
    "there) reads for the 別表第一 purpose nenkin.address_check. demo.json's \"national\" says\n"
    "where; the printed commands show a change reaching it and stats --digest equal on both.\n\n"
    "Example:\n"
    "  kakunin demo --data var/demo --port 8443\n";

constexpr char kDemoToday[] = "2026-04-01";

std::string JsonStr(std::string_view s) {
  std::string o;
  text::AppendJsonString(s, &o);
  return o;
}

// Runs another command in-process with its output in `out_path` (or discarded).
int RunInto(int (*run)(const std::vector<std::string>&, Io&), const std::vector<std::string>& args,
            const std::string& out_path, Io& io) {
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  // Owner only, before anything is written: the demo's notifications hold (fictitious) residents
  // in clear, individual numbers included, and a real node's operator copies what a demo does
  // (found in review: mode 0644).
  std::error_code ec;
  std::filesystem::permissions(out_path,
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  std::istringstream in;
  Io sub{in, out, io.err, io.nodes};
  int rc = run(args, sub);
  out.flush();
  return rc;
}

struct DemoClient {
  const char* file;  // clients/<file>.pem, .key
  crypto::ClientKind cert_kind;
  registry::ClientKind kind;
  const char* name;
  const char* municipality;
  const char* recipient;
  const char* purposes;
};

constexpr DemoClient kDemoClients[] = {
    {"kofu-cs", crypto::ClientKind::kMunicipalCs, registry::ClientKind::kMunicipalCs, "甲府市CS",
     "192015", "", ""},
    {"board-of-education", crypto::ClientKind::kAgency, registry::ClientKind::kAgency,
     "山梨県教育委員会", "", "agency:yamanashi-board-of-education", "board.school_aid"},
    {"national", crypto::ClientKind::kNational, registry::ClientKind::kNational,
     "地方公共団体情報システム機構", "", "national", ""},
};

// Writes the example notification (a 転居 of the first resident of 甲府市, under the next
// sequence) and returns that resident's code.
Result<std::string> WriteExampleNotification(const std::string& dir) {
  std::ifstream in(dir + "/notifications.jsonl", std::ios::binary);
  if (!in) return std::string();  // a demo without residents has no example
  std::string line, first;
  int64_t last = 0;
  while (std::getline(in, line)) {
    if (line.find("\"municipality_code\":\"192015\"") == std::string::npos) continue;
    if (first.empty()) first = line;
    ++last;  // the generator numbers each municipality's notifications 1, 2, 3, …
  }
  if (first.empty()) return std::string();
  auto parsed = text::ParseJson(first);
  if (!parsed.ok() || !parsed->is_object()) return Status::Internal("unexpected generator output");
  std::string code;
  std::string o = "{\"notifications\":[{";
  bool comma = false;
  for (const auto& [key, value] : parsed->members()) {
    std::string v;
    if (key == "sequence") {
      v = std::to_string(last + 1);
    } else if (key == "kind") {
      v = "\"amendment\"";
    } else if (key == "reason") {
      v = "\"moved_within\"";
    } else if (key == "change_date") {
      v = JsonStr(kDemoToday);
    } else if (key == "address") {
      v = JsonStr("山梨県甲府市丸の内一丁目6番1号");
    } else if (value.is_string()) {
      v = JsonStr(value.text());
      if (key == "resident_code") code = value.text();
    } else {
      continue;
    }
    o += (comma ? "," : "") + JsonStr(key) + ":" + v;
    comma = true;
  }
  o += "}]}\n";
  std::ofstream out(dir + "/example-notification.json", std::ios::binary | std::ios::trunc);
  out << o;
  if (!out) return Status::IoError("cannot write the example notification");
  return code;
}

// The file that marks a data directory as made by `kakunin demo`.
constexpr char kDemoMarker[] = "demo-node";

// `port` and `console_port` are those the demo was given: the configuration names no other (a
// later `kakunin serve --data DIR` listens where the demo did).
Status PrepareDemo(const std::string& dir, int residents, const std::string& address, int port,
                   int console_port, Io& io) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create the demo directory");
  io.err << "== ノードを作成 / creating a prefecture node for 山梨県\n";
  KAKUNIN_RETURN_IF_ERROR(InitNode(io, dir, 19, ""));
  // Marks the node as the demo's: only such a node is served again by `kakunin demo`, which
  // prints a resident's code and writes a notification of theirs (fictitious here).
  {
    std::ofstream marker(dir + "/" + kDemoMarker, std::ios::trunc);
    marker << "made by kakunin demo: fictitious residents only\n";
    if (!marker) return Status::IoError("cannot write the demo marker");
  }
  const std::string notifications = dir + "/notifications.jsonl";
  io.err << "== 架空住民 " << residents << " 人を生成・登録 / generating and applying " << residents
         << " fictitious residents\n";
  if (residents > 0) {
    if (RunInto(RunGenerate,
                {"--count", std::to_string(residents), "--seed", "1", "--today", kDemoToday},
                notifications, io) != kExitOk) {
      return Status::Internal("generating the demo data failed");
    }
    if (RunInto(RunIngestCommand, {"--data", dir, "--today", kDemoToday, notifications},
                dir + "/ingest.out", io) != kExitOk) {
      return Status::Internal("applying the demo data failed (see ingest.out)");
    }
  }
  io.err << "== デモ用認証局と証明書 / a demo CA, the server certificate and client certificates\n";
  fs::create_directories(dir + "/tls", ec);
  fs::create_directories(dir + "/clients", ec);
  KAKUNIN_RETURN_IF_ERROR(crypto::CreateCertificateAuthority(dir + "/ca", "Kakunin demo CA", 3650));
  std::vector<std::string> ips = {"127.0.0.1"};
  if (address != "127.0.0.1" && address != "0.0.0.0" && address != "::") ips.push_back(address);
  auto server = crypto::IssueServerCertificate(dir + "/ca", {"localhost"}, ips, 365,
                                               dir + "/tls/server.pem", dir + "/tls/server.key");
  if (!server.ok()) return server.status();
  auto node = OpenNode(io, dir);
  if (!node.ok()) return node.status();
  for (const DemoClient& d : kDemoClients) {
    crypto::ClientCertRequest req;
    req.kind = d.cert_kind;
    req.name = d.name;
    req.municipality_code = d.municipality;
    const std::string base = dir + "/clients/" + d.file;
    auto issued = crypto::IssueClientCertificate(dir + "/ca", req, base + ".pem", base + ".key");
    if (!issued.ok()) return issued.status();
    registry::Client c;
    c.spki_sha256 = issued->spki_sha256_hex;
    c.kind = d.kind;
    c.name = d.name;
    c.municipality_code = d.municipality;
    c.recipient = d.kind == registry::ClientKind::kAgency ? d.recipient : "";
    c.purposes = SplitComma(d.purposes);
    KAKUNIN_RETURN_IF_ERROR((*node)->gateway->Register(c, (*node)->actor));
  }
  KAKUNIN_RETURN_IF_ERROR(SealLog(**node));
  // The [server] table, with paths relative to the data directory.
  registry::NodeConfig config = (*node)->config;
  config.key_file = "keys";
  config.signing_key = "audit.key";
  config.purposes_file = "purposes.toml";
  config.server.present = true;
  config.server.address = address;
  config.server.port = port;
  config.server.certificate = "tls/server.pem";
  config.server.key = "tls/server.key";
  config.server.client_ca = "ca/ca.pem";
  config.server.crl = "ca/crl.pem";
  config.server.access_log = "access.log";
  config.console.present = true;
  config.console.address = address;
  config.console.port = console_port;
  return io.nodes->WriteConfig(dir, config);
}

Status WriteDemoJson(const std::string& dir, const std::string& address, uint16_t port,
                     const std::string& resident_code, const std::string& console_url,
                     const std::string& national_url) {
  const std::string abs = fs::absolute(dir).lexically_normal().string();
  const std::string url = "https://" + address + ":" + std::to_string(port);
  std::string o = "{\"url\":" + JsonStr(url) + ",\"port\":" + std::to_string(port) +
                  ",\"console_url\":" + JsonStr(console_url) +
                  ",\"data_dir\":" + JsonStr(abs) + ",\"ca_file\":" + JsonStr(abs + "/ca/ca.pem") +
                  ",\"server_certificate\":" + JsonStr(abs + "/tls/server.pem") +
                  ",\"server_key\":" + JsonStr(abs + "/tls/server.key") + ",\"clients\":[";
  bool first = true;
  for (const DemoClient& d : kDemoClients) {
    o += first ? "" : ",";
    first = false;
    o += "{\"name\":" + JsonStr(d.name) + ",\"kind\":\"" +
         std::string(registry::ClientKindName(d.kind)) + "\"";
    if (*d.municipality) o += ",\"municipality_code\":\"" + std::string(d.municipality) + "\"";
    if (d.kind == registry::ClientKind::kAgency) {
      o += ",\"recipient\":" + JsonStr(d.recipient) + ",\"purposes\":[";
      auto ps = SplitComma(d.purposes);
      for (size_t i = 0; i < ps.size(); ++i) o += (i ? "," : "") + JsonStr(ps[i]);
      o += "]";
    }
    o += ",\"certificate\":" + JsonStr(abs + "/clients/" + d.file + ".pem") +
         ",\"key\":" + JsonStr(abs + "/clients/" + d.file + ".key") + "}";
  }
  o += "],\"examples\":{\"resident_code\":" + JsonStr(resident_code) +
       ",\"purpose\":\"board.school_aid\",\"notification_file\":" +
       JsonStr(abs + "/example-notification.json") + "}," +
       demo::NationalJson(dir, national_url) + "}\n";
  // Written whole, then renamed: a script polling for the file never reads half of it.
  const std::string tmp = dir + "/demo.json.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << o;
    if (!out) return Status::IoError("cannot write demo.json");
  }
  std::error_code ec;
  fs::rename(tmp, dir + "/demo.json", ec);
  if (ec) return Status::IoError("cannot write demo.json");
  return Status::Ok();
}

std::string ShellQuote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

void PrintCurls(const std::string& dir, const std::string& address, uint16_t port,
                const std::string& code, const std::string& national_url, std::ostream& out) {
  const std::string abs = fs::absolute(dir).lexically_normal().string();
  const std::string url = "https://" + address + ":" + std::to_string(port);
  const std::string ca = ShellQuote(abs + "/ca/ca.pem");
  auto tls = [&](const char* client) {
    return "--cacert " + ca + " --cert " + ShellQuote(abs + "/clients/" + client + ".pem") +
           " --key " + ShellQuote(abs + "/clients/" + client + ".key");
  };
  out << "\n== 試してください / try it (in another terminal)\n\n"
      << "# 1. 甲府市CSが転居の更新通知を送る / the municipal CS of 甲府市 sends a 転居 "
         "notification\n"
      << "curl -sS " << tls("kofu-cs") << " -H 'content-type: application/json' --data-binary @"
      << ShellQuote(abs + "/example-notification.json") << " " << url << "/v1/notifications\n\n"
      << "# 2. 県教育委員会が利用事由 board.school_aid で照会（その事由の項目だけが返る）\n"
      << "#    the board of education looks the resident up for board.school_aid (only that "
         "purpose's fields)\n"
      << "curl -sS " << tls("board-of-education") << " '" << url << "/v1/residents/" << code
      << "?purpose=board.school_aid'\n\n"
      << "# 3. 登録されていない利用事由は拒否される / a purpose it is not registered for is "
         "refused (403)\n"
      << "curl -sS " << tls("board-of-education") << " '" << url << "/v1/residents/" << code
      << "?purpose=pref.passport'\n\n"
      << "# 4. 運用 / operations: /healthz, /readyz, /metrics, /v1/openapi.json — every port "
         "asks for a registered certificate (here the board's; a monitoring system gets its own)\n"
      << "curl -sS " << tls("board-of-education") << " " << url << "/readyz\n\n";
  demo::PrintNationalCommands(dir, national_url, code, out);
  out << "# 作動停止 / halt: kakunin halt --data " << ShellQuote(abs)
      << " --reason test; kakunin resume --data " << ShellQuote(abs) << "\n\n";
  out.flush();
}

int RunDemo(const std::vector<std::string>& argv, Io& io) {
  int exit = 0;
  auto args = ParseOrHelp(argv,
                          {DataOption(),
                           {"port", "N", "待受ポート / port (default 8443; 0 = any)"},
                           {"residents", "N", "架空住民の数 / fictitious residents (100000)"},
                           {"address", "ADDR", "待受アドレス / address (127.0.0.1)"},
                           {"console-port", "N", "操作者コンソール / console port (8444; 0 = any)"},
                           {"idle-lock-seconds", "N", "無操作ロック / idle lock (300; tests: less)"},
                           {"national-port", "N", "全国サーバ / national node's port (8445; 0 = any)"}},
                          "demo", kDemoHelp, io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "demo", io);
  if (!data) return kExitUsage;
  auto number = [&](const char* name, long def, long lo, long hi) -> std::optional<long> {
    auto v = args->Get(name);
    if (!v) return def;
    char* end = nullptr;
    long n = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || n < lo || n > hi) return std::nullopt;
    return n;
  };
  auto port = number("port", 8443, 0, 65535);
  auto residents = number("residents", 100000, 0, 10000000);
  auto console_port = number("console-port", 8444, 0, 65535);
  auto idle_lock = number("idle-lock-seconds", 300, 1, 300);
  if (!console_port) return Usage(io, "demo", "--console-port must be 0..65535");
  if (!idle_lock) return Usage(io, "demo", "--idle-lock-seconds must be 1..300");
  if (!port) return Usage(io, "demo", "--port must be 0..65535");
  if (!residents) return Usage(io, "demo", "--residents must be 0..10000000");
  // Tests ask for any free port with --port 0: the national node's then too, unless given.
  auto national_port = number("national-port", *port == 0 ? 0 : demo::kDefaultNationalPort, 0,
                              65535);
  if (!national_port) return Usage(io, "demo", "--national-port must be 0..65535");
  const std::string address = args->Get("address").value_or("127.0.0.1");
  const std::string dir = *data;
  if (!fs::exists(dir + "/kakunin.toml")) {
    Status st = PrepareDemo(dir, static_cast<int>(*residents), address, static_cast<int>(*port),
                            static_cast<int>(*console_port), io);
    if (!st.ok()) return FailStart(io, "demo", st);
  } else if (!fs::exists(dir + "/" + kDemoMarker) && !fs::exists(dir + "/demo.json")) {
    // A real node: the demo would print one of its residents' codes and write their record into
    // example-notification.json. Never.
    io.err << "kakunin demo: " << dir
           << " は demo が作成したノードではありません / holds a node that `kakunin demo` did not "
              "make; serve it with `kakunin serve --data DIR`\n";
    return kExitUsage;
  } else {
    io.err << "== 既存のデモノードを起動 / serving the demo node already in " << dir << "\n";
  }
  Status national_ready =
      demo::EnsureNational(dir, address, static_cast<int>(*national_port), io);
  if (!national_ready.ok()) return FailStart(io, "demo", national_ready);
  auto code = WriteExampleNotification(dir);
  if (!code.ok()) return FailStart(io, "demo", code.status());
  auto node = OpenNode(io, dir);
  if (!node.ok()) return FailStart(io, "demo", node.status());
  auto serve_lock = TakeServeLock((*node)->config);
  if (!serve_lock.ok()) return FailStart(io, "demo", serve_lock.status());
  // The national node first, so the prefecture node's link finds it at once; the stop signals
  // are blocked before its threads start, so that only ServeUntilSignal receives them.
  BlockServerSignals();
  std::mutex national_mu;
  auto national = demo::NationalServer::Start(
      dir, address, static_cast<int>(*national_port), io,
      [&io, &national_mu](const std::string& line) {
        std::lock_guard lock(national_mu);
        io.err << "kakunin demo: 全国 / national: " << line << "\n";
        io.err.flush();
      });
  if (!national.ok()) return FailStart(io, "demo", national.status());
  io.err << "kakunin demo: 全国サーバ / national node on " << (*national)->url() << " ("
         << fs::absolute(dir).lexically_normal().string() << "/national)\n";
  // The link runs to the port the national node has now, with the files kakunin.toml names.
  (*node)->config.upstream = demo::Upstream(dir, (*national)->url());
  registry::ServerConfig sc = (*node)->config.server;
  sc.port = static_cast<int>(*port);
  sc.address = address;
  registry::ConsoleConfig console = (*node)->config.console;
  console.present = true;
  console.address = address;
  console.port = static_cast<int>(*console_port);
  console.idle_lock_seconds = static_cast<int>(*idle_lock);
  const int exit_status = ServeUntilSignal(
      **node, sc, io, "demo",
      [&](uint16_t bound, uint16_t console_bound) -> Status {
        const std::string console_url =
            "https://" + console.rp_id + ":" + std::to_string(console_bound);
        KAKUNIN_RETURN_IF_ERROR(
            WriteDemoJson(dir, address, bound, *code, console_url, (*national)->url()));
        if (!code->empty()) PrintCurls(dir, address, bound, *code, (*national)->url(), io.out);
        io.out << "# 操作者コンソール / the operators' console: " << console_url << "/\n"
               << "#   最初の操作者 / first operators: kakunin operator bootstrap --data "
               << ShellQuote(fs::absolute(dir).lexically_normal().string())
               << " --chief chief:県太郎 --access-manager access:県花子\n\n";
        io.out.flush();
        return Status::Ok();
      },
      console);
  // The prefecture node has stopped (its link with it): now the national node.
  Status st = (*national)->Stop();
  std::lock_guard lock(national_mu);
  if (!st.ok()) return Fail(io, "demo", st);
  io.err << "kakunin demo: 全国サーバ停止 / national node stopped\n";
  return exit_status;
}

// ---------------------------------------------------------------------------------------------
// operator

const char kOperatorHelp[] =
    "使い方 / usage: kakunin operator bootstrap --data DIR --chief ID:NAME --access-manager "
    "ID:NAME [--console-url URL]\n"
    "                kakunin operator list --data DIR\n"
    "                kakunin operator recover --data DIR --operator ID [--console-url URL]\n\n"
    "最初のセキュリティ統括責任者とアクセス管理責任者を作成し、一回限りの登録リンクを表示します。\n"
    "Creates the first security chief and access manager on the node's host, each with a one-time\n"
    "enrolment link (24 hours) printed as a JSON line. Works once: after that, operators are made\n"
    "in the console by an access manager, and roles granted with a security chief's approval.\n\n"
    "recover: 全ての認証器・ICカードが失効した操作者に、新しい登録リンクを発行します（操作履歴に記録）。\n"
    "A new enrolment link for an operator whose every card and authenticator is revoked, when\n"
    "no security chief but the one who revoked them could issue it in the console (nobody\n"
    "re-enrols credentials they revoked): the host's user and the chief are two people.\n\n"
    "Example:\n"
    "  kakunin operator bootstrap --data /var/lib/kakunin --chief chief:県太郎 \\\n"
    "      --access-manager access:県花子\n";

int RunOperator(const std::vector<std::string>& argv, Io& io) {
  int exit = 0;
  auto args = ParseOrHelp(argv,
                          {DataOption(),
                           {"chief", "ID:NAME", "セキュリティ統括責任者 / the security chief"},
                           {"access-manager", "ID:NAME", "アクセス管理責任者 / access manager"},
                           {"operator", "ID", "操作者 / the operator (recover)"},
                           {"console-url", "URL", "コンソールのURL / the console's URL"}},
                          "operator", kOperatorHelp, io, &exit);
  if (!args) return exit;
  if (args->positional().size() != 1) return Usage(io, "operator", "give one subcommand");
  auto data = RequireData(*args, "operator", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, "operator", node.status());
  Node& n = **node;
  const std::string sub = args->positional()[0];
  if (sub == "list") {
    auto list = n.reports->Operators();
    if (!list.ok()) return Fail(io, "operator", list.status());
    for (const auto& o : *list) {
      std::string line = "{\"operator_id\":" + JsonStr(o.operator_id) +
                         ",\"name\":" + JsonStr(o.name) + ",\"status\":" + JsonStr(o.status) +
                         ",\"roles\":[";
      for (size_t i = 0; i < o.roles.size(); ++i) line += (i ? "," : "") + JsonStr(o.roles[i]);
      io.out << line << "]}\n";
    }
    return kExitOk;
  }
  if (sub != "bootstrap" && sub != "recover") {
    return Usage(io, "operator", "unknown subcommand '" + Echoable(sub) + "'");
  }
  auto split = [](const std::optional<std::string>& v) -> std::optional<std::pair<std::string, std::string>> {
    if (!v) return std::nullopt;
    size_t colon = v->find(':');
    if (colon == std::string::npos) return std::nullopt;
    return std::pair{v->substr(0, colon), v->substr(colon + 1)};
  };
  auto chief = split(args->Get("chief"));
  auto access = split(args->Get("access-manager"));
  if (sub == "recover" && !args->Get("operator")) {
    return Usage(io, "operator", "recover needs --operator ID");
  }
  if (sub == "bootstrap" && (!chief || !access)) {
    return Usage(io, "operator", "--chief and --access-manager take ID:NAME");
  }
  std::string url = args->Get("console-url").value_or("");
  if (url.empty()) {
    // The demo knows the port it bound; a configured node its [console].
    std::ifstream demo(*data + "/demo.json", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(demo)), std::istreambuf_iterator<char>());
    auto parsed = text::ParseJson(text);
    if (parsed.ok() && parsed->is_object() && parsed->Find("console_url") != nullptr) {
      url = parsed->Find("console_url")->text();
    } else {
      url = "https://" + n.config.console.rp_id + ":" + std::to_string(n.config.console.port);
    }
  }
  if (sub == "recover") {
    auto recovered = n.operators->RecoverEnrolment(*args->Get("operator"), n.actor.id);
    (void)SealLog(n);
    if (!recovered.ok()) return Fail(io, "operator", recovered.status());
    io.out << "{\"operator_id\":" << JsonStr(recovered->operator_id) << ",\"enrolment_url\":"
           << JsonStr(url + "/enrol.html#token=" + recovered->token) << "}\n";
    return kExitOk;
  }
  auto made = n.operators->Bootstrap(chief->first, chief->second, access->first, access->second,
                                     n.actor.id);
  (void)SealLog(n);
  if (!made.ok()) return Fail(io, "operator", made.status());
  for (const auto& e : *made) {
    io.out << "{\"operator_id\":" << JsonStr(e.operator_id)
           << ",\"enrolment_url\":" << JsonStr(url + "/enrol.html#token=" + e.token) << "}\n";
  }
  return kExitOk;
}

}  // namespace

int RunOperatorCommand(const std::vector<std::string>& a, Io& io) { return RunOperator(a, io); }
int RunServeCommand(const std::vector<std::string>& a, Io& io) { return RunServe(a, io); }
int RunHaltCommand(const std::vector<std::string>& a, Io& io) { return RunHalt(a, io); }
int RunResumeCommand(const std::vector<std::string>& a, Io& io) { return RunResume(a, io); }
int RunClientsCommand(const std::vector<std::string>& a, Io& io) { return RunClients(a, io); }
int RunDemoCommand(const std::vector<std::string>& a, Io& io) { return RunDemo(a, io); }

}  // namespace kakunin::cli
