// 支援措置 (DV等支援措置): the municipality holding a person's record marks them as under a
// support measure for a victim of domestic violence, stalking or child abuse, and every
// provision of their address carries the mark while it is in force. docs/support-measures.md
// says why the node marks rather than withholds.

#include <string>

#include "core/date.h"
#include "domain/local_gov_code.h"
#include "registry/detail/registry_internal.h"
#include "registry/gateway.h"
#include "registry/national.h"

namespace kakunin::registry {
namespace {

constexpr const char* kSet = "support_measure.set";
constexpr const char* kEnd = "support_measure.end";

Status NotHeld() {
  return Status::NotFound("this municipality holds no active record under that code")
      .WithReason("not_found");
}

// Who may change a person's measure, checked in the transaction that records the change: a CS
// still registered, on a node not halted, of the municipality holding the active record (or its
// successor after a merger; never the CS of a municipality merged away). Returns the person.
Result<store::ResidentRow> SupportMeasureHolder(store::RegistryTxn& txn, const Client& cs,
                                                const std::string& code, Date today) {
  KAKUNIN_RETURN_IF_ERROR(detail::CsStillServed(txn, cs));
  KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindByResidentCode(code));
  if (!row || row->status != store::ResidentStatus::kActive ||
      !detail::CsActsFor(cs, row->municipality_code, today)) {
    return NotHeld();
  }
  return *row;
}

// The desk's own decisions, recorded as refusals; anything else is a failure.
bool Refused(const Status& st) { return detail::IsRefusal(st) || st.reason() == "not_found"; }

// Queues the change for the national node, once it has said it applies them (before that, a
// national node older than them would refuse the batch; LinkOutbox::AcceptMeasures queues the
// measures then in force when it does).
Status QueueForNationalNode(store::RegistryTxn& txn, int64_t version_id, int64_t at,
                            const std::string& municipality,
                            const std::optional<std::string>& valid_until) {
  KAKUNIN_ASSIGN_OR_RETURN(accepted, txn.GetMeta(kLinkMeasuresKey));
  if (!accepted) return Status::Ok();
  return txn.EnqueueSupportMeasure(version_id, at, municipality, valid_until);
}

}  // namespace

Result<std::string> Gateway::SetSupportMeasure(const Client& cs, const std::string& terminal,
                                               const std::string& resident_code,
                                               const std::string& valid_until) const {
  const Actor actor = cs.ActorAt(terminal);
  const std::vector<std::string> asked = {resident_code};
  if (cs.kind != ClientKind::kMunicipalCs || cs.revoked_at != 0 || prefecture_ == 0) {
    return RefuseClient(actor, kSet, "",
                        Status::PermissionDenied("only the CS of the municipality holding the "
                                                 "record sets a support measure, on a "
                                                 "prefecture node")
                            .WithReason("not_permitted"),
                        asked);
  }
  const Date today = clock_->TodayJst();
  auto until = ParseIsoDate(valid_until).date;
  if (!until || until->ToIso() != valid_until || *until < today ||
      until->ToDays() > today.ToDays() + kMaxSupportMeasureDays) {
    return RefuseClient(actor, kSet, "",
                        Status::InvalidArgument(
                            "valid_until must be a date (YYYY-MM-DD) from today to " +
                            std::to_string(kMaxSupportMeasureDays) + " days ahead")
                            .WithReason("invalid_request"),
                        asked);
  }
  audit::AuditEntry e = detail::ReadEntry(actor, kSet, "");
  e.targets.push_back(ResidentTarget(registry_->cipher(), resident_code, true));
  e.conditions = "valid_until=" + valid_until;
  e.outcome = "done";
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(row, SupportMeasureHolder(txn, cs, resident_code, today));
    KAKUNIN_ASSIGN_OR_RETURN(before, txn.SupportMeasureOf(row.person_id));
    store::SupportMeasureRow m;
    m.person_id = row.person_id;
    const bool in_force = before && SupportMeasureInForce(*before, today.ToIso());
    // A municipality that did not set the measure in force only extends it: an earlier last
    // day would end it tonight (found in review: the end refused, the day set to today).
    if (in_force && !detail::CsActsFor(cs, before->municipality_code, today) &&
        valid_until < before->valid_until) {
      return Status::PermissionDenied(
                 "この支援措置は、設定した市町村以外は延長だけができます / another municipality "
                 "than the one that set the measure only extends it")
          .WithReason("not_permitted");
    }
    // An extension keeps the day the protection began; a new measure begins today.
    m.since = in_force ? before->since : today.ToIso();
    m.valid_until = valid_until;
    // …and the municipality that set it, which alone ends it (EndSupportMeasure): a
    // municipality the record moved to can extend a measure in force, never take it over.
    m.municipality_code = in_force ? before->municipality_code : cs.municipality_code;
    m.set_at = clock_->NowMicros();
    m.set_by = actor.id;
    KAKUNIN_RETURN_IF_ERROR(txn.PutSupportMeasure(m));
    // The national node learns of it in order with the records (its answers carry the mark).
    return QueueForNationalNode(txn, row.version_id, m.set_at, cs.municipality_code,
                                valid_until);
  });
  if (st.ok()) return valid_until;
  if (Refused(st)) return RefuseClient(actor, kSet, "", st, asked);
  return st;
}

