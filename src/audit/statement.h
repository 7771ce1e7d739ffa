#pragma once

// The access statement (提供状況の証明, issue 11 part 2): for one person, every version-2
// entry that named them, each with its target path and its inclusion proof against a signed
// C2SP checkpoint, and the resident map's proof that the checkpoint's signed map holds exactly
// that many entries with that chain (audit/resident_map.h), so none was left out. It names
// nobody else: of a batch only this resident's target leaf is shown, the rest as hashes on a
// path. Checked offline with nothing but the node's public key.
//
// A person may have held several resident codes (住民票コードの変更: an amendment with reason
// resident_code_changed). The log names each code by its own keyed MAC, so the map holds one
// chain per code. A statement therefore has one part per code of the person — every earlier
// and later one, whichever was asked for — each with its resident key, its map proof (or proof
// of absence) and its entries, all against the one checkpoint. The entry that changed a code
// names both codes; so a statement that shows a code change must show the parts of both codes
// (CheckStatement), and one code's part cannot be left out while the change is kept.
//
// JSON (one object, at most kMaxStatementBytes), version 2:
//   {"format":"kakunin-access-statement","version":2,
//    "checkpoint":"<C2SP note>",
//    "parts":[{"resident_key":"<hex>",
//              "map_proof":{"depth":D,"bitmap":"<hex>","siblings":["<hex>",…]},
//                — or, for a code the map does not hold (never named, entries: []),
//              "absence_proof":{"depth":D,"bitmap":"<hex>","siblings":[…]
//                               [,"other_key":"<hex>","other_value":"<hex>"]},
//              "entries":[{"seq":S,"payload":"<hex>","target_index":I,"target_leaf":"<hex>",
//                          "target_path":["<hex>",…],"inclusion":["<hex>",…]},…]},…]
//    [,"consistency":{"old_size":M,"path":["<hex>",…]}]
//    [,"key_history":[{"checkpoint":"<note or JSON>","seq":S,"payload":"<hex>",
//                      "inclusion":["<hex>",…]},…]]}
// Version 1 (written before code chains were covered) had one code's members — resident_key,
// map_proof or absence_proof, entries — at the top level instead of "parts"; it is still read,
// as a statement of one part, and checked the same way (so a version-1 statement that shows a
// code change without the other code's part is refused as incomplete).
//
// key_history: the log's signing-key announcements (key.signing.rotate, audit/key_rotation.h),
// oldest first, each with the checkpoint signed by the key it replaces and its inclusion proof
// in it. A resident who holds an earlier key of the node checks the statement with that key:
// each announcement signed under the key in force hands trust to the next, up to the key that
// signs the statement's checkpoint. With the current key, the history is not needed.

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
// JSON values in a statement file: an honest one is mostly 32-byte hashes in hex (~70 bytes a
// value), so kMaxStatementBytes holds about a million; a file of tiny values ("0,") is refused
// before it costs gigabytes of memory (review finding).
inline constexpr size_t kMaxStatementValues = size_t{4} << 20;
inline constexpr size_t kMaxStatementEntries = 1 << 20;  // over all parts
// Codes of one person: a code change is rare (a request of the resident, or a leak).
inline constexpr size_t kMaxStatementParts = 64;

struct StatementEntry {
  int64_t seq = 0;
  std::string payload;  // the version-2 entry
  uint32_t target_index = 0;
  std::string target_leaf;  // EncodeTargetLeaves of the one leaf
  std::vector<std::string> target_path;
  std::vector<std::string> inclusion;
};

// One signing-key announcement, as shown in a statement.
struct KeyStep {
  std::string checkpoint;  // signed by the key announced as replaced: a C2SP note, or JSON
  int64_t seq = 0;         // the announcement entry
  std::string payload;
  std::vector<std::string> inclusion;  // in `checkpoint`'s tree
};

// One resident code of the person: its key, the map's word on it and the entries naming it.
struct StatementPart {
  std::string resident_key;                // 32 raw bytes
  MapProof map_proof;                      // when the map holds the code
  std::optional<MapAbsenceProof> absence;  // when it does not (then no entries)
  std::vector<StatementEntry> entries;
};

struct Statement {
  int version = 2;  // of the JSON read (1 or 2); StatementToJson writes 2
  std::string checkpoint_note;
  std::vector<StatementPart> parts;  // one per code of the person, at least one
  std::optional<int64_t> consistency_old_size;
  std::vector<std::string> consistency_path;
  std::vector<KeyStep> key_history;
};

// Builds the statement of the person whose codes have the resident keys `keys` (one part per
// key, in that order; 1..kMaxStatementParts distinct keys of 32 bytes) against the newest
// checkpoint that signs the map, with a consistency proof from `old_size` if given, all in one
// read snapshot. Which codes are one person's is the caller's to say (registry::AuditDesk
// follows the store's code chain). A code no kept version-2 entry names gets a part of no
// entries: the map's proof of absence, or of a chain of none (retention).
Result<Statement> BuildStatement(store::RegistryReader& reader, std::string_view public_key,
                                 const std::vector<std::string>& keys,
                                 std::optional<int64_t> old_size);

