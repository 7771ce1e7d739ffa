#include "app/node.h"

#include "app/node_server.h"
#include "core/file.h"
#include "text/search_key.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <filesystem>
#include <fstream>

#include "app/config.h"
#include "app/key_access.h"
#include "app/node_keys.h"
#include "audit/checkpoint.h"
#include "crypto/keys.h"
#include "store/pg/pg_registry_store.h"
#include "store/sqlite/backup.h"
#include "store/sqlite/sqlite_registry_store.h"

namespace kakunin::app {

namespace {
registry::Actor OsActor() {
  registry::Actor a;
  struct passwd* pw = ::getpwuid(::geteuid());
  a.id = std::string("os:") + (pw ? pw->pw_name : std::to_string(::geteuid()).c_str());
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  a.terminal = std::string("cli@") + host;
  return a;
}

// Refuses a file or directory that other OS users could read or that belongs to someone else:
// the data directory, configuration, keys and database are the service user's alone (DESIGN
// §7: the system administrator role has no right to resident data). A missing path is left to
// the caller, whose own message is clearer. The error exits 2 in every command.
Status CheckPrivate(const std::string& path, bool directory) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::InvalidArgument("cannot inspect " + path + "; nothing was changed");
  }
  const char* what = directory ? "the data directory " : "";
  const uid_t me = ::geteuid();
  if (st.st_uid != me) {
    struct passwd* pw = ::getpwuid(me);
    const std::string user = pw ? pw->pw_name : std::to_string(me);
    return Status::InvalidArgument(
        std::string(what) + path + " belongs to uid " + std::to_string(st.st_uid) +
        ", not to the user running kakunin (" + user + ", uid " + std::to_string(me) +
        "): run kakunin as the node's service user, or `chown " + user + " " + path +
        "`; nothing was changed");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::InvalidArgument(std::string(what) + path + " is open to other users (mode " +
                                   mode + "): run `chmod " + (directory ? "700 " : "600 ") + path +
                                   "`; nothing was changed");
  }
  return Status::Ok();
}

// Backups open database files that are not the node's own (the copy, a backup's database).
registry::StoreOpener SqliteOpener() {
  return [](const std::string& path) {
    return store::sqlite::OpenRegistryStore(path, /*create=*/false);
  };
}

registry::FilesResolver ConfigResolver() {
  return [](const std::string& data_dir,
            const std::string& text) -> Result<registry::NodeFiles> {
    KAKUNIN_ASSIGN_OR_RETURN(c, ParseNodeConfig(text, data_dir));
    registry::NodeFiles f;
    f.data_dir = data_dir;
    f.config = data_dir + "/kakunin.toml";
    f.database = c.database_path;
    f.key_file = c.key_file;
    f.signing_key = c.signing_key;
    f.purposes = c.purposes_file;
    f.signing_key_on_token = c.hsm && !c.hsm->signing_key_label.empty();
    return f;
  };
}

// The keys a backup's (or a node's) configuration names, from the files given and the token its
// [hsm] table names (node_keys.h), its PIN file taken against `node_dir`.
registry::KeysLoader KeysFromConfig() {
  return [](const std::string& text, const std::string& node_dir, const std::string& key_file,
            const std::string& signing_key) -> Result<registry::LoadedKeys> {
    KAKUNIN_ASSIGN_OR_RETURN(c, ParseNodeConfig(text, node_dir));
    c.key_file = key_file;
    c.signing_key = signing_key;
    KAKUNIN_ASSIGN_OR_RETURN(token, OpenConfiguredToken(c));
    registry::LoadedKeys out;
    KAKUNIN_ASSIGN_OR_RETURN(keys, LoadConfiguredKeys(c, token.get()));
    out.keys = std::move(keys);
    KAKUNIN_ASSIGN_OR_RETURN(signer, LoadConfiguredSigner(c, token));
    out.signer = std::move(signer);
    return out;
  };
}
}  // namespace

Node::~Node() {
  // The use cases go first: they hold pointers to the log, keys and store below.
  backup.reset();
  gaiji.reset();
  reports.reset();
  audit.reset();
  operators.reset();
  gateway.reset();
  registry.reset();
  purposes.reset();
}

std::unique_ptr<registry::WriteQueue> Node::NewWriteQueue(size_t max_batch) {
  return std::make_unique<registry::WriteQueue>(store.get(), max_batch);
}

