#pragma once

// Opening a node's data directory for a command: configuration, key file, database, and
// the registry over them. Every failure is a clear message and changes nothing.

#include <memory>
#include <string>

#include "cli/args.h"
#include "core/clock.h"
#include "audit/log.h"
#include "crypto/field_cipher.h"
#include "registry/config.h"
#include "registry/gateway.h"
#include "registry/operators.h"
#include "registry/purposes.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::cli {

struct Node {
  registry::NodeConfig config;
  std::unique_ptr<store::RegistryStore> store;
  std::unique_ptr<crypto::FieldCipher> cipher;
  SystemClock clock;
  std::unique_ptr<audit::Signer> signer;
  std::unique_ptr<audit::AuditLog> log;
  std::unique_ptr<registry::PurposeCatalogue> purposes;
  std::unique_ptr<registry::Registry> registry;
  std::unique_ptr<registry::Gateway> gateway;  // the use cases for systems (client register)
  std::unique_ptr<registry::OperatorDesk> operators;  // the operator register
  registry::Actor actor;  // the OS user on this host: the CLI's actor in the operation log
};

// Opens the node in `data_dir`: refuses (InvalidArgument, naming the path and the chmod/chown
// that fixes it) a data directory, configuration, key file, signing key or database (and its
// -wal/-shm) that is not owned by the effective user or is open to its group or others; reads
// kakunin.toml, loads the key file, opens the database
// (never creating it) and checks that the key file is the one the database was made with.
// Unless `check_head` is false (audit verify reports it as a finding instead), a log that no
// longer extends <data>/audit.head is refused.
// With `config_file`, the configuration is read from it instead of <data_dir>/kakunin.toml, and
// `data_dir` is the file's directory.
Result<std::unique_ptr<Node>> OpenNode(const std::string& data_dir, bool check_head = true,
                                       const std::string& config_file = "");

// Creates a node in `data_dir` (made if missing): configuration, key file (unless
// `key_file` names an existing one), database with its schema, and metadata. Refuses to
// touch a directory that already holds a node.
Status InitNode(const std::string& data_dir, int prefecture, const std::string& key_file);

// Signs a checkpoint if the log grew, and keeps the newest signed checkpoint outside the
// database too (<data>/audit.head): a database whose log no longer extends it is refused at
// the next open. Called at the end of every command that wrote to the log.
Status SealLog(Node& node);

// Checks that the log in the database extends `checkpoint_json` (same root at its size).
Status CheckLogExtends(Node& node, const std::string& checkpoint_json, const char* what);

// The --data option every node command takes.
OptionSpec DataOption();
// Reads --data or prints a usage error for `command`.
std::optional<std::string> RequireData(const Args& args, const char* command, Io& io);

}  // namespace kakunin::cli
