#include "support/pg_server.h"

#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace kakunin::testing {
namespace {

#ifndef KAKUNIN_SOURCE_DIR
#error "KAKUNIN_SOURCE_DIR must be defined"
#endif

std::string Script() { return std::string(KAKUNIN_SOURCE_DIR) + "/tests/support/pg_server.sh"; }

// Single-quotes for the shell (paths and SQL are the tests' own).
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

Result<std::string> Run(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return Status::Internal("popen failed");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = ::pclose(p);
  if (rc != 0) return Status::Internal("command failed: " + command + "\n" + out);
  return out;
}

}  // namespace

std::string TestStoreKind() {
  const char* v = std::getenv("KAKUNIN_TEST_STORE");
  return v != nullptr && std::string(v) == "postgresql" ? "postgresql" : "sqlite";
}

Result<std::unique_ptr<PgServer>> PgServer::Start(const std::vector<std::string>& settings) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "kakunin_pg.XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return Status::IoError("mkdtemp failed");
  std::unique_ptr<PgServer> server(new PgServer(tmpl));
  std::string cmd =
      "bash " + Quote(Script()) + " start " + Quote(tmpl) + " " + std::to_string(::getpid());
  for (const auto& s : settings) cmd += " " + Quote(s);
  auto r = Run(cmd + " 2>&1");
  if (!r.ok()) {
    server->stopped_ = true;
    return r.status();
  }
  return server;
}

PgServer* PgServer::Shared() {
  static PgServer* shared = [] {
    auto s = Start();
    if (!s.ok()) {
      std::fprintf(stderr, "cannot start PostgreSQL: %s\n", s.status().ToString().c_str());
      std::abort();
    }
    PgServer* p = s->release();
    std::atexit([] { delete shared; });
    return p;
  }();
  return shared;
}

PgServer::~PgServer() {
  (void)Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status PgServer::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  auto r = Run("bash " + Quote(Script()) + " stop " + Quote(dir_) + " 2>&1");
  return r.ok() ? Status::Ok() : r.status();
}

Status PgServer::Restart() {
  auto r = Run("bash " + Quote(Script()) + " restart " + Quote(dir_) + " 2>&1");
  if (!r.ok()) return r.status();
  stopped_ = false;  // (a stopped server is started again: the destructor must stop it)
  return Status::Ok();
}

std::string PgServer::Url(const std::string& db, const std::string& schema) const {
  // The socket directory is the server's own temporary directory (its path has no character that
  // needs escaping in a URL: mkdtemp's letters and digits).
  std::string url = "postgresql:///" + db + "?host=" + dir_ + "&user=kakunin";
  if (!schema.empty()) url += "&options=-csearch_path%3D" + schema;
  return url;
}

Result<std::string> PgServer::FreshSchema(const std::string& name) {
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return Status::InvalidArgument("schema name");
    }
  }
  auto r = Psql("DROP SCHEMA IF EXISTS " + name + " CASCADE; CREATE SCHEMA " + name);
  if (!r.ok()) return r.status();
  return Url("postgres", name);
}

Result<std::string> PgServer::Psql(const std::string& sql, const std::string& db,
                                   const std::string& schema) const {
  return Run("psql -X -q -At -v ON_ERROR_STOP=1 " + Quote(Url(db, schema)) + " -c " + Quote(sql) +
             " 2>&1");
}

}  // namespace kakunin::testing
