#pragma once

// The node's secret keys and the file that holds them. Keys live outside the database
// (DESIGN §5), so a copy of the database alone reveals no individual number. Losing or
// replacing the key file makes every stored individual number unreadable: this module creates
// a key file only where none exists and never overwrites one.
//
// The file is text, versioned, readable by its owner only:
//   kakunin-keys v1
//   aead <64 lower-case hex digits>
//   hmac <64 lower-case hex digits>

#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::crypto {

inline constexpr size_t kKeySize = 32;

// The node's two independent keys, kKeySize raw bytes each: `aead_key` encrypts fields at rest,
// `hmac_key` makes their lookup hashes. Independent so that the lookup index (which must be
// deterministic) shares nothing with the encryption. The destructor wipes both keys, so copies
// do not linger in freed memory.
struct NodeKeys {
  ~NodeKeys();

  std::string aead_key;
  std::string hmac_key;
  // Field-key rotation (docs/keys.md): earlier aead keys still needed to open values sealed
  // before the rotation, oldest first; the first (or `aead_key` if there is none) opens the
  // version-0x01 blobs made before key ids existed. `key_ids`: seal with a key id (version
  // 0x02), as every key file of format v2 does; a v1 file keeps sealing version 0x01.
  std::vector<std::string> previous_aead_keys = {};
  bool key_ids = false;
};

// Initialises libsodium once per process; later calls return the first result. Functions of
// this module that need libsodium call it themselves. Those that cannot return a Status
// (KeyId, FieldCipher's constructor) abort if it fails, so a server should call it once at
// startup to get a Status instead. It fails only if the system cannot supply randomness.
// Thread-safe.
Status InitSodium();

// Generates two fresh random keys and writes them to a new key file at `path`, mode 0600.
// Atomic: the keys go to `path + ".tmp"` (created exclusively), are synced, and are renamed
// onto `path` without replacing anything; then the directory is synced. After an error no
// file is left at `path`, except IoError on the final directory sync, when the file is in
// place but may not survive a crash.
// Errors: AlreadyExists if `path` exists (never overwritten); FailedPrecondition if
// `path + ".tmp"` exists (another creation is running, or one was interrupted: check, then
// remove it); Internal if libsodium cannot start; IoError for any failing system call.
// Thread-safe, but two concurrent calls for the same path let one fail.
Status CreateKeyFile(const std::string& path);

// Reads and strictly parses the key file at `path`: the exact header, then the aead and the
// hmac line in that order with exactly 64 lower-case hex digits each, a final newline optional,
// nothing else. Strict because a key file that is "almost right" is a damaged key file.
// Errors: NotFound if there is no file; PermissionDenied if group or others have any access
// to it (a readable key file would let any local user decrypt the registry); DataLoss if the
// contents are not exactly that format or exceed 4 KiB; FailedPrecondition if `path` is not
// a regular file; IoError if it cannot be read. Messages may name the path, never key bytes.
// Thread-safe.
Result<NodeKeys> LoadKeyFile(const std::string& path);

// A public fingerprint of `keys`: the first 16 hex digits of
// HMAC-SHA-256(hmac_key, "kakunin key id v1"). The registry stores it, so a node started with
// another node's key file stops with a clear error instead of writing data no one can read.
// Reveals nothing about the keys (HMAC is a pseudo-random function). Since both keys are only
// ever generated together, fingerprinting the hmac key identifies the pair.
// REQUIRES: keys.hmac_key is kKeySize bytes. Thread-safe.
std::string KeyId(const NodeKeys& keys);

}  // namespace kakunin::crypto
