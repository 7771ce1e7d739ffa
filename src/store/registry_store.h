#pragma once

// The registry's repository interfaces (DESIGN §3, §5). Callers — the use cases in
// registry/ — see only these types; store/sqlite/ implements them today and store/pg/ can
// later without touching a caller. Rows hold personal data: never log them.
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
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
};

// One entry of the operation log as stored. `payload` is the canonical encoding
// (audit/entry.h); absent once erased by retention, when only `leaf_hash` remains.
struct AuditRow {
  int64_t seq = 0;
  int64_t time = 0;  // µs since epoch
  std::string actor;
  std::string action;
  std::string purpose;
  std::optional<std::string> payload;
  std::string leaf_hash;
};

struct CheckpointRow {
  int64_t tree_size = 0;
  std::string root;
  int64_t time = 0;  // µs since epoch
  std::string key_id;
  std::string signature;
};

// 提供・移転の記録.
struct ProvisionRow {
  std::string resident_code;
  int64_t provided_at = 0;     // µs since epoch
  std::string function;        // 機能区分: lookup | search | batch
  std::string purpose;         // 利用事由
  std::string provision_kind;  // 提供事務区分
  bool number_provided = false;
  std::string source;     // 提供元
  std::string recipient;  // 提供先
  std::string items;      // the fields provided, comma-separated
  int64_t audit_seq = 0;  // the operation-log entry of the provision
};

// A system allowed to connect (the client register). `kind` is municipal_cs | agency | national.
struct ClientRow {
  std::string spki_sha256;        // lower-case hex SHA-256 of the certificate's SPKI
  std::string kind;
  std::string name;               // for people; never used to authorise
  std::string municipality_code;  // municipal_cs: the municipality it speaks for; else ""
  std::string recipient;          // agency/national: its recipient id in the purpose catalogue
  std::string purposes;           // agency: the purpose ids it is registered for, comma-separated
  int64_t registered_at = 0;      // µs since epoch
  int64_t revoked_at = 0;         // µs since epoch; 0 while valid
};

// The operator register (docs/operators.md).
struct OperatorRow {
  std::string operator_id;
  std::string name;
  std::string unit;
  std::string status;         // active | suspended | retired
  std::string password_hash;  // argon2id string; "" until enrolled
  int64_t failed_logins = 0;
  int64_t locked_until = 0;  // µs since epoch
  int64_t created_at = 0;
  std::string created_by;
};

struct RoleRequestRow {
  int64_t request_id = 0;
  std::string operator_id;
  std::string role;
  std::string requested_by;
  int64_t requested_at = 0;
  std::string approved_by;  // "" while pending
  int64_t approved_at = 0;
};

struct NominationRow {
  std::string operator_id;
  std::string purpose;
  std::string valid_from;  // YYYY-MM-DD (JST), inclusive
  std::string valid_to;    // YYYY-MM-DD, inclusive
  std::string nominated_by;
  int64_t nominated_at = 0;
};

struct CredentialRow {
  std::string credential_id;  // WebAuthn credential id (raw), or an IC card's SPKI SHA-256 hex
  std::string operator_id;
  std::string kind;  // webauthn | certificate
  int64_t alg = 0;
  std::string public_key;
  int64_t sign_count = 0;
  int64_t created_at = 0;
};

struct EnrolmentRow {
  std::string token_hash;
  std::string operator_id;
  int64_t expires_at = 0;
  int64_t used_at = 0;
};

struct AuditQuery {
  std::optional<int64_t> from_time;  // inclusive, µs
  std::optional<int64_t> to_time;    // exclusive, µs
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> purpose;
  std::optional<std::string> target;  // a resident code
  int limit = 1000;
};

// Streams one level of the operation log's stored tree nodes in index order.
class NodeCursor {
 public:
  virtual ~NodeCursor() = default;
  // False at the end (or on error: see *status).
  virtual bool Next(int64_t* index, std::string* hash, Status* status) = 0;
};

