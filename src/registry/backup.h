#pragma once

// Backup and restore (DESIGN §7: copying is the system administrator's, on the node's host; the
// actor is the OS user). A backup is an online, consistent copy of the database plus the key
// material the node needs, encrypted with a backup key kept apart from the data key, with the
// log's head in a manifest signed by the node's checkpoint key (registry/backup_format.h). Each
// backup is an operation-log entry and a row of the media register. A restore checks everything
// before it replaces anything, and a restore that would lose entries of the log (a rollback)
// needs confirming and is recorded. docs/backup.md is the operator's guide.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "audit/log.h"
#include "audit/signer.h"
#include "core/clock.h"
#include "core/status.h"
#include "crypto/keys.h"
#include "registry/backup_format.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::registry {

// Opens a database file as a store (app/ wires store/sqlite): the copy being made, a backup's
// database being checked. Never creates one.
using StoreOpener =
    std::function<Result<std::unique_ptr<store::RegistryStore>>(const std::string& path)>;

// Where a node's files are, as its configuration says (absolute or relative to data_dir).
struct NodeFiles {
  std::string data_dir;
  std::string config;  // <data_dir>/kakunin.toml
  std::string database;
  std::string key_file;
  std::string signing_key;  // and signing_key + ".pub"
  std::string purposes;     // "" when the node uses the compiled-in sample
  bool signing_key_on_token = false;  // [hsm] signing_key_label: the file is not the key
};
// Reads a node's configuration text as if it were <data_dir>/kakunin.toml (app/ wires
// ParseNodeConfig).
using FilesResolver =
    std::function<Result<NodeFiles>(const std::string& data_dir, const std::string& config_text)>;

// OK if no process holds the database file open (app/ wires store/sqlite's CheckNotInUse).
using InUseCheck = std::function<Status(const std::string& database_path)>;

// The field keys and the checkpoint signer of a node whose configuration is `config_text`, read
// from `key_file` and `signing_key` (say, the files a backup holds) and — when its [hsm] table
// puts them there — from the PKCS#11 token it names: a wrapped key file opened by the token's
// AES key, the signing key by its label. Relative paths in the configuration (the PIN file) are
// taken against `node_dir`. app/ wires node_keys.h; without a loader, keys come from the files
// only (a node without a token).
struct LoadedKeys {
  crypto::NodeKeys keys;
  std::unique_ptr<audit::Signer> signer;
};
using KeysLoader = std::function<Result<LoadedKeys>(
    const std::string& config_text, const std::string& node_dir, const std::string& key_file,
    const std::string& signing_key)>;

struct BackupSummary {
  std::string backup_id;
  std::string dir;
  int64_t tree_size = 0;
  std::string root;  // raw
  int64_t payload_bytes = 0;
  int64_t chunks = 0;
  std::string manifest_sha256;  // hex
};

// What a checked backup holds. Without a trusted public key, `trusted` is false: the signature
// is only consistent with the key the backup names.
struct BackupCheck {
  BackupManifest manifest;
  bool trusted = false;
  int64_t entries = 0;
  int64_t checkpoints = 0;
  std::vector<std::string> files;
};

// What a restore did, for the entry the restored node records (NodeBackup::RecordPendingRestore).
struct RestoreReport {
  std::string backup_id;
  bool replaced_node = false;  // a node was in the data directory before
  bool rollback = false;       // entries of the replaced node's log are not in the backup
  // The replaced node's head (audit.head), when there was one.
  std::optional<int64_t> previous_size;
  std::string previous_root;  // raw
  int64_t restored_size = 0;
  std::string restored_root;  // raw
  std::string notice_file;    // where the rollback was written down for the operator
  // The backup is signed by a key the node's log later rotated away from: restored, the node
  // signs with that retired key (and the field keys of that day) again.
  bool retired_signing_key = false;
};

// Backups of an open node. Thread-compatible; Create may run while a server writes through
// the same store.
// After a restore, how far above every number it ever gave out the node's outbox goes on:
// more changes than the node could forward between a backup and its restore (2^40).
inline constexpr int64_t kRestoredOutboxGap = int64_t{1} << 40;
// The meta key holding a restore not yet recorded in the restored log: the entry's action and
// conditions (ids, sizes and roots only), separated by a newline.
inline constexpr char kRestorePendingKey[] = "restore_pending";
// Set when a restore is recorded ("backup_id=…" of the last one): the node came from a backup.
inline constexpr char kRestoredKey[] = "restored";
// Set with it, cleared once a purge as of the day has run on the restored database (NodeBackup::
// ApplyRetentionAfterRestore).
inline constexpr char kRetentionDueKey[] = "retention_due";
std::string PendingRestoreText(const RestoreReport& report);

// Removes, from `dir`, what a backup, a restore or a backup verify left in clear when its process
// died before it could clean up (a crash, Ctrl-C, a reboot): a backup's plain copy of the
// database (.backup-*.db), a restore's or a verify's staging directory with the keys and the
// database (.restore-*, kakunin-verify-*). One still in use is locked by its process (flock) and
// kept. Only this user's, and only names Kakunin makes; in a work directory (`data_dir` false:
// $TMPDIR) only a verify's. Returns how many went. Every open of a node calls it on its directory.
int RemoveStaleTemporaries(const std::string& dir, bool data_dir);