std::unique_ptr<registry::FieldKeyRotation> Node::NewFieldKeyRotation() {
  if (cipher->key_count() < 2) return nullptr;
  return std::make_unique<registry::FieldKeyRotation>(store.get(), cipher.get(), log.get(), actor);
}

Result<size_t> Node::ReloadFieldKeys() {
  KAKUNIN_ASSIGN_OR_RETURN(keys, LoadConfiguredKeys(config, token.get()));
  KAKUNIN_ASSIGN_OR_RETURN(key_id, store->GetMeta("key_id"));
  if (!key_id || *key_id != crypto::KeyId(keys)) {
    return Status::PermissionDenied("the key file does not belong to this database any more");
  }
  KAKUNIN_RETURN_IF_ERROR(cipher->Reload(keys));
  return cipher->key_count();
}

Status Node::Seal() { return SealLog(*this); }
Status Node::KeepHead() { return app::KeepHead(*this); }

Result<std::unique_ptr<Node>> OpenNode(const std::string& data_dir_arg, bool check_head,
                                       const std::string& config_file) {
  auto node = std::make_unique<Node>();
  std::string data_dir = data_dir_arg;
  if (!config_file.empty()) {
    data_dir = std::filesystem::path(config_file).parent_path().string();
    if (data_dir.empty()) data_dir = ".";
  }
  // Before anything is read: whoever else can read these files can read every resident.
  KAKUNIN_RETURN_IF_ERROR(CheckPrivate(data_dir, /*directory=*/true));
  KAKUNIN_RETURN_IF_ERROR(
      CheckPrivate(config_file.empty() ? data_dir + "/kakunin.toml" : config_file, false));
  Result<registry::NodeConfig> config = Status::NotFound("no configuration");
  if (config_file.empty()) {
    config = LoadNodeConfig(data_dir);
  } else {
    auto text = ReadFileAtMost(config_file, kMaxNodeConfigBytes);
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) {
        return Status::NotFound("cannot read the configuration file");
      }
      return Status::InvalidArgument("config: " + text.status().message());
    }
    config = ParseNodeConfig(*text, data_dir);
  }
  if (!config.ok()) return config.status();
  node->config = *config;
  const bool on_pg = node->config.database_kind == "postgresql";
  for (const std::string& path :
       {node->config.key_file, node->config.signing_key, node->config.database_path,
        node->config.database_path + "-wal", node->config.database_path + "-shm"}) {
    if (on_pg && path.rfind(node->config.database_path, 0) == 0) continue;  // no file of ours
    KAKUNIN_RETURN_IF_ERROR(CheckPrivate(path, /*directory=*/false));
  }
  // The TLS server key too (README step 4; found in review: a world-readable one was served).
  if (node->config.server.present && !node->config.server.key.empty()) {
    KAKUNIN_RETURN_IF_ERROR(CheckPrivate(node->config.server.key, /*directory=*/false));
  }
  // The key first: a missing or wrong key must stop us before the database is opened.
  auto token = OpenConfiguredToken(node->config);
  if (!token.ok()) return token.status();
  node->token = std::move(*token);
  auto keys = LoadConfiguredKeys(node->config, node->token.get());
  if (!keys.ok()) return keys.status();
  auto store = on_pg ? store::pg::OpenRegistryStore(node->config.database_url, /*create=*/false)
                    : store::sqlite::OpenRegistryStore(node->config.database_path,
                                                       /*create=*/false);
  if (!store.ok()) return store.status();
  node->store = std::move(*store);
  KAKUNIN_RETURN_IF_ERROR(node->store->SetCacheMib(node->config.limits.cache_mib));
  auto key_id = node->store->GetMeta("key_id");
  if (!key_id.ok()) return key_id.status();
  if (!*key_id) return Status::DataLoss("the database has no key id (was it made by kakunin init?)");
  if (**key_id != crypto::KeyId(*keys)) {
    return Status::PermissionDenied(
        "the key file does not belong to this database (key id mismatch); nothing was changed");
  }
  // A copy kakunin migrate-store could not verify is never a node's store (app/migrate_store.h).
  auto unfinished = node->store->GetMeta("migrate.failed");
  if (!unfinished.ok()) return unfinished.status();
  if (*unfinished) {
    return Status::FailedPrecondition(
        "this database is a copy kakunin migrate-store did not finish (" + **unfinished +
        "); nothing was changed");
  }
  auto prefecture = node->store->GetMeta("prefecture");
  if (!prefecture.ok()) return prefecture.status();
  // The role before the prefecture (found in review: a prefecture database served with
  // role = "national" and its own prefecture opened, and then took any municipality's
  // notifications with no outside-prefecture check). A database without the key (none made by
  // kakunin init) has the role its prefecture implies: 0 is the national node's.
  auto db_role = node->store->GetMeta("role");
  if (!db_role.ok()) return db_role.status();
  const std::string configured_role =
      node->config.role == registry::NodeRole::kNational ? "national" : "prefecture";
  const std::string database_role =
      *db_role ? **db_role : (*prefecture && **prefecture == "0" ? "national" : "prefecture");
  if (configured_role != database_role) {
    return Status::FailedPrecondition("the configuration's role (\"" + configured_role +
                                      "\") does not match the database's (\"" + database_role +
                                      "\"); nothing was changed");
  }
  if (!*prefecture || **prefecture != std::to_string(node->config.prefecture)) {
    return Status::FailedPrecondition(
        "the configuration's prefecture does not match the database's");
  }
  auto signer = LoadConfiguredSigner(node->config, node->token);
  if (!signer.ok()) return signer.status();
  node->signer = std::move(*signer);
  auto log_key = node->store->GetMeta("log_key_id");
  if (!log_key.ok()) return log_key.status();
  if (!*log_key || **log_key != node->signer->key_id()) {
    return Status::PermissionDenied(
        "the signing key does not belong to this database's operation log; nothing was changed");
  }
  node->cipher = std::make_unique<crypto::FieldCipher>(*keys);
  audit::LogSettings log_settings;
  log_settings.map_every_checkpoint = node->config.audit_map_every_checkpoint;
  node->log = std::make_unique<audit::AuditLog>(node->signer.get(), &node->clock, log_settings);
  // Without a catalogue, the sample of the node's own kind: a national node never falls back
  // to the prefecture's (found in review: it then offered registry.maintenance, every item, for
  // the whole country).
  auto purposes = node->config.purposes_file.empty()
                      ? registry::PurposeCatalogue::Parse(
                            node->config.prefecture == 0 ? registry::SampleNationalPurposeCatalogue()
                                                         : registry::SamplePurposeCatalogue())
                      : registry::PurposeCatalogue::Load(node->config.purposes_file);
  if (!purposes.ok()) return purposes.status();
  node->purposes = std::make_unique<registry::PurposeCatalogue>(std::move(*purposes));
  node->registry = std::make_unique<registry::Registry>(
      node->config, node->store.get(), node->cipher.get(), &node->clock, node->log.get());
  node->registry->UsePurposes(node->purposes.get());
  node->gateway = std::make_unique<registry::Gateway>(node->registry.get(), node->purposes.get(),
                                                      &node->clock, node->config.prefecture);
  // The use cases read from a pool of snapshots over the store; api/ and cli/ hold none.
  node->gateway->UseStore(node->store.get());
  node->operators = std::make_unique<registry::OperatorDesk>(
      node->store.get(), node->log.get(), &node->clock, node->purposes.get());
  node->operators->RequireTraining(node->config.operators_require_training);
  node->gateway->RequireTraining(node->config.operators_require_training);
  node->audit = std::make_unique<registry::AuditDesk>(node->store.get(), node->log.get(),
                                                     node->cipher.get());
  node->reports = std::make_unique<registry::HostReports>(
      node->store.get(), node->gateway.get(), node->operators.get());
  node->reports->UseCipher(node->cipher.get());
  node->gaiji = std::make_unique<registry::GaijiRegister>(
      node->registry.get(), node->store.get(), &node->clock, node->config.prefecture);
  node->registry->UseGaiji(node->gaiji.get());
  node->outbox = std::make_unique<registry::LinkOutbox>(
      node->config, node->store.get(), node->cipher.get(), &node->clock, node->log.get());
  node->registers = std::make_unique<registry::RegisterDesk>(node->registry.get(),
                                                            node->store.get(), &node->clock);
  if (node->config.role != registry::NodeRole::kNational) {
    registry::DisclosureDesk::Options disclosure;
    disclosure.due_days = node->config.disclosure_due_days;
    disclosure.require_training = node->config.operators_require_training;
    node->disclosures = std::make_unique<registry::DisclosureDesk>(
        node->registry.get(), node->store.get(), node->purposes.get(), node->cipher.get(),
        &node->clock, node->audit.get(), node->log.get(), node->config.prefecture, disclosure);
  }
  if (node->config.role == registry::NodeRole::kNational) {
    node->national = std::make_unique<registry::NationalDesk>(
        node->config, node->store.get(), node->cipher.get(), &node->clock, node->log.get());
  }
  node->actor = OsActor();
  {
    registry::NodeFiles files;
    files.data_dir = data_dir;
    files.config = config_file.empty() ? data_dir + "/kakunin.toml" : config_file;
    files.database = node->config.database_path;
    files.key_file = node->config.key_file;
    files.signing_key = node->config.signing_key;
    files.signing_key_on_token =
        node->config.hsm && !node->config.hsm->signing_key_label.empty();
    files.purposes = node->config.purposes_file;
    node->backup = std::make_unique<registry::NodeBackup>(
        node->store.get(), node->registry.get(), node->log.get(), &node->clock, std::move(files),
        node->config.prefecture, **key_id, SqliteOpener());
  }
  node->media =
      std::make_unique<registry::MediaDesk>(node->store.get(), node->registry.get(), &node->clock);
  // The log must still extend the last checkpoint this node signed.
  if (check_head) {
    auto text = ReadFileAtMost(data_dir + "/audit.head", 64 * 1024);
    if (text.ok()) {
      KAKUNIN_RETURN_IF_ERROR(
          node->audit->CheckExtends(*text, "its last signed checkpoint (audit.head)"));
    } else if (text.status().code() != StatusCode::kNotFound) {
      return text.status();
    }
  }
  if (check_head) {
    // Plain copies a backup, restore or verify left behind when its process died.
    (void)registry::RemoveStaleTemporaries(data_dir, /*data_dir=*/true);
    // A restore not recorded yet is recorded before anything else is done with the node.
    bool restored = false;
    if (node->backup) {
      KAKUNIN_ASSIGN_OR_RETURN(recorded, node->backup->RecordPendingRestore(node->actor));
      restored = recorded;
    }
    // Search keys made with an older fold table are recomputed once (and that is recorded).
    KAKUNIN_ASSIGN_OR_RETURN(rekeyed, node->registry->RefreshSearchKeys(node->actor));
    // A changed purpose catalogue is recorded (who may read what changed with it).
    KAKUNIN_ASSIGN_OR_RETURN(catalogue, node->registry->RecordCatalogue(node->actor));
    if (rekeyed || restored || catalogue) KAKUNIN_RETURN_IF_ERROR(SealLog(*node));
  }
  return node;
}