// Reads. One reader per thread; a reader sees a consistent snapshot per call.
class RegistryReader {
 public:
  virtual ~RegistryReader() = default;
  // By current resident code, or an old one (following the change chain).
  virtual Result<std::optional<ResidentRow>> FindByResidentCode(const std::string& code) = 0;
  virtual Result<std::vector<ResidentRow>> FindByNumberMac(const std::string& mac,
                                                           bool include_removed) = 0;
  virtual Result<SearchResult> Search(const SearchQuery& query) = 0;
  // Every version of one person, newest first.
  virtual Result<std::vector<VersionRow>> History(int64_t person_id) = 0;
  virtual Result<std::optional<VersionRow>> Version(int64_t version_id) = 0;
  virtual Result<StoreStats> Stats() = 0;

  // --- operation log ---
  virtual Result<int64_t> AuditSize() = 0;
  virtual Result<std::optional<std::string>> AuditNode(uint32_t level, int64_t index) = 0;
  // Every entry from `from_seq` on, in order; stops early if `fn` returns false.
  virtual Status ForEachAuditEntry(int64_t from_seq,
                                   const std::function<bool(const AuditRow&)>& fn) = 0;
  // Provision records written with the log entry `audit_seq`.
  virtual Result<std::vector<ProvisionRow>> ProvisionsOfEntry(int64_t audit_seq) = 0;
  // Rows pointing at entries from `seq` on: provision records, and target-index rows.
  virtual Result<int64_t> CountProvisionsFromEntry(int64_t seq) = 0;
  virtual Result<int64_t> CountAuditTargetsFrom(int64_t seq) = 0;
  // Stored nodes that no log of `size` entries could have (bad level, or beyond the log).
  virtual Result<int64_t> CountStrayAuditNodes(int64_t size) = 0;
  // Every stored node of one level, in index order; usable while ForEachAuditEntry runs.
  virtual Result<std::unique_ptr<NodeCursor>> AuditNodes(uint32_t level) = 0;
  virtual Result<std::vector<CheckpointRow>> Checkpoints() = 0;
  virtual Result<std::vector<AuditRow>> SearchAudit(const AuditQuery& query) = 0;
  virtual Result<std::vector<ProvisionRow>> Provisions(const std::string& resident_code) = 0;

  // --- client register and node state ---
  virtual Result<std::optional<ClientRow>> FindClient(const std::string& spki_sha256) = 0;
  virtual Result<std::vector<ClientRow>> ListClients() = 0;
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;

  // --- operator register ---
  virtual Result<std::optional<OperatorRow>> FindOperator(const std::string& operator_id) = 0;
  virtual Result<std::vector<OperatorRow>> ListOperators() = 0;
  virtual Result<std::vector<std::string>> OperatorRoles(const std::string& operator_id) = 0;
  virtual Result<std::vector<NominationRow>> Nominations(const std::string& operator_id) = 0;
  virtual Result<std::vector<CredentialRow>> Credentials(const std::string& operator_id) = 0;
  virtual Result<std::optional<CredentialRow>> FindCredential(const std::string& credential_id) = 0;
  virtual Result<std::optional<RoleRequestRow>> FindRoleRequest(int64_t request_id) = 0;
  virtual Result<std::optional<EnrolmentRow>> FindEnrolment(const std::string& token_hash) = 0;
};

// Writes inside one transaction (see RegistryStore::Write). Not thread-safe.
class RegistryTxn {
 public:
  virtual ~RegistryTxn() = default;

  // Nested undo points: a rejected notification rolls back only its own changes.
  virtual Status Savepoint() = 0;
  virtual Status RollbackToSavepoint() = 0;
  virtual Status ReleaseSavepoint() = 0;

  // The sender's greatest applied sequence (0 if none). RecordApplied advances it.
  virtual Result<int64_t> LastSequence(const std::string& municipality) = 0;
  // The payload MAC recorded for an applied sequence, if any.
  virtual Result<std::optional<std::string>> AppliedMac(const std::string& municipality,
                                                        int64_t sequence) = 0;
  virtual Status RecordApplied(const std::string& municipality, int64_t sequence,
                               const std::string& payload_mac, int64_t applied_at) = 0;

