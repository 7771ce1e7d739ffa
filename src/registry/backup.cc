#include "registry/backup.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/key_rotation.h"
#include "audit/signer.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/file.h"
#include "crypto/field_cipher.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "registry/audit_desk.h"
#include "text/json.h"

namespace kakunin::registry {

namespace fs = std::filesystem;

namespace {

std::string Path(const std::string& dir, const char* name) { return dir + "/" + name; }

Result<std::string> ReadFileText(const std::string& path, size_t limit) {
  // Opened without waiting, and only a regular file read (found in review: a FIFO as the
  // manifest blocked verify and restore for ever).
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound("no file " + path);
    return ErrnoError("cannot open", path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot inspect", path);
  if (!S_ISREG(st.st_mode)) return Status::DataLoss(path + " is not a regular file");
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return ErrnoError("cannot read", path);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read", path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) return Status::DataLoss(path + " is larger than expected");
  }
  return out;
}

// Writes `text` to `path` through a temporary file of its own and a rename (0600, synced).
Status WriteFileAtomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp.XXXXXX";
  FileDescriptor fd(::mkstemp(tmp.data()));
  if (fd.get() < 0) return ErrnoError("cannot create a temporary file for", path);
  Status st = WriteAll(fd.get(), text);
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoError("cannot sync", tmp);
  if (!fd.Close() && st.ok()) st = ErrnoError("cannot close", tmp);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = ErrnoError("cannot rename", tmp);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

Status EnsurePrivateDir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return Status::InvalidArgument(dir + " is not a directory");
    return Status::Ok();
  }
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return Status::IoError("cannot restrict " + dir);
  return Status::Ok();
}

// A restore writes keys and personal data: into a directory of the user running it, closed to
// everyone else (what opening the node checks afterwards), or not at all.
Status CheckOwnedPrivateDir(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoError("cannot inspect", dir);
  if (st.st_uid != ::geteuid()) {
    return Status::InvalidArgument("the data directory " + dir + " belongs to uid " +
                                   std::to_string(st.st_uid) +
                                   ": run kakunin as the node's service user; nothing was changed");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status::InvalidArgument("the data directory " + dir +
                                   " is open to other users: run `chmod 700 " + dir +
                                   "`; nothing was changed");
  }
  return Status::Ok();
}

void RemoveDatabaseFiles(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    ::unlink((path + suffix).c_str());
  }
}

// A staging directory holding keys and a database in clear, private to this process: created
// 0700 and locked (flock) for as long as it lives, so RemoveStaleTemporaries can tell one whose
// process died (a crash, Ctrl-C, a reboot) from one in use, and removes it.
class StagingDir {
 public:
  static Result<std::unique_ptr<StagingDir>> Make(const std::string& parent, const char* prefix) {
    std::string t = parent + "/" + prefix + "XXXXXX";
    if (::mkdtemp(t.data()) == nullptr) return ErrnoError("cannot create a directory in", parent);
    auto dir = std::unique_ptr<StagingDir>(new StagingDir(t));
    dir->fd_ = FileDescriptor(::open(t.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir->fd_.get() < 0 || ::flock(dir->fd_.get(), LOCK_EX | LOCK_NB) != 0) {
      return ErrnoError("cannot lock", t);
    }
    return dir;
  }
  ~StagingDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit StagingDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
  FileDescriptor fd_;
};

// The backup's plain copy of the database, beside its lock file (flock held while the backup
// runs); both removed when it goes out of scope.
class CopyGuard {
 public:
  explicit CopyGuard(std::string copy) : copy_(std::move(copy)) {}
  Status Lock() {
    fd_ = FileDescriptor(
        ::open((copy_ + ".lock").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd_.get() < 0 || ::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
      return ErrnoError("cannot lock", copy_ + ".lock");
    }
    return Status::Ok();
  }
  ~CopyGuard() {
    RemoveDatabaseFiles(copy_);
    if (fd_.get() >= 0) ::unlink((copy_ + ".lock").c_str());
  }

 private:
  std::string copy_;
  FileDescriptor fd_;
};

Result<std::string> FileSha256(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open", path);
  crypto::Sha256Hasher h;
  std::string buf(kBackupChunk, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read", path);
    if (n == 0) break;
    h.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  return h.Finish();
}

std::string RandomId() {
  std::string raw(16, '\0');
  randombytes_buf(raw.data(), raw.size());
  return HexEncode(raw);
}

}  // namespace

// --- NodeBackup ---

NodeBackup::NodeBackup(store::RegistryStore* store, const Registry* registry,
                       const audit::AuditLog* log, const Clock* clock, NodeFiles files,
                       int prefecture, std::string data_key_id, StoreOpener open_store)
    : store_(store),
      registry_(registry),
      log_(log),
      clock_(clock),
      files_(std::move(files)),
      prefecture_(prefecture),
      data_key_id_(std::move(data_key_id)),
      open_store_(std::move(open_store)) {}

Result<BackupSummary> NodeBackup::Create(const std::string& dir, const BackupKey& key,
                                         const Actor& actor) const {
  KAKUNIN_RETURN_IF_ERROR(crypto::InitSodium());
  if (dir.empty()) return Status::InvalidArgument("a backup directory is required");
  KAKUNIN_RETURN_IF_ERROR(EnsurePrivateDir(dir));
  // One backup at a time in a directory, held for the whole run (found in review: two started
  // in the same second both failed, one having deleted the other's file). A lock on the
  // directory itself, which leaves no file in it.
  FileDescriptor dir_lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_lock.get() < 0) return ErrnoError("cannot open", dir);
  if (::flock(dir_lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return Status::FailedPrecondition("another backup is being written into " + dir +
                                      "; nothing was changed");
  }
  std::error_code ec;
  for (const char* name : {kManifestFile, kManifestSigFile, kPayloadFile}) {
    if (fs::exists(Path(dir, name), ec)) {
      return Status::AlreadyExists(dir + " already holds a backup: give each backup a directory "
                                         "of its own; nothing was changed");
    }
  }
  const std::string id = RandomId();
  int64_t media_id = 0;
  {
    audit::AuditEntry e;
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = "backup";
    e.conditions = "backup_id=" + id + " to=" + dir;
    e.outcome = "started";
    store::MediaRow row;
    row.kind = "backup";
    row.label = id;
    row.location = dir;
    row.created_at = clock_->NowMicros();
    row.created_by = actor.id;
    row.status = "writing";
    KAKUNIN_RETURN_IF_ERROR(
        registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
          KAKUNIN_ASSIGN_OR_RETURN(mid, txn.InsertMedia(row));
          media_id = mid;
          return Status::Ok();
        }));
  }

