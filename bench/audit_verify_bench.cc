// `kakunin audit verify` alone (issue 11: >= 2 M entries/s), with its parts measured apart in
// the same run so the profile can be read off the output:
//   scan_rows      the entries read from the database and nothing else (ForEachAuditEntry);
//   scan_nodes     every stored tree node read, level by level;
//   sha_payloads   OpenSSL SHA-256 over the same entry bytes held in memory;
//   verify_log     audit::VerifyLog (every leaf, node, checkpoint, index and chain check);
//   verify_state   registry::VerifyState (the record-state pass), and both as AuditDesk runs.
// The log is the one audit_bench grows: 20,000 notifications through the full path
// (version-3 entries), then synthetic lookups (version 2, one target each) up to ENTRIES.
//
// Usage: audit_verify_bench [ENTRIES] [RUNS] [DIR] [ONLY]
// With DIR, the log is kept there and reused by the next run with the same DIR. ONLY = log or
// state runs just that pass RUNS times; compare runs the one-thread reference verifier and the
// pipelined one alternately (their ratio holds on a busy machine); total does the same for the
// whole of `audit verify` (the log and the records: before, two scans of the log; now one)
// (for a profile of one pass alone:
// `perf record -g audit_verify_bench 1000000 5 DIR log`).
// Prints JSON lines.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "audit/log.h"
#include "audit/verifier.h"
#include "bench/bench_util.h"
#include "cli/generate.h"
#include "core/bytes.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "registry/audit_desk.h"
#include "registry/pipeline.h"
#include "registry/state_verify.h"
#include "store/sqlite/sqlite_registry_store.h"

using namespace kakunin;
namespace fs = std::filesystem;
using bench::Since;
using bench::SteadyClock;

namespace {
using bench::ProcessCpuSeconds;
using bench::ThreadCpuSeconds;


int Fail(const char* what, const Status& st) {
  std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
  return 1;
}

// RESIDENTS notifications through the registry, then lookups appended BATCH a transaction up
// to `entries`, then a sealing checkpoint (as audit_bench).
Status Grow(const fs::path& dir, size_t entries, size_t residents) {
  KAKUNIN_RETURN_IF_ERROR(crypto::CreateKeyFile((dir / "keys").string()));
  KAKUNIN_RETURN_IF_ERROR(audit::CreateSigningKeyFile((dir / "audit.key").string()));
  KAKUNIN_ASSIGN_OR_RETURN(keys, crypto::LoadKeyFile((dir / "keys").string()));
  KAKUNIN_ASSIGN_OR_RETURN(signer, audit::LoadSigningKeyFile((dir / "audit.key").string()));
  crypto::FieldCipher cipher(keys);
  SystemClock clock;
  audit::AuditLog log(signer.get(), &clock);
  registry::NodeConfig config;
  config.prefecture = 19;
  KAKUNIN_ASSIGN_OR_RETURN(store,
                           store::sqlite::OpenRegistryStore((dir / "registry.db").string(), true));
  registry::Registry reg(config, store.get(), &cipher, &clock, &log);
  const registry::Actor actor{"os:bench", "bench"};
  GenerateOptions g;
  KAKUNIN_ASSIGN_OR_RETURN(gen, NotificationGenerator::Create(g));
  CheckOptions opt = reg.check_options();
  opt.today = g.today;
  std::vector<std::string> macs;
  size_t next = 0;
  KAKUNIN_RETURN_IF_ERROR(registry::PipelinedIngest(
      reg, actor,
      [&](registry::IngestBatch* b) {
        for (; next < residents && b->items.size() < 5000; ++next) {
          Notification n = gen->Next();
          macs.push_back(HexEncode(crypto::Sha256(n.resident_code.str())));
          b->positions.push_back(next);
          b->items.push_back(reg.Prepare(CheckJsonNotification(ToCanonicalJson(n), opt)));
        }
        return next < residents;
      },
      [](const registry::IngestBatch&, const std::vector<registry::ApplyResult>&) {
        return Status::Ok();
      }));
  KAKUNIN_ASSIGN_OR_RETURN(reader, store->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(have, reader->AuditSize());
  const int64_t until = static_cast<int64_t>(entries);
  while (have < until) {
    const int64_t to = std::min<int64_t>(have + 5000, until);
    KAKUNIN_RETURN_IF_ERROR(store->Write([&](store::RegistryTxn& txn) -> Status {
      for (int64_t i = have; i < to; ++i) {
        audit::AuditEntry e;
        e.actor = "os:bench";
        e.terminal = "bench";
        e.action = "resident.show";
        e.purpose = "bench";
        e.targets = {"mac:" + macs[static_cast<size_t>(i) % macs.size()] + ":found"};
        e.result_count = 1;
        e.outcome = "done";
        KAKUNIN_RETURN_IF_ERROR(log.Append(txn, std::move(e)).status());
      }
      return Status::Ok();
    }));
    have = to;
  }
  return store->Write([&](store::RegistryTxn& txn) { return log.WriteCheckpoint(txn); });
}

}  // namespace

int main(int argc, char** argv) {
  const size_t entries = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  const bool keep = argc > 3;
  const std::string only = argc > 4 ? argv[4] : "";
  const fs::path dir = keep ? fs::path(argv[3])
                            : fs::temp_directory_path() /
                                  ("kakunin_verify_bench_" + std::to_string(::getpid()));
  if (!keep || !fs::exists(dir / "registry.db")) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto t0 = SteadyClock::now();
    if (Status st = Grow(dir, entries, 20000); !st.ok()) return Fail("grow", st);
    std::fprintf(stderr, "grew the log in %.1f s\n", Since(t0));
  }
  auto keys = crypto::LoadKeyFile((dir / "keys").string());
  auto signer = audit::LoadSigningKeyFile((dir / "audit.key").string());
  if (!keys.ok() || !signer.ok()) return Fail("keys", Status::Internal("cannot load"));
  crypto::FieldCipher cipher(*keys);
  SystemClock clock;
  audit::AuditLog log(signer->get(), &clock);
  auto store = store::sqlite::OpenRegistryStore((dir / "registry.db").string(), false);
  if (!store.ok()) return Fail("store", store.status());
  auto reader = (*store)->OpenReader();
  if (!reader.ok()) return Fail("reader", reader.status());
  auto size = (*reader)->AuditSize();
  const double n = static_cast<double>(*size);

