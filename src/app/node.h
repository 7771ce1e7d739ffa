#pragma once

// Wiring (DESIGN §3): opening and creating a node's data directory — configuration, key file,
// signing key, database — and building the use cases over them. The commands reach this through
// cli::NodeAccess; tests and tools that need the store beneath a node use app::Node directly.
// Every failure is a clear message and changes nothing.

#include <memory>
#include <string>
#include <vector>

#include "audit/log.h"
#include "audit/signer.h"
#include "cli/node.h"
#include "crypto/field_cipher.h"
#include "crypto/pkcs11.h"
#include "store/registry_store.h"

namespace kakunin::app {

// A node opened by OpenNode: the use cases (cli::Node) and what they stand on.
struct Node : cli::Node {
  ~Node() override;

  std::unique_ptr<store::RegistryStore> store;
  std::unique_ptr<crypto::FieldCipher> cipher;
  // The PKCS#11 token of [hsm] (docs/keys.md), if any; the signer may use it, so it goes last.
  std::shared_ptr<crypto::Pkcs11Token> token;
  std::unique_ptr<audit::Signer> signer;
  std::unique_ptr<audit::AuditLog> log;

  Status Seal() override;
  Status KeepHead() override;
  std::unique_ptr<registry::WriteQueue> NewWriteQueue(size_t max_batch) override;
  std::unique_ptr<registry::FieldKeyRotation> NewFieldKeyRotation() override;
  Result<size_t> ReloadFieldKeys() override;
};

// See cli::NodeAccess::Open.
Result<std::unique_ptr<Node>> OpenNode(const std::string& data_dir, bool check_head = true,
                                       const std::string& config_file = "");

// See cli::NodeAccess::Init.
Status InitNode(const std::string& data_dir, int prefecture, const std::string& key_file,
                const std::string& database_url = "");

// See cli::Node::Seal.
Status SealLog(Node& node);
// Keeps the newest stored checkpoint outside the database (audit.head), once the committed log
// is found to extend it; SealLog signs one first. The serving node calls it from its timer, so
// that a log cut back behind it is refused at the next start, by verify, and by the signer.
Status KeepHead(Node& node);

// See cli::NodeAccess::WriteConfig.
Status WriteNodeConfig(const std::string& data_dir, const registry::NodeConfig& config);

// The real thing, for the commands (app/main.cc, tests that run commands in-process).
class NodeAccess : public cli::NodeAccess {
 public:
  const cli::KeyAccess* keys() const override;
  Result<std::unique_ptr<cli::Node>> Open(const std::string& data_dir, bool check_head,
                                          const std::string& config_file) const override;
  Status Init(const std::string& data_dir, int prefecture, const std::string& key_file,
              const std::string& database_url) const override;
  Status WriteConfig(const std::string& data_dir,
                     const registry::NodeConfig& config) const override;
  std::vector<std::string> CheckConfig(const std::string& config_file,
                                       const std::string& data_dir) const override;
  Result<std::unique_ptr<cli::RunningServer>> Serve(
      cli::Node& node, const registry::ServerConfig& config, std::FILE* access_log,
      const registry::ConsoleConfig& console, const cli::ServeOptions& options) const override;
  std::unique_ptr<registry::BackupDesk> NewBackupDesk() const override;
  // app/migrate_store.cc
  Result<registry::MigrationReport> MigrateStore(
      const std::string& data_dir, const std::string& to,
      const registry::MigrationProgress& progress,
      const registry::MigrationHooks& hooks) const override;
};

}  // namespace kakunin::app
