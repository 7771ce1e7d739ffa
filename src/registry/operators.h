#pragma once

// The operator register's use cases (docs/operators.md, DESIGN §7): bootstrap, accounts, role
// requests and approvals, nominations, credentials, enrolment, login. Separation of duties is
// enforced here — an access manager creates accounts, a security manager nominates, a security
// chief approves role grants, nobody acts on themselves — and every change (and every failed
// login) is an operation-log entry written with it in one transaction.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/log.h"
#include "auth/throttle.h"
#include "auth/webauthn.h"
#include "core/clock.h"
#include "core/date.h"
#include "registry/purposes.h"
#include "store/registry_store.h"

namespace kakunin::registry {

inline constexpr const char* kRoles[] = {"security_chief", "system_admin", "security_manager",
                                         "access_manager", "operator",     "auditor",
                                         "contractor"};
bool IsRole(std::string_view role);
// Separation of duties: whether one person may not hold both roles. The auditor (監査) checks
// everyone's work, so holds no other role; a contractor (委託先) holds no management role
// (security chief, system administrator, security or access manager) and no operator role;
// neither the system administrator nor the security manager (who nominates operators and
// checks their reads) is an operator.
bool RolesConflict(std::string_view a, std::string_view b);
// Operator ids: 1-32 of [a-z0-9._-], starting with a letter or digit.
bool IsValidOperatorId(std::string_view id);

// An operator as the console sees them.
struct OperatorView {
  store::OperatorRow row;
  // Set by OperatorDesk::CheckPassword: PasswordMark of the stored password it checked. For a
  // console session's request, the session's mark (auth::Session::password_mark).
  std::string password_mark;
  // For a console session's request: the card or authenticator that made the session active
  // (auth::Session::credential_id). With password_mark, what CheckSessionStands checks again
  // in the transaction that records what the request did.
  std::string session_credential;
  std::vector<std::string> roles;
  std::vector<store::NominationRow> nominations;
  bool active() const { return row.status == "active"; }
  bool HasRole(std::string_view role) const;
  bool HasAnyRole(const std::vector<std::string>& roles) const;
  // A nomination for `purpose` whose [from, to] contains `today` (YYYY-MM-DD).
  bool NominatedFor(std::string_view purpose, const std::string& today) const;
};

// A short digest of a stored password hash (hex, 32 characters; "" for none): what a console
// session keeps to notice a password change made elsewhere, without keeping the hash.
std::string PasswordMark(std::string_view password_hash);

// An IC card an access manager bound and its holder has not confirmed yet: no second factor
// (OperatorDesk::ConfirmCard). A WebAuthn credential is its holder's from the start.
inline bool AwaitsHolder(std::string_view kind, int64_t confirmed_at) {
  return kind == "certificate" && confirmed_at == 0;
}

// A card or authenticator as the register shows it: kind (webauthn | certificate), its name (an
// IC card's SPKI SHA-256 in hex, a WebAuthn credential id in base64url), when it was registered
// and, if it was, revoked and by whom. No key material.
struct CredentialView {
  std::string kind;
  std::string credential_id;
  int64_t created_at = 0;
  int64_t revoked_at = 0;
  std::string revoked_by;
  int64_t confirmed_at = 0;  // an IC card: 0 until its holder confirms it
  bool confirmed() const { return !AwaitsHolder(kind, confirmed_at); }
};

// One grant of a role, as the register keeps it (withdrawn_at 0 while held).
struct RoleGrantView {
  std::string role;
  int64_t granted_at = 0;
  std::string approved_by;
  int64_t withdrawn_at = 0;
  std::string withdrawn_by;
};

// A role request no security chief has decided yet.
struct RoleRequestView {
  int64_t request_id = 0;
  std::string operator_id;
  std::string role;
  std::string requested_by;
  int64_t requested_at = 0;
};

struct Enrolled {
  std::string operator_id;
  std::string token;  // the one-time enrolment token (only its hash is stored)
};

// Operator `id` as `txn` sees them: OK if still active and holding one of `roles`, else
// PermissionDenied (reason not_permitted). What every management action and register read checks
// in its own transaction: a suspension or a withdrawal committed since the request loaded the
// operator counts.
Status StillHoldsOneOf(store::RegistryTxn& txn, const std::string& id,
                       const std::vector<std::string>& roles);
// The same for `by` acting through a console session, and that the session still stands
// (CheckSessionStands: reason credential_revoked / password_changed): what every management
// write and register read made for a session checks in its own transaction, before it changes
// anything — so a write that changes a card, an authenticator or a password is checked against
// the register as it was before it (found in review: only reads checked the session again; an
// access manager whose authenticator was revoked meanwhile still made accounts).
Status StillHoldsOneOf(store::RegistryTxn& txn, const OperatorView& by,
                       const std::vector<std::string>& roles);

// The first day of the Japanese fiscal year (年度: April 1 to March 31) `day` falls in.
Date FiscalYearStart(const Date& day);
// With `required`: OK if `operator_id` attended an operator training (操作者研修) in the fiscal
// year of `today`, as `txn` sees the training register; else PermissionDenied, reason
// training_required. What every read of resident data by an operator checks in its recording
// transaction (the nomination checked it when it was made, but a nomination can outlive the
// fiscal year).
//
// Whatever `required` says, it first checks CheckContract: the one function every read of an
// operator (Gateway, DisclosureDesk) calls in its recording transaction for the registers' rules.
Status CheckTrained(store::RegistryTxn& txn, const std::string& operator_id, const Date& today,
                    bool required);
// A holder of the contractor role (委託作業者) acts only while listed under a contract in force on
// `today` (from <= today <= to), as `txn` sees the contractor register: PermissionDenied, reason
// contract_required, otherwise; OK for anyone without the role. The role was approved under a
// contract in force, but the contract ends while the role stays: every read (CheckTrained), the
// password step and the second factor check it again.
Status CheckContract(store::RegistryTxn& txn, const std::string& operator_id, const Date& today);

// Whether the console session `op` acts for still stands as `txn` sees the register: the card
// or authenticator that made it active (op.session_credential) is still the operator's, not
// revoked and (a card) confirmed, and the stored password still has the mark its password step
// checked (op.password_mark). PermissionDenied, reason credential_revoked / password_changed,
// otherwise; OK for what it does not carry (a view that is no session's). The console checks
// both when a request arrives, but a revocation or a password change can commit while the
// request is served (found in review: reads were recorded and answered up to 30 ms after the
// revocation committed); every read's recording transaction checks them again, and every
// management write's transaction (StillHoldsOneOf with the view).
Status CheckSessionStands(store::RegistryTxn& txn, const OperatorView& op);

// Failures in a row that lock an account (docs/operators.md).
inline constexpr int kMaxFailedLogins = 5;

class WriteQueue;

class OperatorDesk {
 public:
  // Pointers must outlive the desk.
  OperatorDesk(store::RegistryStore* store, const audit::AuditLog* log, const Clock* clock,
               const PurposeCatalogue* purposes);