std::string StatementToJson(const Statement& s);
// Always version 2. StatementFromJson reads versions 1 and 2.
// Strict: the exact members, hex of the right sizes, within the limits.
Result<Statement> StatementFromJson(std::string_view json);
// Whether `text`, read as `s`, is byte for byte what the node writes: StatementToJson (or, for
// a statement of version 1, what the node wrote then), alone as the API serves it or followed by
// one newline as `kakunin audit statement` writes it. The 開示決定通知書 prints the SHA-256 of
// those bytes; StatementFromJson takes any JSON spelling of the same values (upper-case hex,
// members in another order, spaces), whose digest then matches nothing the node printed.
bool IsCanonicalStatementJson(std::string_view text, const Statement& s);

struct StatementCheck {
  bool ok = false;
  std::string problem;  // what fails, if !ok
  int64_t entries = 0;  // distinct entries over all parts (a code change is in two)
  int64_t codes = 0;    // parts: resident codes of the person
  int64_t tree_size = 0;
  int64_t signed_at = 0;  // the checkpoint's time (µs since the epoch)
  int64_t keys_followed = 0;  // announcements followed from the key given to the signing one
  std::string signing_key;    // the key that signs the statement's checkpoint (raw), once known
  // The node's keys the statement shows from the key given (raw): that key, the later ones its
  // announcements lead to, and the earlier ones whose announcements lead to it. An earlier
  // checkpoint signed by any of them is taken (then held to the consistency proof).
  std::vector<std::string> node_keys;
};
// Checks everything: the checkpoint's signature under `public_key` (or under the key that
// the key history hands `public_key`'s trust to); for every part, each entry's payload,
// target path and inclusion proof, the chain over them into the map value, the map proof into
// the signed map root (or its absence from the map: then no entries); distinct keys; that every
// code change shown (an applied notification.apply, or a national link.apply made current, of
// reason resident_code_changed, naming two codes) has the parts of both codes; with `earlier` (a
// checkpoint the resident holds — seen before, or the newest the node published), the
// consistency proof from it: a statement older than `earlier` is refused, since it cannot show
// the entries after its own checkpoint (a stale statement could leave recent ones out).
// `earlier` may be signed by any of the node's keys the key history shows (StatementCheck::
// node_keys): one kept from before a signing-key rotation is checked with the current key.
StatementCheck CheckStatement(const Statement& s, std::string_view public_key,
                              const std::optional<Checkpoint>& earlier);

// The chain (count, head) of `key` over the kept version-2 entries naming it with sequence in
// [from, to), in log order — what the resident map holds for it once retention restarted it.
Result<std::pair<int64_t, std::string>> ResidentChain(store::RegistryReader& reader,
                                                      std::string_view key, int64_t from,
                                                      int64_t to);

// Retention and the resident map. `kakunin purge` erases the payloads (and target index) of the
// entries [0, before_seq) older than the retention period; the record of who was accessed must
// then go from the map too, or a count of accesses older than the law allows would be kept and
// signed for ever, and no statement could be proved (its erased entries cannot be shown).
// So every chain that ran through the erased prefix restarts after it: (count, head) over the
// resident's kept entries only, a resident with none left holding the chain of no entries
// (count 0). The next sealing checkpoint signs the new map; the purge entry, in the same
// transaction, names before_seq. Statements then show exactly the kept entries.
struct ChainRestart {
  store::ResidentHeadRow seen;  // the head as the plan read it
  // Whether one was stored: heads are written when a checkpoint signs the map (audit/log.h), so
  // a resident named only since the last one has none yet.
  bool had_head = true;
  int64_t count = 0;            // the restarted chain
  std::string head;
};
struct ChainRestartPlan {
  int64_t from = 0;        // where the last purge stopped (the scan started there)
  int64_t before_seq = 0;  // the prefix to be erased: entries older than the time asked
  int64_t size = 0;        // the log's size when planned: later entries must not name them
  std::vector<ChainRestart> restarts;
};
// Reads, in a snapshot: the prefix of entries with time before `erase_before_time`, the
// residents its entries that still hold their payloads name, and each one's chain over its
// entries after the prefix. Scans the prefix once (a purge, not a request path).
Result<ChainRestartPlan> PlanChainRestarts(store::RegistryReader& reader,
                                           int64_t erase_before_time);
// In the purge's transaction, after the erasure of [0, erased_before_seq): Unavailable if the
// prefix or a head moved since the plan (an entry appended in between: plan again); else writes
// the restarted heads, marked as moved at `at_seq` (the purge entry) so that the next sealing
// checkpoint updates the map for them.
Status ApplyChainRestarts(store::RegistryTxn& txn, const ChainRestartPlan& plan,
                          int64_t erased_before_seq, int64_t at_seq);

}  // namespace kakunin::audit
