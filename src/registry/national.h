#pragma once

// The link between a prefecture node and the national node (DESIGN §1.3, §2), as use cases:
//
// - LinkOutbox (prefecture node): what the sender (src/link/) forwards — the outbox in order,
//   each row with its version and the individual number opened for the journey — and the
//   acknowledgements that mark rows delivered (recorded in the operation log), the backlog for
//   metrics, and the purge of delivered rows.
// - NationalDesk (national node): applies a forwarded batch idempotently, in the transaction
//   that advances the sending prefecture's last applied sequence, and keeps one current record
//   per resident code with its full history across prefectures.
//
// Wire format (POST /v1/link/changes, JSON, over mutual TLS):
//   {"prefecture": 19, "after": 41,
//    "changes": [{"sequence": 42, "municipality_code": "192015", "municipal_sequence": 7,
//                 "kind": "removal", "reason": "moved_out", "change_date": "2026-04-01",
//                 "resident_code": "...", "individual_number": "...", "name": "...",
//                 "name_kana": "...", "former_surname": null, "alias": null, "sex": "male",
//                 "birth_date": "1980-01-02", "address": "...", "new_resident_code": null,
//                 "applied_at": 1767225600000000}, ...]}
//   A support measure's change (支援措置, docs/support-measures.md) is a change of its own kind,
//   in the same order, carrying no record: {"sequence", "municipality_code" (who set or ended
//   it), "kind": "support_measure", "reason": "set" | "end", "change_date" (the day, JST),
//   "resident_code" (the person's current code), "valid_until" (the last day; null for an
//   end), "applied_at"}. Applied when the person's current record here is registered in the
//   sending prefecture; otherwise set aside (conflict:not_found, conflict:wrong_municipality).
//   The answer's "support_measures": true says this node applies them: a prefecture node sends
//   none before it has read that (LinkOutbox::AcceptMeasures).
//   `after` is the last sequence the sender knows acknowledged or, if higher, the last it
//   purged (LinkOutbox::PurgedThrough): the point below which it holds nothing it could send
//   again. Every change's sequence (the prefecture's outbox id) is greater than the one before
//   it; holes are allowed (numbers skipped by a restore or `kakunin link renumber`, numbers a
//   PostgreSQL sequence lost to a rollback, rows whose version retention erased), so the
//   national node cannot tell a missing change from a hole by the numbers: it relies on `after`.
//   Answer: {"acknowledged": N, "applied": a, "duplicates": d, "conflicts": k,
//            "support_measures": true}.
//   `after` greater than the national node's last applied sequence is a gap: 409 with
//   {"error": "sequence_gap", "acknowledged": N}, nothing applied, the refusal recorded; the
//   sender resends from N — unless it purged rows after N, which it then reports (link_resync)
//   instead of skipping them.
//   A change at or below N is a duplicate (a resend after a lost answer) only if it is the
//   change received under that sequence before, compared by keyed MAC: otherwise the sender
//   reused the number (a prefecture node restored from an older backup numbers its new changes
//   again from the backup's point), and acknowledging it would lose it. So is a number at or
//   below N that was never received (a change numbered far ahead moved N past it: forged, or a
//   sender's bug), from the first sequence this node kept a MAC of (meta link_macs_from_<NN>;
//   below it, changes applied before schema 10 have none and a resend is taken as one). 409 with
//   {"error": "sequence_conflict", "sequence": S, "acknowledged": N}: nothing of the batch is
//   applied, the refusal is recorded, and the link stays stopped until an operator resolves it
//   (docs/backup.md; `kakunin restore` moves the numbering on so that a restore does not).
//
// National apply rule (one current record per resident code; every version kept). A state
// conflict never refuses the batch (that would stop the prefecture's link): the change is kept
// as history or set aside, its "link.apply" entry says "conflict:<code>", and an alert is
// raised (UseAlerts).
//   - Within one municipality, arrival order is the order of events (its prefecture node
//     forwards in the order it applied them).
//   - A removal (消除) or amendment (修正) becomes the current record only if it comes from the
//     municipality that holds the current record. From another municipality of the same
//     prefecture it is history (that prefecture's node decided). From another prefecture it is
//     history only while a move-out from its municipality (or from one abolished since that it
//     stands for today) is expected (the late 転出 of a move whose 転入 arrived first, and what
//     that municipality sent before it); otherwise it is
//     set aside, not stored: conflict:wrong_municipality.
//   - An entry (記載) from the current record's prefecture becomes current. From another
//     prefecture it must be the same person — birth date, sex and individual number (by MAC)
//     equal to the current record's (conflict:identity_mismatch otherwise: history only). It
//     then becomes current if the registration ended by a removal other than death or its
//     change date is not earlier than the current record's, and is history otherwise; a birth
//     never becomes current (conflict:code_in_use where it would have). A move-out is then
//     expected from the municipality whose registration is not current: the one the entry
//     overtook, or the entry's own when it arrived late.
//   - A resident-code change to a code another person holds: if that person is the same
//     (birth date, sex, number), the other prefecture's entry under the new code overtook the
//     change, and the two rows are merged into the holder's (conflict:merged: the holder's
//     record stays current, every version of both is kept); otherwise the change is history
//     only (conflict:code_in_use).
//   So a move 山梨県 → 東京都 ends with 東京都's record current in either order, and the 転出
//   only in history.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/log.h"
#include "audit/review.h"
#include "core/clock.h"
#include "crypto/field_cipher.h"
#include "registry/config.h"
#include "registry/gateway.h"
#include "registry/reader_pool.h"
#include "registry/refusal_naming.h"
#include "store/registry_store.h"
#include "text/json.h"

