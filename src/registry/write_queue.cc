#include "registry/write_queue.h"

#include <utility>

namespace kakunin::registry {

WriteQueue::WriteQueue(store::RegistryStore* store, size_t max_batch)
    : store_(store), max_batch_(max_batch == 0 ? 1 : max_batch), writer_([this] { Run(); }) {}

WriteQueue::~WriteQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  writer_.join();
}

Status WriteQueue::Submit(Job job) {
  if (std::this_thread::get_id() == writer_.get_id()) {
    // From a Done: waiting for the writer would wait for itself.
    return store_->Write(job);
  }
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool finished = false;
  Status result;
  SubmitAsync(std::move(job), [&](Status st) {
    std::lock_guard<std::mutex> lock(done_mu);
    result = std::move(st);
    finished = true;
    done_cv.notify_all();  // under the lock: the waiter's frame may end as soon as it sees it
  });
  std::unique_lock<std::mutex> lock(done_mu);
  done_cv.wait(lock, [&] { return finished; });
  return result;
}

void WriteQueue::SubmitAsync(Job job, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Pending{std::move(job), std::move(done), Status::Ok()});
  }
  queued_cv_.notify_all();
  work_cv_.notify_one();
}

void WriteQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
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
    // Outside the lock: a Done may queue more work.
    for (Pending& p : batch) {
      try {
        p.done(std::move(p.status));
      } catch (...) {
        // A failing callback must not stop the writer.
      }
    }
    batch.clear();  // the jobs' captures go before the next batch
    lock.lock();
  }
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