  BackupSummary summary;
  summary.backup_id = id;
  summary.dir = dir;
  const std::string copy = files_.data_dir + "/.backup-" + id + ".db";
  CopyGuard copy_guard(copy);
  KAKUNIN_RETURN_IF_ERROR(copy_guard.Lock());
  const std::string payload_tmp = Path(dir, kPayloadFile) + ".partial";
  // Left by a backup that was killed (the lock says no other is writing it): started again.
  ::unlink(payload_tmp.c_str());
  bool renamed = false, signed_here = false;  // what of the backup this run put in place
  auto write = [&]() -> Status {
    // The plain copy stays in the data directory (private to the service user) and never
    // reaches the medium.
    KAKUNIN_RETURN_IF_ERROR(store_->CopyTo(copy));
    BackupManifest m;
    {
      KAKUNIN_ASSIGN_OR_RETURN(copied, open_store_(copy));
      // Entries written after the last checkpoint (a server under load) are signed in the
      // copy, so its log verifies on its own: the same statement the node will sign later.
      KAKUNIN_RETURN_IF_ERROR(copied->Write(
          [&](store::RegistryTxn& txn) { return log_->WriteCheckpoint(txn); }));
      KAKUNIN_ASSIGN_OR_RETURN(reader, copied->OpenReader());
      KAKUNIN_ASSIGN_OR_RETURN(size, reader->AuditSize());
      KAKUNIN_ASSIGN_OR_RETURN(root, audit::RootAt(*reader, size));
      AuditDesk desk(copied.get(), log_, nullptr);
      KAKUNIN_ASSIGN_OR_RETURN(latest, desk.LatestCheckpoint());
      if (!latest || latest->tree_size != size) {
        return Status::Internal("the copy's log has no checkpoint at its head");
      }
      m.tree_size = size;
      m.root = root;
      m.checkpoint_json = audit::CheckpointToJson(*latest);
    }
    ::unlink((copy + "-wal").c_str());
    ::unlink((copy + "-shm").c_str());
    KAKUNIN_ASSIGN_OR_RETURN(writer, PayloadWriter::Create(payload_tmp, key, id));
    KAKUNIN_RETURN_IF_ERROR(writer->AddFile("registry.db", copy));
    KAKUNIN_RETURN_IF_ERROR(writer->AddFile("keys", files_.key_file));
    // A signing key on the token leaves no file once it was moved there by rotation (the old
    // one is destroyed); a file still there (never rotated) goes in as before.
    if (!files_.signing_key_on_token || fs::exists(files_.signing_key, ec)) {
      KAKUNIN_RETURN_IF_ERROR(writer->AddFile("audit.key", files_.signing_key));
    }
    if (fs::exists(files_.signing_key + ".pub", ec)) {
      KAKUNIN_RETURN_IF_ERROR(writer->AddFile("audit.key.pub", files_.signing_key + ".pub"));
    }
    KAKUNIN_RETURN_IF_ERROR(writer->AddFile("kakunin.toml", files_.config));
    if (!files_.purposes.empty() && fs::exists(files_.purposes, ec)) {
      KAKUNIN_RETURN_IF_ERROR(writer->AddFile("purposes.toml", files_.purposes));
    }
    KAKUNIN_ASSIGN_OR_RETURN(written, writer->Finish());
    RemoveDatabaseFiles(copy);
    m.backup_id = id;
    m.created = clock_->NowMicros();
    m.prefecture = prefecture_;
    m.data_key_id = data_key_id_;
    m.public_key = log_->signer().public_key();
    m.log_key_id = log_->signer().key_id();
    m.backup_key_id = key.id();
    m.payload_bytes = written.bytes;
    m.payload_sha256 = written.sha256;
    m.chunks = written.chunks;
    const std::string json = ManifestToJson(m);
    KAKUNIN_ASSIGN_OR_RETURN(sig, log_->signer().Sign(ManifestSigningMessage(json)));
    if (::rename(payload_tmp.c_str(), Path(dir, kPayloadFile).c_str()) != 0) {
      return ErrnoError("cannot rename", payload_tmp);
    }
    renamed = true;
    // The signature before the manifest: a directory with a manifest is a whole backup.
    KAKUNIN_RETURN_IF_ERROR(WriteFileAtomic(Path(dir, kManifestSigFile), HexEncode(sig) + "\n"));
    signed_here = true;
    KAKUNIN_RETURN_IF_ERROR(WriteFileAtomic(Path(dir, kManifestFile), json));
    KAKUNIN_RETURN_IF_ERROR(SyncDirectory(dir));
    summary.tree_size = m.tree_size;
    summary.root = m.root;
    summary.payload_bytes = m.payload_bytes;
    summary.chunks = m.chunks;
    summary.manifest_sha256 = HexEncode(crypto::Sha256(json));
    return Status::Ok();
  };
  Status st = write();
  RemoveDatabaseFiles(copy);
  audit::AuditEntry e;
  e.actor = actor.id;
  e.terminal = actor.terminal;
  e.conditions = "backup_id=" + id;
  if (!st.ok()) {
    // Only what this run made.
    ::unlink(payload_tmp.c_str());
    if (renamed) ::unlink(Path(dir, kPayloadFile).c_str());
    if (signed_here) ::unlink(Path(dir, kManifestSigFile).c_str());
    ::rmdir(dir.c_str());  // only if nothing else is in it (found in review: left empty)
    e.action = "backup.failed";
    e.outcome = "failed";
    (void)registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) {
      return txn.FinishMedia(media_id, "failed", 0, "");
    });
    return st;
  }
  e.action = "backup.complete";
  e.conditions += " manifest_sha256=" + summary.manifest_sha256 +
                  " tree_size=" + std::to_string(summary.tree_size) +
                  " root=" + HexEncode(summary.root);
  e.result_count = summary.payload_bytes;
  e.outcome = "done";
  KAKUNIN_RETURN_IF_ERROR(
      registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) {
        return txn.FinishMedia(media_id, "complete", summary.payload_bytes,
                               summary.manifest_sha256);
      }));
  return summary;
}

