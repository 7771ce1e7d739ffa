// kakunin import: loads an existing registry (municipal extracts in the notification contract's
// format) into a new node, in large resumable batches (registry/import.h, docs/import.md).

#include <fstream>
#include <memory>
#include <ostream>

#include "cli/commands.h"
#include "cli/node.h"
#include "cli/options.h"
#include "registry/import.h"

namespace kakunin::cli {
namespace {

const char kImportHelp[] =
    "使い方 / usage: kakunin import --data DIR [--format jsonl|csv] [--encoding utf-8|cp932]\n"
    "                              [--append] [--batch N] [--queue N] [--cache-mib N] FILE…\n\n"
    "既存の住民記録（通知の形式）を新しいノードへ一括登録します。\n"
    "Loads an existing registry into a new node: every FILE (the notification contract's CSV\n"
    "or JSON Lines) in order, with the same field and state checks as `kakunin ingest`, in\n"
    "large durable batches, one operation-log entry per batch. A refused record is reported\n"
    "with its line and changes nothing; the rest of its batch is applied.\n"
    "Interrupted (a crash, kill, power cut)? Run the same command again: batches already\n"
    "committed are recognised by their digest and skipped.\n"
    "A node that already holds residents is refused unless --append is given.\n"
    "Prints one JSON line per batch, and one per refused record after it.\n\n"
    "Exit status: 0 all accepted, 1 some rejected, 2 usage or I/O error (resumable).\n";

int Usage(Io& io, const std::string& msg) {
  io.err << "kakunin import: " << msg << "\n"
         << "詳しくは / see: kakunin import --help\n";
  return kExitUsage;
}

int Fail(Io& io, const Status& st) {
  io.err << "kakunin import: " << st.message() << "\n";
  return kExitUsage;
}

std::optional<size_t> Number(const Args& args, const char* name, size_t def, size_t lo,
                             size_t hi) {
  auto v = args.Get(name);
  if (!v) return def;
  if (v->empty() || v->size() > 9 || v->find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  size_t n = std::stoul(*v);
  if (n < lo || n > hi) return std::nullopt;
  return n;
}

// One input file after another, as one source of records.
class Files {
 public:
  Files(std::vector<InputOptions> inputs, CheckOptions check, Io& io)
      : inputs_(std::move(inputs)), check_(check), io_(io) {}

  Result<bool> Next(registry::ImportRecord* r) {
    for (;;) {
      if (!stream_) {
        if (index_ >= inputs_.size()) return false;
        const InputOptions& in = inputs_[index_];
        std::istream* s = &io_.in;
        if (in.path != "-") {
          file_ = std::make_unique<std::ifstream>(in.path, std::ios::binary);
          if (!*file_) return Status::NotFound("cannot open input file " + std::to_string(index_ + 1));
          s = file_.get();
        }
        stream_ = std::make_unique<NotificationStream>(*s, in.format, in.encoding, check_);
      }
      StreamItem item;
      if (stream_->Next(&item)) {
        r->file = index_;
        r->line = item.line;
        r->result = std::move(item.result);
        return true;
      }
      KAKUNIN_RETURN_IF_ERROR(stream_->status());
      stream_.reset();
      file_.reset();
      ++index_;
    }
  }

 private:
  std::vector<InputOptions> inputs_;
  CheckOptions check_;
  Io& io_;
  size_t index_ = 0;
  std::unique_ptr<std::ifstream> file_;
  std::unique_ptr<NotificationStream> stream_;
};

}  // namespace

int RunImportCommand(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = InputOptionSpecs();
  specs.insert(specs.begin(), DataOption());
  specs.push_back({"append", "", "住民のいるノードにも追加 / add to a node that holds residents"});
  specs.push_back({"batch", "N",
                   "1トランザクションの件数 / records per transaction ([limits] import_batch, "
                   "50000)"});
  specs.push_back({"queue", "N",
                   "先読みするバッチ数 / batches read ahead ([limits] import_queue, 1)"});
  specs.push_back({"cache-mib", "N",
                   "ページキャッシュ / writer's page cache, MiB ([limits] cache_mib, 64)"});
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Usage(io, args.status().message());
  if (args->help()) {
    io.out << kImportHelp << "\nOptions:\n"
           << FormatOptions(specs) << "\nExamples:\n"
           << "  kakunin import --data /var/lib/kakunin kofu.jsonl nirasaki.jsonl\n"
           << "  kakunin import --data d --format csv --encoding cp932 juki.csv\n";
    return kExitOk;
  }
  auto data = RequireData(*args, "import", io);
  if (!data) return kExitUsage;
  if (args->positional().empty()) return Usage(io, "give the input FILEs");
  // Each file is read with the shared input options (its format from its name by default).
  std::vector<InputOptions> inputs;
  for (const std::string& path : args->positional()) {
    std::vector<std::string> one;
    for (const std::string& a : argv) {
      bool positional = false;
      for (const std::string& p : args->positional()) positional |= a == p;
      if (!positional) one.push_back(a);
    }
    one.push_back(path);
    auto parsed = Args::Parse(one, specs);
    if (!parsed.ok()) return Usage(io, parsed.status().message());
    auto input = ParseInputOptions(*parsed, "import", io);
    if (!input) return kExitUsage;
    inputs.push_back(std::move(*input));
  }
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, node.status());
  // Defaults from [limits]; an option overrides them for this run.
  const registry::LimitsConfig& limits = (*node)->config.limits;
  registry::ImportOptions options;
  options.append = args->Has("append");
  auto batch = Number(*args, "batch", static_cast<size_t>(limits.import_batch), 1, 1000000);
  auto queue = Number(*args, "queue", static_cast<size_t>(limits.import_queue), 1, 64);
  auto cache = Number(*args, "cache-mib", static_cast<size_t>(limits.cache_mib), 1, 1 << 20);
  if (!batch) return Usage(io, "--batch must be 1..1000000");
  if (!queue) return Usage(io, "--queue must be 1..64");
  if (!cache) return Usage(io, "--cache-mib must be 1..1048576");
  options.batch_records = *batch;
  options.queue_batches = *queue;
  options.cache_mib = static_cast<int64_t>(*cache);
  registry::Registry& reg = *(*node)->registry;
  CheckOptions check = reg.check_options();
  const InputOptions& first = inputs.front();
  if (args->Has("today")) {
    if (first.check.today > check.today) return Usage(io, "--today cannot be after today's date");
    check.today = first.check.today;
  }
  if (args->Has("resident-code-check")) check.resident_code_check = first.check.resident_code_check;
  check.municipality_on_change_date = first.check.municipality_on_change_date;

