#include "registry/operators.h"

#include <algorithm>

#include "auth/password.h"
#include "auth/sessions.h"
#include "core/bytes.h"
#include "core/date.h"
#include "crypto/sha256.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

constexpr int64_t kSecond = 1000000;
constexpr int64_t kEnrolmentLifetime = 24 * 3600 * kSecond;
constexpr int kMaxFailures = 5;
constexpr int64_t kLockout = 15 * 60 * kSecond;

Status NotPermitted(const char* why) {
  return Status::PermissionDenied(why).WithReason("not_permitted");
}

bool IsPlainText(std::string_view s, size_t max) {
  return !s.empty() && s.size() <= max && text::CheckText(s) == text::TextCheck::kOk;
}

std::string TokenHash(const std::string& token) { return crypto::Sha256(token); }

audit::AuditEntry Entry(const std::string& actor, const std::string& terminal,
                        const char* action) {
  audit::AuditEntry e;
  e.actor = actor;
  e.terminal = terminal;
  e.action = action;
  e.outcome = "done";
  return e;
}

bool IsIsoDate(const std::string& s) { return ParseIsoDate(s).date.has_value(); }

}  // namespace

bool IsRole(std::string_view role) {
  return std::find(std::begin(kRoles), std::end(kRoles), role) != std::end(kRoles);
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

bool OperatorView::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool OperatorView::NominatedFor(std::string_view purpose, const std::string& today) const {
  for (const auto& n : nominations) {
    if (n.purpose == purpose && n.valid_from <= today && today <= n.valid_to) return true;
  }
  return false;
}

OperatorDesk::OperatorDesk(store::RegistryStore* store, const audit::AuditLog* log,
                           const Clock* clock, const PurposeCatalogue* purposes)
    : store_(store), log_(log), clock_(clock), purposes_(purposes) {}

Status OperatorDesk::Write(audit::AuditEntry entry,
                           const std::function<Status(store::RegistryTxn&)>& change) const {
  return store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(change(txn));
    return log_->Append(txn, std::move(entry)).status();
  });
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

Result<Enrolled> OperatorDesk::NewEnrolment(store::RegistryTxn& txn, const std::string& id) const {
  Enrolled e{id, auth::RandomToken()};
  store::EnrolmentRow row;
  row.token_hash = TokenHash(e.token);
  row.operator_id = id;
  row.expires_at = clock_->NowMicros() + kEnrolmentLifetime;
  KAKUNIN_RETURN_IF_ERROR(txn.InsertEnrolment(row));
  return e;
}

Result<std::vector<Enrolled>> OperatorDesk::Bootstrap(const std::string& chief_id,
                                                      const std::string& chief_name,
                                                      const std::string& access_id,
                                                      const std::string& access_name,
                                                      const std::string& actor) const {
  if (!IsValidOperatorId(chief_id) || !IsValidOperatorId(access_id) || chief_id == access_id) {
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
      auto enrolled = NewEnrolment(txn, id);
      if (!enrolled.ok()) return enrolled.status();
      out.push_back(*enrolled);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<Enrolled> OperatorDesk::Create(const OperatorView& by, const std::string& id,
                                      const std::string& name, const std::string& unit) const {
  if (!by.active() || !by.HasRole("access_manager")) {
    return NotPermitted("only an access manager creates operators");
  }
  if (!IsValidOperatorId(id)) return Status::InvalidArgument("operator_id must be [a-z0-9._-]");
  if (!IsPlainText(name, 200)) return Status::InvalidArgument("name is required");
  if (!unit.empty() && !IsPlainText(unit, 200)) return Status::InvalidArgument("unit is text");
  Enrolled out;
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.create");
  e.conditions = "operator=" + id;
  Status st = Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
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
    KAKUNIN_RETURN_IF_ERROR(ins);
    auto enrolled = NewEnrolment(txn, id);
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
  return Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto row = txn.FindOperator(id);
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no such operator");
    if ((*row)->status == "retired") return Status::FailedPrecondition("a retired operator stays so");
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
  Status st = Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
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
  return Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto req = txn.FindRoleRequest(request_id);
    if (!req.ok()) return req.status();
    if (!*req) return Status::NotFound("no such role request");
    if ((*req)->requested_by == by.row.operator_id || (*req)->operator_id == by.row.operator_id) {
      return NotPermitted("nobody approves their own request or a role for themselves");
    }
    auto fresh = txn.ApproveRoleRequest(request_id, by.row.operator_id, clock_->NowMicros());
    if (!fresh.ok()) return fresh.status();
    if (!*fresh) return Status::FailedPrecondition("the request was already approved");
    return txn.InsertRole((*req)->operator_id, (*req)->role, clock_->NowMicros(),
                          by.row.operator_id);
  });
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
  // Only for the prefecture's own use: never national forwarding, another body's purpose or
  // disclosure (Purpose::OpenToOperators; Gateway::Authorize checks it again on every read).
  if (!p->OpenToOperators()) {
    return Status::InvalidArgument("the purpose is not open to the prefecture's operators");
  }
  if (!IsIsoDate(from) || !IsIsoDate(to) || to < from) {
    return Status::InvalidArgument("from and to must be dates (YYYY-MM-DD), from <= to");
  }
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.nominate");
  e.purpose = purpose;
  e.conditions = "operator=" + id + " from=" + from + " to=" + to;
  return Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto row = txn.FindOperator(id);
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no such operator");
    store::NominationRow n;
    n.operator_id = id;
    n.purpose = purpose;
    n.valid_from = from;
    n.valid_to = to;
    n.nominated_by = by.row.operator_id;
    n.nominated_at = clock_->NowMicros();
    return txn.InsertNomination(n);
  });
}