  // While set, every write goes through `queue` (the node's group commit, shared with the
  // systems' API) instead of a transaction of its own. `queue` must outlive its use; nullptr
  // goes back to direct writes. Not thread-safe: set it before serving, clear it after.
  void UseWriteQueue(WriteQueue* queue) { queue_ = queue; }

  // [operators] require_training (default on): a nomination needs an operator training
  // (操作者研修) attended in the current fiscal year (registry/registers.h). Set before serving.
  void RequireTraining(bool on) { require_training_ = on; }

  Result<std::optional<OperatorView>> Load(store::RegistryReader& reader,
                                           const std::string& operator_id) const;
  // The same, in a snapshot of its own: the operator behind a console session, read for each
  // request (a suspension takes effect at once). Not recorded: it is the session's own check.
  Result<std::optional<OperatorView>> Find(const std::string& operator_id) const;
  // Whether `credential_id` (a card's SPKI SHA-256 hex, a WebAuthn credential id) is
  // `operator_id`'s, not revoked, and (a card) confirmed by its holder: a session it made holds.
  Result<bool> CredentialInForce(const std::string& operator_id,
                                 const std::string& credential_id) const;

  // On the node's host, once: the first security chief and access manager (roles granted
  // without approval — there is nobody to approve them yet), each with an enrolment token.
  Result<std::vector<Enrolled>> Bootstrap(const std::string& chief_id,
                                          const std::string& chief_name,
                                          const std::string& access_id,
                                          const std::string& access_name,
                                          const std::string& actor) const;

