#pragma once

// Bulk ingest with two stages in flight: while one batch is applied and committed, the
// next is read, field-checked and prepared (keys, MACs, sealing) on another thread. On two
// cores this keeps the writer busy instead of waiting for the stateless work.

#include <cstddef>
#include <functional>
#include <vector>

#include "registry/registry.h"

namespace kakunin::registry {

struct IngestBatch {
  std::vector<size_t> positions;  // the caller's numbering (line or index), one per item
  std::vector<PreparedNotification> items;
};

// `fill` appends one batch of checked notifications (preparing them with Registry::Prepare;
// it chooses the batch size) and returns false when the input is exhausted; it runs on a helper
// thread, one call at a time. `committed` receives each batch's results in order, after
// the batch is durable; it runs on the calling thread. Stops at the first error.
Status PipelinedIngest(Registry& registry, const Actor& actor,
                       const std::function<bool(IngestBatch*)>& fill,
                       const std::function<Status(const IngestBatch&,
                                                  const std::vector<ApplyResult>&)>& committed);

}  // namespace kakunin::registry
