#pragma once

// Group commit (DESIGN §5): writers queue their work; one of them (the leader) runs every
// queued job in a single transaction, commits durably, and only then are all of them answered.
// A job runs inside its own savepoint, so a failing job is undone without disturbing the others
// in its batch. A writer may wait for its answer (Submit) or be called back (SubmitAsync): the
// second lets a server answer a read once its record is durable without a thread blocked per
// read, so any number of reads share one commit. A submitter that finds no batch running
// leads (no hand-off, no wake-up for the first job); a blocking submitter hands what is still
// queued after its own batch to the queue's writer thread, so it is never held by others' work.

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

  // `store` must outlive the queue. At most `max_batch` jobs share a transaction.
  WriteQueue(store::RegistryStore* store, size_t max_batch);
  // Lets a running hand-off finish (every Done is called), then joins the writer thread.
  ~WriteQueue();
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Runs `job` in the next batch and blocks until that batch is durable. Returns the job's
  // own status if it failed (its changes undone), else the commit's status. Called from a
  // Done (on the leading thread), it runs the job in a transaction of its own instead of
  // waiting for itself.
  Status Submit(Job job);

  // Queues `job`; `done` gets what Submit would have returned, after the batch committed (or
  // failed) — never before the job's changes are durable. If no batch is running, the calling
  // thread leads: it runs batches (every Done included) until the queue is empty, then returns;
  // otherwise it returns at once and the running leader takes the job. So call it from a
  // thread that may be held for a few commits (a worker), not from an I/O thread. `done` runs
  // on the leading thread, must be quick and must not block; it may call SubmitAsync.
  // Exceptions it throws are swallowed.
  void SubmitAsync(Job job, Done done);

  // As SubmitAsync, but the calling thread never leads: the job goes to the running leader's
  // next batch, or the queue's writer thread is woken to lead (one wake-up per batch, not per
  // job). For a thread that must never be held by a commit (a server's I/O thread). `done`
  // runs on the leading thread.
  void Enqueue(Job job, Done done);

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
  void Push(Job job, Done done, const std::function<bool()>& enough);
  // With mu_ held by `lock`, leading: runs batches until the queue is empty, or until `enough`
  // (if set) says so — then the writer thread leads on.
  void Lead(std::unique_lock<std::mutex>& lock, const std::function<bool()>& enough);
  void RunWriter();
  void RunBatch(std::deque<Pending>& batch);
  // On the writer thread, with mu_ held, before it takes a batch: waits a little for the jobs
  // the last commit's answers are about to bring (group commit).
  void Linger(std::unique_lock<std::mutex>& lock);

  store::RegistryStore* store_;
  size_t max_batch_;
  mutable std::mutex mu_;
  mutable std::condition_variable queued_cv_;  // signalled on every submission
  std::condition_variable writer_cv_;          // the writer thread: a hand-off, or stop
  std::deque<Pending> queue_;
  bool leader_active_ = false;
  std::thread::id leader_;  // the leading thread, while leader_active_
  bool handoff_ = false;  // the writer thread is to lead
  bool stopping_ = false;
  size_t batches_ = 0;
  size_t jobs_ = 0;
  size_t last_batch_ = 0;                     // jobs in the last batch
  std::chrono::microseconds last_commit_{0};  // how long it took, jobs and commit
  std::thread writer_;  // last: starts once everything above is set
};

}  // namespace kakunin::registry
