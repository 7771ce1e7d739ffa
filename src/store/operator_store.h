#pragma once

// The operator aggregate (docs/operators.md): operators, their roles and role requests,
// purpose nominations, credentials (WebAuthn and IC cards), enrolment links and the password
// step's attempt counter.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::store {

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

// One grant of a role (操作者一覧表): a role granted again after its withdrawal is a row of its own.
struct RoleGrantRow {
  std::string role;
  int64_t granted_at = 0;
  std::string approved_by;  // the security chief; "bootstrap" for the first two
  int64_t withdrawn_at = 0;  // 0 while held
  std::string withdrawn_by;
};

struct RoleRequestRow {
  int64_t request_id = 0;
  std::string operator_id;
  std::string role;
  std::string requested_by;
  int64_t requested_at = 0;
  std::string approved_by;  // "" while pending
  int64_t approved_at = 0;
  std::string rejected_by;  // "" unless a security chief turned it down
  int64_t rejected_at = 0;
};

struct NominationRow {
  std::string operator_id;
  std::string purpose;
  std::string valid_from;  // YYYY-MM-DD (JST), inclusive
  std::string valid_to;    // YYYY-MM-DD, inclusive
  std::string nominated_by;
  int64_t nominated_at = 0;
  // Ended before its valid_to (指定の取消: the operator changed posts, left the work): from then
  // on it allows nothing. 0 / "" while it runs its course.
  int64_t ended_at = 0;
  std::string ended_by;
};

struct CredentialRow {
  std::string credential_id;  // WebAuthn credential id (raw), or an IC card's SPKI SHA-256 hex
  std::string operator_id;
  std::string kind;  // webauthn | certificate
  int64_t alg = 0;
  std::string public_key;
  int64_t sign_count = 0;
  int64_t created_at = 0;
  // Revoked (a lost or broken card or authenticator): never passes a second factor again, and
  // its id cannot be bound again. 0 / "" while in use.
  int64_t revoked_at = 0;
  std::string revoked_by;
  // An IC card is a second factor only once its holder confirmed it (presented it in a session
  // made active with their own authenticator): 0 until then. A WebAuthn credential is made by
  // its holder at enrolment and is confirmed when stored.
  int64_t confirmed_at = 0;
};

struct EnrolmentRow {
  std::string token_hash;
  std::string operator_id;
  int64_t expires_at = 0;
  int64_t used_at = 0;
  std::string issued_by;  // the security chief's operator id; "host" (kakunin operator bootstrap)
};

// Reads of the operator register (see RegistryReader).
class OperatorReader {
 public:
  virtual ~OperatorReader() = default;
  virtual Result<std::optional<OperatorRow>> FindOperator(const std::string& operator_id) = 0;
  virtual Result<std::vector<OperatorRow>> ListOperators() = 0;
  virtual Result<std::vector<std::string>> OperatorRoles(const std::string& operator_id) = 0;
  // Every grant of a role to the operator, withdrawn ones included, oldest first.
  virtual Result<std::vector<RoleGrantRow>> RoleGrants(const std::string& operator_id) = 0;
  virtual Result<std::vector<NominationRow>> Nominations(const std::string& operator_id) = 0;
  virtual Result<std::vector<CredentialRow>> Credentials(const std::string& operator_id) = 0;
  virtual Result<std::optional<CredentialRow>> FindCredential(const std::string& credential_id) = 0;
  virtual Result<std::optional<RoleRequestRow>> FindRoleRequest(int64_t request_id) = 0;
  // Requests neither approved nor rejected, oldest first.
  virtual Result<std::vector<RoleRequestRow>> PendingRoleRequests() = 0;
  virtual Result<std::optional<EnrolmentRow>> FindEnrolment(const std::string& token_hash) = 0;
};

// Writes of the operator register inside one transaction (see RegistryTxn).
class OperatorWriter {
 public:
  virtual ~OperatorWriter() = default;
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
  // A role held already stays as it was; otherwise (never held, or withdrawn) a new grant row,
  // the earlier ones kept.
  virtual Status InsertRole(const std::string& operator_id, const std::string& role, int64_t at,
                            const std::string& approved_by) = 0;
  // Withdraws a held role (the row stays, marked withdrawn, for the register's history): false if
  // the operator does not hold it.
  virtual Result<bool> WithdrawRole(const std::string& operator_id, const std::string& role,
                                    const std::string& by, int64_t at) = 0;
  virtual Result<int64_t> InsertRoleRequest(const RoleRequestRow& row) = 0;  // its request_id
  virtual Result<std::optional<RoleRequestRow>> FindRoleRequest(int64_t request_id) = 0;
  // False if it was already decided (approved or rejected).
  virtual Result<bool> ApproveRoleRequest(int64_t request_id, const std::string& by,
                                          int64_t at) = 0;
  virtual Result<bool> RejectRoleRequest(int64_t request_id, const std::string& by,
                                         int64_t at) = 0;
  virtual Status InsertNomination(const NominationRow& row) = 0;
  // Ends, as of `at`, every nomination of `operator_id` for `purpose` not ended yet whose valid_to
  // is `today` (YYYY-MM-DD) or later: how many.
  virtual Result<int64_t> EndNominations(const std::string& operator_id, const std::string& purpose,
                                         const std::string& today, const std::string& by,
                                         int64_t at) = 0;
  virtual Status InsertCredential(const CredentialRow& row) = 0;  // AlreadyExists if taken
  virtual Result<std::optional<CredentialRow>> FindCredential(const std::string& credential_id) = 0;
  // As OperatorReader::Credentials, inside the transaction.
  virtual Result<std::vector<CredentialRow>> Credentials(const std::string& operator_id) = 0;
  virtual Status SetSignCount(const std::string& credential_id, int64_t sign_count) = 0;
  // The holder's confirmation of an IC card bound to `operator_id`: false unless it is that
  // operator's card, waiting for confirmation and not revoked.
  virtual Result<bool> ConfirmCredential(const std::string& credential_id,
                                         const std::string& operator_id, int64_t at) = 0;
  // Revokes a credential not revoked yet: false if unknown or revoked already.
  virtual Result<bool> RevokeCredential(const std::string& credential_id, const std::string& by,
                                        int64_t at) = 0;
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
};

}  // namespace kakunin::store
