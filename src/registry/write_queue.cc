#include "registry/write_queue.h"

namespace kakunin::registry {

WriteQueue::WriteQueue(store::RegistryStore* store, size_t max_batch)
    : store_(store), max_batch_(max_batch == 0 ? 1 : max_batch) {}

Status WriteQueue::Submit(Job job) {
  Pending me;
  me.job = std::move(job);
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&me);
  queued_cv_.notify_all();
  while (!me.done) {
    if (!leader_active_) {
      // Become the leader: take what is queued (up to the cap) and write it.
      leader_active_ = true;
      std::deque<Pending*> batch;
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      lock.unlock();
      try {
        RunBatch(batch);
      } catch (...) {
        for (Pending* p : batch) p->status = Status::Internal("write batch failed unexpectedly");
      }
      lock.lock();
      for (Pending* p : batch) p->done = true;
      ++batches_;
      jobs_ += batch.size();
      leader_active_ = false;
      cv_.notify_all();
    } else {
      cv_.wait(lock);
    }
  }
  return me.status;
}

void WriteQueue::RunBatch(std::deque<Pending*> batch) {
  Status commit = store_->Write([&](store::RegistryTxn& txn) -> Status {
    for (Pending* p : batch) {
      KAKUNIN_RETURN_IF_ERROR(txn.Savepoint());
      try {
        p->status = p->job(txn);
      } catch (...) {
        // A job that throws must not leave the other writers waiting forever.
        p->status = Status::Internal("write job failed unexpectedly");
      }
      KAKUNIN_RETURN_IF_ERROR(p->status.ok() ? txn.ReleaseSavepoint()
                                             : txn.RollbackToSavepoint());
    }
    return Status::Ok();
  });
  if (!commit.ok()) {
    // Nothing of the batch is durable: every job learns that, even one that succeeded.
    for (Pending* p : batch) {
      if (p->status.ok()) p->status = commit;
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
