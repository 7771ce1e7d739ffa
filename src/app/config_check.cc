#include "app/config_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "app/config.h"
#include "app/node.h"
#include "core/file.h"

namespace kakunin::app {
namespace {

using Path = std::vector<std::string>;

// Problems in the order found, each once (a misspelt table yields one message per key in it).
class Problems {
 public:
  void Add(const std::string& p) {
    if (seen_.insert(p).second) list_.push_back(p);
  }
  std::vector<std::string> Take() { return std::move(list_); }

 private:
  std::set<std::string> seen_;
  std::vector<std::string> list_;
};

// Every leaf of `t` (a value that is not a table, or an empty table), with its path.
void Leaves(toml::table& t, Path& prefix, std::vector<std::pair<Path, toml::node*>>* out) {
  for (auto& [k, v] : t) {
    prefix.emplace_back(k.str());
    if (v.is_table() && !v.as_table()->empty()) {
      Leaves(*v.as_table(), prefix, out);
    } else {
      out->emplace_back(prefix, &v);
    }
    prefix.pop_back();
  }
}

// Puts `value` at `path` in `t`, making (or replacing by) tables on the way.
void Put(toml::table& t, const Path& path, const toml::node& value) {
  toml::table* at = &t;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    toml::node* next = at->get(path[i]);
    if (!next || !next->is_table()) {
      at->insert_or_assign(path[i], toml::table{});
      next = at->get(path[i]);
    }
    at = next->as_table();
  }
  value.visit([&](const auto& v) { at->insert_or_assign(path.back(), v); });
}

// Removes the value at `path`, and the tables that held only it (an empty
// [quotas.purpose."bad id"] left behind would repeat the problem).
void Erase(toml::table& t, const Path& path, size_t from = 0) {
  if (from + 1 == path.size()) {
    t.erase(path[from]);
    return;
  }
  toml::node* next = t.get(path[from]);
  if (!next || !next->is_table()) return;
  Erase(*next->as_table(), path, from + 1);
  if (next->as_table()->empty()) t.erase(path[from]);
}

std::string Text(const toml::table& t) {
  std::ostringstream s;
  s << t;
  return s.str();
}

std::string Strip(const std::string& message) {
  // ParseNodeConfig's messages start with "config: "; the checker prints the file instead.
  return message.rfind("config: ", 0) == 0 ? message.substr(8) : message;
}

// A file or directory only the node's user may use (app/node.cc refuses anything else).
void CheckPrivate(const std::string& what, const std::string& path, bool directory,
                  bool must_exist, Problems& problems) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (must_exist) problems.Add(what + " " + path + " does not exist");
    return;
  }
  if (directory != S_ISDIR(st.st_mode)) {
    problems.Add(what + " " + path + (directory ? " is not a directory" : " is not a file"));
    return;
  }
  if (st.st_uid != ::geteuid()) {
    problems.Add(what + " " + path + " belongs to uid " + std::to_string(st.st_uid) +
                 ", not to the user running kakunin (uid " + std::to_string(::geteuid()) +
                 "): check as the node's service user, or chown it to that user");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    problems.Add(what + " " + path + " is open to other users (mode " + mode + "): run `chmod " +
                 (directory ? "700 " : "600 ") + path + "`");
  }
}

void CheckReadable(const std::string& what, const std::string& path, Problems& problems) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    problems.Add(what + " " + path + " does not exist");
  } else if (!S_ISREG(st.st_mode)) {
    problems.Add(what + " " + path + " is not a file");
  } else if (::access(path.c_str(), R_OK) != 0) {
    problems.Add(what + " " + path + " cannot be read by the user running kakunin");
  }
}

