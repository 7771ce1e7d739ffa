#pragma once

// The resident aggregate (DESIGN §3, §5): current records, their versions, resident-code
// changes, each sender's applied sequences and the outbox for the national node. Rows hold
// personal data: never log them.
//
// Model: a *person* has one row in `residents` (the current state, with search keys) and
// every version of their record in `versions`, newest last. A version is *current* (the
// record now), *superseded* (replaced by a later notification: its retention clock runs
// from `superseded_at`) or the *last* version of a removed resident (erased with them).
// Resident-code changes leave an old → new chain; each sender's applied sequences are
// kept (with a keyed MAC of the payload) for idempotent replays; every applied change
// leaves an outbox row for the national node.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/date.h"
#include "core/status.h"

namespace kakunin::store {

enum class ResidentStatus { kActive, kRemoved };

// The current state of one person.
struct ResidentRow {
  int64_t person_id = 0;
  std::string resident_code;
  ResidentStatus status = ResidentStatus::kActive;
  std::string municipality_code;
  int64_t version_id = 0;  // the latest version
  std::string name;
  std::optional<std::string> name_kana;
  std::string sex;         // "male" | "female"
  std::string birth_date;  // YYYY-MM-DD
  std::string address;
  std::string number_mac;  // keyed hash of the individual number, for lookup
  // Search keys (text::SearchKey).
  std::string name_key;
  std::string kana_key;
  std::string address_key;
  int64_t updated_at = 0;  // µs since epoch
  int64_t removed_at = 0;  // µs since epoch; 0 while active
};

// One version of a record: exactly one applied notification.
struct VersionRow {
  int64_t version_id = 0;
  int64_t person_id = 0;
  std::string municipality_code;  // the sender
  int64_t sequence = 0;
  std::string kind;
  std::string reason;
  std::string change_date;
  std::string resident_code;
  std::string sealed_number;  // AEAD; associated data "<municipality>/<sequence>"
  std::string name;
  std::optional<std::string> name_kana;
  std::optional<std::string> former_surname;
  std::optional<std::string> alias;
  std::string sex;
  std::string birth_date;
  std::string address;
  std::optional<std::string> new_resident_code;
  int64_t applied_at = 0;     // µs since epoch
  int64_t superseded_at = 0;  // µs since epoch; 0 if not superseded
};

// Search by the 4 information. Every given criterion must hold; keys are search keys.
struct SearchQuery {
  std::optional<std::string> kana_key;     // prefix of the kana key
  std::optional<std::string> name_key;     // prefix of the name key
  std::optional<std::string> birth_date;   // YYYY-MM-DD
  std::optional<std::string> sex;          // "male" | "female"
  std::optional<std::string> address_key;  // prefix of the address key
  bool include_removed = false;
  int limit = 50;  // at most this many rows; one more is read to say the result was cut
};

struct SearchResult {
  std::vector<ResidentRow> rows;  // ranked: closest key first
  bool cut = false;               // more rows matched than `limit`
};

struct StoreStats {
  int64_t active = 0;
  int64_t removed = 0;
  int64_t versions = 0;
  int64_t superseded_versions = 0;
  int64_t code_changes = 0;
  int64_t senders = 0;
  int64_t applied_notifications = 0;
  int64_t outbox_pending = 0;
};

struct PurgeCounts {
  int64_t superseded_versions = 0;
  int64_t removed_residents = 0;
  int64_t removed_resident_versions = 0;
  int64_t audit_payloads = 0;  // operation-log entries whose payload was erased
  int64_t provisions = 0;      // provision records erased
  // National node: MACs of forwarded changes received before the log's retention
  // (link_received_changes).
  int64_t received_changes = 0;
  // Disclosure and correction requests and printout rows erased (store/disclosure_store.h).
  int64_t disclosures = 0;
  // The store could not yet drop what the erased rows left in its files outside its tables
  // (RegistryStore::ScrubErased: SQLite's write-ahead log, held by readers): the scrub stays owed
  // in the database and RegistryStore::FinishPendingScrub finishes it later.
  bool scrub_pending = false;
};

// An active resident's current record, for comparing nodes (kakunin stats --digest): the
// resident's code and the version that holds the record — the latest, by the sender's sequence,
// from the municipality the resident is registered in (a 転出 from elsewhere that arrived later
// is history and does not count, so the choice does not depend on the order of arrival).
struct CurrentRecordRow {
  std::string resident_code;
  VersionRow version;
};

// One committed batch of a bulk import (registry/import.h), written in the batch's own
// transaction: a restarted import skips the batches recorded here once their digest matches.
// Nothing personal: positions, counts and a keyed digest.
struct ImportBatchRow {
  int64_t run = 0;    // which import (meta "import.run")
  int64_t batch = 0;  // 0-based, in input order
  int64_t first_line = 0, last_line = 0;  // physical lines, across the input files
  int64_t records = 0, applied = 0;
  std::string digest;  // 32 bytes
  int64_t audit_seq = 0;  // the operation-log entry that recorded the batch
};

// How a bulk load tunes the writer connection (RegistryStore::BeginBulkLoad).
struct BulkLoadOptions {
  int64_t cache_mib = 64;  // the writer's page cache during the load
  // Drop the search-key indexes for the load and build them once at the end (a new node only:
  // on a node that already holds residents the indexes are kept up to date row by row).
  bool defer_search_indexes = true;
};

// One cell of the population table (registry::Gateway::Population): active residents of one
// municipality, sex and five-year age band, as 総務省's 住民基本台帳に基づく人口 counts them.
struct PopulationRow {
  std::string municipality_code;
  std::string sex;
  int age_band = 0;  // 0, 5, …, 95; 100 for 100 and over
  int64_t count = 0;
};

// A 支援措置 (DV等支援措置: support measure for a victim of domestic violence, stalking or
// child abuse) the municipality holding the person's record set (registry/gateway.h
// SetSupportMeasure). One per person: the current measure, or the last one (ended or lapsed),
// kept so that a later review still knows when the person was protected. No personal data
// beyond the person's id (and, when listed, their current code).
struct SupportMeasureRow {
  int64_t person_id = 0;
  std::string since;              // YYYY-MM-DD (JST): the first day of this unbroken measure
  std::string valid_until;        // YYYY-MM-DD (JST), inclusive
  int64_t ended_at = 0;           // µs since epoch when the municipality ended it; 0 if not
  std::string municipality_code;  // who set it last (the holder then)
  int64_t set_at = 0;             // µs since epoch
  std::string set_by;             // the client's actor id
  std::string resident_code;      // ListSupportMeasures only: the person's current code
};

// Reads of the resident aggregate (see RegistryReader).
class ResidentReader {
 public:
  virtual ~ResidentReader() = default;
  // By current resident code, or an old one (following the change chain).
  virtual Result<std::optional<ResidentRow>> FindByResidentCode(const std::string& code) = 0;
  virtual Result<std::vector<ResidentRow>> FindByNumberMac(const std::string& mac,
                                                           bool include_removed) = 0;
  virtual Result<SearchResult> Search(const SearchQuery& query) = 0;
  // Every version of one person, newest first.
  virtual Result<std::vector<VersionRow>> History(int64_t person_id) = 0;
  virtual Result<std::optional<VersionRow>> Version(int64_t version_id) = 0;
  virtual Result<StoreStats> Stats() = 0;
  // As ResidentWriter::CountSealedNotUnder, outside a write (a finished field-key rotation
  // checks nothing was sealed under an older key since, without holding the writer).
  virtual Result<int64_t> CountSealedNotUnder(const std::string& current_prefix) = 0;
  // Active residents counted by municipality, sex and five-year age band on `as_of` (ages in
  // whole years: a birthday on `as_of` counts), in that order; no cell of zero.
  virtual Result<std::vector<PopulationRow>> Population(const Date& as_of) = 0;
  // The person's support measure (in force, ended or lapsed), if one was ever set.
  virtual Result<std::optional<SupportMeasureRow>> SupportMeasureOf(int64_t person_id) = 0;
  // Every person's, with their current code, in code order: what `audit review` flags reads of.
  virtual Result<std::vector<SupportMeasureRow>> ListSupportMeasures() = 0;
  // Every active resident's current record, in resident-code order; stops at the first error
  // `fn` returns.
  virtual Status ForEachCurrentRecord(const std::function<Status(const CurrentRecordRow&)>& fn) {
    (void)fn;
    return Status::FailedPrecondition("this store cannot list current records");
  }
  // Record-state verification (registry/state_verify.h): every version in version_id order and
  // every resident row (active and removed) in person_id order, each walk one snapshot; stop at
  // the first error `fn` returns.
  virtual Status ForEachVersion(const std::function<Status(const VersionRow&)>& fn) {
    (void)fn;
    return Status::FailedPrecondition("this store cannot list versions");
  }
  virtual Status ForEachResident(const std::function<Status(const ResidentRow&)>& fn) {
    (void)fn;
    return Status::FailedPrecondition("this store cannot list residents");
  }
};

// A sealed individual number and what its associated data is made of (field-key rotation).
struct SealedNumberRow {
  int64_t version_id = 0;
  std::string municipality_code;
  int64_t sequence = 0;
  std::string sealed_number;
};

// Writes of the resident aggregate inside one transaction (see RegistryTxn).
class ResidentWriter {
 public:
  virtual ~ResidentWriter() = default;

