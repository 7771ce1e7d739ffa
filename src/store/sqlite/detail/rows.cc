#include "store/sqlite/detail/rows.h"

namespace kakunin::store::sqlite::detail {
namespace {

const char* StatusText(ResidentStatus s) {
  return s == ResidentStatus::kActive ? "active" : "removed";
}

}  // namespace

ResidentRow ReadResident(const Stmt& s) {
  ResidentRow r;
  r.person_id = s.Int(0);
  r.resident_code = s.Text(1);
  r.status = s.Text(2) == "active" ? ResidentStatus::kActive : ResidentStatus::kRemoved;
  r.municipality_code = s.Text(3);
  r.version_id = s.Int(4);
  r.name = s.Text(5);
  r.name_kana = s.OptionalText(6);
  r.sex = s.Text(7);
  r.birth_date = s.Text(8);
  r.address = s.Text(9);
  r.number_mac = s.Blob(10);
  r.name_key = s.Text(11);
  r.kana_key = s.Text(12);
  r.address_key = s.Text(13);
  r.updated_at = s.Int(14);
  r.removed_at = s.Int(15);
  return r;
}

VersionRow ReadVersion(const Stmt& s) {
  VersionRow v;
  v.version_id = s.Int(0);
  v.person_id = s.Int(1);
  v.municipality_code = s.Text(2);
  v.sequence = s.Int(3);
  v.kind = s.Text(4);
  v.reason = s.Text(5);
  v.change_date = s.Text(6);
  v.resident_code = s.Text(7);
  v.sealed_number = s.Blob(8);
  v.name = s.Text(9);
  v.name_kana = s.OptionalText(10);
  v.former_surname = s.OptionalText(11);
  v.alias = s.OptionalText(12);
  v.sex = s.Text(13);
  v.birth_date = s.Text(14);
  v.address = s.Text(15);
  v.new_resident_code = s.OptionalText(16);
  v.applied_at = s.Int(17);
  v.superseded_at = s.Int(18);
  return v;
}

AuditRow ReadAudit(const Stmt& s) {
  AuditRow a;
  a.seq = s.Int(0);
  a.time = s.Int(1);
  a.actor = s.Text(2);
  a.action = s.Text(3);
  a.purpose = s.Text(4);
  if (!s.IsNull(5)) a.payload = s.Blob(5);
  a.leaf_hash = s.Blob(6);
  if (!s.IsNull(7)) a.targets = s.Blob(7);
  return a;
}

CheckpointRow ReadCheckpoint(const Stmt& s) {
  CheckpointRow c;
  c.tree_size = s.Int(0);
  c.root = s.Blob(1);
  c.time = s.Int(2);
  c.key_id = s.Text(3);
  c.signature = s.Blob(4);
  if (!s.IsNull(5)) c.origin = s.Text(5);
  if (!s.IsNull(6)) c.map_root = s.Blob(6);
  return c;
}

ClientRow ReadClient(const Stmt& s) {
  ClientRow c;
  c.spki_sha256 = s.Text(0);
  c.kind = s.Text(1);
  c.name = s.Text(2);
  c.municipality_code = s.Text(3);
  c.recipient = s.Text(4);
  c.purposes = s.Text(5);
  c.registered_at = s.Int(6);
  c.revoked_at = s.Int(7);
  return c;
}

OperatorRow ReadOperator(const Stmt& s) {
  OperatorRow o;
  o.operator_id = s.Text(0);
  o.name = s.Text(1);
  o.unit = s.Text(2);
  o.status = s.Text(3);
  o.password_hash = s.Text(4);
  o.failed_logins = s.Int(5);
  o.locked_until = s.Int(6);
  o.created_at = s.Int(7);
  o.created_by = s.Text(8);
  return o;
}

CredentialRow ReadCredential(const Stmt& s) {
  CredentialRow c;
  c.credential_id = s.Blob(0);
  c.operator_id = s.Text(1);
  c.kind = s.Text(2);
  c.alg = s.Int(3);
  c.public_key = s.Blob(4);
  c.sign_count = s.Int(5);
  c.created_at = s.Int(6);
  c.revoked_at = s.Int(7);
  c.revoked_by = s.Text(8);
  c.confirmed_at = s.Int(9);
  return c;
}

Result<int64_t> QueryInt(Db* db, const char* sql, const std::function<void(Stmt&)>& bind) {
  KAKUNIN_PREPARE(s, db, sql);
  bind(s);
  Status st;
  int64_t v = 0;
  if (s.Step(&st)) v = s.Int(0);
  s.Reset();
  if (!st.ok()) return st;
  return v;
}

Result<int64_t> QueryInt(Db* db, const char* sql) {
  return QueryInt(db, sql, [](Stmt&) {});
}

Result<int64_t> QueryInt(Db* db, const char* sql, int64_t arg) {
  return QueryInt(db, sql, [&](Stmt& s) { s.Bind(1, arg); });
}

void BindResident(Stmt& s, const ResidentRow& r) {
  s.Bind(1, r.resident_code)
      .Bind(2, std::string_view(StatusText(r.status)))
      .Bind(3, r.municipality_code)
      .Bind(4, r.version_id)
      .Bind(5, r.name)
      .BindOptional(6, r.name_kana)
      .Bind(7, r.sex)
      .Bind(8, r.birth_date)
      .Bind(9, r.address)
      .BindBlob(10, r.number_mac)
      .Bind(11, r.name_key)
      .Bind(12, r.kana_key)
      .Bind(13, r.address_key)
      .Bind(14, r.updated_at)
      .Bind(15, r.removed_at);
}

}  // namespace kakunin::store::sqlite::detail
