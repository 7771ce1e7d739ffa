#include "registry/pipeline.h"

#include <future>

namespace kakunin::registry {

Status PipelinedIngest(Registry& registry, const Actor& actor,
                       const std::function<bool(IngestBatch*)>& fill,
                       const std::function<Status(const IngestBatch&,
                                                  const std::vector<ApplyResult>&)>& committed) {
  auto produce = [&fill]() {
    IngestBatch b;
    bool more = fill(&b);
    return std::make_pair(std::move(b), more);
  };
  auto pending = std::async(std::launch::async, produce);
  while (true) {
    auto [batch, more] = pending.get();
    if (more) pending = std::async(std::launch::async, produce);
    if (!batch.items.empty()) {
      auto results = registry.Apply(batch.items, actor);
      Status st = results.ok() ? committed(batch, *results) : results.status();
      if (!st.ok()) {
        if (more) (void)pending.get();  // let the producer finish before returning
        return st;
      }
    }
    if (!more) return Status::Ok();
  }
}

}  // namespace kakunin::registry
