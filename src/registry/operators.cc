#include "registry/operators.h"

#include <algorithm>
#include <set>

#include "auth/password.h"
#include "auth/sessions.h"
#include "core/bytes.h"
#include "core/date.h"
#include "crypto/sha256.h"
#include "registry/registers.h"
#include "registry/write_queue.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

// Who reads the registers of accounts (credentials, role grants, role requests).
const std::vector<std::string> kAccountRegisterReaders = {"access_manager", "security_chief",
                                                          "auditor"};

constexpr int64_t kSecond = 1000000;
constexpr int64_t kEnrolmentLifetime = 24 * 3600 * kSecond;
constexpr int64_t kLockout = 15 * 60 * kSecond;

Status NotPermitted(const char* why) {
  return Status::PermissionDenied(why).WithReason("not_permitted");
}

// An operator's name or unit: text, and no resident's code or number in it (review finding).
bool IsPlainText(std::string_view s, size_t max) {
  return !s.empty() && s.size() <= max && text::CheckText(s) == text::TextCheck::kOk &&
         !HoldsResidentNumber(s) && !HoldsInvisibleFormatting(s);
}

std::string TokenHash(const std::string& token) { return crypto::Sha256(token); }

// Whether a card or authenticator is still a means of signing in: not revoked and — a card —
// confirmed by its holder (one never confirmed has never been a means of signing in).
bool AnyCredentialInUse(const std::vector<store::CredentialRow>& creds) {
  return std::any_of(creds.begin(), creds.end(), [](const store::CredentialRow& c) {
    return c.revoked_at == 0 && !AwaitsHolder(c.kind, c.confirmed_at);
  });
}

audit::AuditEntry Entry(const std::string& actor, const std::string& terminal, const char* action) {
  audit::AuditEntry e;
  e.actor = actor;
  e.terminal = terminal;
  e.action = action;
  e.outcome = "done";
  return e;
}

bool IsIsoDate(const std::string& s) { return ParseIsoDate(s).date.has_value(); }

bool IsLowerHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status LoginFailed(const char* why) {
  return Status(StatusCode::kUnauthenticated, std::string("login failed: ") + why)
      .WithReason("login_failed");
}

}  // namespace

std::string PasswordMark(std::string_view password_hash) {
  if (password_hash.empty()) return "";
  return HexEncode(crypto::Sha256(std::string("kakunin password mark\n") +
                                  std::string(password_hash)))
      .substr(0, 32);
}

Status CheckSessionStands(store::RegistryTxn& txn, const OperatorView& op) {
  const std::string& id = op.row.operator_id;
  if (!op.session_credential.empty()) {
    KAKUNIN_ASSIGN_OR_RETURN(c, txn.FindCredential(op.session_credential));
    if (!c || c->operator_id != id || c->revoked_at != 0 ||
        AwaitsHolder(c->kind, c->confirmed_at)) {
      return Status::PermissionDenied("the session's card or authenticator was revoked")
          .WithReason("credential_revoked");
    }
  }
  if (!op.password_mark.empty()) {
    KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
    if (!row || PasswordMark(row->password_hash) != op.password_mark) {
      return Status::PermissionDenied("the password was changed since the session's sign-in")
          .WithReason("password_changed");
    }
  }
  return Status::Ok();
}

Status CheckContract(store::RegistryTxn& txn, const std::string& operator_id, const Date& today) {
  KAKUNIN_ASSIGN_OR_RETURN(roles, txn.OperatorRoles(operator_id));
  if (std::find(roles.begin(), roles.end(), "contractor") == roles.end()) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(listed, txn.WorksUnderContract(operator_id, today.ToIso()));
  if (!listed) {
    return Status::PermissionDenied(
               "a contractor's worker acts only while a contract listing them is in force")
        .WithReason("contract_required");
  }
  return Status::Ok();
}

Status CheckTrained(store::RegistryTxn& txn, const std::string& operator_id, const Date& today,
                    bool required) {
  // Not a training rule, but checked where it is, so that every read rechecks both.
  KAKUNIN_RETURN_IF_ERROR(CheckContract(txn, operator_id, today));
  if (!required) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(
      trained,
      txn.AttendedTraining(operator_id, "operator", FiscalYearStart(today).ToIso(), today.ToIso(), ""));
  if (!trained) {
    return Status::PermissionDenied(
               "the operator has attended no operator training in this fiscal year")
        .WithReason("training_required");
  }
  return Status::Ok();
}

// Ends every running or coming nomination of operator `id` (指定の取消), as `by`: when the
// operator role is withdrawn or the account suspended or retired. Found in review: nominations
// outlived both, and came back in force with a re-grant or a reactivation that no security
// manager decided. Returns how many were ended.
Result<int64_t> EndEveryNomination(store::RegistryTxn& txn, const std::string& id,
                                   const std::string& by, const std::string& today, int64_t now) {
  KAKUNIN_ASSIGN_OR_RETURN(noms, txn.Nominations(id));
  std::set<std::string> purposes;
  for (const auto& n : noms) {
    if (n.ended_at == 0 && n.valid_to >= today) purposes.insert(n.purpose);
  }
  int64_t ended = 0;
  for (const std::string& p : purposes) {
    KAKUNIN_ASSIGN_OR_RETURN(n, txn.EndNominations(id, p, today, by, now));
    ended += n;
  }
  return ended;
}

bool IsRole(std::string_view role) {
  return std::find(std::begin(kRoles), std::end(kRoles), role) != std::end(kRoles);
}

bool RolesConflict(std::string_view a, std::string_view b) {
  if (a == b) return false;
  if (a == "auditor" || b == "auditor") return true;
  auto management = [](std::string_view r) {
    return r == "security_chief" || r == "system_admin" || r == "security_manager" ||
           r == "access_manager";
  };
  // A contractor (委託事業者) sees health and metrics only, never resident data (DESIGN §7; the
  // prefecture's PIA: 委託先は本人確認情報に直接アクセスせず): no management role, and no operator
  // role either, whatever its contract says.
  auto excluded = [&](std::string_view r) { return management(r) || r == "operator"; };
  if ((a == "contractor" && excluded(b)) || (b == "contractor" && excluded(a))) return true;
  // No management role reads residents (DESIGN §7): the system administrator keeps the machine,
  // its backups and keys — the only role that copies the file — and gets no resident data (found
  // in review: one account held both and read residents' individual numbers); the security
  // manager (セキュリティ責任者) nominates the operators and checks their reads in the log
  // (操作履歴の確認: found in review, one held both, was nominated by a second security manager,
  // read residents, then recorded a log review of the same day with no findings); the access
  // manager and the security chief grant, suspend and record reviews (found in review: each was
  // also made an operator, read a record with its 個人番号 and recorded a log review of it).
  return (management(a) && b == "operator") || (management(b) && a == "operator");
}

bool IsValidOperatorId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

namespace {

// A new account's id: at most 8 digits in all. An id is written into the log and the answers as
// given, and one of 11 or 12 digits, however separated, could be a resident's code or number
// (review finding). Only for ids made from now on: accounts made before keep signing in.
bool IsNewOperatorId(std::string_view id) {
  return IsValidOperatorId(id) && std::count_if(id.begin(), id.end(), [](char c) {
                                    return c >= '0' && c <= '9';
                                  }) <= 8;
}

}  // namespace

bool OperatorView::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool OperatorView::HasAnyRole(const std::vector<std::string>& wanted) const {
  return std::any_of(wanted.begin(), wanted.end(), [&](const std::string& r) { return HasRole(r); });
}

bool OperatorView::NominatedFor(std::string_view purpose, const std::string& today) const {
  for (const auto& n : nominations) {
    if (n.purpose == purpose && n.ended_at == 0 && n.valid_from <= today && today <= n.valid_to) {
      return true;
    }
  }
  return false;
}

Date FiscalYearStart(const Date& day) {
  return Date::FromYmd(day.month() >= 4 ? day.year() : day.year() - 1, 4, 1);
}

