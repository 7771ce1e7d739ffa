#include "store/sqlite/sqlite_registry_store.h"

#include <sys/stat.h>

#include <mutex>

#include "store/sqlite/db.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite {
namespace {

// Everything here runs with a prepared statement from the connection's cache.
#define KAKUNIN_PREPARE(var, db, sql)          \
  auto var##_r = (db)->Prepare(sql);           \
  if (!var##_r.ok()) return var##_r.status();  \
  Stmt& var = **var##_r

const char* StatusText(ResidentStatus s) { return s == ResidentStatus::kActive ? "active" : "removed"; }

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
  return a;
}

CheckpointRow ReadCheckpoint(const Stmt& s) {
  CheckpointRow c;
  c.tree_size = s.Int(0);
  c.root = s.Blob(1);
  c.time = s.Int(2);
  c.key_id = s.Text(3);
  c.signature = s.Blob(4);
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

// Runs `sql` with `bind`, reading every row with `read`.
template <typename T, typename Bind, typename Read>
Result<std::vector<T>> QueryAll(Db* db, const char* sql, Bind bind, Read read) {
  KAKUNIN_PREPARE(s, db, sql);
  bind(s);
  Status st;
  std::vector<T> out;
  while (s.Step(&st)) out.push_back(read(s));
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

template <typename T, typename Bind, typename Read>
Result<std::optional<T>> QueryOne(Db* db, const char* sql, Bind bind, Read read) {
  auto all = QueryAll<T>(db, sql, bind, read);
  if (!all.ok()) return all.status();
  if (all->empty()) return std::optional<T>();
  return std::optional<T>(std::move(all->front()));
}

Result<std::optional<ClientRow>> QueryClient(Db* db, const std::string& spki) {
  return QueryOne<ClientRow>(db, kFindClient, [&](Stmt& s) { s.Bind(1, spki); }, ReadClient);
}

Result<std::vector<ClientRow>> QueryClients(Db* db) {
  return QueryAll<ClientRow>(db, kListClients, [](Stmt&) {}, ReadClient);
}

Result<std::optional<std::string>> QueryMeta(Db* db, const std::string& key) {
  return QueryOne<std::string>(db, kGetMeta, [&](Stmt& s) { s.Bind(1, key); },
                               [](const Stmt& s) { return s.Text(0); });
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
  return c;
}

Result<std::optional<OperatorRow>> QueryOperator(Db* db, const std::string& id) {
  return QueryOne<OperatorRow>(db, kFindOperator, [&](Stmt& s) { s.Bind(1, id); }, ReadOperator);
}

Result<std::vector<std::string>> QueryRoles(Db* db, const std::string& id) {
  return QueryAll<std::string>(db, kOperatorRoles, [&](Stmt& s) { s.Bind(1, id); },
                               [](const Stmt& s) { return s.Text(0); });
}

Result<std::vector<NominationRow>> QueryNominations(Db* db, const std::string& id) {
  return QueryAll<NominationRow>(db, kNominationsOf, [&](Stmt& s) { s.Bind(1, id); },
                                 [](const Stmt& s) {
                                   NominationRow n;
                                   n.operator_id = s.Text(0);
                                   n.purpose = s.Text(1);
                                   n.valid_from = s.Text(2);
                                   n.valid_to = s.Text(3);
                                   n.nominated_by = s.Text(4);
                                   n.nominated_at = s.Int(5);
                                   return n;
                                 });
}

Result<std::optional<CredentialRow>> QueryCredential(Db* db, const std::string& id) {
  return QueryOne<CredentialRow>(db, kFindCredential, [&](Stmt& s) { s.BindBlob(1, id); },
                                 ReadCredential);
}

Result<std::optional<RoleRequestRow>> QueryRoleRequest(Db* db, int64_t id) {
  return QueryOne<RoleRequestRow>(db, kFindRoleRequest, [&](Stmt& s) { s.Bind(1, id); },
                                  [](const Stmt& s) {
                                    RoleRequestRow r;
                                    r.request_id = s.Int(0);
                                    r.operator_id = s.Text(1);
                                    r.role = s.Text(2);
                                    r.requested_by = s.Text(3);
                                    r.requested_at = s.Int(4);
                                    r.approved_by = s.Text(5);
                                    r.approved_at = s.Int(6);
                                    return r;
                                  });
}

Result<std::optional<EnrolmentRow>> QueryEnrolment(Db* db, const std::string& hash) {
  return QueryOne<EnrolmentRow>(db, kFindEnrolment, [&](Stmt& s) { s.BindBlob(1, hash); },
                                [](const Stmt& s) {
                                  EnrolmentRow e;
                                  e.token_hash = s.Blob(0);
                                  e.operator_id = s.Text(1);
                                  e.expires_at = s.Int(2);
                                  e.used_at = s.Int(3);
                                  return e;
                                });
}

Result<int64_t> QueryInt(Db* db, const char* sql) {
  KAKUNIN_PREPARE(s, db, sql);
  Status st;
  int64_t v = 0;
  if (s.Step(&st)) v = s.Int(0);
  s.Reset();
  if (!st.ok()) return st;
  return v;
}

// Level 0 is each entry's leaf hash, kept with the entry (not stored twice).
Result<std::optional<std::string>> QueryNode(Db* db, uint32_t level, int64_t index) {
  KAKUNIN_PREPARE(s, db, level == 0 ? kGetAuditLeaf : kGetAuditNode);
  if (level == 0) {
    s.Bind(1, index);
  } else {
    s.Bind(1, int64_t{level}).Bind(2, index);
  }
  Status st;
  std::optional<std::string> h;
  if (s.Step(&st)) h = s.Blob(0);
  s.Reset();
  if (!st.ok()) return st;
  return h;
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

// Runs a query expected to return at most one resident.
Result<std::optional<ResidentRow>> QueryResident(Db* db, const char* sql, const std::string& key) {
  KAKUNIN_PREPARE(s, db, sql);
  s.Bind(1, key);
  Status st;
  std::optional<ResidentRow> out;
  if (s.Step(&st)) out = ReadResident(s);
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<ResidentRow>> FindByAnyCode(Db* db, const std::string& code) {
  auto r = QueryResident(db, kResidentByCode, code);
  if (!r.ok() || r->has_value()) return r;
  return QueryResident(db, kResidentByOldCode, code);
}

// The smallest string greater than every string that begins with `prefix` (keys are
// UTF-8, compared bytewise): prefix + U+10FFFF.
std::string PrefixEnd(const std::string& prefix) { return prefix + "\xF4\x8F\xBF\xBF"; }

struct SqliteNodeCursor final : public NodeCursor {
  SqliteNodeCursor(Db* db, sqlite3_stmt* raw) : stmt(db, raw) {}
  bool Next(int64_t* index, std::string* hash, Status* status) override {
    if (!stmt.Step(status)) return false;
    *index = stmt.Int(0);
    *hash = stmt.Blob(1);
    return true;
  }
  Stmt stmt;
};

class SqliteReader final : public RegistryReader {
 public:
  explicit SqliteReader(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Result<std::optional<ResidentRow>> FindByResidentCode(const std::string& code) override {
    return FindByAnyCode(db_.get(), code);
  }

  Result<std::vector<ResidentRow>> FindByNumberMac(const std::string& mac,
                                                   bool include_removed) override {
    KAKUNIN_PREPARE(s, db_.get(), kResidentsByNumber);
    s.BindBlob(1, mac).Bind(2, int64_t{include_removed});
    std::vector<ResidentRow> out;
    Status st;
    while (s.Step(&st)) out.push_back(ReadResident(s));
    s.Reset();
    if (!st.ok()) return st;
    return out;
  }

  Result<SearchResult> Search(const SearchQuery& q) override {
    // The statement is assembled from constant fragments only; every value is bound.
    std::string sql = kSearchSelect;
    std::vector<std::string> params;
    if (q.kana_key) {
      sql += kSearchKana;
      params.push_back(*q.kana_key);
      params.push_back(PrefixEnd(*q.kana_key));
    }
    if (q.name_key) {
      sql += kSearchName;
      params.push_back(*q.name_key);
      params.push_back(PrefixEnd(*q.name_key));
    }
    if (q.birth_date) {
      sql += kSearchBirth;
      params.push_back(*q.birth_date);
    }
    if (q.sex) {
      sql += kSearchSex;
      params.push_back(*q.sex);
    }
    if (q.address_key) {
      sql += kSearchAddress;
      params.push_back(*q.address_key);
      params.push_back(PrefixEnd(*q.address_key));
    }
    if (!q.include_removed) sql += kSearchActive;
    sql += q.kana_key ? kSearchOrderKana
           : q.name_key ? kSearchOrderName
           : (q.address_key && !q.birth_date) ? kSearchOrderAddress
                                              : kSearchOrderBirth;
    auto prepared = db_->PrepareText(sql);
    if (!prepared.ok()) return prepared.status();
    Stmt& s = **prepared;
    int i = 1;
    for (const auto& p : params) s.Bind(i++, p);
    s.Bind(i, int64_t{q.limit} + 1);
    SearchResult out;
    Status st;
    while (s.Step(&st)) out.rows.push_back(ReadResident(s));
    s.Reset();
    if (!st.ok()) return st;
    if (out.rows.size() > static_cast<size_t>(q.limit)) {
      out.rows.pop_back();
      out.cut = true;
    }
    return out;
  }

  Result<std::vector<VersionRow>> History(int64_t person_id) override {
    KAKUNIN_PREPARE(s, db_.get(), kHistory);
    s.Bind(1, person_id);
    std::vector<VersionRow> out;
    Status st;
    while (s.Step(&st)) out.push_back(ReadVersion(s));
    s.Reset();
    if (!st.ok()) return st;
    return out;
  }

  Result<std::optional<VersionRow>> Version(int64_t version_id) override {
    KAKUNIN_PREPARE(s, db_.get(), kVersionById);
    s.Bind(1, version_id);
    std::optional<VersionRow> out;
    Status st;
    if (s.Step(&st)) out = ReadVersion(s);
    s.Reset();
    if (!st.ok()) return st;
    return out;
  }

  Result<StoreStats> Stats() override {
    KAKUNIN_PREPARE(s, db_.get(), kStats);
    StoreStats out;
    Status st;
    if (s.Step(&st)) {
      out.active = s.Int(0);
      out.removed = s.Int(1);
      out.versions = s.Int(2);
      out.superseded_versions = s.Int(3);
      out.code_changes = s.Int(4);
      out.senders = s.Int(5);
      out.applied_notifications = s.Int(6);
      out.outbox_pending = s.Int(7);
    }
    s.Reset();
    if (!st.ok()) return st;
    return out;
  }

  Result<int64_t> AuditSize() override { return QueryInt(db_.get(), kAuditSize); }

  Result<std::optional<std::string>> AuditNode(uint32_t level, int64_t index) override {
    return QueryNode(db_.get(), level, index);
  }

  Status ForEachAuditEntry(int64_t from_seq,
                           const std::function<bool(const AuditRow&)>& fn) override {
    // Own statement (not the cache): callers may run other queries inside `fn`.
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_->raw(), kAuditEntriesFrom, -1, &raw, nullptr) != SQLITE_OK) {
      return db_->LastError("prepare");
    }
    Stmt s(db_.get(), raw);
    s.Bind(1, from_seq).Bind(2, int64_t{-1});
    Status st;
    while (s.Step(&st)) {
      if (!fn(ReadAudit(s))) break;
    }
    return st;
  }

  Result<int64_t> CountStrayAuditNodes(int64_t size) override {
    KAKUNIN_PREPARE(s, db_.get(), kCountStrayAuditNodes);
    s.Bind(1, size);
    Status st;
    int64_t n = s.Step(&st) ? s.Int(0) : 0;
    s.Reset();
    if (!st.ok()) return st;
    return n;
  }

  Result<std::unique_ptr<NodeCursor>> AuditNodes(uint32_t level) override {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_->raw(), kAuditNodesOfLevel, -1, &raw, nullptr) != SQLITE_OK) {
      return db_->LastError("prepare");
    }
    auto c = std::make_unique<SqliteNodeCursor>(db_.get(), raw);
    c->stmt.Bind(1, int64_t{level});
    return std::unique_ptr<NodeCursor>(std::move(c));
  }

  Result<std::vector<CheckpointRow>> Checkpoints() override {
    KAKUNIN_PREPARE(s, db_.get(), kAllCheckpoints);
    std::vector<CheckpointRow> out;
    Status st;
    while (s.Step(&st)) out.push_back(ReadCheckpoint(s));
    s.Reset();
    if (!st.ok()) return st;
    return out;
  }

  Result<std::vector<AuditRow>> SearchAudit(const AuditQuery& q) override {
    // Assembled from constant fragments; every value bound.
    std::string sql =
        "SELECT e.seq, e.time, e.actor, e.action, e.purpose, e.payload, e.leaf_hash "
        "FROM audit_entries e WHERE 1";
    std::vector<std::string> text;
    std::vector<int64_t> ints;
    std::vector<bool> is_int;
    if (q.target) {
      sql += " AND e.seq IN (SELECT seq FROM audit_targets WHERE resident_code = ?)";
      text.push_back(*q.target);
      is_int.push_back(false);
    }
    if (q.from_time) {
      sql += " AND e.time >= ?";
      ints.push_back(*q.from_time);
      is_int.push_back(true);
    }
    if (q.to_time) {
      sql += " AND e.time < ?";
      ints.push_back(*q.to_time);
      is_int.push_back(true);
    }
    for (const auto* f : {&q.actor, &q.action, &q.purpose}) {
      if (*f) {
        sql += f == &q.actor ? " AND e.actor = ?" : f == &q.action ? " AND e.action = ?"
                                                                    : " AND e.purpose = ?";
        text.push_back(**f);
        is_int.push_back(false);
      }
    }
    sql += " ORDER BY e.seq LIMIT ?";
    auto prepared = db_->PrepareText(sql);
    if (!prepared.ok()) return prepared.status();
    Stmt& s = **prepared;
    int i = 1;
    size_t ti = 0, ii = 0;
    for (bool b : is_int) {
      if (b) {
        s.Bind(i++, ints[ii++]);
      } else {
        s.Bind(i++, text[ti++]);
      }
    }
    s.Bind(i, int64_t{q.limit});
    std::vector<AuditRow> out;
    Status st;
    while (s.Step(&st)) out.push_back(ReadAudit(s));
    s.Reset();
    if (!st.ok()) return st;
    return out;
  }

  Result<std::vector<ProvisionRow>> Provisions(const std::string& resident_code) override {
    return QueryProvisions(kProvisionsOf, [&](Stmt& s) { s.Bind(1, resident_code); });
  }

  Result<std::optional<ClientRow>> FindClient(const std::string& spki) override {
    return QueryClient(db_.get(), spki);
  }
  Result<std::vector<ClientRow>> ListClients() override { return QueryClients(db_.get()); }
  Result<std::optional<std::string>> GetMeta(const std::string& key) override {
    return QueryMeta(db_.get(), key);
  }

  Result<std::optional<OperatorRow>> FindOperator(const std::string& id) override {
    return QueryOperator(db_.get(), id);
  }
  Result<std::vector<OperatorRow>> ListOperators() override {
    return QueryAll<OperatorRow>(db_.get(), kListOperators, [](Stmt&) {}, ReadOperator);
  }
  Result<std::vector<std::string>> OperatorRoles(const std::string& id) override {
    return QueryRoles(db_.get(), id);
  }
  Result<std::vector<NominationRow>> Nominations(const std::string& id) override {
    return QueryNominations(db_.get(), id);
  }
  Result<std::vector<CredentialRow>> Credentials(const std::string& id) override {
    return QueryAll<CredentialRow>(db_.get(), kCredentialsOf, [&](Stmt& s) { s.Bind(1, id); },
                                   ReadCredential);
  }
  Result<std::optional<CredentialRow>> FindCredential(const std::string& id) override {
    return QueryCredential(db_.get(), id);
  }
  Result<std::optional<RoleRequestRow>> FindRoleRequest(int64_t id) override {
    return QueryRoleRequest(db_.get(), id);
  }
  Result<std::optional<EnrolmentRow>> FindEnrolment(const std::string& hash) override {
    return QueryEnrolment(db_.get(), hash);
  }

  Result<std::vector<ProvisionRow>> ProvisionsOfEntry(int64_t audit_seq) override {
    return QueryProvisions(kProvisionsOfEntry, [&](Stmt& s) { s.Bind(1, audit_seq); });
  }

  Result<int64_t> CountProvisionsFromEntry(int64_t seq) override {
    return CountFrom(kCountProvisionsFromEntry, seq);
  }

  Result<int64_t> CountAuditTargetsFrom(int64_t seq) override {
    return CountFrom(kCountAuditTargetsFrom, seq);
  }

 private:
  Result<int64_t> CountFrom(const char* sql, int64_t seq) {
    KAKUNIN_PREPARE(s, db_.get(), sql);
    s.Bind(1, seq);
    Status st;
    int64_t n = s.Step(&st) ? s.Int(0) : 0;
    s.Reset();
    if (!st.ok()) return st;
    return n;
  }

  Result<std::vector<ProvisionRow>> QueryProvisions(const char* sql,
                                                    const std::function<void(Stmt&)>& bind) {
    KAKUNIN_PREPARE(s, db_.get(), sql);
    bind(s);
    std::vector<ProvisionRow> out;
    Status st;
    while (s.Step(&st)) {
      ProvisionRow p;
      p.resident_code = s.Text(0);
      p.provided_at = s.Int(1);
      p.function = s.Text(2);
      p.purpose = s.Text(3);
      p.provision_kind = s.Text(4);
      p.number_provided = s.Int(5) != 0;
      p.source = s.Text(6);
      p.recipient = s.Text(7);
      p.items = s.Text(8);
      p.audit_seq = s.Int(9);
      out.push_back(std::move(p));
    }
    s.Reset();
    if (!st.ok()) return st;
    return out;
  }

  std::unique_ptr<Db> db_;
};

class SqliteTxn final : public RegistryTxn {
 public:
  explicit SqliteTxn(Db* db) : db_(db) {}

  // Savepoint statements are prepared once per depth and reused: one per notification.
  Status Savepoint() override {
    KAKUNIN_RETURN_IF_ERROR(Run("SAVEPOINT sp" + std::to_string(depth_ + 1)));
    ++depth_;
    return Status::Ok();
  }
  Status RollbackToSavepoint() override {
    std::string name = "sp" + std::to_string(depth_--);
    KAKUNIN_RETURN_IF_ERROR(Run("ROLLBACK TO " + name));
    return Run("RELEASE " + name);
  }
  Status ReleaseSavepoint() override { return Run("RELEASE sp" + std::to_string(depth_--)); }

  Result<int64_t> LastSequence(const std::string& municipality) override {
    KAKUNIN_PREPARE(s, db_, kLastSequence);
    s.Bind(1, municipality);
    Status st;
    int64_t last = 0;
    if (s.Step(&st)) last = s.Int(0);
    s.Reset();
    if (!st.ok()) return st;
    return last;
  }

  Result<std::optional<std::string>> AppliedMac(const std::string& municipality,
                                                int64_t sequence) override {
    KAKUNIN_PREPARE(s, db_, kAppliedMac);
    s.Bind(1, municipality).Bind(2, sequence);
    Status st;
    std::optional<std::string> mac;
    if (s.Step(&st)) mac = s.Blob(0);
    s.Reset();
    if (!st.ok()) return st;
    return mac;
  }

  Status RecordApplied(const std::string& municipality, int64_t sequence,
                       const std::string& payload_mac, int64_t applied_at) override {
    KAKUNIN_PREPARE(s, db_, kRecordApplied);
    return s.Bind(1, municipality).Bind(2, sequence).BindBlob(3, payload_mac).Bind(4, applied_at)
        .Exec();
  }

  Result<std::optional<ResidentRow>> FindByResidentCode(const std::string& code) override {
    return QueryResident(db_, kResidentByCode, code);
  }

  Result<std::optional<ResidentRow>> FindByAnyResidentCode(const std::string& code) override {
    return FindByAnyCode(db_, code);
  }

  Status AddExpectedMoveOut(int64_t person_id, const std::string& municipality) override {
    KAKUNIN_PREPARE(s, db_, kAddExpectedMoveOut);
    return s.Bind(1, person_id).Bind(2, municipality).Exec();
  }

  Result<bool> TakeExpectedMoveOut(int64_t person_id, const std::string& municipality) override {
    KAKUNIN_PREPARE(s, db_, kTakeExpectedMoveOut);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, person_id).Bind(2, municipality).Exec());
    return db_->Changes() > 0;
  }

