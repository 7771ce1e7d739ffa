#pragma once

// The media register (媒体の管理簿; the operating rules' 第2 3, and the risk measures' "媒体へ出力
// する必要がある場合には、逐一出力の記録が残される仕組み"): every copy that leaves the node on a medium
// — a backup (registry/backup.h), an export of the operation log (`kakunin audit export`) — is a
// row written with the operation that makes it, and what then becomes of the medium is recorded
// after it: taken out of the locked storage (持出し), returned (返却), disposed of (廃棄). The
// register holds kinds, paths, sizes, digests, actor ids and the staff's short notes, never a
// resident's data; every change of it is an operation-log entry that names the medium and the
// event, never the note.

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::registry {

// What became of a medium once written, in order.
struct MediumEvent {
  int64_t id = 0;
  int64_t at = 0;            // µs since epoch
  std::string event;         // "taken_out" | "returned" | "disposed"
  std::string note;          // to whom, where, how
  std::string recorded_by;   // the actor id
};

// One row of the media register, for `kakunin media list`.
struct Medium {
  int64_t id = 0;
  std::string kind;  // "backup" | "audit_export"
  std::string label;
  std::string location;
  int64_t created_at = 0;
  std::string created_by;
  std::string status;  // "writing" | "complete" | "failed"
  int64_t bytes = 0;
  std::string digest;
  // Where the medium is now: "writing" until written, then "stored" (in the locked storage),
  // "taken_out", or "disposed" (final).
  std::string custody;
  std::vector<MediumEvent> events;
};

// The three custody events; the state each leaves the medium in is its custody.
inline constexpr const char* kMediumTakenOut = "taken_out";
inline constexpr const char* kMediumReturned = "returned";
inline constexpr const char* kMediumDisposed = "disposed";

// Thread-safe (the registry and the store are; the desk keeps no state).
class MediaDesk {
 public:
  // Not owned; all must outlive the desk.
  MediaDesk(store::RegistryStore* store, const Registry* registry, const Clock* clock);

  // Every medium, oldest first, with its events and custody.
  Result<std::vector<Medium>> List() const;

  // Records what became of medium `media_id`: `event` taken_out, returned or disposed; `note`
  // (1-500 characters, one line, no 11- or 12-digit number) says to whom, where, or how it was
  // destroyed. A medium is taken out only while stored (written complete, and returned if it
  // was taken out), returned only while taken out, and disposed of once, from any state (a
  // failed or interrupted write leaves a medium to destroy too, and one handed to another body
  // may be destroyed there). Checked in the transaction that records it, so two clerks recording at
  // once cannot both take one medium out. Every call is a "media.custody" entry naming the
  // medium and the event (never the note): outcome done, or refused:invalid_request (a bad
  // event or note), refused:not_found (no such medium), refused:conflict (not allowed in the
  // medium's state). Returns the event's id.
  Result<int64_t> RecordCustody(int64_t media_id, const std::string& event,
                                const std::string& note, const Actor& actor) const;

  // An export of the operation log onto a medium: Begin records `entry` (the "audit.export"
  // entry) with a new row of kind "audit_export", status "writing", labelled `label`, at
  // `location`, and returns the row's id; Finish records "audit.export.complete" with the
  // archive's size and SHA-256 (hex) in the entry and the row, or "audit.export.failed".
  Result<int64_t> BeginExport(audit::AuditEntry entry, const std::string& label,
                              const std::string& location) const;
  Status FinishExport(int64_t media_id, bool written, int64_t bytes, const std::string& sha256,
                      const Actor& actor) const;

 private:
  store::RegistryStore* store_;
  const Registry* registry_;
  const Clock* clock_;
};

}  // namespace kakunin::registry