OperatorDesk::OperatorDesk(store::RegistryStore* store, const audit::AuditLog* log,
                           const Clock* clock, const PurposeCatalogue* purposes)
    : store_(store),
      log_(log),
      clock_(clock),
      purposes_(purposes),
      locked_sampler_(clock, int64_t{60} * 1000000, /*max_keys=*/10000) {}

Status OperatorDesk::WriteTxn(const std::function<Status(store::RegistryTxn&)>& job) const {
  if (queue_ != nullptr) return queue_->Submit(job);
  return store_->Write(job);
}

Status OperatorDesk::Write(audit::AuditEntry entry,
                           const std::function<Status(store::RegistryTxn&)>& change) const {
  return WriteTxn([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(change(txn));
    return log_->Append(txn, entry).status();
  });
}

Status StillHoldsOneOf(store::RegistryTxn& txn, const std::string& id,
                       const std::vector<std::string>& roles) {
  KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
  KAKUNIN_ASSIGN_OR_RETURN(held, txn.OperatorRoles(id));
  const bool holds = std::any_of(roles.begin(), roles.end(), [&](const std::string& r) {
    return std::find(held.begin(), held.end(), r) != held.end();
  });
  if (!row || row->status != "active" || !holds) {
    return NotPermitted("the acting operator is no longer active or no longer holds the role");
  }
  return Status::Ok();
}

Status StillHoldsOneOf(store::RegistryTxn& txn, const OperatorView& by,
                       const std::vector<std::string>& roles) {
  KAKUNIN_RETURN_IF_ERROR(StillHoldsOneOf(txn, by.row.operator_id, roles));
  return CheckSessionStands(txn, by);
}

Status OperatorDesk::WriteAs(const OperatorView& by, const std::vector<std::string>& roles,
                             audit::AuditEntry entry,
                             const std::function<Status(store::RegistryTxn&)>& change) const {
  return Write(std::move(entry), [&](store::RegistryTxn& txn) -> Status {
    // Found in review: a chief whose role was withdrawn, or who was suspended, while their
    // request was on its way still acted; later, one whose session's authenticator was revoked
    // (or password changed) meanwhile. Checked before the change: a revocation is checked
    // against the session as it stood, never against itself.
    KAKUNIN_RETURN_IF_ERROR(StillHoldsOneOf(txn, by, roles));
    return change(txn);
  });
}

Result<std::optional<OperatorView>> OperatorDesk::Find(const std::string& id) const {
  auto reader = store_->OpenReader();
  if (!reader.ok()) return reader.status();
  return Load(**reader, id);
}

Result<bool> OperatorDesk::CredentialInForce(const std::string& operator_id,
                                             const std::string& credential_id) const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(c, reader->FindCredential(credential_id));
  return c && c->operator_id == operator_id && c->revoked_at == 0 &&
         !AwaitsHolder(c->kind, c->confirmed_at);
}

Result<std::optional<OperatorView>> OperatorDesk::Load(store::RegistryReader& reader,
                                                       const std::string& id) const {
  auto row = reader.FindOperator(id);
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<OperatorView>();
  OperatorView v;
  v.row = std::move(**row);
  auto roles = reader.OperatorRoles(id);
  if (!roles.ok()) return roles.status();
  v.roles = std::move(*roles);
  auto noms = reader.Nominations(id);
  if (!noms.ok()) return noms.status();
  v.nominations = std::move(*noms);
  return std::optional<OperatorView>(std::move(v));
}

Result<Enrolled> OperatorDesk::NewEnrolment(store::RegistryTxn& txn, const std::string& id,
                                           const std::string& issued_by) const {
  Enrolled e{id, auth::RandomToken()};
  store::EnrolmentRow row;
  row.token_hash = TokenHash(e.token);
  row.operator_id = id;
  row.issued_by = issued_by;
  row.expires_at = clock_->NowMicros() + kEnrolmentLifetime;
  KAKUNIN_RETURN_IF_ERROR(txn.InsertEnrolment(row));
  return e;
}

Result<std::vector<Enrolled>> OperatorDesk::Bootstrap(const std::string& chief_id,
                                                      const std::string& chief_name,
                                                      const std::string& access_id,
                                                      const std::string& access_name,
                                                      const std::string& actor) const {
  if (!IsNewOperatorId(chief_id) || !IsNewOperatorId(access_id) || chief_id == access_id) {
    return Status::InvalidArgument("two different operator ids of [a-z0-9._-] are needed");
  }
  if (!IsPlainText(chief_name, 200) || !IsPlainText(access_name, 200)) {
    return Status::InvalidArgument("each operator needs a name");
  }
  std::vector<Enrolled> out;
  audit::AuditEntry e = Entry(actor, "host", "operator.bootstrap");
  e.conditions = "security_chief=" + chief_id + " access_manager=" + access_id;
  Status st = Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto count = txn.CountOperators();
    if (!count.ok()) return count.status();
    if (*count != 0) {
      return Status::FailedPrecondition("operators exist already: bootstrap works only once");
    }
    const int64_t now = clock_->NowMicros();
    for (auto [id, name, role] : {std::tuple{chief_id, chief_name, "security_chief"},
                                  std::tuple{access_id, access_name, "access_manager"}}) {
      store::OperatorRow row;
      row.operator_id = id;
      row.name = name;
      row.unit = "";
      row.status = "active";
      row.created_at = now;
      row.created_by = actor;
      KAKUNIN_RETURN_IF_ERROR(txn.InsertOperator(row));
      KAKUNIN_RETURN_IF_ERROR(txn.InsertRole(id, role, now, "bootstrap"));
      auto enrolled = NewEnrolment(txn, id, "host");
      if (!enrolled.ok()) return enrolled.status();
      out.push_back(*enrolled);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<Enrolled> OperatorDesk::RecoverEnrolment(const std::string& id,
                                                const std::string& actor) const {
  Enrolled out;
  audit::AuditEntry e = Entry(actor, "host", "operator.recover");
  e.conditions = "operator=" + id;
  Status st = Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
    if (!row) return Status::NotFound("no such operator");
    if (row->status != "active") return Status::FailedPrecondition("the account is not active");
    // Only for someone who can no longer sign in: every card and authenticator revoked.
    KAKUNIN_ASSIGN_OR_RETURN(creds, txn.Credentials(id));
    if (AnyCredentialInUse(creds)) {
      return Status::FailedPrecondition(
          "the operator has a card or authenticator in use: only an account whose every "
          "credential is revoked is recovered");
    }
    const bool any = std::any_of(creds.begin(), creds.end(),
                                 [](const auto& c) { return c.revoked_at != 0; });
    if (!any || row->password_hash.empty()) {
      return Status::FailedPrecondition(
          "the operator never enrolled: a security chief issues the first enrolment link");
    }
    // Only when no security chief can issue it in the console — every active chief revoked
    // one of the credentials, created the account, or is the operator (found in review: the
    // host path let anyone with the data directory re-enrol any revoked account, an operator
    // with nominations included, where a second person was at hand).
    std::set<std::string> barred = {id, row->created_by};
    for (const auto& c : creds) barred.insert(c.revoked_by);
    int64_t barred_chiefs = 0;
    for (const std::string& who : barred) {
      KAKUNIN_ASSIGN_OR_RETURN(op, txn.FindOperator(who));
      if (!op || op->status != "active") continue;
      KAKUNIN_ASSIGN_OR_RETURN(roles, txn.OperatorRoles(who));
      if (std::find(roles.begin(), roles.end(), "security_chief") != roles.end()) ++barred_chiefs;
    }
    KAKUNIN_ASSIGN_OR_RETURN(chiefs, txn.CountActiveWithRole("security_chief"));
    if (chiefs > barred_chiefs) {
      return Status::FailedPrecondition(
          "a security chief who revoked none of the credentials can issue the enrolment link in "
          "the console: the host recovers an account only when none can");
    }
    KAKUNIN_RETURN_IF_ERROR(txn.RevokeEnrolments(id, clock_->NowMicros()));
    auto enrolled = NewEnrolment(txn, id, "host");
    if (!enrolled.ok()) return enrolled.status();
    out = *enrolled;
    return Status::Ok();
  });
  if (!st.ok()) {
    // The refusal is recorded too: who tried to re-enrol whom from the host.
    if (st.code() == StatusCode::kFailedPrecondition || st.code() == StatusCode::kNotFound) {
      audit::AuditEntry refused = Entry(actor, "host", "operator.recover");
      refused.conditions = "operator=" + id;
      refused.outcome = st.code() == StatusCode::kNotFound ? "refused:not_found"
                                                           : "refused:conflict";
      KAKUNIN_RETURN_IF_ERROR(Write(std::move(refused), [](store::RegistryTxn&) {
        return Status::Ok();
      }));
    }
    return st;
  }
  return out;
}