Status Gateway::EndSupportMeasure(const Client& cs, const std::string& terminal,
                                  const std::string& resident_code) const {
  const Actor actor = cs.ActorAt(terminal);
  const std::vector<std::string> asked = {resident_code};
  if (cs.kind != ClientKind::kMunicipalCs || cs.revoked_at != 0 || prefecture_ == 0) {
    return RefuseClient(actor, kEnd, "",
                        Status::PermissionDenied("only the CS of the municipality holding the "
                                                 "record ends a support measure, on a "
                                                 "prefecture node")
                            .WithReason("not_permitted"),
                        asked);
  }
  const Date today = clock_->TodayJst();
  audit::AuditEntry e = detail::ReadEntry(actor, kEnd, "");
  e.targets.push_back(ResidentTarget(registry_->cipher(), resident_code, true));
  e.outcome = "done";
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(detail::CsStillServed(txn, cs));
    KAKUNIN_ASSIGN_OR_RETURN(found, txn.FindByResidentCode(resident_code));
    if (!found || found->status != store::ResidentStatus::kActive) return NotHeld();
    const store::ResidentRow& row = *found;
    KAKUNIN_ASSIGN_OR_RETURN(m, txn.SupportMeasureOf(row.person_id));
    const bool in_force = m && SupportMeasureInForce(*m, today.ToIso());
    // The holder, or the municipality that set the measure in force though the record has moved
    // on since (a person protected there who moved asks it to end the measure): any other gets
    // the answer for a code it does not hold.
    if (!detail::CsActsFor(cs, row.municipality_code, today) &&
        !(in_force && detail::CsActsFor(cs, m->municipality_code, today))) {
      return NotHeld();
    }
    if (!in_force) {
      return Status::NotFound("no support measure is in force for this resident")
          .WithReason("not_found");
    }
    // Only the municipality that set it (or its successor) ends it early; to any other it
    // lapses after its last day. Found in review: a CS that knew the person's birth date, sex
    // and individual number took the record over with a moved_in (which supersedes a
    // registration elsewhere, the contract's late-転出 rule) and ended the protection at once.
    if (!detail::CsActsFor(cs, m->municipality_code, today)) {
      return Status::PermissionDenied(
                 "この支援措置は、設定した市町村だけが終了できます（期間の満了で終わります） / "
                 "only the municipality that set the measure ends it early; it lapses after its "
                 "last day")
          .WithReason("not_permitted");
    }
    // Kept, with the moment it ended: a later review still knows when the person was protected.
    m->ended_at = clock_->NowMicros();
    m->set_by = actor.id;
    KAKUNIN_RETURN_IF_ERROR(txn.PutSupportMeasure(*m));
    return QueueForNationalNode(txn, row.version_id, m->ended_at, cs.municipality_code,
                                std::nullopt);
  });
  if (st.ok()) return st;
  if (Refused(st)) return RefuseClient(actor, kEnd, "", st, asked);
  return st;
}

}  // namespace kakunin::registry
