#pragma once

// The access statement (提供状況の証明, issue 11 part 2): for one resident, every version-2
// entry that named them, each with its target path and its inclusion proof against a signed
// C2SP checkpoint, and the resident map's proof that the checkpoint's signed map holds exactly
// that many entries with that chain (audit/resident_map.h), so none was left out. It names
// nobody else: of a batch only this resident's target leaf is shown, the rest as hashes on a
// path. Checked offline with nothing but the node's public key.
//
// JSON (one object, at most kMaxStatementBytes):
//   {"format":"kakunin-access-statement","version":1,
//    "checkpoint":"<C2SP note>","resident_key":"<hex>",
//    "map_proof":{"depth":D,"bitmap":"<hex>","siblings":["<hex>",…]},
//    "entries":[{"seq":S,"payload":"<hex>","target_index":I,"target_leaf":"<hex>",
//                "target_path":["<hex>",…],"inclusion":["<hex>",…]},…]
//    [,"consistency":{"old_size":M,"path":["<hex>",…]}]}

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/resident_map.h"
#include "core/status.h"
#include "store/registry_store.h"

namespace kakunin::audit {

inline constexpr size_t kMaxStatementBytes = size_t{64} << 20;
inline constexpr size_t kMaxStatementEntries = 1 << 20;

struct StatementEntry {
  int64_t seq = 0;
  std::string payload;      // the version-2 entry
  uint32_t target_index = 0;
  std::string target_leaf;  // EncodeTargetLeaves of the one leaf
  std::vector<std::string> target_path;
  std::vector<std::string> inclusion;
};

struct Statement {
  std::string checkpoint_note;
  std::string resident_key;  // 32 raw bytes
  MapProof map_proof;
  std::vector<StatementEntry> entries;
  std::optional<int64_t> consistency_old_size;
  std::vector<std::string> consistency_path;
};

// Builds the statement of `key` against the newest checkpoint that signs the map, with a
// consistency proof from `old_size` if given. NotFound if no version-2 entry names the key.
Result<Statement> BuildStatement(store::RegistryReader& reader, std::string_view public_key,
                                 std::string_view key, std::optional<int64_t> old_size);

std::string StatementToJson(const Statement& s);
// Strict: the exact members, hex of the right sizes, within the limits.
Result<Statement> StatementFromJson(std::string_view json);

struct StatementCheck {
  bool ok = false;
  std::string problem;  // what fails, if !ok
  int64_t entries = 0;
  int64_t tree_size = 0;
};
// Checks everything: the checkpoint's signature under `public_key`, each entry's payload,
// target path and inclusion proof, the chain over them into the map value, the map proof into
// the signed map root; with `earlier` (a checkpoint seen before), the consistency proof from it.
StatementCheck CheckStatement(const Statement& s, std::string_view public_key,
                              const std::optional<Checkpoint>& earlier);

}  // namespace kakunin::audit
