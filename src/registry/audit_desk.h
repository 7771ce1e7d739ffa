#pragma once

// The operation log as the node's host reads it (kakunin audit, DESIGN §6): verification, the
// checks against checkpoints kept outside the database, proofs, search, review and export.
// Each call opens its own read snapshot, so the commands above never hold a store type
// (DESIGN §3). Recording that the log was read stays with the caller (Registry::Record), which
// signs and seals it in its own order.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "audit/archive.h"
#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/log.h"
#include "core/date.h"
#include "audit/review.h"
#include "audit/statement.h"
#include "core/status.h"
#include "crypto/field_cipher.h"
#include "store/registry_store.h"

namespace kakunin::registry {

// Which entries a search returns. Times are µs since the epoch.
struct LogQuery {
  std::optional<int64_t> from_time;  // inclusive
  std::optional<int64_t> to_time;    // exclusive
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> purpose;
  // A resident code: the entries naming it or any other code of the same person (earlier or
  // later, through the store's code chain), as a statement covers them.
  std::optional<std::string> target;
  // A suspicion to test: (criterion kind, value) pairs, e.g. {"birth_date", "1980-01-01"}.
  // Only searches whose condition commitment equals ConditionCommitment(criteria) are returned:
  // the exact set of criteria, each with the value as the search gave it.
  std::vector<std::pair<std::string, std::string>> criteria;
  std::optional<int64_t> from_seq;  // inclusive: the next page after an earlier answer
  int limit = 1000;
};

// The criterion kinds a resident search records (Registry::Search), in clear in its entry.
inline constexpr std::string_view kCriterionKinds[] = {"name_kana", "name",    "birth_date",
                                                       "sex",       "address", "individual_number"};
// InvalidArgument if a kind is not one of kCriterionKinds or is given twice: such a suspicion
// matches no search, and saying nothing would read as "never searched". Names no value.
Status CheckCriteria(const std::vector<std::pair<std::string, std::string>>& criteria);

// The canonical encoding of a search's criterion values: the pairs sorted by kind, each as
// u32 big-endian length ‖ kind ‖ u32 big-endian length ‖ value.
std::string CanonicalCriteria(std::vector<std::pair<std::string, std::string>> criteria);
// The commitment a version-2 entry holds for its criterion values: HMAC-SHA-256 under the
// node's hmac key (FieldCipher::LookupHash, the key that makes resident targets) of
// "kakunin/conditions/v2:" ‖ CanonicalCriteria. Nobody without the key learns or tests values.
std::string ConditionCommitment(const crypto::FieldCipher& cipher,
                                const std::vector<std::pair<std::string, std::string>>& criteria);

// One entry as stored. Holds personal data (targets, conditions): the caller prints it to the
// auditor who asked, never to a log.
struct LogRecord {
  int64_t seq = 0;
  int64_t time = 0;       // µs since epoch
  bool erased = false;    // retention erased the payload; only the leaf hash is left
  std::string leaf_hash;  // raw bytes
  std::optional<audit::AuditEntry> entry;  // nullopt when erased or when it does not decode
  bool withheld = false;  // ForReview replaced what a version-1 entry held in clear
};

// One log record as `audit search` and the console show it (JSON, one object): the entry's
// ids, kinds and counts (version-1 entries after AuditDesk::ForReview), or that retention erased
// it (its leaf hash only).
std::string LogRecordJson(const LogRecord& row);

// A search filter as an `audit.search` entry records it: kept when it is made of the characters
// of an actor, an action or a time ([A-Za-z0-9:._@+-], at most 100) and holds no run of eight or
// more decimal digits (a birth date written compactly, a code, a number); else "(withheld)".
std::string LoggedFilter(std::string_view v);

// Thread-compatible; every method reads a fresh snapshot.
class AuditDesk {
 public:
  // Not owned; all must outlive the desk.
  AuditDesk(store::RegistryStore* store, const audit::AuditLog* log,
            const crypto::FieldCipher* cipher);

  // Recomputes the whole log (audit::VerifyLog) with the node's public key; provision records
  // are matched to their targets through the keyed MAC.
  Result<audit::VerifyReport> Verify() const;

  // OK if the log extends `checkpoint` (JSON or a C2SP note, signed by this node, same root at
  // its size); DataLoss naming `what` otherwise.
  Status CheckExtends(const std::string& checkpoint, const char* what) const;

  // `c` as a C2SP signed note under this node's key (c.origin must be set).
  std::string CheckpointNote(const audit::Checkpoint& c) const;

  // The newest signed checkpoint; nullopt if none was signed yet.
  Result<std::optional<audit::Checkpoint>> LatestCheckpoint() const;
  // The time of the newest entry (0 if none). Entries' times never go back, so a clock that
  // once ran ahead dates every later entry at that time: the server warns at start.
  Result<int64_t> NewestEntryTime() const;

  // Inclusion of entry `leaf_index` in the tree of `tree_size` entries (the latest checkpoint's
  // size when nullopt; NotFound without a checkpoint).
  Result<audit::InclusionProofDoc> ProveInclusion(int64_t leaf_index,
                                                  std::optional<int64_t> tree_size) const;
  Result<audit::ConsistencyProofDoc> ProveConsistency(int64_t old_size, int64_t new_size) const;

  // With a target, the entries that name the code, or any other code the same person held, in
  // clear (version-1 notifications) or by its keyed MAC (found or not), in log order; then
  // `codes_searched` (if given) is set to how many codes that was.
  Result<std::vector<LogRecord>> Search(const LogQuery& query, int* codes_searched = nullptr) const;
  // How the log names a resident code a read asked for (registry::ResidentTarget).
  std::string TargetOf(const std::string& resident_code, bool found) const;
  // How the log names a code asked about without saying whether the node holds it
  // (registry::AskedTarget): `audit statement`, which is made for any valid code.
  std::string AskedTargetOf(const std::string& resident_code) const;
  // `record` as a reviewer may see it (`audit search`): a version-1 entry (written before the
  // second edition) named resident codes in clear and kept search values as JSON; here each
  // code is named by its keyed MAC as version 2 names it, and each search value, and any run of
  // ten or more digits in its conditions, is "(withheld)". Later versions hold nothing personal
  // and are returned as they are.
  LogRecord ForReview(LogRecord record) const;

  // The access statement of a resident (audit/statement.h) as JSON, against the latest
  // checkpoint that signs the map: one part per resident code the person has held (the code
  // given, every earlier and every later one, through the store's code chain); with `earlier` (a
  // checkpoint of this node, JSON or note), a consistency proof from it.
  Result<std::string> Statement(const std::string& resident_code,
                                const std::optional<std::string>& earlier) const;

  // audit::Review over entries with time in [from_time, to_time).
  // Every support measure kept (in force, ended or lapsed) makes the provisions of its resident
  // on its days findings, under every code the resident held.
  Result<std::vector<audit::Finding>> Review(int64_t from_time, int64_t to_time) const;

  // audit::ExportArchive of entries with time in [from_time, to_time) to `out`.
  Result<audit::ArchiveSummary> Export(int64_t from_time, int64_t to_time, std::ostream& out) const;

 private:
  store::RegistryStore* store_;
  const audit::AuditLog* log_;
  const crypto::FieldCipher* cipher_;
};

}  // namespace kakunin::registry
