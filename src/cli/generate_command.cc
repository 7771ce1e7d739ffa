// kakunin generate: realistic fictitious entry notifications.

#include <charconv>
#include <ostream>

#include "cli/commands.h"
#include "cli/generate.h"

namespace kakunin::cli {
namespace {

const char kHelp[] =
    "使い方 / usage: kakunin generate --count N [OPTIONS]\n"
    "\n"
    "架空の住民の記載（entry）通知を決定的に生成します。\n"
    "Writes N fictitious but realistic `entry` notifications to standard output: common\n"
    "surnames and given names with kana, an age and sex mix shaped like Japan's, addresses\n"
    "in the real municipalities of the prefecture (町名 and 番地), unique valid resident\n"
    "codes and individual numbers, and gap-free sequences per municipality. The same\n"
    "options always give the same output.\n"
    "\n"
    "Options:\n";

const char kExample[] =
    "\nExamples:\n"
    "  kakunin generate --count 5\n"
    "  kakunin generate --count 100000 --seed 7 --format csv > yamanashi.csv\n";

std::vector<OptionSpec> Specs() {
  return {
      {"count", "N", "件数 / number of notifications (required)"},
      {"seed", "S", "乱数の種 / seed (default 1)"},
      {"prefecture", "NN", "都道府県コード / prefecture number, 1..47 (default 19 = 山梨県)"},
      {"format", "jsonl|csv", "出力形式 / output format (default jsonl)"},
      {"today", "YYYY-MM-DD", "基準日 / no date after this day (default 2026-04-01)"},
  };
}

std::optional<uint64_t> ParseUint(const std::string& s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

int RunGenerate(const std::vector<std::string>& argv, Io& io) {
  auto specs = Specs();
  auto args = Args::Parse(argv, specs);
  auto usage = [&](const std::string& msg) {
    io.err << "kakunin generate: " << msg << "\n詳しくは / see: kakunin generate --help\n";
    return kExitUsage;
  };
  if (!args.ok()) return usage(args.status().message());
  if (args->help()) {
    io.out << kHelp << FormatOptions(specs) << kExample;
    return kExitOk;
  }
  if (!args->positional().empty()) return usage("unexpected argument");
  auto count_arg = args->Get("count");
  if (!count_arg) return usage("--count is required");
  auto count = ParseUint(*count_arg);
  if (!count || *count > 1000000000ULL) return usage("--count must be 0..1000000000");
  GenerateOptions options;
  if (auto s = args->Get("seed")) {
    auto v = ParseUint(*s);
    if (!v) return usage("--seed must be a non-negative integer");
    options.seed = *v;
  }
  if (auto s = args->Get("prefecture")) {
    auto v = ParseUint(*s);
    if (!v || *v < 1 || *v > 47) return usage("--prefecture must be 1..47");
    options.prefecture = static_cast<int>(*v);
  }
  if (auto s = args->Get("today")) {
    auto p = ParseIsoDate(*s);
    if (!p.date) return usage("--today must be a date YYYY-MM-DD");
    options.today = *p.date;
  }
  std::string format = args->Get("format").value_or("jsonl");
  if (format != "jsonl" && format != "csv") return usage("--format must be jsonl or csv");
  bool csv = format == "csv";

  auto gen = NotificationGenerator::Create(options);
  if (!gen.ok()) return usage(gen.status().message());
  std::string buf;
  if (csv) buf = CsvHeader() + "\r\n";
  for (uint64_t i = 0; i < *count; ++i) {
    Notification n = (*gen)->Next();
    if (csv) {
      buf += ToCsvRow(n);
      buf += "\r\n";
    } else {
      buf += ToCanonicalJson(n);
      buf += '\n';
    }
    if (buf.size() > (1 << 16)) {
      io.out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  io.out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  io.out.flush();
  return io.out ? kExitOk : kExitUsage;
}

}  // namespace kakunin::cli
