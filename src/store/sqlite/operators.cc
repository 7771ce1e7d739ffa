// The operator register on SQLite (store/operator_store.h).

#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

Result<std::optional<OperatorRow>> QueryOperator(Db* db, const std::string& id) {
  return QueryOne<OperatorRow>(
      db, kFindOperator, [&](Stmt& s) { s.Bind(1, id); }, ReadOperator);
}

Result<std::vector<std::string>> QueryRoles(Db* db, const std::string& id) {
  return QueryAll<std::string>(
      db, kOperatorRoles, [&](Stmt& s) { s.Bind(1, id); }, [](const Stmt& s) { return s.Text(0); });
}

Result<std::vector<NominationRow>> QueryNominations(Db* db, const std::string& id) {
  return QueryAll<NominationRow>(
      db, kNominationsOf, [&](Stmt& s) { s.Bind(1, id); },
      [](const Stmt& s) {
        NominationRow n;
        n.operator_id = s.Text(0);
        n.purpose = s.Text(1);
        n.valid_from = s.Text(2);
        n.valid_to = s.Text(3);
        n.nominated_by = s.Text(4);
        n.nominated_at = s.Int(5);
        n.ended_at = s.Int(6);
        n.ended_by = s.Text(7);
        return n;
      });
}

Result<std::optional<CredentialRow>> QueryCredential(Db* db, const std::string& id) {
  return QueryOne<CredentialRow>(
      db, kFindCredential, [&](Stmt& s) { s.BindBlob(1, id); }, ReadCredential);
}

RoleRequestRow ReadRoleRequest(const Stmt& s) {
  RoleRequestRow r;
  r.request_id = s.Int(0);
  r.operator_id = s.Text(1);
  r.role = s.Text(2);
  r.requested_by = s.Text(3);
  r.requested_at = s.Int(4);
  r.approved_by = s.Text(5);
  r.approved_at = s.Int(6);
  r.rejected_by = s.Text(7);
  r.rejected_at = s.Int(8);
  return r;
}

Result<std::optional<RoleRequestRow>> QueryRoleRequest(Db* db, int64_t id) {
  return QueryOne<RoleRequestRow>(
      db, kFindRoleRequest, [&](Stmt& s) { s.Bind(1, id); }, ReadRoleRequest);
}

Result<std::optional<EnrolmentRow>> QueryEnrolment(Db* db, const std::string& hash) {
  return QueryOne<EnrolmentRow>(
      db, kFindEnrolment, [&](Stmt& s) { s.BindBlob(1, hash); },
      [](const Stmt& s) {
        EnrolmentRow e;
        e.token_hash = s.Blob(0);
        e.operator_id = s.Text(1);
        e.expires_at = s.Int(2);
        e.used_at = s.Int(3);
        e.issued_by = s.Text(4);
        return e;
      });
}

}  // namespace

Result<std::optional<OperatorRow>> SqliteReader::FindOperator(const std::string& id) {
  return QueryOperator(db_.get(), id);
}

Result<std::vector<OperatorRow>> SqliteReader::ListOperators() {
  return QueryAll<OperatorRow>(
      db_.get(), kListOperators, [](Stmt&) {}, ReadOperator);
}

Result<std::vector<std::string>> SqliteReader::OperatorRoles(const std::string& id) {
  return QueryRoles(db_.get(), id);
}

Result<std::vector<NominationRow>> SqliteReader::Nominations(const std::string& id) {
  return QueryNominations(db_.get(), id);
}

Result<std::vector<CredentialRow>> SqliteReader::Credentials(const std::string& id) {
  return QueryAll<CredentialRow>(
      db_.get(), kCredentialsOf, [&](Stmt& s) { s.Bind(1, id); }, ReadCredential);
}

Result<std::optional<CredentialRow>> SqliteReader::FindCredential(const std::string& id) {
  return QueryCredential(db_.get(), id);
}

Result<std::optional<RoleRequestRow>> SqliteReader::FindRoleRequest(int64_t id) {
  return QueryRoleRequest(db_.get(), id);
}

Result<std::vector<RoleGrantRow>> SqliteReader::RoleGrants(const std::string& id) {
  return QueryAll<RoleGrantRow>(
      db_.get(), kRoleGrants, [&](Stmt& s) { s.Bind(1, id); },
      [](const Stmt& s) {
        RoleGrantRow g;
        g.role = s.Text(0);
        g.granted_at = s.Int(1);
        g.approved_by = s.Text(2);
        g.withdrawn_at = s.Int(3);
        g.withdrawn_by = s.Text(4);
        return g;
      });
}

