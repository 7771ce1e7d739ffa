#pragma once

// The registers the operating rules require of the staff (docs/operators.md "Registers the
// operating rules require"), kept on the console:
//
// - the training register (研修の記録, 第1 5(2)): each session — 操作者研修 or 管理者研修 —
//   with the operators who attended. An operator is nominated only after an operator training
//   in the current fiscal year (OperatorDesk::Nominate, [operators] require_training).
// - the contractor register (委託先と委託作業者の名簿, 第4): each contract — company, work,
//   period, whether subcontracting (再委託) was approved in writing and when, when the pledge
//   (誓約書) arrived — and the operators who work under it. The contractor role is approved only
//   for someone listed under a contract in force (OperatorDesk::ApproveRole).
// - the review register (点検・監査の記録, 第1 5(1)): self-inspections, audits and reviews of the
//   operation log, with the period covered, the result and a summary.
//
// Nothing here is about residents: operator ids, company names, dates, kinds and free text that
// is refused when it holds an 11- or 12-digit run (a 住民票コード or an individual number). Every
// call — each record, each read, each refusal — is an operation-log entry naming ids and counts
// only ("register.<name>.<verb>"); a change is checked again inside the transaction that records
// it (the actor still active and holding the role). Entries are never changed or deleted: a
// later entry supersedes an earlier one, and the registers are kept (no retention erase).

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "registry/audit_desk.h"
#include "registry/operators.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::registry {

struct TrainingInput {
  std::string held_on;                 // YYYY-MM-DD, not in the future
  std::string kind;                    // operator (操作者研修) | manager (管理者研修)
  std::string title;                   // 1..200 characters
  std::vector<std::string> attendees;  // 1..200 operator ids of the register, each once
};

struct Training {
  int64_t id = 0;
  std::string held_on;
  std::string kind;
  std::string title;
  std::vector<std::string> attendees;  // sorted
  int64_t recorded_at = 0;
  std::string recorded_by;
};

struct ContractInput {
  std::string company;             // 1..200 characters
  std::string work;                // 1..500 characters
  std::string from;                // YYYY-MM-DD
  std::string to;                  // YYYY-MM-DD, not before `from`
  std::string subcontracting;      // prohibited | approved
  std::string approved_on;         // required iff approved: the written approval's date
  std::string pledge_received_on;  // optional: the day the 誓約書 arrived
};

struct ContractWorker {
  std::string operator_id;
  int64_t added_at = 0;
  std::string added_by;
  int64_t removed_at = 0;  // 0 while listed
  std::string removed_by;
};

struct Contract {
  int64_t id = 0;
  std::string company;
  std::string work;
  std::string from;
  std::string to;
  std::string subcontracting;
  std::string approved_on;
  std::string pledge_received_on;
  bool in_force = false;  // from <= today <= to (JST), and not after ended_on
  int64_t recorded_at = 0;
  std::string recorded_by;
  std::string ended_on;  // "" unless ended before `to` (解除): its last day in force
  int64_t ended_at = 0;
  std::string ended_by;
  std::vector<ContractWorker> workers;
};

struct ReviewInput {
  std::string kind;          // self_inspection | audit | log_review
  std::string period_from;   // YYYY-MM-DD
  std::string period_to;     // not before period_from
  std::string conducted_on;  // not before period_to, not in the future
  std::string result;        // no_findings | findings
  std::string summary;       // 1..2000 characters, line breaks allowed, no resident data
};

struct Review {
  int64_t id = 0;
  std::string kind;
  std::string period_from;
  std::string period_to;
  std::string conducted_on;
  std::string result;
  std::string summary;
  int64_t recorded_at = 0;
  std::string recorded_by;
};

// Whether `text` holds a number of exactly 11 or 12 digits (ASCII or full-width): what a
// 住民票コード or an individual number looks like. Groups of digits joined by up to three spaces or
// hyphen-like marks (half- or full-width, ー too) count as one number ("1234 5678 9012",
// "１２３－４５６７－８９０１"); a date (8 digits) or a landline number (10) does not. Free text of
// the registers is refused then.
bool HoldsResidentNumber(std::string_view text);

// Whether `text` holds an invisible format character: a zero-width space or joiner, a
// bidirectional mark (LRM, RLM, ALM), the word joiner and its kin, the byte-order mark, a soft
// hyphen. Names and free text of the registers are refused with one (found in review: an
// operator's name with U+200B looked like another's in the operator list).
bool HoldsInvisibleFormatting(std::string_view text);

// Free text of a register (a title, a summary, a medium's note): 1..`max` characters of
// well-formed UTF-8 without control characters (line breaks allowed when `lines`), and no
// resident number in it (HoldsResidentNumber). Otherwise InvalidArgument, reason
// invalid_request, naming `field` and never the text.
Status CheckFreeText(const std::string& s, size_t max, bool lines, const char* field);

