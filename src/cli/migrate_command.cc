// kakunin migrate-store (issue 13): moves a stopped node's registry between SQLite and
// PostgreSQL. The work is app/'s (through NodeAccess) over registry/migrate_store.h; this file
// reads options and prints tables, counts and digests only.

#include <ostream>

#include "cli/commands.h"
#include "cli/node.h"

namespace kakunin::cli {
namespace {

const char kHelp[] =
    "使い方 / usage:\n"
    "  kakunin migrate-store --data DIR --to postgresql://USER@HOST/DB[?...]\n"
    "  kakunin migrate-store --data DIR --to sqlite | sqlite:PATH | PATH.db\n\n"
    "停止中のノードの登録簿を別の記憶域へ移します（SQLite ⇄ PostgreSQL）。\n"
    "Moves a stopped node's registry to another store: every table of every repository\n"
    "(residents, history, removed residents, the outbox and link state, the operation log with\n"
    "its tree and checkpoints, clients, operators, 外字, media, key-rotation state), in batches\n"
    "(COPY into PostgreSQL; sealed individual numbers stay sealed). Then it checks every table\n"
    "again row for row, opens the target as the node (same keys, its log must extend\n"
    "audit.head), compares the record digests (kakunin stats --digest) and the operation log's\n"
    "size and root, verifies the whole log there, records store.migrate in the target's log, and\n"
    "only then writes the new [database] into kakunin.toml (the old one kept as\n"
    "kakunin.toml.bak). The source is left as it was: remove it once the node runs on\n"
    "the target.\n\n"
    "Refused (nothing changed): a running node, a node that cannot be opened (a key missing, a\n"
    "log not extending audit.head), a target that is not new or empty (a SQLite file that\n"
    "exists, a PostgreSQL database holding rows), a URL that does not parse. When a check\n"
    "fails the configuration is untouched and the target's meta table says why\n"
    "(migrate.failed).\n\n"
    "--to sqlite is registry.db in the data directory; sqlite:PATH and PATH.db are relative to\n"
    "it unless absolute. Keep passwords out of the URL (~/.pgpass): it is written into\n"
    "kakunin.toml as given.\n\n"
    "Examples:\n"
    "  systemctl stop kakunin\n"
    "  kakunin migrate-store --data /var/lib/kakunin \\\n"
    "      --to 'postgresql://kakunin_node@db1,db2/kakunin?target_session_attrs=read-write'\n"
    "  kakunin migrate-store --data /var/lib/kakunin --to sqlite:registry-back.db\n";

}  // namespace

int RunMigrateStoreCommand(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      DataOption(),
      {"to", "TARGET", "移行先 / where to: a PostgreSQL URL, sqlite, sqlite:PATH or PATH.db"},
      {"quiet", "", "進捗を表示しない / no progress lines"}};
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) {
    io.err << "kakunin migrate-store: " << args.status().message() << "\n"
           << "詳しくは / see: kakunin migrate-store --help\n";
    return kExitUsage;
  }
  if (args->help()) {
    io.out << kHelp << "\nOptions:\n" << FormatOptions(specs);
    return kExitOk;
  }
  if (!args->positional().empty()) {
    io.err << "kakunin migrate-store: unexpected argument\n";
    return kExitUsage;
  }
  auto data = RequireData(*args, "migrate-store", io);
  if (!data) return kExitUsage;
  auto to = args->Get("to");
  if (!to || to->empty()) {
    io.err << "kakunin migrate-store: --to TARGET is required\n"
           << "詳しくは / see: kakunin migrate-store --help\n";
    return kExitUsage;
  }
  if (io.nodes == nullptr) {
    io.err << "kakunin migrate-store: no node access\n";
    return kExitRejected;
  }
  const bool quiet = args->Has("quiet");
  registry::MigrationProgress progress = [&](const std::string& line) {
    if (!quiet) io.out << "  " << line << "\n" << std::flush;
  };
  auto report = io.nodes->MigrateStore(*data, *to, progress, {});
  if (!report.ok()) {
    io.err << "kakunin migrate-store: " << report.status().message() << "\n";
    return report.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitRejected;
  }
  io.out << "移行しました / moved: " << report->from_kind << " -> " << report->to_kind << ", "
         << report->tables.size() << " tables, " << report->rows << " rows, " << report->residents
         << " active residents, log " << report->log_size << " entries (root "
         << report->log_root_hex << ") + store.migrate at " << report->entry_seq << "\n"
         << "copy " << report->copy_micros / 1000 << " ms, checks " << report->verify_micros / 1000
         << " ms\n"
         << "以前の設定 / the previous configuration: " << report->config_backup << "\n";
  return kExitOk;
}

}  // namespace kakunin::cli
