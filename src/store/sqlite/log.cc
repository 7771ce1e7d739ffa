// The operation log on SQLite: entries, tree nodes, checkpoints, the target index and provision
// records (store/audit_store.h).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

// The most of the file ScanAuditEntries maps (SQLite's own ceiling is 2 GiB by default).
constexpr int64_t kScanMmapBytes = int64_t{1} << 30;

// The append path's one read: the size and the newest entry's time.
constexpr char kAuditTail[] = "SELECT seq + 1, time FROM audit_entries ORDER BY seq DESC LIMIT 1";
constexpr char kAuditTargetsFrom[] =
    "SELECT seq, leaf_hash, targets FROM audit_entries WHERE seq >= ?1 AND targets IS NOT NULL "
    "ORDER BY seq";

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

ResidentHeadRow ReadHead(const Stmt& s) {
  return ResidentHeadRow{s.Blob(0), s.Int(1), s.Blob(2), s.Int(3)};
}

Result<std::optional<ResidentHeadRow>> QueryHead(Db* db, const std::string& key) {
  KAKUNIN_PREPARE(s, db, kGetResidentHead);
  s.BindBlob(1, key);
  Status st;
  std::optional<ResidentHeadRow> out;
  if (s.Step(&st)) out = ReadHead(s);
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<MapNodeRow>> QueryMapNode(Db* db, uint32_t depth, const std::string& prefix) {
  KAKUNIN_PREPARE(s, db, kGetMapNode);
  s.Bind(1, int64_t{depth}).BindBlob(2, prefix);
  Status st;
  std::optional<MapNodeRow> out;
  if (s.Step(&st)) out = MapNodeRow{s.Blob(0), s.IsNull(1) ? std::string() : s.Blob(1)};
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

struct SqliteNodeCursor final : public NodeCursor {
  SqliteNodeCursor(Db* db, sqlite3_stmt* raw) : stmt(db, raw) {}
  bool Next(int64_t* index, std::string* hash, Status* status) override {
    if (!stmt.Step(status)) return false;
    *index = stmt.Int(0);
    // Assigned in place: the verifier reads every node through one cursor per level, and a
    // fresh string per node was a heap allocation each.
    hash->assign(stmt.BlobView(1));
    return true;
  }
  Stmt stmt;
};

}  // namespace

Result<int64_t> SqliteReader::AuditSize() { return QueryInt(db_.get(), kAuditSize); }

Result<std::optional<std::string>> SqliteReader::AuditNode(uint32_t level, int64_t index) {
  return QueryNode(db_.get(), level, index);
}

Status SqliteReader::ForEachAuditEntry(int64_t from_seq, const std::function<bool(AuditRow&)>& fn) {
  // Own statement (not the cache): callers may run other queries inside `fn`.
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_->raw(), kAuditEntriesFrom, -1, &raw, nullptr) != SQLITE_OK) {
    return db_->LastError("prepare");
  }
  Stmt s(db_.get(), raw);
  s.Bind(1, from_seq).Bind(2, int64_t{-1});
  Status st;
  while (s.Step(&st)) {
    AuditRow row = ReadAudit(s);
    if (!fn(row)) break;
  }
  return st;
}

Status SqliteReader::ScanAuditEntries(int64_t from_seq,
                                      const std::function<bool(const AuditRowView&)>& fn) {
  // Own statement, as ForEachAuditEntry; the views point into SQLite's row buffers. The walk
  // reads the whole table once: through a memory map of the file (the kernel's page cache
  // either way, not this process's heap), a page costs no read() and no copy. The main file
  // never shrinks (no VACUUM), so the map cannot lose pages under the walk. The map is dropped
  // again when the walk ends: a disk error under a mapped page is a signal, not an error code
  // (SQLite's mmap notes), so only this one scan, not every later read of a pooled reader,
  // takes that risk.
  KAKUNIN_RETURN_IF_ERROR(db_->Exec("PRAGMA mmap_size=" + std::to_string(kScanMmapBytes)));
  struct Unmap {
    Db* db;
    ~Unmap() { (void)db->Exec("PRAGMA mmap_size=0"); }
  } unmap{db_.get()};
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_->raw(), kAuditEntriesFrom, -1, &raw, nullptr) != SQLITE_OK) {
    return db_->LastError("prepare");
  }
  Stmt s(db_.get(), raw);
  s.Bind(1, from_seq).Bind(2, int64_t{-1});
  auto view = [raw](int col, bool text) {
    const void* p = text ? static_cast<const void*>(sqlite3_column_text(raw, col))
                         : sqlite3_column_blob(raw, col);
    const int n = sqlite3_column_bytes(raw, col);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(n))
             : std::string_view();
  };
  Status st;
  AuditRowView row;
  while (s.Step(&st)) {
    row.seq = sqlite3_column_int64(raw, 0);
    row.time = sqlite3_column_int64(raw, 1);
    row.actor = view(2, true);
    row.action = view(3, true);
    row.purpose = view(4, true);
    row.has_payload = sqlite3_column_type(raw, 5) != SQLITE_NULL;
    row.payload = row.has_payload ? view(5, false) : std::string_view();
    row.leaf_hash = view(6, false);
    row.has_targets = sqlite3_column_type(raw, 7) != SQLITE_NULL;
    row.targets = row.has_targets ? view(7, false) : std::string_view();
    if (!fn(row)) break;
  }
  return st;
}