  Result<bool> IsResidentCodeKnown(const std::string& code) override {
    KAKUNIN_PREPARE(s, db_, kCodeKnown);
    s.Bind(1, code);
    Status st;
    bool known = s.Step(&st) && s.Int(0) != 0;
    s.Reset();
    if (!st.ok()) return st;
    return known;
  }

  Result<std::optional<VersionRow>> Version(int64_t version_id) override {
    return QueryOne<VersionRow>(db_, kVersionById, [&](Stmt& s) { s.Bind(1, version_id); },
                                ReadVersion);
  }

  Result<bool> NumberHeldByOther(const std::string& mac, int64_t except_person) override {
    KAKUNIN_PREPARE(s, db_, kNumberHeldByOther);
    s.BindBlob(1, mac).Bind(2, except_person);
    Status st;
    bool held = s.Step(&st) && s.Int(0) != 0;
    s.Reset();
    if (!st.ok()) return st;
    return held;
  }

  Result<int64_t> InsertResident(const ResidentRow& row) override {
    KAKUNIN_PREPARE(s, db_, kInsertResident);
    BindResident(s, row);
    KAKUNIN_RETURN_IF_ERROR(s.Exec());
    return db_->LastInsertRowId();
  }

  Status UpdateResident(const ResidentRow& row) override {
    KAKUNIN_PREPARE(s, db_, kUpdateResident);
    BindResident(s, row);
    s.Bind(16, row.person_id);
    return s.Exec();
  }

