#pragma once

// The registry's use cases for systems on the network (DESIGN §7, docs/api.md): the client
// register, who may send notifications for which municipality, and which recipient may read
// which resident data for which purpose (利用事由), with only that purpose's fields. Every
// decision, refusals included, is recorded in the operation log. The API translates HTTP to
// these calls and never decides anything itself.

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/throttle.h"
#include "registry/purposes.h"
#include "registry/registry.h"
#include "text/json.h"

namespace kakunin::registry {

// kPrefecture: a prefecture node forwarding its changes to this (national) node.
enum class ClientKind { kMunicipalCs, kAgency, kNational, kPrefecture };

// municipal_cs | agency | national | prefecture
std::string_view ClientKindName(ClientKind kind);
std::optional<ClientKind> ParseClientKind(std::string_view name);

// A registered system, identified by its certificate's SPKI SHA-256 (never by its CN).
struct Client {
  std::string spki_sha256;  // lower-case hex, 64 characters
  ClientKind kind = ClientKind::kAgency;
  std::string name;                   // for people
  std::string municipality_code;      // municipal_cs only
  std::string recipient;              // agency/national: its recipient id in the purpose catalogue
  std::vector<std::string> purposes;  // agency only: purposes it is registered for
  int prefecture = 0;                 // prefecture only: the prefecture it forwards for (1..47)
  int64_t registered_at = 0;
  int64_t revoked_at = 0;  // 0 while valid

  // The actor its requests are logged under.
  Actor ActorAt(const std::string& terminal) const;
};

// How far ahead a support measure may run: a year (支援措置 is decided for one year at a time),
// plus the month before its end in which the municipality takes an extension.
inline constexpr int kMaxSupportMeasureDays = 366 + 31;

// Limits of one request (docs/api.md).
inline constexpr size_t kMaxNotificationsPerRequest = 1000;
inline constexpr size_t kMaxCodesPerProvision = 1000;

// Search hits are opened through handles (a purpose may not carry resident_code): "h_" and 32
// lower-case hex digits (128 random bits), valid for kHandleLifetime, for the caller and purpose
// of the search only. At most kMaxHandles live at once (the oldest go first), and at most
// kMaxHandlesPerCaller of one caller: a caller past it loses its own oldest, so one caller's
// searches cannot end another's handles early (found in review: 51,200 searches of one agency
// evicted the board's handle within its 10 minutes).
inline constexpr int64_t kHandleLifetimeMicros = int64_t{10} * 60 * 1000000;
inline constexpr size_t kMaxHandles = 50000;
inline constexpr size_t kMaxHandlesPerCaller = 5000;
bool IsHandle(std::string_view s);

class ClientCache;    // registry/client_cache.h
struct OperatorView;  // registry/operators.h
class Quotas;         // registry/quota.h
class ReaderPool;     // registry/reader_pool.h

// Who reads: a system (its register entry) or an operator on the console (with their roles and
// nominations). Exactly one of client / op is set. Both are what was loaded when the request
// began: the use case checks them again inside the transaction that records the read.
struct Caller {
  Actor actor;
  std::string recipient;  // a client's 提供先; an operator's reads go to the purpose's department
  std::string binding;    // whom a search handle belongs to: the certificate, or the session
  const Client* client = nullptr;
  const OperatorView* op = nullptr;

  static Caller ForClient(const Client& client, const std::string& terminal);
  // `session`: the console session's token (handles are bound to it; not kept in clear).
  static Caller ForOperator(const OperatorView& op, const std::string& terminal,
                            const std::string& session = "");
};

struct SearchProvision {
  std::vector<ProvidedRecord> records;
  std::vector<std::string> handles;  // one per record: opens it with Lookup / History
  bool truncated = false;
};

// Thread-safe (the registry and the catalogue are; the handle table has its own lock). Errors
// carry a reason (Status::reason()): client_not_registered, client_revoked, not_permitted,
// sender_mismatch, purpose_not_permitted, not_nominated, criterion_not_permitted, not_found,
// halted, quota_exceeded (kResourceExhausted); kInvalidArgument for a bad request.
// One cell of the population table: a dimension not counted by is "" (age band -1).
struct PopulationCell {
  std::string municipality_code;
  std::string sex;
  int age_band = -1;  // 0, 5, …, 95; 100 for 100 and over
  int64_t count = 0;
};

struct PopulationTable {
  std::string purpose;
  std::string as_of;  // YYYY-MM-DD, JST
  bool by_municipality = false;
  bool by_sex = false;
  bool by_age = false;
  std::vector<PopulationCell> cells;  // in municipality, sex, band order
  int64_t total = 0;

