// The access statement's size, build and check time (issue 11, part 2): one resident with
// ACCESSES entries naming them, among ENTRIES entries over RESIDENTS residents.
//
// Usage: statement_bench [ENTRIES] [ACCESSES] [RESIDENTS] [direct|append]
//   (defaults 1000000 1000 100000 direct). Prints JSON lines.
// KAKUNIN_BENCH_DIR / KAKUNIN_BENCH_PHASE / KAKUNIN_BENCH_EVICT (bench/bench_dir.h) keep the
// log (and its signing key) for repeated measure runs, e.g. for the figure:
//   KAKUNIN_BENCH_DIR=/big/s10m KAKUNIN_BENCH_PHASE=build nice -n 19 ionice -c3 statement_bench 10000000
//   KAKUNIN_BENCH_DIR=/big/s10m KAKUNIN_BENCH_PHASE=measure statement_bench 10000000
//
// `append` builds the log through AuditLog::Append (the real append path, with the map signed
// every 50,000 entries) and reports its rate; about 11 k appends/s on a loaded 2-core machine,
// so 10 M entries take a quarter of an hour or more. `direct` builds the same log below the
// append path, for the 10 M figure: the same version-2 entries, target leaves and index rows,
// tree nodes, resident chains and map nodes, written in large transactions with the tree's
// frontier, the chains and the map kept in memory, then one checkpoint signing the tree and
// the map. The rows go through the store's own write transaction (RegistryTxn::InsertAuditEntry,
// PutAuditNode, PutResidentHead, PutMapNode, InsertCheckpoint: the real schema and
// statements), so the file is what the append path would leave, less the intermediate
// checkpoints (the statement uses the last one). Either way the statement is then built (BuildStatement) and checked
// (StatementFromJson + CheckStatement) by the real code against the stored log, so a log built
// wrong fails the check ("valid":false, exit 1).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <unordered_map>

#include "audit/key_rotation.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/resident_map.h"
#include "audit/statement.h"
#include "audit/targets.h"
#include "bench/bench_dir.h"
#include "bench/bench_util.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "crypto/sha256.h"
#include "store/sqlite/sqlite_registry_store.h"

using namespace kakunin;
using bench::Percentile;
using bench::Since;
using bench::SteadyClock;

namespace {

// The last completed node of each level: all NodesCompletedBy needs to append the next leaf.
class FrontierSource final : public audit::SubtreeSource {
 public:
  Result<std::string> Subtree(uint32_t level, uint64_t index) override {
    if (level < last_.size() && last_[level].first == index && !last_[level].second.empty()) {
      return last_[level].second;
    }
    return Status::NotFound("not on the frontier");
  }
  void Keep(const audit::SubtreeNode& n) {
    if (n.level >= last_.size()) last_.resize(n.level + 1);
    last_[n.level] = {n.index, n.hash};
  }

 private:
  std::vector<std::pair<uint64_t, std::string>> last_;
};

// The resident map in memory, written out once.
class MemoryMapNodes final : public audit::MapNodeSink {
 public:
  Result<std::optional<store::MapNodeRow>> Get(uint32_t depth, const std::string& prefix) override {
    auto it = nodes_.find({depth, prefix});
    if (it == nodes_.end()) return std::optional<store::MapNodeRow>();
    return std::optional<store::MapNodeRow>(it->second);
  }
  Status Put(uint32_t depth, const std::string& prefix, const store::MapNodeRow& n) override {
    nodes_[{depth, prefix}] = n;
    return Status::Ok();
  }
  const std::map<std::pair<uint32_t, std::string>, store::MapNodeRow>& nodes() const {
    return nodes_;
  }

