// The link aggregate on SQLite: the outbox as the sender reads it, delivered marks and their
// purge, and the national node's per-prefecture received sequence (store/link_store.h).

#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"

namespace kakunin::store::sqlite::detail {
namespace {

// The version columns (ReadVersion's order), then the outbox's. Through the primary key: the
// sender reads from its acknowledged point whether or not the rows were marked delivered.
constexpr char kOutboxAfter[] =
    "SELECT v.version_id, v.person_id, v.municipality_code, v.sequence, v.kind, v.reason, "
    "v.change_date, v.resident_code, v.sealed_number, v.name, v.name_kana, v.former_surname, "
    "v.alias, v.sex, v.birth_date, v.address, v.new_resident_code, v.applied_at, "
    "v.superseded_at, o.outbox_id, o.created_at, o.measure_municipality, o.measure_until "
    "FROM outbox o JOIN versions v ON v.version_id = o.version_id "
    "WHERE o.outbox_id > ?1 ORDER BY o.outbox_id LIMIT ?2";
constexpr char kBacklog[] =
    "SELECT (SELECT count(*) FROM outbox WHERE delivered_at IS NULL), "
    "coalesce((SELECT created_at FROM outbox WHERE delivered_at IS NULL "
    "ORDER BY outbox_id LIMIT 1), 0), "
    "(SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL)";
constexpr char kMarkDelivered[] =
    "UPDATE outbox SET delivered_at = ?2 WHERE outbox_id <= ?1 AND delivered_at IS NULL";
constexpr char kPurgeDelivered[] =
    "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?1";
constexpr char kLastDeliveredBefore[] =
    "SELECT coalesce(max(outbox_id), 0) FROM outbox "
    "WHERE delivered_at IS NOT NULL AND delivered_at < ?1";
constexpr char kReceivedSequence[] =
    "SELECT coalesce((SELECT last_sequence FROM link_received WHERE prefecture = ?1), 0)";
constexpr char kSetReceivedSequence[] =
    "INSERT INTO link_received (prefecture, last_sequence, updated_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (prefecture) DO UPDATE SET last_sequence = excluded.last_sequence, "
    "updated_at = excluded.updated_at";

constexpr char kReceivedChangeMac[] =
    "SELECT change_mac FROM link_received_changes WHERE prefecture = ?1 AND sequence = ?2";
constexpr char kRecordReceivedChange[] =
    "INSERT INTO link_received_changes (prefecture, sequence, change_mac, received_at) "
    "VALUES (?1, ?2, ?3, ?4)";
constexpr char kForgetReceivedChange[] =
    "DELETE FROM link_received_changes WHERE prefecture = ?1 AND sequence = ?2";
constexpr char kCountReceivedChangesBefore[] =
    "SELECT count(*) FROM link_received_changes WHERE received_at < ?1";
constexpr char kPurgeReceivedChanges[] = "DELETE FROM link_received_changes WHERE received_at < ?1";

// AUTOINCREMENT keeps the largest number ever given out in sqlite_sequence (rows deleted since,
// delivered and purged, included); the row exists once the table had a row.
constexpr char kEnsureOutboxSequence[] =
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox', 0 "
    "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox')";
constexpr char kSkipOutboxNumbers[] =
    "UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(outbox_id), 0) FROM outbox)) "
    "+ ?1 WHERE name = 'outbox' RETURNING seq + 1";

// The AUTOINCREMENT counter (every number given out, rows purged or not), or the rows
// themselves when the counter has no row yet.
constexpr char kHighestOutboxNumber[] =
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0), "
    "coalesce((SELECT max(outbox_id) FROM outbox), 0))";

Result<int64_t> Received(Db* db, int prefecture) {
  KAKUNIN_PREPARE(s, db, kReceivedSequence);
  s.Bind(1, int64_t{prefecture});
  Status st;
  int64_t out = 0;
  if (s.Step(&st)) out = s.Int(0);
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

}  // namespace

Result<std::vector<OutboxRow>> SqliteReader::OutboxAfter(int64_t after, int limit) {
  return QueryAll<OutboxRow>(
      db_.get(), kOutboxAfter, [&](Stmt& s) { s.Bind(1, after).Bind(2, int64_t{limit}); },
      [](const Stmt& s) {
        OutboxRow r;
        r.version = ReadVersion(s);
        r.outbox_id = s.Int(19);
        r.created_at = s.Int(20);
        r.measure_municipality = s.OptionalText(21);
        r.measure_until = s.OptionalText(22);
        return r;
      });
}

Result<OutboxBacklog> SqliteReader::Backlog() {
  KAKUNIN_PREPARE(s, db_.get(), kBacklog);
  OutboxBacklog out;
  Status st;
  if (s.Step(&st)) {
    out.pending = s.Int(0);
    out.oldest_pending_at = s.Int(1);
    out.delivered = s.Int(2);
  }
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<int64_t> SqliteReader::ReceivedSequence(int prefecture) {
  return Received(db_.get(), prefecture);
}

Result<int64_t> SqliteTxn::MarkDelivered(int64_t up_to, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kMarkDelivered);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, up_to).Bind(2, at).Exec());
  return db_->Changes();
}