  // The dimensions counted by, in cell order: "municipality_code", "sex", "age_band".
  std::vector<std::string_view> Dimensions() const {
    std::vector<std::string_view> out;
    if (by_municipality) out.push_back("municipality_code");
    if (by_sex) out.push_back("sex");
    if (by_age) out.push_back("age_band");
    return out;
  }
};

// RefuseUnknownClient's interval, and how many certificates it tracks (past that, the others
// share one slot: RefusalSampler).
inline constexpr int64_t kUnknownClientSampleSeconds = 60;
inline constexpr size_t kUnknownClientSampleKeys = 4096;

class Gateway {
 public:
  // All pointers must outlive the gateway.
  Gateway(Registry* registry, const PurposeCatalogue* catalogue, const Clock* clock,
          int prefecture);
  ~Gateway();

  // The store the per-request use cases read from (not owned; must outlive the gateway): they
  // take their read snapshots from a pool over it, so their callers (the API, the console) hold
  // no store types. Without it those calls fail (kFailedPrecondition). Set before serving.
  void UseStore(store::RegistryStore* store);

  // --- 作動停止 on the console (DESIGN §7: the security chief halts and resumes) ---
  // As `kakunin halt` / `resume` on the host, by an active security chief, whose role is
  // checked again in the transaction; recorded as node.halt / node.resume by the operator (the
  // reason by keyed hash only). PermissionDenied (not_permitted) otherwise, InvalidArgument for
  // a reason that is not 1-1000 characters of text, FailedPrecondition when already halted /
  // not halted: the caller records the refusal (the console's, as console.refused).
  Status HaltBy(const OperatorView& chief, const std::string& reason,
                const std::string& terminal) const;
  Status ResumeBy(const OperatorView& chief, const std::string& terminal) const;

  // --- the client register (on the node's host) ---
  // Checks the entry: a municipal CS needs a municipality of this prefecture; an agency a
  // recipient id and purposes each in the catalogue and open to that recipient; the national
  // node the recipient "national". AlreadyExists if the key is registered (even if revoked: a
  // key is registered once). Recorded as "client.register".
  Status Register(const Client& client, const Actor& actor) const;
  // NotFound if unknown or already revoked. Recorded as "client.revoke".
  Status Revoke(const std::string& spki_sha256, const Actor& actor) const;
  Result<std::vector<Client>> List() const;
  // The same, in a snapshot the caller holds (the CLI's commands, which open their own).
  Result<std::vector<Client>> List(store::RegistryReader& reader) const;

  // --- per request ---
  // Each call below reads from a snapshot of its own (taken from the pool, returned after the
  // call); kUnavailable if none can be opened.
  //
  // The register's entry for a verified certificate. An unknown or revoked one is refused
  // (PermissionDenied, reason client_not_registered / client_revoked) and the refusal recorded
  // with its purpose; a revoked one's also naming the resident codes the request asked for
  // (`asked`, by MAC): what a revoked, perhaps stolen, certificate went after is what the review
  // and the resident's statement must show. (A certificate never registered names none: any
  // certificate of the CA could otherwise write entries into a chosen resident's statement.)
  Result<Client> Authenticate(const std::string& spki_sha256, const std::string& terminal,
                              const std::vector<std::string>& asked = {},
                              const std::string& purpose = "") const;
  // The register's entry for a verified certificate if it is registered and not revoked, else
  // nullopt — without recording anything: for a caller that must not write (a server's I/O
  // thread), which then takes the refusal through Authenticate, where it is recorded.
  Result<std::optional<Client>> AuthenticateQuietly(const std::string& spki_sha256) const;
  // kUnavailable (reason halted) while the node is halted: a fast check before any work, and
  // the readiness check (it fails too if the store cannot be read). The use cases below check
  // again inside their transaction.
  Status CheckRunning() const;
  // CheckRunning for a request `caller` made: while halted the refusal is recorded as `action`
  // refused:halted, as every refusal of a registered system or signed-in operator is (who tried
  // to read or write during a halt is what its review asks first).
  // `asked` and `purpose` as for Authenticate.
  Status CheckRunningFor(const Caller& caller, const char* action,
                         const std::vector<std::string>& asked = {},
                         const std::string& purpose = "") const;
  // When the node was halted (µs since epoch), or nullopt while it runs (Registry::HaltedSince).
  Result<std::optional<int64_t>> HaltedSince() const;

