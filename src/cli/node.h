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
  std::unique_ptr<registry::Registry> registry;
  registry::Actor actor;  // the OS user on this host: the CLI's actor in the operation log
};

// Opens the node in `data_dir`: reads kakunin.toml, loads the key file, opens the database
// (never creating it) and checks that the key file is the one the database was made with.
Result<std::unique_ptr<Node>> OpenNode(const std::string& data_dir);

// Creates a node in `data_dir` (made if missing): configuration, key file (unless
// `key_file` names an existing one), database with its schema, and metadata. Refuses to
// touch a directory that already holds a node.
Status InitNode(const std::string& data_dir, int prefecture, const std::string& key_file);

// The --data option every node command takes.
OptionSpec DataOption();
// Reads --data or prints a usage error for `command`.
std::optional<std::string> RequireData(const Args& args, const char* command, Io& io);

}  // namespace kakunin::cli
