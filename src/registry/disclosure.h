#pragma once

// Residents' rights at the prefecture (DESIGN §1.5, docs/disclosure.md): the disclosure desk.
//
// A resident (or their legal representative) asks in writing for their own 本人確認情報 and for
// who received it (開示請求, 住民基本台帳法 第30条の32; 提供状況の開示). An operator nominated
// for a disclosure purpose (Purpose::OpenToDisclosureDesk) registers the request, and prints the
// decision notice (本人確認情報開示決定通知書, or a notice that no record exists): every version
// the node keeps of the person, the provision records of 7 years under every code they held,
// and the digest of their access statement (audit/statement.h), which the resident checks with
// nothing but the node's public key. The notice is a provision to the resident (function
// "disclosure", recipient "resident"), recorded with the printout register's row in one durable
// transaction before a byte of it is returned.
//
// A correction request (訂正等の申出) follows a disclosure: the prefecture cannot rewrite a
// 住民票, so the request goes to the municipality that holds it, whose CS fetches it over the
// systems' API (GET /v1/corrections), investigates, answers (corrected or not) and, if
// corrected, sends the usual 修正 notification. What the resident says is wrong is sealed
// under the node's field key; it is opened only for that municipality's CS.
//
// Every call, refusals included, is an operation-log entry that names the resident only by
// keyed MAC.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/log.h"
#include "core/clock.h"
#include "core/status.h"
#include "crypto/field_cipher.h"
#include "registry/gateway.h"
#include "registry/operators.h"
#include "registry/purposes.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::registry {

class AuditDesk;

struct DisclosureInput {
  std::string purpose;            // a purpose open to the disclosure desk (disclosure.self)
  std::string resident_code;      // as the written request names it
  std::string requester;          // self | legal_representative
  std::string identity_document;  // individual_number_card | driver_license | passport | two_documents
  std::string channel;            // counter | post | online
  std::string received_on;        // YYYY-MM-DD: today or up to a year back
};

// A correction as the desk shows it: nothing of what the resident wrote.
struct CorrectionSummary {
  int64_t id = 0;
  std::vector<std::string> fields;
  std::string municipality_code;
  std::string status;   // open | answered
  std::string outcome;  // corrected | not_corrected; "" while open
  int64_t received_at = 0;
  int64_t answered_at = 0;
  // When the first written result (調査結果通知書) was printed; 0 before.
  int64_t notified_at = 0;
};

// A request as the desk shows it: nothing personal (the resident code stays in the store).
struct DisclosureSummary {
  int64_t id = 0;
  std::string purpose;
  std::string requester;
  std::string identity_document;
  std::string channel;
  std::string received_on;
  std::string due_on;
  // received | disclosed | no_record, or how a request closed without a notice ended:
  // withdrawn | rejected | entered_in_error
  std::string status;
  std::string close_reason;  // a rejection's: identity_not_confirmed | not_entitled | incomplete
  bool overdue = false;  // still received after due_on
  int64_t registered_at = 0;
  std::string registered_by;
  int64_t decided_at = 0;
  std::string decided_by;
  int64_t documents = 0;
  std::vector<CorrectionSummary> corrections;
  // The 住民票コード the request names: only in one request's view (Get), for the clerk who
  // decides to check it against the written request before printing (受付 / 決裁); never in the
  // list.
  std::string resident_code;
};

// A printed notice: the PDF, and what the printout register holds of it.
struct IssuedNotice {
  std::string pdf;
  std::string kind;  // disclosure_notice | no_record_notice | correction_result_notice
  int64_t pages = 0;
  std::string sha256;  // hex, of `pdf`
  int64_t printout_id = 0;
};

// A row of the printout register (帳票の管理簿): nothing personal.
struct Printout {
  int64_t id = 0;
  std::string kind;       // disclosure_notice | no_record_notice | correction_result_notice
  std::string reference;  // "disclosure:<n>", or "disclosure:<n>/correction:<m>"
  int64_t printed_at = 0;
  std::string printed_by;
  int64_t pages = 0;
  std::string sha256;
  // What became of it (交付・廃棄): handed_over | mailed | destroyed, "" until recorded.
  std::string outcome;
  std::string outcome_method;  // destroyed: shredded | dissolved
  std::string outcome_on;      // YYYY-MM-DD
  int64_t outcome_at = 0;
  std::string outcome_by;
};

// A correction as its municipality's CS receives it.
struct CorrectionReferral {
  int64_t id = 0;
  std::string resident_code;
  std::vector<std::string> fields;
  std::string details;      // what the resident says is wrong, in their words
  std::string received_on;  // YYYY-MM-DD (JST)
};

