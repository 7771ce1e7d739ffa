// The operator register on PostgreSQL (store/operator_store.h).

#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

Result<std::optional<OperatorRow>> QueryOperator(Conn* db, const std::string& id) {
  return QueryOne<OperatorRow>(db, kFindOperator, Params().Text(id), ReadOperator);
}

Result<std::vector<std::string>> QueryRoles(Conn* db, const std::string& id) {
  return QueryAll<std::string>(db, kOperatorRoles, Params().Text(id),
                               [](const Rows& s, int i) { return s.Text(i, 0); });
}

Result<std::vector<NominationRow>> QueryNominations(Conn* db, const std::string& id) {
  return QueryAll<NominationRow>(db, kNominationsOf, Params().Text(id), [](const Rows& s, int i) {
    NominationRow n;
    n.operator_id = s.Text(i, 0);
    n.purpose = s.Text(i, 1);
    n.valid_from = s.Text(i, 2);
    n.valid_to = s.Text(i, 3);
    n.nominated_by = s.Text(i, 4);
    n.nominated_at = s.Int(i, 5);
    n.ended_at = s.Int(i, 6);
    n.ended_by = s.Text(i, 7);
    return n;
  });
}

Result<std::optional<CredentialRow>> QueryCredential(Conn* db, const std::string& id) {
  return QueryOne<CredentialRow>(db, kFindCredential, Params().Bytes(id), ReadCredential);
}

RoleRequestRow ReadRoleRequest(const Rows& s, int i) {
  RoleRequestRow r;
  r.request_id = s.Int(i, 0);
  r.operator_id = s.Text(i, 1);
  r.role = s.Text(i, 2);
  r.requested_by = s.Text(i, 3);
  r.requested_at = s.Int(i, 4);
  r.approved_by = s.Text(i, 5);
  r.approved_at = s.Int(i, 6);
  r.rejected_by = s.Text(i, 7);
  r.rejected_at = s.Int(i, 8);
  return r;
}

Result<std::optional<RoleRequestRow>> QueryRoleRequest(Conn* db, int64_t id) {
  return QueryOne<RoleRequestRow>(db, kFindRoleRequest, Params().Int(id), ReadRoleRequest);
}

Result<std::optional<EnrolmentRow>> QueryEnrolment(Conn* db, const std::string& hash) {
  return QueryOne<EnrolmentRow>(db, kFindEnrolment, Params().Bytes(hash), [](const Rows& s, int i) {
    EnrolmentRow e;
    e.token_hash = s.Blob(i, 0);
    e.operator_id = s.Text(i, 1);
    e.expires_at = s.Int(i, 2);
    e.used_at = s.Int(i, 3);
    e.issued_by = s.Text(i, 4);
    return e;
  });
}

Result<bool> Changed(Result<int64_t> n) {
  if (!n.ok()) return n.status();
  return *n == 1;
}

}  // namespace

Result<std::optional<OperatorRow>> PgReader::FindOperator(const std::string& id) {
  return QueryOperator(db_.get(), id);
}

Result<std::vector<OperatorRow>> PgReader::ListOperators() {
  return QueryAll<OperatorRow>(db_.get(), kListOperators, Params(), ReadOperator);
}

Result<std::vector<std::string>> PgReader::OperatorRoles(const std::string& id) {
  return QueryRoles(db_.get(), id);
}

Result<std::vector<NominationRow>> PgReader::Nominations(const std::string& id) {
  return QueryNominations(db_.get(), id);
}

Result<std::vector<CredentialRow>> PgReader::Credentials(const std::string& id) {
  return QueryAll<CredentialRow>(db_.get(), kCredentialsOf, Params().Text(id), ReadCredential);
}

Result<std::optional<CredentialRow>> PgReader::FindCredential(const std::string& id) {
  return QueryCredential(db_.get(), id);
}