  virtual Result<std::optional<ResidentRow>> FindByResidentCode(const std::string& code) = 0;
  // By current code or, failing that, an old one (through the change chain).
  virtual Result<std::optional<ResidentRow>> FindByAnyResidentCode(const std::string& code) = 0;
  // Move-outs expected from a municipality whose registration a 転入 elsewhere superseded
  // (the contract's "moves between municipalities"). Take removes and reports the entry.
  virtual Status AddExpectedMoveOut(int64_t person_id, const std::string& municipality) = 0;
  virtual Result<bool> TakeExpectedMoveOut(int64_t person_id, const std::string& municipality) = 0;
  // Whether a code is held by anyone now or was ever replaced (codes are never reissued).
  virtual Result<bool> IsResidentCodeKnown(const std::string& code) = 0;
  // One version (e.g. the removal that ended a registration: its reason and sender).
  virtual Result<std::optional<VersionRow>> Version(int64_t version_id) = 0;
  // An active person, other than `except_person`, holding this number MAC.
  virtual Result<bool> NumberHeldByOther(const std::string& mac, int64_t except_person) = 0;

  virtual Result<int64_t> InsertResident(const ResidentRow& row) = 0;  // returns person_id
  virtual Status UpdateResident(const ResidentRow& row) = 0;
  // Points a person at their latest version (after InsertVersion for a new person).
  virtual Status SetResidentVersion(int64_t person_id, int64_t version_id) = 0;
  virtual Result<int64_t> InsertVersion(const VersionRow& row) = 0;  // returns version_id
  virtual Status MarkSuperseded(int64_t version_id, int64_t at) = 0;
  virtual Status RecordCodeChange(const std::string& old_code, const std::string& new_code,
                                  int64_t person_id, int64_t at) = 0;
  // Queues a version for the national node (the link delivers it, in outbox order).
  virtual Status EnqueueOutbox(int64_t version_id, int64_t at) = 0;

  // --- operation log (see audit/log.h, which owns the rules) ---
  virtual Result<int64_t> AuditSize() = 0;
  // The time of the newest entry (0 if none): entries' times never decrease.
  virtual Result<int64_t> AuditLastTime() = 0;
  virtual Status InsertAuditEntry(const AuditRow& row, const std::vector<std::string>& targets) = 0;
  virtual Result<std::optional<std::string>> AuditNode(uint32_t level, int64_t index) = 0;
  virtual Status PutAuditNode(uint32_t level, int64_t index, const std::string& hash) = 0;
  virtual Status InsertCheckpoint(const CheckpointRow& row) = 0;
  virtual Result<std::optional<CheckpointRow>> LatestCheckpoint() = 0;
  virtual Status InsertProvision(const ProvisionRow& row) = 0;

  // --- client register and node state ---
  // AlreadyExists if the SPKI is registered (revoked or not): a key is registered once.
  virtual Status InsertClient(const ClientRow& row) = 0;
  // False if no such client or already revoked.
  virtual Result<bool> RevokeClient(const std::string& spki_sha256, int64_t at) = 0;
  // The register entry as of this transaction: a read re-checks its caller's rights here, in
  // the transaction that records it, so a revocation committed a moment earlier counts.
  virtual Result<std::optional<ClientRow>> FindClient(const std::string& spki_sha256) = 0;
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;
  virtual Status DeleteMeta(const std::string& key) = 0;

