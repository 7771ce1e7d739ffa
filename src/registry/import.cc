#include "registry/import.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/bytes.h"
#include "crypto/sha256.h"
#include "registry/backup.h"
#include "registry/gaiji.h"

namespace kakunin::registry {
namespace {

constexpr const char kStateKey[] = "import.state";  // "running" | "done"
constexpr const char kRunKey[] = "import.run";      // the latest import's number, from 1

struct PreparedBatch {
  int64_t batch = 0;
  size_t file = 0;
  std::vector<size_t> lines;
  std::vector<PreparedNotification> items;
  std::string digest;
};

void HashInt(crypto::Sha256Hasher& h, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
  h.Update(std::string_view(b, 8));
}

void HashStr(crypto::Sha256Hasher& h, std::string_view s) {
  HashInt(h, s.size());
  h.Update(s);
}

// Reads and prepares batches on its own thread, at most `limit` of them waiting.
class Producer {
 public:
  Producer(const Registry& registry, const ImportSource& next, size_t batch_records, size_t limit)
      : registry_(registry), next_(next), batch_records_(batch_records), limit_(limit) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Producer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  // The next batch; false when there is none (then status() says why).
  bool Pop(PreparedBatch* out) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (queue_.empty()) return false;
    *out = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();
    return true;
  }
  Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  void Loop() {
    Status st = Produce();
    std::lock_guard<std::mutex> lock(mu_);
    status_ = st;
    done_ = true;
    changed_.notify_all();
  }

  Status Produce() {
    ImportRecord pending;
    bool have_pending = false;
    for (int64_t k = 0;; ++k) {
      PreparedBatch b;
      b.batch = k;
      b.lines.reserve(batch_records_);
      b.items.reserve(batch_records_);
      crypto::Sha256Hasher h;
      HashStr(h, "kakunin/import-batch/v1");
      bool end = false;
      while (b.items.size() < batch_records_) {
        ImportRecord r;
        if (have_pending) {
          r = std::move(pending);
          have_pending = false;
        } else {
          auto more = next_(&r);
          if (!more.ok()) return more.status();
          if (!*more) {
            end = true;
            break;
          }
        }
        if (b.items.empty()) {
          b.file = r.file;
          HashInt(h, b.file);
        } else if (r.file != b.file) {  // a batch never spans two files
          pending = std::move(r);
          have_pending = true;
          break;
        }
        HashInt(h, r.line);
        b.lines.push_back(r.line);
        b.items.push_back(registry_.Prepare(std::move(r.result)));
        const PreparedNotification& p = b.items.back();
        if (p.check.ok()) {
          // Keyed (the node's MAC key): the digest says nothing about who is in the batch.
          HashStr(h, "A");
          HashStr(h, p.payload_mac);
        } else {
          HashStr(h, "R");
          for (const FieldError& e : p.check.errors) {
            HashStr(h, e.field);
            HashStr(h, ErrorCodeName(e.code));
          }
        }
      }
      b.digest = h.Finish();
      if (!b.items.empty()) {
        std::unique_lock<std::mutex> lock(mu_);
        changed_.wait(lock, [&] { return queue_.size() < limit_ || stop_; });
        if (stop_) return Status::Ok();
        queue_.push_back(std::move(b));
        changed_.notify_all();
      }
      if (end) return Status::Ok();
    }
  }

  const Registry& registry_;
  const ImportSource& next_;
  const size_t batch_records_;
  const size_t limit_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<PreparedBatch> queue_;
  bool done_ = false, stop_ = false;
  Status status_;
  std::thread thread_;
};

}  // namespace

Importer::Importer(Registry& registry, ImportOptions options)
    : registry_(registry), options_(options) {}

