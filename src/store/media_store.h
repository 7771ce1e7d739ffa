#pragma once

// The media register (媒体の管理簿, the operating rules' 第2 3): every copy of the registry or of
// its operation log that leaves the node on a medium — backups and operation-log exports — with
// where it went, who made it and its digest, and what became of the medium afterwards (taken
// out, returned, disposed of). No resident's data: kinds, paths, sizes, digests, actor ids and
// the staff's short notes.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::store {

struct MediaRow {
  int64_t id = 0;               // assigned by InsertMedia
  std::string kind;             // "backup" | "audit_export"
  std::string label;            // the backup id; an export's "FROM..TO" (the dates asked for)
  std::string location;         // the directory written to, as given
  int64_t created_at = 0;       // µs since epoch
  std::string created_by;       // the actor id
  std::string status;           // "writing" | "complete" | "failed"
  int64_t bytes = 0;            // size of what was written (0 until complete)
  std::string digest;           // hex SHA-256 of the signed manifest, of an export's archive
                                // ("" until complete)
};

// What became of a medium once written (持出し・返却・廃棄), in the order it happened. Never
// updated or erased; ids are never handed out again.
struct MediaEventRow {
  int64_t id = 0;            // assigned by InsertMediaEvent
  int64_t media_id = 0;
  int64_t at = 0;            // µs since epoch
  std::string event;         // "taken_out" | "returned" | "disposed"
  std::string note;          // to whom, where, how (1-500 characters; no resident's data)
  std::string recorded_by;   // the actor id
};

// A medium's state as a custody event sees it, read in the transaction that records the event.
struct MediumState {
  std::string status;      // "writing" | "complete" | "failed"
  std::string last_event;  // the newest MediaEventRow::event, "" if none
};

class MediaReader {
 public:
  virtual ~MediaReader() = default;
  // Every medium, oldest first.
  virtual Result<std::vector<MediaRow>> ListMedia() = 0;
  // Every custody event of every medium, oldest first.
  virtual Result<std::vector<MediaEventRow>> ListMediaEvents() = 0;
};

class MediaWriter {
 public:
  virtual ~MediaWriter() = default;
  // Returns the new row's id.
  virtual Result<int64_t> InsertMedia(const MediaRow& row) = 0;
  // Sets status, bytes and digest of row `id`; NotFound if there is none.
  virtual Status FinishMedia(int64_t id, const std::string& status, int64_t bytes,
                             const std::string& digest) = 0;
  // Medium `id`'s status and last custody event; nullopt if there is no such medium. Read in
  // the write transaction, which serialises writers (BEGIN IMMEDIATE; PostgreSQL's writer
  // lock), so a check and the event it allows cannot interleave with another's.
  virtual Result<std::optional<MediumState>> GetMediumState(int64_t id) = 0;
  // Returns the new event's id.
  virtual Result<int64_t> InsertMediaEvent(const MediaEventRow& row) = 0;
};

}  // namespace kakunin::store
