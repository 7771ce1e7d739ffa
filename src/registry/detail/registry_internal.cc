#include "registry/detail/registry_internal.h"

#include "domain/local_gov_code.h"

namespace kakunin::registry::detail {

std::string NumberMac(const crypto::FieldCipher& c, std::string_view number) {
  return c.LookupHash(std::string("kakunin/individual_number/v1:") + std::string(number));
}

Result<bool> TakeExpectedMoveOutFor(store::RegistryTxn& txn, int64_t person_id,
                                    const std::string& sender, Date today) {
  KAKUNIN_ASSIGN_OR_RETURN(expected, txn.TakeExpectedMoveOut(person_id, sender));
  if (expected) return true;
  const LocalGovTable& table = LocalGovTable::Builtin();
  for (const LocalGovHistoryEntry& h : table.history()) {
    // A merger stays within a prefecture: only those codes can name a predecessor.
    if (h.code.compare(0, 2, sender, 0, 2) != 0 || !table.SpeaksFor(sender, h.code, today)) {
      continue;
    }
    KAKUNIN_ASSIGN_OR_RETURN(old, txn.TakeExpectedMoveOut(person_id, h.code));
    if (old) return true;
  }
  return false;
}

bool IsRefusal(const Status& st) {
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kPermissionDenied ||
         st.reason() == "halted";
}

Status CsStillServed(store::RegistryTxn& txn, const Client& cs) {
  KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta("halted_since"));
  if (halted) return Status::Unavailable("the node is halted").WithReason("halted");
  KAKUNIN_ASSIGN_OR_RETURN(client, txn.FindClient(cs.spki_sha256));
  if (!client || client->revoked_at != 0) {
    return Status::PermissionDenied("the client certificate was revoked")
        .WithReason("client_revoked");
  }
  return Status::Ok();
}

bool CsActsFor(const Client& cs, std::string_view registered, Date today) {
  const LocalGovTable& table = LocalGovTable::Builtin();
  const LocalGovEntry* own = table.Find(cs.municipality_code);
  return own != nullptr && own->is_municipality() &&
         table.SpeaksFor(cs.municipality_code, registered, today);
}

audit::AuditEntry ReadEntry(const Actor& actor, const char* action, const std::string& purpose) {
  audit::AuditEntry e;
  e.actor = actor.id;
  e.terminal = actor.terminal;
  e.action = action;
  e.purpose = purpose;
  return e;
}

}  // namespace kakunin::registry::detail