Result<std::optional<RoleRequestRow>> PgReader::FindRoleRequest(int64_t id) {
  return QueryRoleRequest(db_.get(), id);
}

Result<std::vector<RoleGrantRow>> PgReader::RoleGrants(const std::string& id) {
  return QueryAll<RoleGrantRow>(db_.get(), kRoleGrants, Params().Text(id),
                                [](const Rows& s, int i) {
                                  RoleGrantRow g;
                                  g.role = s.Text(i, 0);
                                  g.granted_at = s.Int(i, 1);
                                  g.approved_by = s.Text(i, 2);
                                  g.withdrawn_at = s.Int(i, 3);
                                  g.withdrawn_by = s.Text(i, 4);
                                  return g;
                                });
}

Result<std::vector<RoleRequestRow>> PgReader::PendingRoleRequests() {
  return QueryAll<RoleRequestRow>(db_.get(), kPendingRoleRequests, Params(), ReadRoleRequest);
}

Result<std::optional<EnrolmentRow>> PgReader::FindEnrolment(const std::string& hash) {
  return QueryEnrolment(db_.get(), hash);
}

Result<std::optional<OperatorRow>> PgTxn::FindOperator(const std::string& id) {
  return QueryOperator(db_, id);
}

Result<std::vector<NominationRow>> PgTxn::Nominations(const std::string& id) {
  return QueryNominations(db_, id);
}

Result<std::vector<std::string>> PgTxn::OperatorRoles(const std::string& id) {
  return QueryRoles(db_, id);
}

Result<int64_t> PgTxn::CountOperators() { return db_->QueryInt(kCountOperators, Params()); }

Status PgTxn::InsertOperator(const OperatorRow& o) {
  auto n = db_->Run(kInsertOperator, Params()
                                         .Text(o.operator_id)
                                         .Text(o.name)
                                         .Text(o.unit)
                                         .Text(o.status)
                                         .Text(o.password_hash)
                                         .Int(o.created_at)
                                         .Text(o.created_by));
  if (!n.ok()) return n.status();
  if (*n == 0) return Status::AlreadyExists("operator id already taken");
  return Status::Ok();
}

Status PgTxn::SetOperatorStatus(const std::string& id, const std::string& status) {
  return db_->Run(kSetOperatorStatus, Params().Text(id).Text(status)).status();
}

Status PgTxn::SetOperatorPassword(const std::string& id, const std::string& hash) {
  return db_->Run(kSetOperatorPassword, Params().Text(id).Text(hash)).status();
}

Status PgTxn::SetLoginState(const std::string& id, int64_t failed, int64_t until) {
  return db_->Run(kSetLoginState, Params().Text(id).Int(failed).Int(until)).status();
}

Status PgTxn::InsertRole(const std::string& id, const std::string& role, int64_t at,
                         const std::string& by) {
  return db_->Run(kInsertRole, Params().Text(id).Text(role).Int(at).Text(by)).status();
}

Result<int64_t> PgTxn::InsertRoleRequest(const RoleRequestRow& r) {
  return db_->QueryInt(
      kInsertRoleRequest,
      Params().Text(r.operator_id).Text(r.role).Text(r.requested_by).Int(r.requested_at));
}

Result<std::optional<RoleRequestRow>> PgTxn::FindRoleRequest(int64_t id) {
  return QueryRoleRequest(db_, id);
}

Result<bool> PgTxn::ApproveRoleRequest(int64_t id, const std::string& by, int64_t at) {
  return Changed(db_->Run(kApproveRoleRequest, Params().Int(id).Text(by).Int(at)));
}

Result<bool> PgTxn::RejectRoleRequest(int64_t id, const std::string& by, int64_t at) {
  return Changed(db_->Run(kRejectRoleRequest, Params().Int(id).Text(by).Int(at)));
}