namespace {

// `name` is `prefix` and then exactly `n` characters of [0-9A-Za-z] (mkdtemp's six, a backup
// id's 32 hex digits), then `suffix`: only names Kakunin makes.
bool MadeByUs(std::string_view name, std::string_view prefix, size_t n, std::string_view suffix) {
  if (name.size() != prefix.size() + n + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix)) {
    return false;
  }
  for (char c : name.substr(prefix.size(), n)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      return false;
    }
  }
  return true;
}

// The signing keys a log's announcements name (key.signing.rotate: the previous key and the
// new one, as raw public keys), in the order of the log. A log whose checkpoints verify holds
// them as one chain, the first key to the one in force.
Result<std::vector<std::string>> AnnouncedSigningKeys(store::RegistryReader& reader) {
  store::AuditQuery q;
  q.action = std::string(audit::kSigningKeyRotateAction);
  q.limit = audit::kMaxSigningKeyAnnouncements;
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader.SearchAudit(q));
  std::sort(rows.begin(), rows.end(),
            [](const store::AuditRow& a, const store::AuditRow& b) { return a.seq < b.seq; });
  std::vector<std::string> keys;
  for (const store::AuditRow& row : rows) {
    if (!row.payload) continue;
    auto entry = audit::DecodeEntry(*row.payload);
    if (!entry.ok()) continue;
    auto json = text::ParseJson(entry->conditions);
    if (!json.ok() || !json->is_object()) continue;
    for (const char* member : {"previous_public_key", "public_key"}) {
      const text::JsonValue* v = json->Find(member);
      if (v == nullptr || !v->is_string()) continue;
      auto key = HexDecode(v->text());
      if (key && key->size() == 32) keys.push_back(*key);
    }
  }
  return keys;
}

bool Names(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Whether the log of the node whose database `reader` reads holds the head `m` names, under a
// checkpoint of a key the log announced a successor for (a backup made before a rotation of
// the node's signing key), and, when `later_key` is given, names that key too.
bool NodeLogHoldsEarlierBackup(store::RegistryReader& reader, const BackupManifest& m,
                               const std::string& later_key) {
  auto cp = audit::CheckpointFromJson(m.checkpoint_json);
  if (!cp.ok() || !audit::VerifyCheckpoint(*cp, m.public_key)) return false;
  auto earlier = audit::SignedByEarlierKey(reader, *cp);
  if (!earlier.ok() || !*earlier) return false;
  auto root = audit::RootAt(reader, cp->tree_size);
  if (!root.ok() || *root != cp->root) return false;
  if (later_key.empty()) return true;
  auto keys = AnnouncedSigningKeys(reader);
  return keys.ok() && Names(*keys, later_key);
}

}  // namespace

int RemoveStaleTemporaries(const std::string& dir, bool data_dir) {
  int removed = 0;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return 0;
  const uid_t me = ::geteuid();
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    const std::string path = entry.path().string();
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || st.st_uid != me) continue;
    // In a work directory ($TMPDIR) only a verify's own; in a node's data directory also a
    // restore's staging and a backup's copy (found in review: a sweep of $TMPDIR removed
    // another program's .restore-* directory).
    const bool staging = MadeByUs(name, "kakunin-verify-", 6, "") ||
                         (data_dir && MadeByUs(name, ".restore-", 6, ""));
    if (staging && S_ISDIR(st.st_mode)) {
      FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
      if (fd.get() >= 0 && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
        fs::remove_all(path, ec);
        ++removed;
      }
    } else if (data_dir && MadeByUs(name, ".backup-", 32, ".db") && S_ISREG(st.st_mode)) {
      // Its lock file is held while the backup runs; without one (or with one nobody holds)
      // the backup that made it is gone.
      FileDescriptor fd(::open((path + ".lock").c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
      if (fd.get() < 0 || ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
        RemoveDatabaseFiles(path);
        ::unlink((path + ".lock").c_str());
        ++removed;
      }
    }
  }
  return removed;
}

std::string PendingRestoreText(const RestoreReport& r) {
  std::string action = r.rollback ? "backup.rollback" : "backup.restore";
  std::string conditions = "backup_id=" + r.backup_id + " restored_size=" +
                           std::to_string(r.restored_size) +
                           " restored_root=" + HexEncode(r.restored_root);
  if (r.previous_size) {
    conditions += " previous_size=" + std::to_string(*r.previous_size) +
                  " previous_root=" + HexEncode(r.previous_root);
  } else if (r.replaced_node) {
    conditions += " previous_head=unknown";
  } else if (r.rollback) {
    conditions += " previous_head=none";  // configured, with neither head nor database
  }
  if (r.rollback && r.previous_size && *r.previous_size > r.restored_size) {
    conditions += " lost=" + std::to_string(r.restored_size) + ".." +
                  std::to_string(*r.previous_size);
  }
  return action + "\n" + conditions;
}

