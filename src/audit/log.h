#pragma once

// The operation log (操作履歴, DESIGN §6): entries appended in the same transaction as the
// operation they record, hashed into an RFC 9162 Merkle tree whose complete perfect subtrees
// are stored (so a proof reads O(log n) of them), signed checkpoints, proofs, and a verifier
// that recomputes everything and names every entry, node or checkpoint that does not match.

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/signer.h"
#include "audit/targets.h"
#include "core/clock.h"
#include "store/registry_store.h"

namespace kakunin::audit {

struct LogSettings {
  int64_t checkpoint_every = 1000;                        // entries
  int64_t checkpoint_interval_micros = int64_t{60} * 1000000;  // or this long since the last
  // The log's identity in its C2SP checkpoints (audit/checkpoint.h); empty: DefaultOrigin.
  std::string origin;
  // Every checkpoint signs the resident map, not only the sealing ones (WriteCheckpoint). Each
  // periodic checkpoint then steps the chains of the residents its entries name and rewrites
  // their paths in the map: O(k log(residents / k)) rows for k residents per checkpoint.
  bool map_every_checkpoint = false;
};

// "kakunin/<key id>": unique per signing key, so two nodes' logs never share an origin.
std::string DefaultOrigin(const Signer& signer);

// A stored checkpoint as the checkpoint module takes it.
Checkpoint CheckpointOf(const store::CheckpointRow& row);

// A stored entry, decoded at its own version. For version 2 the targets are filled from the
// stored target leaves, which must give the entry's target_root (DataLoss otherwise).
Result<AuditEntry> DecodeStoredEntry(const store::AuditRow& row);

// Thread-compatible: Append and WriteCheckpoint run inside the registry's write transaction,
// which is serialised.
class AuditLog {
 public:
  // `signer` and `clock` must outlive the log.
  AuditLog(const Signer* signer, const Clock* clock, LogSettings settings = {});

  // Appends `entry` (its sequence and time are set here) inside `txn`, and writes a signed
  // checkpoint when one is due. Returns the entry's sequence number.
  // `time`, when given, receives the time the entry was logged at (never before the previous
  // entry's, whatever the clock says): what the records written with it carry.
  Result<uint64_t> Append(store::RegistryTxn& txn, AuditEntry entry,
                          int64_t* time = nullptr) const;

  // Writes a checkpoint now if the log grew since the last one (at shutdown, at the end of a
  // command). These checkpoints also sign the resident map (audit/resident_map.h): the chains
  // of the residents named since the last one are stepped from the stored entries and the map
  // updated in one batch. The ones Append writes every N entries or T seconds do not (unless
  // LogSettings::map_every_checkpoint), so an append costs its entry row, the index rows and
  // the tree nodes it completes (one on average), and nothing per resident.
  Status WriteCheckpoint(store::RegistryTxn& txn) const;

  const Signer& signer() const { return *signer_; }
  const std::string& origin() const { return origin_; }

  // A checkpoint this node signed, known committed and extended by the stored log (audit.head
  // at start, the newest stored one as the server's timer finds it: AuditDesk::CheckExtends
  // hands each one it checked here). From then on nothing is signed over a log that no longer
  // gives its root at its size, or is shorter: entries cut, rewritten or removed in the
  // database behind the node's back would otherwise be signed into the next checkpoint and
  // verify clean (found in review: a serving node signed a log cut back past two checkpoints
  // whose rows were deleted with it). Keeps the largest; thread-safe.
  void Trust(int64_t size, const std::string& root) const;
  // The size of the largest checkpoint trusted (0: none yet).
  int64_t TrustedSize() const;

 private:
  // `with_map`: also bring the resident map up to date and sign its root.
  Status Sign(store::RegistryTxn& txn, int64_t size, bool with_map) const;
  // Steps the chains of the residents named since the last map checkpoint, writes their heads
  // and map leaves; returns the map's root.
  Result<std::string> UpdateResidentMap(store::RegistryTxn& txn) const;
  const Signer* signer_;
  const Clock* clock_;
  LogSettings settings_;
  std::string origin_;
  mutable std::mutex trust_mu_;
  mutable int64_t trusted_size_ = 0;  // 0: none yet
  mutable std::string trusted_root_;
};

struct InclusionProofDoc {
  int64_t leaf_index = 0;
  int64_t tree_size = 0;
  std::string leaf_hash;
  std::vector<std::string> path;
};

struct ConsistencyProofDoc {
  int64_t old_size = 0;
  int64_t new_size = 0;
  std::vector<std::string> path;
};

// Proofs from the stored tree. `tree_size` must not exceed the log's size.
Result<InclusionProofDoc> ProveInclusion(store::RegistryReader& reader, int64_t leaf_index,
                                         int64_t tree_size);
Result<ConsistencyProofDoc> ProveConsistency(store::RegistryReader& reader, int64_t old_size,
                                             int64_t new_size);
Result<std::string> RootAt(store::RegistryReader& reader, int64_t tree_size);

std::string InclusionProofToJson(const InclusionProofDoc& p);
std::string ConsistencyProofToJson(const ConsistencyProofDoc& p);
// Either kind; `kind` is set to "inclusion" or "consistency".
Result<InclusionProofDoc> InclusionProofFromJson(std::string_view json);
Result<ConsistencyProofDoc> ConsistencyProofFromJson(std::string_view json);

// At most this many problems are listed; the rest are only counted.
inline constexpr size_t kMaxListedProblems = 100;

struct VerifyReport {
  bool ok = false;
  int64_t entries = 0;
  int64_t erased_payloads = 0;  // the prefix erased by retention
  int64_t checkpoints = 0;
  std::string problem;                // the first thing that does not match, if !ok
  std::vector<std::string> problems;  // every one, in the order found, up to kMaxListedProblems
  int64_t problem_count = 0;          // all of them, listed or not
  // The stored records against the log's state leaves (registry/state_verify.h), when the
  // caller holds the node's keys (registry::AuditDesk::Verify); 0 otherwise.
  int64_t state_entries = 0;
  int64_t versions = 0;
  int64_t residents = 0;
  int64_t unattested_versions = 0;
  int64_t unattested_residents = 0;
};

// Recomputes every leaf from its payload (or takes the kept leaf hash of an erased entry),
// rebuilds the tree and compares it with every stored node, checks every checkpoint's
// signature with `public_key` and its root against the recomputed tree (which also makes
// consecutive checkpoints consistent), and that no checkpoint covers more than the log holds.
// Goes on after a problem and names each one (entry sequence or node, and what differs): one
// bad entry must not hide a later one. Each difference is named where it arises, once — the
// stored tree above a changed entry is checked against what is stored beneath it, not flagged
// node after node. Problems carry no personal data (sequences, sizes and counts only).
// A provision entry's records must match the targets it names as provided (those not ending in
// ":missing"), one each, in order: `provided_target` maps a record's resident code to that
// target (the registry's keyed MAC, registry::ResidentTarget); without it, a MAC target is
// matched by position only.
Result<VerifyReport> VerifyLog(
    store::RegistryReader& reader, std::string_view public_key,
    const std::function<std::string(const std::string&)>& provided_target = {});

}  // namespace kakunin::audit