  // --- operator register ---
  virtual Result<std::optional<OperatorRow>> FindOperator(const std::string& operator_id) = 0;
  virtual Result<std::vector<std::string>> OperatorRoles(const std::string& operator_id) = 0;
  // As RegistryReader::Nominations, inside the transaction (for the re-check of a read).
  virtual Result<std::vector<NominationRow>> Nominations(const std::string& operator_id) = 0;
  virtual Result<int64_t> CountOperators() = 0;
  virtual Status InsertOperator(const OperatorRow& row) = 0;  // AlreadyExists for a taken id
  virtual Status SetOperatorStatus(const std::string& operator_id, const std::string& status) = 0;
  virtual Status SetOperatorPassword(const std::string& operator_id, const std::string& hash) = 0;
  virtual Status SetLoginState(const std::string& operator_id, int64_t failed_logins,
                               int64_t locked_until) = 0;
  virtual Status InsertRole(const std::string& operator_id, const std::string& role,
                            int64_t at, const std::string& approved_by) = 0;
  virtual Result<int64_t> InsertRoleRequest(const RoleRequestRow& row) = 0;  // its request_id
  virtual Result<std::optional<RoleRequestRow>> FindRoleRequest(int64_t request_id) = 0;
  // False if it was already decided.
  virtual Result<bool> ApproveRoleRequest(int64_t request_id, const std::string& by,
                                          int64_t at) = 0;
  virtual Status InsertNomination(const NominationRow& row) = 0;
  virtual Status InsertCredential(const CredentialRow& row) = 0;  // AlreadyExists if taken
  virtual Result<std::optional<CredentialRow>> FindCredential(const std::string& credential_id) = 0;
  virtual Status SetSignCount(const std::string& credential_id, int64_t sign_count) = 0;
  // Stores a WebAuthn credential's new sign count in one step, only if it moves forward (or stays
  // 0 for an authenticator without a counter): false if another login stored a count >= it
  // meanwhile (a replay or a cloned authenticator), or the credential is unknown.
  virtual Result<bool> AdvanceSignCount(const std::string& credential_id, int64_t sign_count) = 0;
  virtual Status InsertEnrolment(const EnrolmentRow& row) = 0;
  virtual Result<std::optional<EnrolmentRow>> FindEnrolment(const std::string& token_hash) = 0;
  // False if already used (or unknown).
  virtual Result<bool> UseEnrolment(const std::string& token_hash, int64_t at) = 0;
  // Marks every unused enrolment link of an operator used (a new link replaces them).
  virtual Status RevokeEnrolments(const std::string& operator_id, int64_t at) = 0;
  // The password step's counter, as one atomic step (concurrent logins cannot lose a failure):
  // takes one of `max_attempts` attempts of an operator not locked at `now` and returns how many
  // are taken (this one included); nullopt if the operator is unknown, locked, or every attempt
  // is taken. A lock that has ended starts the count again. Taking the last attempt locks the
  // account until `lock_until` at once (a success then clears it with SetLoginState), so a check
  // cut short by a crash cannot leave the account locked for ever.
  virtual Result<std::optional<int64_t>> ClaimLoginAttempt(const std::string& operator_id,
                                                           int64_t now, int64_t max_attempts,
                                                           int64_t lock_until) = 0;
  // Operators with `role` whose status is active.
  virtual Result<int64_t> CountActiveWithRole(const std::string& role) = 0;
  // Whether a system client (revoked or not) is registered with this SPKI SHA-256: such a key
  // is never an operator's IC card.
  virtual Result<bool> IsClientKey(const std::string& spki_sha256) = 0;

  // Retention of the log: erases the payloads (and target index) of the prefix of entries
  // older than `time` — entries [0, before_seq) — and provision records before it. With
  // `dry_run`, only counts.
  struct AuditErasure {
    int64_t entries = 0;
    int64_t provisions = 0;
    int64_t before_seq = 0;
  };
  virtual Result<AuditErasure> EraseAuditBefore(int64_t time, bool dry_run) = 0;

  // Retention: erase superseded versions with superseded_at < `superseded_before` and
  // removed residents (with all their versions) with removed_at < `removed_before`. With
  // `dry_run`, only count.
  virtual Result<PurgeCounts> Purge(int64_t superseded_before, int64_t removed_before,
                                    bool dry_run) = 0;
};

// A registry database. Thread-safe: writes are serialised on one writer connection;
// readers each have their own connection.
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;
  // Runs `fn` in one durable transaction: committed (and synced) if `fn` returns OK,
  // rolled back otherwise. Returns `fn`'s status, or the commit's.
  virtual Status Write(const std::function<Status(RegistryTxn&)>& fn) = 0;
  virtual Result<std::unique_ptr<RegistryReader>> OpenReader() = 0;
  // Node metadata (prefecture, key id, schema facts); never personal data.
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;
  // Full structural check of the database file (PRAGMA integrity_check).
  virtual Status CheckIntegrity() = 0;
};

}  // namespace kakunin::store