Result<std::vector<RoleRequestRow>> SqliteReader::PendingRoleRequests() {
  return QueryAll<RoleRequestRow>(db_.get(), kPendingRoleRequests, [](Stmt&) {}, ReadRoleRequest);
}

Result<std::optional<EnrolmentRow>> SqliteReader::FindEnrolment(const std::string& hash) {
  return QueryEnrolment(db_.get(), hash);
}

Result<std::optional<OperatorRow>> SqliteTxn::FindOperator(const std::string& id) {
  return QueryOperator(db_, id);
}

Result<std::vector<NominationRow>> SqliteTxn::Nominations(const std::string& id) {
  return QueryNominations(db_, id);
}

Result<std::vector<std::string>> SqliteTxn::OperatorRoles(const std::string& id) {
  return QueryRoles(db_, id);
}

Result<int64_t> SqliteTxn::CountOperators() { return QueryInt(db_, kCountOperators); }

Status SqliteTxn::InsertOperator(const OperatorRow& o) {
  KAKUNIN_PREPARE(s, db_, kInsertOperator);
  return s.Bind(1, o.operator_id)
      .Bind(2, o.name)
      .Bind(3, o.unit)
      .Bind(4, o.status)
      .Bind(5, o.password_hash)
      .Bind(6, o.created_at)
      .Bind(7, o.created_by)
      .Exec();
}

Status SqliteTxn::SetOperatorStatus(const std::string& id, const std::string& status) {
  KAKUNIN_PREPARE(s, db_, kSetOperatorStatus);
  return s.Bind(1, id).Bind(2, status).Exec();
}

Status SqliteTxn::SetOperatorPassword(const std::string& id, const std::string& hash) {
  KAKUNIN_PREPARE(s, db_, kSetOperatorPassword);
  return s.Bind(1, id).Bind(2, hash).Exec();
}

Status SqliteTxn::SetLoginState(const std::string& id, int64_t failed, int64_t until) {
  KAKUNIN_PREPARE(s, db_, kSetLoginState);
  return s.Bind(1, id).Bind(2, failed).Bind(3, until).Exec();
}

Status SqliteTxn::InsertRole(const std::string& id, const std::string& role, int64_t at,
                             const std::string& by) {
  KAKUNIN_PREPARE(s, db_, kInsertRole);
  return s.Bind(1, id).Bind(2, role).Bind(3, at).Bind(4, by).Exec();
}

Result<int64_t> SqliteTxn::InsertRoleRequest(const RoleRequestRow& r) {
  KAKUNIN_PREPARE(s, db_, kInsertRoleRequest);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, r.operator_id)
                              .Bind(2, r.role)
                              .Bind(3, r.requested_by)
                              .Bind(4, r.requested_at)
                              .Exec());
  return db_->LastInsertRowId();
}

Result<std::optional<RoleRequestRow>> SqliteTxn::FindRoleRequest(int64_t id) {
  return QueryRoleRequest(db_, id);
}

Result<bool> SqliteTxn::ApproveRoleRequest(int64_t id, const std::string& by, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kApproveRoleRequest);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, id).Bind(2, by).Bind(3, at).Exec());
  return db_->Changes() == 1;
}

Result<bool> SqliteTxn::RejectRoleRequest(int64_t id, const std::string& by, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kRejectRoleRequest);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, id).Bind(2, by).Bind(3, at).Exec());
  return db_->Changes() == 1;
}

Status SqliteTxn::InsertNomination(const NominationRow& n) {
  KAKUNIN_PREPARE(s, db_, kInsertNomination);
  return s.Bind(1, n.operator_id)
      .Bind(2, n.purpose)
      .Bind(3, n.valid_from)
      .Bind(4, n.valid_to)
      .Bind(5, n.nominated_by)
      .Bind(6, n.nominated_at)
      .Exec();
}

Result<bool> SqliteTxn::WithdrawRole(const std::string& id, const std::string& role,
                                     const std::string& by, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kWithdrawRole);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, id).Bind(2, role).Bind(3, by).Bind(4, at).Exec());
  return db_->Changes() == 1;
}

Result<int64_t> SqliteTxn::EndNominations(const std::string& id, const std::string& purpose,
                                          const std::string& today, const std::string& by,
                                          int64_t at) {
  KAKUNIN_PREPARE(s, db_, kEndNominations);
  KAKUNIN_RETURN_IF_ERROR(
      s.Bind(1, id).Bind(2, purpose).Bind(3, today).Bind(4, by).Bind(5, at).Exec());
  return static_cast<int64_t>(db_->Changes());
}