Result<std::optional<ResidentHeadRow>> SqliteReader::ResidentHead(const std::string& key) {
  return QueryHead(db_.get(), key);
}

Result<std::optional<MapNodeRow>> SqliteReader::MapNode(uint32_t depth, const std::string& prefix) {
  return QueryMapNode(db_.get(), depth, prefix);
}

Result<std::vector<std::string>> SqliteReader::ResidentKeysWithoutEntries() {
  KAKUNIN_PREPARE(s, db_.get(), kResidentKeysWithoutEntries);
  Status st;
  std::vector<std::string> out;
  while (s.Step(&st)) out.push_back(s.Blob(0));
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<ResidentHeadRow>> SqliteReader::ResidentHeadsAfter(const std::string& after,
                                                                     int64_t limit) {
  return QueryAll<ResidentHeadRow>(
      db_.get(), kResidentHeadsAfter, [&](Stmt& s) { s.BindBlob(1, after).Bind(2, limit); },
      ReadHead);
}

Result<std::vector<MapNodeAt>> SqliteReader::MapNodesAfter(bool first, uint32_t after_depth,
                                                          const std::string& after_prefix,
                                                          int64_t limit) {
  return QueryAll<MapNodeAt>(
      db_.get(), first ? kMapNodesFirst : kMapNodesAfter,
      [&](Stmt& s) {
        if (first) {
          s.Bind(1, limit);
        } else {
          s.Bind(1, int64_t{after_depth}).BindBlob(2, after_prefix).Bind(3, limit);
        }
      },
      [](Stmt& s) {
        return MapNodeAt{static_cast<uint32_t>(s.Int(0)), s.Blob(1),
                         MapNodeRow{s.Blob(2), s.IsNull(3) ? std::string() : s.Blob(3)}};
      });
}

Status SqliteReader::ForEachAuditTarget(
    int64_t from_seq, const std::function<bool(std::string_view, int64_t)>& fn) {
  KAKUNIN_PREPARE(s, db_.get(), kAuditTargetRowsFrom);
  s.Bind(1, from_seq);
  Status st;
  while (s.Step(&st)) {
    if (!fn(s.BlobView(0), s.Int(1))) break;
  }
  s.Reset();
  return st;
}

Result<int64_t> SqliteReader::CountStrayAuditNodes(int64_t size) {
  if (size < 0) return Status::InvalidArgument("a log size is not negative");
  int64_t n = 0;
  {
    KAKUNIN_PREPARE(s, db_.get(), kCountAuditNodesOutsideLevels);
    Status st;
    n += s.Step(&st) ? s.Int(0) : 0;
    s.Reset();
    if (!st.ok()) return st;
  }
  for (int64_t level = 1; level <= 62; ++level) {
    KAKUNIN_PREPARE(s, db_.get(), kCountAuditNodesBeyond);
    s.Bind(1, level).Bind(2, size >> level);
    Status st;
    n += s.Step(&st) ? s.Int(0) : 0;
    s.Reset();
    if (!st.ok()) return st;
  }
  return n;
}

Result<std::unique_ptr<NodeCursor>> SqliteReader::AuditNodes(uint32_t level) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_->raw(), kAuditNodesOfLevel, -1, &raw, nullptr) != SQLITE_OK) {
    return db_->LastError("prepare");
  }
  auto c = std::make_unique<SqliteNodeCursor>(db_.get(), raw);
  c->stmt.Bind(1, int64_t{level});
  return std::unique_ptr<NodeCursor>(std::move(c));
}