// The associated data that binds a correction's sealed text (CorrectionRow::details_sealed) to
// its disclosure; field-key rotation re-seals the text with it (registry/field_key_rotation.h).
std::string CorrectionDetailsAad(int64_t disclosure_id);

// Thread-safe (the registry and the store are; the desk keeps no state).
class DisclosureDesk {
 public:
  struct Options {
    int due_days = kDefaultDisclosureDueDays;
    // [operators] require_training: the desk's operators too have attended this fiscal year's
    // operator training (checked in each step's transaction, as Gateway::RequireTraining).
    bool require_training = true;
    // Shown on notices: the issuing authority (default "<prefecture>知事").
    std::string issuer;
  };
  // Not owned; all must outlive the desk.
  DisclosureDesk(Registry* registry, store::RegistryStore* store, const PurposeCatalogue* purposes,
                 const crypto::FieldCipher* cipher, const Clock* clock, const AuditDesk* audit,
                 const audit::AuditLog* log, int prefecture, Options options);

  // --- operators at the disclosure desk (console) ---
  // Each needs an active operator holding the role operator (and no role that excludes it),
  // nominated today for a disclosure-desk purpose: the request's purpose when there is one, any
  // such purpose for List. Otherwise PermissionDenied (not_nominated), recorded. The rights are
  // checked again inside the transaction that records the step.

  // Registers a written request. InvalidArgument for a malformed field (naming the field, never
  // its value); the code need not be one the node holds (the notice then says so).
  Result<DisclosureSummary> Receive(const OperatorView& op, const Actor& actor,
                                    const DisclosureInput& in) const;
  // The newest requests first (at most 200).
  Result<std::vector<DisclosureSummary>> List(const OperatorView& op, const Actor& actor) const;
  // One request with its corrections; NotFound (recorded) for an unknown id.
  Result<DisclosureSummary> Get(const OperatorView& op, const Actor& actor, int64_t id) const;
  // Prints the decision notice (a PDF): the first decides the request (disclosed or no_record),
  // later ones are reprints, each a provision to the resident and a printout row. A request
  // closed without a notice (Close) gets none: FailedPrecondition request_closed, recorded. Signs a
  // checkpoint of the resident map first, so the statement covers everything before it.
  Result<IssuedNotice> IssueNotice(const OperatorView& op, const Actor& actor, int64_t id) const;
  // Ends request `id` without a notice (docs/disclosure.md, "Closing a request"): `outcome`
  // withdrawn (取下げ: the requester withdrew it in writing), rejected (却下, with `reason`
  // identity_not_confirmed, not_entitled or incomplete) or entered_in_error (登録誤り: a wrong
  // code typed, a request registered twice). Only while it awaits its decision (409 conflict
  // already_decided otherwise, as for a request a notice decided), and by another operator than
  // the one who registered it (two_person_rule: one clerk cannot make a request they took in
  // vanish). Recorded, naming the resident by MAC; `reason` is "" unless rejected.
  Result<DisclosureSummary> Close(const OperatorView& op, const Actor& actor, int64_t id,
                                  const std::string& outcome, const std::string& reason) const;
  // The access statement (JSON) the latest notice printed the digest of; FailedPrecondition
  // before a notice was printed.
  Result<std::string> Statement(const OperatorView& op, const Actor& actor, int64_t id) const;
  // Registers a correction request that follows a disclosure (status disclosed): `fields` are
  // the items the resident says are wrong (the disclosure's items), `details` what is wrong, in
  // their words (1..2,000 characters). It goes to the municipality holding the record.
  Result<int64_t> ReceiveCorrection(const OperatorView& op, const Actor& actor,
                                    int64_t disclosure_id, const std::vector<std::string>& fields,
                                    const std::string& details) const;
  // Prints the written result of correction `correction_id` of request `disclosure_id` to the
  // person who asked (訂正等の申出に係る調査結果通知書: the prefecture 「遅滞なく調査を行い、その
  // 結果を…書面で通知」, 住民基本台帳法 第30条の35 as we read it): the items they named, whether
  // the municipality corrected the 住民票, when it answered. Once the municipality answered
  // (FailedPrecondition not_answered before, recorded). No value of the record, no name, code or
  // municipality is on it (where the record now is can be where the person now lives), so it is
  // not a provision and a second clerk is not needed; it may be printed again (a spoiled sheet),
  // each print a printout row ("disclosure:<n>/correction:<m>"), the first stamping the
  // correction as notified. A support measure that keeps the record from the requester
  // (MeasureAllows) keeps this from them too. Recorded as correction.notice, naming the person
  // by MAC; every refusal too.
  Result<IssuedNotice> IssueCorrectionNotice(const OperatorView& op, const Actor& actor,
                                             int64_t disclosure_id, int64_t correction_id) const;
  // The printout register (帳票の管理簿), newest first: security managers and auditors.
  Result<std::vector<Printout>> Printouts(const OperatorView& op, const Actor& actor) const;
  // Records in the register what became of printout `id` (printout.outcome): `outcome`
  // handed_over (交付, at the counter), mailed (郵送) or destroyed (廃棄: a spoiled print, a
  // notice never collected) with `method` shredded or dissolved (empty otherwise), on day `on`
  // (YYYY-MM-DD, from the day it was printed to today, JST). By a security manager, who keeps
  // the register (the operating rules' 第3 2(4)); once per printout (FailedPrecondition
  // already_recorded after). Recorded naming the person the printed request names (by MAC), so
  // their statement shows what became of their notice. Every refusal is recorded too.
  Result<Printout> RecordPrintoutOutcome(const OperatorView& op, const Actor& actor, int64_t id,
                                         const std::string& outcome, const std::string& method,
                                         const std::string& on) const;

