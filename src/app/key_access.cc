#include "app/key_access.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "app/config.h"
#include "app/node.h"
#include "app/node_keys.h"
#include "audit/key_rotation.h"
#include "audit/pkcs11_signer.h"
#include "core/bytes.h"
#include "core/file.h"
#include "crypto/field_cipher.h"
#include "crypto/key_file.h"
#include "registry/field_key_rotation.h"
#include "store/pg/copy.h"
#include "store/sqlite/backup.h"

namespace kakunin::app {
namespace {

namespace fs = std::filesystem;
using Lines = std::vector<std::string>;

// A change of the node's key file, recorded after it is made (ids and counts only), and the log
// sealed with it.
Status RecordKeyChange(Node& node, const char* action, const std::string& conditions) {
  audit::AuditEntry e;
  e.actor = node.actor.id;
  e.terminal = node.actor.terminal;
  e.action = action;
  e.conditions = conditions;
  e.outcome = "done";
  KAKUNIN_RETURN_IF_ERROR(node.registry->Record(std::move(e)));
  return SealLog(node);
}


// Sets one value of kakunin.toml (top level, or in `table`) and writes the file again, atomically
// and owner-only. The file is re-serialised by toml++: values stay, comments go.
Status SetConfigValue(const std::string& data_dir, const char* table, const char* key,
                      const std::string& value) {
  const std::string path = data_dir + "/kakunin.toml";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  toml::table t;
  try {
    t = toml::parse(text.str());
  } catch (const toml::parse_error&) {
    return Status::InvalidArgument("config: " + path + " does not parse");
  }
  if (table != nullptr) {
    toml::table* sub = t[table].as_table();
    if (sub == nullptr) return Status::FailedPrecondition(std::string("config: no [") + table + "]");
    sub->insert_or_assign(key, value);
  } else {
    t.insert_or_assign(key, value);
  }
  std::ostringstream out;
  out << "# Kakunin node configuration (rewritten by kakunin keys; docs/configuration.md).\n"
      << t << "\n";
  const std::string tmp = path + ".tmp";
  FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoError("cannot write", tmp);
  KAKUNIN_RETURN_IF_ERROR(WriteAll(fd.get(), out.str()));
  if (::fsync(fd.get()) != 0 || !fd.Close()) return ErrnoError("cannot write", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("cannot replace", path);
  return SyncDirectory(data_dir);
}

Result<int64_t> CountUnderOlderKeys(Node& node) {
  int64_t n = 0;
  KAKUNIN_RETURN_IF_ERROR(node.store->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(c, txn.CountSealedNotUnder(node.cipher->CurrentPrefix()));
    n = c;
    return Status::Ok();
  }));
  return n;
}

Status WritePublicKey(const std::string& path, const std::string& public_key) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << HexEncode(public_key) << "\n";
  if (!out) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

}  // namespace

Result<Lines> KeyAccess::Status(const std::string& data_dir) const {
  KAKUNIN_ASSIGN_OR_RETURN(node, OpenNode(data_dir));
  const registry::NodeConfig& c = node->config;
  Lines out;
  KAKUNIN_ASSIGN_OR_RETURN(kind, crypto::KeyFileKindOf(c.key_file));
  KAKUNIN_ASSIGN_OR_RETURN(label, crypto::WrappingLabelOf(c.key_file));
  out.push_back("field keys: " + c.key_file +
                (kind == crypto::KeyFileKind::kWrapped
                     ? " (wrapped by the token's AES key \"" + label + "\")"
                     : kind == crypto::KeyFileKind::kV2 ? " (in clear, format v2)"
                                                        : " (in clear, format v1)"));
  KAKUNIN_ASSIGN_OR_RETURN(keys, LoadConfiguredKeys(c, node->token.get()));
  out.push_back("  current field key: " + HexEncode(crypto::FieldKeyId(keys.aead_key)));
  for (const std::string& k : keys.previous_aead_keys) {
    out.push_back("  older field key:   " + HexEncode(crypto::FieldKeyId(k)));
  }
  out.push_back("  key pair id (database): " + crypto::KeyId(keys));
  if (c.hsm && !c.hsm->signing_key_label.empty()) {
    out.push_back("signing key: on the token, \"" + c.hsm->signing_key_label + "\", key id " +
                  node->signer->key_id());
  } else {
    out.push_back("signing key: " + c.signing_key + ", key id " + node->signer->key_id());
  }
  if (node->token) out.push_back("token: " + node->token->Description());
  KAKUNIN_ASSIGN_OR_RETURN(under_older, CountUnderOlderKeys(*node));
  auto target = node->store->GetMeta(registry::kFieldKeyRotationTargetMeta);
  auto progress = node->store->GetMeta(registry::kFieldKeyRotationProgressMeta);
  std::string rotation = "field-key rotation: ";
  if (keys.previous_aead_keys.empty()) {
    rotation += "none under way";
  } else if (under_older == 0) {
    rotation += "done; `kakunin keys retire-field-keys` removes the older keys";
  } else {
    rotation += std::to_string(under_older) + " values still under an older key";
    if (target.ok() && *target && progress.ok() && *progress) {
      rotation += " (job at version " + **progress + " toward key " + **target + ")";
    }
  }
  out.push_back(rotation);
  return out;
}

