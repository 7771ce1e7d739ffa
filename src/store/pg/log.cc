// The operation log on PostgreSQL: entries, tree nodes, checkpoints, the target index and
// provision records (store/audit_store.h).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

// Entries and nodes are read a chunk at a time (keyset pages), so a caller may run other
// queries on the same connection between rows, as it may on SQLite.
constexpr int64_t kChunk = 2000;

// The append path's one read: the size and the newest entry's time.
constexpr char kAuditTail[] = "SELECT seq + 1, time FROM audit_entries ORDER BY seq DESC LIMIT 1";
constexpr char kAuditTargetsFrom[] =
    "SELECT seq, leaf_hash, targets FROM audit_entries WHERE seq >= $1 AND targets IS NOT NULL "
    "ORDER BY seq LIMIT $2";

// Level 0 is each entry's leaf hash, kept with the entry (not stored twice).
Result<std::optional<std::string>> QueryNode(Conn* db, uint32_t level, int64_t index) {
  if (level == 0) return QueryBytes(db, kGetAuditLeaf, Params().Int(index));
  return QueryBytes(db, kGetAuditNode, Params().Int(int64_t{level}).Int(index));
}

ResidentHeadRow ReadHead(const Rows& r, int i) {
  return ResidentHeadRow{r.Blob(i, 0), r.Int(i, 1), r.Blob(i, 2), r.Int(i, 3)};
}

Result<std::optional<ResidentHeadRow>> QueryHead(Conn* db, const std::string& key) {
  return QueryOne<ResidentHeadRow>(db, kGetResidentHead, Params().Bytes(key), ReadHead);
}

Result<std::optional<MapNodeRow>> QueryMapNode(Conn* db, uint32_t depth,
                                               const std::string& prefix) {
  return QueryOne<MapNodeRow>(
      db, kGetMapNode, Params().Int(int64_t{depth}).Bytes(prefix), [](const Rows& r, int i) {
        return MapNodeRow{r.Blob(i, 0), r.IsNull(i, 1) ? std::string() : r.Blob(i, 1)};
      });
}

class PgNodeCursor final : public NodeCursor {
 public:
  PgNodeCursor(Conn* db, uint32_t level) : db_(db), level_(level) {}
  bool Next(int64_t* index, std::string* hash, Status* status) override {
    if (pos_ >= page_.size()) {
      if (done_) return false;
      auto rows =
          db_->Query(kAuditNodesOfLevelFrom, Params().Int(int64_t{level_}).Int(from_).Int(kChunk));
      if (!rows.ok()) {
        *status = rows.status();
        done_ = true;
        return false;
      }
      page_.clear();
      pos_ = 0;
      for (int i = 0; i < rows->size(); ++i) page_.emplace_back(rows->Int(i, 0), rows->Text(i, 1));
      if (rows->size() < kChunk) done_ = true;
      if (page_.empty()) return false;
      from_ = page_.back().first + 1;
    }
    *index = page_[pos_].first;
    *hash = std::move(page_[pos_].second);
    ++pos_;
    return true;
  }

 private:
  Conn* db_;
  uint32_t level_;
  int64_t from_ = 0;
  bool done_ = false;
  std::vector<std::pair<int64_t, std::string>> page_;
  size_t pos_ = 0;
};

}  // namespace

Result<int64_t> PgReader::AuditSize() { return db_->QueryInt(kAuditSize, Params()); }

Result<std::optional<std::string>> PgReader::AuditNode(uint32_t level, int64_t index) {
  return QueryNode(db_.get(), level, index);
}