Result<int64_t> SqliteTxn::PurgeDelivered(int64_t before) {
  KAKUNIN_PREPARE(s, db_, kPurgeDelivered);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, before).Exec());
  return db_->Changes();
}

Result<int64_t> SqliteTxn::LastDeliveredBefore(int64_t before) {
  return QueryInt(db_, kLastDeliveredBefore, before);
}

Result<int64_t> SqliteTxn::PurgeReceivedChanges(int64_t before, bool dry_run) {
  if (dry_run) return QueryInt(db_, kCountReceivedChangesBefore, before);
  KAKUNIN_PREPARE(s, db_, kPurgeReceivedChanges);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, before).Exec());
  return db_->Changes();
}

Result<int64_t> SqliteTxn::ReceivedSequenceIn(int prefecture) { return Received(db_, prefecture); }

Status SqliteTxn::SetReceivedSequence(int prefecture, int64_t sequence, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kSetReceivedSequence);
  return s.Bind(1, int64_t{prefecture}).Bind(2, sequence).Bind(3, at).Exec();
}

Result<std::optional<std::string>> SqliteTxn::ReceivedChangeMac(int prefecture, int64_t sequence) {
  return QueryOne<std::string>(
      db_, kReceivedChangeMac, [&](Stmt& s) { s.Bind(1, int64_t{prefecture}).Bind(2, sequence); },
      [](const Stmt& s) { return s.Blob(0); });
}

Result<int64_t> SqliteTxn::HighestOutboxNumber() {
  KAKUNIN_ASSIGN_OR_RETURN(
      n, QueryOne<int64_t>(db_, kHighestOutboxNumber, [](Stmt&) {},
                           [](const Stmt& s) { return s.Int(0); }));
  return n.value_or(0);
}

Result<int64_t> SqliteTxn::SkipOutboxNumbers(int64_t gap) {
  KAKUNIN_RETURN_IF_ERROR(db_->Exec(kEnsureOutboxSequence));
  KAKUNIN_PREPARE(s, db_, kSkipOutboxNumbers);
  s.Bind(1, gap);
  Status st;
  int64_t next = 0;
  if (s.Step(&st)) next = s.Int(0);
  s.Reset();
  if (!st.ok()) return st;
  return next;
}

Status SqliteTxn::ForgetReceivedChange(int prefecture, int64_t sequence) {
  KAKUNIN_PREPARE(s, db_, kForgetReceivedChange);
  return s.Bind(1, int64_t{prefecture}).Bind(2, sequence).Exec();
}

Status SqliteTxn::RecordReceivedChange(int prefecture, int64_t sequence, const std::string& mac,
                                       int64_t at) {
  KAKUNIN_PREPARE(s, db_, kRecordReceivedChange);
  return s.Bind(1, int64_t{prefecture}).Bind(2, sequence).BindBlob(3, mac).Bind(4, at).Exec();
}

}  // namespace kakunin::store::sqlite::detail