Status InitNode(const std::string& data_dir, int prefecture, const std::string& key_file,
                const std::string& database_url) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool dir_existed = fs::exists(data_dir, ec);
  fs::create_directories(data_dir, ec);
  if (ec) return Status::IoError("cannot create the data directory");
  fs::permissions(data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  std::string config_path = data_dir + "/kakunin.toml";
  if (fs::exists(config_path)) {
    return Status::AlreadyExists("a node already exists in " + data_dir);
  }
  registry::NodeConfig c;
  // Prefecture 0: a national node (kakunin init --role national).
  c.role = prefecture == 0 ? registry::NodeRole::kNational : registry::NodeRole::kPrefecture;
  c.prefecture = prefecture;
  c.key_file = key_file.empty() ? "keys" : key_file;
  c.purposes_file = "purposes.toml";
  if (!database_url.empty()) {
    c.database_kind = "postgresql";
    c.database_url = database_url;
  }
  // Resolve paths the way loading will.
  auto parsed = ParseNodeConfig(RenderNodeConfig(c), data_dir);
  if (!parsed.ok()) return parsed.status();
  // What this init makes, removed again if it fails before the node is complete (found in
  // review: a full disk left keys and a half-made database that neither init nor any other
  // command accepted). A PostgreSQL database, once written to, keeps the files that match it.
  struct Undo {
    std::vector<std::string> made;
    bool keep = false;
    ~Undo() {
      if (keep) return;
      std::error_code ignored;
      for (auto it = made.rbegin(); it != made.rend(); ++it) fs::remove(*it, ignored);
    }
  } undo;
  // A directory this init made goes too (removed last, and only if it is empty again), so a
  // refused init leaves nothing behind.
  if (!dir_existed) undo.made.push_back(data_dir);
  if (!fs::exists(parsed->key_file)) {
    KAKUNIN_RETURN_IF_ERROR(crypto::CreateKeyFile(parsed->key_file));
    undo.made.push_back(parsed->key_file);
  }
  if (!fs::exists(parsed->signing_key)) {
    const std::string pub = parsed->signing_key + ".pub";  // written beside it
    const bool had_pub = fs::exists(pub);
    KAKUNIN_RETURN_IF_ERROR(audit::CreateSigningKeyFile(parsed->signing_key));
    undo.made.push_back(parsed->signing_key);
    if (!had_pub) undo.made.push_back(pub);
  }
  auto signer = audit::LoadSigningKeyFile(parsed->signing_key);
  if (!signer.ok()) return signer.status();
  auto keys = crypto::LoadKeyFile(parsed->key_file);
  if (!keys.ok()) return keys.status();
  // The sample catalogue, for the deployment to replace with its own (README "Purposes").
  if (!fs::exists(parsed->purposes_file)) {
    undo.made.push_back(parsed->purposes_file);
    std::ofstream out(parsed->purposes_file, std::ios::binary | std::ios::trunc);
    out << (prefecture == 0 ? registry::SampleNationalPurposeCatalogue()
                            : registry::SamplePurposeCatalogue());
    out.flush();
    if (!out) return Status::IoError("cannot write the purpose catalogue");
  }
  std::unique_ptr<store::RegistryStore> opened;
  if (parsed->database_kind == "postgresql") {
    auto store = store::pg::OpenRegistryStore(parsed->database_url, /*create=*/true);
    if (!store.ok()) return store.status();
    // A database that already holds a node is never taken over.
    auto key_id = (*store)->GetMeta("key_id");
    if (!key_id.ok()) return key_id.status();
    if (*key_id) return Status::AlreadyExists("the PostgreSQL database already holds a node");
    // Kept from here on only: the database is new and about to be written (found in review:
    // set before the check above, a refused init left its keys, audit.key and catalogue behind).
    undo.keep = true;
    opened = std::move(*store);
  } else {
    if (fs::exists(parsed->database_path)) {
      return Status::AlreadyExists("a database already exists at " + parsed->database_path);
    }
    // Personal data: the file is the node user's alone from its first byte (SQLite opens an
    // empty file as an empty database; its WAL and shared-memory files take this mode).
    {
      FileDescriptor made(::open(parsed->database_path.c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      if (made.get() < 0) return ErrnoError("cannot create", parsed->database_path);
    }
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      undo.made.push_back(parsed->database_path + suffix);
    }
    auto store = store::sqlite::OpenRegistryStore(parsed->database_path, /*create=*/true);
    if (!store.ok()) return store.status();
    // Personal data: readable by the node's user only (the WAL and shared-memory files SQLite
    // creates later take the database file's mode).
    fs::permissions(parsed->database_path, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace, ec);
    if (ec) return Status::IoError("cannot restrict the database file's permissions");
    opened = std::move(*store);
  }
  auto* store = &opened;
  KAKUNIN_RETURN_IF_ERROR((*store)->SetMeta("key_id", crypto::KeyId(*keys)));
  KAKUNIN_RETURN_IF_ERROR((*store)->SetMeta("log_key_id", (*signer)->key_id()));
  KAKUNIN_RETURN_IF_ERROR((*store)->SetMeta("prefecture", std::to_string(prefecture)));
  KAKUNIN_RETURN_IF_ERROR(
      (*store)->SetMeta("role", prefecture == 0 ? "national" : "prefecture"));
  // The fold table the (not yet existing) search keys are made with.
  KAKUNIN_RETURN_IF_ERROR((*store)->SetMeta("search_key_version", text::SearchKeyVersion()));
  // The day the node was made: the purge's clock check reckons from it before the first purge
  // (registry::Registry::CheckPurgeClock).
  KAKUNIN_RETURN_IF_ERROR((*store)->SetMeta(registry::Registry::kCreatedOnKey,
                                            SystemClock().TodayJst().ToIso()));
  // The catalogue it starts with: a later change of it is recorded (Registry::RecordCatalogue).
  if (auto catalogue = registry::PurposeCatalogue::Load(parsed->purposes_file); catalogue.ok()) {
    KAKUNIN_RETURN_IF_ERROR((*store)->SetMeta(registry::Registry::kPurposesDigestKey,
                                              registry::CatalogueDigest(*catalogue)));
  }
  // The configuration last: its presence marks a complete node. Written whole and synced
  // before the rename (found in review: a stream checked before its buffer was flushed could
  // rename a short file into place).
  opened.reset();  // the database closed (and checkpointed) before the node is declared made
  std::string tmp = config_path + ".tmp";
  undo.made.push_back(tmp);
  {
    // Owner-only, like every file of the node that OpenNode checks.
    FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0 || ::fchmod(fd.get(), 0600) != 0) {
      return Status::IoError("cannot write the configuration");
    }
    Status written = WriteAll(fd.get(), RenderNodeConfig(c));
    if (!written.ok() || ::fsync(fd.get()) != 0 || !fd.Close()) {
      return Status::IoError("cannot write the configuration");
    }
  }
  fs::rename(tmp, config_path, ec);
  if (ec) return Status::IoError("cannot write the configuration");
  undo.keep = true;
  return Status::Ok();
}