  // Field-key rotation (registry/field_key_rotation.h, store/sqlite/sealed.cc): the sealed
  // numbers after `after_version_id` that do not start with `current_prefix`, in version order,
  // at most `limit`; a value replaced only if it is still `old_sealed` (false otherwise); and how
  // many values do not start with `current_prefix`.
  virtual Result<std::vector<SealedNumberRow>> SealedNumbersNotUnder(
      const std::string& current_prefix, int64_t after_version_id, int limit) = 0;
  virtual Result<bool> ReplaceSealedNumber(int64_t version_id, const std::string& old_sealed,
                                           const std::string& new_sealed) = 0;
  virtual Result<int64_t> CountSealedNotUnder(const std::string& current_prefix) = 0;

  // The sender's greatest applied sequence (0 if none). RecordApplied advances it.
  virtual Result<int64_t> LastSequence(const std::string& municipality) = 0;
  // The payload MAC recorded for an applied sequence, if any.
  virtual Result<std::optional<std::string>> AppliedMac(const std::string& municipality,
                                                        int64_t sequence) = 0;
  virtual Status RecordApplied(const std::string& municipality, int64_t sequence,
                               const std::string& payload_mac, int64_t applied_at) = 0;

  virtual Result<std::optional<ResidentRow>> FindByResidentCode(const std::string& code) = 0;
  // Recomputes every resident's name, kana and address search keys with `key` (after the fold
  // table changed); the stored names are untouched. Returns how many residents were rekeyed.
  virtual Result<int64_t> RekeyResidents(
      const std::function<std::string(std::string_view)>& key) = 0;
  // By current code or, failing that, an old one (through the change chain).
  virtual Result<std::optional<ResidentRow>> FindByAnyResidentCode(const std::string& code) = 0;
  // Move-outs expected from a municipality whose registration a 転入 elsewhere superseded
  // (the contract's "moves between municipalities"). Take removes and reports the entry.
  virtual Status AddExpectedMoveOut(int64_t person_id, const std::string& municipality) = 0;
  virtual Result<bool> TakeExpectedMoveOut(int64_t person_id, const std::string& municipality) = 0;
  // Whether a code is held by anyone now or was ever replaced (codes are never reissued).
  virtual Result<bool> IsResidentCodeKnown(const std::string& code) = 0;
  // The person's entries (記載), newest written first: (municipality code, change date).
  virtual Result<std::vector<std::pair<std::string, std::string>>> EntriesOf(
      int64_t person_id) = 0;
  // One version (e.g. the removal that ended a registration: its reason and sender).
  virtual Result<std::optional<VersionRow>> Version(int64_t version_id) = 0;
  // An active person, other than `except_person`, holding this number MAC.
  virtual Result<bool> NumberHeldByOther(const std::string& mac, int64_t except_person) = 0;
  // Every active person holding this number MAC (the national node compares who they are).
  virtual Result<std::vector<ResidentRow>> ActiveHoldersOfNumber(const std::string& mac) = 0;

