#pragma once

// Wiring (DESIGN §3): opening and creating a node's data directory — configuration, key file,
// signing key, database — and building the use cases over them. The commands reach this through
// cli::NodeAccess; tests and tools that need the store beneath a node use app::Node directly.
// Every failure is a clear message and changes nothing.

#include <memory>
#include <string>

#include "audit/log.h"
#include "audit/signer.h"
#include "cli/node.h"
#include "crypto/field_cipher.h"
#include "store/registry_store.h"

namespace kakunin::app {

// A node opened by OpenNode: the use cases (cli::Node) and what they stand on.
struct Node : cli::Node {
  ~Node() override;

  std::unique_ptr<store::RegistryStore> store;
  std::unique_ptr<crypto::FieldCipher> cipher;
  std::unique_ptr<audit::Signer> signer;
  std::unique_ptr<audit::AuditLog> log;

  Status Seal() override;
  std::unique_ptr<registry::WriteQueue> NewWriteQueue(size_t max_batch) override;
};

// See cli::NodeAccess::Open.
Result<std::unique_ptr<Node>> OpenNode(const std::string& data_dir, bool check_head = true,
                                       const std::string& config_file = "");

// See cli::NodeAccess::Init.
Status InitNode(const std::string& data_dir, int prefecture, const std::string& key_file,
                const std::string& database_url = "");

// See cli::Node::Seal.
Status SealLog(Node& node);

// See cli::NodeAccess::WriteConfig.
Status WriteNodeConfig(const std::string& data_dir, const registry::NodeConfig& config);

// The real thing, for the commands (app/main.cc, tests that run commands in-process).
class NodeAccess : public cli::NodeAccess {
 public:
  Result<std::unique_ptr<cli::Node>> Open(const std::string& data_dir, bool check_head,
                                          const std::string& config_file) const override;
  Status Init(const std::string& data_dir, int prefecture, const std::string& key_file,
              const std::string& database_url) const override;
  Status WriteConfig(const std::string& data_dir,
                     const registry::NodeConfig& config) const override;
  Result<std::unique_ptr<cli::RunningServer>> Serve(
      cli::Node& node, const registry::ServerConfig& config, std::FILE* access_log,
      const registry::ConsoleConfig& console, const cli::ServeOptions& options) const override;
};

}  // namespace kakunin::app