  // Whether `client` may send notifications at all (a municipal CS, to a prefecture node): the
  // refusal, recorded, before anything of its request is read (found in review: a link
  // certificate's empty body was answered as malformed, telling it of the route's checks).
  Status MayNotify(const Client& client, const std::string& terminal) const;
  // POST /v1/notifications: `items` are the request's notifications as parsed JSON. A client
  // that is not a municipal CS is refused (not_permitted); if any item names, as a string, a
  // municipality other than the client's, the whole request is refused (sender_mismatch) and
  // nothing is applied. Otherwise each is checked, and the batch applied in order in one
  // durable transaction; one result per item.
  Result<std::vector<ApplyResult>> Notify(const Client& client,
                                          const std::vector<const text::JsonValue*>& items,
                                          const std::string& terminal) const;

  // Reads by agencies and the national node: the purpose must be in the catalogue, open to the
  // client's recipient id, and (agency) one it is registered for; otherwise refused
  // (purpose_not_permitted) and recorded. Operators: active, the role operator, a purpose open
  // to operators (Purpose::OpenToOperators) and a nomination for it valid today; otherwise
  // refused (not_nominated) and recorded; their reads are recorded as transfers to the purpose's
  // department. All of it is checked again inside the transaction that records the read (a
  // client revoked or an operator suspended a moment earlier gets nothing; the refusal is
  // recorded). Each answered read is a provision: its records and log entry are durable before
  // it returns, and it carries only the purpose's fields.
  //
  // Lookup and History take a resident code or a handle from this caller's search for this
  // purpose; any other handle (unknown, expired, another caller's or purpose's) is NotFound
  // (reason not_found), recorded. Search criteria must be among the purpose's fields
  // (criterion_not_permitted).
  Result<ProvidedRecord> Lookup(const Caller& caller, const std::string& resident_code,
                                const std::string& purpose) const;
  // Lookup for a caller that must not block (a server's I/O thread), many of them sharing one
  // durable commit: authorisation and the read happen now, on the calling thread, and `done`
  // gets the record once its provision is durably recorded — on the write queue's thread
  // (Registry::ProvideAsync), or on this one when the read fails before that. Nothing is
  // answered that is not recorded; a refusal is recorded as by Lookup (synchronously where
  // Lookup refuses before reading: the caller, the purpose, a handle). What `caller` points to
  // is copied. `done` must not block.
  using LookupDone = std::function<void(Result<ProvidedRecord>)>;
  void LookupAsync(const Caller& caller, const std::string& resident_code,
                   const std::string& purpose, LookupDone done) const;
  // The whole of a client's lookup by resident code — authentication, the halt check,
  // authorisation, the read — on a thread that must never block nor write (a server's I/O
  // thread), when none of it needs anything recorded before the read: a registered, active
  // client (ClientCache), a running node, a purpose the client may read, no quotas to keep
  // (they record refusals as they go). Then the provision is queued to the write queue's thread
  // (never led here: WriteQueue::Enqueue), `done` is called as by LookupAsync, and it returns
  // true. Otherwise it does nothing at all and returns false: the caller takes the request
  // through Authenticate and LookupAsync on a worker, where refusals are recorded. The rights
  // are checked again inside the recording transaction, as always.
  bool LookupWithoutBlocking(const std::string& spki_sha256, const std::string& terminal,
                             const std::string& resident_code, const std::string& purpose,
                             LookupDone done) const;
  Result<std::optional<std::vector<ProvidedVersion>>> History(const Caller& caller,
                                                              const std::string& resident_code,
                                                              const std::string& purpose) const;
  Result<SearchProvision> Search(const Caller& caller, const SearchRequest& request,
                                 const std::string& purpose) const;
  Result<std::vector<ProvidedRecord>> Batch(const Caller& caller,
                                            const std::vector<std::string>& resident_codes,
                                            const std::string& purpose) const;

  // The population table of a statistics purpose (kind statistics: "統計の作成（個人を識別しない
  // 集計）"), for an operator nominated for it: active residents counted by municipality, sex
  // and five-year age band today (JST), each dimension only if the purpose's fields hold it
  // (municipality_code, sex, birth_date), as 総務省's 住民基本台帳に基づく人口 tables count them.
  // No resident is named or read one by one; the reading is recorded ("resident.statistics",
  // the dimensions and the total, no targets). A statistics purpose gives nothing else: every
  // read of a record under one is refused (statistics_only).
  Result<PopulationTable> Population(const Caller& caller, const std::string& purpose) const;