Status PgReader::ForEachAuditEntry(int64_t from_seq, const std::function<bool(AuditRow&)>& fn) {
  // One snapshot for the whole walk (and for what `fn` reads meanwhile), as SQLite's single
  // statement has: later pages see no entry appended after the first.
  bool own = PQtransactionStatus(db_->raw()) == PQTRANS_IDLE;
  if (own) KAKUNIN_RETURN_IF_ERROR(db_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  Status st;
  int64_t from = from_seq;
  for (bool more = true; more && st.ok();) {
    auto rows = db_->Query(kAuditEntriesFrom, Params().Int(from).Int(kChunk));
    if (!rows.ok()) {
      st = rows.status();
      break;
    }
    more = rows->size() == kChunk;
    for (int i = 0; i < rows->size(); ++i) {
      AuditRow row = ReadAudit(*rows, i);
      from = row.seq + 1;
      if (!fn(row)) {
        more = false;
        break;
      }
    }
  }
  if (own) {
    Status end = db_->Exec(st.ok() ? "COMMIT" : "ROLLBACK");
    if (st.ok()) st = end;
  }
  return st;
}

Result<std::optional<ResidentHeadRow>> PgReader::ResidentHead(const std::string& key) {
  return QueryHead(db_.get(), key);
}

Result<std::optional<MapNodeRow>> PgReader::MapNode(uint32_t depth, const std::string& prefix) {
  return QueryMapNode(db_.get(), depth, prefix);
}

Result<std::vector<std::string>> PgReader::ResidentKeysWithoutEntries() {
  return QueryAll<std::string>(db_.get(), kResidentKeysWithoutEntries, Params(),
                               [](const Rows& r, int i) { return r.Blob(i, 0); });
}

Result<std::vector<ResidentHeadRow>> PgReader::ResidentHeadsAfter(const std::string& after,
                                                                 int64_t limit) {
  return QueryAll<ResidentHeadRow>(db_.get(), kResidentHeadsAfter,
                                   Params().Bytes(after).Int(limit), ReadHead);
}

Result<std::vector<MapNodeAt>> PgReader::MapNodesAfter(bool first, uint32_t after_depth,
                                                      const std::string& after_prefix,
                                                      int64_t limit) {
  auto read = [](const Rows& r, int i) {
    return MapNodeAt{static_cast<uint32_t>(r.Int(i, 0)), r.Blob(i, 1),
                     MapNodeRow{r.Blob(i, 2), r.IsNull(i, 3) ? std::string() : r.Blob(i, 3)}};
  };
  if (first) return QueryAll<MapNodeAt>(db_.get(), kMapNodesFirst, Params().Int(limit), read);
  return QueryAll<MapNodeAt>(
      db_.get(), kMapNodesAfter,
      Params().Int(int64_t{after_depth}).Bytes(after_prefix).Int(limit), read);
}

Status PgReader::ForEachAuditTarget(int64_t from_seq,
                                    const std::function<bool(std::string_view, int64_t)>& fn) {
  // By pages in primary-key order: one round trip per page, not per row.
  struct Row {
    std::string name;
    int64_t seq;
  };
  auto read = [](const Rows& r, int i) { return Row{r.Text(i, 0), r.Int(i, 1)}; };
  constexpr int64_t kPage = 20000;
  std::optional<Row> after;
  for (;;) {
    auto page = after ? QueryAll<Row>(db_.get(), kAuditTargetsAfter,
                                      Params().Int(from_seq).Text(after->name).Int(after->seq)
                                          .Int(kPage),
                                      read)
                      : QueryAll<Row>(db_.get(), kAuditTargetsFirst,
                                      Params().Int(from_seq).Int(kPage), read);
    if (!page.ok()) return page.status();
    for (const Row& row : *page) {
      if (!fn(row.name, row.seq)) return Status::Ok();
    }
    if (static_cast<int64_t>(page->size()) < kPage) return Status::Ok();
    after = page->back();
  }
}

Result<int64_t> PgReader::CountStrayAuditNodes(int64_t size) {
  return db_->QueryInt(kCountStrayAuditNodes, Params().Int(size));
}

Result<std::unique_ptr<NodeCursor>> PgReader::AuditNodes(uint32_t level) {
  return std::unique_ptr<NodeCursor>(new PgNodeCursor(db_.get(), level));
}

Result<std::vector<CheckpointRow>> PgReader::Checkpoints() {
  return QueryAll<CheckpointRow>(db_.get(), kAllCheckpoints, Params(), ReadCheckpoint);
}

Result<std::vector<AuditRow>> PgReader::SearchAudit(const AuditQuery& q) {
  // Assembled from constant fragments; every value bound.
  std::string sql =
      "SELECT e.seq, e.time, e.actor, e.action, e.purpose, e.payload, e.leaf_hash, e.targets "
      "FROM audit_entries e WHERE true";
  Params p;
  auto next = [&] { return "$" + std::to_string(p.size()); };
  if (q.target) {
    p.Text(*q.target);
    sql += " AND e.seq IN (SELECT seq FROM audit_targets WHERE resident_code = " + next() + ")";
  }
  if (q.from_seq) {
    p.Int(*q.from_seq);
    sql += " AND e.seq >= " + next();
  }
  if (q.from_time) {
    p.Int(*q.from_time);
    sql += " AND e.time >= " + next();
  }
  if (q.to_time) {
    p.Int(*q.to_time);
    sql += " AND e.time < " + next();
  }
  if (q.actor) {
    p.Text(*q.actor);
    sql += " AND e.actor = " + next();
  }
  if (q.action) {
    p.Text(*q.action);
    sql += " AND e.action = " + next();
  }
  if (q.purpose) {
    p.Text(*q.purpose);
    sql += " AND e.purpose = " + next();
  }
  p.Int(int64_t{q.limit});
  sql += " ORDER BY e.seq LIMIT " + next();
  auto rows = db_->QueryText(sql, p);
  if (!rows.ok()) return rows.status();
  std::vector<AuditRow> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(ReadAudit(*rows, i));
  return out;
}

Result<std::vector<AuditRow>> PgReader::KeyAnnouncements(int limit) {
  // The literal matches the partial index audit_entries_key_announcements (migration 9).
  static_assert(kKeyAnnouncementAction == "key.signing.rotate");
  auto rows = db_->QueryText(
      "SELECT seq, time, actor, action, purpose, payload, leaf_hash, targets FROM audit_entries "
      "WHERE action = 'key.signing.rotate' ORDER BY seq LIMIT $1",
      Params().Int(int64_t{limit}));
  if (!rows.ok()) return rows.status();
  std::vector<AuditRow> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(ReadAudit(*rows, i));
  return out;
}

Result<std::vector<ProvisionRow>> PgReader::Provisions(const std::string& resident_code) {
  return QueryAll<ProvisionRow>(db_.get(), kProvisionsOf, Params().Text(resident_code),
                                ReadProvision);
}

Result<std::vector<ProvisionRow>> PgReader::ProvisionsOfEntry(int64_t audit_seq) {
  return QueryAll<ProvisionRow>(db_.get(), kProvisionsOfEntry, Params().Int(audit_seq),
                                ReadProvision);
}

Result<int64_t> PgReader::CountProvisionsFromEntry(int64_t seq) {
  return db_->QueryInt(kCountProvisionsFromEntry, Params().Int(seq));
}

Result<int64_t> PgReader::CountAuditTargetsFrom(int64_t seq) {
  return db_->QueryInt(kCountAuditTargetsFrom, Params().Int(seq));
}

Result<int64_t> PgTxn::AuditSize() { return db_->QueryInt(kAuditSize, Params()); }

Status PgTxn::InsertAuditEntry(const AuditRow& a, const std::vector<std::string>& targets) {
  Params p;
  p.Int(a.seq).Int(a.time).Text(a.actor).Text(a.action).Text(a.purpose);
  if (a.payload) {
    p.Bytes(*a.payload);
  } else {
    p.Null(17);  // bytea
  }
  p.Bytes(a.leaf_hash);
  if (a.targets) {
    p.Bytes(*a.targets);
  } else {
    p.Null(17);  // bytea
  }
  KAKUNIN_RETURN_IF_ERROR(db_->Run(kInsertAuditEntry, p).status());
  for (const auto& t : targets) {
    KAKUNIN_RETURN_IF_ERROR(db_->Run(kInsertAuditTarget, Params().Text(t).Int(a.seq)).status());
  }
  return Status::Ok();
}

Result<std::optional<std::string>> PgTxn::AuditNode(uint32_t level, int64_t index) {
  return QueryNode(db_, level, index);
}

Status PgTxn::PutAuditNode(uint32_t level, int64_t index, const std::string& hash) {
  return db_->Run(kPutAuditNode, Params().Int(int64_t{level}).Int(index).Bytes(hash)).status();
}

Status PgTxn::InsertCheckpoint(const CheckpointRow& c) {
  return db_
      ->Run(kInsertCheckpoint,
            [&] {
              Params p;
              p.Int(c.tree_size).Bytes(c.root).Int(c.time).Text(c.key_id).Bytes(c.signature);
              // Empty is NULL, as on SQLite: "IS NOT NULL" finds the checkpoints signing a map.
              if (c.origin.empty()) {
                p.Null(25);  // text
              } else {
                p.Text(c.origin);
              }
              if (c.map_root.empty()) {
                p.Null(17);  // bytea
              } else {
                p.Bytes(c.map_root);
              }
              return p;
            }())
      .status();
}

Result<std::optional<CheckpointRow>> PgTxn::LatestCheckpoint() {
  return QueryOne<CheckpointRow>(db_, kLatestCheckpoint, Params(), ReadCheckpoint);
}

Status PgTxn::InsertProvision(const ProvisionRow& p) {
  return db_
      ->Run(kInsertProvision, Params()
                                  .Text(p.resident_code)
                                  .Int(p.provided_at)
                                  .Text(p.function)
                                  .Text(p.purpose)
                                  .Text(p.provision_kind)
                                  .Int(int64_t{p.number_provided})
                                  .Text(p.source)
                                  .Text(p.recipient)
                                  .Text(p.items)
                                  .Int(p.audit_seq))
      .status();
}

Result<std::optional<ResidentHeadRow>> PgTxn::ResidentHead(const std::string& key) {
  return QueryHead(db_, key);
}

Status PgTxn::PutResidentHead(const ResidentHeadRow& r) {
  return db_
      ->Run(kPutResidentHead, Params().Bytes(r.key).Int(r.count).Bytes(r.head).Int(r.last_seq))
      .status();
}

Result<int64_t> PgTxn::LatestMapCheckpointSize() {
  return db_->QueryInt(kLatestMapCheckpointSize, Params());
}

Result<std::vector<ResidentHeadRow>> PgTxn::ResidentHeadsFrom(int64_t seq) {
  return QueryAll<ResidentHeadRow>(db_, kResidentHeadsFrom, Params().Int(seq), ReadHead);
}

Result<std::optional<MapNodeRow>> PgTxn::MapNode(uint32_t depth, const std::string& prefix) {
  return QueryMapNode(db_, depth, prefix);
}

Status PgTxn::PutMapNode(uint32_t depth, const std::string& prefix, const MapNodeRow& r) {
  Params p;
  p.Int(int64_t{depth}).Bytes(prefix).Bytes(r.hash);
  if (r.leaf_key.empty()) {
    p.Null(17);  // bytea
  } else {
    p.Bytes(r.leaf_key);
  }
  return db_->Run(kPutMapNode, p).status();
}

Result<int64_t> PgTxn::AuditLastTime() { return db_->QueryInt(kAuditLastTime, Params()); }

Result<AuditWriter::AuditTailRow> PgTxn::AuditTail() {
  KAKUNIN_ASSIGN_OR_RETURN(rows, db_->Query(kAuditTail, Params()));
  if (rows.size() == 0) return AuditTailRow{};
  return AuditTailRow{rows.Int(0, 0), rows.Int(0, 1)};
}

Status PgTxn::ForEachAuditTargets(int64_t from_seq, const AuditTargetsFn& fn) {
  // A chunk at a time (keyset pages), so `fn` may query meanwhile.
  for (int64_t from = from_seq;;) {
    KAKUNIN_ASSIGN_OR_RETURN(rows, db_->Query(kAuditTargetsFrom, Params().Int(from).Int(kChunk)));
    for (int i = 0; i < rows.size(); ++i) {
      from = rows.Int(i, 0) + 1;
      if (!fn(rows.Int(i, 0), rows.Blob(i, 1), rows.Blob(i, 2))) return Status::Ok();
    }
    if (rows.size() < kChunk) return Status::Ok();
  }
}

Result<RegistryTxn::AuditErasure> PgTxn::EraseAuditBefore(int64_t time, bool dry_run) {
  AuditErasure out;
  KAKUNIN_ASSIGN_OR_RETURN(keep_from, db_->QueryInt(kAuditKeepFrom, Params().Int(time)));
  out.before_seq = keep_from;
  if (dry_run) {
    KAKUNIN_ASSIGN_OR_RETURN(
        entries, db_->QueryInt(kCountAuditPayloadsBefore, Params().Int(out.before_seq)));
    KAKUNIN_ASSIGN_OR_RETURN(provisions, db_->QueryInt(kCountProvisionsBefore, Params().Int(time)));
    out.entries = entries;
    out.provisions = provisions;
    return out;
  }
  KAKUNIN_RETURN_IF_ERROR(db_->Run(kEraseAuditTargets, Params().Int(out.before_seq)).status());
  KAKUNIN_ASSIGN_OR_RETURN(erased, db_->Run(kEraseAuditPayloads, Params().Int(out.before_seq)));
  KAKUNIN_ASSIGN_OR_RETURN(gone, db_->Run(kErasePastProvisions, Params().Int(time)));
  out.entries = erased;
  out.provisions = gone;
  return out;
}

}  // namespace kakunin::store::pg::detail
