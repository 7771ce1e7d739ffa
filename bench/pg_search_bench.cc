// Kana + birth-date search on PostgreSQL at N residents (issue 13; budget: p99 ≤ 20 ms at 10 M).
//
// Loading: the generator's residents (cli/generate.h) go through the registry's own preparation
// (Registry::Prepare: search keys, the number's keyed MAC, its sealing) and are written with
// COPY straight into the node's residents table, the schema's search indexes dropped first and
// rebuilt after (the indexes are those of store/pg/schema.h, read back from the catalogue), then
// ANALYZE. Only the residents table is loaded (the search reads nothing else; their versions,
// the applied sequences and the log are not written), so this is not an import: see
// bench/pg_ingest.sh for the full path.
//
// Searching: for random residents (every one drawn from the whole load), the search use case
// (Registry::Search: purpose check, the store's search, the operation-log entry committed before
// the answer) with their full kana and birth date, one at a time; and the store's query alone
// (RegistryReader::Search with the keys the use case derives). p50/p99 of each, and the query
// plan (EXPLAIN ANALYZE) of one search: the plan must use an index on residents, never scan it.
//
// Usage: pg_search_bench URL [RESIDENTS] [SEARCHES]
// URL: an empty database on a server the caller started (bench/pg_search.sh starts a private one).
// Prints one JSON line {"bench":"pg_search",...}; the plan goes to stderr.

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "audit/log.h"
#include "audit/signer.h"
#include "bench/bench_util.h"
#include "cli/generate.h"
#include "core/clock.h"
#include "core/random.h"
#include "crypto/keys.h"
#include "registry/registry.h"
#include "store/pg/pg_registry_store.h"
#include "store/pg/schema.h"
#include "text/search_key.h"

using namespace kakunin;
namespace fs = std::filesystem;
using bench::Percentile;
using bench::Since;
using bench::SteadyClock;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "pg_search_bench: %s\n", what.c_str());
  std::exit(1);
}

void Exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_COPY_IN) {
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    Die(sql.substr(0, 60) + ": " + msg);
  }
  PQclear(r);
}

// COPY's text format: backslash, tab, newline and carriage return escaped.
void Field(std::string* out, std::string_view v) {
  for (char ch : v) {
    switch (ch) {
      case '\\': *out += "\\\\"; break;
      case '\t': *out += "\\t"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      default: *out += ch;
    }
  }
  *out += '\t';
}

void Bytea(std::string* out, const std::string& v) {
  static const char* hex = "0123456789abcdef";
  *out += "\\\\x";
  for (unsigned char ch : v) {
    *out += hex[ch >> 4];
    *out += hex[ch & 15];
  }
  *out += '\t';
}

struct Pick {
  std::string kana;
  std::string birth;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: pg_search_bench URL [RESIDENTS] [SEARCHES]");
  const std::string url = argv[1];
  const size_t count = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100000;
  const size_t searches = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2000;
  fs::path dir = fs::temp_directory_path() / ("kakunin_pg_search_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  auto store = store::pg::OpenRegistryStore(url, /*create=*/true);
  if (!store.ok()) Die("open: " + store.status().ToString());
  if (!crypto::CreateKeyFile((dir / "keys").string()).ok()) Die("key file");
  auto keys = crypto::LoadKeyFile((dir / "keys").string());
  if (!keys.ok()) Die("key file");
  crypto::FieldCipher cipher(*keys);
  if (!audit::CreateSigningKeyFile((dir / "audit.key").string()).ok()) Die("signing key");
  auto signer = audit::LoadSigningKeyFile((dir / "audit.key").string());
  if (!signer.ok()) Die("signing key");
  GenerateOptions g;
  g.seed = 42;
  SystemClock clock;
  audit::AuditLog log(signer->get(), &clock);
  registry::NodeConfig config;
  config.prefecture = 19;
  registry::Registry reg(config, store->get(), &cipher, &clock, &log);

  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) Die(std::string("connect: ") + PQerrorMessage(c));
  Exec(c, "SET synchronous_commit = on");

