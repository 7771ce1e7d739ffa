// The access statement's size and verification time (issue 11, part 2): one resident with
// ACCESSES entries naming them, among ENTRIES entries over RESIDENTS residents. Also the
// append rate with the resident map kept (heads per entry, the map at each checkpoint) for
// comparison with audit_bench's.
//
// Usage: statement_bench [ENTRIES] [ACCESSES] [RESIDENTS]   (defaults 1000000 1000 100000)
// Prints JSON lines.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "audit/log.h"
#include "audit/statement.h"
#include "bench/bench_util.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "crypto/sha256.h"
#include "store/sqlite/sqlite_registry_store.h"

using namespace kakunin;
namespace fs = std::filesystem;
using bench::Since;
using bench::SteadyClock;

int main(int argc, char** argv) {
  const int64_t entries = argc > 1 ? std::strtoll(argv[1], nullptr, 10) : 1000000;
  const int64_t accesses = argc > 2 ? std::strtoll(argv[2], nullptr, 10) : 1000;
  const int64_t residents = argc > 3 ? std::strtoll(argv[3], nullptr, 10) : 100000;
  fs::path dir = fs::temp_directory_path() / ("kakunin_statement_bench_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  if (!audit::CreateSigningKeyFile((dir / "audit.key").string()).ok()) return 1;
  auto signer = audit::LoadSigningKeyFile((dir / "audit.key").string());
  if (!signer.ok()) return 1;
  SystemClock clock;
  audit::AuditLog log(signer->get(), &clock);
  auto store = store::sqlite::OpenRegistryStore((dir / "registry.db").string(), true);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().message().c_str());
    return 1;
  }
  auto key_name = [](int64_t i) {
    return "mac:" + HexEncode(crypto::Sha256("resident " + std::to_string(i))) + ":found";
  };
  const std::string ours = key_name(-1);
  const int64_t every = std::max<int64_t>(1, entries / std::max<int64_t>(1, accesses));
  std::mt19937_64 rng(7);
  auto t0 = SteadyClock::now();
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
        e.targets = {i % every == 0 ? ours
                                    : key_name(static_cast<int64_t>(rng() % residents))};
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
  const double append_s = Since(t0);
  std::printf("{\"bench\":\"statement_log_build\",\"entries\":%lld,\"residents\":%lld,"
              "\"appends_per_s\":%.0f}\n",
              static_cast<long long>(entries), static_cast<long long>(residents),
              static_cast<double>(entries) / append_s);
  auto reader = (*store)->OpenReader();
  if (!reader.ok()) return 1;
  auto key = audit::ParseTargetName(ours);
  t0 = SteadyClock::now();
  auto s = audit::BuildStatement(**reader, (*signer)->public_key(), key->mac, std::nullopt);
  const double build_s = Since(t0);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.status().message().c_str());
    return 1;
  }
  const std::string json = audit::StatementToJson(*s);
  // Verification as check-statement does it: parse and check, best of 5.
  double best = 1e9;
  bool ok = false;
  for (int i = 0; i < 5; ++i) {
    auto t = SteadyClock::now();
    auto parsed = audit::StatementFromJson(json);
    ok = parsed.ok() && audit::CheckStatement(*parsed, (*signer)->public_key(), std::nullopt).ok;
    best = std::min(best, Since(t));
  }
  std::printf("{\"bench\":\"statement\",\"entries\":%lld,\"accesses\":%zu,\"bytes\":%zu,"
              "\"map_proof_siblings\":%zu,\"map_depth\":%u,\"build_ms\":%.1f,\"verify_ms\":%.1f,"
              "\"valid\":%s}\n",
              static_cast<long long>(entries), s->entries.size(), json.size(),
              s->map_proof.siblings.size(), s->map_proof.depth, build_s * 1e3, best * 1e3,
              ok ? "true" : "false");
  reader->reset();
  store->reset();
  fs::remove_all(dir);
  return ok ? 0 : 1;
}