Result<bool> SqliteTxn::RevokeCredential(const std::string& id, const std::string& by,
                                         int64_t at) {
  KAKUNIN_PREPARE(s, db_, kRevokeCredential);
  KAKUNIN_RETURN_IF_ERROR(s.BindBlob(1, id).Bind(2, by).Bind(3, at).Exec());
  return db_->Changes() == 1;
}

Result<std::vector<CredentialRow>> SqliteTxn::Credentials(const std::string& id) {
  return QueryAll<CredentialRow>(
      db_, kCredentialsOf, [&](Stmt& s) { s.Bind(1, id); }, ReadCredential);
}

Status SqliteTxn::InsertCredential(const CredentialRow& c) {
  KAKUNIN_PREPARE(s, db_, kInsertCredential);
  return s.BindBlob(1, c.credential_id)
      .Bind(2, c.operator_id)
      .Bind(3, c.kind)
      .Bind(4, c.alg)
      .BindBlob(5, c.public_key)
      .Bind(6, c.sign_count)
      .Bind(7, c.created_at)
      .Bind(8, c.confirmed_at)
      .Exec();
}

Result<std::optional<CredentialRow>> SqliteTxn::FindCredential(const std::string& id) {
  return QueryCredential(db_, id);
}

Result<bool> SqliteTxn::ConfirmCredential(const std::string& id, const std::string& operator_id,
                                          int64_t at) {
  KAKUNIN_PREPARE(s, db_, kConfirmCredential);
  KAKUNIN_RETURN_IF_ERROR(s.BindBlob(1, id).Bind(2, operator_id).Bind(3, at).Exec());
  return db_->Changes() == 1;
}

Status SqliteTxn::SetSignCount(const std::string& id, int64_t count) {
  KAKUNIN_PREPARE(s, db_, kSetSignCount);
  return s.BindBlob(1, id).Bind(2, count).Exec();
}

Status SqliteTxn::InsertEnrolment(const EnrolmentRow& e) {
  KAKUNIN_PREPARE(s, db_, kInsertEnrolment);
  return s.BindBlob(1, e.token_hash)
      .Bind(2, e.operator_id)
      .Bind(3, e.expires_at)
      .Bind(4, e.issued_by)
      .Exec();
}

Result<std::optional<EnrolmentRow>> SqliteTxn::FindEnrolment(const std::string& hash) {
  return QueryEnrolment(db_, hash);
}

Result<bool> SqliteTxn::UseEnrolment(const std::string& hash, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kUseEnrolment);
  KAKUNIN_RETURN_IF_ERROR(s.BindBlob(1, hash).Bind(2, at).Exec());
  return db_->Changes() == 1;
}

Status SqliteTxn::RevokeEnrolments(const std::string& id, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kRevokeEnrolments);
  return s.Bind(1, id).Bind(2, at).Exec();
}

Result<bool> SqliteTxn::AdvanceSignCount(const std::string& id, int64_t count) {
  KAKUNIN_PREPARE(s, db_, kAdvanceSignCount);
  KAKUNIN_RETURN_IF_ERROR(s.BindBlob(1, id).Bind(2, count).Exec());
  return db_->Changes() == 1;
}

Result<std::optional<int64_t>> SqliteTxn::ClaimLoginAttempt(const std::string& id, int64_t now,
                                                            int64_t max_attempts,
                                                            int64_t lock_until) {
  KAKUNIN_PREPARE(s, db_, kClaimLoginAttempt);
  s.Bind(1, id).Bind(2, now).Bind(3, max_attempts).Bind(4, lock_until);
  Status st;
  std::optional<int64_t> taken;
  if (s.Step(&st)) {
    taken = s.Int(0);
    s.Step(&st);  // runs the statement to its end
  }
  s.Reset();
  if (!st.ok()) return st;
  return taken;
}

Result<int64_t> SqliteTxn::CountActiveWithRole(const std::string& role) {
  KAKUNIN_PREPARE(s, db_, kCountActiveWithRole);
  s.Bind(1, role);
  Status st;
  int64_t n = s.Step(&st) ? s.Int(0) : 0;
  s.Reset();
  if (!st.ok()) return st;
  return n;
}

}  // namespace kakunin::store::sqlite::detail