Status OperatorDesk::BindCertificate(const OperatorView& by, const std::string& id,
                                     const std::string& spki) const {
  if (!by.active() || !by.HasRole("access_manager")) {
    return NotPermitted("only an access manager binds IC cards");
  }
  if (id == by.row.operator_id) return NotPermitted("nobody binds a card to themselves");
  if (spki.size() != 64 || !HexDecode(spki)) {
    return Status::InvalidArgument("spki_sha256 must be 64 hex digits");
  }
  audit::AuditEntry e = Entry("operator:" + by.row.operator_id, "console", "operator.certificate");
  e.conditions = "operator=" + id + " spki=" + spki;
  return Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto row = txn.FindOperator(id);
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no such operator");
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

Result<std::string> OperatorDesk::EnrolmentOperator(store::RegistryReader& reader,
                                                    const std::string& token) const {
  auto e = reader.FindEnrolment(TokenHash(token));
  if (!e.ok()) return e.status();
  if (!*e || (*e)->used_at != 0 || (*e)->expires_at < clock_->NowMicros()) {
    return Status::NotFound("the enrolment link is unknown, used or expired");
  }
  return (*e)->operator_id;
}

Status OperatorDesk::FinishEnrolment(const std::string& token, const std::string& password_hash,
                                     const store::CredentialRow& credential) const {
  audit::AuditEntry e = Entry("operator:" + credential.operator_id, "console", "operator.enrol");
  return Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    const std::string hash = TokenHash(token);
    auto row = txn.FindEnrolment(hash);
    if (!row.ok()) return row.status();
    if (!*row || (*row)->operator_id != credential.operator_id ||
        (*row)->expires_at < clock_->NowMicros()) {
      return Status::NotFound("the enrolment link is unknown, used or expired");
    }
    auto used = txn.UseEnrolment(hash, clock_->NowMicros());
    if (!used.ok()) return used.status();
    if (!*used) return Status::NotFound("the enrolment link is unknown, used or expired");
    KAKUNIN_RETURN_IF_ERROR(txn.SetOperatorPassword(credential.operator_id, password_hash));
    return txn.InsertCredential(credential);
  });
}

Result<OperatorView> OperatorDesk::CheckPassword(const std::string& id,
                                                 const std::string& password,
                                                 const std::string& terminal) const {
  const Status failed =
      Status(StatusCode::kUnauthenticated, "login failed").WithReason("login_failed");
  auto reader = store_->OpenReader();
  if (!reader.ok()) return reader.status();
  std::optional<OperatorView> op;
  if (IsValidOperatorId(id)) {
    auto loaded = Load(**reader, id);
    if (!loaded.ok()) return loaded.status();
    op = std::move(*loaded);
  }
  // The same argon2id work whether or not the operator exists.
  const bool match = auth::VerifyPassword(
      op && !op->row.password_hash.empty() ? op->row.password_hash : auth::DummyPasswordHash(),
      password);
  const int64_t now = clock_->NowMicros();
  if (!op) {
    audit::AuditEntry e = Entry("login:(unknown)", terminal, "session.login");
    e.outcome = "refused:login_failed";
    KAKUNIN_RETURN_IF_ERROR(Write(std::move(e), [](store::RegistryTxn&) { return Status::Ok(); }));
    return failed;
  }
  const bool locked = op->row.locked_until > now;
  const bool ok = match && !locked && op->active() && !op->row.password_hash.empty();
  audit::AuditEntry e = Entry("operator:" + id, terminal, "session.login");
  if (!ok) {
    e.outcome = std::string("refused:") +
                (locked ? "locked" : !op->active() ? op->row.status : "bad_password");
  } else {
    e.outcome = "password_ok";
  }
  KAKUNIN_RETURN_IF_ERROR(Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    if (ok) return txn.SetLoginState(id, 0, 0);
    if (locked || match) return Status::Ok();  // a locked account's counter does not run on
    const int64_t failures = op->row.failed_logins + 1;
    return txn.SetLoginState(id, failures >= kMaxFailures ? 0 : failures,
                             failures >= kMaxFailures ? now + kLockout : 0);
  }));
  if (!ok) return failed;
  return std::move(*op);
}

Status OperatorDesk::SecondFactorPassed(const std::string& id, const std::string& credential_id,
                                        std::optional<int64_t> sign_count,
                                        const std::string& terminal) const {
  audit::AuditEntry e = Entry("operator:" + id, terminal, "session.second_factor");
  e.outcome = sign_count ? "done:webauthn" : "done:ic_card";
  return Write(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    if (sign_count) return txn.SetSignCount(credential_id, *sign_count);
    return Status::Ok();
  });
}

Status OperatorDesk::RecordRefusal(const std::string& id, const char* action,
                                   const std::string& why, const std::string& terminal) const {
  audit::AuditEntry e = Entry(id.empty() ? "console:(no session)" : "operator:" + id, terminal,
                              action);
  e.outcome = "refused:" + why;
  return Write(std::move(e), [](store::RegistryTxn&) { return Status::Ok(); });
}

}  // namespace kakunin::registry