  Result<int64_t> InsertVersion(const VersionRow& v) override {
    KAKUNIN_PREPARE(s, db_, kInsertVersion);
    s.Bind(1, v.person_id)
        .Bind(2, v.municipality_code)
        .Bind(3, v.sequence)
        .Bind(4, v.kind)
        .Bind(5, v.reason)
        .Bind(6, v.change_date)
        .Bind(7, v.resident_code)
        .BindBlob(8, v.sealed_number)
        .Bind(9, v.name)
        .BindOptional(10, v.name_kana)
        .BindOptional(11, v.former_surname)
        .BindOptional(12, v.alias)
        .Bind(13, v.sex)
        .Bind(14, v.birth_date)
        .Bind(15, v.address)
        .BindOptional(16, v.new_resident_code)
        .Bind(17, v.applied_at)
        .Bind(18, v.superseded_at);
    KAKUNIN_RETURN_IF_ERROR(s.Exec());
    return db_->LastInsertRowId();
  }

  Status SetResidentVersion(int64_t person_id, int64_t version_id) override {
    KAKUNIN_PREPARE(s, db_, kSetResidentVersion);
    return s.Bind(1, person_id).Bind(2, version_id).Exec();
  }

  Status MarkSuperseded(int64_t version_id, int64_t at) override {
    KAKUNIN_PREPARE(s, db_, kMarkSuperseded);
    return s.Bind(1, version_id).Bind(2, at).Exec();
  }