namespace kakunin::registry {

// One forwarded change: a version of a record as the prefecture node applied it.
struct ForwardedChange {
  int64_t sequence = 0;           // the sending prefecture's outbox id
  std::string municipality_code;  // the municipality that sent the notification
  int64_t municipal_sequence = 0;
  std::string kind;    // entry | removal | amendment
  std::string reason;  // change reason (ChangeReasonName)
  std::string change_date;
  std::string resident_code;
  std::string individual_number;  // in clear only inside the mutual-TLS link
  std::string name;
  std::optional<std::string> name_kana;
  std::optional<std::string> former_surname;
  std::optional<std::string> alias;
  std::string sex;
  std::string birth_date;
  std::string address;
  std::optional<std::string> new_resident_code;
  int64_t applied_at = 0;  // when the prefecture node applied it (µs): the lag's start
  // kind "support_measure" (reason "set" or "end"): the last day of a measure set, nullopt
  // for an end. Such a change carries no record: the members after resident_code are empty.
  std::optional<std::string> valid_until;
};

struct ForwardBatch {
  int prefecture = 0;  // 1..47
  int64_t after = 0;   // the last sequence the sender knows acknowledged
  std::vector<ForwardedChange> changes;
};

inline constexpr size_t kMaxForwardedPerBatch = 1000;
// The most a forwarded change's sequence may be above the one before it (or the national node's
// point): 1,024 times the numbers a restore or `kakunin link renumber` skips
// (registry/backup.h kRestoredOutboxGap, 2^40: sixteen renumbers between two deliveries met an
// earlier bound of 2^44, found in review). A batch jumping further is refused
// (sequence_conflict), nothing applied.
inline constexpr int64_t kMaxForwardedJump = int64_t{1} << 50;

// Meta key of a prefecture node: its national node has said it applies support measures'
// changes (its acknowledgement's "support_measures": true; LinkOutbox::AcceptMeasures). Until
// then no measure change is queued: a national node older than them would refuse every batch
// holding one, and the prefecture's link would stop.
inline constexpr char kLinkMeasuresKey[] = "link_support_measures";

// The batch as the wire carries it (above). Holds personal data: never log it.
std::string EncodeForwardBatch(const ForwardBatch& batch);
// Strict: only the members above, each once, with their types, shapes and limits; the
// contract's check digits (municipality code, individual number) — of resident codes their
// shape only, which the sending node checked under its own setting; a `reason` that belongs to its `kind`; `new_resident_code` with
// resident_code_changed only, and there always; sequences increasing and greater than `after`;
// at most kMaxForwardedPerBatch changes. kInvalidArgument with a message that names a member,
// never a value.
Result<ForwardBatch> ParseForwardBatch(const text::JsonValue& body);

// The prefecture of a municipality code (abolished codes too), 0 if unknown.
int PrefectureOfMunicipality(const std::string& municipality_code);

// What waits for the national node (no personal data).
struct LinkBacklog {
  int64_t pending = 0;
  int64_t oldest_pending_at = 0;  // µs; 0 if nothing waits
  int64_t delivered = 0;          // delivered rows kept until the retention ends
};

struct ReceiveResult {
  bool gap = false;          // `after` was beyond what this node applied: nothing applied
  int64_t acknowledged = 0;  // the prefecture's last applied sequence now
  int64_t applied = 0;
  int64_t duplicates = 0;  // changes at or below the acknowledged point, acknowledged again
  // A change at or below the acknowledged point that differs from the one received under its
  // sequence (0: none): nothing applied, the refusal recorded.
  int64_t conflict = 0;
  // Applied changes whose state conflicted (outcome "conflict:…"): kept as history, merged or
  // set aside, never current over another person; each alerted.
  int64_t conflicts = 0;
};

// What the national node keeps of a received change to tell a resend from a reused sequence:
// HMAC-SHA-256 under `cipher`'s hmac key of the change as the wire encodes it (every member),
// so the stored value reveals nothing of the resident.
std::string ForwardedChangeMac(const crypto::FieldCipher& cipher, const ForwardedChange& change);

// The national node's receiving side. Thread-safe (the store serialises writes).
class NationalDesk {
 public:
  // All pointers must outlive the desk.
  NationalDesk(const NodeConfig& config, store::RegistryStore* store,
               const crypto::FieldCipher* cipher, const Clock* clock, const audit::AuditLog* log);

