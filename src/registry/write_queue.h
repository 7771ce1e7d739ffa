#pragma once

// Group commit (DESIGN §5): concurrent writers queue their work; one of them (the leader)
// runs every queued job in a single transaction, commits durably, and only then are all
// of them answered. A job runs inside its own savepoint, so a failing job is undone
// without disturbing the others in its batch.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

#include "store/registry_store.h"

namespace kakunin::registry {

// Thread-safe.
class WriteQueue {
 public:
  using Job = std::function<Status(store::RegistryTxn&)>;

  // `store` must outlive the queue. At most `max_batch` jobs share a transaction.
  WriteQueue(store::RegistryStore* store, size_t max_batch);

  // Runs `job` in the next batch and blocks until that batch is durable. Returns the job's
  // own status if it failed (its changes undone), else the commit's status.
  Status Submit(Job job);

  // For tests and metrics: how many transactions have committed, and how many jobs.
  size_t batches() const;
  size_t jobs() const;
  // Jobs submitted and not yet taken into a batch (they wait for the running one).
  size_t queued() const;
  // For tests: waits until at least `n` jobs are queued, at most `bound`; false on timeout.
  // Lets a test hold a batch open and know the others are waiting, without sleeping.
  bool WaitForQueued(size_t n, std::chrono::milliseconds bound) const;

 private:
  struct Pending {
    Job job;
    Status status;
    bool done = false;
  };
  void RunBatch(std::deque<Pending*> batch);

  store::RegistryStore* store_;
  size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  mutable std::condition_variable queued_cv_;  // signalled on every submission
  std::deque<Pending*> queue_;
  bool leader_active_ = false;
  size_t batches_ = 0;
  size_t jobs_ = 0;
};

}  // namespace kakunin::registry
