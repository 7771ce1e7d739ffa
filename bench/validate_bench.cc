// Validation throughput over generated notifications (default 1,000,000), against a
// baseline in the same process: the strict JSON parse of the same lines alone. The ratio
// says what the field checks (check digits, dates, text rules, the address rule against
// the code table) cost on top of reading the JSON.
//
// Usage: validate_bench [COUNT]
// Prints one JSON line: records, records_per_s, baseline_records_per_s (JSON parse
// only), ratio, csv_records_per_s (the CSV path of the same records, UTF-8).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "cli/generate.h"
#include "domain/notification_reader.h"
#include "text/json.h"

using namespace kakunin;

namespace {
double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}
}  // namespace

int main(int argc, char** argv) {
  size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  GenerateOptions g;
  auto gen = NotificationGenerator::Create(g);
  if (!gen.ok()) return 1;
  std::vector<std::string> lines;
  lines.reserve(count);
  std::string csv = CsvHeader() + "\n";
  for (size_t i = 0; i < count; ++i) {
    Notification n = (*gen)->Next();
    lines.push_back(ToCanonicalJson(n));
    csv += ToCsvRow(n);
    csv += '\n';
  }
  CheckOptions options;
  options.today = g.today;
  // Warm up the code table and ICU.
  (void)CheckJsonNotification(lines[0], options);

  // Best of three runs each, alternating, so both see the same machine state.
  double best_base = 1e9, best_full = 1e9, best_csv = 1e9;
  size_t sink = 0;
  for (int round = 0; round < 3; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& l : lines) sink += text::ParseJson(l).ok();
    best_base = std::min(best_base, Seconds(t0));

    t0 = std::chrono::steady_clock::now();
    size_t ok = 0;
    for (const auto& l : lines) ok += CheckJsonNotification(l, options).ok();
    best_full = std::min(best_full, Seconds(t0));
    if (ok != count) {
      std::fprintf(stderr, "generated records rejected: %zu of %zu\n", count - ok, count);
      return 1;
    }

    t0 = std::chrono::steady_clock::now();
    std::istringstream in(csv);
    NotificationStream stream(in, InputFormat::kCsv, InputEncoding::kUtf8, options);
    StreamItem item;
    while (stream.Next(&item)) sink += item.result.ok();
    best_csv = std::min(best_csv, Seconds(t0));
  }
  std::printf(
      "{\"bench\":\"validate\",\"records\":%zu,\"records_per_s\":%.0f,"
      "\"baseline\":\"strict JSON parse only\",\"baseline_records_per_s\":%.0f,"
      "\"ratio\":%.3f,\"csv_records_per_s\":%.0f,\"sink\":%zu}\n",
      count, count / best_full, count / best_base, best_base / best_full, count / best_csv, sink);
  return 0;
}
