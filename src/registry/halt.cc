// 作動停止: halting and resuming the node, and the check the writing use cases make inside
// their own transaction.

#include <cstdlib>

#include "core/bytes.h"
#include "registry/registers.h"
#include "registry/registry.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {
constexpr char kHaltedKey[] = "halted_since";
// The reason as written, while the node is halted: in the database (not the log), shown by
// `kakunin resume` when it lifts the halt.
constexpr char kHaltReasonKey[] = "halted_reason";
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

Status Registry::Halt(const std::string& reason, const Actor& actor,
                      const std::function<Status(store::RegistryTxn&)>& check) {
  // Characters, not bytes (found in review: 400 characters of Japanese were refused).
  size_t characters = 0;
  if (reason.empty() || reason.size() > 4000 ||
      text::CheckText(reason, &characters) != text::TextCheck::kOk || characters > 1000) {
    return Status::InvalidArgument("a reason (1-1000 characters of text) is required");
  }
  // The reason is free text typed in an emergency: a name, an address or a birth date in it
  // cannot be told apart from anything else (found in review: numbers were withheld, a name
  // was kept in the log for its retention and shown to auditors). Like the registers' free
  // text, it stays out of the log: the entry holds its keyed hash (HMAC under the node's lookup
  // key, which only the node recomputes for a reason written down elsewhere) and its length.
  // An emergency halt is never refused for what the reason says.
  const std::string logged =
      "reason_mac=" + HexEncode(cipher_->LookupHash("node.halt.reason\n" + reason)).substr(0, 32) +
      " reason_bytes=" + std::to_string(reason.size());
  return store_->Write([&](store::RegistryTxn& txn) -> Status {
    if (check) KAKUNIN_RETURN_IF_ERROR(check(txn));
    KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta(kHaltedKey));
    if (halted) return Status::FailedPrecondition("the node is already halted");
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kHaltedKey, std::to_string(clock_->NowMicros())));
    // Nor is it kept in the database in clear (found in review: the meta row held it while the
    // node was halted, `resume` printed it, and a backup taken meanwhile carried it onto media
    // kept for years): the same keyed hash, to match against the halt's written record.
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kHaltReasonKey, logged));
    audit::AuditEntry e;
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = "node.halt";
    e.conditions = logged;
    e.outcome = "done";
    return log_->Append(txn, std::move(e)).status();
  });
}

Result<std::string> Registry::HaltReason() const {
  KAKUNIN_ASSIGN_OR_RETURN(reason, store_->GetMeta(kHaltReasonKey));
  // A halt made by an earlier version kept the reason itself: never shown (resume deletes it).
  if (reason && !reason->starts_with("reason_mac=")) return std::string("(not kept)");
  return reason.value_or("");
}

Status Registry::Resume(const Actor& actor,
                        const std::function<Status(store::RegistryTxn&)>& check) {
  return store_->Write([&](store::RegistryTxn& txn) -> Status {
    if (check) KAKUNIN_RETURN_IF_ERROR(check(txn));
    KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta(kHaltedKey));
    if (!halted) return Status::FailedPrecondition("the node is not halted");
    KAKUNIN_RETURN_IF_ERROR(txn.DeleteMeta(kHaltedKey));
    KAKUNIN_RETURN_IF_ERROR(txn.DeleteMeta(kHaltReasonKey));
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
