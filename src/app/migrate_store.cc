#include "app/migrate_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/config.h"
#include "app/node.h"
#include "core/bytes.h"
#include "store/pg/copy.h"
#include "store/pg/pg_registry_store.h"
#include "store/sqlite/backup.h"
#include "store/sqlite/export.h"
#include "store/sqlite/sqlite_registry_store.h"

namespace kakunin::app {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBatchRows = 2000;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A TOML basic string.
std::string TomlQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Trimmed(const std::string& line) {
  size_t b = line.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = line.find_last_not_of(" \t\r");
  return line.substr(b, e - b + 1);
}

bool IsHeader(const std::string& t) { return !t.empty() && t[0] == '['; }

bool IsDatabaseHeader(const std::string& t) {
  if (t.rfind("[database]", 0) != 0) return false;
  std::string rest = Trimmed(t.substr(10));
  return rest.empty() || rest[0] == '#';
}

bool IsDatabaseKey(const std::string& t) {
  if (t.rfind("database", 0) != 0) return false;
  std::string rest = Trimmed(t.substr(8));
  return !rest.empty() && rest[0] == '=';
}

Status WritePrivateFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot write " + path);
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open the data directory");
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Status::IoError("cannot sync the data directory");
}

Result<std::unique_ptr<store::TableStore>> OpenTables(const std::string& kind,
                                                      const std::string& where) {
  if (kind == "postgresql") return store::pg::OpenTableStore(where);
  return store::sqlite::OpenTableStore(where);
}

// Best effort: the target keeps what was copied, and says why it is not the node's store.
void MarkFailed(const registry::StoreLocation& to, const std::string& why) {
  auto s = to.kind == "postgresql" ? store::pg::OpenRegistryStore(to.url, /*create=*/false)
                                   : store::sqlite::OpenRegistryStore(to.path, /*create=*/false);
  if (s.ok()) (void)(*s)->SetMeta("migrate.failed", why);
}

}  // namespace

std::string WithDatabase(const std::string& toml, const registry::StoreLocation& to) {
  std::istringstream in(toml);
  std::string line, out;
  bool top_level = true, in_database = false;
  while (std::getline(in, line)) {
    const std::string t = Trimmed(line);
    if (IsHeader(t)) {
      top_level = false;
      in_database = IsDatabaseHeader(t);
      if (in_database) continue;
    }
    if (in_database) continue;
    if (top_level && IsDatabaseKey(t)) continue;
    out += line + "\n";
  }
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') {
    out.pop_back();
  }
  out +=
      "\n[database]\n# Written by kakunin migrate-store (the previous configuration: "
      "kakunin.toml.bak).\n";
  if (to.kind == "postgresql") {
    out += "kind = \"postgresql\"\nurl = " + TomlQuote(to.config_value) + "\n";
  } else {
    out += "kind = \"sqlite\"\npath = " + TomlQuote(to.config_value) + "\n";
  }
  return out;
}