  // On the node's host: a new enrolment link for an active operator who enrolled once and whose
  // every card and authenticator is revoked, only when no security chief can issue it on the
  // console (each active chief revoked one of them, created the account, or is the operator: a
  // node of one chief and one access manager). Recorded as operator.recover by the host's
  // user, refusals too.
  Result<Enrolled> RecoverEnrolment(const std::string& operator_id, const std::string& actor) const;

  // `by` is the operator acting (loaded and active). kPermissionDenied (reason not_permitted)
  // when their roles do not allow it or they act on themselves.
  //
  // An access manager creates the account; its enrolment link is NOT given to them (nobody both
  // creates and uses an account): a security chief who is neither the account's creator nor the
  // operator issues it (IssueEnrolment) and hands it to the person. Returns the new id.
  Result<std::string> Create(const OperatorView& by, const std::string& id, const std::string& name,
                             const std::string& unit) const;
  // A security chief issues the one-time enrolment link of an account not enrolled yet, or of one
  // whose every card and authenticator is revoked; earlier unused links of the account stop
  // working. Not for an account they created, nor their own.
  Result<Enrolled> IssueEnrolment(const OperatorView& by, const std::string& id) const;
  // Suspending or retiring the last active security chief is refused (kFailedPrecondition):
  // another active chief must remain, so halts and grants always have someone to decide them.
  Status SetStatus(const OperatorView& by, const std::string& id, const std::string& status) const;
  Result<int64_t> RequestRole(const OperatorView& by, const std::string& id,
                              const std::string& role) const;
  // The contractor role (委託先) only for someone listed as a worker of a contract in force today
  // (registry/registers.h): kFailedPrecondition (reason contract_required, recorded) otherwise.
  Status ApproveRole(const OperatorView& by, int64_t request_id) const;
  // A security chief turns a request down (the same who-decides rules as ApproveRole): it is
  // decided and never approved later. kFailedPrecondition if it was decided already.
  Status RejectRole(const OperatorView& by, int64_t request_id) const;
  // Every grant of a role to `id`, withdrawn ones included, oldest first: recorded
  // (operator.roles). Security chiefs, access managers, auditors.
  Result<std::vector<RoleGrantView>> RoleGrants(const OperatorView& by, const std::string& id,
                                                const std::string& terminal) const;
  // The requests no security chief has decided yet, oldest first: recorded
  // (operator.role.requests). Security chiefs, access managers, auditors.
  Result<std::vector<RoleRequestView>> PendingRoleRequests(const OperatorView& by,
                                                           const std::string& terminal) const;
  // Only an active holder of the operator role, and (RequireTraining) only one who attended an
  // operator training this fiscal year: kFailedPrecondition (reason training_required,
  // recorded) otherwise.
  Status Nominate(const OperatorView& by, const std::string& id, const std::string& purpose,
                  const std::string& from, const std::string& to) const;
  // An IC card: the SHA-256 of its certificate's SPKI (64 hex digits). A key registered as a
  // system client (revoked or not) is refused: a system's certificate is never a person's card.
  // The card is bound waiting for its holder: it is no second factor until ConfirmCard (an access
  // manager could otherwise bind their own card to someone else's account and, with its
  // password, sign in as them).
  Status BindCertificate(const OperatorView& by, const std::string& id,
                         const std::string& spki_sha256) const;

