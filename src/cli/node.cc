#include "cli/node.h"

namespace kakunin::cli {

Result<std::unique_ptr<Node>> OpenNode(const Io& io, const std::string& data_dir, bool check_head,
                                       const std::string& config_file) {
  if (io.nodes == nullptr) return Status::FailedPrecondition("no node access in this program");
  return io.nodes->Open(data_dir, check_head, config_file);
}

Status InitNode(const Io& io, const std::string& data_dir, int prefecture,
                const std::string& key_file, const std::string& database_url) {
  if (io.nodes == nullptr) return Status::FailedPrecondition("no node access in this program");
  return io.nodes->Init(data_dir, prefecture, key_file, database_url);
}

Result<FileDescriptor> TakeServeLock(const registry::NodeConfig& config) {
  const std::string path = registry::ServeLockPath(config);
  if (path.empty()) return FileDescriptor();
  auto held = LockFile(path, /*wait=*/false);
  if (!held.ok() && held.status().reason() == "locked") {
    return Status::FailedPrecondition(
        "このデータベースは別のプロセス（kakunin serve、demo 又は鍵の操作）が使用中です / the "
        "database is in use by another process (kakunin serve, demo, or a key command)");
  }
  return held;
}

OptionSpec DataOption() {
  return {"data", "DIR", "ノードのデータディレクトリ / the node's data directory (required)"};
}

std::optional<std::string> RequireData(const Args& args, const char* command, Io& io) {
  auto d = args.Get("data");
  if (!d || d->empty()) {
    io.err << "kakunin " << command << ": --data DIR is required\n"
           << "詳しくは / see: kakunin " << command << " --help\n";
    return std::nullopt;
  }
  return d;
}

}  // namespace kakunin::cli
