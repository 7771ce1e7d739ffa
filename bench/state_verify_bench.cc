// The cost of record-state verification (issue 11 part 4): a node with RESIDENTS residents
// ingested one notification per entry (and AMENDED of them moved within their town), then
// `audit verify`'s two passes timed apart in the same run — the log (audit::VerifyLog:
// entries/s) and the records against it (registry::VerifyState: versions + resident rows per
// second). Usage: state_verify_bench [RESIDENTS] [AMENDED]  (defaults 100000 10000). JSON lines.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "audit/log.h"
#include "audit/signer.h"
#include "bench/bench_util.h"
#include "cli/generate.h"
#include "core/clock.h"
#include "crypto/keys.h"
#include "domain/notification_reader.h"
#include "registry/registry.h"
#include "registry/state_verify.h"
#include "store/sqlite/sqlite_registry_store.h"

using namespace kakunin;
namespace fs = std::filesystem;
using bench::Since;
using bench::SteadyClock;

int main(int argc, char** argv) {
  const int64_t residents = argc > 1 ? std::strtoll(argv[1], nullptr, 10) : 100000;
  const int64_t amended = argc > 2 ? std::strtoll(argv[2], nullptr, 10) : 10000;
  fs::path dir = fs::temp_directory_path() / ("kakunin_state_bench_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto fail = [&](const std::string& what, const Status& st) {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), st.ToString().c_str());
    fs::remove_all(dir);
    return 1;
  };
  if (Status st = crypto::CreateKeyFile((dir / "keys").string()); !st.ok()) return fail("keys", st);
  auto keys = crypto::LoadKeyFile((dir / "keys").string());
  if (!keys.ok()) return fail("keys", keys.status());
  crypto::FieldCipher cipher(*keys);
  registry::NodeConfig config;
  config.prefecture = 19;
  GenerateOptions g;
  g.seed = 11;
  FixedClock clock = FixedClock::AtDate(g.today);
  auto store = store::sqlite::OpenRegistryStore((dir / "registry.db").string(), true);
  if (!store.ok()) return fail("store", store.status());
  if (Status st = audit::CreateSigningKeyFile((dir / "audit.key").string()); !st.ok()) {
    return fail("audit key", st);
  }
  auto signer = audit::LoadSigningKeyFile((dir / "audit.key").string());
  if (!signer.ok()) return fail("audit key", signer.status());
  audit::AuditLog log(signer->get(), &clock);
  registry::Registry reg(config, store->get(), &cipher, &clock, &log);
  const registry::Actor actor{"os:bench", "bench"};
  const CheckOptions opt = reg.check_options();

  auto gen = NotificationGenerator::Create(g);
  if (!gen.ok()) return fail("generator", gen.status());
  std::vector<Notification> born;
  born.reserve(static_cast<size_t>(residents));
  std::map<std::string, uint64_t> last_seq;
  auto apply = [&](std::vector<Notification>& batch) -> Status {
    std::vector<registry::PreparedNotification> prepared;
    for (const auto& n : batch) {
      prepared.push_back(reg.Prepare(CheckJsonNotification(ToCanonicalJson(n), opt)));
    }
    KAKUNIN_ASSIGN_OR_RETURN(r, reg.Apply(prepared, actor));
    for (const auto& x : r) {
      if (!x.ok()) return Status::Internal("a notification was refused");
    }
    batch.clear();
    return Status::Ok();
  };
  auto t0 = SteadyClock::now();
  std::vector<Notification> batch;
  for (int64_t i = 0; i < residents; ++i) {
    Notification n = (*gen)->Next();
    last_seq[n.municipality_code] = n.sequence;
    born.push_back(n);
    batch.push_back(std::move(n));
    if (batch.size() == 1000) {
      if (Status st = apply(batch); !st.ok()) return fail("ingest", st);
    }
  }
  for (int64_t i = 0; i < amended; ++i) {
    Notification m = born[static_cast<size_t>(i * (residents / std::max<int64_t>(amended, 1)))];
    m.kind = NotificationKind::kAmendment;
    m.reason = ChangeReason::kMovedWithin;
    m.sequence = ++last_seq[m.municipality_code];
    m.change_date = g.today;
    m.address += "の2";
    batch.push_back(std::move(m));
    if (batch.size() == 1000) {
      if (Status st = apply(batch); !st.ok()) return fail("amend", st);
    }
  }
  if (!batch.empty()) {
    if (Status st = apply(batch); !st.ok()) return fail("ingest", st);
  }
  if (Status st = reg.Checkpoint(); !st.ok()) return fail("checkpoint", st);
  const double ingest = Since(t0);

  auto reader = (*store)->OpenReader();
  if (!reader.ok()) return fail("reader", reader.status());
  t0 = SteadyClock::now();
  auto report = audit::VerifyLog(**reader, (*signer)->public_key());
  const double log_secs = Since(t0);
  if (!report.ok() || !report->ok) {
    return fail("verify log", report.ok() ? Status::DataLoss(report->problem) : report.status());
  }
  t0 = SteadyClock::now();
  auto state = registry::VerifyState(**reader, cipher);
  const double state_secs = Since(t0);
  if (!state.ok() || !state->problems.empty()) {
    return fail("verify state", state.ok() ? Status::DataLoss(state->problems[0]) : state.status());
  }
  const int64_t records = state->versions + state->residents;
  std::printf(
      "{\"bench\":\"state_verify\",\"residents\":%lld,\"versions\":%lld,\"entries\":%lld,"
      "\"ingest_s\":%.2f,\"log_verify_s\":%.3f,\"log_entries_per_s\":%.0f,"
      "\"state_verify_s\":%.3f,\"state_records_per_s\":%.0f,\"state_entries_per_s\":%.0f,"
      "\"state_over_log\":%.2f}\n",
      static_cast<long long>(state->residents), static_cast<long long>(state->versions),
      static_cast<long long>(report->entries), ingest, log_secs, report->entries / log_secs,
      state_secs, records / state_secs, report->entries / state_secs, state_secs / log_secs);
  reader->reset();
  store->reset();
  fs::remove_all(dir);
  return 0;
}