Result<std::string> OperatorDesk::Create(const OperatorView& by, const std::string& id,
                                         const std::string& name, const std::string& unit) const {
  if (!by.active() || !by.HasRole("access_manager")) {
    return NotPermitted("only an access manager creates operators");
  }
  if (!IsNewOperatorId(id)) {
    return Status::InvalidArgument("operator_id must be [a-z0-9._-], with at most 8 digits");
  }
  if (!IsPlainText(name, 200)) return Status::InvalidArgument("name is required");
  if (!unit.empty() && !IsPlainText(unit, 200)) return Status::InvalidArgument("unit is text");
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.create");
  e.conditions = "operator=" + id;
  Status st = WriteAs(by, {"access_manager"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    store::OperatorRow row;
    row.operator_id = id;
    row.name = name;
    row.unit = unit;
    row.status = "active";
    row.created_at = clock_->NowMicros();
    row.created_by = by.row.operator_id;
    Status ins = txn.InsertOperator(row);
    if (ins.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("that operator id is taken");
    }
    return ins;
  });
  if (!st.ok()) return st;
  return id;
}

Result<Enrolled> OperatorDesk::IssueEnrolment(const OperatorView& by, const std::string& id) const {
  if (!by.active() || !by.HasRole("security_chief")) {
    return NotPermitted("only a security chief issues enrolment links");
  }
  if (id == by.row.operator_id) return NotPermitted("nobody issues their own enrolment link");
  Enrolled out;
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.enrolment");
  e.conditions = "operator=" + id;
  Status st = WriteAs(by, {"security_chief"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto row = txn.FindOperator(id);
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no such operator");
    // One person may not both create an account and hold the means to use it.
    if ((*row)->created_by == by.row.operator_id) {
      return NotPermitted("nobody issues the enrolment link of an account they created");
    }
    if ((*row)->status != "active") {
      return Status::FailedPrecondition("the account is not active");
    }
    // A second enrolment only for someone who can no longer sign in: every card and
    // authenticator of theirs revoked (lost, broken). It sets a new password and authenticator.
    if (!(*row)->password_hash.empty()) {
      KAKUNIN_ASSIGN_OR_RETURN(creds, txn.Credentials(id));
      if (AnyCredentialInUse(creds)) {
        return Status::FailedPrecondition(
            "the operator has enrolled already and has a card or authenticator in use: revoke "
            "it first (POST /v1/operators/{id}/credentials/revoke)");
      }
      const bool revoked_by_issuer =
          std::any_of(creds.begin(), creds.end(),
                      [&](const auto& c) { return c.revoked_by == by.row.operator_id; });
      // Nobody both takes an operator's means of signing in away and issues the new one, not
      // even the only active security chief (found in review: on a node of one chief and one
      // access manager, the chief revoked the access manager's authenticator, enrolled as them,
      // and from there made, enrolled, nominated and signed in as an operator of their own).
      // When nobody else can, the account is recovered on the node's host
      // (RecoverEnrolment): a second person, and another channel.
      if (revoked_by_issuer) {
        return NotPermitted(
            "nobody issues a new enrolment link for credentials they revoked themselves; "
            "when no other security chief can, use kakunin operator recover on the node's host");
      }
    }
    KAKUNIN_RETURN_IF_ERROR(txn.RevokeEnrolments(id, clock_->NowMicros()));
    auto enrolled = NewEnrolment(txn, id, by.row.operator_id);
    if (!enrolled.ok()) return enrolled.status();
    out = *enrolled;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status OperatorDesk::SetStatus(const OperatorView& by, const std::string& id,
                               const std::string& status) const {
  if (!by.active() || !by.HasRole("access_manager")) {
    return NotPermitted("only an access manager changes an operator's status");
  }
  if (id == by.row.operator_id) return NotPermitted("nobody changes their own status");
  if (status != "active" && status != "suspended" && status != "retired") {
    return Status::InvalidArgument("status must be active, suspended or retired");
  }
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.status");
  e.conditions = "operator=" + id + " status=" + status;
  return WriteAs(by, {"access_manager"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto row = txn.FindOperator(id);
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no such operator");
    if ((*row)->status == "retired")
      return Status::FailedPrecondition("a retired operator stays so");
    if ((*row)->status == "active" && status != "active") {
      // Counted in this transaction: two suspensions at once cannot both pass.
      auto roles = txn.OperatorRoles(id);
      if (!roles.ok()) return roles.status();
      if (std::find(roles->begin(), roles->end(), "security_chief") != roles->end()) {
        auto chiefs = txn.CountActiveWithRole("security_chief");
        if (!chiefs.ok()) return chiefs.status();
        if (*chiefs <= 1) {
          return Status::FailedPrecondition(
              "the last active security chief stays: make a second one first");
        }
      }
    }
    if (status != "active") {
      KAKUNIN_RETURN_IF_ERROR(EndEveryNomination(txn, id, by.row.operator_id,
                                                 clock_->TodayJst().ToIso(), clock_->NowMicros())
                                  .status());
    }
    return txn.SetOperatorStatus(id, status);
  });
}

Result<int64_t> OperatorDesk::RequestRole(const OperatorView& by, const std::string& id,
                                          const std::string& role) const {
  if (!by.active() || !by.HasRole("access_manager")) {
    return NotPermitted("only an access manager requests roles");
  }
  if (id == by.row.operator_id) return NotPermitted("nobody requests a role for themselves");
  if (!IsRole(role)) return Status::InvalidArgument("no such role");
  int64_t request_id = 0;
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.role.request");
  e.conditions = "operator=" + id + " role=" + role;
  Status st = WriteAs(by, {"access_manager"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto row = txn.FindOperator(id);
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no such operator");
    store::RoleRequestRow r;
    r.operator_id = id;
    r.role = role;
    r.requested_by = by.row.operator_id;
    r.requested_at = clock_->NowMicros();
    auto n = txn.InsertRoleRequest(r);
    if (!n.ok()) return n.status();
    request_id = *n;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return request_id;
}

Status OperatorDesk::ApproveRole(const OperatorView& by, int64_t request_id) const {
  if (!by.active() || !by.HasRole("security_chief")) {
    return NotPermitted("only a security chief approves role grants");
  }
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.role.grant");
  e.conditions = "request=" + std::to_string(request_id);
  const std::string conditions = e.conditions;
  Status st = WriteAs(by, {"security_chief"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto req = txn.FindRoleRequest(request_id);
    if (!req.ok()) return req.status();
    if (!*req) return Status::NotFound("no such role request");
    if ((*req)->requested_by == by.row.operator_id || (*req)->operator_id == by.row.operator_id) {
      return NotPermitted("nobody approves their own request or a role for themselves");
    }
    // A request stands for its requester's decision only while they may make it: an access
    // manager still, and active (found in review: a request of someone suspended or withdrawn
    // since stayed approvable for good).
    {
      KAKUNIN_ASSIGN_OR_RETURN(requester, txn.FindOperator((*req)->requested_by));
      KAKUNIN_ASSIGN_OR_RETURN(requester_roles, txn.OperatorRoles((*req)->requested_by));
      const bool may = requester && requester->status == "active" &&
                       std::find(requester_roles.begin(), requester_roles.end(),
                                 "access_manager") != requester_roles.end();
      if (!may) {
        return Status::FailedPrecondition(
                   "the request's access manager is no longer active or no longer an access "
                   "manager: a new request is needed")
            .WithReason("stale_request");
      }
    }
    // Separation of duties, against the roles held as this transaction sees them.
    KAKUNIN_ASSIGN_OR_RETURN(held, txn.OperatorRoles((*req)->operator_id));
    // A role held already is not granted again (found in review: a second request for it was
    // "approved", the register of requests showing two grants where there is one).
    if (std::find(held.begin(), held.end(), (*req)->role) != held.end()) {
      return Status::FailedPrecondition("the operator already holds the role")
          .WithReason("conflict");
    }
    for (const std::string& r : held) {
      if (RolesConflict(r, (*req)->role)) {
        return Status::PermissionDenied("the role cannot be held together with " + r +
                                        " (separation of duties)")
            .WithReason("separation_of_duties");
      }
    }
    // A contractor's worker (委託作業者) is not the prefecture's staff: no other role while they
    // are on a contract's roster, in force or not (found in review: a listed worker was given
    // the operator role, nominated, and read residents' records, 個人番号 included; the
    // contracted work never touches 本人確認情報). Listing refuses the other order
    // (RegisterDesk::AddWorker).
    if ((*req)->role != "contractor") {
      KAKUNIN_ASSIGN_OR_RETURN(listed, txn.WorksUnderContract((*req)->operator_id, ""));
      if (listed) {
        return Status::PermissionDenied(
                   "the operator is listed as a contractor's worker (委託作業者): no other role "
                   "while on a contract's roster (separation of duties)")
            .WithReason("separation_of_duties");
      }
    }
    // A contractor's staff (委託作業者) works under a contract the prefecture keeps: listed in
    // the contractor register under one in force today, as this transaction sees it.
    if ((*req)->role == "contractor") {
      KAKUNIN_ASSIGN_OR_RETURN(
          listed, txn.WorksUnderContract((*req)->operator_id, clock_->TodayJst().ToIso()));
      if (!listed) {
        return Status::FailedPrecondition(
                   "the contractor role is approved only for a worker of a contract in force "
                   "today: list the operator under their contract in the contractor register "
                   "first (POST /v1/contracts/{n}/workers)")
            .WithReason("contract_required");
      }
    }
    auto fresh = txn.ApproveRoleRequest(request_id, by.row.operator_id, clock_->NowMicros());
    if (!fresh.ok()) return fresh.status();
    if (!*fresh) return Status::FailedPrecondition("the request was already decided");
    return txn.InsertRole((*req)->operator_id, (*req)->role, clock_->NowMicros(),
                          by.row.operator_id);
  });
  if (st.reason() == "contract_required") {
    KAKUNIN_RETURN_IF_ERROR(
        RecordRuleRefusal(by, "operator.role.grant", conditions, "contract_required"));
  }
  return st;
}

Status OperatorDesk::RejectRole(const OperatorView& by, int64_t request_id) const {
  if (!by.active() || !by.HasRole("security_chief")) {
    return NotPermitted("only a security chief decides role requests");
  }
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.role.reject");
  e.conditions = "request=" + std::to_string(request_id);
  return WriteAs(by, {"security_chief"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(req, txn.FindRoleRequest(request_id));
    if (!req) return Status::NotFound("no such role request");
    if (req->requested_by == by.row.operator_id || req->operator_id == by.row.operator_id) {
      return NotPermitted("nobody decides their own request or a role for themselves");
    }
    KAKUNIN_ASSIGN_OR_RETURN(
        fresh, txn.RejectRoleRequest(request_id, by.row.operator_id, clock_->NowMicros()));
    if (!fresh) return Status::FailedPrecondition("the request was already decided");
    return Status::Ok();
  });
}

Result<std::vector<RoleGrantView>> OperatorDesk::RoleGrants(const OperatorView& by,
                                                            const std::string& id,
                                                            const std::string& terminal) const {
  if (!by.active() || !by.HasAnyRole(kAccountRegisterReaders)) {
    return NotPermitted("only security chiefs, access managers and auditors read role grants");
  }
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, terminal, "operator.roles");
  e.conditions = "operator=" + id;
  KAKUNIN_RETURN_IF_ERROR(WriteAs(by, kAccountRegisterReaders, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
    return row ? Status::Ok() : Status::NotFound("no such operator");
  }));
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->RoleGrants(id));
  std::vector<RoleGrantView> out;
  for (const auto& g : rows) {
    out.push_back({g.role, g.granted_at, g.approved_by, g.withdrawn_at, g.withdrawn_by});
  }
  return out;
}

Result<std::vector<RoleRequestView>> OperatorDesk::PendingRoleRequests(
    const OperatorView& by, const std::string& terminal) const {
  if (!by.active() || !by.HasAnyRole(kAccountRegisterReaders)) {
    return NotPermitted("only security chiefs, access managers and auditors read role requests");
  }
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, terminal, "operator.role.requests");
  KAKUNIN_RETURN_IF_ERROR(WriteAs(by, kAccountRegisterReaders, std::move(e), [&](store::RegistryTxn&) {
    return Status::Ok();
  }));
  // Read after the entry is durable, from a snapshot of its own (the register holds no personal
  // data of residents; a request decided meanwhile may still show as pending).
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->PendingRoleRequests());
  std::vector<RoleRequestView> out;
  for (const auto& r : rows) {
    out.push_back({r.request_id, r.operator_id, r.role, r.requested_by, r.requested_at});
  }
  return out;
}

