#pragma once

// What the node's host may print without an operator's nomination (kakunin stats, clients
// list, operator list): counts without personal data and the two registers of who may connect
// and who operates. Each call opens its own read snapshot, so the commands above never hold a
// store type (DESIGN §3). Resident data is not reachable from here.

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/field_cipher.h"
#include "registry/gateway.h"
#include "registry/operators.h"
#include "registry/record_digest.h"
#include "store/registry_store.h"

namespace kakunin::registry {

struct NodeStats {
  int64_t active = 0;
  int64_t removed = 0;
  int64_t versions = 0;
  int64_t superseded_versions = 0;
  int64_t code_changes = 0;
  int64_t senders = 0;
  int64_t applied_notifications = 0;
  int64_t outbox_pending = 0;
};

// One row of the operator register, without credentials.
struct OperatorListing {
  std::string operator_id;
  std::string name;
  std::string status;              // active | suspended | retired
  std::vector<std::string> roles;  // those in force
};

// Thread-compatible.
class HostReports {
 public:
  // Not owned; all must outlive the reports.
  HostReports(store::RegistryStore* store, const Gateway* gateway, const OperatorDesk* operators);

  Result<NodeStats> Stats() const;
  // The per-prefecture digest of the current records (registry/record_digest.h). Needs the
  // node's field cipher (UseCipher) to open the sealed individual numbers it hashes.
  void UseCipher(const crypto::FieldCipher* cipher) { cipher_ = cipher; }
  Result<std::vector<PrefectureDigest>> Digests() const;
  // The client register, revoked clients included (Gateway::List).
  Result<std::vector<Client>> Clients() const;
  // The operator register, in the store's order.
  Result<std::vector<OperatorListing>> Operators() const;

 private:
  store::RegistryStore* store_;
  const Gateway* gateway_;
  const OperatorDesk* operators_;
  const crypto::FieldCipher* cipher_ = nullptr;
};

}  // namespace kakunin::registry