  // As ResidentReader::SupportMeasureOf, in the transaction.
  virtual Result<std::optional<SupportMeasureRow>> SupportMeasureOf(int64_t person_id) = 0;
  // Writes (inserts or replaces) the person's measure.
  virtual Status PutSupportMeasure(const SupportMeasureRow& row) = 0;
  virtual Result<int64_t> InsertResident(const ResidentRow& row) = 0;  // returns person_id
  virtual Status UpdateResident(const ResidentRow& row) = 0;
  // Points a person at their latest version (after InsertVersion for a new person).
  virtual Status SetResidentVersion(int64_t person_id, int64_t version_id) = 0;
  virtual Result<int64_t> InsertVersion(const VersionRow& row) = 0;  // returns version_id
  virtual Status MarkSuperseded(int64_t version_id, int64_t at) = 0;
  virtual Status RecordCodeChange(const std::string& old_code, const std::string& new_code,
                                  int64_t person_id, int64_t at) = 0;
  // National node: joins two rows found to be one person (a resident-code change overtaken by
  // another prefecture's entry under the new code): every version, code-chain entry and
  // expected move-out of `from_person` passes to `into_person`, and `from_person`'s row goes.
  // The caller marks `from_person`'s current version superseded first. Returns the versions
  // moved as they were before (newest first).
  virtual Result<std::vector<VersionRow>> MergeResident(int64_t from_person, int64_t into_person) {
    (void)from_person, (void)into_person;
    return Status::FailedPrecondition("this store cannot merge residents");
  }
  // Queues a version for the national node (the link delivers it, in outbox order).
  virtual Status EnqueueOutbox(int64_t version_id, int64_t at) = 0;
  // Queues a change of a person's support measure for the national node, in the same order:
  // set through `valid_until` (YYYY-MM-DD), or ended (nullopt), by `municipality_code`.
  // `version_id` is the person's current version, which names them (its current code) when
  // the row is sent; the row holds no personal data of its own.
  virtual Status EnqueueSupportMeasure(int64_t version_id, int64_t at,
                                       const std::string& municipality_code,
                                       const std::optional<std::string>& valid_until) = 0;