  Status RecordCodeChange(const std::string& old_code, const std::string& new_code,
                          int64_t person_id, int64_t at) override {
    KAKUNIN_PREPARE(s, db_, kRecordCodeChange);
    return s.Bind(1, old_code).Bind(2, new_code).Bind(3, person_id).Bind(4, at).Exec();
  }

  Status EnqueueOutbox(int64_t version_id, int64_t at) override {
    KAKUNIN_PREPARE(s, db_, kEnqueueOutbox);
    return s.Bind(1, version_id).Bind(2, at).Exec();
  }

  Result<int64_t> AuditSize() override { return QueryInt(db_, kAuditSize); }

  Status InsertAuditEntry(const AuditRow& a, const std::vector<std::string>& targets) override {
    {
      KAKUNIN_PREPARE(s, db_, kInsertAuditEntry);
      s.Bind(1, a.seq).Bind(2, a.time).Bind(3, a.actor).Bind(4, a.action).Bind(5, a.purpose);
      if (a.payload) {
        s.BindBlob(6, *a.payload);
      } else {
        s.BindNull(6);
      }
      s.BindBlob(7, a.leaf_hash);
      KAKUNIN_RETURN_IF_ERROR(s.Exec());
    }
    for (const auto& t : targets) {
      KAKUNIN_PREPARE(s, db_, kInsertAuditTarget);
      KAKUNIN_RETURN_IF_ERROR(s.Bind(1, t).Bind(2, a.seq).Exec());
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> AuditNode(uint32_t level, int64_t index) override {
    return QueryNode(db_, level, index);
  }

  Status PutAuditNode(uint32_t level, int64_t index, const std::string& hash) override {
    KAKUNIN_PREPARE(s, db_, kPutAuditNode);
    return s.Bind(1, int64_t{level}).Bind(2, index).BindBlob(3, hash).Exec();
  }

  Status InsertCheckpoint(const CheckpointRow& c) override {
    KAKUNIN_PREPARE(s, db_, kInsertCheckpoint);
    return s.Bind(1, c.tree_size).BindBlob(2, c.root).Bind(3, c.time).Bind(4, c.key_id)
        .BindBlob(5, c.signature).Exec();
  }

  Result<std::optional<CheckpointRow>> LatestCheckpoint() override {
    KAKUNIN_PREPARE(s, db_, kLatestCheckpoint);
    Status st;
    std::optional<CheckpointRow> c;
    if (s.Step(&st)) c = ReadCheckpoint(s);
    s.Reset();
    if (!st.ok()) return st;
    return c;
  }

  Status InsertProvision(const ProvisionRow& p) override {
    KAKUNIN_PREPARE(s, db_, kInsertProvision);
    return s.Bind(1, p.resident_code).Bind(2, p.provided_at).Bind(3, p.function)
        .Bind(4, p.purpose).Bind(5, p.provision_kind).Bind(6, int64_t{p.number_provided})
        .Bind(7, p.source).Bind(8, p.recipient).Bind(9, p.items).Bind(10, p.audit_seq).Exec();
  }

  Result<int64_t> AuditLastTime() override { return QueryInt(db_, kAuditLastTime); }

  Status InsertClient(const ClientRow& c) override {
    KAKUNIN_PREPARE(s, db_, kInsertClient);
    return s.Bind(1, c.spki_sha256).Bind(2, c.kind).Bind(3, c.name).Bind(4, c.municipality_code)
        .Bind(5, c.recipient).Bind(6, c.purposes).Bind(7, c.registered_at).Exec();
  }

  Result<bool> RevokeClient(const std::string& spki, int64_t at) override {
    KAKUNIN_PREPARE(s, db_, kRevokeClient);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, spki).Bind(2, at).Exec());
    return db_->Changes() == 1;
  }

