#include "registry/media.h"

#include <map>
#include <utility>

#include "registry/detail/registry_internal.h"
#include "registry/registers.h"

namespace kakunin::registry {
namespace {

constexpr const char* kCustody = "media.custody";
constexpr size_t kMaxNote = 500;
constexpr int64_t kMaxMediaId = 999999999;

std::string CustodyOf(const std::string& status, const std::string& last_event) {
  if (last_event == kMediumDisposed) return "disposed";
  if (last_event == kMediumTakenOut) return "taken_out";
  if (status == "writing") return "writing";
  return "stored";
}

}  // namespace

MediaDesk::MediaDesk(store::RegistryStore* store, const Registry* registry, const Clock* clock)
    : store_(store), registry_(registry), clock_(clock) {}

Result<std::vector<Medium>> MediaDesk::List() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  store::ReadSnapshot snapshot(*reader);
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->ListMedia());
  KAKUNIN_ASSIGN_OR_RETURN(events, reader->ListMediaEvents());
  std::map<int64_t, std::vector<MediumEvent>> by_medium;
  for (auto& e : events) {
    by_medium[e.media_id].push_back(MediumEvent{e.id, e.at, std::move(e.event),
                                                std::move(e.note), std::move(e.recorded_by)});
  }
  std::vector<Medium> out;
  out.reserve(rows.size());
  for (auto& r : rows) {
    Medium m{r.id,     r.kind,  r.label, r.location, r.created_at, r.created_by,
             r.status, r.bytes, r.digest, "",        {}};
    if (auto it = by_medium.find(r.id); it != by_medium.end()) m.events = std::move(it->second);
    m.custody = CustodyOf(m.status, m.events.empty() ? "" : m.events.back().event);
    out.push_back(std::move(m));
  }
  return out;
}

Result<int64_t> MediaDesk::RecordCustody(int64_t media_id, const std::string& event,
                                         const std::string& note, const Actor& actor) const {
  const bool known = event == kMediumTakenOut || event == kMediumReturned ||
                     event == kMediumDisposed;
  // The entry names the medium and the event; an event the desk does not know is not echoed.
  const bool id_shape = media_id > 0 && media_id <= kMaxMediaId;
  const std::string conditions =
      "media=" + (id_shape ? std::to_string(media_id) : std::string("(invalid)")) +
      " event=" + (known ? event : std::string("(invalid)"));
  auto refuse = [&](Status why) -> Status {
    audit::AuditEntry e = registry_->RefusalEntry(actor, kCustody, "", why, {});
    e.conditions = conditions;
    KAKUNIN_RETURN_IF_ERROR(registry_->Record(std::move(e)));
    return why;
  };
  if (!known) {
    return refuse(Status::InvalidArgument("the event is taken_out, returned or disposed")
                      .WithReason("invalid_request"));
  }
  // A register's id: never as long as a 住民票コード or 個人番号, which would otherwise be
  // written into the log and the answer as given (review finding).
  if (!id_shape) {
    return refuse(Status::InvalidArgument("a medium's id is a positive number of at most 9 digits")
                      .WithReason("invalid_request"));
  }
  if (Status st = CheckFreeText(note, kMaxNote, false, "the note"); !st.ok()) return refuse(st);

  audit::AuditEntry e = detail::ReadEntry(actor, kCustody, "");
  e.conditions = conditions;
  e.outcome = "done";
  int64_t event_id = 0;
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(state, txn.GetMediumState(media_id));
    if (!state) {
      return Status::NotFound("the media register has no medium " + std::to_string(media_id))
          .WithReason("not_found");
    }
    const std::string custody = CustodyOf(state->status, state->last_event);
    bool allowed = false;
    if (event == kMediumTakenOut) allowed = state->status == "complete" && custody == "stored";
    if (event == kMediumReturned) allowed = custody == "taken_out";
    if (event == kMediumDisposed) allowed = custody != "disposed";
    if (!allowed) {
      return Status::FailedPrecondition("medium " + std::to_string(media_id) + " is " +
                                        (state->status == "complete" ? custody : state->status) +
                                        ": it cannot be " + event + " now")
          .WithReason("conflict");
    }
    store::MediaEventRow row;
    row.media_id = media_id;
    row.at = clock_->NowMicros();
    row.event = event;
    row.note = note;
    row.recorded_by = actor.id;
    KAKUNIN_ASSIGN_OR_RETURN(id, txn.InsertMediaEvent(row));
    event_id = id;
    return Status::Ok();
  });
  if (st.ok()) return event_id;
  // The desk's own decisions only: a store or log failure is a failure, not a refusal.
  if (st.reason() == "not_found" || st.reason() == "conflict") return refuse(st);
  return st;
}

Result<int64_t> MediaDesk::BeginExport(audit::AuditEntry entry, const std::string& label,
                                       const std::string& location) const {
  store::MediaRow row;
  row.kind = "audit_export";
  row.label = label;
  row.location = location;
  row.created_at = clock_->NowMicros();
  row.created_by = entry.actor;
  row.status = "writing";
  int64_t media_id = 0;
  KAKUNIN_RETURN_IF_ERROR(
      registry_->RecordWith(std::move(entry), [&](store::RegistryTxn& txn) -> Status {
        KAKUNIN_ASSIGN_OR_RETURN(id, txn.InsertMedia(row));
        media_id = id;
        return Status::Ok();
      }));
  return media_id;
}

Status MediaDesk::FinishExport(int64_t media_id, bool written, int64_t bytes,
                               const std::string& sha256, const Actor& actor) const {
  audit::AuditEntry e = detail::ReadEntry(actor, written ? "audit.export.complete"
                                                         : "audit.export.failed", "");
  e.conditions = "media=" + std::to_string(media_id);
  if (written) e.conditions += " sha256=" + sha256;
  e.result_count = written ? bytes : 0;
  e.outcome = written ? "done" : "failed";
  return registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) {
    return written ? txn.FinishMedia(media_id, "complete", bytes, sha256)
                   : txn.FinishMedia(media_id, "failed", 0, "");
  });
}

}  // namespace kakunin::registry
