#include "registry/reader_pool.h"

#include <utility>

namespace kakunin::registry {

ReaderPool::ReaderPool(store::RegistryStore* store) : store_(store) {}

ReaderPool::~ReaderPool() = default;

ReaderPool::Lease::Lease(ReaderPool* pool, std::unique_ptr<store::RegistryReader> reader)
    : pool_(pool), reader_(std::move(reader)) {}

ReaderPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), reader_(std::move(other.reader_)) {}

ReaderPool::Lease::~Lease() {
  if (reader_) pool_->Return(std::move(reader_));
}

Result<ReaderPool::Lease> ReaderPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty()) {
      auto reader = std::move(idle_.back());
      idle_.pop_back();
      // A reader whose connection broke while idle (a failover) is dropped, not handed out.
      if (reader->Reusable()) return Lease(this, std::move(reader));
    }
  }
  // Opened outside the lock: a slow open must not hold up the threads returning readers.
  auto reader = store_->OpenReader();
  if (!reader.ok()) {
    return Status::Unavailable("cannot open a read snapshot: " + reader.status().message());
  }
  return Lease(this, std::move(*reader));
}

size_t ReaderPool::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_.size();
}

void ReaderPool::Return(std::unique_ptr<store::RegistryReader> reader) {
  if (!reader->Reusable()) return;  // its connection broke during the call
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(reader));
}

}  // namespace kakunin::registry