  // --- municipalities (systems' API) ---
  // The open corrections for the CS's municipality (at most 100, oldest first), opened for it;
  // recorded ("correction.refer", the residents by MAC). A correction goes to the municipality
  // holding the record today, under the person's current code: a resident who moved within the
  // prefecture after the request takes it with them; one the node holds no active record of
  // leaves it with the municipality it was received for. Only an active municipal CS
  // (PermissionDenied not_permitted otherwise, recorded).
  Result<std::vector<CorrectionReferral>> Corrections(const Client& cs,
                                                      const std::string& terminal) const;
  // The municipality's answer: corrected | not_corrected. NotFound (recorded) for an id that is
  // not one of its municipality's corrections; FailedPrecondition (already_answered) for one
  // already answered.
  Status AnswerCorrection(const Client& cs, const std::string& terminal, int64_t id,
                          const std::string& outcome) const;

 private:
  Status MayServe(const OperatorView& op, const std::string& purpose) const;
  // Request `id` when `op` may serve it; otherwise the refusal, recorded — as `unknown_action`
  // for an unknown id (which looks like one the operator may not see), as `refused_action` for a
  // request of a purpose the operator does not serve (naming its resident by MAC if
  // `name_code`).
  Result<store::DisclosureRow> ServedRequest(store::RegistryReader& reader,
                                             const OperatorView& op, const Actor& actor,
                                             int64_t id, const char* unknown_action,
                                             const char* refused_action, bool name_code) const;
  Status Refuse(const Actor& actor, const char* action, const std::string& purpose, Status why,
                const std::string& asked_code = "") const;
  // The two-person rule: the operator who registered request `row` does not take what it
  // discloses (`what`: "the notice is printed", …); refused as two_person_rule and recorded.
  Status SecondPerson(const store::DisclosureRow& row, const OperatorView& op, const Actor& actor,
                      const char* action, const char* what) const;
  std::function<Status(store::RegistryTxn&)> RecheckOperator(const OperatorView& op,
                                                               const std::string& purpose) const;
  // Records read entry `e` (action `action`, purpose `purpose`) with `op`'s rights checked again
  // in its transaction (RecheckOperator: halt, role, nomination, training, contract). A refusal
  // there is recorded instead (naming `asked_code` by MAC when given) and returned: the caller
  // hands out nothing it read before.
  // `also`: a further check in that transaction (a support measure, MeasureAllowsIn).
  Status RecordServed(const OperatorView& op, const Actor& actor, const char* action,
                      const std::string& purpose, audit::AuditEntry e,
                      const std::string& asked_code = "",
                      std::function<Status(store::RegistryTxn&)> also = nullptr) const;
  Result<DisclosureSummary> Summarise(store::RegistryReader& reader,
                                      const store::DisclosureRow& row, bool with_corrections) const;

  Registry* registry_;
  store::RegistryStore* store_;
  const PurposeCatalogue* purposes_;
  const crypto::FieldCipher* cipher_;
  const Clock* clock_;
  const AuditDesk* audit_;
  const audit::AuditLog* log_;
  int prefecture_;
  Options options_;
};

}  // namespace kakunin::registry