  // Applies `batch` from `client` in one durable transaction. Refused (nothing applied,
  // the refusal recorded with MAC targets only): a client that is not a prefecture node or is
  // revoked (PermissionDenied, not_permitted), a batch for another prefecture or holding a change
  // of a municipality outside the client's prefecture (PermissionDenied, sender_mismatch), a node
  // that is not national (FailedPrecondition), a halted node (Unavailable, halted). A gap or a
  // reused sequence is answered in the result (gap, conflict) and recorded as a refusal. Every
  // applied change is an operation-log entry "link.apply"; the batch one "link.receive".
  Result<ReceiveResult> Receive(const Client& client, const ForwardBatch& batch,
                                const std::string& terminal) const;

  // Records a batch from a registered prefecture node that was refused before it could be read
  // (a body that is not a batch, too many changes: `reason`, e.g. "invalid_request") as
  // "link.receive" with outcome "refused:<reason>"; nothing of the body is recorded.
  Status RecordUnreadable(const Client& client, std::string_view reason,
                          const std::string& terminal) const;

  // Where state conflicts are reported (rule "link_conflict", the prefecture client as actor),
  // after the batch that met them is durable. Set before the desk is used; may be empty.
  void UseAlerts(std::function<void(const audit::LiveAlert&)> alert) { alert_ = std::move(alert); }

  // The last applied sequence of every prefecture that sent something (for stats).
  Result<std::vector<std::pair<int, int64_t>>> Received() const;

  // `kakunin link rewind` on the national node: moves `prefecture`'s point back to `to` (below
  // it), so that the prefecture's sender resends from there. For a point a sender moved past
  // numbers it never sent (a bug, a stolen link key: every change waiting at the prefecture was
  // then refused sequence_conflict for ever). The MACs of what was received above `to` are
  // kept: a change sent again is a duplicate (never applied twice), and another change under a
  // number the jump had taken is applied, its MAC replacing the other's. What was applied stays
  // applied (its history and log entries). Recorded as "link.rewind". Returns the point it had.
  // InvalidArgument for a prefecture outside 1..47 or `to` not below the point;
  // FailedPrecondition on a node that is not national.
  Result<int64_t> Rewind(int prefecture, int64_t to, const Actor& actor) const;