  Result<std::optional<std::string>> GetMeta(const std::string& key) override {
    return QueryMeta(db_, key);
  }

  Status SetMeta(const std::string& key, const std::string& value) override {
    KAKUNIN_PREPARE(s, db_, kSetMeta);
    return s.Bind(1, key).Bind(2, value).Exec();
  }

  Status DeleteMeta(const std::string& key) override {
    KAKUNIN_PREPARE(s, db_, kDeleteMeta);
    return s.Bind(1, key).Exec();
  }

  Result<std::optional<OperatorRow>> FindOperator(const std::string& id) override {
    return QueryOperator(db_, id);
  }
  Result<std::vector<NominationRow>> Nominations(const std::string& id) override {
    return QueryNominations(db_, id);
  }
  Result<std::optional<ClientRow>> FindClient(const std::string& spki) override {
    return QueryClient(db_, spki);
  }
  Result<std::vector<std::string>> OperatorRoles(const std::string& id) override {
    return QueryRoles(db_, id);
  }
  Result<int64_t> CountOperators() override { return QueryInt(db_, kCountOperators); }
  Status InsertOperator(const OperatorRow& o) override {
    KAKUNIN_PREPARE(s, db_, kInsertOperator);
    return s.Bind(1, o.operator_id).Bind(2, o.name).Bind(3, o.unit).Bind(4, o.status)
        .Bind(5, o.password_hash).Bind(6, o.created_at).Bind(7, o.created_by).Exec();
  }
  Status SetOperatorStatus(const std::string& id, const std::string& status) override {
    KAKUNIN_PREPARE(s, db_, kSetOperatorStatus);
    return s.Bind(1, id).Bind(2, status).Exec();
  }
  Status SetOperatorPassword(const std::string& id, const std::string& hash) override {
    KAKUNIN_PREPARE(s, db_, kSetOperatorPassword);
    return s.Bind(1, id).Bind(2, hash).Exec();
  }
  Status SetLoginState(const std::string& id, int64_t failed, int64_t until) override {
    KAKUNIN_PREPARE(s, db_, kSetLoginState);
    return s.Bind(1, id).Bind(2, failed).Bind(3, until).Exec();
  }
  Status InsertRole(const std::string& id, const std::string& role, int64_t at,
                    const std::string& by) override {
    KAKUNIN_PREPARE(s, db_, kInsertRole);
    return s.Bind(1, id).Bind(2, role).Bind(3, at).Bind(4, by).Exec();
  }
  Result<int64_t> InsertRoleRequest(const RoleRequestRow& r) override {
    KAKUNIN_PREPARE(s, db_, kInsertRoleRequest);
    KAKUNIN_RETURN_IF_ERROR(
        s.Bind(1, r.operator_id).Bind(2, r.role).Bind(3, r.requested_by).Bind(4, r.requested_at)
            .Exec());
    return db_->LastInsertRowId();
  }
  Result<std::optional<RoleRequestRow>> FindRoleRequest(int64_t id) override {
    return QueryRoleRequest(db_, id);
  }
  Result<bool> ApproveRoleRequest(int64_t id, const std::string& by, int64_t at) override {
    KAKUNIN_PREPARE(s, db_, kApproveRoleRequest);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, id).Bind(2, by).Bind(3, at).Exec());
    return db_->Changes() == 1;
  }
  Status InsertNomination(const NominationRow& n) override {
    KAKUNIN_PREPARE(s, db_, kInsertNomination);
    return s.Bind(1, n.operator_id).Bind(2, n.purpose).Bind(3, n.valid_from).Bind(4, n.valid_to)
        .Bind(5, n.nominated_by).Bind(6, n.nominated_at).Exec();
  }
  Status InsertCredential(const CredentialRow& c) override {
    KAKUNIN_PREPARE(s, db_, kInsertCredential);
    return s.BindBlob(1, c.credential_id).Bind(2, c.operator_id).Bind(3, c.kind).Bind(4, c.alg)
        .BindBlob(5, c.public_key).Bind(6, c.sign_count).Bind(7, c.created_at).Exec();
  }
  Result<std::optional<CredentialRow>> FindCredential(const std::string& id) override {
    return QueryCredential(db_, id);
  }
  Status SetSignCount(const std::string& id, int64_t count) override {
    KAKUNIN_PREPARE(s, db_, kSetSignCount);
    return s.BindBlob(1, id).Bind(2, count).Exec();
  }
  Status InsertEnrolment(const EnrolmentRow& e) override {
    KAKUNIN_PREPARE(s, db_, kInsertEnrolment);
    return s.BindBlob(1, e.token_hash).Bind(2, e.operator_id).Bind(3, e.expires_at).Exec();
  }
  Result<std::optional<EnrolmentRow>> FindEnrolment(const std::string& hash) override {
    return QueryEnrolment(db_, hash);
  }
  Result<bool> UseEnrolment(const std::string& hash, int64_t at) override {
    KAKUNIN_PREPARE(s, db_, kUseEnrolment);
    KAKUNIN_RETURN_IF_ERROR(s.BindBlob(1, hash).Bind(2, at).Exec());
    return db_->Changes() == 1;
  }
  Status RevokeEnrolments(const std::string& id, int64_t at) override {
    KAKUNIN_PREPARE(s, db_, kRevokeEnrolments);
    return s.Bind(1, id).Bind(2, at).Exec();
  }
  Result<bool> AdvanceSignCount(const std::string& id, int64_t count) override {
    KAKUNIN_PREPARE(s, db_, kAdvanceSignCount);
    KAKUNIN_RETURN_IF_ERROR(s.BindBlob(1, id).Bind(2, count).Exec());
    return db_->Changes() == 1;
  }
  Result<std::optional<int64_t>> ClaimLoginAttempt(const std::string& id, int64_t now,
                                                   int64_t max_attempts,
                                                   int64_t lock_until) override {
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
  Result<int64_t> CountActiveWithRole(const std::string& role) override {
    KAKUNIN_PREPARE(s, db_, kCountActiveWithRole);
    s.Bind(1, role);
    Status st;
    int64_t n = s.Step(&st) ? s.Int(0) : 0;
    s.Reset();
    if (!st.ok()) return st;
    return n;
  }
  Result<bool> IsClientKey(const std::string& spki) override {
    KAKUNIN_PREPARE(s, db_, kIsClientKey);
    s.Bind(1, spki);
    Status st;
    int64_t n = s.Step(&st) ? s.Int(0) : 0;
    s.Reset();
    if (!st.ok()) return st;
    return n > 0;
  }

  Result<AuditErasure> EraseAuditBefore(int64_t time, bool dry_run) override {
    AuditErasure out;
    Status st;
    {
      KAKUNIN_PREPARE(k, db_, kAuditKeepFrom);
      k.Bind(1, time);
      out.before_seq = k.Step(&st) ? k.Int(0) : 0;
      k.Reset();
      KAKUNIN_RETURN_IF_ERROR(st);
    }
    if (dry_run) {
      KAKUNIN_PREPARE(a, db_, kCountAuditPayloadsBefore);
      a.Bind(1, out.before_seq);
      out.entries = a.Step(&st) ? a.Int(0) : 0;
      a.Reset();
      KAKUNIN_RETURN_IF_ERROR(st);
      KAKUNIN_PREPARE(p, db_, kCountProvisionsBefore);
      p.Bind(1, time);
      out.provisions = p.Step(&st) ? p.Int(0) : 0;
      p.Reset();
      KAKUNIN_RETURN_IF_ERROR(st);
      return out;
    }
    {
      KAKUNIN_PREPARE(s, db_, kEraseAuditTargets);
      KAKUNIN_RETURN_IF_ERROR(s.Bind(1, out.before_seq).Exec());
    }
    {
      KAKUNIN_PREPARE(s, db_, kEraseAuditPayloads);
      KAKUNIN_RETURN_IF_ERROR(s.Bind(1, out.before_seq).Exec());
      out.entries = db_->Changes();
    }
    {
      KAKUNIN_PREPARE(s, db_, kErasePastProvisions);
      KAKUNIN_RETURN_IF_ERROR(s.Bind(1, time).Exec());
      out.provisions = db_->Changes();
    }
    return out;
  }

  Result<PurgeCounts> Purge(int64_t superseded_before, int64_t removed_before,
                            bool dry_run) override {
    PurgeCounts c;
    {
      KAKUNIN_PREPARE(s, db_, kCountSuperseded);
      s.Bind(1, superseded_before).Bind(2, removed_before);
      Status st;
      if (s.Step(&st)) c.superseded_versions = s.Int(0);
      s.Reset();
      KAKUNIN_RETURN_IF_ERROR(st);
    }
    {
      KAKUNIN_PREPARE(s, db_, kCountRemoved);
      s.Bind(1, removed_before);
      Status st;
      if (s.Step(&st)) {
        c.removed_residents = s.Int(0);
        c.removed_resident_versions = s.Int(1);
      }
      s.Reset();
      KAKUNIN_RETURN_IF_ERROR(st);
    }
    if (dry_run) return c;
    {
      KAKUNIN_PREPARE(s, db_, kDeleteSuperseded);
      KAKUNIN_RETURN_IF_ERROR(s.Bind(1, superseded_before).Bind(2, removed_before).Exec());
    }
    for (const char* sql : {kDeleteRemovedVersions, kDeleteRemovedExpectedMoveOuts,
                            kDeleteRemovedCodeChanges, kDeleteRemovedResidents}) {
      KAKUNIN_PREPARE(s, db_, sql);
      KAKUNIN_RETURN_IF_ERROR(s.Bind(1, removed_before).Exec());
    }
    return c;
  }

 private:
  Status Run(const std::string& sql) {
    auto s = db_->PrepareText(sql);
    if (!s.ok()) return s.status();
    return (*s)->Exec();
  }

  Db* db_;
  int depth_ = 0;
};

