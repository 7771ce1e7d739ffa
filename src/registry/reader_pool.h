#pragma once

// Read snapshots for the registry's use cases. Opening a reader is costly (a SQLite connection),
// so the ones a finished call used are kept for the next call. The use cases take their readers
// from here: nothing above registry/ (api/, the console) ever holds a store type.

#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "store/registry_store.h"

namespace kakunin::registry {

// One pool per store. Thread-safe: any number of threads lease readers at once; each reader is
// used by one lease at a time.
class ReaderPool {
 public:
  // `store` is not owned and must outlive the pool (and every lease).
  explicit ReaderPool(store::RegistryStore* store);
  ~ReaderPool();
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // A reader for one call; it goes back to the pool when the lease goes. Must not outlive the
  // pool.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    store::RegistryReader& operator*() const { return *reader_; }
    store::RegistryReader* operator->() const { return reader_.get(); }

   private:
    friend class ReaderPool;
    Lease(ReaderPool* pool, std::unique_ptr<store::RegistryReader> reader);
    ReaderPool* pool_;
    std::unique_ptr<store::RegistryReader> reader_;
  };

  // An idle reader, or a new one. kUnavailable (the store's message) if the store cannot open
  // one: the node cannot serve reads right now, which the API answers with 503.
  Result<Lease> Acquire();

  // Readers kept idle right now (for tests).
  size_t idle() const;

 private:
  void Return(std::unique_ptr<store::RegistryReader> reader);

  store::RegistryStore* store_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<store::RegistryReader>> idle_;
};

}  // namespace kakunin::registry