class NodeBackup {
 public:
  // Not owned; all must outlive this.
  NodeBackup(store::RegistryStore* store, const Registry* registry, const audit::AuditLog* log,
             const Clock* clock, NodeFiles files, int prefecture, std::string data_key_id,
             StoreOpener open_store);

  // Writes a backup into `dir` (created 0700 if missing; refused if it holds a backup already):
  // records "backup" and a media-register row, copies the database online into the data
  // directory (never in clear onto the medium), signs a checkpoint into the copy so its log is
  // complete, encrypts copy and key material into DIR/payload.kbk, writes the signed
  // manifest, then records "backup.complete" (or "backup.failed") with the manifest's digest.
  Result<BackupSummary> Create(const std::string& dir, const BackupKey& key,
                               const Actor& actor) const;

  // Records the restore the database was restored by, if it has not been yet (meta
  // restore_pending, which BackupDesk::Restore writes into the restored database before the
  // files move): "backup.restore", or "backup.rollback" naming the lost range by sizes and roots
  // only, with the outbox numbers moved on, in one transaction that clears the mark. Every open
  // of the node calls it (app/node.cc OpenNode). True if it recorded one.
  Result<bool> RecordPendingRestore(const Actor& actor) const;
  // A backup holds what later purges erased; a restored database must not serve it again (found
  // in review: a restore brought erased residents back without a word). The transaction that
  // records a restore marks the retention due (meta retention_due): `kakunin serve` refuses to
  // start while it is set, and a purge as of today clears it (ClearRetentionDue). Not purged
  // automatically: a purge cannot be undone, and a recovery machine's clock is the one thing
  // least to be trusted (found in review) — the operator checks the date with --dry-run.
  Result<bool> RetentionDue() const;
  Status ClearRetentionDue() const;

 private:
  store::RegistryStore* store_;
  const Registry* registry_;
  const audit::AuditLog* log_;
  const Clock* clock_;
  NodeFiles files_;
  int prefecture_;
  std::string data_key_id_;
  StoreOpener open_store_;
};

// Checking and restoring backups; needs no open node (a new machine has none). Thread-compatible.
class BackupDesk {
 public:
  // `in_use` may be empty (no check); `load_keys` too (keys from the backup's files only).
  BackupDesk(StoreOpener open_store, FilesResolver resolve, const Clock* clock,
             InUseCheck in_use = {}, KeysLoader load_keys = {});

  // Checks the backup in `dir` without restoring it: manifest and signature (against
  // `trusted_public_key`, raw 32 bytes, when given), the backup key, the payload's size and
  // digest, every chunk's MAC, then the unpacked files in a private temporary directory under
  // `work_dir`: the key file and signing key belong to the manifest, the database passes
  // integrity_check, its log verifies in full (audit::VerifyLog) and its head is the
  // manifest's. The temporary directory is removed. DataLoss / PermissionDenied with a clear
  // message otherwise. A backup of a node whose keys are on a token is opened with that token,
  // as the backup's configuration names it, with its PIN file taken against `node_dir` (the
  // node's directory; "" — the backup's own files, where no PIN file ever is).
  Result<BackupCheck> Verify(const std::string& dir, const BackupKey& key,
                             const std::string& trusted_public_key, const std::string& work_dir,
                             const std::string& node_dir = "") const;

  // Restores the backup in `from` into `data_dir` (created 0700 if missing). Checks everything
  // first (Verify, unpacking inside data_dir), and against a node already there: same
  // checkpoint key (or an earlier one the node's log announced a rotation from, whose checkpoint
  // at the backup's head is in the node's log), and its last signed head (audit.head) either in the backup's log or — a
  // rollback — refused unless `confirm_rollback`. A confirmed rollback is written to
  // <data_dir>/rollbacks.log and to `notice` before anything is replaced. Then the database,
  // keys and catalogue are moved into place (kakunin.toml only if the directory has none) and
  // audit.head is set to the backup's head. Nothing is replaced when a check fails. The node
  // must not be running: a database another process holds open is refused (`in_use`). The caller opens the restored node and records the report
  // (NodeBackup::RecordPendingRestore).
  Result<RestoreReport> Restore(const std::string& from, const std::string& data_dir,
                                const BackupKey& key, const std::string& trusted_public_key,
                                bool confirm_rollback, std::ostream& notice) const;

 private:
  // Verify's work, leaving the unpacked files in `staging` for Restore.
  Result<BackupCheck> CheckInto(const std::string& dir, const BackupKey& key,
                                const std::string& trusted_public_key, const std::string& staging,
                                const std::string& node_dir) const;
  // The keys a configuration names (load_keys_, or the files alone without it).
  Result<LoadedKeys> LoadKeys(const std::string& config_text, const std::string& node_dir,
                              const std::string& key_file, const std::string& signing_key) const;

  StoreOpener open_store_;
  FilesResolver resolve_;
  const Clock* clock_;
  InUseCheck in_use_;
  KeysLoader load_keys_;
};

}  // namespace kakunin::registry