Status OperatorDesk::Nominate(const OperatorView& by, const std::string& id,
                              const std::string& purpose, const std::string& from,
                              const std::string& to) const {
  if (!by.active() || !by.HasRole("security_manager")) {
    return NotPermitted("only a security manager nominates operators");
  }
  if (id == by.row.operator_id) return NotPermitted("nobody nominates themselves");
  const Purpose* p = purposes_->Find(purpose);
  if (p == nullptr) return Status::InvalidArgument("the purpose is not in the catalogue");
  // Only for the prefecture's own use (Purpose::OpenToOperators; Gateway::Authorize checks it
  // again on every read) or the disclosure desk (Purpose::OpenToDisclosureDesk: residents'
  // written requests, served only through registry/disclosure.h): never national forwarding or
  // another body's purpose.
  if (!p->OpenToOperators() && !p->OpenToDisclosureDesk()) {
    return Status::InvalidArgument("the purpose is not open to the prefecture's operators");
  }
  if (!IsIsoDate(from) || !IsIsoDate(to) || to < from) {
    return Status::InvalidArgument("from and to must be dates (YYYY-MM-DD), from <= to");
  }
  // Nominated in advance (事前に指定): not back-dated — neither one that has ended nor one said
  // to have begun before the day it is made (found in review: a nomination from 2019 went into
  // the register, which then claimed a decision years before it was taken).
  const std::string today_iso = clock_->TodayJst().ToIso();
  if (to < today_iso) {
    return Status::InvalidArgument("a nomination that has already ended is not made");
  }
  if (from < today_iso) {
    return Status::InvalidArgument("a nomination begins today or later: it is not back-dated");
  }
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.nominate");
  e.purpose = purpose;
  e.conditions = "operator=" + id + " from=" + from + " to=" + to;
  const std::string conditions = e.conditions;
  const Date today = clock_->TodayJst();
  Status st =
      WriteAs(by, {"security_manager"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
        auto row = txn.FindOperator(id);
        if (!row.ok()) return row.status();
        if (!*row) return Status::NotFound("no such operator");
        // Only an active operator, and one who may read (no auditor: separation of duties).
        if ((*row)->status != "active") {
          return Status::FailedPrecondition("only an active operator is nominated");
        }
        KAKUNIN_ASSIGN_OR_RETURN(held, txn.OperatorRoles(id));
        if (std::find(held.begin(), held.end(), "operator") == held.end()) {
          return Status::FailedPrecondition("only someone holding the operator role is nominated");
        }
        for (const std::string& r : held) {
          if (RolesConflict(r, "operator")) {
            return Status::PermissionDenied("an " + r +
                                            " reads no resident data (separation of duties)")
                .WithReason("separation_of_duties");
          }
        }
        KAKUNIN_ASSIGN_OR_RETURN(listed, txn.WorksUnderContract(id, ""));
        if (listed) {
          return Status::PermissionDenied(
                     "a contractor's worker (委託作業者) reads no resident data (separation of "
                     "duties)")
              .WithReason("separation_of_duties");
        }
        // 研修: an operator reads resident data only after this fiscal year's operator training
        // (the operating rules' 第1 5(2), 研修 each fiscal year), as this transaction sees it.
        if (require_training_) {
          const std::string fy = FiscalYearStart(today).ToIso();
          KAKUNIN_ASSIGN_OR_RETURN(trained,
                                   txn.AttendedTraining(id, "operator", fy, today.ToIso(), by.row.operator_id));
          if (!trained) {
            return Status::FailedPrecondition(
                       "the operator has attended no operator training (操作者研修) in this fiscal "
                       "year (from " +
                       fy +
                       "): record it in the training register first "
                       "(POST /v1/trainings; recorded by another manager than the one "
                       "nominating, and not by the operator)")
                .WithReason("training_required");
          }
        }
        store::NominationRow n;
        n.operator_id = id;
        n.purpose = purpose;
        n.valid_from = from;
        n.valid_to = to;
        n.nominated_by = by.row.operator_id;
        n.nominated_at = clock_->NowMicros();
        return txn.InsertNomination(n);
      });
  if (st.reason() == "training_required") {
    KAKUNIN_RETURN_IF_ERROR(
        RecordRuleRefusal(by, "operator.nominate", conditions, "training_required", purpose));
  }
  return st;
}

