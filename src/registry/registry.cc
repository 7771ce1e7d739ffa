// The registry's construction and the plumbing its use cases share: the write path (through
// the write queue if there is one), recording, checkpoints, purpose checks. The use cases
// themselves are beside it: apply.cc, read.cc, provide.cc, retention.cc, halt.cc.

#include "registry/registry.h"

#include "registry/detail/registry_internal.h"
#include "registry/write_queue.h"

namespace kakunin::registry {

std::string NumberAssociatedData(const std::string& municipality, int64_t sequence) {
  return "kakunin/version/" + municipality + "/" + std::to_string(sequence);
}

bool IsValidPurposeId(std::string_view purpose) {
  if (purpose.empty() || purpose.size() > 64) return false;
  for (char c : purpose) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string LoggedPurpose(const PurposeCatalogue* catalogue, std::string_view purpose) {
  if (purpose.empty()) return "";
  if (!IsValidPurposeId(purpose)) return "(invalid)";
  const std::string id(purpose);
  if (catalogue != nullptr) return catalogue->Find(id) != nullptr ? id : "(unknown)";
  return purpose[0] >= 'a' && purpose[0] <= 'z' ? id : "(unknown)";
}

Registry::Registry(const NodeConfig& config, store::RegistryStore* store,
                   const crypto::FieldCipher* cipher, const Clock* clock,
                   const audit::AuditLog* log)
    : config_(config),
      store_(store),
      cipher_(cipher),
      clock_(clock),
      log_(log),
      naming_(clock),
      client_refusals_(std::make_unique<auth::RefusalSampler>(
          clock, kClientRefusalSampleSeconds * 1000000, /*max_keys=*/4096, kClientRefusalsFree)) {}

bool Registry::SampleRefusal(const Actor& actor, audit::AuditEntry* e) const {
  if (!e->targets.empty() || actor.id.rfind("cert:", 0) != 0) return true;
  const std::string reason =
      e->outcome.rfind("refused:", 0) == 0 ? e->outcome.substr(8) : e->outcome;
  auto counts = client_refusals_->Note(actor.id + "\n" + e->action + "\n" + e->purpose, reason);
  if (!counts) return false;
  auth::RefusalSampler::AppendCounts(*counts, &e->conditions);
  return true;
}

Status Registry::WriteHeldRefusals(bool everything) const {
  std::vector<audit::AuditEntry> entries;
  for (auto& [key, counts] : client_refusals_->TakeHeld(everything)) {
    // key: actor, action and logged purpose (SampleRefusal); "" for the overflow slot.
    std::string actor = "cert:(several)", action = "client.refused", purpose;
    if (const size_t a = key.find('\n'); a != std::string::npos) {
      const size_t b = key.find('\n', a + 1);
      actor = key.substr(0, a);
      action = key.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
      if (b != std::string::npos) purpose = key.substr(b + 1);
    }
    audit::AuditEntry e = detail::ReadEntry(Actor{actor, "(held back)"}, action.c_str(), purpose);
    e.outcome = "refused:sampled";
    auth::RefusalSampler::AppendCounts(counts, &e.conditions, /*even_one=*/true);
    entries.push_back(std::move(e));
  }
  return RecordAll(std::move(entries));  // one commit, however many keys
}

Status Registry::RecordRefusal(const Actor& actor, audit::AuditEntry e) const {
  if (!SampleRefusal(actor, &e)) return Status::Ok();
  return Record(std::move(e));
}

CheckOptions Registry::check_options() const {
  CheckOptions o;
  o.today = clock_->TodayJst();
  o.resident_code_check = config_.resident_code_check;
  return o;
}

Status Registry::CheckPurpose(const std::string& purpose) const {
  if (!IsValidPurposeId(purpose)) return Status::InvalidArgument("a valid purpose is required");
  if (purposes_ != nullptr && purposes_->Find(purpose) == nullptr) {
    return Status::PermissionDenied("the purpose is not in the catalogue")
        .WithReason("purpose_not_permitted");
  }
  return Status::Ok();
}

Status Registry::WriteTxn(const std::function<Status(store::RegistryTxn&)>& job) const {
  if (queue_ != nullptr) return queue_->Submit(job);
  return store_->Write(job);
}

Status Registry::Record(audit::AuditEntry entry) const {
  return WriteTxn([&](store::RegistryTxn& txn) -> Status {
    return log_->Append(txn, std::move(entry)).status();
  });
}

Status Registry::RecordAll(std::vector<audit::AuditEntry> entries) const {
  if (entries.empty()) return Status::Ok();
  return WriteTxn([&](store::RegistryTxn& txn) -> Status {
    for (const audit::AuditEntry& e : entries) {  // copies: a retried job starts afresh
      KAKUNIN_RETURN_IF_ERROR(log_->Append(txn, e).status());
    }
    return Status::Ok();
  });
}

Status Registry::RecordWith(audit::AuditEntry entry,
                            const std::function<Status(store::RegistryTxn&)>& change) const {
  return WriteTxn([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(change(txn));
    return log_->Append(txn, std::move(entry)).status();
  });
}

Status Registry::RecordCompleted(
    audit::AuditEntry entry,
    const std::function<Status(store::RegistryTxn&, audit::AuditEntry&)>& change) const {
  return WriteTxn([&](store::RegistryTxn& txn) -> Status {
    audit::AuditEntry e = entry;  // a retried job starts from the entry as given
    KAKUNIN_RETURN_IF_ERROR(change(txn, e));
    return log_->Append(txn, std::move(e)).status();
  });
}

Status Registry::FinishPendingScrub() const { return store_->FinishPendingScrub(); }

Status Registry::Checkpoint() const {
  return store_->Write([&](store::RegistryTxn& txn) { return log_->WriteCheckpoint(txn); });
}

}  // namespace kakunin::registry
