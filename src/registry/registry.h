#pragma once

// The registry's use cases (DESIGN §3): apply notifications with every state check of the
// contract, look residents up, search, show history, purge what retention no longer
// allows. The only place that combines the store with the rules.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/log.h"
#include "auth/throttle.h"
#include "core/clock.h"
#include "crypto/field_cipher.h"
#include "domain/notification_reader.h"
#include "registry/config.h"
#include "registry/purposes.h"
#include "registry/refusal_naming.h"
#include "store/registry_store.h"

namespace kakunin::registry {

// The contract's per-notification answer.
struct ApplyResult {
  FieldErrors errors;      // empty: applied (or acknowledged again)
  bool duplicate = false;  // an identical replay of an applied sequence
  bool ok() const { return errors.empty(); }
};

// A notification made ready for the writer outside the write transaction: checked, and
// with its keys, MACs and sealed fields computed (the costly, stateless part).
struct PreparedNotification {
  CheckResult check;  // field verdict; the rest is set only if check.ok()
  // The payload MAC of check.replay_candidate, when the check refused only an abolished code.
  std::string replay_mac;
  std::string payload_mac;
  std::string number_mac;
  std::string sealed_number;
  std::string name_key, kana_key, address_key;
};

// Who is acting, for the operation log.
struct Actor {
  std::string id;        // "os:<user>", "operator:<id>", "cert:<spki-sha256-hex>"
  std::string terminal;  // host or console terminal
};

// A read names its purpose (利用事由); checked for shape here, against the catalogue later.
bool IsValidPurposeId(std::string_view purpose);

// The purpose as an operation-log entry names it: a purpose of `catalogue` as it is; anything
// else — a purpose the catalogue does not list, or a malformed one — as "(unknown)" or
// "(invalid)", never in clear: a caller could otherwise write a resident code, a number or a
// birth date (all valid purpose shapes) into the signed log through a refused read. Without a
// catalogue (tests, tools), a well-formed id that starts with a letter is kept. Empty stays
// empty (writes name no purpose).
std::string LoggedPurpose(const PurposeCatalogue* catalogue, std::string_view purpose);

// Whether `m` protects its person on `today` (YYYY-MM-DD, JST): not ended, through its last day.
inline bool SupportMeasureInForce(const store::SupportMeasureRow& m, const std::string& today) {
  return m.ended_at == 0 && m.valid_until >= today;
}

// A resident as shown to a caller, individual number decrypted.
struct ResidentView {
  store::ResidentRow row;
  std::string individual_number;
  std::optional<std::string> former_surname;
  std::optional<std::string> alias;
  std::string change_reason;
  std::string change_date;
};

struct VersionView {
  store::VersionRow row;
  std::string individual_number;
};

// Criteria as a person types them; turned into search keys here.
struct SearchRequest {
  std::optional<std::string> kana;
  std::optional<std::string> name;
  std::optional<std::string> birth_date;  // YYYY-MM-DD
  std::optional<std::string> sex;         // male | female
  std::optional<std::string> address;     // a prefix, e.g. 山梨県甲府市丸の内
  std::optional<std::string> number;      // 個人番号
  bool include_removed = false;
  int limit = 20;
};

struct SearchOutcome {
  std::vector<store::ResidentRow> rows;
  bool cut = false;
};

// The items a provision may carry (field names of the contract).
inline constexpr const char* kProvisionItems[] = {
    "resident_code", "individual_number", "name",    "name_kana",        "former_surname", "alias",
    "sex",           "birth_date",        "address", "municipality_code"};

struct ProvisionRequest {
  std::vector<std::string> resident_codes;
  std::string function = "lookup";  // 機能区分: lookup | search | batch | history
  std::string purpose;              // 利用事由
  std::string provision_kind;       // 提供事務区分 (e.g. the 別表 item)
  std::string recipient;            // 提供先
  std::vector<std::string> items;   // subset of kProvisionItems
  // Set by the Gateway for an operator nominated for the purpose (the recipient is then the
  // purpose's department: a console read is a transfer, 移転, to it).
  bool by_nominated_operator = false;
  // Run inside the transaction that records the provision, before anything is written: the
  // caller's rights checked again there (Gateway), so a revocation, suspension or halt
  // committed a moment earlier counts. A failure fails the read: nothing is answered.
  std::function<Status(store::RegistryTxn&)> recheck;
};

// One provided record: only the requested items, as (name, value) pairs in item order.
struct ProvidedRecord {
  std::string resident_code;  // as asked
  bool found = false;
  std::vector<std::pair<std::string, std::string>> items;
  // The person is under a 支援措置 (DV等支援措置) in force today and the items hold their
  // address: the recipient must not let it reach anyone else (Gateway::SetSupportMeasure).
  bool support_measure = false;
};

// One version of a provided history: what changed and the requested items as they were.
struct ProvidedVersion {
  std::string kind;         // entry | removal | amendment
  std::string reason;       // change reason
  std::string change_date;  // YYYY-MM-DD
  std::vector<std::pair<std::string, std::string>> items;
  // As ProvidedRecord::support_measure (the person's, on every version provided).
  bool support_measure = false;
  // The version a lookup gives now (the record's latest version). Newest first is the order
  // this node applied them in, which on a national node is the order they arrived: a late
  // 転出 from the former prefecture lists above the 転入 that is current.
  bool current = false;
};

// A disclosure to the resident themself (開示, 住民基本台帳法 第30条の32), read and not yet
// recorded (Registry::CollectDisclosure, RecordDisclosure).
struct PendingDisclosure {
  bool found = false;
  std::string status;             // active | removed; "" when not found
  std::string municipality_code;  // the municipality the record is with now (internal: routing)
  std::vector<std::string> codes;            // every resident code the person held, current first
  std::vector<ProvidedVersion> versions;     // every version kept, newest first, the items only
  std::vector<store::ProvisionRow> provisions;  // who received the record, oldest first
  // What RecordDisclosure writes: the log's targets and the provision record.
  std::vector<std::string> targets;
  std::vector<store::ProvisionRow> rows;
};

// The operation log's name for a resident code a read asked for: "mac:<hex>:found" or
// "mac:<hex>:missing", <hex> the keyed MAC (the node's hmac key) of the code — never the code
// in clear (DESIGN §6), and not-found codes are recorded too, so a reviewer sees what was probed.
// Deterministic under the node's key: two reads of one code name the same target.
std::string ResidentTarget(const crypto::FieldCipher& cipher, std::string_view resident_code,
                           bool found);
// A code a refused request asked for, not looked up: "mac:<hex>" (neither found nor missing),
// so that the refusal is in that resident's chain (audit search --target, access statements)
// without saying whether the node holds them. Empty for anything that is not a resident
// code's shape (11 digits), which names nobody.
std::string AskedTarget(const crypto::FieldCipher& cipher, std::string_view resident_code);

// Thread-safe: the store serialises writes; each call that reads opens or reuses a
// reader on the calling thread's behalf.
class Registry {
 public:
  // All pointers must outlive the registry.
  Registry(const NodeConfig& config, store::RegistryStore* store, const crypto::FieldCipher* cipher,
           const Clock* clock, const audit::AuditLog* log);