  // ---- load
  std::vector<std::string> index_defs;
  {
    PGresult* r = PQexec(c,
                         "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'residents' "
                         "AND indexname NOT IN (SELECT conname FROM pg_constraint)");
    for (int i = 0; i < PQntuples(r); ++i) {
      index_defs.push_back(PQgetvalue(r, i, 1));
      Exec(c, std::string("DROP INDEX ") + PQgetvalue(r, i, 0));
    }
    PQclear(r);
  }
  auto gen = NotificationGenerator::Create(g);
  if (!gen.ok()) Die("generator");
  // Every resident may be searched for: a reservoir sample over the whole load.
  SeededRandom random(7);
  std::vector<Pick> picks;
  picks.reserve(searches);
  auto t0 = SteadyClock::now();
  Exec(c, "BEGIN");
  Exec(c,
       "COPY residents (person_id, resident_code, status, municipality_code, version_id, name, "
       "name_kana, sex, birth_date, address, number_mac, name_key, kana_key, address_key, "
       "updated_at, removed_at) FROM STDIN");
  std::string buf;
  const int64_t now = clock.NowMicros();
  for (size_t i = 0; i < count; ++i) {
    CheckResult cr;
    cr.notification = (*gen)->Next();
    registry::PreparedNotification p = reg.Prepare(std::move(cr));
    const Notification& n = *p.check.notification;
    const std::string kana = n.name_kana.value_or("");
    const std::string birth = n.birth_date.ToIso();
    if (n.name_kana) {
      if (picks.size() < searches) {
        picks.push_back({kana, birth});
      } else {
        uint64_t j = random.Uniform(i + 1);
        if (j < searches) picks[j] = {kana, birth};
      }
    }
    buf += std::to_string(i + 1) + '\t';
    Field(&buf, n.resident_code.str());
    Field(&buf, "active");
    Field(&buf, n.municipality_code);
    buf += "0\t";
    Field(&buf, n.name);
    if (n.name_kana) {
      Field(&buf, kana);
    } else {
      buf += "\\N\t";
    }
    Field(&buf, SexName(n.sex));
    Field(&buf, birth);
    Field(&buf, n.address);
    Bytea(&buf, p.number_mac);
    Field(&buf, p.name_key);
    Field(&buf, p.kana_key);
    Field(&buf, p.address_key);
    buf += std::to_string(now) + "\t0\n";
    if (buf.size() > (1 << 20)) {
      if (PQputCopyData(c, buf.data(), static_cast<int>(buf.size())) != 1) Die("copy data");
      buf.clear();
    }
  }
  if (!buf.empty() && PQputCopyData(c, buf.data(), static_cast<int>(buf.size())) != 1) {
    Die("copy data");
  }
  if (PQputCopyEnd(c, nullptr) != 1) Die("copy end");
  for (PGresult* r; (r = PQgetResult(c)) != nullptr;) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK) Die(std::string("copy: ") + PQresultErrorMessage(r));
    PQclear(r);
  }
  Exec(c, "COMMIT");
  const double copy_s = Since(t0);
  auto t1 = SteadyClock::now();
  Exec(c, "SET maintenance_work_mem = '512MB'");
  for (const std::string& def : index_defs) Exec(c, def);
  Exec(c, "ANALYZE residents");
  const double index_s = Since(t1);

  // ---- search
  const registry::Actor actor{"os:bench", "bench"};
  auto reader = (*store)->OpenReader();
  if (!reader.ok()) Die("reader");
  std::vector<double> use_case_ms, query_ms;
  int64_t hits = 0;
  for (const Pick& k : picks) {
    registry::SearchRequest req;
    req.kana = k.kana;
    req.birth_date = k.birth;
    auto s0 = SteadyClock::now();
    auto out = reg.Search(**reader, req, actor, "bench.search");
    use_case_ms.push_back(Since(s0) * 1000);
    if (!out.ok()) Die("search: " + out.status().ToString());
    hits += static_cast<int64_t>(out->rows.size());
    store::SearchQuery q;
    q.kana_key = text::SearchKey(k.kana);
    q.birth_date = k.birth;
    q.limit = req.limit;
    auto s1 = SteadyClock::now();
    auto rows = (*reader)->Search(q);
    query_ms.push_back(Since(s1) * 1000);
    if (!rows.ok()) Die("query: " + rows.status().ToString());
  }

  // ---- the plan of one search, as PgReader::Search assembles it
  bool index_used = false, seq_scan = false;
  if (!picks.empty()) {
    std::string sql = std::string("EXPLAIN (ANALYZE, BUFFERS) ") + store::pg::kSearchSelect +
                      " AND kana_key >= $1 AND kana_key < $2 AND birth_date = $3" +
                      store::pg::kSearchActive +
                      " ORDER BY kana_key, birth_date, person_id LIMIT $4";
    const std::string key = text::SearchKey(picks[0].kana);
    const std::string end = key + "\xF4\x8F\xBF\xBF";
    const std::string limit = "21";
    const char* values[] = {key.c_str(), end.c_str(), picks[0].birth.c_str(), limit.c_str()};
    PGresult* r = PQexecParams(c, sql.c_str(), 4, nullptr, values, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) Die(std::string("explain: ") + PQresultErrorMessage(r));
    for (int i = 0; i < PQntuples(r); ++i) {
      std::string line = PQgetvalue(r, i, 0);
      std::fprintf(stderr, "%s\n", line.c_str());
      if (line.find("Index") != std::string::npos) index_used = true;
      if (line.find("Seq Scan on residents") != std::string::npos) seq_scan = true;
    }
    PQclear(r);
  }
  PQfinish(c);
  reader->reset();
  store->reset();
  fs::remove_all(dir);

  std::printf(
      "{\"bench\":\"pg_search\",\"residents\":%zu,\"searches\":%zu,\"hits\":%lld,"
      "\"load\":\"Registry::Prepare rows, COPY into residents, indexes rebuilt\","
      "\"copy_s\":%.1f,\"index_s\":%.1f,"
      "\"use_case_p50_ms\":%.2f,\"use_case_p99_ms\":%.2f,"
      "\"query_p50_ms\":%.2f,\"query_p99_ms\":%.2f,\"budget_p99_ms\":20,"
      "\"plan_uses_index\":%s}\n",
      count, picks.size(), static_cast<long long>(hits), copy_s, index_s,
      Percentile(use_case_ms, 0.5), Percentile(use_case_ms, 0.99), Percentile(query_ms, 0.5),
      Percentile(query_ms, 0.99), index_used && !seq_scan ? "true" : "false");
  return index_used && !seq_scan ? 0 : 1;
}