class SqliteRegistryStore final : public RegistryStore {
 public:
  SqliteRegistryStore(std::string path, std::unique_ptr<Db> writer)
      : path_(std::move(path)), writer_(std::move(writer)) {}

  Status Write(const std::function<Status(RegistryTxn&)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto txn = Txn::Begin(writer_.get());
    if (!txn.ok()) return txn.status();
    SqliteTxn t(writer_.get());
    Status st = fn(t);
    if (!st.ok()) return st;  // ~Txn rolls back
    return (*txn)->Commit();
  }

  Result<std::unique_ptr<RegistryReader>> OpenReader() override {
    auto db = Db::Open(path_, /*create=*/false, /*read_only=*/true);
    if (!db.ok()) return db.status();
    return std::unique_ptr<RegistryReader>(new SqliteReader(std::move(*db)));
  }

  Result<std::optional<std::string>> GetMeta(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    KAKUNIN_PREPARE(s, writer_.get(), kGetMeta);
    s.Bind(1, key);
    Status st;
    std::optional<std::string> v;
    if (s.Step(&st)) v = s.Text(0);
    s.Reset();
    if (!st.ok()) return st;
    return v;
  }

  Status SetMeta(const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lock(mu_);
    KAKUNIN_PREPARE(s, writer_.get(), kSetMeta);
    return s.Bind(1, key).Bind(2, value).Exec();
  }