Result<ImportSummary> Importer::Run(
    const Actor& actor, const ImportSource& next,
    const std::function<Status(const ImportBatchReport&)>& committed) {
  if (options_.batch_records < 1 || options_.queue_batches < 1) {
    return Status::InvalidArgument("import batches and queue must hold at least one record");
  }
  // A batch's entry names every version it wrote (audit/state.h).
  if (options_.batch_records > audit::kMaxStateLeaves) {
    return Status::InvalidArgument("import batches hold at most " +
                                   std::to_string(audit::kMaxStateLeaves) + " records");
  }
  store::RegistryStore& store = *registry_.store_;
  ImportSummary sum;

  // A new import, or the interrupted one again.
  KAKUNIN_ASSIGN_OR_RETURN(state, store.GetMeta(kStateKey));
  KAKUNIN_ASSIGN_OR_RETURN(run_text, store.GetMeta(kRunKey));
  const int64_t last_run = run_text ? std::strtoll(run_text->c_str(), nullptr, 10) : 0;
  sum.resumed = state && *state == "running";
  int64_t residents = 0;
  if (!sum.resumed) {
    KAKUNIN_ASSIGN_OR_RETURN(reader, store.OpenReader());
    KAKUNIN_ASSIGN_OR_RETURN(stats, reader->Stats());
    residents = stats.active + stats.removed;
    if (residents > 0 && !options_.append) {
      return Status::FailedPrecondition(
          "the node already holds " + std::to_string(residents) +
          " residents: import loads a new node (--append adds to this one; ingest applies "
          "changes)");
    }
    // Review finding: `--append` on a node in service applied records (amendments and removals
    // of existing residents included) that were never queued for the national node, which then
    // silently differed, and that no resident's access statement showed. A node that has queued
    // a change for the national node is in service: changes go through ingest (or the CSs).
    // Delivered rows are purged after a while (link.delivered_retention_hours): the point the
    // national node acknowledged (meta link_acknowledged, registry/national.cc) stays.
    KAKUNIN_ASSIGN_OR_RETURN(backlog, reader->Backlog());
    KAKUNIN_ASSIGN_OR_RETURN(acknowledged, reader->GetMeta("link_acknowledged"));
    // A restored node is no new node: the one it replaced may have been in service, its backlog
    // and acknowledged point gone with the rollback (found in review).
    KAKUNIN_ASSIGN_OR_RETURN(restored, reader->GetMeta(kRestoredKey));
    if (restored && !restored->empty()) {
      return Status::FailedPrecondition(
          "the node was restored from a backup (" + *restored +
          "): import loads a new node; apply changes to this one with ingest");
    }
    const int64_t queued = backlog.pending + backlog.delivered;
    if (queued > 0 || (acknowledged && std::strtoll(acknowledged->c_str(), nullptr, 10) > 0)) {
      return Status::FailedPrecondition(
          "the node has queued " + (queued > 0 ? std::to_string(queued) + " changes" :
                                                 std::string("changes")) +
          " for the national node: it is in service, and records loaded by import would "
          "reach neither the national node nor the residents' access statements (apply them with "
          "ingest)");
    }
  }
  sum.run = sum.resumed ? last_run : last_run + 1;
  if (!sum.resumed) {
    KAKUNIN_RETURN_IF_ERROR(store.Write([&](store::RegistryTxn& txn) -> Status {
      KAKUNIN_RETURN_IF_ERROR(registry_.CheckRunning(txn));
      KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kRunKey, std::to_string(sum.run)));
      return txn.SetMeta(kStateKey, "running");
    }));
  }
  store::BulkLoadOptions bulk;
  bulk.cache_mib = options_.cache_mib;
  // On a resume the indexes dropped by the first attempt are still listed for the end.
  bulk.defer_search_indexes = !sum.resumed && residents == 0;
  KAKUNIN_RETURN_IF_ERROR(store.BeginBulkLoad(bulk));

  Producer producer(registry_, next, options_.batch_records, options_.queue_batches);
  PreparedBatch b;
  while (producer.Pop(&b)) {

    ImportBatchReport report;
    report.batch = b.batch;
    report.file = b.file;
    report.first_line = static_cast<int64_t>(b.lines.front());
    report.last_line = static_cast<int64_t>(b.lines.back());
    int64_t duplicates = 0, refused = 0;
    Status st = store.Write([&](store::RegistryTxn& txn) -> Status {
      report.results.clear();
      report.applied = duplicates = refused = 0;
      KAKUNIN_RETURN_IF_ERROR(registry_.CheckRunning(txn));
      KAKUNIN_ASSIGN_OR_RETURN(done, txn.ImportedBatch(sum.run, b.batch));
      if (done) {
        if (done->digest != b.digest || done->first_line != report.first_line ||
            done->last_line != report.last_line) {
          return Status::FailedPrecondition(
              "the input differs from the interrupted import at batch " +
              std::to_string(b.batch) + " (file " + std::to_string(b.file + 1) + ", lines " +
              std::to_string(report.first_line) + "-" + std::to_string(report.last_line) +
              "): resume with the same files, in the same order, with the same options");
        }
        report.skipped = true;
        return Status::Ok();
      }
      const int64_t now = registry_.clock_->NowMicros();
      report.results.reserve(b.items.size());
      // One state leaf per version written, all in the batch's entry (audit/state.h).
      std::vector<audit::StateLeaf> state;
      KAKUNIN_RETURN_IF_ERROR(registry_.Prefetch(txn, b.items));
      for (const PreparedNotification& p : b.items) {
        ApplyResult result;
        if (!p.check.ok()) {
          result.errors = p.check.errors;
        } else {
          // As Registry::ApplyIn: a refused notification rolls back only its own changes.
          KAKUNIN_RETURN_IF_ERROR(txn.Savepoint());
          const size_t leaves = state.size();
          auto r = registry_.ApplyOne(txn, p, now, /*forward=*/false, &state,
                                      /*retain_from_change_date=*/true);
          if (!r.ok()) {
            (void)txn.RollbackToSavepoint();
            return r.status();
          }
          if (r->ok() && !r->duplicate) {
            KAKUNIN_RETURN_IF_ERROR(txn.ReleaseSavepoint());
            KAKUNIN_RETURN_IF_ERROR(FlagUnregisteredGaiji(txn, *p.check.notification, now));
          } else {
            KAKUNIN_RETURN_IF_ERROR(txn.RollbackToSavepoint());
            state.resize(leaves);
          }
          result = std::move(*r);
        }
        if (!result.ok()) {
          ++refused;
        } else if (result.duplicate) {
          ++duplicates;
        } else {
          ++report.applied;
        }
        report.results.push_back(std::move(result));
      }
      audit::AuditEntry e;
      e.actor = actor.id;
      e.terminal = actor.terminal;
      e.action = "registry.import";
      e.conditions = "run " + std::to_string(sum.run) + " batch " + std::to_string(b.batch) +
                     " file " + std::to_string(b.file + 1) + " lines " +
                     std::to_string(report.first_line) + "-" + std::to_string(report.last_line) +
                     " records " + std::to_string(b.items.size()) + " applied " +
                     std::to_string(report.applied) + " duplicates " +
                     std::to_string(duplicates) + " refused " + std::to_string(refused) +
                     " digest " + HexEncode(b.digest);
      e.result_count = report.applied;
      e.outcome = "done";
      e.state = std::move(state);
      KAKUNIN_ASSIGN_OR_RETURN(seq, registry_.log_->Append(txn, std::move(e)));
      store::ImportBatchRow row;
      row.run = sum.run;
      row.batch = b.batch;
      row.first_line = report.first_line;
      row.last_line = report.last_line;
      row.records = static_cast<int64_t>(b.items.size());
      row.applied = report.applied;
      row.digest = b.digest;
      row.audit_seq = static_cast<int64_t>(seq);
      return txn.RecordImportBatch(row);
    });
    if (!st.ok()) return st;  // ~Producer stops the reader; the next run resumes here
    ++sum.batches;
    if (report.skipped) {
      ++sum.skipped_batches;
    } else {
      report.lines = std::move(b.lines);
      sum.records += static_cast<int64_t>(b.items.size());
      sum.applied += report.applied;
      sum.duplicates += duplicates;
      sum.refused += refused;
    }
    KAKUNIN_RETURN_IF_ERROR(committed(report));
  }
  KAKUNIN_RETURN_IF_ERROR(producer.status());

  KAKUNIN_RETURN_IF_ERROR(store.EndBulkLoad());
  audit::AuditEntry e;
  e.actor = actor.id;
  e.terminal = actor.terminal;
  e.action = "registry.import.done";
  // Counts of this attempt; a resumed import's earlier batches are in their own entries.
  e.conditions = "run " + std::to_string(sum.run) + " batches " + std::to_string(sum.batches) +
                 " skipped " + std::to_string(sum.skipped_batches) + " applied " +
                 std::to_string(sum.applied) + " refused " + std::to_string(sum.refused) +
                 " national bulk";
  e.result_count = sum.applied;
  e.outcome = "done";
  KAKUNIN_RETURN_IF_ERROR(store.Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kStateKey, "done"));
    return registry_.log_->Append(txn, std::move(e)).status();
  }));
  return sum;
}

}  // namespace kakunin::registry
