#pragma once

// A node as the commands see it: the use cases over its data directory, and nothing of how they
// are stored (DESIGN §3: cli/ never touches the store). app/ opens and creates nodes (app/node.h)
// and hands the commands a NodeAccess through Io.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/metrics.h"
#include "api/service.h"
#include "cli/args.h"
#include "cli/keys.h"
#include "core/clock.h"
#include "core/file.h"
#include "registry/audit_desk.h"
#include "registry/backup.h"
#include "registry/config.h"
#include "registry/disclosure.h"
#include "registry/field_key_rotation.h"
#include "registry/gaiji.h"
#include "registry/gateway.h"
#include "registry/host_reports.h"
#include "registry/media.h"
#include "registry/migrate_store.h"
#include "registry/national.h"
#include "registry/operators.h"
#include "registry/purposes.h"
#include "registry/registers.h"
#include "registry/registry.h"
#include "registry/write_queue.h"

namespace kakunin::cli {

// An open node. app/ fills it in and owns what lies beneath (the database, keys, signer); the
// pointers here stay valid for the node's lifetime.
struct Node {
  virtual ~Node() = default;

  registry::NodeConfig config;
  SystemClock clock;
  std::unique_ptr<registry::PurposeCatalogue> purposes;
  std::unique_ptr<registry::Registry> registry;
  std::unique_ptr<registry::Gateway> gateway;         // the use cases for systems (client register)
  std::unique_ptr<registry::OperatorDesk> operators;  // the operator register
  std::unique_ptr<registry::AuditDesk> audit;         // the operation log: checks, proofs, search
  std::unique_ptr<registry::HostReports> reports;     // counts and registers for the host
  std::unique_ptr<registry::GaijiRegister> gaiji;     // the 外字 register
  std::unique_ptr<registry::NodeBackup> backup;       // backups
  std::unique_ptr<registry::MediaDesk> media;         // the media register
  std::unique_ptr<registry::LinkOutbox> outbox;       // the link's sending side (prefecture)
  std::unique_ptr<registry::NationalDesk> national;   // forwarded changes (national node only)
  // Residents' disclosure and correction requests, the printout register (prefecture only).
  std::unique_ptr<registry::DisclosureDesk> disclosures;
  // The staff's registers: training, contractors, reviews (registry/registers.h).
  std::unique_ptr<registry::RegisterDesk> registers;
  registry::Actor actor;  // the OS user on this host: the CLI's actor in the operation log

  // Signs a checkpoint if the log grew, and keeps the newest signed checkpoint outside the
  // database too (<data>/audit.head): a database whose log no longer extends it is refused at
  // the next open. Called at the end of every command that wrote to the log.
  virtual Status Seal() = 0;
  // Keeps the newest signed checkpoint in audit.head without signing one, once the committed
  // log is found to extend it (the serving node's timer, after its checkpoint).
  virtual Status KeepHead() = 0;
  // A group-committing write queue over the node's database (NodeServer).
  virtual std::unique_ptr<registry::WriteQueue> NewWriteQueue(size_t max_batch) = 0;
  // The field-key rotation job over the node's database (docs/keys.md); nullptr unless the key
  // file holds older field keys besides the current one.
  virtual std::unique_ptr<registry::FieldKeyRotation> NewFieldKeyRotation() { return nullptr; }
  // Reads the key file again and takes its field keys (serve's SIGHUP after `kakunin keys
  // rotate-field-key`); returns how many field keys are loaded now.
  virtual Result<size_t> ReloadFieldKeys() { return Status::FailedPrecondition("this node cannot reload its keys"); }
};

// A node on the network (both listeners), as the serve and demo commands see it; implemented by
// app/ (app::NodeServer).
class RunningServer {
 public:
  virtual ~RunningServer() = default;
  virtual uint16_t port() const = 0;
  virtual uint16_t console_port() const = 0;  // 0 without a console
  // Re-reads the TLS files (certificate, key, CA, CRL) for new handshakes (SIGHUP).
  virtual Status ReloadTls() = 0;
  // Stops gracefully: requests in flight finish, then a checkpoint is signed.
  virtual Status Stop() = 0;
};

struct ServeOptions {
  // Gets one line, without personal data, for what happens in the background (a reload of the
  // TLS files, a checkpoint that could not be signed); called from any thread, one call at a
  // time. Empty: standard error.
  std::function<void(const std::string&)> report;
};

// How commands open, create and serve nodes; implemented by app/ (app::NodeAccess).
class NodeAccess {
 public:
  virtual ~NodeAccess() = default;
  // The node's keys for `kakunin keys` (cli/keys.h); nullptr where there is no such access.
  virtual const KeyAccess* keys() const { return nullptr; }

