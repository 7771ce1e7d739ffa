// `kakunin --version` and `kakunin config check`.

#include <ostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/node.h"

#ifndef KAKUNIN_VERSION
#define KAKUNIN_VERSION "unknown"
#endif

namespace kakunin::cli {
namespace {

// The packaged node (debian/): its data directory, whose kakunin.toml is a link to
// /etc/kakunin/kakunin.toml.
constexpr char kPackagedDataDir[] = "/var/lib/kakunin";

const char kConfigHelp[] =
    "使い方 / usage: kakunin config check [--data DIR | --config FILE [--data DIR]]\n\n"
    "設定ファイルの問題をすべて一度に報告します（構文、未知のキー、型、ファイルの有無と権限、ポート）。\n"
    "Reports every problem of a node's kakunin.toml at once: syntax, unknown keys, wrong types\n"
    "and ranges, files that are missing, unreadable or open to other users, and ports that are\n"
    "taken, privileged or shared by both listeners. Exit status 0 none, 1 some, 2 usage.\n"
    "With --data only: DIR/kakunin.toml. With --config: FILE, its relative paths resolved\n"
    "against --data (default: FILE's directory, as `kakunin serve --config` does). With neither:\n"
    "the packaged node, /var/lib/kakunin. Run it as the node's service user: the permissions\n"
    "checked are that user's.\n\n"
    "Example:\n"
    "  runuser -u kakunin -- kakunin config check --data /var/lib/kakunin\n";

int Usage(Io& io, const std::string& msg) {
  io.err << "kakunin config: " << msg << "\n詳しくは / see: kakunin config --help\n";
  return kExitUsage;
}

}  // namespace

const char* Version() { return KAKUNIN_VERSION; }

int RunConfigCommand(const std::vector<std::string>& argv, Io& io) {
  const std::vector<OptionSpec> specs = {
      {"config", "FILE", "設定ファイル / the configuration file"},
      {"data", "DIR", "データディレクトリ / the node's data directory"}};
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Usage(io, args.status().message());
  if (args->help()) {
    io.out << kConfigHelp << "\nOptions:\n" << FormatOptions(specs);
    return kExitOk;
  }
  if (args->positional().size() != 1 || args->positional()[0] != "check") {
    return Usage(io, "give the subcommand: check");
  }
  if (!io.nodes) return Usage(io, "no node access in this program");
  std::string file, dir;
  if (auto config = args->Get("config")) {
    file = *config;
    if (auto data = args->Get("data")) {
      dir = *data;
    } else {
      // As `kakunin serve --config` does: the file's directory.
      const size_t slash = file.find_last_of('/');
      if (slash == std::string::npos) {
        dir = ".";
      } else if (slash == 0) {
        dir = "/";
      } else {
        dir.assign(file, 0, slash);
      }
    }
  } else {
    dir = args->Get("data").value_or(kPackagedDataDir);
    file = dir + "/kakunin.toml";
  }
  const std::vector<std::string> problems = io.nodes->CheckConfig(file, dir);
  for (const std::string& p : problems) io.out << file << ": " << p << "\n";
  if (problems.empty()) {
    io.out << file << ": ok\n";
    return kExitOk;
  }
  io.out << file << ": " << problems.size() << (problems.size() == 1 ? " problem" : " problems")
         << "\n";
  return kExitRejected;
}

}  // namespace kakunin::cli
