#pragma once

// A private PostgreSQL server for tests (issue 13), started by tests/support/pg_server.sh:
// initdb into a temporary directory (as `nobody` when the tests run as root), a unix socket in
// that directory only, fsync on; stopped by the destructor, and by a watchdog if the test process
// dies first. Nothing is configured by hand and no server is left running.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::testing {

class PgServer {
 public:
  // Starts a server with extra settings ("log_statement=all", …).
  static Result<std::unique_ptr<PgServer>> Start(const std::vector<std::string>& settings = {});
  // One server per test process, started on first use and stopped at exit.
  static PgServer* Shared();
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // A libpq URL for database `db` on this server, optionally with its own schema (search_path):
  // tests get a fresh schema each, which is far cheaper than a database.
  std::string Url(const std::string& db = "postgres", const std::string& schema = "") const;
  // Creates a schema (name: letters, digits, _) and returns the URL that uses it.
  Result<std::string> FreshSchema(const std::string& name);
  // Runs SQL through psql as the server's superuser; returns its output (-At: unaligned).
  Result<std::string> Psql(const std::string& sql, const std::string& db = "postgres",
                           const std::string& schema = "") const;
  // Restarts the server (a fast shutdown: connections are cut, as in a failover), or starts it
  // again after Stop.
  Status Restart();
  // Stops the server now (a fast shutdown); the destructor then only removes files.
  Status Stop();

  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/server.log"; }

 private:
  explicit PgServer(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  bool stopped_ = false;
};

// "postgresql" when KAKUNIN_TEST_STORE asks the suites to run on PostgreSQL; "sqlite" otherwise.
std::string TestStoreKind();

}  // namespace kakunin::testing
