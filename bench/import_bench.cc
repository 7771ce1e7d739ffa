// kakunin import vs raw SQLite inserts of the same rows into the same schema, in the same run
// (issue 14: ratio ≥ 0.8; 10 M residents in ≤ 10 minutes).
//
// Import: the generator's notifications as a JSON Lines file → field checks → keys, MACs,
// sealing (second thread) → state checks → resident + version + applied rows, one log entry per
// batch → search indexes built at the end → WAL checkpoint with fsync. Timed from the first
// read to the end of the checkpoint.
// Baseline: the same resident and version rows (prepared untimed, batch by batch), inserted
// with prepared statements into the same schema with every index in place, same batch size,
// same connection settings as the import (WAL, synchronous=NORMAL, same page cache), and the
// same final checkpoint.
//
// Usage: import_bench [RECORDS] [BATCH] [CACHE_MIB]
// Prints one JSON line {"bench":"import",...}.

#include <sqlite3.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "cli/generate.h"
#include "core/clock.h"
#include "crypto/keys.h"
#include "registry/import.h"
#include "registry/registry.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_registry_store.h"

using namespace kakunin;
namespace fs = std::filesystem;
using bench::Since;
using bench::SteadyClock;

namespace {

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

struct Baseline {
  sqlite3* db = nullptr;
  sqlite3_stmt* res = nullptr;
  sqlite3_stmt* ver = nullptr;
  int64_t person = 0;
  double seconds = 0;

  Baseline(const std::string& path, size_t cache_mib) {
    Check(sqlite3_open(path.c_str(), &db), db, "open");
    std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                          "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-" +
                          std::to_string(cache_mib * 1024) + ";";
    Check(sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr), db, "pragma");
    Check(sqlite3_exec(db, store::sqlite::kMigrations[0].sql, nullptr, nullptr, nullptr), db,
          "schema");
    Check(sqlite3_prepare_v2(db, store::sqlite::kInsertResident, -1, &res, nullptr), db, "prep");
    Check(sqlite3_prepare_v2(db, store::sqlite::kInsertVersion, -1, &ver, nullptr), db, "prep");
  }
  ~Baseline() {
    sqlite3_finalize(res);
    sqlite3_finalize(ver);
    sqlite3_close(db);
  }

  // One batch in one transaction; only the inserts and the commit are timed.
  void Insert(const std::vector<registry::PreparedNotification>& rows) {
    auto text = [](sqlite3_stmt* s, int i, const std::string& v) {
      sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    };
    auto t0 = SteadyClock::now();
    Check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (const auto& p : rows) {
      const Notification& n = *p.check.notification;
      std::string code = n.resident_code.str(), kana = n.name_kana.value_or("");
      std::string sex(SexName(n.sex)), birth = n.birth_date.ToIso();
      text(res, 1, code);
      text(res, 2, "active");
      text(res, 3, n.municipality_code);
      sqlite3_bind_int64(res, 4, ++person);
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
    }
    Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
    seconds += Since(t0);
  }

  void Finish() {
    auto t0 = SteadyClock::now();
    Check(sqlite3_exec(db, "PRAGMA synchronous=FULL; PRAGMA wal_checkpoint(TRUNCATE);", nullptr,
                       nullptr, nullptr),
          db, "checkpoint");
    seconds += Since(t0);
  }
};

}  // namespace

int main(int argc, char** argv) {
  size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  size_t batch = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 50000;
  size_t cache_mib = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 128;
  fs::path dir = fs::temp_directory_path() / ("kakunin_import_bench_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  GenerateOptions g;
  g.seed = 42;
  {
    auto gen = NotificationGenerator::Create(g);
    std::ofstream out(dir / "extract.jsonl", std::ios::binary);
    for (size_t i = 0; i < count; ++i) out << ToCanonicalJson((*gen)->Next()) << '\n';
  }

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

  // Import, timed end to end.
  registry::ImportOptions io;
  io.batch_records = batch;
  io.cache_mib = static_cast<int64_t>(cache_mib);
  auto t0 = SteadyClock::now();
  std::ifstream in(dir / "extract.jsonl", std::ios::binary);
  NotificationStream stream(in, InputFormat::kJsonLines, InputEncoding::kUtf8, opt);
  registry::Importer importer(reg, io);
  auto sum = importer.Run(
      actor,
      [&](registry::ImportRecord* r) -> Result<bool> {
        StreamItem item;
        if (!stream.Next(&item)) {
          KAKUNIN_RETURN_IF_ERROR(stream.status());
          return false;
        }
        r->line = item.line;
        r->result = std::move(item.result);
        return true;
      },
      [](const registry::ImportBatchReport&) { return Status::Ok(); });
  if (!sum.ok()) {
    std::fprintf(stderr, "import: %s\n", sum.status().ToString().c_str());
    return 1;
  }
  double full = Since(t0);
  if (sum->applied != static_cast<int64_t>(count)) {
    std::fprintf(stderr, "applied %lld of %zu\n", static_cast<long long>(sum->applied), count);
    return 1;
  }
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  long import_rss_mib = ru.ru_maxrss / 1024;

  // Baseline: the same rows, prepared batch by batch outside the timing.
  {
    Baseline base((dir / "baseline.db").string(), cache_mib);
    auto gen = NotificationGenerator::Create(g);
    std::vector<registry::PreparedNotification> rows;
    for (size_t done = 0; done < count;) {
      rows.clear();
      for (; done < count && rows.size() < batch; ++done) {
        rows.push_back(reg.Prepare(CheckJsonNotification(ToCanonicalJson((*gen)->Next()), opt)));
      }
      base.Insert(rows);
    }
    base.Finish();
    std::printf(
        "{\"bench\":\"import\",\"records\":%zu,\"batch\":%zu,\"cache_mib\":%zu,"
        "\"records_per_s\":%.0f,\"seconds\":%.1f,\"peak_rss_mib_import\":%ld,"
        "\"baseline\":\"raw SQLite inserts of the same resident and version rows, same schema "
        "and indexes, WAL, synchronous=NORMAL, same batch and cache, final checkpoint\","
        "\"baseline_records_per_s\":%.0f,\"ratio\":%.3f}\n",
        count, batch, cache_mib, count / full, full, import_rss_mib, count / base.seconds,
        base.seconds / full);
  }
  store->reset();
  fs::remove_all(dir);
  return 0;
}