  // Bulk import progress (registry/import.h). The defaults serve stores without a bulk path.
  virtual Result<std::optional<ImportBatchRow>> ImportedBatch(int64_t run, int64_t batch) {
    (void)run, (void)batch;
    return Status::FailedPrecondition("this store has no bulk import");
  }
  virtual Status RecordImportBatch(const ImportBatchRow& row) {
    (void)row;
    return Status::FailedPrecondition("this store has no bulk import");
  }

  // Retention: the versions Purge(superseded_before, removed_before, false) would erase, as
  // (version_id, person_id) in version order — the purge's log entry names them
  // (registry/state_digest.h), so the verifier does not take them for missing.
  virtual Result<std::vector<std::pair<int64_t, int64_t>>> PurgeableVersions(
      int64_t superseded_before, int64_t removed_before) {
    (void)superseded_before, (void)removed_before;
    return Status::FailedPrecondition("this store cannot list purgeable versions");
  }

  // Retention: erase superseded versions with superseded_at < `superseded_before` and
  // removed residents (with all their versions) with removed_at < `removed_before` and no
  // version superseded at or after it (a late 転出 kept as history after the removal is
  // notified later, and is kept its own period: 住基令34条2項). With `dry_run`, only count.
  virtual Result<PurgeCounts> Purge(int64_t superseded_before, int64_t removed_before,
                                    bool dry_run) = 0;
};

}  // namespace kakunin::store
