// 作動停止: halting and resuming the node, and the check the writing use cases make inside
// their own transaction.

#include <cstdlib>

#include "registry/registers.h"
#include "registry/registry.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {
constexpr char kHaltedKey[] = "halted_since";
}  // namespace

Status Registry::CheckRunning(store::RegistryTxn& txn) const {
  KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta(kHaltedKey));
  if (halted) return Status::Unavailable("the node is halted").WithReason("halted");
  return Status::Ok();
}

Result<std::optional<int64_t>> Registry::HaltedSince(store::RegistryReader& reader) const {
  KAKUNIN_ASSIGN_OR_RETURN(halted, reader.GetMeta(kHaltedKey));
  if (!halted) return std::optional<int64_t>();
  return std::optional<int64_t>(std::strtoll(halted->c_str(), nullptr, 10));
}

Status Registry::Halt(const std::string& reason, const Actor& actor) {
  if (reason.empty() || reason.size() > 1000 || text::CheckText(reason) != text::TextCheck::kOk) {
    return Status::InvalidArgument("a reason (1-1000 characters of text) is required");
  }
  // The reason is kept in the operation log for its whole retention and shown to auditors: like
  // the registers' free text, it may not hold a resident number. An emergency halt is never
  // refused for it (a telephone number looks the same): the reason is withheld instead.
  const std::string logged =
      CheckFreeText(reason, 1000, false, "reason").ok() ? reason : std::string("(withheld)");
  return store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta(kHaltedKey));
    if (halted) return Status::FailedPrecondition("the node is already halted");
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kHaltedKey, std::to_string(clock_->NowMicros())));
    audit::AuditEntry e;
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = "node.halt";
    e.conditions = "reason=" + logged;
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
}

Status Registry::Resume(const Actor& actor) {
  return store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta(kHaltedKey));
    if (!halted) return Status::FailedPrecondition("the node is not halted");
    KAKUNIN_RETURN_IF_ERROR(txn.DeleteMeta(kHaltedKey));
    audit::AuditEntry e;
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = "node.resume";
    e.conditions = "halted_since=" + *halted;
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
}

}  // namespace kakunin::registry