  // 支援措置 (DV等支援措置; registry/support_measure.cc, docs/support-measures.md): the CS of
  // the municipality holding the active record of `resident_code` sets the measure of that
  // person in force through `valid_until` (YYYY-MM-DD, today to kMaxSupportMeasureDays ahead,
  // JST), replacing any earlier one (an extension, or an end brought forward). While it is in
  // force every provision that holds the person's address carries the mark
  // (ProvidedRecord::support_measure). Refused, and recorded with the code by its keyed MAC:
  // a caller other than a municipal CS, or any caller on the national node (not_permitted); a
  // resident the node does not hold, a removed one, or one another municipality holds
  // (not_found: the same answer, so a CS learns nothing of other municipalities' residents);
  // a malformed date or one out of range (invalid_request); a halted node, a CS revoked since
  // it connected. Recorded as "support_measure.set" naming the person by keyed MAC and the
  // date. Returns the date set.
  Result<std::string> SetSupportMeasure(const Client& cs, const std::string& terminal,
                                        const std::string& resident_code,
                                        const std::string& valid_until) const;
  // Ends the measure now ("support_measure.end"); refused as SetSupportMeasure, and not_found
  // also when the person has none.
  Status EndSupportMeasure(const Client& cs, const std::string& terminal,
                           const std::string& resident_code) const;

  // A system that may not send forwarded changes (POST /v1/link/changes: anything but a
  // prefecture's client, or any client of a node that is not national): the refusal recorded
  // ("link.receive", refused:not_permitted) and returned as PermissionDenied.
  // A request of `caller` refused before it reached a use case (a malformed code, query or
  // body): recorded as the operation it would have been (`action`), outcome
  // refused:invalid_request, the purpose as LoggedPurpose names it and nothing of the request.
  Status RecordInvalidRequest(const Caller& caller, const char* action,
                              const std::string& purpose) const;
  Status RefuseLinkChanges(const Client& client, const std::string& terminal) const;

  // Charges every read to its caller's quota (not owned; nullptr: no quotas, no real-time
  // alerts). A read over quota is refused (kResourceExhausted, reason quota_exceeded) before any
  // data is read. Set before serving.
  void UseQuotas(Quotas* quotas) { quotas_ = quotas; }
  // Writes the refusals the samplers held back and no later refusal carried — the front door's
  // (RefuseUnknownClient) and the registry's (Registry::WriteHeldRefusals) — for keys whose
  // interval has ended, or all of them when `everything` (the node stopping). The node's
  // checkpoint timer calls it.
  Status WriteHeldRefusals(bool everything) const;
  // [operators] require_training (default on): an operator's read is recorded and answered only
  // if they attended an operator training (操作者研修) in the current fiscal year, as the
  // recording transaction sees the training register — so a nomination made before April 1
  // does not carry an untrained operator into the next fiscal year (refused, reason
  // training_required, recorded).
  void RequireTraining(bool on) { require_training_ = on; }

  // The bounds on live search handles (kMaxHandles, kMaxHandlesPerCaller by default): smaller
  // ones make the eviction rules testable without thousands of searches.
  void SetHandleLimits(size_t total, size_t per_caller) {
    std::lock_guard<std::mutex> lock(handles_mu_);
    max_handles_ = std::max<size_t>(1, total);
    max_handles_per_caller_ = std::max<size_t>(1, per_caller);
  }

 private:
  // The use cases above, in `reader`.
  Result<Client> AuthenticateIn(store::RegistryReader& reader, const std::string& spki_sha256,
                                const std::string& terminal,
                                const std::vector<std::string>& asked = {},
                                const std::string& purpose = "") const;
  // The active client `spki` in `reader`, through the cache; nullptr if it is not registered
  // or revoked (nothing recorded).
  Result<std::shared_ptr<const Client>> ActiveClient(store::RegistryReader& reader,
                                                     const std::string& spki_sha256) const;
  Result<ProvidedRecord> LookupIn(store::RegistryReader& reader, const Caller& caller,
                                  const std::string& resident_code,
                                  const std::string& purpose) const;
  Result<std::optional<std::vector<ProvidedVersion>>> HistoryIn(store::RegistryReader& reader,
                                                                const Caller& caller,
                                                                const std::string& resident_code,
                                                                const std::string& purpose) const;
  Result<SearchProvision> SearchIn(store::RegistryReader& reader, const Caller& caller,
                                   const SearchRequest& request, const std::string& purpose) const;
  Result<std::vector<ProvidedRecord>> BatchIn(store::RegistryReader& reader, const Caller& caller,
                                              const std::vector<std::string>& resident_codes,
                                              const std::string& purpose) const;
  // Runs `fn(reader)` with a reader leased from the pool.
  template <typename Fn>
  auto WithReader(Fn&& fn) const -> decltype(fn(std::declval<store::RegistryReader&>()));

