#pragma once

// Signed checkpoints of the operation log: (tree size, root hash, time), signed with the
// node's Ed25519 key. The signed message is plain text so an outside witness can check it
// with any Ed25519 implementation:
//
//   kakunin operation log v1
//   <tree size, decimal>
//   <root hash, 64 lowercase hex>
//   <time, µs since the Unix epoch, decimal>
//
// JSON form (for `kakunin audit checkpoint` and archives):
//   {"tree_size":N,"root":"<hex>","time":T,"key_id":"<hex>","signature":"<hex>"}

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
};

std::string CheckpointMessage(int64_t tree_size, std::string_view root, int64_t time);
bool VerifyCheckpoint(const Checkpoint& c, std::string_view public_key);

std::string CheckpointToJson(const Checkpoint& c);
// Strict: exactly those five members with the right types and lengths.
Result<Checkpoint> CheckpointFromJson(std::string_view json);

}  // namespace kakunin::audit