  // Opens the node in `data_dir`: refuses (InvalidArgument, naming the path and the chmod/chown
  // that fixes it) a data directory, configuration, key file, signing key or database (and its
  // -wal/-shm) that is not owned by the effective user or is open to its group or others; reads
  // kakunin.toml, loads the key file, opens the database (never creating it) and checks that
  // the key file is the one the database was made with. Unless `check_head` is false (audit
  // verify reports it as a finding instead), a log that no longer extends <data>/audit.head is
  // refused. With `config_file`, the configuration is read from it instead of
  // <data_dir>/kakunin.toml, and `data_dir` is the file's directory.
  virtual Result<std::unique_ptr<Node>> Open(const std::string& data_dir, bool check_head,
                                             const std::string& config_file) const = 0;

  // Creates a node in `data_dir` (made if missing): configuration, key file (unless `key_file`
  // names an existing one), database with its schema, and metadata. Refuses to touch a
  // directory that already holds a node. With `database_url` (a libpq URL) the registry is on
  // PostgreSQL ([database] kind = "postgresql"), in a database that holds no node yet.
  virtual Status Init(const std::string& data_dir, int prefecture, const std::string& key_file,
                      const std::string& database_url) const = 0;

  // Writes `config` as <data_dir>/kakunin.toml, replacing it (kakunin demo adds [server]).
  virtual Status WriteConfig(const std::string& data_dir,
                             const registry::NodeConfig& config) const = 0;

  // Serves `node` (which must outlive the server) as `config` and `console` say; port 0 takes any
  // free port; the access log goes to `access_log` (not owned; nullptr: none). On an error
  // nothing is left running and the node is as it was.
  // Every problem of the configuration `config_file` at once (kakunin config check): syntax,
  // unknown keys, wrong types, missing or unreadable files, permissions, ports. Relative paths
  // resolve against `data_dir`. Empty: none found.
  virtual std::vector<std::string> CheckConfig(const std::string& config_file,
                                               const std::string& data_dir) const {
    (void)config_file;
    (void)data_dir;
    return {"configuration checks are not available in this program"};
  }

  virtual Result<std::unique_ptr<RunningServer>> Serve(Node& node,
                                                       const registry::ServerConfig& config,
                                                       std::FILE* access_log,
                                                       const registry::ConsoleConfig& console,
                                                       const ServeOptions& options) const = 0;

  // Checking and restoring backups, which needs no open node (kakunin backup verify, restore).
  // nullptr where the program cannot (a NodeAccess without storage).
  virtual std::unique_ptr<registry::BackupDesk> NewBackupDesk() const { return nullptr; }

  // Moves the stopped node in `data_dir` to another store (kakunin migrate-store; see
  // app/migrate_store.h), then switches its configuration.
  virtual Result<registry::MigrationReport> MigrateStore(
      const std::string& data_dir, const std::string& to,
      const registry::MigrationProgress& progress, const registry::MigrationHooks& hooks) const {
    (void)data_dir, (void)to, (void)progress, (void)hooks;
    return Status::FailedPrecondition("this program cannot move a node's store");
  }
};

// io.nodes->Open / Init; FailedPrecondition when the Io carries no NodeAccess.
Result<std::unique_ptr<Node>> OpenNode(const Io& io, const std::string& data_dir,
                                       bool check_head = true, const std::string& config_file = "");
Status InitNode(const Io& io, const std::string& data_dir, int prefecture,
                const std::string& key_file, const std::string& database_url = "");

// node.Seal(), for callers that hold a node (NodeServer::Stop).
inline Status SealLog(Node& node) { return node.Seal(); }

// Holds the node's serve lock (registry::ServeLockPath; nothing for PostgreSQL) until the
// descriptor closes: `serve` and `demo` while they serve, and the key commands that need the
// node stopped while they run. FailedPrecondition if another process holds it.
Result<FileDescriptor> TakeServeLock(const registry::NodeConfig& config);

// The --data option every node command takes.
OptionSpec DataOption();
// Reads --data or prints a usage error for `command`.
std::optional<std::string> RequireData(const Args& args, const char* command, Io& io);

}  // namespace kakunin::cli