  // The options for the field checks this node applies.
  CheckOptions check_options() const;

  // The stateless part; may run on any thread.
  PreparedNotification Prepare(CheckResult checked) const;

  // Applies a batch in order inside `txn`: each notification with its own savepoint, so a
  // rejected one changes nothing. Returns one result per input.
  // Every notification, applied or refused, leaves an operation-log entry in `txn`.
  Result<std::vector<ApplyResult>> ApplyIn(store::RegistryTxn& txn,
                                           const std::vector<PreparedNotification>& batch,
                                           const Actor& actor) const;

  // Applies a batch in one durable transaction (commit before return). `recheck`, when given,
  // runs first in that transaction (the sender's rights as the transaction sees them: a
  // revocation a moment ago counts); its error applies nothing and is returned.
  Result<std::vector<ApplyResult>> Apply(
      const std::vector<PreparedNotification>& batch, const Actor& actor,
      const std::function<Status(store::RegistryTxn&)>& recheck = nullptr);

  // Reads. Each is recorded in the operation log (durably) before it returns: a read that
  // cannot be recorded is not answered. `purpose` must satisfy IsValidPurposeId.
  // By resident code (an old code leads to the current record).
  Result<std::optional<ResidentView>> Show(store::RegistryReader& reader,
                                           const std::string& resident_code, const Actor& actor,
                                           const std::string& purpose,
                                           bool include_removed = false) const;
  // With a purpose catalogue, each criterion must be one of the purpose's fields (kana:
  // name_kana, number: individual_number, …): otherwise kPermissionDenied, reason
  // criterion_not_permitted, recorded. `recheck`, if set, runs inside the transaction that
  // records the search (as ProvisionRequest::recheck).
  Result<SearchOutcome> Search(
      store::RegistryReader& reader, const SearchRequest& request, const Actor& actor,
      const std::string& purpose,
      const std::function<Status(store::RegistryTxn&)>& recheck = {}) const;
  // A search whose hits are provided (the Gateway's): as Search under `provide.purpose`, then,
  // if it found anyone, as Provide of the hits (`provide`: function search; its resident codes
  // are set here), into `provided`. The search's entry and the provision's records and entry
  // are written in one durable transaction, after `provide.recheck`: either both are recorded
  // done, or only the search's refusal is (as by Search) and nothing is provided. Found in
  // review: in two transactions, a search was recorded done while the provision of its hits was
  // refused (the caller's rights withdrawn between the two), and the log said it had been done.
  Result<SearchOutcome> SearchAndProvide(store::RegistryReader& reader,
                                         const SearchRequest& request, const Actor& actor,
                                         ProvisionRequest provide,
                                         std::vector<ProvidedRecord>* provided) const;
  // Every version, newest first; nullopt if the code is unknown.
  Result<std::optional<std::vector<VersionView>>> History(store::RegistryReader& reader,
                                                          const std::string& resident_code,
                                                          const Actor& actor,
                                                          const std::string& purpose,
                                                          bool include_removed = false) const;
  // Retention as of `as_of` (a date in Japan): superseded versions, removed residents, and
  // operation-log payloads and provision records older than `audit_retention_years`.
  Result<store::PurgeCounts> Purge(const Date& as_of, bool dry_run, const Actor& actor);
  // An erasure as of `as_of` more than kPurgeClockLeadDays after the day the last purge was
  // dated (meta purged_as_of, written only by a purge as of its own today — so a corrected clock
  // brings it back at the next daily purge; before any purge, the earlier of the day the node
  // was made and the day its log began) is what a clock set ahead does (a lost RTC, a bad NTP
  // source, faketime): it would erase what the law still keeps, for good (found in review: a
  // clock at 2177 erased a resident removed minutes before; then a dry run under that clock
  // beat a check against the newest entry, and a purge on an empty node set the reference).
  // A node purged daily (the timer) never meets it. The host's purge asks this first;
  // FailedPrecondition (reason purge_clock) naming both days unless `confirmed` is `as_of` — the
  // operator's word, against a clock they trust, that no purge ran that long.
  static constexpr int kPurgeClockLeadDays = 7;
  // Meta keys of that reference: the day the last purge as of its own today was dated, and the
  // day `kakunin init` made the node.
  static constexpr char kPurgedAsOfKey[] = "purged_as_of";
  static constexpr char kCreatedOnKey[] = "created_on";
  Status CheckPurgeClock(const Date& as_of, const std::optional<Date>& confirmed) const;

