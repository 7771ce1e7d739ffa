// The operation log's costs, each against a baseline in the same run:
//  1. audited lookups vs the same lookups unaudited (the log's overhead on reads, each
//     recorded durably before it is answered);
//  2. verification (recompute every leaf, node and checkpoint from the database) vs OpenSSL
//     SHA-256 over the same entry bytes;
//  3. inclusion and consistency proofs on a log of ENTRIES entries (default 1,000,000):
//     time and database reads per proof.
//
// Usage: audit_bench [RESIDENTS] [LOOKUPS] [ENTRIES] [BATCH]
// BATCH: entries appended per transaction while the log grows (default 1000).
// Prints JSON lines.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>
#include <time.h>

#include "audit/log.h"
#include "audit/merkle.h"
#include "core/bytes.h"
#include "bench/bench_util.h"
#include "bench/counting_source.h"
#include "cli/generate.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "registry/pipeline.h"
#include "registry/write_queue.h"
#include "store/sqlite/sqlite_registry_store.h"

using namespace kakunin;
namespace fs = std::filesystem;
using bench::Percentile;
using bench::Since;
using bench::SteadyClock;

namespace {
using bench::CountingReaderSource;
using bench::ProcessCpuSeconds;
using bench::ThreadCpuSeconds;

}  // namespace

