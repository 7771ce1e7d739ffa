#pragma once

// Signed checkpoints of the operation log: (tree size, root hash, time), signed with the
// node's Ed25519 key. The signed message is plain text so an outside witness can check it
// with any Ed25519 implementation.
//
// Since the second edition of the log, checkpoints are C2SP tlog-checkpoint notes
// (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note), signed over the note text:
//
//   <origin>                       the log's identity, e.g. "kakunin/<key id>"
//   <tree size, decimal>
//   <root hash, base64>
//   time <µs since the Unix epoch>  extension line
//   resident-map <base64>          extension line, only when a resident map root is signed
//
//   — <origin> base64(key hash ‖ 64-byte Ed25519 signature)
//
// with key hash = SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ public key)[:4]. Witnesses and tools that read
// C2SP checkpoints read these. A checkpoint with an empty origin is of the first format, whose
// signed message is:
//
//   kakunin operation log v1
//   <tree size, decimal>
//   <root hash, 64 lowercase hex>
//   <time, µs since the Unix epoch, decimal>
//
// JSON form (for `kakunin audit checkpoint` and archives):
//   {"tree_size":N,"root":"<hex>","time":T,"key_id":"<hex>","signature":"<hex>"
//    [,"origin":"<origin>"[,"map_root":"<hex>"]]}

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace kakunin::audit {

struct Checkpoint {
  int64_t tree_size = 0;
  std::string root;  // 32 raw bytes
  int64_t time = 0;
  std::string key_id;
  std::string signature;  // 64 raw bytes
  std::string origin;     // empty: the first format (CheckpointMessage); else a C2SP note
  std::string map_root;   // empty, or the 32-byte root of the resident map (C2SP only)
};

// Limits of a note read from outside.
inline constexpr size_t kMaxNoteBytes = 16384;
// CheckpointFromNote's message for a well-formed note that no line of the key given signs.
inline constexpr std::string_view kNoSignatureByThisKey =
    "the checkpoint note has no signature by this key";
inline constexpr size_t kMaxOriginBytes = 255;

std::string CheckpointMessage(int64_t tree_size, std::string_view root, int64_t time);
// The C2SP note text (what is signed) of a checkpoint with an origin.
std::string CheckpointNoteText(const Checkpoint& c);
// What the signature covers: the note text, or CheckpointMessage for the first format.
std::string SignedMessage(const Checkpoint& c);
bool VerifyCheckpoint(const Checkpoint& c, std::string_view public_key);

// A valid origin (and note key name): 1..kMaxOriginBytes printable ASCII, no space or '+'.
bool IsValidOrigin(std::string_view origin);
// The signed-note key hash of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4].
std::string NoteKeyHash(std::string_view key_name, std::string_view public_key);
// The signed note: note text, blank line, one signature line. REQUIRES: c.origin non-empty.
std::string CheckpointToNote(const Checkpoint& c, std::string_view public_key);
// Strict parse of a C2SP checkpoint note; the signature taken is the one whose key name is the
// origin and whose key hash is `public_key`'s (others, e.g. witness cosignatures, are ignored).
// InvalidArgument if malformed or no such signature line; the caller still runs
// VerifyCheckpoint.
Result<Checkpoint> CheckpointFromNote(std::string_view note, std::string_view public_key);
// Either form: JSON when it starts with '{', else a note.
Result<Checkpoint> ParseCheckpoint(std::string_view text, std::string_view public_key);

std::string CheckpointToJson(const Checkpoint& c);
// Strict: exactly those members with the right types and lengths.
Result<Checkpoint> CheckpointFromJson(std::string_view json);

}  // namespace kakunin::audit
