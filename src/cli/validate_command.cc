// kakunin validate: the contract's field checks over a JSON Lines or CSV file.

#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/clock.h"
#include "domain/notification_reader.h"
#include "text/json.h"

namespace kakunin::cli {
namespace {

const char kHelp[] =
    "使い方 / usage: kakunin validate [OPTIONS] FILE|-\n"
    "\n"
    "本人確認情報の更新通知を論理チェックし、1件ごとに結果をJSONで出力します。\n"
    "Checks notifications (JSON Lines or CSV) against the field rules of the notification\n"
    "contract and prints one JSON object per record, in input order:\n"
    "  {\"line\":1,\"ok\":true}\n"
    "  {\"line\":2,\"ok\":false,\"errors\":[{\"field\":\"individual_number\",\"code\":\"check_digit\"}]}\n"
    "\n"
    "`line` is the line the record starts on (for CSV the header is line 1). No state is\n"
    "consulted: sequence, registration and prefecture checks belong to `kakunin ingest`.\n"
    "\n"
    "Exit status: 0 all accepted, 1 some rejected, 2 usage or I/O error.\n"
    "\n"
    "Options:\n";

const char kExample[] =
    "\nExamples:\n"
    "  kakunin generate --count 3 | kakunin validate -\n"
    "  kakunin validate --format csv --encoding cp932 --today 2026-04-01 idou.csv\n"
    "  kakunin validate --summary notifications.jsonl\n";

}  // namespace

int RunValidate(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = InputOptionSpecs();
  specs.push_back({"summary", "", "結果の集計を表示 / print a summary for people instead of one line per record"});
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) {
    io.err << "kakunin validate: " << args.status().message() << "\n"
           << "詳しくは / see: kakunin validate --help\n";
    return kExitUsage;
  }
  if (args->help()) {
    io.out << kHelp << FormatOptions(specs) << kExample;
    return kExitOk;
  }
  auto input = ParseInputOptions(*args, "validate", io);
  if (!input) return kExitUsage;

  std::ifstream file;
  std::istream* in = &io.in;
  if (input->path != "-") {
    file.open(input->path, std::ios::binary);
    if (!file) {
      io.err << "kakunin validate: cannot open the input file\n";
      return kExitUsage;
    }
    in = &file;
  }

  const bool summary = args->Has("summary");
  NotificationStream stream(*in, input->format, input->encoding, input->check);
  StreamItem item;
  bool any_rejected = false;
  ValidationSummary totals;
  EncodingHint hint;
  std::string buf;
  buf.reserve(1 << 16);
  while (stream.Next(&item)) {
    if (summary) {
      totals.Add(item.result);
    } else {
      AppendResultLine("line", item.line, item.result, /*duplicate=*/false, &buf);
    }
    any_rejected |= !item.result.ok();
    hint.See(item.result.errors);
    if (buf.size() >= (1 << 16) - 1024) {
      io.out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  if (summary) buf = totals.Format(*input->check.table);
  io.out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  io.out.flush();
  if (!stream.status().ok()) {
    io.err << "kakunin validate: " << stream.status().message() << "\n";
    return kExitUsage;
  }
  hint.Print(*input, args->Has("encoding"), "validate", io);
  return any_rejected ? kExitRejected : kExitOk;
}

}  // namespace kakunin::cli
