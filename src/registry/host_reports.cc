#include "registry/host_reports.h"

namespace kakunin::registry {

HostReports::HostReports(store::RegistryStore* store, const Gateway* gateway,
                         const OperatorDesk* operators)
    : store_(store), gateway_(gateway), operators_(operators) {}

Result<NodeStats> HostReports::Stats() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(s, reader->Stats());
  return NodeStats{s.active,
                   s.removed,
                   s.versions,
                   s.superseded_versions,
                   s.code_changes,
                   s.senders,
                   s.applied_notifications,
                   s.outbox_pending};
}

Result<std::vector<PrefectureDigest>> HostReports::Digests() const {
  if (cipher_ == nullptr) return Status::FailedPrecondition("no field cipher for the digest");
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  return CurrentRecordDigests(*reader, *cipher_);
}

Result<std::vector<Client>> HostReports::Clients() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  return gateway_->List(*reader);
}

Result<std::vector<OperatorListing>> HostReports::Operators() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->ListOperators());
  std::vector<OperatorListing> out;
  out.reserve(rows.size());
  for (const auto& o : rows) {
    OperatorListing l{o.operator_id, o.name, o.status, {}};
    // As before: an operator whose roles cannot be read is listed without them.
    auto view = operators_->Load(*reader, o.operator_id);
    if (view.ok() && *view) l.roles = (*view)->roles;
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace kakunin::registry