  Files files(inputs, check, io);
  EncodingHint hint;
  bool any_rejected = false;
  std::string out;
  registry::Importer importer(reg, options);
  auto sum = importer.Run(
      (*node)->actor, [&](registry::ImportRecord* r) { return files.Next(r); },
      [&](const registry::ImportBatchReport& b) {
        out = "{\"batch\":" + std::to_string(b.batch) + ",\"file\":" + std::to_string(b.file + 1) +
              ",\"lines\":\"" + std::to_string(b.first_line) + "-" +
              std::to_string(b.last_line) + "\"";
        out += b.skipped ? ",\"skipped\":true}\n"
                         : ",\"applied\":" + std::to_string(b.applied) + "}\n";
        for (size_t i = 0; i < b.results.size(); ++i) {
          if (b.results[i].ok()) continue;
          CheckResult shown;
          shown.errors = b.results[i].errors;
          AppendResultLine("line", b.lines[i], shown, false, &out);
          any_rejected = true;
          hint.See(b.results[i].errors);
        }
        io.out.write(out.data(), static_cast<std::streamsize>(out.size()));
        io.out.flush();
        return io.out ? Status::Ok() : Status::IoError("cannot write results");
      });
  // Sign where the log now ends, whatever happened: committed batches stay committed.
  Status cp = SealLog(**node);
  if (!sum.ok()) return Fail(io, sum.status());
  if (!cp.ok()) return Fail(io, cp);
  io.err << "kakunin import: run " << sum->run << (sum->resumed ? " (resumed)" : "") << ": "
         << sum->batches << " batches (" << sum->skipped_batches << " done before), "
         << sum->applied << " applied, " << sum->duplicates << " duplicates, " << sum->refused
         << " refused\n";
  hint.Print(first, args->Has("encoding"), "import", io);
  return any_rejected ? kExitRejected : kExitOk;
}

}  // namespace kakunin::cli