// Whether `address`:`port` can be bound now: a port another process holds, an address that is
// not this host's or a privileged port are found before the service fails to start.
void CheckListener(const std::string& what, const std::string& address, int port,
                   Problems& problems) {
  if (port == 0) return;  // any free port: nothing to check
  if (port < 1024) {
    problems.Add(what + ".port " + std::to_string(port) +
                 " is below 1024: the packaged service runs without CAP_NET_BIND_SERVICE; use a "
                 "port from 1024 up");
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v6;
  } else {
    problems.Add(what + ".address " + address + " is not an IPv4 or IPv6 address");
    return;
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const std::string where = address + ":" + std::to_string(port);
    if (errno == EADDRINUSE) {
      problems.Add(what + ": " + where +
                   " is in use (by another program, or by this node's running server)");
    } else if (errno == EADDRNOTAVAIL) {
      problems.Add(what + ".address " + address + " is not an address of this host");
    } else if (errno == EACCES) {
      problems.Add(what + ": " + where + " needs privileges the user running kakunin lacks");
    } else {
      problems.Add(what + ": cannot listen on " + where);
    }
  }
  ::close(fd);
}

// The checks that need the whole, valid configuration: files and ports.
void CheckResources(const registry::NodeConfig& c, const std::set<std::string>& absent,
                    Problems& problems) {
  CheckPrivate("the data directory", c.data_dir, true, true, problems);
  CheckPrivate("key_file", c.key_file, false, true, problems);
  // No file once the signing key was moved onto the token (the rotation destroys it).
  CheckPrivate("signing_key", c.signing_key, false,
               !(c.hsm && !c.hsm->signing_key_label.empty()), problems);
  CheckPrivate("database", c.database_path, false, true, problems);
  CheckPrivate("database", c.database_path + "-wal", false, false, problems);
  CheckPrivate("database", c.database_path + "-shm", false, false, problems);
  if (!c.purposes_file.empty()) CheckReadable("purposes", c.purposes_file, problems);
  if (c.server.present) {
    const registry::ServerConfig& s = c.server;
    if (!absent.count("certificate")) CheckReadable("server.certificate", s.certificate, problems);
    if (!absent.count("client_ca")) CheckReadable("server.client_ca", s.client_ca, problems);
    if (!s.crl.empty()) CheckReadable("server.crl", s.crl, problems);
    if (!absent.count("key")) {
      CheckReadable("server.key", s.key, problems);
      CheckPrivate("server.key", s.key, false, false, problems);
    }
    if (s.access_log != "-") {
      std::string dir = s.access_log.substr(0, s.access_log.find_last_of('/'));
      if (dir.empty()) dir = "/";
      if (::access(s.access_log.c_str(), F_OK) == 0
              ? ::access(s.access_log.c_str(), W_OK) != 0
              : ::access(dir.c_str(), W_OK) != 0) {
        problems.Add("server.access_log " + s.access_log +
                     " cannot be written by the user running kakunin");
      }
    }
    CheckListener("server", s.address, s.port, problems);
  }
  if (c.console.present) {
    const registry::ConsoleConfig& k = c.console;
    if (!k.web_dir.empty()) {
      CheckReadable("console.web_dir", k.web_dir + "/index.html", problems);
    }
    if (c.server.present && k.port != 0 && k.port == c.server.port &&
        (k.address == c.server.address || k.address == "0.0.0.0" || k.address == "::" ||
         c.server.address == "0.0.0.0" || c.server.address == "::")) {
      problems.Add("console.port " + std::to_string(k.port) + " is server.port too: give each "
                   "listener its own port");
    } else {
      CheckListener("console", k.address, k.port, problems);
    }
  }
}

}  // namespace