Result<bool> NodeBackup::RecordPendingRestore(const Actor& actor) const {
  KAKUNIN_ASSIGN_OR_RETURN(pending, store_->GetMeta(kRestorePendingKey));
  if (!pending || pending->empty()) return false;
  const size_t nl = pending->find('\n');
  if (nl == std::string::npos) {
    return Status::DataLoss("the record of a pending restore (meta restore_pending) is damaged");
  }
  audit::AuditEntry e;
  e.actor = actor.id;
  e.terminal = actor.terminal;
  e.action = pending->substr(0, nl);
  e.conditions = pending->substr(nl + 1);
  e.outcome = "done";
  // The node may have forwarded changes after the backup was taken, under outbox numbers the
  // restored database gives out again: the national node holds other changes under them and
  // would refuse these (sequence_conflict). The restored node numbers its next changes far
  // above anything it can have used (on any node, restored or not: a national node's outbox is
  // empty and unused). Done with the entry, and the mark cleared with it: exactly once.
  // The node is a restored one from now on (meta restored): `import`, which loads a new node,
  // refuses it — the node it replaced may have been in service, its backlog and acknowledged
  // point gone with the rollback (found in review).
  const std::string backup_id = e.conditions.substr(0, e.conditions.find(' '));
  KAKUNIN_RETURN_IF_ERROR(registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto next = txn.SkipOutboxNumbers(kRestoredOutboxGap);
    if (!next.ok()) return next.status();
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kRestoredKey, backup_id));
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kRetentionDueKey, backup_id));
    return txn.SetMeta(kRestorePendingKey, "");
  }));
  return true;
}

Result<bool> NodeBackup::RetentionDue() const {
  KAKUNIN_ASSIGN_OR_RETURN(due, store_->GetMeta(kRetentionDueKey));
  return due && !due->empty();
}

Status NodeBackup::ClearRetentionDue() const {
  return store_->Write(
      [&](store::RegistryTxn& txn) -> Status { return txn.SetMeta(kRetentionDueKey, ""); });
}

// --- BackupDesk ---

BackupDesk::BackupDesk(StoreOpener open_store, FilesResolver resolve, const Clock* clock,
                       InUseCheck in_use, KeysLoader load_keys)
    : open_store_(std::move(open_store)),
      resolve_(std::move(resolve)),
      clock_(clock),
      in_use_(std::move(in_use)),
      load_keys_(std::move(load_keys)) {}

Result<LoadedKeys> BackupDesk::LoadKeys(const std::string& config_text, const std::string& node_dir,
                                        const std::string& key_file,
                                        const std::string& signing_key) const {
  if (load_keys_) return load_keys_(config_text, node_dir, key_file, signing_key);
  LoadedKeys out;
  KAKUNIN_ASSIGN_OR_RETURN(keys, crypto::LoadKeyFile(key_file));
  out.keys = std::move(keys);
  KAKUNIN_ASSIGN_OR_RETURN(signer, audit::LoadSigningKeyFile(signing_key));
  out.signer = std::move(signer);
  return out;
}

