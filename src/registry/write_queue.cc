#include "registry/write_queue.h"

#include <algorithm>
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

void WriteQueue::Enqueue(Job job, Done done) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(Pending{std::move(job), std::move(done), Status::Ok()});
  queued_cv_.notify_all();
  if (leader_active_) return;  // the leader takes it into its next batch
  leader_active_ = true;
  leader_ = writer_.get_id();
  handoff_ = true;
  writer_cv_.notify_one();
}

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
    if (std::this_thread::get_id() == writer_.get_id()) Linger(lock);
    std::deque<Pending> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    try {
      RunBatch(batch);
    } catch (...) {
      for (Pending& p : batch) p.status = Status::Internal("write batch failed unexpectedly");
    }
    const auto took = std::chrono::steady_clock::now() - started;
    lock.lock();
    last_batch_ = batch.size();
    last_commit_ = std::chrono::duration_cast<std::chrono::microseconds>(took);
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

void WriteQueue::Linger(std::unique_lock<std::mutex>& lock) {
  // Readers answered by the last commit come back a moment later, one by one: the first of them
  // wakes the writer, and a batch taken at once would hold that one alone while the rest wait
  // a whole commit for the next (batches alternating small and large). So, like PostgreSQL's
  // commit_delay: while fewer jobs are queued than the last batch held, wait for more as long
  // as they keep coming (each within a step), at most a quarter of the last commit's time.
  // A lone writer (last batch of one) never waits; a fast disk waits next to nothing.
  const size_t target = std::min(last_batch_, max_batch_);
  if (target <= 1 || queue_.size() >= target) return;
  constexpr std::chrono::microseconds kStep{150};
  const auto now = std::chrono::steady_clock::now();
  const auto bound = now + last_commit_ / 4;
  while (queue_.size() < target && !stopping_) {
    const size_t before = queue_.size();
    const auto until = std::min(std::chrono::steady_clock::now() + kStep, bound);
    queued_cv_.wait_until(lock, until, [&] { return queue_.size() > before || stopping_; });
    if (queue_.size() == before || std::chrono::steady_clock::now() >= bound) return;
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