  Status CheckIntegrity() override {
    std::lock_guard<std::mutex> lock(mu_);
    KAKUNIN_PREPARE(s, writer_.get(), "PRAGMA integrity_check");
    Status st;
    std::string first;
    if (s.Step(&st)) first = s.Text(0);
    s.Reset();
    KAKUNIN_RETURN_IF_ERROR(st);
    if (first != "ok") return Status::DataLoss("integrity check failed");
    return Status::Ok();
  }

 private:
  std::mutex mu_;
  std::string path_;
  std::unique_ptr<Db> writer_;
};

Status Migrate(Db* db) {
  KAKUNIN_RETURN_IF_ERROR(db->Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "applied_at TEXT NOT NULL) STRICT"));
  int current = 0;
  {
    KAKUNIN_PREPARE(s, db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    Status st;
    if (s.Step(&st)) current = static_cast<int>(s.Int(0));
    s.Reset();
    KAKUNIN_RETURN_IF_ERROR(st);
  }
  if (current > LatestSchemaVersion()) {
    return Status::FailedPrecondition("database schema is newer than this build");
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= current) continue;
    auto txn = Txn::Begin(db);
    if (!txn.ok()) return txn.status();
    KAKUNIN_RETURN_IF_ERROR(db->Exec(m.sql));
    KAKUNIN_PREPARE(s, db,
                    "INSERT INTO schema_migrations (version, applied_at) "
                    "VALUES (?1, datetime('now'))");
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, int64_t{m.version}).Exec());
    KAKUNIN_RETURN_IF_ERROR((*txn)->Commit());
  }
  return Status::Ok();
}

}  // namespace

int LatestSchemaVersion() {
  int v = 0;
  for (const Migration& m : kMigrations) v = std::max(v, m.version);
  return v;
}

Result<std::unique_ptr<RegistryStore>> OpenRegistryStore(const std::string& path, bool create) {
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && !create) return Status::NotFound("registry database not found (run kakunin init)");
  auto db = Db::Open(path, create, /*read_only=*/false);
  if (!db.ok()) return db.status();
  if (exists) {
    // Refuse files that are not ours before changing anything in them.
    auto s = (*db)->Prepare(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'");
    if (!s.ok()) return s.status();
    Status step;
    bool ours = (*s)->Step(&step) && (*s)->Int(0) == 1;
    (*s)->Reset();
    KAKUNIN_RETURN_IF_ERROR(step);
    if (!ours && !create) return Status::DataLoss("not a Kakunin registry database");
  }
  KAKUNIN_RETURN_IF_ERROR(Migrate(db->get()));
  return std::unique_ptr<RegistryStore>(new SqliteRegistryStore(path, std::move(*db)));
}

}  // namespace kakunin::store::sqlite
