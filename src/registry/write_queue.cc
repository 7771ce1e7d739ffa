#include "registry/write_queue.h"

#include <memory>
#include <utility>

namespace kakunin::registry {

WriteQueue::WriteQueue(store::RegistryStore* store, size_t max_batch)
    : store_(store), max_batch_(max_batch == 0 ? 1 : max_batch), writer_([this] { RunWriter(); }) {}

WriteQueue::~WriteQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  writer_cv_.notify_all();
  writer_.join();
}

void WriteQueue::RunWriter() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    writer_cv_.wait(lock, [&] { return handoff_ || stopping_; });
    if (handoff_) {
      handoff_ = false;
      Lead(lock, nullptr);
      continue;
    }
    return;  // stopping, no hand-off pending
  }
}

Status WriteQueue::Submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (leader_active_ && leader_ == std::this_thread::get_id()) {
      // From a Done: waiting for the leader would wait for itself.
      return store_->Write(job);
    }
  }
  // Shared with the Done: if this thread leads, the Done runs before SubmitAsync returns; if
  // another does, this waits for it.
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
    Status result;
  };
  auto wait = std::make_shared<Wait>();
  Push(
      std::move(job),
      [wait](Status st) {
        std::lock_guard<std::mutex> lock(wait->mu);
        wait->result = std::move(st);
        wait->finished = true;
        wait->cv.notify_all();
      },
      // Leading, this caller stops once its own batch is done: others' work goes on without it.
      [wait] {
        std::lock_guard<std::mutex> lock(wait->mu);
        return wait->finished;
      });
  std::unique_lock<std::mutex> lock(wait->mu);
  wait->cv.wait(lock, [&] { return wait->finished; });
  return wait->result;
}

void WriteQueue::SubmitAsync(Job job, Done done) { Push(std::move(job), std::move(done), nullptr); }

void WriteQueue::Push(Job job, Done done, const std::function<bool()>& enough) {
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(Pending{std::move(job), std::move(done), Status::Ok()});
  queued_cv_.notify_all();
  if (leader_active_) return;  // the leader takes it into its next batch
  leader_active_ = true;
  leader_ = std::this_thread::get_id();
  Lead(lock, enough);
}

void WriteQueue::Lead(std::unique_lock<std::mutex>& lock, const std::function<bool()>& enough) {
  while (!queue_.empty()) {
    if (enough && enough()) {
      // Still leading (no one else starts a batch), but on the writer thread from here.
      leader_ = writer_.get_id();
      handoff_ = true;
      writer_cv_.notify_one();
      return;
    }
    std::deque<Pending> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    try {
      RunBatch(batch);
    } catch (...) {
      for (Pending& p : batch) p.status = Status::Internal("write batch failed unexpectedly");
    }
    lock.lock();
    ++batches_;
    jobs_ += batch.size();
    lock.unlock();
    // Outside the lock: a Done may queue more work (this loop takes it).
    for (Pending& p : batch) {
      try {
        p.done(std::move(p.status));
      } catch (...) {
        // A failing callback must not leave the queue without a leader.
      }
    }
    batch.clear();  // the jobs' captures go before the next batch
    lock.lock();
  }
  leader_active_ = false;
  leader_ = std::thread::id();
}

void WriteQueue::RunBatch(std::deque<Pending>& batch) {
  Status commit = store_->Write([&](store::RegistryTxn& txn) -> Status {
    for (Pending& p : batch) {
      KAKUNIN_RETURN_IF_ERROR(txn.Savepoint());
      try {
        p.status = p.job(txn);
      } catch (...) {
        // A job that throws must not leave the other writers waiting forever.
        p.status = Status::Internal("write job failed unexpectedly");
      }
      KAKUNIN_RETURN_IF_ERROR(p.status.ok() ? txn.ReleaseSavepoint()
                                            : txn.RollbackToSavepoint());
    }
    return Status::Ok();
  });
  if (!commit.ok()) {
    // Nothing of the batch is durable: every job learns that, even one that succeeded.
    for (Pending& p : batch) {
      if (p.status.ok()) p.status = commit;
    }
  }
}

size_t WriteQueue::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

size_t WriteQueue::jobs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_;
}

size_t WriteQueue::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

bool WriteQueue::WaitForQueued(size_t n, std::chrono::milliseconds bound) const {
  std::unique_lock<std::mutex> lock(mu_);
  return queued_cv_.wait_for(lock, bound, [&] { return queue_.size() >= n; });
}

}  // namespace kakunin::registry
