#pragma once

// A subtree source that reads the log's stored nodes through a reader and counts the reads:
// the proof benches' evidence for "O(log n) reads per proof".

#include <cstdint>
#include <string>

#include "audit/merkle.h"
#include "core/status.h"
#include "store/registry_store.h"

namespace kakunin::bench {

class CountingReaderSource final : public audit::SubtreeSource {
 public:
  explicit CountingReaderSource(store::RegistryReader& r) : r_(r) {}
  Result<std::string> Subtree(uint32_t level, uint64_t index) override {
    ++calls;
    auto h = r_.AuditNode(level, static_cast<int64_t>(index));
    if (!h.ok()) return h.status();
    if (!*h) return Status::NotFound("node");
    return **h;
  }
  uint64_t calls = 0;

 private:
  store::RegistryReader& r_;
};

}  // namespace kakunin::bench