  // Taking rights back (docs/operators.md, 操作者一覧表 kept current). Each is recorded with the
  // change, in one transaction; each takes effect on the operator's next request, since every
  // console request and every read's recording transaction reads the register again.
  //
  // A security manager ends an operator's nominations for `purpose` as of now: every one not
  // ended whose last day is today or later. NotFound if there is none.
  Status EndNomination(const OperatorView& by, const std::string& id,
                       const std::string& purpose) const;
  // A security chief withdraws a role. Not their own; not the last active security chief's or
  // access manager's (kFailedPrecondition). NotFound if the operator does not hold it.
  Status WithdrawRole(const OperatorView& by, const std::string& id, const std::string& role) const;
  // An operator's cards and authenticators, revoked ones included: recorded
  // (operator.credentials). Access managers, security chiefs, auditors.
  Result<std::vector<CredentialView>> ListCredentials(const OperatorView& by, const std::string& id,
                                                      const std::string& terminal) const;
  // An access manager revokes a lost or broken card or authenticator (`credential_id` as
  // ListCredentials names it), not their own — a security chief only when no other access
  // manager can (the only access manager's own card): it never passes a second factor again and
  // cannot be bound again. Once none is left in use, a security chief who revoked none of them
  // may issue the operator a new enrolment link (IssueEnrolment; else RecoverEnrolment). The
  // console ends the operator's sessions.
  Status RevokeCredential(const OperatorView& by, const std::string& id,
                          const std::string& credential_id) const;

  // The operator register as a manager reads it (ids, names, units, statuses, roles): recorded
  // (operator.list) before it is answered. Access managers, security managers, security chiefs
  // and auditors.
  Result<std::vector<OperatorView>> List(const OperatorView& by, const std::string& terminal) const;

  // Enrolment from the one-time link: the operator it is for (NotFound if unknown, used or
  // expired), then the password and the WebAuthn credential, stored together; the token is used.
  Result<OperatorView> EnrolmentFor(const std::string& token) const;
  Result<std::string> EnrolmentOperator(store::RegistryReader& reader,
                                        const std::string& token) const;
  Status FinishEnrolment(const std::string& token, const std::string& password_hash,
                         const auth::StoredCredential& credential) const;