 private:
  std::map<std::pair<uint32_t, std::string>, store::MapNodeRow> nodes_;
};

struct Head {
  int64_t count = 0;
  std::string head = audit::MapEmpty();
  int64_t last_seq = 0;
};

// The log built below the append path (see the file comment).
Status BuildDirect(store::RegistryStore& store, const audit::Signer& signer, int64_t entries,
                   const std::function<std::string(int64_t)>& target_of) {
  FrontierSource frontier;
  std::unordered_map<std::string, Head> heads;
  const int64_t t0 = SystemClock().NowMicros() - entries;
  int64_t have = 0;
  while (have < entries) {
    const int64_t upto = std::min(have + 200000, entries);
    KAKUNIN_RETURN_IF_ERROR(store.Write([&](store::RegistryTxn& txn) -> Status {
      for (int64_t i = have; i < upto; ++i) {
        audit::AuditEntry e;
        e.version = audit::kEntryVersion;
        e.sequence = static_cast<uint64_t>(i);
        e.time = t0 + i;
        e.actor = "os:bench";
        e.terminal = "bench";
        e.action = "resident.show";
        e.purpose = "bench";
        e.result_count = 1;
        e.outcome = "done";
        KAKUNIN_ASSIGN_OR_RETURN(leaf, audit::ParseTargetName(target_of(i)));
        const std::vector<audit::TargetLeaf> leaves = {leaf};
        e.target_count = 1;
        e.target_root = audit::TargetRoot(leaves);
        store::AuditRow row;
        row.seq = i;
        row.time = e.time;
        row.actor = e.actor;
        row.action = e.action;
        row.purpose = e.purpose;
        row.payload = audit::EncodeEntry(e);
        row.leaf_hash = audit::LeafHash(*row.payload);
        row.targets = audit::EncodeTargetLeaves(leaves);
        KAKUNIN_RETURN_IF_ERROR(txn.InsertAuditEntry(row, {audit::TargetName(leaf)}));
        Head& h = heads[leaf.mac];
        h.count += 1;
        h.head = audit::NextResidentHead(h.head, static_cast<uint64_t>(i), row.leaf_hash);
        h.last_seq = i;
        KAKUNIN_ASSIGN_OR_RETURN(nodes, audit::NodesCompletedBy(static_cast<uint64_t>(i),
                                                                row.leaf_hash, frontier));
        for (const auto& n : nodes) {
          frontier.Keep(n);
          if (n.level > 0) {
            KAKUNIN_RETURN_IF_ERROR(
                txn.PutAuditNode(n.level, static_cast<int64_t>(n.index), n.hash));
          }
        }
      }
      return Status::Ok();
    }));
    have = upto;
  }
  // The chains, the map and one checkpoint signing both.
  MemoryMapNodes map;
  for (const auto& [key, h] : heads) {
    KAKUNIN_RETURN_IF_ERROR(
        audit::MapUpdate(map, key, audit::MapLeaf(key, audit::MapValue(h.count, h.head)))
            .status());
  }
  KAKUNIN_ASSIGN_OR_RETURN(map_root, audit::MapRoot(map));
  std::string root;
  {
    KAKUNIN_ASSIGN_OR_RETURN(reader, store.OpenReader());
    KAKUNIN_ASSIGN_OR_RETURN(r, audit::RootAt(*reader, entries));
    root = std::move(r);
  }
  return store.Write([&](store::RegistryTxn& txn) -> Status {
    for (const auto& [key, h] : heads) {
      KAKUNIN_RETURN_IF_ERROR(txn.PutResidentHead({key, h.count, h.head, h.last_seq}));
    }
    for (const auto& [at, n] : map.nodes()) {
      KAKUNIN_RETURN_IF_ERROR(txn.PutMapNode(at.first, at.second, n));
    }
    store::CheckpointRow c;
    c.tree_size = entries;
    c.root = root;
    c.time = t0 + entries;
    c.key_id = signer.key_id();
    c.origin = audit::DefaultOrigin(signer);
    c.map_root = map_root;
    KAKUNIN_ASSIGN_OR_RETURN(sig, signer.Sign(audit::SignedMessage(audit::CheckpointOf(c))));
    c.signature = sig;
    return txn.InsertCheckpoint(c);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t entries = argc > 1 ? std::strtoll(argv[1], nullptr, 10) : 1000000;
  const int64_t accesses = argc > 2 ? std::strtoll(argv[2], nullptr, 10) : 1000;
  const int64_t residents = argc > 3 ? std::strtoll(argv[3], nullptr, 10) : 100000;
  const bool direct = argc <= 4 || std::strcmp(argv[4], "append") != 0;
  if (entries <= 0 || accesses <= 0 || residents <= 0) {
    std::fprintf(stderr, "usage: statement_bench [ENTRIES] [ACCESSES] [RESIDENTS] "
                         "[direct|append]\n");
    return 2;
  }
  auto dir = bench::BenchDir::Open(
      "statement_bench", "statement_bench v1 entries=" + std::to_string(entries) +
                             " accesses=" + std::to_string(accesses) +
                             " residents=" + std::to_string(residents) +
                             (direct ? " direct" : " append"));
  if (!dir) return 2;
  const bool reused = dir->complete();
  if (!reused && !audit::CreateSigningKeyFile(dir->File("audit.key")).ok()) return 1;
  auto signer = audit::LoadSigningKeyFile(dir->File("audit.key"));
  if (!signer.ok()) return 1;
  SystemClock clock;
  audit::AuditLog log(signer->get(), &clock);
  auto store = store::sqlite::OpenRegistryStore(dir->File("registry.db"), !reused);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().message().c_str());
    return 1;
  }
  auto key_name = [](int64_t i) {
    return "mac:" + HexEncode(crypto::Sha256("resident " + std::to_string(i))) + ":found";
  };
  const std::string ours = key_name(-1);
  const int64_t every = std::max<int64_t>(1, entries / accesses);
  std::mt19937_64 rng(7);
  // Our resident every `every` entries, from the first; someone at random otherwise.
  auto target_of = [&](int64_t i) {
    return i % every == 0 ? ours : key_name(static_cast<int64_t>(rng() % residents));
  };
  auto t0 = SteadyClock::now();
  if (!reused && direct) {
    Status st = BuildDirect(**store, **signer, entries, target_of);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
  } else if (!reused) {
    int64_t have = 0;
    while (have < entries) {
      const int64_t upto = std::min(have + 50000, entries);
      Status st = (*store)->Write([&](store::RegistryTxn& txn) -> Status {
        for (int64_t i = have; i < upto; ++i) {
          audit::AuditEntry e;
          e.actor = "os:bench";
          e.terminal = "bench";
          e.action = "resident.show";
          e.purpose = "bench";
          e.targets = {target_of(i)};
          e.result_count = 1;
          e.outcome = "done";
          auto r = log.Append(txn, std::move(e));
          if (!r.ok()) return r.status();
        }
        return log.WriteCheckpoint(txn);
      });
      if (!st.ok()) {
        std::fprintf(stderr, "%s\n", st.message().c_str());
        return 1;
      }
      have = upto;
    }
  }
  if (!reused) {
    const double build_log_s = Since(t0);
    store->reset();  // closes the writer (and checkpoints the WAL) before the files are synced
    if (!dir->MarkComplete(build_log_s)) {
      std::fprintf(stderr, "could not mark the log complete\n");
      return 1;
    }
    store = store::sqlite::OpenRegistryStore(dir->File("registry.db"), false);
    if (!store.ok()) return 1;
  }
  std::printf("{\"bench\":\"statement_log_build\",\"mode\":\"%s\",\"entries\":%lld,"
              "\"residents\":%lld,\"seconds\":%.1f,\"entries_per_s\":%.0f,\"db_bytes\":%llu,"
              "\"reused_log\":%s}\n",
              direct ? "direct" : "append", static_cast<long long>(entries),
              static_cast<long long>(residents), dir->build_s(),
              static_cast<double>(entries) / dir->build_s(),
              static_cast<unsigned long long>(dir->DatabaseBytes()), reused ? "true" : "false");
  std::fflush(stdout);
  if (dir->phase() == bench::Phase::kBuild) return 0;
  const bool evicted = dir->EvictIfAsked();
  const double cached_before = dir->ResidentFraction();
  const double load_before = bench::LoadAverage();
  auto reader = (*store)->OpenReader();
  if (!reader.ok()) return 1;
  auto key = audit::ParseTargetName(ours);
  // Built as `kakunin audit statement` does, 5 times in one reader: the first run reads the
  // log from wherever it is (page cache or disk), the others find it in SQLite's cache too.
  std::vector<double> build_ms;
  long blocks = bench::BlocksRead();
  long first_blocks = 0;
  Result<audit::Statement> s = Status::Internal("not built");
  for (int i = 0; i < 5; ++i) {
    t0 = SteadyClock::now();
    s = audit::BuildStatement(**reader, (*signer)->public_key(), {key->mac}, std::nullopt);
    build_ms.push_back(Since(t0) * 1e3);
    if (i == 0) first_blocks = bench::BlocksRead() - blocks;
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.status().message().c_str());
      return 1;
    }
  }
  // Of which: the search for signing-key announcements that every statement makes (by action:
  // audit_entries has no index on it, so this scans the whole table — O(n), not O(log n)).
  std::vector<double> search_ms;
  for (int i = 0; i < 3; ++i) {
    store::AuditQuery announced;
    announced.action = std::string(audit::kSigningKeyRotateAction);
    announced.limit = 64;
    t0 = SteadyClock::now();
    auto rows = (*reader)->SearchAudit(announced);
    search_ms.push_back(Since(t0) * 1e3);
    if (!rows.ok()) return 1;
  }
  // And: the statement's O(log n) part, its entries' inclusion proofs alone.
  t0 = SteadyClock::now();
  for (const auto& e : s->parts[0].entries) {
    if (!audit::ProveInclusion(**reader, e.seq, entries).ok()) return 1;
  }
  const double proofs_ms = Since(t0) * 1e3;
  t0 = SteadyClock::now();
  const std::string json = audit::StatementToJson(*s);
  const double json_s = Since(t0);
  // Checked as check-statement does it: parse and check (needs nothing but the public key).
  std::vector<double> check_ms;
  bool ok = true;
  for (int i = 0; i < 9; ++i) {
    auto t = SteadyClock::now();
    auto parsed = audit::StatementFromJson(json);
    ok = ok && parsed.ok() &&
         audit::CheckStatement(*parsed, (*signer)->public_key(), std::nullopt).ok;
    check_ms.push_back(Since(t) * 1e3);
  }
  size_t inclusion = 0;
  for (const auto& e : s->parts[0].entries) inclusion = std::max(inclusion, e.inclusion.size());
  std::printf("{\"bench\":\"statement\",\"entries\":%lld,\"accesses\":%zu,\"bytes\":%zu,"
              "\"map_proof_siblings\":%zu,\"map_depth\":%u,\"inclusion_path\":%zu,"
              "\"build_first_ms\":%.1f,\"build_p50_ms\":%.1f,\"build_ms\":%.1f,"
              "\"first_build_disk_kib\":%.0f,\"key_search_p50_ms\":%.1f,\"inclusion_proofs_ms\":%.1f,\"to_json_ms\":%.1f,\"check_first_ms\":%.1f,"
              "\"check_p50_ms\":%.1f,\"check_ms\":%.1f,\"valid\":%s,\"evicted\":%s,"
              "\"db_cached_before\":%.3f,\"load1_before\":%.2f,\"load1_after\":%.2f}\n",
              static_cast<long long>(entries), s->parts[0].entries.size(), json.size(),
              s->parts[0].map_proof.siblings.size(), s->parts[0].map_proof.depth, inclusion, build_ms.front(),
              Percentile(build_ms, 0.5), Percentile(build_ms, 0.0), first_blocks / 2.0,
              Percentile(search_ms, 0.5), proofs_ms,
              json_s * 1e3, check_ms.front(), Percentile(check_ms, 0.5),
              Percentile(check_ms, 0.0), ok ? "true" : "false", evicted ? "true" : "false",
              cached_before, load_before, bench::LoadAverage());
  return ok ? 0 : 1;
}