Result<Lines> KeyAccess::InitToken(const std::string& data_dir) const {
  KAKUNIN_ASSIGN_OR_RETURN(config, LoadNodeConfig(data_dir));
  if (!config.hsm) return Status::FailedPrecondition("kakunin.toml has no [hsm] table");
  KAKUNIN_ASSIGN_OR_RETURN(token, OpenConfiguredToken(config));
  KAKUNIN_ASSIGN_OR_RETURN(has, token->HasKey(config.hsm->wrap_key_label));
  if (has) return Lines{"the token already holds \"" + config.hsm->wrap_key_label + "\""};
  KAKUNIN_RETURN_IF_ERROR(token->GenerateAesKey(config.hsm->wrap_key_label));
  return Lines{"created the AES-256 wrapping key \"" + config.hsm->wrap_key_label + "\" on " +
               token->Description() + " (not extractable)"};
}

Result<Lines> KeyAccess::WrapFieldKeys(const std::string& data_dir) const {
  KAKUNIN_ASSIGN_OR_RETURN(node, OpenNode(data_dir));  // the key file belongs to the database
  if (!node->config.hsm) return Status::FailedPrecondition("kakunin.toml has no [hsm] table");
  KAKUNIN_RETURN_IF_ERROR(
      crypto::WrapKeyFile(node->config.key_file, *node->token, node->config.hsm->wrap_key_label));
  KAKUNIN_ASSIGN_OR_RETURN(keys, LoadConfiguredKeys(node->config, node->token.get()));
  KAKUNIN_RETURN_IF_ERROR(RecordKeyChange(*node, "field_key.wrap", "key_pair=" + crypto::KeyId(keys)));
  return Lines{"the key file " + node->config.key_file + " now holds the field keys wrapped by \"" +
                   node->config.hsm->wrap_key_label + "\" (key pair id " + crypto::KeyId(keys) +
                   ")",
               "copies of the old key file (backups) still hold them in clear: destroy them"};
}

namespace {

// Overwrites a key file with zeros, syncs it, and removes it (and syncs its directory).
Status DestroyFile(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat", path);
  KAKUNIN_RETURN_IF_ERROR(WriteAll(fd.get(), std::string(static_cast<size_t>(st.st_size), '\0')));
  if (::fsync(fd.get()) != 0 || !fd.Close()) return ErrnoError("cannot sync", path);
  if (::unlink(path.c_str()) != 0) return ErrnoError("cannot remove", path);
  return SyncDirectory(fs::path(path).parent_path().string());
}

// OK if no other process has the node's database open (`what` says what waits for that).
// Returns the node's serve lock, held until the command ends: a serve started meanwhile is
// refused (found in review: one started 10–25 ms after the check served on with the key the
// rotation retired).
Result<FileDescriptor> CheckStopped(const std::string& data_dir, const std::string& what) {
  KAKUNIN_ASSIGN_OR_RETURN(config, LoadNodeConfig(data_dir));
  auto held = cli::TakeServeLock(config);
  Status idle = !held.ok() ? held.status()
                : config.database_kind == "postgresql"
                    ? store::pg::CheckNoOtherSessions(config.database_url)
                    : store::sqlite::CheckNotInUse(config.database_path);
  if (!idle.ok()) return Status(idle.code(), what + " with the node stopped: " + idle.message());
  return std::move(*held);
}

}  // namespace

