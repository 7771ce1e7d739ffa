#pragma once

// What a backup is made of (kakunin backup, docs/backup.md), apart from how a node makes or
// restores one (registry/backup.h):
//
//   DIR/manifest.json   what the backup holds and the log's head, in clear, no secrets
//   DIR/manifest.sig    Ed25519 signature (128 hex + newline) by the node's checkpoint key over
//                       "kakunin backup manifest v1\n" followed by manifest.json's exact bytes
//   DIR/payload.kbk     the files, encrypted with the backup key: libsodium's
//                       crypto_secretstream_xchacha20poly1305 — a 24-byte header, then chunks
//                       of at most kBackupChunk bytes of plaintext, each written as a u32
//                       big-endian length and the ciphertext (plaintext + 17 bytes: its tag
//                       and MAC), the backup id as additional data of every chunk, the last
//                       chunk tagged FINAL. Reordered, dropped, truncated or foreign chunks do
//                       not authenticate.
//
// The plaintext of the payload is an archive: for each file 'F', u16 name length, name, u64
// size, bytes; then 'E'. Names come from a fixed list (kBackupFileNames).
//
// The backup key is a file of its own, never part of a backup and unrelated to the node's
// data key (crypto/keys.h): "kakunin-backup-key v1\nkey <64 hex>\n", mode 0600.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace kakunin::registry {

inline constexpr size_t kBackupChunk = 64 * 1024;
inline constexpr char kManifestFile[] = "manifest.json";
inline constexpr char kManifestSigFile[] = "manifest.sig";
inline constexpr char kPayloadFile[] = "payload.kbk";
// What a payload may hold, by name. The database is first.
inline constexpr const char* kBackupFileNames[] = {"registry.db", "keys", "audit.key",
                                                   "audit.key.pub", "kakunin.toml",
                                                   "purposes.toml"};

// A backup key: 32 raw bytes. The destructor wipes it.
struct BackupKey {
  ~BackupKey();
  std::string key;
  // Public fingerprint: first 16 hex digits of SHA-256("kakunin backup key id v1\n" ‖ key).
  std::string id() const;
};

// Creates a new random backup key file at `path` (mode 0600); AlreadyExists if it exists.
Status CreateBackupKeyFile(const std::string& path);
// Strict: exactly the format above; PermissionDenied if group or others may read it.
Result<BackupKey> LoadBackupKeyFile(const std::string& path);

struct BackupManifest {
  int64_t version = 1;
  std::string backup_id;      // 32 hex digits
  int64_t created = 0;        // µs since epoch
  int64_t prefecture = 0;
  std::string data_key_id;    // the node's key file (crypto::KeyId), 16 hex
  std::string log_key_id;     // the checkpoint key (audit::PublicKeyId), 16 hex
  std::string public_key;     // the checkpoint key, 32 raw bytes
  std::string backup_key_id;  // BackupKey::id(), 16 hex
  // The log's head in the copy: every entry, and the checkpoint signed at that size.
  int64_t tree_size = 0;
  std::string root;             // 32 raw bytes
  std::string checkpoint_json;  // audit::CheckpointToJson of the newest checkpoint
  // The payload file.
  int64_t payload_bytes = 0;
  std::string payload_sha256;  // 32 raw bytes, of the file as written
  int64_t chunks = 0;
};

std::string ManifestToJson(const BackupManifest& m);
// Strict (outside input): exactly the members ManifestToJson writes, each once, with the right
// types, lengths and ranges; at most 16 KiB. InvalidArgument otherwise, naming the member.
Result<BackupManifest> ParseManifest(std::string_view json);
// What manifest.sig signs.
std::string ManifestSigningMessage(std::string_view manifest_json);

// Writes an encrypted payload file. Not thread-safe.
class PayloadWriter {
 public:
  struct Summary {
    int64_t bytes = 0;
    std::string sha256;  // raw
    int64_t chunks = 0;
  };
  // Creates `path` exclusively (0600).
  static Result<std::unique_ptr<PayloadWriter>> Create(const std::string& path,
                                                       const BackupKey& key,
                                                       std::string additional_data);
  ~PayloadWriter();
  // Adds one file of the archive, streamed from `source_path`.
  Status AddFile(const std::string& name, const std::string& source_path);
  // Ends the archive, writes the FINAL chunk and syncs the file.
  Result<Summary> Finish();

 private:
  PayloadWriter() = default;
  Status Append(std::string_view data);
  Status Flush(bool final);
  struct State;
  std::unique_ptr<State> s_;
};

// Decrypts a payload file and unpacks its files into `out_dir` (which must exist), each 0600,
// checking every chunk's MAC, their order, the FINAL tag and that nothing follows it. A file
// named twice or not in kBackupFileNames is refused. On an error the files written so far
// stay in `out_dir` for the caller to remove. Returns the names unpacked, in order.
Result<std::vector<std::string>> UnpackPayload(const std::string& path, const BackupKey& key,
                                               std::string_view additional_data,
                                               const std::string& out_dir);

}  // namespace kakunin::registry