  // Provides records to a recipient (提供) or another department (移転): the view of each
  // resident limited to `request.items`, with one provision record per resident and one
  // operation-log entry, all in one durable transaction before anything is returned. A code
  // asked twice is answered once (first-seen order), and a resident reached by two codes (an
  // old and a new one) is recorded once: the log's targets and the provision records agree.
  Result<std::vector<ProvidedRecord>> Provide(store::RegistryReader& reader,
                                              const ProvisionRequest& request,
                                              const Actor& actor) const;
  // As Provide (function lookup, search or batch), for a caller that must not block (a server's
  // I/O thread): the records are read now, on the calling thread, and the provision recorded
  // through the write queue, many callers sharing one commit. `done` gets the records once
  // their record is durable, or the error — a refusal recorded first, as by Provide; it runs
  // on the write queue's thread (on the calling thread when the request fails before anything
  // is queued, or without a write queue) and must not block. `request.recheck` must own what
  // it uses: it runs after this returns.
  using ProvideDone = std::function<void(Result<std::vector<ProvidedRecord>>)>;
  // `may_lead` false: the calling thread never runs a commit (WriteQueue::Enqueue), for an
  // event loop's thread; then it needs a write queue (else kFailedPrecondition, at once).
  void ProvideAsync(store::RegistryReader& reader, ProvisionRequest request, const Actor& actor,
                    ProvideDone done, bool may_lead = true) const;
  // Whether reads are recorded through a write queue (UseWriteQueue).
  bool has_write_queue() const { return queue_ != nullptr; }
  // Provides one resident's history (request.function "history", one resident code): every
  // version newest first, limited to `request.items`, with one provision record and one log
  // entry in one durable transaction. nullopt if there is no such active resident (logged too).
  Result<std::optional<std::vector<ProvidedVersion>>> ProvideHistory(
      store::RegistryReader& reader, const ProvisionRequest& request, const Actor& actor) const;
  // 提供状況: who received a resident's record (for disclosure); the read is recorded.
  Result<std::vector<store::ProvisionRow>> ProvisionsOf(store::RegistryReader& reader,
                                                        const std::string& resident_code,
                                                        const Actor& actor,
                                                        const std::string& purpose) const;