Result<std::vector<CheckpointRow>> SqliteReader::Checkpoints() {
  KAKUNIN_PREPARE(s, db_.get(), kAllCheckpoints);
  std::vector<CheckpointRow> out;
  Status st;
  while (s.Step(&st)) out.push_back(ReadCheckpoint(s));
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<AuditRow>> SqliteReader::SearchAudit(const AuditQuery& q) {
  // Assembled from constant fragments; every value bound.
  std::string sql =
      "SELECT e.seq, e.time, e.actor, e.action, e.purpose, e.payload, e.leaf_hash, e.targets "
      "FROM audit_entries e WHERE 1";
  std::vector<std::string> text;
  std::vector<int64_t> ints;
  std::vector<bool> is_int;
  if (q.target) {
    sql += " AND e.seq IN (SELECT seq FROM audit_targets WHERE resident_code = ?)";
    text.push_back(*q.target);
    is_int.push_back(false);
  }
  if (q.from_seq) {
    sql += " AND e.seq >= ?";
    ints.push_back(*q.from_seq);
    is_int.push_back(true);
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
      sql += f == &q.actor    ? " AND e.actor = ?"
             : f == &q.action ? " AND e.action = ?"
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

Result<std::vector<AuditRow>> SqliteReader::KeyAnnouncements(int limit) {
  // The literal matches the partial index audit_entries_key_announcements (migration 9); a
  // bound parameter would not let the planner use it.
  static_assert(kKeyAnnouncementAction == "key.signing.rotate");
  return QueryAll<AuditRow>(
      db_.get(), kKeyAnnouncements, [&](Stmt& s) { s.Bind(1, int64_t{limit}); }, ReadAudit);
}

Result<std::vector<ProvisionRow>> SqliteReader::Provisions(const std::string& resident_code) {
  return QueryProvisions(kProvisionsOf, [&](Stmt& s) { s.Bind(1, resident_code); });
}

Result<std::vector<ProvisionRow>> SqliteReader::ProvisionsOfEntry(int64_t audit_seq) {
  return QueryProvisions(kProvisionsOfEntry, [&](Stmt& s) { s.Bind(1, audit_seq); });
}

Result<int64_t> SqliteReader::CountProvisionsFromEntry(int64_t seq) {
  return CountFrom(kCountProvisionsFromEntry, seq);
}

Result<int64_t> SqliteReader::CountAuditTargetsFrom(int64_t seq) {
  return CountFrom(kCountAuditTargetsFrom, seq);
}

Result<int64_t> SqliteReader::CountFrom(const char* sql, int64_t seq) {
  KAKUNIN_PREPARE(s, db_.get(), sql);
  s.Bind(1, seq);
  Status st;
  int64_t n = s.Step(&st) ? s.Int(0) : 0;
  s.Reset();
  if (!st.ok()) return st;
  return n;
}

Result<std::vector<ProvisionRow>> SqliteReader::QueryProvisions(
    const char* sql, const std::function<void(Stmt&)>& bind) {
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

Result<int64_t> SqliteTxn::AuditSize() { return QueryInt(db_, kAuditSize); }

Status SqliteTxn::InsertAuditEntry(const AuditRow& a, const std::vector<std::string>& targets) {
  {
    KAKUNIN_PREPARE(s, db_, kInsertAuditEntry);
    s.Bind(1, a.seq).Bind(2, a.time).Bind(3, a.actor).Bind(4, a.action).Bind(5, a.purpose);
    if (a.payload) {
      s.BindBlob(6, *a.payload);
    } else {
      s.BindNull(6);
    }
    s.BindBlob(7, a.leaf_hash);
    if (a.targets) {
      s.BindBlob(8, *a.targets);
    } else {
      s.BindNull(8);
    }
    KAKUNIN_RETURN_IF_ERROR(s.Exec());
  }
  for (const auto& t : targets) {
    KAKUNIN_PREPARE(s, db_, kInsertAuditTarget);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, t).Bind(2, a.seq).Exec());
  }
  return Status::Ok();
}

Result<std::optional<std::string>> SqliteTxn::AuditNode(uint32_t level, int64_t index) {
  return QueryNode(db_, level, index);
}

Status SqliteTxn::PutAuditNode(uint32_t level, int64_t index, const std::string& hash) {
  KAKUNIN_PREPARE(s, db_, kPutAuditNode);
  return s.Bind(1, int64_t{level}).Bind(2, index).BindBlob(3, hash).Exec();
}

Status SqliteTxn::InsertCheckpoint(const CheckpointRow& c) {
  KAKUNIN_PREPARE(s, db_, kInsertCheckpoint);
  s.Bind(1, c.tree_size)
      .BindBlob(2, c.root)
      .Bind(3, c.time)
      .Bind(4, c.key_id)
      .BindBlob(5, c.signature);
  if (c.origin.empty()) {
    s.BindNull(6);
  } else {
    s.Bind(6, c.origin);
  }
  if (c.map_root.empty()) {
    s.BindNull(7);
  } else {
    s.BindBlob(7, c.map_root);
  }
  return s.Exec();
}

Result<std::optional<CheckpointRow>> SqliteTxn::LatestCheckpoint() {
  KAKUNIN_PREPARE(s, db_, kLatestCheckpoint);
  Status st;
  std::optional<CheckpointRow> c;
  if (s.Step(&st)) c = ReadCheckpoint(s);
  s.Reset();
  if (!st.ok()) return st;
  return c;
}

Status SqliteTxn::InsertProvision(const ProvisionRow& p) {
  KAKUNIN_PREPARE(s, db_, kInsertProvision);
  return s.Bind(1, p.resident_code)
      .Bind(2, p.provided_at)
      .Bind(3, p.function)
      .Bind(4, p.purpose)
      .Bind(5, p.provision_kind)
      .Bind(6, int64_t{p.number_provided})
      .Bind(7, p.source)
      .Bind(8, p.recipient)
      .Bind(9, p.items)
      .Bind(10, p.audit_seq)
      .Exec();
}

Result<std::optional<ResidentHeadRow>> SqliteTxn::ResidentHead(const std::string& key) {
  return QueryHead(db_, key);
}

Status SqliteTxn::PutResidentHead(const ResidentHeadRow& r) {
  KAKUNIN_PREPARE(s, db_, kPutResidentHead);
  return s.BindBlob(1, r.key).Bind(2, r.count).BindBlob(3, r.head).Bind(4, r.last_seq).Exec();
}

Result<int64_t> SqliteTxn::LatestMapCheckpointSize() {
  return QueryInt(db_, kLatestMapCheckpointSize);
}

Result<std::vector<ResidentHeadRow>> SqliteTxn::ResidentHeadsFrom(int64_t seq) {
  KAKUNIN_PREPARE(s, db_, kResidentHeadsFrom);
  s.Bind(1, seq);
  std::vector<ResidentHeadRow> out;
  Status st;
  while (s.Step(&st)) out.push_back(ReadHead(s));
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<MapNodeRow>> SqliteTxn::MapNode(uint32_t depth, const std::string& prefix) {
  return QueryMapNode(db_, depth, prefix);
}

Status SqliteTxn::PutMapNode(uint32_t depth, const std::string& prefix, const MapNodeRow& r) {
  KAKUNIN_PREPARE(s, db_, kPutMapNode);
  s.Bind(1, int64_t{depth}).BindBlob(2, prefix).BindBlob(3, r.hash);
  if (r.leaf_key.empty()) {
    s.BindNull(4);
  } else {
    s.BindBlob(4, r.leaf_key);
  }
  return s.Exec();
}

Result<int64_t> SqliteTxn::AuditLastTime() { return QueryInt(db_, kAuditLastTime); }

Result<AuditWriter::AuditTailRow> SqliteTxn::AuditTail() {
  KAKUNIN_PREPARE(s, db_, kAuditTail);
  Status st;
  AuditTailRow out;
  if (s.Step(&st)) out = AuditTailRow{s.Int(0), s.Int(1)};
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Status SqliteTxn::ForEachAuditTargets(int64_t from_seq, const AuditTargetsFn& fn) {
  // Own statement (not the cache): `fn` may run other queries.
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_->raw(), kAuditTargetsFrom, -1, &raw, nullptr) != SQLITE_OK) {
    return db_->LastError("prepare");
  }
  Stmt s(db_, raw);
  s.Bind(1, from_seq);
  Status st;
  while (s.Step(&st)) {
    if (!fn(s.Int(0), s.Blob(1), s.Blob(2))) break;
  }
  return st;
}

Result<RegistryTxn::AuditErasure> SqliteTxn::EraseAuditBefore(int64_t time, bool dry_run) {
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

}  // namespace kakunin::store::sqlite::detail