Result<Lines> KeyAccess::RotateSigningKey(const std::string& data_dir,
                                          const std::string& label) const {
  // Only with the node stopped: a serving node holds the signing key it started with and would
  // sign on with it once it is retired (AuditLog::Sign now refuses that; the node would then
  // sign nothing until restarted).
  KAKUNIN_ASSIGN_OR_RETURN(stopped, CheckStopped(data_dir, "the signing key is rotated"));
  KAKUNIN_ASSIGN_OR_RETURN(node, OpenNode(data_dir));
  const registry::NodeConfig config = node->config;
  std::unique_ptr<audit::Signer> next;
  std::string where;
  if (config.hsm) {
    if (label.empty()) return Status::InvalidArgument("give --label: the new key's label on the token");
    KAKUNIN_RETURN_IF_ERROR(node->token->GenerateEd25519(label).status());
    KAKUNIN_ASSIGN_OR_RETURN(signer, audit::OpenPkcs11Signer(node->token, label));
    next = std::move(signer);
    where = "on the token as \"" + label + "\"";
  } else {
    if (!label.empty()) return Status::InvalidArgument("--label names a key on a token ([hsm])");
    const std::string dir = fs::path(config.signing_key).parent_path().string();
    std::string path;
    for (int n = 2; path.empty() || fs::exists(path); ++n) {
      path = dir + "/audit-" + std::to_string(n) + ".key";
    }
    KAKUNIN_RETURN_IF_ERROR(audit::CreateSigningKeyFile(path));
    KAKUNIN_ASSIGN_OR_RETURN(signer, audit::LoadSigningKeyFile(path));
    next = std::move(signer);
    // The configuration names files relative to the data directory (found in review: with a
    // relative --data, the path written was relative to the working directory — "n9/n9/…" on the
    // next open — and every later command failed).
    std::error_code ec;
    const fs::path relative = fs::relative(fs::absolute(path), fs::absolute(data_dir), ec);
    where = ec || relative.empty() ? fs::absolute(path).string() : relative.string();
  }
  const std::string old_id = node->signer->key_id();
  KAKUNIN_RETURN_IF_ERROR(node->store->Write([&](store::RegistryTxn& txn) {
    return audit::RotateSigningKey(txn, *node->signer, *next, node->clock, node->actor.id,
                                   node->actor.terminal);
  }));
  // The database now expects the new key: the configuration must name it before the next open.
  if (config.hsm) {
    KAKUNIN_RETURN_IF_ERROR(SetConfigValue(data_dir, "hsm", "signing_key_label", label));
  } else {
    KAKUNIN_RETURN_IF_ERROR(SetConfigValue(data_dir, nullptr, "signing_key", where));
  }
  const std::string pub = data_dir + "/signing-" + next->key_id() + ".pub";
  KAKUNIN_RETURN_IF_ERROR(WritePublicKey(pub, next->public_key()));
  // Opened again with the new key, to keep its checkpoint outside the database (audit.head).
  node.reset();
  KAKUNIN_ASSIGN_OR_RETURN(reopened, OpenNode(data_dir));
  KAKUNIN_RETURN_IF_ERROR(SealLog(*reopened));
  // The old private key goes (review finding: it stayed on disk, and whoever held it could sign
  // an announcement of a key of their own in a tree of their own, which a verifier holding the
  // original public key followed: a forged statement checked VALID). A rotation is made because
  // the old key may be exposed; nothing needs it once the announcement is in the log.
  // Where the OLD key was decides, not where the new one goes (found in review: a key file
  // moved onto a token stayed on disk, and in every later backup, as [hsm] was present).
  std::string destroyed;
  if (!(config.hsm && !config.hsm->signing_key_label.empty())) {
    KAKUNIN_RETURN_IF_ERROR(DestroyFile(config.signing_key));
    destroyed = "the old private key " + config.signing_key +
                " is destroyed (overwritten, removed); copies of it in backups and on other "
                "media must be destroyed too";
  } else {
    destroyed = "the old key stays on the token (label \"" + config.hsm->signing_key_label +
                "\"): destroy it there";
  }
  return Lines{"signing key " + old_id + " -> " + next->key_id() + " (" + where + ")",
               "announced in the operation log under a checkpoint signed by " + old_id +
                   "; kakunin.toml names the new key",
               "public key: " + pub + " (" + HexEncode(next->public_key()) + ")",
               destroyed,
               "outside verifiers should take the new public key now: the original one still "
               "verifies the whole log, but through an announcement that whoever held the old "
               "private key could also have signed"};
}