// Thread-safe (the registry and the store are; the desk keeps no state).
// What a reviewer reads of the operation log on the console (RegisterDesk::ReadLog): dates are
// YYYY-MM-DD (JST; `to` exclusive), actor and action ids as entries name them.
struct LogReadInput {
  std::optional<std::string> from, to, actor, action;
  std::optional<int64_t> after;  // only entries after this sequence: the next page
  int limit = 100;  // 1..1000
};
struct LogPage {
  std::vector<LogRecord> records;  // oldest first
  bool truncated = false;          // more entries matched than `limit`: ask again `after` the last
};

class RegisterDesk {
 public:
  // Not owned; all must outlive the desk.
  RegisterDesk(Registry* registry, store::RegistryStore* store, const Clock* clock);

  // Each call needs an active operator holding one of the roles named (PermissionDenied
  // not_permitted otherwise, recorded); a malformed field is InvalidArgument (invalid_request,
  // naming the field, never its value), recorded, and changes nothing.

  // Security chiefs and security managers record a session; they and auditors read the register.
  Result<int64_t> RecordTraining(const OperatorView& op, const Actor& actor,
                                 const TrainingInput& in) const;
  // Newest first (held_on), at most 200.
  Result<std::vector<Training>> Trainings(const OperatorView& op, const Actor& actor) const;

  // A security chief records a contract and lists its workers (any operator of the register:
  // listing comes before the contractor role, whose approval needs it). NotFound for an unknown
  // contract or operator, FailedPrecondition (conflict) for someone listed already. Security chiefs, security managers, access managers and auditors read the register.
  Result<int64_t> RecordContract(const OperatorView& op, const Actor& actor,
                                 const ContractInput& in) const;
  Status AddWorker(const OperatorView& op, const Actor& actor, int64_t contract_id,
                   const std::string& operator_id) const;
  // The roster and the contract keep up with the facts: a security chief takes a worker off a
  // contract's roster (they leave the work; NotFound if not listed, conflict if removed
  // already; a removed worker is not listed under that contract again), and ends a contract
  // before its last day (解除: `last_day`, YYYY-MM-DD, before the contract's `to`, becomes its
  // last day in force; conflict if ended already). Either stops at once what the contractor
  // role allowed that worker: sign-in and every read check the roster (CheckContract).
  Status RemoveWorker(const OperatorView& op, const Actor& actor, int64_t contract_id,
                      const std::string& operator_id) const;
  Status EndContract(const OperatorView& op, const Actor& actor, int64_t contract_id,
                     const std::string& last_day) const;
  // Newest first, at most 200, with their workers.
  Result<std::vector<Contract>> Contracts(const OperatorView& op, const Actor& actor) const;

  // Who records depends on the kind: a self-inspection (自己点検) the security chief, an audit
  // (監査) the auditor, a log review the auditor or a security or access manager (who review
  // the log of their unit). Security chiefs, auditors and security managers read the register.
  Result<int64_t> RecordReview(const OperatorView& op, const Actor& actor,
                               const ReviewInput& in) const;
  // Newest first (conducted_on), at most 200.
  Result<std::vector<Review>> Reviews(const OperatorView& op, const Actor& actor) const;

  // The operation log as a reviewer reads it (DESIGN §7: the auditor reads it, the access
  // manager and the security managers review it): entries by time, actor and action — ids,
  // kinds and counts, never a resident (targets are keyed MACs). Auditors and access managers
  // read every entry; a security manager the entries of an operator of their own unit, named
  // as `actor`. No search by resident or by criterion value here: testing a suspicion about a
  // resident is the host's `kakunin audit search --target`. Recorded as `audit.search`
  // (filters as LoggedFilter keeps them) before it is answered.
  Result<LogPage> ReadLog(const OperatorView& op, const Actor& actor, const AuditDesk& audit,
                          const LogReadInput& in) const;

 private:
  Status Refuse(const Actor& actor, const char* action, Status why) const;
  // Records a read (`count` rows answered) or refuses it.
  Status RecordRead(const OperatorView& op, const Actor& actor, const char* action, int64_t count,
                    const std::vector<std::string>& roles) const;
  // The change `write` with its entry, after the actor's rights are checked again in the same
  // transaction; a refusal on the way is recorded.
  Status RecordChange(const OperatorView& op, const Actor& actor, const char* action,
                      std::vector<std::string> roles,
                      const std::function<Status(store::RegistryTxn&, audit::AuditEntry&)>& write)
      const;

  Registry* registry_;
  store::RegistryStore* store_;
  const Clock* clock_;
};

}  // namespace kakunin::registry