Status OperatorDesk::RecordRuleRefusal(const OperatorView& by, const char* action,
                                       const std::string& conditions, const char* reason,
                                       const std::string& purpose) const {
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", action);
  e.purpose = purpose;
  e.conditions = conditions;
  e.outcome = std::string("refused:") + reason;
  return Write(std::move(e), [](store::RegistryTxn&) { return Status::Ok(); });
}

Status OperatorDesk::BindCertificate(const OperatorView& by, const std::string& id,
                                     const std::string& spki_hex) const {
  if (!by.active() || !by.HasRole("access_manager")) {
    return NotPermitted("only an access manager binds IC cards");
  }
  if (id == by.row.operator_id) return NotPermitted("nobody binds a card to themselves");
  // Lower case, as the TLS layer and the client register spell fingerprints.
  std::string spki = spki_hex;
  for (char& c : spki) c = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
  if (!IsLowerHex64(spki)) return Status::InvalidArgument("spki_sha256 must be 64 hex digits");
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.certificate");
  e.conditions = "operator=" + id + " spki=" + spki;
  return WriteAs(by, {"access_manager"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto row = txn.FindOperator(id);
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no such operator");
    auto client = txn.IsClientKey(spki);
    if (!client.ok()) return client.status();
    if (*client) {
      return Status::FailedPrecondition("that key belongs to a system client, not a person");
    }
    store::CredentialRow c;
    c.credential_id = spki;
    c.operator_id = id;
    c.kind = "certificate";
    c.created_at = clock_->NowMicros();
    Status ins = txn.InsertCredential(c);
    if (ins.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("that certificate is bound already");
    }
    return ins;
  });
}

Status OperatorDesk::EndNomination(const OperatorView& by, const std::string& id,
                                   const std::string& purpose) const {
  if (!by.active() || !by.HasRole("security_manager")) {
    return NotPermitted("only a security manager ends nominations");
  }
  if (id == by.row.operator_id) return NotPermitted("nobody ends their own nomination");
  if (purposes_->Find(purpose) == nullptr) {
    return Status::InvalidArgument("the purpose is not in the catalogue");
  }
  audit::AuditEntry e =
      Entry("operator:" + by.row.operator_id, "console", "operator.nomination.end");
  e.purpose = purpose;
  e.conditions = "operator=" + id;
  const std::string today = clock_->TodayJst().ToIso();
  return WriteAs(by, {"security_manager"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
    if (!row) return Status::NotFound("no such operator");
    KAKUNIN_ASSIGN_OR_RETURN(
        ended, txn.EndNominations(id, purpose, today, by.row.operator_id, clock_->NowMicros()));
    if (ended == 0) {
      return Status::NotFound("the operator has no running or coming nomination for the purpose");
    }
    return Status::Ok();
  });
}

Status OperatorDesk::WithdrawRole(const OperatorView& by, const std::string& id,
                                  const std::string& role) const {
  if (!by.active() || !by.HasRole("security_chief")) {
    return NotPermitted("only a security chief withdraws roles");
  }
  if (id == by.row.operator_id) return NotPermitted("nobody withdraws their own role");
  if (!IsRole(role)) return Status::InvalidArgument("no such role");
  audit::AuditEntry e =
      Entry("operator:" + by.row.operator_id, "console", "operator.role.withdraw");
  e.conditions = "operator=" + id + " role=" + role;
  return WriteAs(by, {"security_chief"}, std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
    if (!row) return Status::NotFound("no such operator");
    KAKUNIN_ASSIGN_OR_RETURN(done,
                             txn.WithdrawRole(id, role, by.row.operator_id, clock_->NowMicros()));
    if (!done) return Status::NotFound("the operator does not hold the role");
    // Nominations are made for the operator role: they end with it.
    if (role == "operator") {
      KAKUNIN_RETURN_IF_ERROR(EndEveryNomination(txn, id, by.row.operator_id,
                                                 clock_->TodayJst().ToIso(), clock_->NowMicros())
                                  .status());
    }
    // The two roles nobody can be given back without: a security chief approves every grant,
    // an access manager creates accounts and requests roles (found in review: a chief could
    // withdraw every access manager's role, and then nothing could undo it).
    if ((role == "security_chief" || role == "access_manager") && row->status == "active") {
      // Counted in this transaction, after the withdrawal: two at once cannot both pass.
      KAKUNIN_ASSIGN_OR_RETURN(left, txn.CountActiveWithRole(role));
      if (left < 1) {
        return Status::FailedPrecondition("the last active " + role +
                                          " keeps the role: make a second one first");
      }
    }
    return Status::Ok();
  });
}

namespace {

// How a credential is named on the console: an IC card by its SPKI SHA-256 (hex, as stored), a
// WebAuthn credential by its id in base64url.
std::string CredentialName(const store::CredentialRow& c) {
  return c.kind == "certificate" ? c.credential_id : auth::Base64UrlEncode(c.credential_id);
}

}  // namespace

Result<std::vector<CredentialView>> OperatorDesk::ListCredentials(
    const OperatorView& by, const std::string& id, const std::string& terminal) const {
  if (!by.active() || !by.HasAnyRole(kAccountRegisterReaders)) {
    return NotPermitted("only access managers, security chiefs and auditors read credentials");
  }
  std::vector<CredentialView> out;
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, terminal, "operator.credentials");
  e.conditions = "operator=" + id;
  KAKUNIN_RETURN_IF_ERROR(WriteAs(
      by, kAccountRegisterReaders, std::move(e),
      [&](store::RegistryTxn& txn) -> Status {
        KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
        if (!row) return Status::NotFound("no such operator");
        KAKUNIN_ASSIGN_OR_RETURN(creds, txn.Credentials(id));
        for (const auto& c : creds) {
          out.push_back({c.kind, CredentialName(c), c.created_at, c.revoked_at, c.revoked_by,
                         c.confirmed_at});
        }
        return Status::Ok();
      }));
  return out;
}