  if (!only.empty()) {
    for (int run = 0; run < runs; ++run) {
      auto t0 = SteadyClock::now();
      if (only == "compare") {
        // The pipelined verifier against the one-thread reference, alternately.
        double cpu0 = ProcessCpuSeconds();
        auto a = audit::VerifyLogReference(**reader, (*signer)->public_key());
        const double ref = Since(t0), ref_cpu = ProcessCpuSeconds() - cpu0;
        t0 = SteadyClock::now();
        cpu0 = ProcessCpuSeconds();
        const double main0 = ThreadCpuSeconds();
        auto b = audit::VerifyLog(**reader, (*signer)->public_key());
        const double now = Since(t0), now_cpu = ProcessCpuSeconds() - cpu0;
        const double main_cpu = ThreadCpuSeconds() - main0;
        if (!a.ok() || !a->ok || !b.ok() || !b->ok) {
          return Fail("verify", Status::DataLoss("failed"));
        }
        std::printf(
            "{\"bench\":\"audit_verify_compare\",\"entries\":%.0f,\"reference_per_s\":%.0f,"
            "\"reference_cpu_s\":%.2f,\"pipelined_per_s\":%.0f,\"pipelined_cpu_s\":%.2f,"
            "\"speedup\":%.2f,\"reader_thread_cpu_s\":%.2f,\"hasher_thread_cpu_s\":%.2f,"
            "\"per_s_if_each_thread_had_a_core\":%.0f}\n",
            n, n / ref, ref_cpu, n / now, now_cpu, ref / now, main_cpu, now_cpu - main_cpu,
            n / std::max(main_cpu, now_cpu - main_cpu));
        std::fflush(stdout);
        continue;
      }
      if (only == "total") {
        // `audit verify` as it was (the reference log pass, then the record-state pass with
        // its own scan of the log) against AuditDesk::Verify now, alternately.
        double cpu0 = ProcessCpuSeconds();
        auto a = audit::VerifyLogReference(**reader, (*signer)->public_key());
        auto a_state = registry::VerifyState(**reader, cipher);
        const double before = Since(t0), before_cpu = ProcessCpuSeconds() - cpu0;
        registry::AuditDesk now_desk(store->get(), &log, &cipher);
        t0 = SteadyClock::now();
        cpu0 = ProcessCpuSeconds();
        const double main0 = ThreadCpuSeconds();
        auto b = now_desk.Verify();
        const double now = Since(t0), now_cpu = ProcessCpuSeconds() - cpu0;
        const double main_cpu = ThreadCpuSeconds() - main0;
        if (!a.ok() || !a->ok || !a_state.ok() || !b.ok() || !b->ok) {
          return Fail("verify", Status::DataLoss("failed"));
        }
        std::printf(
            "{\"bench\":\"audit_verify_total_compare\",\"entries\":%.0f,"
            "\"before_per_s\":%.0f,\"before_cpu_s\":%.2f,\"now_per_s\":%.0f,\"now_cpu_s\":%.2f,"
            "\"speedup\":%.2f,\"reader_thread_cpu_s\":%.2f,\"hasher_thread_cpu_s\":%.2f,"
            "\"per_s_if_each_thread_had_a_core\":%.0f}\n",
            n, n / before, before_cpu, n / now, now_cpu, before / now, main_cpu,
            now_cpu - main_cpu, n / std::max(main_cpu, now_cpu - main_cpu));
        std::fflush(stdout);
        continue;
      }
      if (only == "log") {
        auto report = audit::VerifyLog(**reader, (*signer)->public_key());
        if (!report.ok() || !report->ok) return Fail("verify", Status::DataLoss("failed"));
      } else {
        auto s = registry::VerifyState(**reader, cipher);
        if (!s.ok() || !s->problems.empty()) return Fail("state", Status::DataLoss("failed"));
      }
      std::printf("{\"bench\":\"audit_verify_%s\",\"entries\":%.0f,\"entries_per_s\":%.0f}\n",
                  only.c_str(), n, n / Since(t0));
    }
    return 0;
  }

