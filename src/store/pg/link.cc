// The link aggregate on PostgreSQL: the outbox as the sender reads it, delivered marks and their
// purge, and the national node's per-prefecture received sequence (store/link_store.h), as
// store/sqlite/link.cc.

#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

// The version columns (ReadVersion's order), then the outbox's. Through the primary key: the
// sender reads from its acknowledged point whether or not the rows were marked delivered.
constexpr char kOutboxAfter[] =
    "SELECT v.version_id, v.person_id, v.municipality_code, v.sequence, v.kind, v.reason, "
    "v.change_date, v.resident_code, v.sealed_number, v.name, v.name_kana, v.former_surname, "
    "v.alias, v.sex, v.birth_date, v.address, v.new_resident_code, v.applied_at, "
    "v.superseded_at, o.outbox_id, o.created_at, o.measure_municipality, o.measure_until "
    "FROM outbox o JOIN versions v ON v.version_id = o.version_id "
    "WHERE o.outbox_id > $1 ORDER BY o.outbox_id LIMIT $2";
constexpr char kBacklog[] =
    "SELECT (SELECT count(*) FROM outbox WHERE delivered_at IS NULL), "
    "coalesce((SELECT created_at FROM outbox WHERE delivered_at IS NULL "
    "ORDER BY outbox_id LIMIT 1), 0), "
    "(SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL)";
constexpr char kMarkDelivered[] =
    "UPDATE outbox SET delivered_at = $2 WHERE outbox_id <= $1 AND delivered_at IS NULL";
constexpr char kPurgeDelivered[] =
    "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1";
constexpr char kLastDeliveredBefore[] =
    "SELECT coalesce(max(outbox_id), 0) FROM outbox "
    "WHERE delivered_at IS NOT NULL AND delivered_at < $1";
constexpr char kReceivedSequence[] =
    "SELECT coalesce((SELECT last_sequence FROM link_received WHERE prefecture = $1), 0)";
constexpr char kSetReceivedSequence[] =
    "INSERT INTO link_received (prefecture, last_sequence, updated_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (prefecture) DO UPDATE SET last_sequence = excluded.last_sequence, "
    "updated_at = excluded.updated_at";
constexpr char kReceivedChangeMac[] =
    "SELECT change_mac FROM link_received_changes WHERE prefecture = $1 AND sequence = $2";
constexpr char kRecordReceivedChange[] =
    "INSERT INTO link_received_changes (prefecture, sequence, change_mac, received_at) "
    "VALUES ($1, $2, $3, $4)";
constexpr char kForgetReceivedChange[] =
    "DELETE FROM link_received_changes WHERE prefecture = $1 AND sequence = $2";
constexpr char kCountReceivedChangesBefore[] =
    "SELECT count(*) FROM link_received_changes WHERE received_at < $1";
constexpr char kPurgeReceivedChanges[] = "DELETE FROM link_received_changes WHERE received_at < $1";

// The identity's sequence only goes up, whatever rows were purged since: from the highest
// number given out (kHighestOutboxNumber), as SQLite's counter, so both stores give the same
// next number (nextval here once skipped one more).
constexpr char kSkipOutboxNumbers[] =
    "SELECT setval(pg_get_serial_sequence('outbox', 'outbox_id'), "
    "greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbox', "
    "'outbox_id')::regclass), 0), coalesce((SELECT max(outbox_id) FROM outbox), 0)) + $1) + 1";

// The sequence's last value (NULL before its first use), or the rows themselves.
constexpr char kHighestOutboxNumber[] =
    "SELECT greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbox', "
    "'outbox_id')::regclass), 0), coalesce((SELECT max(outbox_id) FROM outbox), 0))";

}  // namespace

Result<std::vector<OutboxRow>> PgReader::OutboxAfter(int64_t after, int limit) {
  return QueryAll<OutboxRow>(db_.get(), kOutboxAfter, Params().Int(after).Int(int64_t{limit}),
                             [](const Rows& s, int i) {
                               OutboxRow r;
                               r.version = ReadVersion(s, i);
                               r.outbox_id = s.Int(i, 19);
                               r.created_at = s.Int(i, 20);
                               r.measure_municipality = s.OptionalText(i, 21);
                               r.measure_until = s.OptionalText(i, 22);
                               return r;
                             });
}

Result<OutboxBacklog> PgReader::Backlog() {
  auto rows = db_->Query(kBacklog, Params());
  if (!rows.ok()) return rows.status();
  OutboxBacklog out;
  if (!rows->empty()) {
    out.pending = rows->Int(0, 0);
    out.oldest_pending_at = rows->Int(0, 1);
    out.delivered = rows->Int(0, 2);
  }
  return out;
}

Result<int64_t> PgReader::ReceivedSequence(int prefecture) {
  return db_->QueryInt(kReceivedSequence, Params().Int(int64_t{prefecture}));
}

Result<int64_t> PgTxn::MarkDelivered(int64_t up_to, int64_t at) {
  return db_->Run(kMarkDelivered, Params().Int(up_to).Int(at));
}

Result<int64_t> PgTxn::PurgeDelivered(int64_t before) {
  return db_->Run(kPurgeDelivered, Params().Int(before));
}

Result<int64_t> PgTxn::LastDeliveredBefore(int64_t before) {
  return db_->QueryInt(kLastDeliveredBefore, Params().Int(before));
}

Result<int64_t> PgTxn::PurgeReceivedChanges(int64_t before, bool dry_run) {
  if (dry_run) return db_->QueryInt(kCountReceivedChangesBefore, Params().Int(before));
  return db_->Run(kPurgeReceivedChanges, Params().Int(before));
}

Result<int64_t> PgTxn::ReceivedSequenceIn(int prefecture) {
  return db_->QueryInt(kReceivedSequence, Params().Int(int64_t{prefecture}));
}

Status PgTxn::SetReceivedSequence(int prefecture, int64_t sequence, int64_t at) {
  return db_->Run(kSetReceivedSequence, Params().Int(int64_t{prefecture}).Int(sequence).Int(at))
      .status();
}

Result<std::optional<std::string>> PgTxn::ReceivedChangeMac(int prefecture, int64_t sequence) {
  return QueryBytes(db_, kReceivedChangeMac, Params().Int(int64_t{prefecture}).Int(sequence));
}

Result<int64_t> PgTxn::HighestOutboxNumber() {
  return db_->QueryInt(kHighestOutboxNumber, Params());
}

Result<int64_t> PgTxn::SkipOutboxNumbers(int64_t gap) {
  return db_->QueryInt(kSkipOutboxNumbers, Params().Int(gap));
}

Status PgTxn::ForgetReceivedChange(int prefecture, int64_t sequence) {
  return db_->Run(kForgetReceivedChange, Params().Int(int64_t{prefecture}).Int(sequence)).status();
}

Status PgTxn::RecordReceivedChange(int prefecture, int64_t sequence, const std::string& mac,
                                   int64_t at) {
  return db_->Run(kRecordReceivedChange,
                  Params().Int(int64_t{prefecture}).Int(sequence).Bytes(mac).Int(at))
      .status();
}

}  // namespace kakunin::store::pg::detail