int main(int argc, char** argv) {
  size_t residents = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  size_t lookups = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2000;
  size_t entries = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1000000;
  size_t batch = argc > 4 ? std::max<size_t>(1, std::strtoull(argv[4], nullptr, 10)) : 1000;
  fs::path dir = fs::temp_directory_path() / ("kakunin_audit_bench_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  if (!crypto::CreateKeyFile((dir / "keys").string()).ok()) return 1;
  if (!audit::CreateSigningKeyFile((dir / "audit.key").string()).ok()) return 1;
  auto keys = crypto::LoadKeyFile((dir / "keys").string());
  auto signer = audit::LoadSigningKeyFile((dir / "audit.key").string());
  crypto::FieldCipher cipher(*keys);
  SystemClock clock;
  audit::AuditLog log(signer->get(), &clock);
  registry::NodeConfig config;
  config.prefecture = 19;
  auto store = store::sqlite::OpenRegistryStore((dir / "registry.db").string(), true);
  if (!store.ok()) return 1;
  registry::Registry reg(config, store->get(), &cipher, &clock, &log);
  const registry::Actor actor{"os:bench", "bench"};

  // A registry to read from.
  GenerateOptions g;
  auto gen = NotificationGenerator::Create(g);
  std::vector<std::string> codes;
  CheckOptions opt = reg.check_options();
  opt.today = g.today;
  size_t next = 0;
  Status st = registry::PipelinedIngest(
      reg, actor,
      [&](registry::IngestBatch* b) {
        for (; next < residents && b->items.size() < 5000; ++next) {
          Notification n = (*gen)->Next();
          codes.push_back(n.resident_code.str());
          b->positions.push_back(next);
          b->items.push_back(reg.Prepare(CheckJsonNotification(ToCanonicalJson(n), opt)));
        }
        return next < residents;
      },
      [](const registry::IngestBatch&, const std::vector<registry::ApplyResult>&) {
        return Status::Ok();
      });
  if (!st.ok()) return 1;
  auto reader = (*store)->OpenReader();

  // 1. Lookups: the same reads, unaudited then audited.
  std::mt19937_64 rng(1);
  std::vector<std::string> pick;
  for (size_t i = 0; i < lookups; ++i) pick.push_back(codes[rng() % codes.size()]);
  auto t0 = SteadyClock::now();
  size_t found = 0;
  for (const auto& c : pick) {
    auto row = (*reader)->FindByResidentCode(c);
    auto v = (*reader)->Version((*row)->version_id);
    auto number = cipher.Open((*v)->sealed_number, registry::NumberAssociatedData(
                                                        (*v)->municipality_code, (*v)->sequence));
    found += number.ok();
  }
  double plain = Since(t0);
  t0 = SteadyClock::now();
  for (const auto& c : pick) found += reg.Show(**reader, c, actor, "bench").ok();
  double audited = Since(t0);
  std::printf(
      "{\"bench\":\"audited_lookups\",\"threads\":1,\"lookups\":%zu,\"ops_per_s\":%.0f,"
      "\"baseline\":\"the same lookups without the log\",\"baseline_ops_per_s\":%.0f,"
      "\"ratio\":%.3f,\"note\":\"each audited read is its own durable commit (fsync)\"}\n",
      lookups, lookups / audited, lookups / plain, plain / audited);
  std::fflush(stdout);
  // The same with 16 concurrent readers whose log entries share group commits.
  {
    registry::WriteQueue queue(store->get(), 256);
    reg.UseWriteQueue(&queue);
    const int threads = 16;
    std::vector<std::thread> pool;
    t0 = SteadyClock::now();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        auto r = (*store)->OpenReader();
        for (size_t i = static_cast<size_t>(t); i < pick.size(); i += threads) {
          (void)reg.Show(**r, pick[i], actor, "bench");
        }
      });
    }
    for (auto& th : pool) th.join();
    double grouped = Since(t0);
    reg.UseWriteQueue(nullptr);
    std::printf(
        "{\"bench\":\"audited_lookups\",\"threads\":%d,\"lookups\":%zu,\"ops_per_s\":%.0f,"
        "\"baseline\":\"the same lookups without the log, one thread\","
        "\"baseline_ops_per_s\":%.0f,\"ratio\":%.3f,\"commits\":%zu}\n",
        threads, lookups, lookups / grouped, lookups / plain, plain / grouped, queue.batches());
    std::fflush(stdout);
  }

  // 3 (first, to grow the log). Append synthetic entries up to ENTRIES, BATCH a transaction
  // (a group commit's worth), with the periodic checkpoints the append path writes; the map is
  // signed once at the end (a seal), timed on its own. CPU time is given beside wall time: it
  // is what the writer spends per entry, and far less noisy on a shared machine.
  auto size = (*reader)->AuditSize();
  const int64_t grown_from = *size;
  int64_t log_size = *size;
  std::vector<std::string> macs;
  for (const auto& c : codes) macs.push_back(HexEncode(crypto::Sha256(c)));
  auto append_entries = [&](audit::AuditLog& to, int64_t count) -> Status {
    int64_t have = log_size;
    const int64_t until = have + count;
    while (have < until) {
      int64_t target = std::min<int64_t>(have + static_cast<int64_t>(batch), until);
      KAKUNIN_RETURN_IF_ERROR((*store)->Write([&](store::RegistryTxn& txn) -> Status {
        for (int64_t i = have; i < target; ++i) {
          audit::AuditEntry e;
          e.actor = "os:bench";
          e.terminal = "bench";
          e.action = "resident.show";
          e.purpose = "bench";
          // Targets are keyed MACs (registry::ResidentTarget); any 32 bytes do for a bench.
          e.targets = {"mac:" + macs[static_cast<size_t>(i) % macs.size()] + ":found"};
          e.result_count = 1;
          e.outcome = "done";
          auto r = to.Append(txn, std::move(e));
          if (!r.ok()) return r.status();
        }
        return Status::Ok();
      }));
      have = target;
      log_size = target;
    }
    return Status::Ok();
  };
  t0 = SteadyClock::now();
  double cpu0 = ThreadCpuSeconds();
  st = append_entries(log, static_cast<int64_t>(entries) - grown_from);
  double append_s = Since(t0);
  double append_cpu = ThreadCpuSeconds() - cpu0;
  if (!st.ok()) {
    std::fprintf(stderr, "append: %s\n", st.ToString().c_str());
    return 1;
  }
  t0 = SteadyClock::now();
  cpu0 = ThreadCpuSeconds();
  st = (*store)->Write([&](store::RegistryTxn& txn) { return log.WriteCheckpoint(txn); });
  double seal_s = Since(t0);
  double seal_cpu = ThreadCpuSeconds() - cpu0;
  if (!st.ok()) return 1;
  const double appended = static_cast<double>(static_cast<int64_t>(entries) - grown_from);
  std::printf(
      "{\"bench\":\"audit_append\",\"entries\":%.0f,\"batch\":%zu,\"residents\":%zu,"
      "\"append_entries_per_s\":%.0f,\"append_cpu_us_per_entry\":%.2f,"
      "\"seal_ms\":%.1f,\"seal_cpu_ms\":%.1f,\"note\":\"periodic checkpoints every 1000 entries; the seal "
      "signs the resident map over every entry appended\"}\n",
      appended, batch, macs.size(), appended / append_s, append_cpu * 1e6 / appended,
      seal_s * 1000, seal_cpu * 1000);
  std::fflush(stdout);