  // The parts, each on its own.
  double scan_rows = 1e9, scan_nodes = 1e9;
  int64_t nodes = 0;
  std::vector<std::string> payloads;
  payloads.reserve(static_cast<size_t>(*size));
  for (int run = 0; run < runs; ++run) {
    auto t0 = SteadyClock::now();
    size_t bytes = 0;
    Status st = (*reader)->ForEachAuditEntry(0, [&](store::AuditRow& r) {
      bytes += r.payload ? r.payload->size() : 0;
      if (run == 0) payloads.push_back(std::move(*r.payload));
      return true;
    });
    if (!st.ok()) return Fail("scan", st);
    if (run > 0) scan_rows = std::min(scan_rows, Since(t0));
    t0 = SteadyClock::now();
    nodes = 0;
    for (uint32_t level = 1; level < 63; ++level) {
      auto c = (*reader)->AuditNodes(level);
      if (!c.ok()) return Fail("nodes", c.status());
      int64_t index;
      std::string hash;
      int64_t at_level = 0;
      while ((*c)->Next(&index, &hash, &st)) ++at_level;
      if (!st.ok()) return Fail("nodes", st);
      nodes += at_level;
      if (at_level == 0) break;
    }
    scan_nodes = std::min(scan_nodes, Since(t0));
  }
  if (runs == 1) scan_rows = scan_nodes;  // not measured apart (the first run fills the cache)
  auto t0 = SteadyClock::now();
  std::string acc;
  for (const auto& p : payloads) acc = crypto::Sha256(p);
  const double sha = Since(t0);
  payloads = {};
  std::printf(
      "{\"bench\":\"audit_verify_parts\",\"entries\":%.0f,\"nodes\":%lld,"
      "\"scan_rows_per_s\":%.0f,\"scan_nodes_per_s\":%.0f,\"sha_payloads_per_s\":%.0f}\n",
      n, static_cast<long long>(nodes), n / scan_rows, static_cast<double>(nodes) / scan_nodes,
      n / sha);
  std::fflush(stdout);

  // The log pass, then the record-state pass, best of RUNS each.
  double verify = 1e9, verify_cpu = 0, state = 1e9;
  int64_t records = 0;
  for (int run = 0; run < runs; ++run) {
    t0 = SteadyClock::now();
    const double cpu0 = ProcessCpuSeconds();
    auto report = audit::VerifyLog(**reader, (*signer)->public_key());
    const double wall = Since(t0);
    if (!report.ok()) return Fail("verify", report.status());
    if (!report->ok) return Fail("verify", Status::DataLoss(report->problem));
    if (wall < verify) {
      verify = wall;
      verify_cpu = ProcessCpuSeconds() - cpu0;
    }
    t0 = SteadyClock::now();
    auto s = registry::VerifyState(**reader, cipher);
    const double state_wall = Since(t0);
    if (!s.ok()) return Fail("state", s.status());
    if (!s->problems.empty()) return Fail("state", Status::DataLoss(s->problems[0]));
    records = s->versions + s->residents;
    state = std::min(state, state_wall);
  }
  std::printf(
      "{\"bench\":\"audit_verify\",\"entries\":%.0f,\"entries_per_s\":%.0f,\"cpu_s\":%.2f,"
      "\"baseline\":\"OpenSSL SHA-256 over the same entry bytes (in memory)\","
      "\"baseline_entries_per_s\":%.0f,\"ratio\":%.3f}\n",
      n, n / verify, verify_cpu, n / sha, sha / verify);
  std::printf(
      "{\"bench\":\"audit_verify_state\",\"entries\":%.0f,\"records\":%lld,\"state_s\":%.3f,"
      "\"state_entries_per_s\":%.0f}\n",
      n, static_cast<long long>(records), state, n / state);
  // Both, as `kakunin audit verify` runs them.
  registry::AuditDesk desk(store->get(), &log, &cipher);
  double both = 1e9;
  for (int run = 0; run < runs; ++run) {
    t0 = SteadyClock::now();
    auto report = desk.Verify();
    if (!report.ok()) return Fail("audit verify", report.status());
    if (!report->ok) return Fail("audit verify", Status::DataLoss(report->problem));
    both = std::min(both, Since(t0));
  }
  std::printf(
      "{\"bench\":\"audit_verify_total\",\"entries\":%.0f,\"entries_per_s\":%.0f,"
      "\"note\":\"registry::AuditDesk::Verify: the log, then the records\"}\n",
      n, n / both);
  reader->reset();
  store->reset();
  if (!keep) fs::remove_all(dir);
  return 0;
}