Result<BackupCheck> BackupDesk::CheckInto(const std::string& dir, const BackupKey& key,
                                          const std::string& trusted_public_key,
                                          const std::string& staging,
                                          const std::string& node_dir) const {
  BackupCheck check;
  auto manifest_text = ReadFileText(Path(dir, kManifestFile), 16 * 1024);
  if (!manifest_text.ok()) {
    if (manifest_text.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("no backup in " + dir + " (manifest.json is missing)");
    }
    return manifest_text.status();
  }
  auto sig_text = ReadFileText(Path(dir, kManifestSigFile), 256);
  if (!sig_text.ok()) return Status::DataLoss("the backup's manifest.sig is missing or unreadable");
  auto parsed = ParseManifest(*manifest_text);
  if (!parsed.ok()) return Status::DataLoss("the manifest is not valid: " + parsed.status().message());
  const BackupManifest& m = *parsed;
  std::optional<std::string> sig;
  if (sig_text->size() == 129 && sig_text->back() == '\n') sig = HexDecode(sig_text->substr(0, 128));
  if (!sig || !audit::VerifySignature(m.public_key, ManifestSigningMessage(*manifest_text), *sig)) {
    return Status::DataLoss("the manifest's signature does not match it: the manifest was "
                            "altered or its signature replaced");
  }
  if (audit::PublicKeyId(m.public_key) != m.log_key_id) {
    return Status::DataLoss("the manifest's key id does not match its public key");
  }
  // A key other than the manifest's is this node's when a log announces the one from the
  // other (docs/keys.md): the backup's own log (the key given is an earlier one, as
  // audit.key.pub after a rotation), or the node's (--data: the key given is a later one, the
  // backup made before the rotation). Checked below, once the backup's log is verified (found
  // in review: both were answered "made by another node").
  const bool other_key = !trusted_public_key.empty() && trusted_public_key != m.public_key;
  const auto another_node = [&](const std::string& more) {
    return Status::PermissionDenied(
        "this backup was made by another node: its checkpoint key is " + m.log_key_id +
        ", this node's is " + audit::PublicKeyId(trusted_public_key) + more);
  };
  check.trusted = !trusted_public_key.empty();
  if (key.id() != m.backup_key_id) {
    return Status::PermissionDenied("this backup was encrypted with another backup key (id " +
                                    m.backup_key_id + "); the key given is " + key.id());
  }
  const std::string payload = Path(dir, kPayloadFile);
  struct stat st;
  if (::stat(payload.c_str(), &st) != 0) {
    return Status::DataLoss("the backup's payload.kbk is missing");
  }
  if (st.st_size < m.payload_bytes) {
    return Status::DataLoss("payload.kbk is truncated: " + std::to_string(st.st_size) + " of " +
                            std::to_string(m.payload_bytes) + " bytes");
  }
  if (st.st_size > m.payload_bytes) {
    return Status::DataLoss("payload.kbk has " + std::to_string(st.st_size) +
                            " bytes, the manifest says " + std::to_string(m.payload_bytes));
  }
  KAKUNIN_ASSIGN_OR_RETURN(digest, FileSha256(payload));
  if (digest != m.payload_sha256) {
    return Status::DataLoss("payload.kbk does not match the manifest's digest: it was "
                            "corrupted or replaced");
  }
  auto files = UnpackPayload(payload, key, m.backup_id, staging);
  if (!files.ok()) return Status::DataLoss("payload.kbk: " + files.status().message());
  check.files = *files;
  for (const char* need : {"registry.db", "keys", "kakunin.toml"}) {
    if (std::find(files->begin(), files->end(), need) == files->end()) {
      return Status::DataLoss(std::string("the backup holds no ") + need);
    }
  }
  // The keys as the backup's own configuration names them: its files, or the token its [hsm]
  // table names (wrapped field keys, a signing key by label).
  KAKUNIN_ASSIGN_OR_RETURN(config_text, ReadFileText(Path(staging, "kakunin.toml"), 1 << 20));
  // audit.key too, unless the configuration keeps the signing key on the token (a key moved
  // there by rotation left no file behind).
  if (std::find(files->begin(), files->end(), "audit.key") == files->end()) {
    auto named = resolve_(node_dir.empty() ? staging : node_dir, config_text);
    if (!named.ok() || !named->signing_key_on_token) {
      return Status::DataLoss("the backup holds no audit.key");
    }
  }
  auto loaded = LoadKeys(config_text, node_dir.empty() ? staging : node_dir,
                         Path(staging, "keys"), Path(staging, "audit.key"));
  if (!loaded.ok()) {
    return Status::DataLoss("the backup's keys: " + loaded.status().message() +
                            (config_text.find("[hsm]") != std::string::npos
                                 ? " (the backup's configuration keeps its keys on a PKCS#11 "
                                   "token: check it where that token is reachable, with the "
                                   "node's directory for its PIN file)"
                                 : ""));
  }
  const crypto::NodeKeys& keys = loaded->keys;
  audit::Signer* signer = loaded->signer.get();
  if (crypto::KeyId(keys) != m.data_key_id) {
    return Status::DataLoss("the backup's key file is not the one its manifest names");
  }
  if (signer->public_key() != m.public_key) {
    return Status::DataLoss("the backup's signing key is not the one that signed its manifest");
  }
  {
    auto store = open_store_(Path(staging, "registry.db"));
    if (!store.ok()) return Status::DataLoss("the backup's database: " + store.status().message());
    Status integrity = (*store)->CheckIntegrity();
    if (!integrity.ok()) {
      return Status::DataLoss("the backup's database fails integrity_check: " +
                              integrity.message());
    }
    KAKUNIN_ASSIGN_OR_RETURN(key_id, (*store)->GetMeta("key_id"));
    KAKUNIN_ASSIGN_OR_RETURN(log_key, (*store)->GetMeta("log_key_id"));
    KAKUNIN_ASSIGN_OR_RETURN(pref, (*store)->GetMeta("prefecture"));
    if (!key_id || *key_id != m.data_key_id || !log_key || *log_key != m.log_key_id || !pref ||
        *pref != std::to_string(m.prefecture)) {
      return Status::DataLoss("the backup's database does not belong to its manifest's node");
    }
    crypto::FieldCipher cipher(keys);
    audit::AuditLog log(signer, clock_);
    AuditDesk desk(store->get(), &log, &cipher);
    KAKUNIN_ASSIGN_OR_RETURN(report, desk.Verify());
    if (!report.ok) {
      return Status::DataLoss("the backup's operation log does not verify: " + report.problem);
    }
    KAKUNIN_ASSIGN_OR_RETURN(reader, (*store)->OpenReader());
    KAKUNIN_ASSIGN_OR_RETURN(size, reader->AuditSize());
    if (size != m.tree_size) {
      return Status::DataLoss("the backup's log has " + std::to_string(size) +
                              " entries, its manifest says " + std::to_string(m.tree_size));
    }
    auto cp = audit::CheckpointFromJson(m.checkpoint_json);
    if (!cp.ok() || cp->tree_size != m.tree_size || cp->root != m.root) {
      return Status::DataLoss("the manifest's checkpoint is not its head");
    }
    Status extends = desk.CheckExtends(m.checkpoint_json, "the manifest's checkpoint");
    if (!extends.ok()) return Status::DataLoss(extends.message());
    if (other_key) {
      auto announced = AnnouncedSigningKeys(*reader);
      bool same = announced.ok() && Names(*announced, trusted_public_key);
      if (!same && !node_dir.empty()) {
        auto node_text = ReadFileText(Path(node_dir, "kakunin.toml"), 1 << 20);
        auto node_files = node_text.ok() ? resolve_(node_dir, *node_text)
                                         : Result<NodeFiles>(node_text.status());
        std::error_code fec;
        if (node_files.ok() && fs::exists(node_files->database, fec)) {
          auto node_store = open_store_(node_files->database);
          auto node_reader = node_store.ok() ? (*node_store)->OpenReader()
                                             : Result<std::unique_ptr<store::RegistryReader>>(
                                                   node_store.status());
          same = node_reader.ok() &&
                 NodeLogHoldsEarlierBackup(**node_reader, m, trusted_public_key);
        }
      }
      if (!same) {
        return another_node(
            node_dir.empty()
                ? " (if the node rotated its signing key after this backup, give its directory "
                  "with --data: its log shows the rotation)"
                : "");
      }
    }
    check.entries = report.entries;
    check.checkpoints = report.checkpoints;
  }
  check.manifest = m;
  return check;
}

