#pragma once

// The link aggregate (DESIGN §3, §5): the prefecture node's outbox as the sender sees it
// (pending changes, delivered marks, purge of delivered rows) and the national node's receiving
// side (the last applied sequence of each prefecture). Outbox rows carry the version they name,
// which holds personal data: never log them.
//
// The methods have default bodies answering kUnavailable ("this store has no link") for a store
// without a link; store/sqlite/ and store/pg/ implement them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/resident_store.h"

namespace kakunin::store {

// One outbox row with the version it forwards.
struct OutboxRow {
  int64_t outbox_id = 0;  // the prefecture's forwarding sequence (increasing, never reused)
  int64_t created_at = 0;
  VersionRow version;
  // A support measure's change (ResidentWriter::EnqueueSupportMeasure) rather than the
  // version: the municipality that set or ended it, and its last day (nullopt: ended). The
  // version is then the person's current one when the measure changed, and names them.
  std::optional<std::string> measure_municipality;
  std::optional<std::string> measure_until;
};

// What is waiting for the national node. No personal data.
struct OutboxBacklog {
  int64_t pending = 0;            // rows not yet delivered
  int64_t oldest_pending_at = 0;  // created_at of the oldest of them (µs); 0 if none
  int64_t delivered = 0;          // delivered rows still kept (purged after the retention)
};

class LinkReader {
 public:
  virtual ~LinkReader() = default;
  // Outbox rows with outbox_id > `after`, delivered or not, in order, at most `limit`. A row
  // whose version retention has already erased is skipped (the national node accepts holes:
  // only the acknowledged point matters).
  virtual Result<std::vector<OutboxRow>> OutboxAfter(int64_t after, int limit) {
    (void)after, (void)limit;
    return Status::Unavailable("this store has no link");
  }
  virtual Result<OutboxBacklog> Backlog() { return Status::Unavailable("this store has no link"); }
  // National node: the last sequence applied from `prefecture` (0 if none).
  virtual Result<int64_t> ReceivedSequence(int prefecture) {
    (void)prefecture;
    return Status::Unavailable("this store has no link");
  }
};

class LinkWriter {
 public:
  virtual ~LinkWriter() = default;
  // Marks every undelivered row with outbox_id <= `up_to` delivered at `at`; returns how many.
  virtual Result<int64_t> MarkDelivered(int64_t up_to, int64_t at) {
    (void)up_to, (void)at;
    return Status::Unavailable("this store has no link");
  }
  // Erases delivered rows delivered before `before`; returns how many.
  virtual Result<int64_t> PurgeDelivered(int64_t before) {
    (void)before;
    return Status::Unavailable("this store has no link");
  }
  // The greatest outbox_id that PurgeDelivered(before) would erase (0 if none): rows are
  // delivered in order, so every row up to it is gone after the purge.
  virtual Result<int64_t> LastDeliveredBefore(int64_t before) {
    (void)before;
    return Status::Unavailable("this store has no link");
  }
  // National node: the last applied sequence of a prefecture, in the transaction that applies.
  virtual Result<int64_t> ReceivedSequenceIn(int prefecture) {
    (void)prefecture;
    return Status::Unavailable("this store has no link");
  }
  virtual Status SetReceivedSequence(int prefecture, int64_t sequence, int64_t at) {
    (void)prefecture, (void)sequence, (void)at;
    return Status::Unavailable("this store has no link");
  }
  // National node: the keyed MAC of the change applied from `prefecture` under `sequence`
  // (registry::ForwardedChangeMac), if one was recorded (changes applied before schema 10 were
  // not).
  virtual Result<std::optional<std::string>> ReceivedChangeMac(int prefecture, int64_t sequence) {
    (void)prefecture, (void)sequence;
    return Status::Unavailable("this store has no link");
  }
  virtual Status RecordReceivedChange(int prefecture, int64_t sequence, const std::string& mac,
                                      int64_t at) {
    (void)prefecture, (void)sequence, (void)mac, (void)at;
    return Status::Unavailable("this store has no link");
  }
  // National node, after `kakunin link rewind`: forgets the MAC of the change received from
  // `prefecture` under `sequence` (another change is applied under that number now).
  virtual Status ForgetReceivedChange(int prefecture, int64_t sequence) {
    (void)prefecture, (void)sequence;
    return Status::Unavailable("this store has no link");
  }
  // National node, at a purge: erases the MACs of changes received before `before` (or, with
  // `dry_run`, counts them); returns how many. They tell a resend from a reused number, which
  // only a change forwarded lately can meet: they go with the operation log's retention.
  virtual Result<int64_t> PurgeReceivedChanges(int64_t before, bool dry_run) {
    (void)before, (void)dry_run;
    return int64_t{0};  // a store without the link holds none
  }
  // Prefecture node: the greatest outbox number this database ever gave out (or skipped to), 0
  // if none — what an acknowledgement of the national node can at most name.
  virtual Result<int64_t> HighestOutboxNumber() {
    return Status::Unavailable("this store has no link");
  }
  // Prefecture node, after a restore: the next outbox row is numbered at least `gap` above
  // every number this database ever gave out (numbers given out after the backup was taken
  // are unknown, and the national node may hold changes under them). Returns that next number.
  virtual Result<int64_t> SkipOutboxNumbers(int64_t gap) {
    (void)gap;
    return Status::Unavailable("this store has no link");
  }
};

}  // namespace kakunin::store