Status OperatorDesk::RevokeCredential(const OperatorView& by, const std::string& id,
                                      const std::string& name) const {
  // An access manager (who binds cards), since a security chief issues the new enrolment link
  // and one person doing both could take an account over (found in review); a security chief
  // only when no other access manager can — the only access manager's lost card would
  // otherwise stay valid, and nobody could administer accounts again.
  const bool as_chief = !by.HasRole("access_manager");
  if (!by.active() || (as_chief && !by.HasRole("security_chief"))) {
    return NotPermitted("only an access manager revokes credentials");
  }
  if (id == by.row.operator_id) return NotPermitted("nobody revokes their own credential");
  // An IC card by its SPKI SHA-256 (hex), else a WebAuthn credential id in base64url.
  std::string lower = name;
  for (char& c : lower) c = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
  std::optional<std::string> raw;
  if (IsLowerHex64(lower)) {
    raw = lower;
  } else if (!name.empty() && name.size() <= 1400) {
    raw = auth::Base64UrlDecode(name);
  }
  if (!raw || raw->empty()) {
    return Status::InvalidArgument(
        "credential_id must be an IC card's spki_sha256 (64 hex digits) or a WebAuthn credential "
        "id (base64url)");
  }
  audit::AuditEntry e =
      Entry("operator:" + by.row.operator_id, "console", "operator.credential.revoke");
  e.conditions = "operator=" + id;
  return WriteAs(by, {as_chief ? "security_chief" : "access_manager"}, std::move(e),
                 [&](store::RegistryTxn& txn) -> Status {
                   if (as_chief) {
                     KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
                     KAKUNIN_ASSIGN_OR_RETURN(roles, txn.OperatorRoles(id));
                     const bool target_is_one =
                         row && row->status == "active" &&
                         std::find(roles.begin(), roles.end(), "access_manager") != roles.end();
                     KAKUNIN_ASSIGN_OR_RETURN(managers, txn.CountActiveWithRole("access_manager"));
                     if (managers - (target_is_one ? 1 : 0) > 0) {
                       return NotPermitted(
                           "an access manager revokes credentials; a security chief only when "
                           "no other access manager can");
                     }
                   }
                   KAKUNIN_ASSIGN_OR_RETURN(cred, txn.FindCredential(*raw));
                   if (!cred || cred->operator_id != id) {
                     return Status::NotFound("the operator has no such card or authenticator");
                   }
                   KAKUNIN_ASSIGN_OR_RETURN(
                       done, txn.RevokeCredential(*raw, by.row.operator_id, clock_->NowMicros()));
                   if (!done)
                     return Status::FailedPrecondition("the credential is revoked already");
                   return Status::Ok();
                 });
}

Result<std::vector<OperatorView>> OperatorDesk::List(const OperatorView& by,
                                                     const std::string& terminal) const {
  if (!by.active() || !(by.HasRole("access_manager") || by.HasRole("security_manager") ||
                        by.HasRole("security_chief") || by.HasRole("auditor"))) {
    return NotPermitted("only managers, chiefs and auditors read the operator register");
  }
  auto reader = store_->OpenReader();
  if (!reader.ok()) return reader.status();
  auto rows = (*reader)->ListOperators();
  if (!rows.ok()) return rows.status();
  std::vector<OperatorView> out;
  out.reserve(rows->size());
  for (auto& row : *rows) {
    OperatorView v;
    auto roles = (*reader)->OperatorRoles(row.operator_id);
    if (!roles.ok()) return roles.status();
    v.roles = std::move(*roles);
    // The 操作者一覧表 shows for which 事務 each operator is nominated, and when (found in the
    // compliance review: only the operator's own session showed their nominations).
    auto nominations = (*reader)->Nominations(row.operator_id);
    if (!nominations.ok()) return nominations.status();
    v.nominations = std::move(*nominations);
    v.row = std::move(row);
    v.row.password_hash.clear();  // never leaves the desk
    out.push_back(std::move(v));
  }
  // A read that cannot be recorded is not answered (DESIGN §5).
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, terminal, "operator.list");
  e.conditions = "count=" + std::to_string(out.size());
  KAKUNIN_RETURN_IF_ERROR(
      WriteAs(by, {"access_manager", "security_manager", "security_chief", "auditor"}, std::move(e),
              [](store::RegistryTxn&) { return Status::Ok(); }));
  return out;
}

Result<std::string> OperatorDesk::EnrolmentOperator(store::RegistryReader& reader,
                                                    const std::string& token) const {
  auto e = reader.FindEnrolment(TokenHash(token));
  if (!e.ok()) return e.status();
  if (!*e || (*e)->used_at != 0 || (*e)->expires_at < clock_->NowMicros()) {
    return Status::NotFound("the enrolment link is unknown, used or expired");
  }
  return (*e)->operator_id;
}

Result<OperatorView> OperatorDesk::EnrolmentFor(const std::string& token) const {
  auto reader = store_->OpenReader();
  if (!reader.ok()) return reader.status();
  auto id = EnrolmentOperator(**reader, token);
  if (!id.ok()) return id.status();
  auto op = Load(**reader, *id);
  if (!op.ok()) return op.status();
  if (!*op || !(*op)->active()) {
    return Status::NotFound("the enrolment link is unknown, used or expired");
  }
  (*op)->row.password_hash.clear();
  return std::move(**op);
}

Status OperatorDesk::FinishEnrolment(const std::string& token, const std::string& password_hash,
                                     const auth::StoredCredential& credential) const {
  const std::string hash = TokenHash(token);
  const Status gone = Status::NotFound("the enrolment link is unknown, used or expired");
  // The entry names the operator the token belongs to, read first; the transaction checks again.
  std::string id;
  {
    auto reader = store_->OpenReader();
    if (!reader.ok()) return reader.status();
    auto found = EnrolmentOperator(**reader, token);
    if (!found.ok()) return found.status();
    id = *found;
  }
  audit::AuditEntry e = Entry("operator:" + id, "console", "operator.enrol");
  return Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto row = txn.FindEnrolment(hash);
    if (!row.ok()) return row.status();
    if (!*row || (*row)->operator_id != id || (*row)->expires_at < clock_->NowMicros()) return gone;
    auto used = txn.UseEnrolment(hash, clock_->NowMicros());
    if (!used.ok()) return used.status();
    if (!*used) return gone;
    KAKUNIN_RETURN_IF_ERROR(txn.SetOperatorPassword(id, password_hash));
    store::CredentialRow c;
    c.credential_id = credential.credential_id;
    c.operator_id = id;
    c.kind = "webauthn";
    c.alg = credential.alg;
    c.public_key = credential.public_key;
    c.sign_count = credential.sign_count;
    c.created_at = clock_->NowMicros();
    c.confirmed_at = c.created_at;  // made by its holder, with the one-time link
    return txn.InsertCredential(c);
  });
}

Result<std::optional<int64_t>> OperatorDesk::ClaimAttempt(const std::string& id) const {
  const int64_t now = clock_->NowMicros();
  std::optional<int64_t> attempt;
  KAKUNIN_RETURN_IF_ERROR(WriteTxn([&](store::RegistryTxn& txn) -> Status {
    auto taken = txn.ClaimLoginAttempt(id, now, kMaxFailedLogins, now + kLockout);
    if (!taken.ok()) return taken.status();
    attempt = *taken;
    return Status::Ok();
  }));
  return attempt;
}

