#pragma once

// Group commit (DESIGN §5): writers queue their work; one writer thread runs every queued job
// in a single transaction, commits durably, and only then are all of them answered. A job runs
// inside its own savepoint, so a failing job is undone without disturbing the others in its
// batch. A writer may wait for its answer (Submit) or be called back (SubmitAsync): the second
// lets a server answer a read once its record is durable without a thread blocked per read, so
// any number of reads share one commit.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "store/registry_store.h"

namespace kakunin::registry {

// Thread-safe.
class WriteQueue {
 public:
  using Job = std::function<Status(store::RegistryTxn&)>;
  // The job's outcome once its batch is durable (or failed): Ok only if the job succeeded and
  // the commit did.
  using Done = std::function<void(Status)>;

  // `store` must outlive the queue. At most `max_batch` jobs share a transaction. Starts the
  // writer thread.
  WriteQueue(store::RegistryStore* store, size_t max_batch);
  // Runs what is still queued (each Done is called), then joins the writer thread.
  ~WriteQueue();
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Runs `job` in the next batch and blocks until that batch is durable. Returns the job's
  // own status if it failed (its changes undone), else the commit's status. Called from a
  // Done (the writer thread), it runs the job in a transaction of its own instead of waiting
  // for itself.
  Status Submit(Job job);

  // Queues `job` and returns at once; `done` gets what Submit would have returned, on the
  // writer thread, after the batch committed (or failed) — never before the job's changes are
  // durable. `done` must be quick and must not block (it delays the next batch); it may call
  // SubmitAsync. Exceptions it throws are swallowed. Jobs still queued when the queue is
  // destroyed are run first.
  void SubmitAsync(Job job, Done done);

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
    Done done;
    Status status;
  };
  void Run();
  void RunBatch(std::deque<Pending>& batch);

  store::RegistryStore* store_;
  size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;            // the writer: something was queued, or stop
  mutable std::condition_variable queued_cv_;  // signalled on every submission
  std::deque<Pending> queue_;
  bool stopping_ = false;
  size_t batches_ = 0;
  size_t jobs_ = 0;
  std::thread writer_;  // last: started once everything above is set
};

}  // namespace kakunin::registry