Status SealLog(Node& node) {
  KAKUNIN_RETURN_IF_ERROR(node.registry->Checkpoint());
  return KeepHead(node);
}

Status KeepHead(Node& node) {
  KAKUNIN_ASSIGN_OR_RETURN(latest, node.audit->LatestCheckpoint());
  const int64_t trusted = node.log->TrustedSize();
  // Never a smaller checkpoint than one this node kept (found in review: with the log cut back
  // behind the trusted checkpoint and a smaller one left, the timer would have kept that one,
  // and after a restart the node would have trusted, and signed, the shorter log).
  if (trusted > 0 && (!latest || latest->tree_size < trusted)) {
    return Status::DataLoss("the newest stored checkpoint is older than the one this node "
                            "signed at tree size " +
                            std::to_string(trusted) +
                            ": entries and checkpoints were removed from the database; "
                            "audit.head keeps the newer one (run kakunin audit verify)")
        .WithReason("log_not_extended");
  }
  if (!latest) return Status::Ok();
  std::string json = audit::CheckpointToJson(*latest) + "\n";
  // Only a checkpoint the committed log extends (which the log then trusts: nothing is signed
  // over a log that no longer extends it).
  KAKUNIN_RETURN_IF_ERROR(node.audit->CheckExtends(json, "the newest stored checkpoint"));
  std::string path = node.config.data_dir + "/audit.head";
  // A temporary file of this process's own (mkstemp, 0600): another process sealing at the same
  // moment (a command beside a running node) never writes into it, and each rename is atomic.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::IoError("cannot write audit.head");
  bool written = ::write(fd, json.data(), json.size()) == static_cast<ssize_t>(json.size()) &&
                 ::fsync(fd) == 0;
  written = ::close(fd) == 0 && written;
  std::error_code ec;
  if (written) std::filesystem::rename(tmp, path, ec);
  if (!written || ec) {
    std::filesystem::remove(tmp, ec);
    return Status::IoError("cannot write audit.head");
  }
  return Status::Ok();
}

