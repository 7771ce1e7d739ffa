// Ingest through the full path vs raw SQLite inserts of the same rows, in the same run
// (DESIGN §10: ratio ≥ 0.5), then search latency over the resulting registry.
//
// Full path: JSON text → field checks → search keys, MACs, sealing → state checks →
// resident + version + applied + sender + outbox rows → durable commit (WAL,
// synchronous=FULL), in batches of --batch notifications.
// Baseline: the same resident and version rows, already built, inserted with prepared
// statements into the same schema (same indexes), same batch size, same durability.
//
// Usage: ingest_bench [RECORDS] [BATCH] [QUERIES]
// Prints JSON lines: {"bench":"ingest",...} and {"bench":"search",...}.
// Above 2,000,000 records the baseline is skipped (it would need every row in memory): the
// run measures the full path's rate and search latency at that size.

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "cli/generate.h"
#include "core/clock.h"
#include "crypto/keys.h"
#include "registry/pipeline.h"
#include "registry/registry.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_registry_store.h"

using namespace kakunin;
namespace fs = std::filesystem;
using bench::Percentile;
using bench::Since;
using bench::SteadyClock;

namespace {

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

// Raw inserts of the rows the registry writes for each entry.
double Baseline(const std::string& path, const std::vector<registry::PreparedNotification>& rows,
                size_t batch) {
  sqlite3* db = nullptr;
  Check(sqlite3_open(path.c_str(), &db), db, "open");
  // The same connection settings as the store (store/sqlite/db.cc).
  Check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;", nullptr, nullptr,
                     nullptr),
        db, "pragma");
  Check(sqlite3_exec(db, store::sqlite::kMigrations[0].sql, nullptr, nullptr, nullptr), db,
        "schema");
  sqlite3_stmt* res = nullptr;
  sqlite3_stmt* ver = nullptr;
  Check(sqlite3_prepare_v2(db, store::sqlite::kInsertResident, -1, &res, nullptr), db, "prep");
  Check(sqlite3_prepare_v2(db, store::sqlite::kInsertVersion, -1, &ver, nullptr), db, "prep");
  auto text = [](sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  };
  auto t0 = SteadyClock::now();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i % batch == 0) Check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    const auto& p = rows[i];
    const Notification& n = *p.check.notification;
    std::string code = n.resident_code.str(), kana = n.name_kana.value_or("");
    std::string sex(SexName(n.sex)), birth = n.birth_date.ToIso();
    text(res, 1, code);
    text(res, 2, "active");
    text(res, 3, n.municipality_code);
    sqlite3_bind_int64(res, 4, static_cast<int64_t>(i + 1));
    text(res, 5, n.name);
    text(res, 6, kana);
    text(res, 7, sex);
    text(res, 8, birth);
    text(res, 9, n.address);
    sqlite3_bind_blob(res, 10, p.number_mac.data(), static_cast<int>(p.number_mac.size()),
                      SQLITE_STATIC);
    text(res, 11, p.name_key);
    text(res, 12, p.kana_key);
    text(res, 13, p.address_key);
    sqlite3_bind_int64(res, 14, 1);
    sqlite3_bind_int64(res, 15, 0);
    Check(sqlite3_step(res), db, "insert resident");
    sqlite3_reset(res);
    int64_t pid = sqlite3_last_insert_rowid(db);
    std::string kind(NotificationKindName(n.kind)), reason(ChangeReasonName(n.reason));
    std::string change = n.change_date.ToIso();
    sqlite3_bind_int64(ver, 1, pid);
    text(ver, 2, n.municipality_code);
    sqlite3_bind_int64(ver, 3, static_cast<int64_t>(n.sequence));
    text(ver, 4, kind);
    text(ver, 5, reason);
    text(ver, 6, change);
    text(ver, 7, code);
    sqlite3_bind_blob(ver, 8, p.sealed_number.data(), static_cast<int>(p.sealed_number.size()),
                      SQLITE_STATIC);
    text(ver, 9, n.name);
    text(ver, 10, kana);
    sqlite3_bind_null(ver, 11);
    sqlite3_bind_null(ver, 12);
    text(ver, 13, sex);
    text(ver, 14, birth);
    text(ver, 15, n.address);
    sqlite3_bind_null(ver, 16);
    sqlite3_bind_int64(ver, 17, 1);
    sqlite3_bind_int64(ver, 18, 0);
    Check(sqlite3_step(ver), db, "insert version");
    sqlite3_reset(ver);
    if ((i + 1) % batch == 0 || i + 1 == rows.size()) {
      Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
    }
  }
  double secs = Since(t0);
  sqlite3_finalize(res);
  sqlite3_finalize(ver);
  sqlite3_close(db);
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  size_t batch = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2000;
  size_t queries = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2000;
  fs::path dir = fs::temp_directory_path() / ("kakunin_bench_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  const bool with_baseline = count <= 2000000;
  // Inputs: the generator's notifications as JSON text, as a municipality would send them.
  GenerateOptions g;
  g.seed = 42;
  auto gen = NotificationGenerator::Create(g);
  std::vector<std::string> lines;
  if (with_baseline) {
    lines.reserve(count);
    for (size_t i = 0; i < count; ++i) lines.push_back(ToCanonicalJson((*gen)->Next()));
  }
  std::vector<Notification> sample;  // residents to search for
  std::mt19937_64 sample_rng(3);
  size_t seen = 0;

  if (!crypto::CreateKeyFile((dir / "keys").string()).ok()) return 1;
  auto keys = crypto::LoadKeyFile((dir / "keys").string());
  crypto::FieldCipher cipher(*keys);
  registry::NodeConfig config;
  config.prefecture = 19;
  FixedClock clock = FixedClock::AtDate(g.today);
  auto store = store::sqlite::OpenRegistryStore((dir / "registry.db").string(), true);
  if (!store.ok()) return 1;
  if (!audit::CreateSigningKeyFile((dir / "audit.key").string()).ok()) return 1;
  auto signer = audit::LoadSigningKeyFile((dir / "audit.key").string());
  audit::AuditLog log(signer->get(), &clock);
  registry::Registry reg(config, store->get(), &cipher, &clock, &log);
  const registry::Actor actor{"os:bench", "bench"};
  CheckOptions opt = reg.check_options();

  // Full path, timed: the same pipeline as `kakunin ingest`.
  std::vector<registry::PreparedNotification> prepared_for_baseline;
  prepared_for_baseline.reserve(count);
  auto t0 = SteadyClock::now();
  size_t accepted = 0, next = 0;
  Status st = registry::PipelinedIngest(
      reg, actor,
      [&](registry::IngestBatch* b) {
        for (; next < count && b->items.size() < batch; ++next) {
          b->positions.push_back(next);
          std::string line = with_baseline ? lines[next] : ToCanonicalJson((*gen)->Next());
          b->items.push_back(reg.Prepare(CheckJsonNotification(line, opt)));
        }
        return next < count;
      },
      [&](const registry::IngestBatch& b, const std::vector<registry::ApplyResult>& r) {
        for (const auto& x : r) accepted += x.ok();
        for (const auto& p : b.items) {
          if (with_baseline) prepared_for_baseline.push_back(p);
          // Reservoir sample (algorithm R) of residents to search for later.
          ++seen;
          if (sample.size() < queries) {
            sample.push_back(*p.check.notification);
          } else if (size_t j = sample_rng() % seen; j < queries) {
            sample[j] = *p.check.notification;
          }
        }
        return Status::Ok();
      });
  if (!st.ok()) {
    std::fprintf(stderr, "ingest: %s\n", st.ToString().c_str());
    return 1;
  }
  double full = Since(t0);
  if (accepted != count) {
    std::fprintf(stderr, "rejected %zu of %zu\n", count - accepted, count);
    return 1;
  }
  if (with_baseline) {
    double base = Baseline((dir / "baseline.db").string(), prepared_for_baseline, batch);
    std::printf(
        "{\"bench\":\"ingest\",\"records\":%zu,\"batch\":%zu,\"records_per_s\":%.0f,"
        "\"baseline\":\"raw SQLite inserts of the same resident and version rows, same schema "
        "and indexes, WAL, synchronous=FULL\",\"baseline_records_per_s\":%.0f,"
        "\"ratio\":%.3f}\n",
        count, batch, count / full, count / base, base / full);
  } else {
    std::printf("{\"bench\":\"ingest\",\"records\":%zu,\"batch\":%zu,\"records_per_s\":%.0f,"
                "\"baseline\":\"skipped above 2000000 records\"}\n",
                count, batch, count / full);
  }
  std::fflush(stdout);

  // Search latency: kana + birth date (the budget's case), kana prefix alone, name + birth.
  auto reader = (*store)->OpenReader();
  std::mt19937_64 rng(7);
  struct Kind {
    const char* name;
    std::vector<double> ms;
  } kinds[3] = {{"kana+birth_date", {}}, {"kana_prefix", {}}, {"name+birth_date", {}}};
  size_t found = 0;
  for (size_t q = 0; q < queries; ++q) {
    const Notification& n = sample[rng() % sample.size()];
    for (int k = 0; k < 3; ++k) {
      registry::SearchRequest req;
      if (k == 0) {
        req.kana = n.name_kana;
        req.birth_date = n.birth_date.ToIso();
      } else if (k == 1) {
        req.kana = n.name_kana->substr(0, n.name_kana->find("　"));  // the surname's kana
      } else {
        req.name = n.name;
        req.birth_date = n.birth_date.ToIso();
      }
      auto t = SteadyClock::now();
      auto r = reg.Search(**reader, req, actor, "bench");
      kinds[k].ms.push_back(Since(t) * 1000);
      if (r.ok() && !r->rows.empty()) ++found;
    }
  }
  for (const auto& k : kinds) {
    std::printf(
        "{\"bench\":\"search\",\"query\":\"%s\",\"residents\":%zu,\"queries\":%zu,"
        "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
        k.name, count, k.ms.size(), Percentile(k.ms, 0.5), Percentile(k.ms, 0.99),
        Percentile(k.ms, 1.0));
  }
  if (found != queries * 3) std::fprintf(stderr, "warning: %zu queries found nothing\n",
                                         queries * 3 - found);
  reader->reset();
  store->reset();
  fs::remove_all(dir);
  return 0;
}
