#include "registry/detail/registry_internal.h"

namespace kakunin::registry::detail {

std::string NumberMac(const crypto::FieldCipher& c, std::string_view number) {
  return c.LookupHash(std::string("kakunin/individual_number/v1:") + std::string(number));
}

bool IsRefusal(const Status& st) {
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kPermissionDenied ||
         st.reason() == "halted";
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