#ifndef KAKUNIN_BENCH_BEFORE_MAP_SETTING
  // The same with every periodic checkpoint signing the resident map (LogSettings::
  // map_every_checkpoint), over a tenth as many entries: what that costs per entry.
  {
    audit::LogSettings every;
    every.map_every_checkpoint = true;
    audit::AuditLog mapped(signer->get(), &clock, every);
    const int64_t n = std::max<int64_t>(static_cast<int64_t>(appended) / 10, 1000);
    t0 = SteadyClock::now();
    cpu0 = ThreadCpuSeconds();
    st = append_entries(mapped, n);
    double s2 = Since(t0);
    double c2 = ThreadCpuSeconds() - cpu0;
    if (!st.ok()) return 1;
    std::printf(
        "{\"bench\":\"audit_append\",\"entries\":%lld,\"batch\":%zu,\"residents\":%zu,"
        "\"append_entries_per_s\":%.0f,\"append_cpu_us_per_entry\":%.2f,"
        "\"note\":\"every checkpoint (each 1000 entries) signs the resident map\"}\n",
        static_cast<long long>(n), batch, macs.size(), n / s2, c2 * 1e6 / n);
    std::fflush(stdout);
    st = (*store)->Write([&](store::RegistryTxn& txn) { return log.WriteCheckpoint(txn); });
    if (!st.ok()) return 1;
  }
#endif
  reader = (*store)->OpenReader();
  size = (*reader)->AuditSize();

  // 2. Verification vs OpenSSL SHA-256 over the same entry bytes.
  std::vector<std::string> payloads;
  payloads.reserve(static_cast<size_t>(*size));
  st = (*reader)->ForEachAuditEntry(0, [&](const store::AuditRow& r) {
    payloads.push_back(*r.payload);
    return true;
  });
  t0 = SteadyClock::now();
  std::string acc;
  for (const auto& p : payloads) acc = crypto::Sha256(p);
  double sha = Since(t0);
  payloads.clear();
  payloads.shrink_to_fit();
  // The best of three runs (the machine is shared); CPU time of the whole process, both of
  // the verifier's threads.
  double verify = 1e9, verify_cpu = 0, verify_main_cpu = 0;
  for (int run = 0; run < 3; ++run) {
    t0 = SteadyClock::now();
    cpu0 = ProcessCpuSeconds();
    const double main0 = ThreadCpuSeconds();
    auto report = audit::VerifyLog(**reader, (*signer)->public_key());
    const double wall = Since(t0);
    const double cpu = ProcessCpuSeconds() - cpu0;
    const double main_cpu = ThreadCpuSeconds() - main0;
    if (!report.ok() || !report->ok) {
      std::fprintf(stderr, "verify failed\n");
      return 1;
    }
    if (wall < verify) {
      verify = wall;
      verify_cpu = cpu;
      verify_main_cpu = main_cpu;
    }
  }
  std::printf(
      "{\"bench\":\"audit_verify\",\"entries\":%lld,\"entries_per_s\":%.0f,"
      "\"baseline\":\"OpenSSL SHA-256 over the same entry bytes (in memory)\","
      "\"baseline_entries_per_s\":%.0f,\"ratio\":%.3f,\"verify_per_s\":%.0f,"
      "\"verify_cpu_s\":%.2f,\"verify_main_thread_cpu_s\":%.2f}\n",
      static_cast<long long>(*size), *size / verify, *size / sha, sha / verify, *size / verify,
      verify_cpu, verify_main_cpu);
  std::fflush(stdout);

  // 3. Proofs at this size.
  std::vector<double> inc_ms, con_ms;
  uint64_t max_reads = 0;
  CountingReaderSource source(**reader);
  for (int i = 0; i < 2000; ++i) {
    uint64_t n = static_cast<uint64_t>(*size);
    uint64_t leaf = rng() % n;
    source.calls = 0;
    auto t = SteadyClock::now();
    auto p = audit::InclusionProof(source, leaf, n);
    inc_ms.push_back(Since(t) * 1000);
    max_reads = std::max(max_reads, source.calls);
    uint64_t old_size = 1 + rng() % n;
    t = SteadyClock::now();
    auto c = audit::ConsistencyProof(source, old_size, n);
    con_ms.push_back(Since(t) * 1000);
    if (!p.ok() || !c.ok()) return 1;
  }
  std::printf(
      "{\"bench\":\"audit_proofs\",\"entries\":%lld,\"inclusion_p50_ms\":%.4f,"
      "\"inclusion_p99_ms\":%.4f,\"consistency_p50_ms\":%.4f,\"consistency_p99_ms\":%.4f,"
      "\"max_reads_per_inclusion_proof\":%llu}\n",
      static_cast<long long>(*size), Percentile(inc_ms, 0.5), Percentile(inc_ms, 0.99),
      Percentile(con_ms, 0.5), Percentile(con_ms, 0.99),
      static_cast<unsigned long long>(max_reads));
  (void)found;
  reader->reset();
  store->reset();
  fs::remove_all(dir);
  return 0;
}