Result<registry::MigrationReport> MigrateNodeStore(const std::string& data_dir,
                                                   const std::string& to,
                                                   const registry::MigrationProgress& progress,
                                                   const registry::MigrationHooks& hooks) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  KAKUNIN_ASSIGN_OR_RETURN(config, LoadNodeConfig(data_dir));
  KAKUNIN_ASSIGN_OR_RETURN(target, registry::ParseStoreLocation(to, data_dir));
  const bool from_pg = config.database_kind == "postgresql";
  const std::string from_where = from_pg ? config.database_url : config.database_path;
  const std::string to_where = target.kind == "postgresql" ? target.url : target.path;
  if (target.kind == "postgresql") KAKUNIN_RETURN_IF_ERROR(store::pg::CheckUrl(target.url));
  {
    std::error_code ec;
    const bool same = target.kind == config.database_kind &&
                      (from_pg ? target.url == config.database_url
                               : fs::weakly_canonical(target.path, ec) ==
                                     fs::weakly_canonical(config.database_path, ec));
    if (same) {
      return Status::InvalidArgument("the node's registry is already there; nothing was changed");
    }
  }

  // 1. The node must be stopped.
  if (from_pg) {
    KAKUNIN_RETURN_IF_ERROR(store::pg::CheckNoOtherSessions(config.database_url));
  } else {
    KAKUNIN_RETURN_IF_ERROR(store::sqlite::CheckNotInUse(config.database_path));
  }

  // The source opens as the node (its keys, its log extending audit.head) before anything is
  // made: a node that cannot be opened leaves no target behind to be removed before a retry.
  KAKUNIN_RETURN_IF_ERROR(OpenNode(data_dir, /*check_head=*/true).status());

  // 2. The target: new, then given the registry's schema.
  if (target.kind == "postgresql") {
    {
      KAKUNIN_ASSIGN_OR_RETURN(t, store::pg::OpenTableStore(target.url));
      KAKUNIN_RETURN_IF_ERROR(registry::CheckTargetEmpty(*t));
    }
    KAKUNIN_RETURN_IF_ERROR(store::pg::OpenRegistryStore(target.url, /*create=*/true).status());
  } else {
    // Created here, exclusively and owner-only, before SQLite opens it: it will hold personal
    // data from its first page.
    int fd = ::open(target.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) {
        return Status::FailedPrecondition(
            "the target file already exists (a node moves only into a new file): " +
            target.config_value + "; nothing was changed");
      }
      return Status::IoError("cannot create the target file " + target.config_value);
    }
    ::close(fd);
    auto created = store::sqlite::OpenRegistryStore(target.path, /*create=*/true);
    if (!created.ok()) {
      ::unlink(target.path.c_str());
      return created.status();
    }
  }
  say("target: an empty " + target.kind + " registry with the schema");

  const std::string config_path = data_dir + "/kakunin.toml";
  const std::string staged = config_path + ".migrating";
  registry::MigrationReport report;
  report.from_kind = config.database_kind;
  report.to_kind = target.kind;
  std::unique_ptr<Node> source_node, target_node;
  std::unique_ptr<store::TableStore> from, into;

  auto run = [&]() -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(src, OpenNode(data_dir, /*check_head=*/true));
    source_node = std::move(src);
    // Entries not yet under a signed checkpoint (a command that ended without sealing) are
    // signed first, as any command does: the copy's log then verifies whole.
    KAKUNIN_RETURN_IF_ERROR(SealLog(*source_node));
    KAKUNIN_ASSIGN_OR_RETURN(f, OpenTables(config.database_kind, from_where));
    from = std::move(f);
    KAKUNIN_ASSIGN_OR_RETURN(t, OpenTables(target.kind, to_where));
    into = std::move(t);
    KAKUNIN_RETURN_IF_ERROR(registry::CheckTargetEmpty(*into));
    // 3. Copy, from one snapshot of the source that no one else can write to meanwhile.
    KAKUNIN_RETURN_IF_ERROR(from->BeginRead());
    int64_t t0 = NowMicros();
    KAKUNIN_RETURN_IF_ERROR(registry::CopyTables(*from, *into, kBatchRows, say, &report));
    report.copy_micros = NowMicros() - t0;
    if (hooks.after_copy) KAKUNIN_RETURN_IF_ERROR(hooks.after_copy());
    // 4. Check: every table again, then the registry as the node sees it.
    t0 = NowMicros();
    KAKUNIN_RETURN_IF_ERROR(registry::CompareTables(*from, *into, kBatchRows, say, &report));
    std::string text;
    {
      std::ifstream in(config_path, std::ios::binary);
      if (!in) return Status::IoError("cannot read the configuration");
      text.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    const std::string next = WithDatabase(text, target);
    KAKUNIN_ASSIGN_OR_RETURN(parsed, ParseNodeConfig(next, data_dir));
    if (parsed.database_kind != target.kind ||
        (target.kind == "postgresql" ? parsed.database_url != target.url
                                     : parsed.database_path != target.path)) {
      return Status::Internal("the new configuration does not name the target");
    }
    KAKUNIN_RETURN_IF_ERROR(WritePrivateFile(staged, next));
    // The target opened as the node: the same key file and signing key, and its log must
    // extend the node's last signed checkpoint (audit.head).
    KAKUNIN_ASSIGN_OR_RETURN(dst, OpenNode(data_dir, /*check_head=*/true, staged));
    target_node = std::move(dst);
    KAKUNIN_RETURN_IF_ERROR(registry::CompareRegistries(*source_node->store, *target_node->store,
                                                        *source_node->cipher, &report));
    say("checked: record digests equal (" + std::to_string(report.residents) +
        " residents), operation log equal (" + std::to_string(report.log_size) + " entries)");
    KAKUNIN_ASSIGN_OR_RETURN(verified, target_node->audit->Verify());
    if (!verified.ok) {
      return Status::DataLoss("the operation log does not verify on the target: " +
                              verified.problem);
    }
    report.verify_micros = NowMicros() - t0;
    // 5. Record the move on the target (the source's log never holds it), verify again.
    audit::AuditEntry e;
    e.actor = source_node->actor.id;
    e.terminal = source_node->actor.terminal;
    e.action = "store.migrate";
    e.conditions =
        "from=" + report.from_kind + " to=" + report.to_kind +
        " tables=" + std::to_string(report.tables.size()) + " rows=" + std::to_string(report.rows) +
        " log_size=" + std::to_string(report.log_size) + " log_root=" + report.log_root_hex;
    e.outcome = "done";
    KAKUNIN_RETURN_IF_ERROR(target_node->registry->Record(std::move(e)));
    {
      KAKUNIN_ASSIGN_OR_RETURN(reader, target_node->store->OpenReader());
      KAKUNIN_ASSIGN_OR_RETURN(size, reader->AuditSize());
      if (size != report.log_size + 1) {
        return Status::Internal("the target's log did not grow by the store.migrate entry");
      }
      report.entry_seq = size - 1;
    }
    // Its checkpoint in the target's database (audit.head follows once the node runs there).
    KAKUNIN_RETURN_IF_ERROR(target_node->registry->Checkpoint());
    KAKUNIN_ASSIGN_OR_RETURN(again, target_node->audit->Verify());
    if (!again.ok) {
      return Status::DataLoss("the operation log does not verify on the target: " + again.problem);
    }
    // Nothing may have reached the source since its snapshot (a node started by mistake on
    // PostgreSQL, where the snapshot holds no lock): every write appends to its log.
    {
      KAKUNIN_ASSIGN_OR_RETURN(reader, source_node->store->OpenReader());
      KAKUNIN_ASSIGN_OR_RETURN(size, reader->AuditSize());
      if (size != report.log_size) {
        return Status::FailedPrecondition(
            "the source changed during the move (its log holds " + std::to_string(size) +
            " entries, the copy " + std::to_string(report.log_size) + "): is the node running?");
      }
    }
    // 6. Switch: the old configuration kept beside it, the new one renamed into place.
    std::string backup = config_path + ".bak";
    for (int i = 1; fs::exists(backup); ++i) backup = config_path + ".bak." + std::to_string(i);
    if (::link(config_path.c_str(), backup.c_str()) != 0) {
      return Status::IoError("cannot keep the old configuration as " + backup);
    }
    report.config_backup = backup;
    std::error_code ec;
    fs::rename(staged, config_path, ec);
    if (ec) return Status::IoError("cannot replace kakunin.toml");
    KAKUNIN_RETURN_IF_ERROR(SyncDir(data_dir));
    return Status::Ok();
  };
  Status st = run();
  if (from) (void)from->EndRead();
  from.reset();
  into.reset();
  if (!st.ok()) {
    target_node.reset();
    source_node.reset();
    std::error_code ec;
    fs::remove(staged, ec);
    MarkFailed(target, st.message());
    return Status(st.code(), st.message() +
                                 " (the configuration is unchanged; the target keeps "
                                 "what was copied and says why in its meta table, "
                                 "migrate.failed: remove it before trying again)");
  }
  // The node now runs on the target: its checkpoint, outside the database too (audit.head).
  Status sealed = SealLog(*target_node);
  if (!sealed.ok()) say("warning: moved, but the checkpoint was not signed: " + sealed.message());
  return report;
}

}  // namespace kakunin::app

namespace kakunin::app {

Result<registry::MigrationReport> NodeAccess::MigrateStore(
    const std::string& data_dir, const std::string& to, const registry::MigrationProgress& progress,
    const registry::MigrationHooks& hooks) const {
  return MigrateNodeStore(data_dir, to, progress, hooks);
}

}  // namespace kakunin::app