Result<Lines> KeyAccess::RotateFieldKey(const std::string& data_dir) const {
  KAKUNIN_ASSIGN_OR_RETURN(node, OpenNode(data_dir));  // the key file belongs to the database
  KAKUNIN_ASSIGN_OR_RETURN(id, crypto::AddFieldKey(node->config.key_file, node->token.get()));
  // Recorded, by key id only (found in review: the field-key commands left no entry).
  KAKUNIN_RETURN_IF_ERROR(RecordKeyChange(*node, "field_key.add", "key_id=" + id));
  return Lines{"new current field key " + id + " added to " + node->config.key_file +
                   " (the older keys are kept)",
               "send the serving node SIGHUP (or restart it): it seals new values under the new "
               "key and re-seals the others in the background while it serves;",
               "or, while it is stopped: kakunin keys reseal --data " + data_dir};
}

Result<Lines> KeyAccess::Reseal(const std::string& data_dir) const {
  KAKUNIN_ASSIGN_OR_RETURN(node, OpenNode(data_dir));
  auto job = node->NewFieldKeyRotation();
  if (!job) return Lines{"nothing to re-seal: the key file holds one field key"};
  KAKUNIN_ASSIGN_OR_RETURN(p, job->Run(nullptr));
  KAKUNIN_RETURN_IF_ERROR(SealLog(*node));
  return Lines{"re-sealed " + std::to_string(p.resealed) +
                   " values; every value is sealed under the current field key",
               "the older keys can go: kakunin keys retire-field-keys --data " + data_dir};
}

Result<Lines> KeyAccess::RetireFieldKeys(const std::string& data_dir) const {
  // Only with the node stopped: a serving node that has not read the key file again (no SIGHUP)
  // goes on sealing under the key it holds, which may be one of those about to go; a count of
  // zero here (after a `keys reseal` from this host, or in an empty registry) does not show it,
  // and the values it writes next would open under no key at its next start.
  KAKUNIN_ASSIGN_OR_RETURN(stopped, CheckStopped(data_dir, "older field keys are retired"));
  KAKUNIN_ASSIGN_OR_RETURN(node, OpenNode(data_dir));
  if (node->cipher->key_count() < 2) return Lines{"no older field key to retire"};
  KAKUNIN_ASSIGN_OR_RETURN(left, CountUnderOlderKeys(*node));
  if (left > 0) {
    return Status::FailedPrecondition(
        std::to_string(left) + " values are still sealed under an older field key: let the "
        "serving node finish, or run kakunin keys reseal; nothing was changed");
  }
  const std::string prefix = node->cipher->CurrentPrefix();
  KAKUNIN_ASSIGN_OR_RETURN(
      n, crypto::RetireOldFieldKeys(node->config.key_file, node->token.get(),
                                    prefix.size() > 1 ? std::string_view(prefix).substr(1)
                                                      : std::string_view()));
  KAKUNIN_RETURN_IF_ERROR(
      RecordKeyChange(*node, "field_key.retire", "retired=" + std::to_string(n)));
  return Lines{"removed " + std::to_string(n) + " older field key(s) from " +
                   node->config.key_file,
               "backups of the key file made before still hold them"};
}

}  // namespace kakunin::app
