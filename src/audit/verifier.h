#pragma once

// The operation log's verifier (audit::VerifyLog, declared in audit/log.h) as a two-stage
// pipeline over one forward scan of the entries (DESIGN §10: >= 2 M entries/s on 2 cores):
//
//   reader thread   steps the one statement over the entries (store::ScanAuditEntries, rows
//                   seen in place) and copies each into a chunk of `chunk_rows` rows (one
//                   reused byte buffer per chunk, no allocation per row);
//   hasher thread   per entry: its leaf hash, the head decode, its stored target leaves
//                   against the root it commits to, and the resident chains (in log order, so
//                   the resident map root is known at the checkpoint that signs it);
//   reader thread   then, chunk by chunk in order: everything that needs the order or the
//                   database — sequence, gaps, times, searchable columns, the Merkle tree from
//                   the leaves (O(log n) frontier) against every stored node, checkpoints,
//                   provision records, purge justification.
//
// At most `chunks_in_flight` chunks exist at once: memory is bounded by the tuning, not the log.
// Reports are identical to the one-thread reference (VerifyLogReference), which the tests hold
// it to on tampered logs.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/log.h"
#include "audit/targets.h"
#include "crypto/siphash.h"
#include "store/registry_store.h"

namespace kakunin::audit {

struct VerifierTuning {
  size_t chunk_rows = 2048;
  size_t chunks_in_flight = 4;  // >= 2
  bool second_thread = true;    // false: both stages on the caller's thread, chunk by chunk
};

// Sees every entry the verifier reads, on the hasher thread, in log order: `intact` is whether
// the payload gives the stored leaf hash. For passes that piggyback on the verifier's scan
// (registry/state_verify.h). Must not use the reader.
class EntryObserver {
 public:
  virtual ~EntryObserver() = default;
  virtual void Observe(const store::AuditRowView& row, bool intact) = 0;
};

// VerifyLog with an explicit tuning (tests: small chunks, one thread) and an observer.
Result<VerifyReport> VerifyLogWith(
    store::RegistryReader& reader, std::string_view public_key,
    const std::function<std::string(const std::string&)>& provided_target,
    const VerifierTuning& tuning, EntryObserver* observer = nullptr);

// The one-thread verifier VerifyLog used before (audit/log.cc): the reference the pipelined
// one is tested against.
Result<VerifyReport> VerifyLogReference(
    store::RegistryReader& reader, std::string_view public_key,
    const std::function<std::string(const std::string&)>& provided_target = {});

namespace detail {
// The target-index rows the version-2 entries a verifier took call for — (mac, status, seq) of
// each distinct target — as a multiset digest, and the sequences of those entries, in order as
// ranges [from, to). CheckScanTail compares the stored rows of those sequences with it (found in
// review: only the rows were counted, so a row rewritten to name another resident, or to say
// missing for found, verified, and `audit search --target` answered "not read").
struct TargetIndexDigest {
  explicit TargetIndexDigest(crypto::MultisetDigest keyed) : expected(std::move(keyed)) {}
  crypto::MultisetDigest expected;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  void Take(int64_t seq) {
    if (!ranges.empty() && ranges.back().second == seq) {
      ++ranges.back().second;
    } else {
      ranges.emplace_back(seq, seq + 1);
    }
  }
  bool Covers(int64_t seq) const;
};
// The digest's element for one target-index row, written to `out` (kTargetIndexElementSize
// bytes): `mac_and_status` is the stored target leaf's mac and status (kTargetMacSize + 1 bytes,
// audit/targets.h).
inline constexpr size_t kTargetIndexElementSize = 1 + kTargetMacSize + 1 + 8;
// A target-index row's name ("mac:<64 lower-case hex>[:found|:missing]", as TargetName writes it)
// to its mac and status in `out` (kTargetMacSize + 1 bytes); false for anything else.
bool ParseTargetNameInto(std::string_view name, char* out);
std::string_view TargetIndexElement(std::string_view mac_and_status, int64_t seq, char* out);
// Adds the distinct (mac, status) of `records` (each mac ‖ status …, at least 33 bytes) for the
// entry `seq` to `digest` (the index holds each once).
void AddTargetIndexRows(const std::vector<std::string_view>& records, int64_t seq,
                        crypto::MultisetDigest* digest);

// What both verifiers know when their scan ends, for the checks that follow it.
struct ScanTail {
  int64_t expected = 0;             // entries seen
  int64_t erased_payloads = 0;      // of them without a payload
  int64_t justified_erasure = 0;    // the greatest erased_before_seq a signed purge names
  size_t next_checkpoint = 0;       // the first checkpoint the scan did not reach
  int64_t first_counted_seq = -1;   // the first entry whose index rows are accounted for
  int64_t targets_expected = 0;     // target-index rows the kept entries call for
  int64_t provisions_expected = 0;  // provision records the kept provide entries call for
  const TargetIndexDigest* target_index = nullptr;  // the version-2 entries' rows, if known
};
// The checks after the scan, shared by VerifyLogWith and VerifyLogReference: erasures no purge
// justifies, checkpoints beyond the log, the target index and provision records against the
// entries, stray tree nodes, and a tail no checkpoint signs. Each problem goes to `add`.
// Whether the resident map signed at tree size `map_size` can be checked against the chains
// recomputed over the kept entries: nothing was erased, or the erased prefix [0, erased) is
// the one a purge entry (`purge_seq`, naming erased_before_seq = `justified`) erased before
// that checkpoint. That purge restarted every chain that ran through the prefix, so the map
// signed after it holds the chains over the kept entries, and the chain of none for each
// resident all of whose entries went (store: ResidentKeysWithoutEntries).
bool MapCheckableAfterRetention(int64_t erased, int64_t justified, int64_t purge_seq,
                                int64_t map_size);
// The stored chain heads (audit_resident_heads), from which the next map-signing checkpoint
// builds its map, against the chains the entries give at the newest one (tree size
// `map_size`; `leaves`: each chain's (key, map leaf) over the kept entries, sorted by key), once
// that checkpoint's map was found right: each head it took must give its resident's leaf, a head
// of count 0 (retention left the resident without entries) must have no chain, and each chain
// its head. A head moved since (last_seq ≥ map_size: a purge restarted it) waits for the next
// map-signing checkpoint, which the verifier checks then. Found in review: a head edited by hand
// was found only once the next checkpoint had signed a map built from it, which was then blamed.
// Heads are named by the first bytes of their key (a keyed MAC: nobody's code or data).
// The retention floor of the log (kakunin.toml's retention.audit_years is at least this), and
// how long after its entries the first checkpoint over them may have been signed (they are
// signed within 1,000 entries or 60 s, or when a node that crashed is started again).
inline constexpr int kLogRetentionFloorYears = 7;
inline constexpr int64_t kErasureSignatureSlackMicros = int64_t{31} * 24 * 3600 * 1000000;
// Whether the purge entry `purge_seq`, logged at `purge_time`, may have erased the payloads of
// entries [0, before_seq): the first checkpoint over entry before_seq − 1 — signed, so its time
// is the node's, and no later than those entries were written plus the slack — must be dated
// before the day kLogRetentionFloorYears before the purge's, plus the slack. "" if so, else the
// problem. Found in review: a purge entry written into the database named recent entries, the
// node signed it at its next checkpoint, and verify accepted the erasure of reads and
// provisions made minutes before.
std::string ErasureBeforeItsTime(const std::vector<store::CheckpointRow>& checkpoints,
                                 int64_t purge_seq, int64_t purge_time, int64_t before_seq);
// `after_retention`: retention erased entries, so a chain of none (count 0) may stand for a
// resident whose every entry is gone; without it none may (found in review: an invented chain
// of none verified, and the next checkpoint would have signed a leaf for it).
Status CheckResidentHeads(store::RegistryReader& reader,
                          const std::vector<std::pair<std::string, std::string>>& leaves,
                          int64_t map_size, bool after_retention,
                          const std::function<void(std::string)>& add);
// The stored resident map against the map holding `leaves` (after retention: with the chains
// of none, MapLeavesAfterRetention), whose root the checkpoint signs (`signed_root`): its root,
// then every stored node — a multiset comparison (crypto::MultisetDigest) of the stored nodes
// with ForEachMapNode's, in one pass over each (found in review: only the root was compared, so
// a node below it changed, added or removed verified, statements were then refused, and the next
// checkpoint signed a map the entries do not give). Each problem goes to `add`.
Status CheckStoredMap(store::RegistryReader& reader,
                      const std::vector<std::pair<std::string, std::string>>& leaves,
                      const std::string& signed_root, const std::function<void(std::string)>& add);
Status CheckScanTail(store::RegistryReader& reader,
                     const std::vector<store::CheckpointRow>& checkpoints, const ScanTail& tail,
                     const std::function<void(std::string)>& add);
// Which field of provision record `p` differs from what its resident.provide entry (`entry`,
// logged at `entry_time`) says was provided, or nullptr: the function, kind, recipient and items
// exactly as the entry's conditions name them ("function=… kind=… recipient=… items=…"), the
// number provided iff the items hold individual_number, the time no more than a minute after the
// entry's nor a day before it, and the source the same as `source` (the first record's; set from
// it when empty; prefecture:0, an earlier national node's, counts as national). Each of them
// is printed on the resident's disclosure notice (found in review: only the recipient, a prefix
// of the items and the purpose were compared, so a direct edit of the database could turn
// 個人番号の提供 off or back-date a provision out of the notice's 7 years).
const char* ProvisionFieldDiffers(const AuditEntry& entry, int64_t entry_time,
                                  const store::ProvisionRow& p, std::string* source);
}  // namespace detail

}  // namespace kakunin::audit