 private:
  Status ApplyChange(store::RegistryTxn& txn, const ForwardedChange& c, int prefecture,
                     const Actor& actor, int64_t now, int64_t* conflicts) const;
  // A support measure's change (kind "support_measure"; docs/support-measures.md).
  Status ApplyMeasure(store::RegistryTxn& txn, const ForwardedChange& c, int prefecture,
                      const Actor& actor, int64_t now, int64_t* conflicts) const;
  Status Refuse(const Actor& actor, const ForwardBatch& batch, const Status& why) const;
  // Joins `from` into `into` (one person under two codes): every version of `from` passes to
  // `into` as history and `entry` commits them again under `into`'s id.
  Status MergeInto(store::RegistryTxn& txn, const store::ResidentRow& from,
                   const store::ResidentRow& into, int64_t now, audit::AuditEntry* entry) const;

  NodeConfig config_;
  store::RegistryStore* store_;
  const crypto::FieldCipher* cipher_;
  const Clock* clock_;
  const audit::AuditLog* log_;
  // How often a refused batch names its residents (registry/refusal_naming.h).
  RefusalNaming naming_;
  std::function<void(const audit::LiveAlert&)> alert_;
};

// The prefecture node's side of the link. Thread-safe.
class LinkOutbox {
 public:
  // All pointers must outlive the outbox.
  LinkOutbox(const NodeConfig& config, store::RegistryStore* store,
             const crypto::FieldCipher* cipher, const Clock* clock, const audit::AuditLog* log);

  // The next batch: rows after `after`, at most `limit`, numbers opened. An empty batch when
  // nothing is waiting. The batch declares `after` as at least PurgedThrough(): rows up to it
  // are gone, so a national node behind it answers a gap instead of skipping them.
  Result<ForwardBatch> Next(int64_t after, int limit) const;
  // The national node acknowledged everything up to `up_to`: marks those rows delivered,
  // remembers the point (meta link_acknowledged) and records "link.forward" (counts only),
  // in one durable transaction. An acknowledgement below the remembered point (the national
  // node restored from a backup) moves the point back: the sender then resends from it.
  Status Acknowledge(int64_t up_to, int64_t forwarded, const Actor& actor) const;
  // The remembered acknowledged point (0 if none).
  Result<int64_t> Acknowledged() const;
  Result<LinkBacklog> Backlog() const;
  // Erases rows delivered before `before` (µs); returns how many. Remembers the greatest
  // number erased (meta link_purged_through) in the same transaction.
  Result<int64_t> PurgeDelivered(int64_t before) const;
  // The greatest outbox number purged (0 if none): a national node whose point is below it
  // (restored from an older backup) can no longer be sent the changes in between.
  Result<int64_t> PurgedThrough() const;
  // The operators' decision after a national node came back behind PurgedThrough() (docs/
  // backup.md, "A national node restored from an older backup"): forgets the purged point so
  // that the link resumes from the acknowledged point (the national node's, after its gap
  // answer), and records "link.resync" with the range of numbers no longer held (numbers
  // only), in one transaction; the changes in it must reach the national node another way.
  // Returns the range's end. FailedPrecondition if the acknowledged point is not below the
  // purged point (nothing is missing).
  Result<int64_t> Resync(const Actor& actor) const;
  // Numbers the next outbox rows at least `gap` above every number this database ever gave
  // out, and records "link.renumber" (numbers only), in one transaction; returns the next
  // number. For a database restored other than by `kakunin restore` (which does this itself):
  // the national node may hold other changes under the numbers it would give out again.
  Result<int64_t> SkipNumbers(int64_t gap, const Actor& actor) const;
  // Whether the node is halted (作動停止): the sender forwards nothing then.
  Result<bool> Halted() const;
  // The national node said it applies support measures' changes: from now on every set and
  // end is queued with the records (Gateway::SetSupportMeasure), and every measure in force now
  // is queued once, in the transaction that remembers it (meta kLinkMeasuresKey), recorded as
  // "link.measures" (counts only). Returns how many were queued; 0 once it is known.
  Result<int64_t> AcceptMeasures(const Actor& actor) const;

 private:
  NodeConfig config_;
  store::RegistryStore* store_;
  const crypto::FieldCipher* cipher_;
  const Clock* clock_;
  const audit::AuditLog* log_;
  std::unique_ptr<ReaderPool> readers_;  // the sender reads every round: no new connection
};

}  // namespace kakunin::registry