Result<BackupCheck> BackupDesk::Verify(const std::string& dir, const BackupKey& key,
                                       const std::string& trusted_public_key,
                                       const std::string& work_dir,
                                       const std::string& node_dir) const {
  RemoveStaleTemporaries(work_dir, /*data_dir=*/false);
  KAKUNIN_ASSIGN_OR_RETURN(staging, StagingDir::Make(work_dir, "kakunin-verify-"));
  return CheckInto(dir, key, trusted_public_key, staging->path(), node_dir);
}

Result<RestoreReport> BackupDesk::Restore(const std::string& from, const std::string& data_dir,
                                          const BackupKey& key,
                                          const std::string& trusted_public_key_arg,
                                          bool confirm_rollback, std::ostream& notice) const {
  KAKUNIN_RETURN_IF_ERROR(EnsurePrivateDir(data_dir));
  KAKUNIN_RETURN_IF_ERROR(CheckOwnedPrivateDir(data_dir));
  std::error_code ec;
  RestoreReport report;
  const std::string config_path = Path(data_dir, "kakunin.toml");
  std::optional<NodeFiles> existing;
  std::string trusted = trusted_public_key_arg;
  std::string node_key;  // the signing key of the node already in data_dir, if any
  struct {
    std::optional<std::string> log_key_id, data_key_id, prefecture;  // its database's meta
    std::optional<std::string> file_key_id;                          // its key file's id
  } node;
  if (fs::exists(config_path, ec)) {
    KAKUNIN_ASSIGN_OR_RETURN(text, ReadFileText(config_path, 1 << 20));
    KAKUNIN_ASSIGN_OR_RETURN(files, resolve_(data_dir, text));
    existing = files;
    report.replaced_node = fs::exists(files.database, ec);
    // The node already here decides whose backups it takes (its signing key: the file, or
    // the token its configuration names).
    std::optional<std::string> public_key;
    if (files.signing_key_on_token) {
      auto loaded = LoadKeys(text, data_dir, files.key_file, files.signing_key);
      if (!loaded.ok()) return loaded.status();
      public_key = loaded->signer->public_key();
      node.file_key_id = crypto::KeyId(loaded->keys);
    } else if (fs::exists(files.signing_key, ec)) {
      auto signer = audit::LoadSigningKeyFile(files.signing_key);
      if (!signer.ok()) return signer.status();
      public_key = (*signer)->public_key();
    }
    // What else identifies the node (found in review: with its audit.key gone, nothing did, and
    // another node's backup was restored over it, "restored", its residents and keys replaced).
    // Its database names its keys and prefecture; its key file is its own; its public key may
    // outlive the private one.
    if (report.replaced_node) {
      auto node_store = open_store_(files.database);
      if (node_store.ok()) {
        const auto meta = [&](const char* name) -> std::optional<std::string> {
          auto v = (*node_store)->GetMeta(name);
          if (v.ok() && *v && !(*v)->empty()) return **v;
          return std::nullopt;
        };
        node.log_key_id = meta("log_key_id");
        node.data_key_id = meta("key_id");
        node.prefecture = meta("prefecture");
      }
    }
    if (!node.file_key_id && !files.signing_key_on_token) {
      auto keys = crypto::LoadKeyFile(files.key_file);  // a wrapped file needs the token: silent
      if (keys.ok()) node.file_key_id = crypto::KeyId(*keys);
    }
    if (!public_key) {
      // Beside the key, or as a rotation wrote it (signing-<key id>.pub); only the key the
      // database names, when it names one (audit.key.pub outlives a rotation).
      std::vector<std::string> pubs = {files.signing_key + ".pub"};
      if (node.log_key_id) pubs.push_back(data_dir + "/signing-" + *node.log_key_id + ".pub");
      for (const std::string& pub : pubs) {
        if (!fs::exists(pub, ec)) continue;
        auto pk = audit::LoadPublicKeyFile(pub);
        if (pk.ok() && (!node.log_key_id || audit::PublicKeyId(*pk) == *node.log_key_id)) {
          public_key = *pk;
          break;
        }
      }
    }
    if (public_key) {
      if (!trusted.empty() && trusted != *public_key) {
        return Status::InvalidArgument("--public-key is not the key of the node in " + data_dir);
      }
      trusted = *public_key;
      node_key = trusted;
    }
  }
  // A backup made before the node's signing key was rotated is signed by the earlier key. It is
  // this node's when the node's own log announced the rotation from that key and holds the
  // backup's head: refused as another node's, it could only be restored into an emptied
  // directory, where nothing would record what the rollback lost.
  if (!node_key.empty() && existing && fs::exists(existing->database, ec)) {
    auto text = ReadFileText(Path(from, kManifestFile), 16 * 1024);
    auto m = text.ok() ? ParseManifest(*text) : Result<BackupManifest>(text.status());
    if (m.ok() && m->public_key != node_key) {
      auto node_store = open_store_(existing->database);
      if (node_store.ok()) {
        auto reader = (*node_store)->OpenReader();
        if (reader.ok()) {
          auto cp = audit::ParseLogCheckpoint(**reader, m->checkpoint_json, node_key);
          auto root = cp.ok() ? audit::RootAt(**reader, cp->tree_size)
                              : Result<std::string>(cp.status());
          if (cp.ok() && root.ok() && *root == cp->root &&
              audit::VerifyCheckpoint(*cp, m->public_key)) {
            trusted = m->public_key;
            report.retired_signing_key = true;
          }
        }
      }
    }
  }
  // A node is here that nothing identifies — no signing key, no public key, no database that
  // names its keys, no key file that opens — but files a restore would replace: whether the
  // backup is its own cannot be told, so it is not overwritten.
  if (existing) {
    const bool identified = !node_key.empty() || node.log_key_id || node.data_key_id ||
                            node.file_key_id;
    const bool something_here =
        report.replaced_node || fs::exists(existing->key_file, ec) ||
        (!existing->signing_key_on_token && fs::exists(existing->signing_key, ec)) ||
        fs::exists(existing->signing_key + ".pub", ec) ||
        fs::exists(Path(data_dir, "audit.head"), ec);
    if (!identified && something_here) {
      return Status::FailedPrecondition(
          "the node in " + data_dir + " cannot be identified: its signing key (" +
          existing->signing_key + "), its public key (" + existing->signing_key +
          ".pub), its key file (" + existing->key_file + ") and a database naming its keys (" +
          existing->database + ") are missing or unreadable, so whether this backup is its "
          "own cannot be told; nothing was changed. Put back what identifies it (its "
          "audit.key.pub or its database), or restore into a new empty directory (kakunin "
          "restore --from " + from + " --data NEW_DIR …) and move the node's files aside "
          "yourself");
    }
  }
  // Whether the backup `m` is the node's by what the node's files say besides its signing key
  // (which CheckInto compares, `trusted`). Asked of the manifest as read, before anything is
  // unpacked (a refusal then names the difference), and of the manifest once verified.
  const auto same_node = [&](const BackupManifest& m) -> Status {
    if (!existing) return Status::Ok();
    const auto another = [&](const std::string& what) {
      return Status::PermissionDenied("this backup was made by another node: " + what +
                                      "; nothing was changed");
    };
    if (node.prefecture && *node.prefecture != std::to_string(m.prefecture)) {
      return another("it is prefecture " + std::to_string(m.prefecture) + "'s, the node in " +
                     data_dir + " is prefecture " + *node.prefecture + "'s (its database)");
    }
    if (node.data_key_id && *node.data_key_id != m.data_key_id) {
      return another("its key file is " + m.data_key_id + ", the node's database names " +
                     *node.data_key_id);
    }
    if (node.file_key_id && *node.file_key_id != m.data_key_id) {
      return another("its key file is " + m.data_key_id + ", the node's (" +
                     existing->key_file + ") is " + *node.file_key_id);
    }
    if (node_key.empty() && node.log_key_id && *node.log_key_id != m.log_key_id) {
      // Signed before a rotation the node's log announced, and held by it: still its own.
      bool earlier = false;
      auto node_store = open_store_(existing->database);
      if (node_store.ok()) {
        auto reader = (*node_store)->OpenReader();
        earlier = reader.ok() && NodeLogHoldsEarlierBackup(**reader, m, "");
      }
      if (!earlier) {
        return another("its checkpoint key is " + m.log_key_id + ", the node's database names " +
                       *node.log_key_id);
      }
      report.retired_signing_key = true;
    }
    return Status::Ok();
  };
  {
    // Only a manifest signed by the key it names: an altered one is named as such by CheckInto.
    auto text = ReadFileText(Path(from, kManifestFile), 16 * 1024);
    auto sig_text = ReadFileText(Path(from, kManifestSigFile), 256);
    auto m = text.ok() ? ParseManifest(*text) : Result<BackupManifest>(text.status());
    std::optional<std::string> sig;
    if (sig_text.ok() && sig_text->size() == 129) sig = HexDecode(sig_text->substr(0, 128));
    if (m.ok() && sig &&
        audit::VerifySignature(m->public_key, ManifestSigningMessage(*text), *sig)) {
      KAKUNIN_RETURN_IF_ERROR(same_node(*m));
    }
  }
  RemoveStaleTemporaries(data_dir, /*data_dir=*/true);
  // A restore not yet recorded (the node has not opened since): restoring another backup would
  // replace that record, and with it the rollback it may name (found in review). Open the node
  // first. The same backup again is let through: a restore cut short after its database moved in
  // but before its head did leaves a node that does not open (its log no longer extends the old
  // head), and finishing it is the only way on (found in review: the advice looped).
  std::string unrecorded_backup, unrecorded_text;
  const auto unrecorded = [&] {
    return Status::FailedPrecondition(
        "an earlier restore into " + data_dir + " is not recorded in its log yet (the node "
        "has not opened since): open it once (kakunin stats --data " + data_dir +
        "), or restore the same backup again to finish it; nothing was changed");
  };
  if (existing && report.replaced_node) {
    auto node_store = open_store_(existing->database);
    if (node_store.ok()) {
      auto pending = (*node_store)->GetMeta(kRestorePendingKey);
      if (pending.ok() && *pending && !(*pending)->empty()) {
        const std::string& text = **pending;
        const size_t at = text.find("\nbackup_id=");
        if (at == std::string::npos) return unrecorded();
        const size_t from_id = at + 11;
        unrecorded_backup = text.substr(from_id, text.find(' ', from_id) - from_id);
        if (unrecorded_backup.empty()) return unrecorded();
        unrecorded_text = text;  // carried over: the record names what the first attempt lost
      }
    }
  }
  KAKUNIN_ASSIGN_OR_RETURN(staging_dir, StagingDir::Make(data_dir, ".restore-"));
  const std::string& staging = staging_dir->path();
  auto checked = CheckInto(from, key, trusted, staging, data_dir);
  if (!checked.ok()) {
    return Status(checked.status().code(), checked.status().message() + "; nothing was changed");
  }
  const BackupManifest& m = checked->manifest;
  KAKUNIN_RETURN_IF_ERROR(same_node(m));
  if (!unrecorded_backup.empty() && unrecorded_backup != m.backup_id) return unrecorded();
  report.backup_id = m.backup_id;
  report.restored_size = m.tree_size;
  report.restored_root = m.root;

  // Where the replaced node's log stood, and whether the backup holds all of it.
  bool rollback = false;
  std::string why;
  const std::string head_path = Path(data_dir, "audit.head");
  if (fs::exists(head_path, ec)) {
    auto text = ReadFileText(head_path, 4096);
    auto cp = text.ok() ? audit::CheckpointFromJson(*text) : Result<audit::Checkpoint>(text.status());
    // Signed by the node's key, which is the backup's unless it was rotated since.
    const std::string& head_key = node_key.empty() ? m.public_key : node_key;
    if (!cp.ok() || !audit::VerifyCheckpoint(*cp, head_key)) {
      rollback = true;
      why = "the node's audit.head cannot be read or is not signed by its key, so what the "
            "restore would lose cannot be told";
    } else {
      report.previous_size = cp->tree_size;
      report.previous_root = cp->root;
      bool contained = false;
      if (cp->tree_size <= m.tree_size) {
        KAKUNIN_ASSIGN_OR_RETURN(store, open_store_(Path(staging, "registry.db")));
        KAKUNIN_ASSIGN_OR_RETURN(reader, store->OpenReader());
        auto root = audit::RootAt(*reader, cp->tree_size);
        contained = root.ok() && *root == cp->root;
      }
      if (!contained) {
        rollback = true;
        why = "the node's log has " + std::to_string(cp->tree_size) + " entries (root " +
              HexEncode(cp->root) + ") that the backup (" + std::to_string(m.tree_size) +
              " entries, root " + HexEncode(m.root) + ") does not hold";
      }
    }
  } else if (existing) {
    // A node is configured here but its head is gone — with its database or not (review
    // finding: deleting registry.db and audit.head made the restore an unconfirmed, unrecorded
    // "first" restore, quietly dropping every entry after the backup).
    rollback = true;
    why = "the node configured in " + data_dir + " has no audit.head" +
          (report.replaced_node ? "" : " (nor its database)") +
          ", so what the restore would lose cannot be told";
  }
  report.rollback = rollback;
  if (rollback && !confirm_rollback) {
    return Status::FailedPrecondition(
        "restoring this backup is a rollback: " + why +
        ". Nothing was changed. To restore it anyway, run again with --confirm-rollback; the "
        "rollback is then recorded in the restored log and in " + Path(data_dir, "rollbacks.log"));
  }
  if (existing && in_use_) KAKUNIN_RETURN_IF_ERROR(in_use_(existing->database));
  if (rollback) {
    // Written down before anything is replaced, where the operator looks.
    std::string line = "rollback at " + JstIsoTime(clock_->NowMicros()) + ": restored backup " + m.backup_id + " (" +
                       std::to_string(m.tree_size) + " entries, root " + HexEncode(m.root) +
                       "); " + why + "\n";
    report.notice_file = Path(data_dir, "rollbacks.log");
    FileDescriptor fd(::open(report.notice_file.c_str(),
                             O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (fd.get() < 0) return ErrnoError("cannot write", report.notice_file);
    KAKUNIN_RETURN_IF_ERROR(WriteAll(fd.get(), line));
    if (::fsync(fd.get()) != 0 || !fd.Close()) return ErrnoError("cannot sync", report.notice_file);
    notice << "kakunin restore: ROLLBACK: " << line;
  }

  // The restore is recorded by the restored node itself, the first time it opens (review
  // finding: it was recorded only if the command could open the node right after the move; a
  // node that did not open — a configuration refused, say — was later started with no word of
  // the rollback, and with its outbox numbers not moved on). The mark goes into the staged
  // database before anything is moved, so the files never stand in place without it.
  {
    KAKUNIN_ASSIGN_OR_RETURN(staged, open_store_(Path(staging, "registry.db")));
    KAKUNIN_RETURN_IF_ERROR(staged->SetMeta(kRestorePendingKey, unrecorded_text.empty()
                                                                     ? PendingRestoreText(report)
                                                                     : unrecorded_text));
  }

  // Every check passed: move the files into place.
  NodeFiles target;
  if (existing) {
    target = *existing;
  } else {
    KAKUNIN_ASSIGN_OR_RETURN(text, ReadFileText(Path(staging, "kakunin.toml"), 1 << 20));
    KAKUNIN_ASSIGN_OR_RETURN(files, resolve_(data_dir, text));
    target = files;
  }
  auto place = [&](const char* name, const std::string& to) -> Status {
    const std::string src = Path(staging, name);
    if (!fs::exists(src, ec) || to.empty()) return Status::Ok();
    if (::rename(src.c_str(), to.c_str()) == 0) return Status::Ok();
    if (errno != EXDEV) return ErrnoError("cannot move the file to", to);
    // The configuration may keep a file on another volume (the key file, as the README
    // advises): copied beside it first, then renamed, so it is replaced whole or not at all.
    const std::string tmp = to + ".restoring";
    std::error_code cec;
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, cec);
    if (!cec) fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write,
                              fs::perm_options::replace, cec);
    if (cec) {
      ::unlink(tmp.c_str());
      return Status::IoError("cannot copy the file to " + to + ": " + cec.message());
    }
    if (::rename(tmp.c_str(), to.c_str()) != 0) return ErrnoError("cannot move the file to", to);
    return Status::Ok();
  };
  RemoveDatabaseFiles(target.database);
  KAKUNIN_RETURN_IF_ERROR(place("registry.db", target.database));
  KAKUNIN_RETURN_IF_ERROR(place("keys", target.key_file));
  KAKUNIN_RETURN_IF_ERROR(place("audit.key", target.signing_key));
  KAKUNIN_RETURN_IF_ERROR(place("audit.key.pub", target.signing_key + ".pub"));
  KAKUNIN_RETURN_IF_ERROR(place("purposes.toml", target.purposes));
  if (!existing) KAKUNIN_RETURN_IF_ERROR(place("kakunin.toml", config_path));
  // Last: the node now extends the backup's head (a crash before this leaves a node that
  // refuses to open, never one that opens on a mismatch).
  KAKUNIN_RETURN_IF_ERROR(WriteFileAtomic(head_path, m.checkpoint_json + "\n"));
  KAKUNIN_RETURN_IF_ERROR(SyncDirectory(data_dir));
  return report;
}

}  // namespace kakunin::registry