  // The password step: the operator if id and password match and the account is active and not
  // locked (and, for a contractor's worker, listed under a contract in force); otherwise
  // kUnauthenticated (reason login_failed) whatever the cause, after the same work, recorded. An
  // unknown id is kNotFound with the same reason and is NOT recorded: the caller counts and samples
  // those (anonymous traffic must not grow the log one entry each). Each check first takes one of
  // kMaxFailedLogins attempts in one atomic step, so concurrent guesses cannot get more than that
  // many checks past the counter; the fifth failure locks the account for 15 minutes; a success
  // gives the attempts back.
  Result<OperatorView> CheckPassword(const std::string& id, const std::string& password,
                                     const std::string& terminal) const;
  // The operator's own password change, from a session made active with the second factor: the
  // current password is checked as at sign-in (an attempt taken first in one atomic step; the
  // fifth failure locks the account for 15 minutes; a locked account is refused before any
  // argon2 work), then `next` (already checked against the policy by the caller) is hashed and
  // replaces the stored hash in one transaction, provided it is still the one checked (a change
  // made meanwhile by another session wins). Recorded either way as operator.password.change,
  // with no password or hash in the entry. An inactive operator, a locked account, a wrong
  // current password or a change made meanwhile is kUnauthenticated (reason login_failed).
  // `session_credential` (the card or authenticator that made the session active, if any) is
  // checked in the writing transaction too, as every management write made for a session is
  // (CheckSessionStands): revoked meanwhile, nothing changes and it is kPermissionDenied, reason
  // credential_revoked, recorded as refused:credential_revoked.
  Status ChangePassword(const std::string& id, const std::string& current,
                        const std::string& next, const std::string& terminal,
                        const std::string& session_credential = {}) const;
  // The operator's WebAuthn credential ids (raw), to offer the browser.
  Result<std::vector<std::string>> WebAuthnCredentials(const std::string& id) const;
  // The WebAuthn second factor: the credential `credential_id` must be the operator's; the
  // assertion is verified against `challenge` (which the caller has consumed); the new sign
  // count is stored only if it moves forward, in one step with the entry. kPermissionDenied
  // (reason login_failed) otherwise, recorded.
  Status VerifyWebAuthn(const std::string& id, const auth::RelyingParty& rp,
                        const std::string& challenge, const std::string& credential_id,
                        const std::string& client_data, const std::string& authenticator_data,
                        const std::string& signature, const std::string& terminal) const;
  // The IC card as second factor: OK (recorded) if `spki_sha256` is a card bound to the operator
  // and not a system client's key; kPermissionDenied otherwise (nothing presented is no refusal;
  // a contractor's worker without a contract in force: reason contract_required, recorded).
  Status CardPassed(const std::string& id, const std::string& spki_sha256,
                    const std::string& terminal) const;
  // The holder confirms an IC card bound to them: `spki_sha256` is the card presented on the
  // connection of a session the operator made active with their own WebAuthn authenticator (the
  // console checks that). kFailedPrecondition (reason ic_card_not_pending, recorded) unless it is a
  // card bound to `id`, waiting for confirmation, not revoked and not a system client's key.
  Status ConfirmCard(const std::string& id, const std::string& spki_sha256,
                     const std::string& terminal) const;
  // A refused request of a signed-in operator on the console: recorded.
  Status RecordRefusal(const std::string& id, const char* action, const std::string& why,
                       const std::string& terminal) const;
  // A session event of operator `id` that changes nothing stored (`action`: session.logout).
  Status RecordSession(const std::string& id, const char* action,
                       const std::string& terminal) const;
  // Anonymous refusals from one source, sampled by the caller: one entry standing for them all
  // (`counts`: refusals by reason).
  Status RecordAnonymousRefusals(const std::map<std::string, int64_t>& counts,
                                 const std::string& terminal) const;
  // Sign-ins to a locked account are recorded as a sample (CheckPassword): writes the refusals
  // held back that no later one carried, for accounts whose interval ended (all of them with
  // `everything`) — the console's timer, and the node stopping.
  Status WriteHeldLoginRefusals(bool everything) const;

 private:
  Status Write(audit::AuditEntry entry,
               const std::function<Status(store::RegistryTxn&)>& change) const;
  Status WriteTxn(const std::function<Status(store::RegistryTxn&)>& job) const;
  // Takes one of `id`'s kMaxFailedLogins password checks in one atomic step (concurrent checks
  // each take their own); nullopt while the account is locked.
  Result<std::optional<int64_t>> ClaimAttempt(const std::string& id) const;
  // Write, for a change or read made by operator `by` as one of `roles`: the transaction checks
  // first that `by` is still active and still holds one of them as it sees them, and that the
  // session `by` acts through still stands (StillHoldsOneOf with the view) — a suspension, a
  // withdrawal, a revocation of the session's card or authenticator or a password change
  // committed since the request loaded `by` refuses it (kPermissionDenied).
  Status WriteAs(const OperatorView& by, const std::vector<std::string>& roles,
                 audit::AuditEntry entry,
                 const std::function<Status(store::RegistryTxn&)>& change) const;
  Result<Enrolled> NewEnrolment(store::RegistryTxn& txn, const std::string& id,
                                const std::string& issued_by) const;
  // A change refused by a rule of the registers (training_required, contract_required): recorded.
  Status RecordRuleRefusal(const OperatorView& by, const char* action,
                           const std::string& conditions, const char* reason,
                           const std::string& purpose = "") const;

  store::RegistryStore* store_;
  const audit::AuditLog* log_;
  const Clock* clock_;
  const PurposeCatalogue* purposes_;
  // Refusals of sign-ins to a locked account, by operator id and terminal: one entry a minute
  // stands for them all (found in review: anonymous attempts on a known, locked account wrote
  // one entry each, 3.5 million a day kept 7 years, from a few addresses).
  mutable auth::RefusalSampler locked_sampler_;
  WriteQueue* queue_ = nullptr;
  bool require_training_ = true;
};

}  // namespace kakunin::registry
