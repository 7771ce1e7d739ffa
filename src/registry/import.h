#pragma once

// Loading an existing registry into a new node (kakunin import; docs/import.md): a municipal
// extract in the notification contract's format, applied with the same field and state checks
// as `kakunin ingest`, in large batches, resumable after a crash.
//
// - Batches: `batch_records` notifications per durable transaction (never across two input
//   files). Each notification is applied as ingest applies it (Registry::ApplyOne, its own
//   savepoint): a refused one is reported with its line and changes nothing, the rest of its
//   batch is applied.
// - Operation log: one entry per batch ("registry.import": run, batch, file, line range,
//   counts and the batch digest — no personal data), in the batch's transaction.
// - Resume: each batch's digest (a SHA-256 over its lines' numbers and keyed payload MACs, or
//   their refusals) is committed with the batch. A restarted import reads the input again and
//   skips each batch whose digest matches; a batch that differs stops the import.
// - New node: a node holding residents is refused unless `append` is set (then the search
//   indexes are kept up to date row by row instead of being built at the end).
// - National node: imported records are not queued in the outbox one by one; the import's
//   last entry ("registry.import.done") names the versions loaded, for a bulk transfer.
// - Memory: at most `queue_batches` prepared batches wait for the writer, plus the one being
//   written and the one being read; the writer's page cache is `cache_mib`.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "registry/registry.h"

namespace kakunin::registry {

struct ImportOptions {
  size_t batch_records = 50000;
  size_t queue_batches = 1;
  int64_t cache_mib = 64;
  bool append = false;
};

// One input record: which input file (0-based, in the order given) and the physical line it
// starts on, with its field verdict.
struct ImportRecord {
  size_t file = 0;
  size_t line = 0;
  CheckResult result;
};

// Reads the next record into *record; false at the end of every input; an error stops the
// import where it is (resumable). Runs on a helper thread, one call at a time.
using ImportSource = std::function<Result<bool>(ImportRecord* record)>;

struct ImportBatchReport {
  int64_t batch = 0;
  size_t file = 0;
  int64_t first_line = 0, last_line = 0;
  bool skipped = false;  // committed by an earlier, interrupted run (digest verified)
  int64_t applied = 0;
  std::vector<size_t> lines;          // empty when skipped
  std::vector<ApplyResult> results;   // one per line; empty when skipped
};

struct ImportSummary {
  int64_t run = 0;
  bool resumed = false;
  int64_t batches = 0, skipped_batches = 0;
  int64_t records = 0;     // in batches applied by this run
  int64_t applied = 0, duplicates = 0, refused = 0;
};

class Importer {
 public:
  // `registry` must outlive the importer.
  Importer(Registry& registry, ImportOptions options);

  // Imports everything `next` yields. `committed` gets each batch, in order, once it is durable
  // (on the calling thread); an error from it stops the import (resumable). Returns after the
  // deferred indexes are built and the database checkpointed.
  Result<ImportSummary> Run(const Actor& actor, const ImportSource& next,
                            const std::function<Status(const ImportBatchReport&)>& committed);

 private:
  Registry& registry_;
  ImportOptions options_;
};

}  // namespace kakunin::registry