Result<OperatorView> OperatorDesk::CheckPassword(const std::string& id, const std::string& password,
                                                 const std::string& terminal) const {
  const Status unknown =
      Status(StatusCode::kNotFound, "login failed: unknown operator").WithReason("login_failed");
  std::optional<OperatorView> op;
  if (IsValidOperatorId(id)) {
    auto found = Find(id);
    if (!found.ok()) return found.status();
    op = std::move(*found);
  }
  if (!op) {
    // The same argon2id work whether or not the operator exists; nothing recorded here.
    (void)auth::VerifyPassword(auth::DummyPasswordHash(), password);
    return unknown;
  }
  // Take an attempt first, in one atomic step: concurrent guesses each take their own, so no
  // more than kMaxFailedLogins checks run before the lock, however many arrive at once. An
  // account the row loaded says is locked takes no write at all.
  std::optional<int64_t> attempt;
  if (op->row.locked_until <= clock_->NowMicros()) {
    KAKUNIN_ASSIGN_OR_RETURN(claimed, ClaimAttempt(id));
    attempt = claimed;
  }
  if (!attempt) {
    // The same argon2id work as any other answer (a locked account is not told apart by its
    // delay), and recorded as a sample: the first refusal in a minute is an entry, the others
    // are counted into the next one (WriteHeldLoginRefusals), so that whoever can reach the
    // console cannot grow the 7-year log by naming a known account (found in review).
    (void)auth::VerifyPassword(auth::DummyPasswordHash(), password);
    // By account and terminal (the console names the source address there), so that each entry
    // says where the attempts it stands for came from (found in review: keyed by account alone,
    // one address's entry carried every other address's count).
    if (auto counts = locked_sampler_.Note(id + "\n" + terminal, "locked")) {
      audit::AuditEntry e = Entry("operator:" + id, terminal, "session.login");
      auth::RefusalSampler::AppendCounts(*counts, &e.conditions);
      e.outcome = "refused:locked";
      KAKUNIN_RETURN_IF_ERROR(Write(std::move(e), [](store::RegistryTxn&) { return Status::Ok(); }));
    }
    return LoginFailed("locked");
  }
  const bool enrolled = !op->row.password_hash.empty();
  const bool match = auth::VerifyPassword(
      enrolled ? op->row.password_hash : auth::DummyPasswordHash(), password);
  const bool passed = match && enrolled && op->active();
  const char* refused = !op->active() ? "not_active"
                        : !enrolled   ? "not_enrolled"
                        : !match      ? "bad_password"
                                      : "";
  bool ok = false;
  const char* why = refused;
  KAKUNIN_RETURN_IF_ERROR(WriteTxn([&](store::RegistryTxn& txn) -> Status {
    ok = passed;
    why = refused;
    if (ok) {
      // A contractor's worker whose contract has ended (docs/operators.md "Registers"), as this
      // transaction sees the contractor register.
      Status contract = CheckContract(txn, id, clock_->TodayJst());
      if (contract.reason() == "contract_required") {
        ok = false;
        why = "contract_required";
      } else {
        KAKUNIN_RETURN_IF_ERROR(contract);
      }
    }
    audit::AuditEntry e = Entry("operator:" + id, terminal, "session.login");
    e.outcome = ok ? "password_ok" : std::string("refused:") + why;
    // A failure was counted when its attempt was taken; a success gives every attempt back.
    if (ok) KAKUNIN_RETURN_IF_ERROR(txn.SetLoginState(id, 0, 0));
    return log_->Append(txn, e).status();
  }));
  if (!ok) return LoginFailed(why);
  op->password_mark = PasswordMark(op->row.password_hash);
  op->row.password_hash.clear();
  return std::move(*op);
}

Status OperatorDesk::ChangePassword(const std::string& id, const std::string& current,
                                    const std::string& next, const std::string& terminal,
                                    const std::string& session_credential) const {
  auto found = Find(id);
  if (!found.ok()) return found.status();
  const std::string checked = *found ? (*found)->row.password_hash : std::string();
  // Recorded, with nothing changed: `why` refused.
  auto refuse = [&](const char* why) -> Status {
    KAKUNIN_RETURN_IF_ERROR(WriteTxn([&](store::RegistryTxn& txn) -> Status {
      audit::AuditEntry e = Entry("operator:" + id, terminal, "operator.password.change");
      e.outcome = std::string("refused:") + why;
      return log_->Append(txn, e).status();
    }));
    return LoginFailed(why);
  };
  if (!*found || !(*found)->active() || checked.empty()) return refuse("not_active");
  // An attempt first, as at sign-in; a locked account costs no argon2 here (the caller holds a
  // session: whether the account exists is no secret to them).
  KAKUNIN_ASSIGN_OR_RETURN(attempt, ClaimAttempt(id));
  if (!attempt) return refuse("locked");
  if (!auth::VerifyPassword(checked, current)) return refuse("bad_password");
  // The current password matched: whatever fails from here on (the hash, the write), its attempt
  // is given back, not left counted as a failure, and the attempt is recorded as not done — in
  // one transaction, which may fail too when the store does (the caller answers 503 either way).
  auto give_back = [&] {
    (void)WriteTxn([&](store::RegistryTxn& txn) -> Status {
      KAKUNIN_RETURN_IF_ERROR(txn.SetLoginState(id, 0, 0));
      audit::AuditEntry e = Entry("operator:" + id, terminal, "operator.password.change");
      e.outcome = "refused:unavailable";
      return log_->Append(txn, e).status();
    });
  };
  // Only now the new password's hash: a wrong current password costs one argon2 run, not two.
  auto hash = auth::HashPassword(next);
  if (!hash.ok()) {
    give_back();
    return hash.status();
  }
  bool changed_meanwhile = false;
  bool revoked_meanwhile = false;
  Status written = WriteTxn([&](store::RegistryTxn& txn) -> Status {
    auto row = txn.FindOperator(id);
    if (!row.ok()) return row.status();
    changed_meanwhile = !*row || (*row)->password_hash != checked;
    // The session's authenticator or card, revoked while the request was on its way (found in
    // review: the other management writes checked it here, this one did not).
    OperatorView session;
    session.row.operator_id = id;
    session.session_credential = session_credential;
    Status stands = CheckSessionStands(txn, session);
    if (stands.reason() != "credential_revoked") KAKUNIN_RETURN_IF_ERROR(stands);
    revoked_meanwhile = !stands.ok();
    audit::AuditEntry e = Entry("operator:" + id, terminal, "operator.password.change");
    e.outcome = revoked_meanwhile   ? "refused:credential_revoked"
                : changed_meanwhile ? "refused:changed_meanwhile"
                                    : "changed";
    if (!changed_meanwhile && !revoked_meanwhile) {
      KAKUNIN_RETURN_IF_ERROR(txn.SetOperatorPassword(id, *hash));
      // A failure was counted when its attempt was taken; a success gives every attempt back.
      KAKUNIN_RETURN_IF_ERROR(txn.SetLoginState(id, 0, 0));
    }
    return log_->Append(txn, e).status();
  });
  if (!written.ok()) {
    give_back();
    return written;
  }
  if (revoked_meanwhile) {
    return Status::PermissionDenied("the session's card or authenticator was revoked")
        .WithReason("credential_revoked");
  }
  if (changed_meanwhile) return LoginFailed("changed_meanwhile");
  return Status::Ok();
}

Result<std::vector<std::string>> OperatorDesk::WebAuthnCredentials(const std::string& id) const {
  auto reader = store_->OpenReader();
  if (!reader.ok()) return reader.status();
  auto creds = (*reader)->Credentials(id);
  if (!creds.ok()) return creds.status();
  std::vector<std::string> out;
  for (const auto& c : *creds) {
    if (c.kind == "webauthn" && c.revoked_at == 0) out.push_back(c.credential_id);
  }
  return out;
}