  // The disclosure of the resident `request.resident_codes[0]` (one code; function
  // "disclosure"; the recipient and items checked against the purpose as for any provision):
  // the person's versions — active or removed, every one the node still keeps — limited to
  // the items, and their provision records under every code they held. Reads only: nothing is
  // recorded, nothing is returned to anyone until RecordDisclosure succeeded.
  Result<PendingDisclosure> CollectDisclosure(store::RegistryReader& reader,
                                              const ProvisionRequest& request) const;
  // Records `d` — one "resident.provide" entry (function=disclosure), one provision record when
  // the node holds the person — after `request.recheck` and with `also` (the disclosure desk's
  // own rows) in the same durable transaction; a halted node records nothing.
  Status RecordDisclosure(const PendingDisclosure& d, const ProvisionRequest& request,
                          const Actor& actor,
                          const std::function<Status(store::RegistryTxn&)>& also) const;

  // 作動停止: while halted, Apply/ApplyIn and the provisions refuse with kUnavailable (reason
  // "halted"), checked inside their own transaction. Host reads (Show, Search, History) go on,
  // for the people investigating. Each change is an operation-log entry.
  // `check`: a further condition in the same transaction (the acting security chief still holds
  // the role: Gateway::HaltBy); its error refuses the change, which records nothing.
  Status Halt(const std::string& reason, const Actor& actor,
              const std::function<Status(store::RegistryTxn&)>& check = nullptr);
  Status Resume(const Actor& actor,
                const std::function<Status(store::RegistryTxn&)>& check = nullptr);
  // The halt in force's reason as the log holds it ("" if none): its keyed hash and length
  // ("reason_mac=… reason_bytes=…"); the reason itself is kept nowhere.
  Result<std::string> HaltReason() const;
  // When the node was halted (µs since epoch), or nullopt while it runs.
  Result<std::optional<int64_t>> HaltedSince(store::RegistryReader& reader) const;