std::vector<std::string> CheckNodeConfigFile(const std::string& config_file,
                                             const std::string& data_dir) {
  Problems problems;
  struct stat st;
  if (::stat(config_file.c_str(), &st) != 0) {
    problems.Add(config_file + " does not exist (kakunin init writes one)");
    return problems.Take();
  }
  if (!S_ISREG(st.st_mode)) {
    // A directory threw from the stream, a FIFO blocked for ever (found in review).
    problems.Add(config_file + " is not a regular file");
    return problems.Take();
  }
  CheckPrivate("the configuration", config_file, false, true, problems);
  auto read = ReadFileAtMost(config_file, kMaxNodeConfigBytes);
  if (!read.ok()) {
    problems.Add(config_file + " cannot be read (" + read.status().message() + ")");
    return problems.Take();
  }
  const std::string& text = *read;
  if (text.size() > 64 * 1024) {
    problems.Add(config_file + " is larger than 64 KiB");
    return problems.Take();
  }
  // Syntax first: without a document there is nothing more to check.
  toml::table doc;
  try {
    doc = toml::parse(text);
  } catch (const toml::parse_error& err) {
    problems.Add("syntax error at line " + std::to_string(err.source().begin.line) + ": " +
                 std::string(err.description()));
    return problems.Take();
  }

  // A valid base each key is tried over: the file's role and prefecture when they are valid.
  toml::table base;
  {
    toml::table head;
    if (auto* r = doc.get("role")) Put(head, {"role"}, *r);
    if (auto* p = doc.get("prefecture")) Put(head, {"prefecture"}, *p);
    auto parsed = ParseNodeConfig(Text(head), data_dir);
    if (parsed.ok()) {
      base = head;
    } else {
      problems.Add(Strip(parsed.status().message()));
      base.insert_or_assign("role", "prefecture");
      base.insert_or_assign("prefecture", 1);
    }
  }
  // [server]'s required keys are checked once, below; every other key is tried over a [server]
  // that has them ([console] needs one).
  const bool server_table = doc.get("server") && doc.get("server")->is_table();
  bool server_complete = server_table;
  if (server_table) {
    for (const char* key : {"certificate", "key", "client_ca"}) {
      if (!doc.get("server")->as_table()->get(key)) {
        problems.Add(std::string("server.") + key + " is required");
        server_complete = false;
      }
    }
  }
  if (doc.get("console") && !doc.get("server")) {
    problems.Add("[console] needs [server] (its certificate)");
  }
  toml::table keyed_base = base;
  for (const char* key : {"certificate", "key", "client_ca"}) {
    Put(keyed_base, {"server", key}, toml::value<std::string>("placeholder"));
  }

  std::vector<std::pair<Path, toml::node*>> leaves;
  Path prefix;
  Leaves(doc, prefix, &leaves);
  toml::table repaired = doc;
  for (const auto& [path, node] : leaves) {
    if (path.size() == 1 && (path[0] == "role" || path[0] == "prefecture")) continue;
    toml::table one = keyed_base;
    Put(one, path, *node);
    auto parsed = ParseNodeConfig(Text(one), data_dir);
    if (!parsed.ok() && path.size() >= 2) {
      // A key of a table with required keys ([upstream], [database], [hsm]) cannot stand alone:
      // it is fine if it parses beside its table's other keys.
      toml::table with_siblings = keyed_base;
      for (const auto& [other, value] : leaves) {
        if (other.size() >= 2 && other[0] == path[0]) Put(with_siblings, other, *value);
      }
      auto together = ParseNodeConfig(Text(with_siblings), data_dir);
      if (together.ok()) parsed = std::move(together);
    }
    if (!parsed.ok()) {
      problems.Add(Strip(parsed.status().message()));
      Erase(repaired, path);
    }
  }
  repaired.insert_or_assign("role", *base.get("role")->value<std::string>());
  if (auto p = base.get("prefecture")) {
    repaired.insert_or_assign("prefecture", *p->value<int64_t>());
  } else {
    repaired.erase("prefecture");
  }
  // A [server] lacking a required key still has its other files and its port checked; the
  // missing key (reported above) gets a stand-in that is not checked.
  std::set<std::string> absent;
  if (server_table && !server_complete) {
    for (const char* key : {"certificate", "key", "client_ca"}) {
      if (!doc.get("server")->as_table()->get(key)) {
        Put(repaired, {"server", key}, toml::value<std::string>("placeholder"));
        absent.insert(key);
      }
    }
  }
  if (!doc.get("server") || !doc.get("server")->is_table()) repaired.erase("console");
  // What is left is valid key by key; the files and ports it names are checked as a whole.
  auto config = ParseNodeConfig(Text(repaired), data_dir);
  if (!config.ok()) {
    problems.Add(Strip(config.status().message()));
    return problems.Take();
  }
  CheckResources(*config, absent, problems);
  return problems.Take();
}

// Here rather than in node.cc: the check is this file's, NodeAccess only hands it to the CLI.
std::vector<std::string> NodeAccess::CheckConfig(const std::string& config_file,
                                                 const std::string& data_dir) const {
  return CheckNodeConfigFile(config_file, data_dir);
}

}  // namespace kakunin::app