Status OperatorDesk::VerifyWebAuthn(const std::string& id, const auth::RelyingParty& rp,
                                    const std::string& challenge, const std::string& credential_id,
                                    const std::string& client_data,
                                    const std::string& authenticator_data,
                                    const std::string& signature,
                                    const std::string& terminal) const {
  std::string why = "webauthn: no pending challenge";
  if (!challenge.empty()) {
    auto reader = store_->OpenReader();
    if (!reader.ok()) return reader.status();
    auto cred = (*reader)->FindCredential(credential_id);
    if (!cred.ok()) return cred.status();
    why = "webauthn: unknown credential";
    if (*cred && (*cred)->kind == "webauthn" && (*cred)->operator_id == id &&
        (*cred)->revoked_at != 0) {
      why = "webauthn: revoked credential";
    } else if (*cred && (*cred)->kind == "webauthn" && (*cred)->operator_id == id) {
      auth::StoredCredential stored;
      stored.credential_id = (*cred)->credential_id;
      stored.alg = static_cast<int>((*cred)->alg);
      stored.public_key = (*cred)->public_key;
      stored.sign_count = static_cast<uint32_t>((*cred)->sign_count);
      auto count =
          auth::VerifyAssertion(rp, challenge, stored, client_data, authenticator_data, signature);
      if (count.ok()) {
        audit::AuditEntry e = Entry("operator:" + id, terminal, "session.second_factor");
        e.outcome = "done:webauthn";
        const Status regressed =
            Status::PermissionDenied("webauthn: sign counter did not increase");
        Status st = Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
          // Unlocking too: not for a contractor's worker whose contract has ended.
          Status contract = CheckContract(txn, id, clock_->TodayJst());
          if (contract.reason() == "contract_required") {
            return Status::PermissionDenied("contract_required");
          }
          KAKUNIN_RETURN_IF_ERROR(contract);
          // Compare-and-set: a parallel login that stored a newer count wins, this one fails; a
          // credential revoked meanwhile moves no count (kAdvanceSignCount) and fails too.
          auto moved = txn.AdvanceSignCount(stored.credential_id, int64_t{*count});
          if (!moved.ok()) return moved.status();
          return *moved ? Status::Ok() : regressed;
        });
        if (st.ok()) return Status::Ok();
        if (st.code() != StatusCode::kPermissionDenied) return st;
        why = st.message();
      } else {
        why = count.status().message();
      }
    }
  }
  KAKUNIN_RETURN_IF_ERROR(RecordRefusal(id, "session.second_factor", why, terminal));
  return Status::PermissionDenied(why).WithReason("login_failed");
}

Status OperatorDesk::CardPassed(const std::string& id, const std::string& spki,
                                const std::string& terminal) const {
  const Status not_theirs = Status::PermissionDenied("no IC card of this operator");
  if (!IsLowerHex64(spki)) return not_theirs;
  auto reader = store_->OpenReader();
  if (!reader.ok()) return reader.status();
  auto card = (*reader)->FindCredential(spki);
  if (!card.ok()) return card.status();
  if (!*card || (*card)->kind != "certificate") return not_theirs;
  if ((*card)->operator_id != id) {
    // Someone holding this operator's password presents another operator's card: worth a line
    // in the log (found in review: it left none).
    KAKUNIN_RETURN_IF_ERROR(
        RecordRefusal(id, "session.second_factor", "ic_card_of_another_operator", terminal));
    return not_theirs;
  }
  if ((*card)->revoked_at != 0) {
    // A lost card that turns up in someone's reader: worth a line in the log.
    KAKUNIN_RETURN_IF_ERROR(
        RecordRefusal(id, "session.second_factor", "ic_card_revoked", terminal));
    return not_theirs;
  }
  if ((*card)->confirmed_at == 0) {
    // Bound by an access manager, never confirmed by its holder: no second factor yet (else
    // whoever bound it, holding the card and the password, would be the operator).
    KAKUNIN_RETURN_IF_ERROR(
        RecordRefusal(id, "session.second_factor", "ic_card_unconfirmed", terminal));
    return not_theirs;
  }
  // Bound before the client register was checked at binding: still never a second factor.
  auto client = (*reader)->FindClient(spki);
  if (!client.ok()) return client.status();
  if (*client) {
    KAKUNIN_RETURN_IF_ERROR(
        RecordRefusal(id, "session.second_factor", "ic_card_is_a_client_key", terminal));
    return not_theirs;
  }
  audit::AuditEntry e = Entry("operator:" + id, terminal, "session.second_factor");
  e.outcome = "done:ic_card";
  // Not for a contractor's worker whose contract has ended, like the password step.
  Status st = Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    // Revoked between the read above and this transaction: refused all the same, and recorded
    // as the earlier check records it (found in review: this one left no entry).
    KAKUNIN_ASSIGN_OR_RETURN(now, txn.FindCredential(spki));
    if (!now || now->revoked_at != 0) {
      return Status::PermissionDenied("no IC card of this operator").WithReason("ic_card_revoked");
    }
    return CheckContract(txn, id, clock_->TodayJst());
  });
  if (st.reason() == "contract_required" || st.reason() == "ic_card_revoked") {
    KAKUNIN_RETURN_IF_ERROR(
        RecordRefusal(id, "session.second_factor", std::string(st.reason()), terminal));
  }
  if (st.reason() == "ic_card_revoked") return not_theirs;
  return st;
}

Status OperatorDesk::ConfirmCard(const std::string& id, const std::string& spki,
                                 const std::string& terminal) const {
  const Status refused =
      Status::FailedPrecondition("no IC card of this operator waits for confirmation")
          .WithReason("ic_card_not_pending");
  audit::AuditEntry e = Entry("operator:" + id, terminal, "operator.certificate.confirm");
  e.conditions = "spki=" + (IsLowerHex64(spki) ? spki : std::string("(none)"));
  Status st = IsLowerHex64(spki) ? Status::Ok() : refused;
  if (st.ok()) {
    st = Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
      KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
      if (!row || row->status != "active") {
        return Status::PermissionDenied("the operator is not active").WithReason("not_active");
      }
      KAKUNIN_ASSIGN_OR_RETURN(client, txn.IsClientKey(spki));
      if (client) return refused;
      KAKUNIN_ASSIGN_OR_RETURN(done, txn.ConfirmCredential(spki, id, clock_->NowMicros()));
      return done ? Status::Ok() : refused;
    });
  }
  if (st.reason() == "ic_card_not_pending") {
    KAKUNIN_RETURN_IF_ERROR(
        RecordRefusal(id, "operator.certificate.confirm", "ic_card_not_pending", terminal));
  }
  return st;
}

Status OperatorDesk::RecordRefusal(const std::string& id, const char* action,
                                   const std::string& why, const std::string& terminal) const {
  audit::AuditEntry e =
      Entry(id.empty() ? "console:(no session)" : "operator:" + id, terminal, action);
  e.outcome = "refused:" + why;
  return Write(std::move(e), [](store::RegistryTxn&) { return Status::Ok(); });
}

Status OperatorDesk::RecordSession(const std::string& id, const char* action,
                                   const std::string& terminal) const {
  audit::AuditEntry e = Entry("operator:" + id, terminal, action);
  e.outcome = "done";
  return Write(std::move(e), [](store::RegistryTxn&) { return Status::Ok(); });
}

Status OperatorDesk::WriteHeldLoginRefusals(bool everything) const {
  for (auto& [key, counts] : locked_sampler_.TakeHeld(everything)) {
    const size_t nl = key.find('\n');
    const std::string id = nl == std::string::npos ? std::string() : key.substr(0, nl);
    const std::string terminal = nl == std::string::npos ? "console" : key.substr(nl + 1);
    audit::AuditEntry e = Entry("operator:" + (id.empty() ? std::string("(several)") : id),
                                terminal, "session.login");
    auth::RefusalSampler::AppendCounts(counts, &e.conditions, /*even_one=*/true);
    e.outcome = "refused:sampled";
    KAKUNIN_RETURN_IF_ERROR(Write(std::move(e), [](store::RegistryTxn&) { return Status::Ok(); }));
  }
  return Status::Ok();
}

Status OperatorDesk::RecordAnonymousRefusals(const std::map<std::string, int64_t>& counts,
                                             const std::string& terminal) const {
  int64_t total = 0;
  std::string by_reason;
  for (const auto& [reason, n] : counts) {
    total += n;
    by_reason += " " + reason + "=" + std::to_string(n);
  }
  audit::AuditEntry e = Entry("console:(anonymous)", terminal, "console.refused");
  e.conditions = "count=" + std::to_string(total) + by_reason;
  e.outcome = "refused:sampled";
  return Write(std::move(e), [](store::RegistryTxn&) { return Status::Ok(); });
}

}  // namespace kakunin::registry