  // Records an operation that is not one of the above (for example a refused command).
  Status Record(audit::AuditEntry entry) const;
  // Several such entries, in order, in one transaction (one durable commit).
  Status RecordAll(std::vector<audit::AuditEntry> entries) const;
  // Runs `change` and records `entry` in one durable transaction (both or neither): for
  // changes owned by other use cases (the client register).
  Status RecordWith(audit::AuditEntry entry,
                    const std::function<Status(store::RegistryTxn&)>& change) const;
  // As RecordWith, where `change` completes the entry before it is appended (the number the
  // store gave a row it inserted, say).
  Status RecordCompleted(
      audit::AuditEntry entry,
      const std::function<Status(store::RegistryTxn&, audit::AuditEntry&)>& change) const;
  // The field cipher: how the log names a resident (ResidentTarget, AskedTarget).
  const crypto::FieldCipher& cipher() const { return *cipher_; }
  // Signs a checkpoint if the log grew (at the end of a command, at shutdown).
  Status Checkpoint() const;
  // Finishes what a purge could not drop from the store's files because readers held them
  // (scrub_pending; RegistryStore::FinishPendingScrub), whichever process ran the purge: the
  // serving node calls it from its periodic timer. Unavailable while readers still hold them.
  Status FinishPendingScrub() const;

  // Search keys are stored beside each record; when the compiled-in fold table changes
  // (text::SearchKeyVersion()), every resident's keys are recomputed from the stored names in one
  // durable transaction, recorded as "registry.rekey" (a count, nothing personal). Does nothing
  // when the keys are current. Called when a node is opened.
  // Returns whether it rekeyed.
  Result<bool> RefreshSearchKeys(const Actor& actor) const;

  // The purpose catalogue in force (CatalogueDigest) against the one the node last recorded
  // (meta kPurposesDigestKey, set by `kakunin init`): when they differ, records
  // "config.purposes" (`sha256=… previous=… purposes=N`) and remembers the new one, in one
  // transaction. Found in review: the catalogue decides who reads what (a `systems = true`
  // opens an internal use to registered systems), and a change of it left no trace. Called
  // when a node is opened; returns whether it recorded a change.
  static constexpr char kPurposesDigestKey[] = "purposes_sha256";
  Result<bool> RecordCatalogue(const Actor& actor) const;

  // Routes the log entries of reads through a group-committing queue (a server with many
  // concurrent readers): concurrent reads then share one durable commit. Not owned.
  void UseWriteQueue(class WriteQueue* queue) { queue_ = queue; }

  // Checks every read against the purpose catalogue (not owned): the purpose must be in it,
  // and a provision's recipient and items must be among the purpose's. Without one, a purpose
  // is only checked for shape (unit tests of the rules that do not concern purposes).
  void UsePurposes(const PurposeCatalogue* catalogue) { purposes_ = catalogue; }
  const PurposeCatalogue* purposes() const { return purposes_; }

  // Shows registered 外字 in provided records (not owned; nullptr: PUA code points as sent): a
  // name, former surname, alias or address holding a code point registered for the record's
  // sender gets a sibling item "<field>_display" (registry/gaiji.h); the field itself stays
  // verbatim.
  void UseGaiji(const class GaijiRegister* gaiji) { gaiji_ = gaiji; }

  // The entry of a refused read: the purpose as LoggedPurpose names it, the reason, and each
  // resident code in `asked` (the codes the request named) as AskedTarget, as often as
  // RefusalNaming allows (registry/refusal_naming.h: three times a day per actor and resident,
  // then `targets_withheld=N`); the refusal itself is always recorded.
  static constexpr int kNamedRefusalsPerDay = RefusalNaming::kPerResident;
  audit::AuditEntry RefusalEntry(const Actor& actor, const char* action, const std::string& purpose,
                                 const Status& why, const std::vector<std::string>& asked) const;
  // A system's refusals (actor "cert:…") that name nobody — a quota used up, a purpose not held,
  // a malformed request, or one past RefusalNaming's budget — are sampled: the first
  // kClientRefusalsFree per minute per certificate, action and purpose are entries as usual,
  // the rest are counted into the next one ("count=N <reason>=k…"). Found in review: a
  // registered agency past its quota wrote 4,200 entries a second, kept 7 years. Refusals that
  // name a resident, and every operator's, are all recorded.
  static constexpr int kClientRefusalsFree = 20;
  static constexpr int64_t kClientRefusalSampleSeconds = 60;
  // Whether refusal entry `e` of `actor` is to be written now (false: counted, held back);
  // adds the counts held back to its conditions.
  bool SampleRefusal(const Actor& actor, audit::AuditEntry* e) const;
  // Adds what search `req` asked to entry `e`, as a search that runs records it: the criterion
  // kinds in clear, the values only as ConditionCommitment under the node's key.
  void DescribeSearch(const SearchRequest& req, audit::AuditEntry* e) const;
  // Records refusal entry `e` (RefusalEntry) unless SampleRefusal holds it back.
  Status RecordRefusal(const Actor& actor, audit::AuditEntry e) const;
  // Writes what SampleRefusal held back and no later refusal carried: one entry per
  // certificate, action and purpose whose interval has ended (every one when `everything`, as
  // the node stops), outcome `refused:sampled`, its conditions `count=N <reason>=k…`. The
  // node's checkpoint timer calls it; so does its shutdown.
  Status WriteHeldRefusals(bool everything) const;
  // RefusalNaming for an entry that is not a refusal but may be repeated at will by one actor
  // about one resident (a look at a disclosure request).
  void LimitNaming(const Actor& actor, audit::AuditEntry* e) const { naming_.Apply(actor.id, e); }

