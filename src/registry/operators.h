#pragma once

// The operator register's use cases (docs/operators.md, DESIGN §7): bootstrap, accounts, role
// requests and approvals, nominations, credentials, enrolment, login. Separation of duties is
// enforced here — an access manager creates accounts, a security manager nominates, a security
// chief approves role grants, nobody acts on themselves — and every change (and every failed
// login) is an operation-log entry written with it in one transaction.

#include <optional>
#include <string>
#include <vector>

#include "audit/log.h"
#include "core/clock.h"
#include "registry/purposes.h"
#include "store/registry_store.h"

namespace kakunin::registry {

inline constexpr const char* kRoles[] = {"security_chief", "system_admin", "security_manager",
                                         "access_manager", "operator",     "auditor",
                                         "contractor"};
bool IsRole(std::string_view role);
// Operator ids: 1-32 of [a-z0-9._-], starting with a letter or digit.
bool IsValidOperatorId(std::string_view id);

// An operator as the console sees them.
struct OperatorView {
  store::OperatorRow row;
  std::vector<std::string> roles;
  std::vector<store::NominationRow> nominations;
  bool active() const { return row.status == "active"; }
  bool HasRole(std::string_view role) const;
  // A nomination for `purpose` whose [from, to] contains `today` (YYYY-MM-DD).
  bool NominatedFor(std::string_view purpose, const std::string& today) const;
};

struct Enrolled {
  std::string operator_id;
  std::string token;  // the one-time enrolment token (only its hash is stored)
};

class OperatorDesk {
 public:
  // Pointers must outlive the desk.
  OperatorDesk(store::RegistryStore* store, const audit::AuditLog* log, const Clock* clock,
               const PurposeCatalogue* purposes);

  Result<std::optional<OperatorView>> Load(store::RegistryReader& reader,
                                           const std::string& operator_id) const;

  // On the node's host, once: the first security chief and access manager (roles granted
  // without approval — there is nobody to approve them yet), each with an enrolment token.
  Result<std::vector<Enrolled>> Bootstrap(const std::string& chief_id, const std::string& chief_name,
                                          const std::string& access_id,
                                          const std::string& access_name,
                                          const std::string& actor) const;

  // `by` is the operator acting (loaded and active). kPermissionDenied (reason not_permitted)
  // when their roles do not allow it or they act on themselves.
  Result<Enrolled> Create(const OperatorView& by, const std::string& id, const std::string& name,
                          const std::string& unit) const;
  Status SetStatus(const OperatorView& by, const std::string& id, const std::string& status) const;
  Result<int64_t> RequestRole(const OperatorView& by, const std::string& id,
                              const std::string& role) const;
  Status ApproveRole(const OperatorView& by, int64_t request_id) const;
  Status Nominate(const OperatorView& by, const std::string& id, const std::string& purpose,
                  const std::string& from, const std::string& to) const;
  Status BindCertificate(const OperatorView& by, const std::string& id,
                         const std::string& spki_sha256) const;

  // Enrolment from the one-time link: the operator it is for (NotFound if unknown, used or
  // expired), then the password and the WebAuthn credential, stored together; the token is used.
  Result<std::string> EnrolmentOperator(store::RegistryReader& reader,
                                        const std::string& token) const;
  Status FinishEnrolment(const std::string& token, const std::string& password_hash,
                         const store::CredentialRow& credential) const;

  // The password step: the operator if id and password match and the account is active and not
  // locked; otherwise kUnauthenticated (reason login_failed) whatever the cause, after the same
  // work. Five failures in a row lock the account for 15 minutes. Recorded either way.
  Result<OperatorView> CheckPassword(const std::string& id, const std::string& password,
                                     const std::string& terminal) const;
  // The second factor passed (WebAuthn, with its new sign count; or an IC card): recorded.
  Status SecondFactorPassed(const std::string& id, const std::string& credential_id,
                            std::optional<int64_t> sign_count, const std::string& terminal) const;
  // A refused second factor or request on the console: recorded.
  Status RecordRefusal(const std::string& id, const char* action, const std::string& why,
                       const std::string& terminal) const;

 private:
  Status Write(audit::AuditEntry entry,
               const std::function<Status(store::RegistryTxn&)>& change) const;
  Result<Enrolled> NewEnrolment(store::RegistryTxn& txn, const std::string& id) const;

  store::RegistryStore* store_;
  const audit::AuditLog* log_;
  const Clock* clock_;
  const PurposeCatalogue* purposes_;
};

}  // namespace kakunin::registry
