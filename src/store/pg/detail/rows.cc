#include "store/pg/detail/rows.h"

namespace kakunin::store::pg::detail {

ResidentRow ReadResident(const Rows& s, int i) {
  ResidentRow r;
  r.person_id = s.Int(i, 0);
  r.resident_code = s.Text(i, 1);
  r.status = s.Text(i, 2) == "active" ? ResidentStatus::kActive : ResidentStatus::kRemoved;
  r.municipality_code = s.Text(i, 3);
  r.version_id = s.Int(i, 4);
  r.name = s.Text(i, 5);
  r.name_kana = s.OptionalText(i, 6);
  r.sex = s.Text(i, 7);
  r.birth_date = s.Text(i, 8);
  r.address = s.Text(i, 9);
  r.number_mac = s.Blob(i, 10);
  r.name_key = s.Text(i, 11);
  r.kana_key = s.Text(i, 12);
  r.address_key = s.Text(i, 13);
  r.updated_at = s.Int(i, 14);
  r.removed_at = s.Int(i, 15);
  return r;
}

VersionRow ReadVersion(const Rows& s, int i) {
  VersionRow v;
  v.version_id = s.Int(i, 0);
  v.person_id = s.Int(i, 1);
  v.municipality_code = s.Text(i, 2);
  v.sequence = s.Int(i, 3);
  v.kind = s.Text(i, 4);
  v.reason = s.Text(i, 5);
  v.change_date = s.Text(i, 6);
  v.resident_code = s.Text(i, 7);
  v.sealed_number = s.Blob(i, 8);
  v.name = s.Text(i, 9);
  v.name_kana = s.OptionalText(i, 10);
  v.former_surname = s.OptionalText(i, 11);
  v.alias = s.OptionalText(i, 12);
  v.sex = s.Text(i, 13);
  v.birth_date = s.Text(i, 14);
  v.address = s.Text(i, 15);
  v.new_resident_code = s.OptionalText(i, 16);
  v.applied_at = s.Int(i, 17);
  v.superseded_at = s.Int(i, 18);
  return v;
}

AuditRow ReadAudit(const Rows& s, int i) {
  AuditRow a;
  a.seq = s.Int(i, 0);
  a.time = s.Int(i, 1);
  a.actor = s.Text(i, 2);
  a.action = s.Text(i, 3);
  a.purpose = s.Text(i, 4);
  a.payload = s.OptionalText(i, 5);
  a.leaf_hash = s.Blob(i, 6);
  if (!s.IsNull(i, 7)) a.targets = s.Blob(i, 7);
  return a;
}

CheckpointRow ReadCheckpoint(const Rows& s, int i) {
  CheckpointRow c;
  c.tree_size = s.Int(i, 0);
  c.root = s.Blob(i, 1);
  c.time = s.Int(i, 2);
  c.key_id = s.Text(i, 3);
  c.signature = s.Blob(i, 4);
  if (!s.IsNull(i, 5)) c.origin = s.Text(i, 5);
  if (!s.IsNull(i, 6)) c.map_root = s.Blob(i, 6);
  return c;
}

ClientRow ReadClient(const Rows& s, int i) {
  ClientRow c;
  c.spki_sha256 = s.Text(i, 0);
  c.kind = s.Text(i, 1);
  c.name = s.Text(i, 2);
  c.municipality_code = s.Text(i, 3);
  c.recipient = s.Text(i, 4);
  c.purposes = s.Text(i, 5);
  c.registered_at = s.Int(i, 6);
  c.revoked_at = s.Int(i, 7);
  return c;
}

OperatorRow ReadOperator(const Rows& s, int i) {
  OperatorRow o;
  o.operator_id = s.Text(i, 0);
  o.name = s.Text(i, 1);
  o.unit = s.Text(i, 2);
  o.status = s.Text(i, 3);
  o.password_hash = s.Text(i, 4);
  o.failed_logins = s.Int(i, 5);
  o.locked_until = s.Int(i, 6);
  o.created_at = s.Int(i, 7);
  o.created_by = s.Text(i, 8);
  return o;
}

CredentialRow ReadCredential(const Rows& s, int i) {
  CredentialRow c;
  c.credential_id = s.Blob(i, 0);
  c.operator_id = s.Text(i, 1);
  c.kind = s.Text(i, 2);
  c.alg = s.Int(i, 3);
  c.public_key = s.Blob(i, 4);
  c.sign_count = s.Int(i, 5);
  c.created_at = s.Int(i, 6);
  c.revoked_at = s.Int(i, 7);
  c.revoked_by = s.Text(i, 8);
  c.confirmed_at = s.Int(i, 9);
  return c;
}

ProvisionRow ReadProvision(const Rows& s, int i) {
  ProvisionRow p;
  p.resident_code = s.Text(i, 0);
  p.provided_at = s.Int(i, 1);
  p.function = s.Text(i, 2);
  p.purpose = s.Text(i, 3);
  p.provision_kind = s.Text(i, 4);
  p.number_provided = s.Int(i, 5) != 0;
  p.source = s.Text(i, 6);
  p.recipient = s.Text(i, 7);
  p.items = s.Text(i, 8);
  p.audit_seq = s.Int(i, 9);
  return p;
}

Params ResidentParams(const ResidentRow& r) {
  Params p;
  p.Text(r.resident_code)
      .Text(r.status == ResidentStatus::kActive ? "active" : "removed")
      .Text(r.municipality_code)
      .Int(r.version_id)
      .Text(r.name)
      .OptionalText(r.name_kana)
      .Text(r.sex)
      .Text(r.birth_date)
      .Text(r.address)
      .Bytes(r.number_mac)
      .Text(r.name_key)
      .Text(r.kana_key)
      .Text(r.address_key)
      .Int(r.updated_at)
      .Int(r.removed_at);
  return p;
}

Result<std::optional<std::string>> QueryBytes(Conn* db, const char* sql, const Params& p) {
  auto rows = db->Query(sql, p);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows->Text(0, 0));
}

}  // namespace kakunin::store::pg::detail