 private:
  // Records a refused read (bad purpose, criteria, items) and returns `why`: refusals are
  // operations too, and repeated ones are what a reviewer looks for.
  // `asked`: the resident codes the refused request named (AskedTarget).
  Status Refuse(const Actor& actor, const char* action, const std::string& purpose,
                const Status& why, const std::vector<std::string>& asked = {}) const;
  // Sets meta `key` to `value`, with what `record` writes (given the value before), in one
  // transaction, unless it holds `value` already (read first without a write, then again in the
  // transaction, for another process). Returns whether it wrote.
  Result<bool> SetMetaRecorded(
      const char* key, const std::string& value,
      const std::function<Status(store::RegistryTxn&, const std::optional<std::string>&)>& record)
      const;
  // `provide`, if given, the provision of the hits (SearchAndProvide), recorded with the search.
  Result<SearchOutcome> SearchImpl(store::RegistryReader& reader, const SearchRequest& request,
                                   const Actor& actor, const std::string& purpose,
                                   const std::function<Status(store::RegistryTxn&)>& recheck,
                                   ProvisionRequest* provide = nullptr,
                                   std::vector<ProvidedRecord>* provided = nullptr) const;
  // Search's refusal, recorded; `r` itself otherwise.
  Result<SearchOutcome> RecordIfRefused(const SearchRequest& request, const Actor& actor,
                                        const std::string& purpose, Result<SearchOutcome> r) const;
  std::string Target(const std::string& resident_code, bool found) const;
  Result<std::vector<ProvidedRecord>> ProvideImpl(store::RegistryReader& reader,
                                                  const ProvisionRequest& request,
                                                  const Actor& actor) const;
  // Provide's checks and read, into `out`, and the job that records the provision (run it in a
  // write transaction before `out` is answered: it marks the answers again).
  Result<std::function<Status(store::RegistryTxn&)>> PrepareProvision(
      store::RegistryReader& reader, const ProvisionRequest& request, const Actor& actor,
      std::vector<ProvidedRecord>* out) const;
  Result<std::optional<std::vector<ProvidedVersion>>> ProvideHistoryImpl(
      store::RegistryReader& reader, const ProvisionRequest& request, const Actor& actor) const;
  // Whether a provision of `items` of `person_id` carries the support-measure mark: the items
  // hold the address and the person's measure is in force today (JST).
  Result<bool> SupportMeasureMark(store::RegistryReader& reader, int64_t person_id,
                                  const std::vector<std::string>& items) const;
  // `reader` is the read in progress (外字 display forms are looked up through it).
  Result<std::vector<std::pair<std::string, std::string>>> ItemsOf(
      store::RegistryReader& reader, const store::VersionRow& version,
      const std::vector<std::string>& items) const;
  store::ProvisionRow ProvisionOf(const std::string& resident_code,
                                  const ProvisionRequest& request) const;
  // Provide's read: the answer, one provision row per person, the log's targets.
  // `persons` is parallel to `out`: each answer's person, 0 where none was found.
  Status CollectProvision(store::RegistryReader& reader, const ProvisionRequest& request,
                          std::vector<ProvidedRecord>* out, std::vector<int64_t>* persons,
                          std::vector<store::ProvisionRow>* rows,
                          std::vector<std::string>* targets) const;
  // A step of the recording transaction that reads the support-measure mark of each of
  // `persons` (0: none) again and calls `mark(i)` for each whose measure is in force.
  std::function<Status(store::RegistryTxn&)> MarkAgainInTxn(
      std::vector<int64_t> persons, const std::vector<std::string>& items,
      std::function<void(size_t)> mark) const;
  // The write job that records a provision (WriteProvisions); it owns its inputs.
  std::function<Status(store::RegistryTxn&)> ProvisionJob(
      ProvisionRequest request, Actor actor, std::vector<std::string> targets,
      std::vector<store::ProvisionRow> rows) const;
  // `targets`: every requested code as ResidentTarget, one ":found" per row, in row order.
  Status WriteProvisions(const ProvisionRequest& request, const Actor& actor,
                         const std::vector<std::string>& targets,
                         std::vector<store::ProvisionRow>& rows) const;
  // Through the write queue if there is one.
  Status WriteTxn(const std::function<Status(store::RegistryTxn&)>& job) const;
  Status CheckRunning(store::RegistryTxn& txn) const;
  Status CheckPurpose(const std::string& purpose) const;
  Status CheckProvisionPurpose(const ProvisionRequest& request) const;
  // `forward`: queue the change for the national node (a bulk import does not: import.h).
  // `state`, if given, receives the state leaf of the version written (audit/state.h), for
  // the entry that records the operation.
  // `retain_from_change_date` (the import): the retention of what the change ends (a superseded
  // version, a removed person) counts from the change's own date, not from `now`.
  Result<ApplyResult> ApplyOne(store::RegistryTxn& txn, const PreparedNotification& p, int64_t now,
                               bool forward = true,
                               std::vector<audit::StateLeaf>* state = nullptr,
                               bool retain_from_change_date = false) const;
  // Tells the store what `batch`'s lookups will name (RegistryTxn::Prefetch).
  Status Prefetch(store::RegistryTxn& txn, const std::vector<PreparedNotification>& batch) const;
  friend class Importer;  // applies with ApplyOne, logs per batch (registry/import.h)
  // The purge's record check (registry/retention.cc): the log size the stored records were found
  // to match, and the baseline of every stored version taken then. Kept across attempts.
  struct PurgeCheck {
    bool done = false;
    int64_t size = -1;
    int passes = 0;
    std::vector<audit::StateLeaf> baseline;
    std::vector<int64_t> written_by;  // StateReport::baseline_written_by
  };
  // One attempt of Purge (registry/retention.cc); Unavailable with reason "purge_retry" when
  // a record was written between its record check and its transaction (`check` is then
  // cleared: the next attempt checks again), or a resident chain it planned to restart moved.
  Status PurgeOnce(const Date& as_of, bool dry_run, const Actor& actor, store::PurgeCounts* out,
                   PurgeCheck* check);

  NodeConfig config_;
  store::RegistryStore* store_;
  const crypto::FieldCipher* cipher_;
  const Clock* clock_;
  const audit::AuditLog* log_;
  class WriteQueue* queue_ = nullptr;
  const PurposeCatalogue* purposes_ = nullptr;
  const class GaijiRegister* gaiji_ = nullptr;
  // How often refusals (and looks at a disclosure request) name a resident: RefusalNaming.
  RefusalNaming naming_;
  std::unique_ptr<auth::RefusalSampler> client_refusals_;  // SampleRefusal
};

// Blank every personal field `purpose` does not allow: what a person on the host sees of a record
// read for that purpose (the API builds its answers from the allowed items instead).
void Minimise(const Purpose& purpose, store::ResidentRow* row);
void Minimise(const Purpose& purpose, ResidentView* view);
void Minimise(const Purpose& purpose, VersionView* view);

// Associated data binding a sealed individual number to its version.
std::string NumberAssociatedData(const std::string& municipality, int64_t sequence);

}  // namespace kakunin::registry