  // The quota hooks (registry/quota.h): before a read, and after its answer.
  // `reserve`: the most residents the answer can hold, counted at admission (Quotas::Admit)
  // and settled by Answered (`reserved`, the same number).
  Result<const Purpose*> Admit(const Caller& caller, const Purpose* purpose, const char* action,
                               const std::vector<std::string>& asked = {},
                               size_t reserve = 0) const;
  void Answered(const Caller& caller, const std::string& purpose, bool search, size_t found,
                size_t asked, size_t reserved) const;
  // A read that returned nothing after its admission: its reservation is given back; returns
  // `why`.
  Status Released(const Caller& caller, const std::string& purpose, size_t reserved,
                  Status why) const;
  // `asked`: the resident codes the read names, named in a refusal's entry (AskedTarget).
  // `reserve` as for Admit: a lookup or a history 1, a batch its codes, a search its limit.
  // `search`: the search being authorised, whose criteria a refusal records by kind and
  // commitment (Registry::DescribeSearch).
  Result<const Purpose*> Authorize(const Caller& caller, const std::string& purpose,
                                   const char* action,
                                   const std::vector<std::string>& asked = {},
                                   size_t reserve = 0,
                                   const SearchRequest* search = nullptr) const;
  // Authorize's decision again, from the rows as `txn` sees them (no recording: the failing
  // use case records the refusal).
  Status Recheck(store::RegistryTxn& txn, const Caller& caller, const std::string& purpose) const;
  std::function<Status(store::RegistryTxn&)> RecheckFor(const Caller& caller,
                                                        const std::string& purpose) const;
  // A handle or a code: the resident code to read, or NotFound (recorded).
  Result<std::string> Resolve(const Caller& caller, const std::string& code_or_handle,
                              const std::string& purpose) const;
  std::string IssueHandle(const Caller& caller, const std::string& purpose,
                          const std::string& resident_code) const;
  ProvisionRequest RequestFor(const Caller& caller, const Purpose& purpose,
                              const char* function) const;
  Status RefuseClient(const Actor& actor, const char* action, const std::string& purpose,
                      Status why, const std::vector<std::string>& asked = {},
                      const SearchRequest* search = nullptr) const;
  // The front door's refusal of a certificate that is not registered or was revoked
  // (client.refused): sampled, one entry per certificate per kUnknownClientSampleSeconds
  // standing for the refusals held back since its last one (conditions "count=N"). Found in
  // review: any certificate of the CA — an operator's card, a retired system's — wrote a 7-year
  // entry per request, 2 MB/s from one client. A refusal that names residents (a revoked
  // system's lookup) is recorded each time, within RefusalNaming's bounds; so is a refusal
  // inside a use case's transaction (a client revoked while its request ran).
  Status RefuseUnknownClient(const Actor& actor, const std::string& purpose, Status why,
                             const std::vector<std::string>& asked = {}) const;

  Registry* registry_;
  const PurposeCatalogue* catalogue_;
  const Clock* clock_;
  int prefecture_;
  Quotas* quotas_ = nullptr;
  bool require_training_ = true;
  std::unique_ptr<ReaderPool> readers_;
  std::unique_ptr<ClientCache> clients_;  // the register in memory (registry/client_cache.h)
  std::unique_ptr<auth::RefusalSampler> unknown_clients_;  // RefuseUnknownClient

  struct HandleEntry {
    std::string binding;
    std::string purpose;
    std::string resident_code;
    int64_t expires_at = 0;
  };
  mutable std::mutex handles_mu_;
  mutable std::unordered_map<std::string, HandleEntry> handles_;
  mutable std::deque<std::string> handle_order_;  // issue order = expiry order
  size_t max_handles_ = kMaxHandles;
  size_t max_handles_per_caller_ = kMaxHandlesPerCaller;
  // Each caller's handles in issue order (may still list some erased since: skipped).
  mutable std::unordered_map<std::string, std::deque<std::string>> caller_handles_;
};

}  // namespace kakunin::registry