Status PgTxn::InsertNomination(const NominationRow& n) {
  return db_
      ->Run(kInsertNomination, Params()
                                   .Text(n.operator_id)
                                   .Text(n.purpose)
                                   .Text(n.valid_from)
                                   .Text(n.valid_to)
                                   .Text(n.nominated_by)
                                   .Int(n.nominated_at))
      .status();
}

Result<bool> PgTxn::WithdrawRole(const std::string& id, const std::string& role,
                                 const std::string& by, int64_t at) {
  return Changed(db_->Run(kWithdrawRole, Params().Text(id).Text(role).Text(by).Int(at)));
}

Result<int64_t> PgTxn::EndNominations(const std::string& id, const std::string& purpose,
                                      const std::string& today, const std::string& by,
                                      int64_t at) {
  return db_->Run(kEndNominations, Params().Text(id).Text(purpose).Text(today).Text(by).Int(at));
}

Result<bool> PgTxn::RevokeCredential(const std::string& id, const std::string& by, int64_t at) {
  return Changed(db_->Run(kRevokeCredential, Params().Bytes(id).Text(by).Int(at)));
}

Result<std::vector<CredentialRow>> PgTxn::Credentials(const std::string& id) {
  return QueryAll<CredentialRow>(db_, kCredentialsOf, Params().Text(id), ReadCredential);
}

Status PgTxn::InsertCredential(const CredentialRow& c) {
  auto n = db_->Run(kInsertCredential, Params()
                                           .Bytes(c.credential_id)
                                           .Text(c.operator_id)
                                           .Text(c.kind)
                                           .Int(c.alg)
                                           .Bytes(c.public_key)
                                           .Int(c.sign_count)
                                           .Int(c.created_at)
                                           .Int(c.confirmed_at));
  if (!n.ok()) return n.status();
  if (*n == 0) return Status::AlreadyExists("credential already registered");
  return Status::Ok();
}

Result<std::optional<CredentialRow>> PgTxn::FindCredential(const std::string& id) {
  return QueryCredential(db_, id);
}

Result<bool> PgTxn::ConfirmCredential(const std::string& id, const std::string& operator_id,
                                      int64_t at) {
  return Changed(db_->Run(kConfirmCredential, Params().Bytes(id).Text(operator_id).Int(at)));
}

Status PgTxn::SetSignCount(const std::string& id, int64_t count) {
  return db_->Run(kSetSignCount, Params().Bytes(id).Int(count)).status();
}

Status PgTxn::InsertEnrolment(const EnrolmentRow& e) {
  return db_
      ->Run(kInsertEnrolment,
            Params().Bytes(e.token_hash).Text(e.operator_id).Int(e.expires_at).Text(e.issued_by))
      .status();
}

Result<std::optional<EnrolmentRow>> PgTxn::FindEnrolment(const std::string& hash) {
  return QueryEnrolment(db_, hash);
}

Result<bool> PgTxn::UseEnrolment(const std::string& hash, int64_t at) {
  return Changed(db_->Run(kUseEnrolment, Params().Bytes(hash).Int(at)));
}

Status PgTxn::RevokeEnrolments(const std::string& id, int64_t at) {
  return db_->Run(kRevokeEnrolments, Params().Text(id).Int(at)).status();
}

Result<bool> PgTxn::AdvanceSignCount(const std::string& id, int64_t count) {
  return Changed(db_->Run(kAdvanceSignCount, Params().Bytes(id).Int(count)));
}

Result<std::optional<int64_t>> PgTxn::ClaimLoginAttempt(const std::string& id, int64_t now,
                                                        int64_t max_attempts, int64_t lock_until) {
  auto rows =
      db_->Query(kClaimLoginAttempt, Params().Text(id).Int(now).Int(max_attempts).Int(lock_until));
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->Int(0, 0));
}

Result<int64_t> PgTxn::CountActiveWithRole(const std::string& role) {
  return db_->QueryInt(kCountActiveWithRole, Params().Text(role));
}

}  // namespace kakunin::store::pg::detail