Status WriteNodeConfig(const std::string& data_dir, const registry::NodeConfig& config) {
  std::ofstream out(data_dir + "/kakunin.toml", std::ios::binary | std::ios::trunc);
  out << RenderNodeConfig(config);
  if (!out) return Status::IoError("cannot write the configuration");
  return Status::Ok();
}

Result<std::unique_ptr<cli::RunningServer>> NodeAccess::Serve(
    cli::Node& node, const registry::ServerConfig& config, std::FILE* access_log,
    const registry::ConsoleConfig& console, const cli::ServeOptions& options) const {
  NodeServerOptions o;
  o.report = options.report;
  KAKUNIN_ASSIGN_OR_RETURN(server, NodeServer::Start(&node, config, access_log, console, o));
  return std::unique_ptr<cli::RunningServer>(std::move(server));
}

const cli::KeyAccess* NodeAccess::keys() const {
  static const KeyAccess kKeys;
  return &kKeys;
}

Result<std::unique_ptr<cli::Node>> NodeAccess::Open(const std::string& data_dir, bool check_head,
                                                    const std::string& config_file) const {
  KAKUNIN_ASSIGN_OR_RETURN(node, OpenNode(data_dir, check_head, config_file));
  return std::unique_ptr<cli::Node>(std::move(node));
}

std::unique_ptr<registry::BackupDesk> NodeAccess::NewBackupDesk() const {
  static const SystemClock clock;
  return std::make_unique<registry::BackupDesk>(SqliteOpener(), ConfigResolver(), &clock,
                                                 store::sqlite::CheckNotInUse, KeysFromConfig());
}

Status NodeAccess::Init(const std::string& data_dir, int prefecture, const std::string& key_file,
                        const std::string& database_url) const {
  return InitNode(data_dir, prefecture, key_file, database_url);
}

Status NodeAccess::WriteConfig(const std::string& data_dir,
                               const registry::NodeConfig& config) const {
  return WriteNodeConfig(data_dir, config);
}

}  // namespace kakunin::app
