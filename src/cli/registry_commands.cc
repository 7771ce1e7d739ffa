// Commands over a node's registry: init, ingest, show, search, history, stats, purge.

#include <fstream>
#include <ostream>

#include "cli/commands.h"
#include "cli/node.h"
#include "cli/options.h"
#include "registry/pipeline.h"
#include "domain/local_gov_code.h"
#include "text/json.h"

namespace kakunin::cli {
namespace {

int Usage(Io& io, const char* command, const std::string& msg) {
  io.err << "kakunin " << command << ": " << msg << "\n"
         << "詳しくは / see: kakunin " << command << " --help\n";
  return kExitUsage;
}

int Fail(Io& io, const char* command, const Status& st) {
  io.err << "kakunin " << command << ": " << st.message() << "\n";
  return kExitUsage;
}

// Parses args; on --help prints `help` + options + `example` and returns 0 in *exit.
std::optional<Args> ParseOrHelp(const std::vector<std::string>& argv,
                                const std::vector<OptionSpec>& specs, const char* command,
                                const char* help, const char* example, Io& io, int* exit) {
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) {
    *exit = Usage(io, command, args.status().message());
    return std::nullopt;
  }
  if (args->help()) {
    io.out << help << "\nOptions:\n" << FormatOptions(specs) << "\nExamples:\n" << example;
    *exit = kExitOk;
    return std::nullopt;
  }
  return std::move(*args);
}

void Field(std::string* out, const char* key, const std::string& value) {
  out->append(",\"");
  out->append(key);
  out->append("\":");
  text::AppendJsonString(value, out);
}

void OptionalField(std::string* out, const char* key, const std::optional<std::string>& v) {
  if (v) Field(out, key, *v);
}

std::string MunicipalityName(const std::string& code) {
  const LocalGovEntry* e = LocalGovTable::Builtin().Find(code);
  return e ? e->FullName() : code;
}

std::string StatusName(store::ResidentStatus s) {
  return s == store::ResidentStatus::kActive ? "active" : "removed";
}

std::string ResidentJson(const store::ResidentRow& r) {
  std::string out = "{\"resident_code\":";
  text::AppendJsonString(r.resident_code, &out);
  Field(&out, "status", StatusName(r.status));
  Field(&out, "municipality_code", r.municipality_code);
  Field(&out, "name", r.name);
  OptionalField(&out, "name_kana", r.name_kana);
  Field(&out, "sex", r.sex);
  Field(&out, "birth_date", r.birth_date);
  Field(&out, "address", r.address);
  return out;
}

std::string SexJa(const std::string& sex) { return sex == "male" ? "男" : "女"; }

std::string WarekiOf(const std::string& iso) {
  auto d = ParseIsoDate(iso).date;
  return d ? d->ToWareki() : iso;
}

OptionSpec PurposeOption() {
  return {"purpose", "ID", "利用事由 / the purpose of this read (required; recorded)"};
}

std::optional<std::string> RequirePurpose(const Args& args, const char* command, Io& io) {
  auto p = args.Get("purpose");
  if (!p || !registry::IsValidPurposeId(*p)) {
    Usage(io, command, "--purpose ID is required (letters a-z, digits, . _ -): every read "
                       "of resident data names its purpose and is recorded");
    return std::nullopt;
  }
  return p;
}

// --- init ---

const char kInitHelp[] =
    "使い方 / usage: kakunin init --data DIR --prefecture NN [--key-file PATH]\n\n"
    "都道府県ノードのデータディレクトリを作成します。\n"
    "Creates a prefecture node in DIR: its configuration (kakunin.toml), its key file (mode\n"
    "0600; it encrypts individual numbers — keep it and its backups apart from the\n"
    "database's), and the registry database. Refuses a directory that already holds a node.\n";

int RunInit(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      DataOption(),
      {"prefecture", "NN", "都道府県コード / prefecture number, 1..47 (19 = 山梨県)"},
      {"key-file", "PATH", "鍵ファイル / key file (default DIR/keys); an existing one is reused"},
  };
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "init", kInitHelp,
                          "  kakunin init --data /var/lib/kakunin --prefecture 19\n", io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "init", io);
  if (!data) return kExitUsage;
  auto pref = args->Get("prefecture");
  if (!pref) return Usage(io, "init", "--prefecture is required");
  int p = 0;
  try {
    p = std::stoi(*pref);
  } catch (...) {
    p = 0;
  }
  if (p < 1 || p > 47 || std::to_string(p) != *pref) {
    return Usage(io, "init", "--prefecture must be 1..47");
  }
  Status st = InitNode(*data, p, args->Get("key-file").value_or(""));
  if (!st.ok()) return Fail(io, "init", st);
  const LocalGovEntry* e = LocalGovTable::Builtin().Prefecture(p);
  io.out << "ノードを作成しました / node created: " << *data << " ("
         << (e ? e->prefecture : std::to_string(p)) << ")\n";
  return kExitOk;
}

// --- ingest ---

const char kIngestHelp[] =
    "使い方 / usage: kakunin ingest --data DIR [--format jsonl|csv] [--encoding utf-8|cp932]\n"
    "                              [--today YYYY-MM-DD] FILE|-\n\n"
    "更新通知を論理チェックし、登録します（状態チェックを含む）。\n"
    "Checks notifications (field and state checks of the contract) and applies them, in\n"
    "order, in durable batches. Prints one JSON object per record once its batch is\n"
    "committed: {\"line\":1,\"ok\":true}, {\"line\":2,\"ok\":true,\"duplicate\":true}, or the errors.\n"
    "A sender may send the same file again: applied notifications are acknowledged as\n"
    "duplicates and nothing is applied twice.\n\n"
    "Exit status: 0 all accepted, 1 some rejected, 2 usage or I/O error.\n";

int RunIngest(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = InputOptionSpecs();
  specs.insert(specs.begin(), DataOption());
  specs.push_back({"batch", "N", "1トランザクションの件数 / notifications per transaction (default 2000)"});
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "ingest", kIngestHelp,
                          "  kakunin ingest --data /var/lib/kakunin notifications.jsonl\n"
                          "  kakunin ingest --data d --format csv --encoding cp932 idou.csv\n",
                          io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "ingest", io);
  if (!data) return kExitUsage;
  auto input = ParseInputOptions(*args, "ingest", io);
  if (!input) return kExitUsage;
  size_t batch_size = 2000;
  if (auto b = args->Get("batch")) {
    try {
      batch_size = std::stoul(*b);
    } catch (...) {
      batch_size = 0;
    }
    if (batch_size < 1 || batch_size > 100000) return Usage(io, "ingest", "--batch must be 1..100000");
  }
  auto node = OpenNode(*data);
  if (!node.ok()) return Fail(io, "ingest", node.status());
  registry::Registry& reg = *(*node)->registry;
  CheckOptions check = reg.check_options();
  if (args->Has("today")) {
    // --today may move "today" back (to replay a day's files as of that day), never forward:
    // future-dated notifications must not enter the registry.
    if (input->check.today > check.today) {
      return Usage(io, "ingest", "--today cannot be after today's date");
    }
    check.today = input->check.today;
  }
  if (args->Has("resident-code-check")) check.resident_code_check = input->check.resident_code_check;

  std::ifstream file;
  std::istream* in = &io.in;
  if (input->path != "-") {
    file.open(input->path, std::ios::binary);
    if (!file) return Fail(io, "ingest", Status::NotFound("cannot open the input file"));
    in = &file;
  }
  NotificationStream stream(*in, input->format, input->encoding, check);
  bool any_rejected = false;
  std::string out;
  Status st = registry::PipelinedIngest(
      reg, (*node)->actor,
      [&](registry::IngestBatch* b) {
        StreamItem item;
        while (b->items.size() < batch_size) {
          if (!stream.Next(&item)) return false;
          b->positions.push_back(item.line);
          b->items.push_back(reg.Prepare(std::move(item.result)));
        }
        return true;
      },
      [&](const registry::IngestBatch& b, const std::vector<registry::ApplyResult>& results) {
        out.clear();
        for (size_t i = 0; i < results.size(); ++i) {
          CheckResult shown;
          shown.errors = results[i].errors;
          AppendResultLine("line", b.positions[i], shown, results[i].duplicate, &out);
          any_rejected |= !results[i].ok();
        }
        // Results are printed only after their batch is durable.
        io.out.write(out.data(), static_cast<std::streamsize>(out.size()));
        io.out.flush();
        return io.out ? Status::Ok() : Status::IoError("cannot write results");
      });
  if (!st.ok()) return Fail(io, "ingest", st);
  // Sign where the log now ends.
  Status cp = SealLog(**node);
  if (!cp.ok()) return Fail(io, "ingest", cp);
  if (!stream.status().ok()) return Fail(io, "ingest", stream.status());
  return any_rejected ? kExitRejected : kExitOk;
}

// --- show / history ---

void PrintResidentHuman(const registry::ResidentView& v, std::ostream& o) {
  const auto& r = v.row;
  o << "住民票コード / resident code   " << r.resident_code << "\n"
    << "状態 / status                 "
    << (r.status == store::ResidentStatus::kActive ? "記載 (active)" : "消除 (removed)") << "\n"
    << "氏名 / name                   " << r.name << "\n";
  if (r.name_kana) o << "氏名の振り仮名 / kana         " << *r.name_kana << "\n";
  if (v.former_surname) o << "旧氏 / former surname         " << *v.former_surname << "\n";
  if (v.alias) o << "通称 / alias                  " << *v.alias << "\n";
  o << "生年月日 / birth date         " << WarekiOf(r.birth_date) << " (" << r.birth_date << ")\n"
    << "男女の別 / sex                " << SexJa(r.sex) << " (" << r.sex << ")\n"
    << "住所 / address                " << r.address << "\n"
    << "個人番号 / individual number  " << v.individual_number << "\n"
    << "市区町村 / municipality       " << r.municipality_code << " "
    << MunicipalityName(r.municipality_code) << "\n"
    << "異動事由 / last change        "
    << (ParseChangeReason(v.change_reason) ? ChangeReasonJapanese(*ParseChangeReason(v.change_reason))
                                           : std::string_view())
    << " (" << v.change_reason << ") " << WarekiOf(v.change_date)
    << " (" << v.change_date << ")\n";
}

const char kShowHelp[] =
    "使い方 / usage: kakunin show --data DIR [--json] [--include-removed] RESIDENT_CODE\n\n"
    "住民票コードで本人確認情報を表示します（旧コードは現在の記録に辿ります）。\n"
    "Shows one resident's current record. An old resident code leads to the current one.\n"
    "Removed residents are shown only with --include-removed. Exit 0 found, 1 not found.\n";

int RunShow(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {DataOption(), PurposeOption(),
                                   {"json", "", "JSONで出力 / print JSON"},
                                   {"include-removed", "", "消除者も対象 / include removed residents"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "show", kShowHelp,
                          "  kakunin show --data /var/lib/kakunin --purpose disclosure 24727059608\n",
                          io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "show", io);
  if (!data) return kExitUsage;
  auto purpose = RequirePurpose(*args, "show", io);
  if (!purpose) return kExitUsage;
  if (args->positional().size() != 1) return Usage(io, "show", "give one RESIDENT_CODE");
  auto node = OpenNode(*data);
  if (!node.ok()) return Fail(io, "show", node.status());
  auto reader = (*node)->store->OpenReader();
  if (!reader.ok()) return Fail(io, "show", reader.status());
  auto view = (*node)->registry->Show(**reader, args->positional()[0], (*node)->actor, *purpose,
                                      args->Has("include-removed"));
  if (!view.ok()) return Fail(io, "show", view.status());
  (void)SealLog(**node);
  if (!*view) {
    io.err << "kakunin show: 該当なし / not found\n";
    return kExitRejected;
  }
  // Only the purpose's fields are shown.
  registry::Minimise(*(*node)->purposes->Find(*purpose), &**view);
  const auto& v = **view;
  if (args->Has("json")) {
    std::string out = ResidentJson(v.row);
    OptionalField(&out, "former_surname", v.former_surname);
    OptionalField(&out, "alias", v.alias);
    Field(&out, "individual_number", v.individual_number);
    Field(&out, "change_reason", v.change_reason);
    Field(&out, "change_date", v.change_date);
    io.out << out << "}\n";
  } else {
    PrintResidentHuman(v, io.out);
  }
  return kExitOk;
}

const char kHistoryHelp[] =
    "使い方 / usage: kakunin history --data DIR [--json] [--include-removed] RESIDENT_CODE\n\n"
    "本人確認情報の履歴（新しい順）を表示します。\n"
    "Shows every version of one resident's record, newest first: what changed, why, when,\n"
    "and which municipality sent it. Removed residents only with --include-removed.\n";

int RunHistory(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {DataOption(), PurposeOption(),
                                   {"json", "", "JSONで出力 / print JSON"},
                                   {"include-removed", "", "消除者も対象 / include removed residents"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "history", kHistoryHelp,
                          "  kakunin history --data /var/lib/kakunin --purpose disclosure "
                          "24727059608\n",
                          io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "history", io);
  if (!data) return kExitUsage;
  auto purpose = RequirePurpose(*args, "history", io);
  if (!purpose) return kExitUsage;
  if (args->positional().size() != 1) return Usage(io, "history", "give one RESIDENT_CODE");
  auto node = OpenNode(*data);
  if (!node.ok()) return Fail(io, "history", node.status());
  auto reader = (*node)->store->OpenReader();
  if (!reader.ok()) return Fail(io, "history", reader.status());
  auto history = (*node)->registry->History(**reader, args->positional()[0], (*node)->actor,
                                            *purpose, args->Has("include-removed"));
  if (!history.ok()) return Fail(io, "history", history.status());
  (void)SealLog(**node);
  if (!*history) {
    io.err << "kakunin history: 該当なし / not found\n";
    return kExitRejected;
  }
  for (auto& v : **history) registry::Minimise(*(*node)->purposes->Find(*purpose), &v);
  for (const auto& v : **history) {
    const auto& r = v.row;
    if (args->Has("json")) {
      std::string out = "{\"resident_code\":";
      text::AppendJsonString(r.resident_code, &out);
      Field(&out, "municipality_code", r.municipality_code);
      out += ",\"sequence\":" + std::to_string(r.sequence);
      Field(&out, "kind", r.kind);
      Field(&out, "reason", r.reason);
      Field(&out, "change_date", r.change_date);
      Field(&out, "name", r.name);
      OptionalField(&out, "name_kana", r.name_kana);
      OptionalField(&out, "former_surname", r.former_surname);
      OptionalField(&out, "alias", r.alias);
      Field(&out, "sex", r.sex);
      Field(&out, "birth_date", r.birth_date);
      Field(&out, "address", r.address);
      Field(&out, "individual_number", v.individual_number);
      OptionalField(&out, "new_resident_code", r.new_resident_code);
      Field(&out, "state", r.superseded_at ? "superseded" : "latest");
      io.out << out << "}\n";
    } else {
      auto kind = ParseNotificationKind(r.kind);
      auto reason = ParseChangeReason(r.reason);
      io.out << WarekiOf(r.change_date) << " (" << r.change_date << ")  "
             << (kind ? NotificationKindJapanese(*kind) : "") << " / "
             << (reason ? ChangeReasonJapanese(*reason) : "") << " (" << r.reason << ")  "
             << MunicipalityName(r.municipality_code) << " #" << r.sequence
             << (r.superseded_at ? "  [履歴 / superseded]" : "") << "\n"
             << "    " << r.resident_code << "  " << r.name << "  " << r.address << "\n";
    }
  }
  return kExitOk;
}

// --- search ---

const char kSearchHelp[] =
    "使い方 / usage: kakunin search --data DIR [--kana K] [--name N] [--birth-date D]\n"
    "                              [--sex male|female] [--address A] [--number N]\n"
    "                              [--include-removed] [--limit N] [--json]\n\n"
    "4情報（氏名・振り仮名、生年月日、性別、住所）または個人番号で検索します。\n"
    "Finds residents by the 4 information or by individual number. Kana, name and address\n"
    "match by prefix through search keys (ﾔﾏﾀﾞ ﾀﾛｳ, やまだたろう and ヤマダ　タロウ are one; 髙橋\n"
    "finds 高橋); birth date and sex match exactly. Every criterion given must hold. At least\n"
    "one of kana, name, address or birth date is required. Results are ranked (closest key\n"
    "first) and capped; a note says when they were cut.\n";

int RunSearch(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      DataOption(),
      PurposeOption(),
      {"kana", "KANA", "氏名の振り仮名（前方一致）/ kana, prefix"},
      {"name", "NAME", "氏名（前方一致）/ name, prefix"},
      {"birth-date", "YYYY-MM-DD", "生年月日 / birth date"},
      {"sex", "male|female", "男女の別 / sex"},
      {"address", "ADDRESS", "住所（前方一致）/ address, prefix"},
      {"number", "NUMBER", "個人番号 / individual number (alone)"},
      {"include-removed", "", "消除者も対象 / include removed residents"},
      {"limit", "N", "上限件数 / at most N results (default 20, max 1000)"},
      {"json", "", "JSONで出力 / one JSON object per record"},
  };
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "search", kSearchHelp,
                          "  kakunin search --data d --purpose disclosure --kana 'ﾔﾏﾀﾞ ﾀﾛｳ' "
                          "--birth-date 1980-05-01\n"
                          "  kakunin search --data d --purpose disclosure --name 髙橋 "
                          "--address 山梨県甲府市\n",
                          io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "search", io);
  if (!data) return kExitUsage;
  auto purpose = RequirePurpose(*args, "search", io);
  if (!purpose) return kExitUsage;
  if (!args->positional().empty()) return Usage(io, "search", "unexpected argument");
  registry::SearchRequest req;
  req.kana = args->Get("kana");
  req.name = args->Get("name");
  req.birth_date = args->Get("birth-date");
  req.sex = args->Get("sex");
  req.address = args->Get("address");
  req.number = args->Get("number");
  req.include_removed = args->Has("include-removed");
  if (auto l = args->Get("limit")) {
    try {
      req.limit = std::stoi(*l);
    } catch (...) {
      return Usage(io, "search", "--limit must be a number");
    }
  }
  auto node = OpenNode(*data);
  if (!node.ok()) return Fail(io, "search", node.status());
  auto reader = (*node)->store->OpenReader();
  if (!reader.ok()) return Fail(io, "search", reader.status());
  auto found = (*node)->registry->Search(**reader, req, (*node)->actor, *purpose);
  (void)SealLog(**node);
  if (!found.ok()) {
    if (found.status().code() == StatusCode::kInvalidArgument) {
      return Usage(io, "search", found.status().message());
    }
    return Fail(io, "search", found.status());
  }
  bool json = args->Has("json");
  for (auto& r : found->rows) registry::Minimise(*(*node)->purposes->Find(*purpose), &r);
  for (const auto& r : found->rows) {
    if (json) {
      io.out << ResidentJson(r) << "}\n";
    } else {
      io.out << r.resident_code << "  " << r.name << "  " << r.name_kana.value_or("") << "  "
             << WarekiOf(r.birth_date) << "  " << SexJa(r.sex) << "  " << r.address
             << (r.status == store::ResidentStatus::kRemoved ? "  [消除 / removed]" : "") << "\n";
    }
  }
  std::ostream& note = json ? io.err : io.out;
  note << found->rows.size() << "件 / " << found->rows.size() << " found";
  if (found->cut) note << "（上限で打ち切り / cut at the limit; narrow the search）";
  note << "\n";
  return found->rows.empty() ? kExitRejected : kExitOk;
}

// --- provide / provisions ---

const char kProvideHelp[] =
    "使い方 / usage: kakunin provide --data DIR --purpose ID --recipient NAME --kind KIND\n"
    "                               --items a,b,c [--function lookup|search|batch] CODE...\n\n"
    "本人確認情報を提供し、提供・移転の記録を残します。\n"
    "Provides records to a recipient with only the items named (e.g. name,address without the\n"
    "individual number), writing one provision record per resident (提供年月日, 機能区分, 利用事由,\n"
    "提供事務区分, whether the individual number went out, 提供元, 提供先, items) and the operation-\n"
    "log entry in one transaction before printing anything. One JSON object per code asked.\n"
    "Items: resident_code individual_number name name_kana former_surname alias sex birth_date\n"
    "address municipality_code.\n";

int RunProvide(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      DataOption(), PurposeOption(),
      {"recipient", "NAME", "提供先 / the recipient (body or department)"},
      {"kind", "KIND", "提供事務区分 / the kind of provision (e.g. 別表第六の一の項)"},
      {"items", "LIST", "提供項目 / comma-separated items"},
      {"function", "F", "機能区分 / lookup (default), search or batch"},
  };
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "provide", kProvideHelp,
                          "  kakunin provide --data d --purpose pension --recipient 教育委員会 "
                          "--kind 別表第六 --items name,address 24727059608\n",
                          io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "provide", io);
  if (!data) return kExitUsage;
  auto purpose = RequirePurpose(*args, "provide", io);
  if (!purpose) return kExitUsage;
  registry::ProvisionRequest req;
  req.purpose = *purpose;
  req.recipient = args->Get("recipient").value_or("");
  req.provision_kind = args->Get("kind").value_or("");
  req.function = args->Get("function").value_or("lookup");
  std::string items = args->Get("items").value_or("");
  for (size_t start = 0; start <= items.size() && !items.empty();) {
    size_t comma = items.find(',', start);
    req.items.push_back(items.substr(start, comma == std::string::npos ? std::string::npos
                                                                        : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  req.resident_codes = args->positional();
  if (req.provision_kind.empty()) return Usage(io, "provide", "--kind is required");
  auto node = OpenNode(*data);
  if (!node.ok()) return Fail(io, "provide", node.status());
  auto reader = (*node)->store->OpenReader();
  if (!reader.ok()) return Fail(io, "provide", reader.status());
  auto out = (*node)->registry->Provide(**reader, req, (*node)->actor);
  if (!out.ok()) {
    if (out.status().code() == StatusCode::kInvalidArgument) {
      return Usage(io, "provide", out.status().message());
    }
    return Fail(io, "provide", out.status());
  }
  (void)SealLog(**node);
  bool all = true;
  for (const auto& r : *out) {
    std::string line = "{\"resident_code\":";
    text::AppendJsonString(r.resident_code, &line);
    line += r.found ? ",\"found\":true" : ",\"found\":false";
    for (const auto& [k, v] : r.items) {
      if (k == "resident_code") continue;
      Field(&line, k.c_str(), v);
    }
    io.out << line << "}\n";
    all &= r.found;
  }
  return all ? kExitOk : kExitRejected;
}

const char kProvisionsHelp[] =
    "使い方 / usage: kakunin provisions --data DIR --purpose ID [--json] RESIDENT_CODE\n\n"
    "提供状況（誰に提供されたか）を表示します（開示請求用）。\n"
    "Lists every provision of one resident's record in the retention window (7 years): the\n"
    "columns a disclosure of 提供状況 shows. Earlier resident codes are included.\n";

int RunProvisions(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {DataOption(), PurposeOption(),
                                   {"json", "", "JSONで出力 / print JSON"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "provisions", kProvisionsHelp,
                          "  kakunin provisions --data d --purpose disclosure 24727059608\n", io,
                          &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "provisions", io);
  if (!data) return kExitUsage;
  auto purpose = RequirePurpose(*args, "provisions", io);
  if (!purpose) return kExitUsage;
  if (args->positional().size() != 1) return Usage(io, "provisions", "give one RESIDENT_CODE");
  auto node = OpenNode(*data);
  if (!node.ok()) return Fail(io, "provisions", node.status());
  auto reader = (*node)->store->OpenReader();
  if (!reader.ok()) return Fail(io, "provisions", reader.status());
  auto rows = (*node)->registry->ProvisionsOf(**reader, args->positional()[0], (*node)->actor,
                                              *purpose);
  if (!rows.ok()) return Fail(io, "provisions", rows.status());
  (void)SealLog(**node);
  for (const auto& p : *rows) {
    Date day = JstDate(p.provided_at);
    if (args->Has("json")) {
      std::string line = "{\"resident_code\":";
      text::AppendJsonString(p.resident_code, &line);
      Field(&line, "provided_on", day.ToIso());
      Field(&line, "function", p.function);
      Field(&line, "purpose", p.purpose);
      Field(&line, "provision_kind", p.provision_kind);
      line += std::string(",\"number_provided\":") + (p.number_provided ? "true" : "false");
      Field(&line, "source", p.source);
      Field(&line, "recipient", p.recipient);
      Field(&line, "items", p.items);
      io.out << line << "}\n";
    } else {
      io.out << day.ToWareki() << " (" << day.ToIso() << ")  " << p.function << "  " << p.purpose
             << "  " << p.provision_kind << "  → " << p.recipient << "  [" << p.items << "]"
             << (p.number_provided ? "  個人番号あり / with individual number" : "") << "\n";
    }
  }
  return kExitOk;
}

// --- stats / purge ---

const char kStatsHelp[] =
    "使い方 / usage: kakunin stats --data DIR [--json]\n\n"
    "登録件数などの統計を表示します（個人情報を含みません）。\n"
    "Counts: active and removed residents, versions, code changes, senders, applied\n"
    "notifications, changes waiting for the national node. No personal data.\n";

int RunStats(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {DataOption(), {"json", "", "JSONで出力 / print JSON"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "stats", kStatsHelp,
                          "  kakunin stats --data /var/lib/kakunin --json\n", io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "stats", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(*data);
  if (!node.ok()) return Fail(io, "stats", node.status());
  auto reader = (*node)->store->OpenReader();
  if (!reader.ok()) return Fail(io, "stats", reader.status());
  auto s = (*reader)->Stats();
  if (!s.ok()) return Fail(io, "stats", s.status());
  struct Item {
    const char* key;
    const char* label;
    int64_t value;
  };
  const Item items[] = {
      {"active", "記載者 / active residents", s->active},
      {"removed", "消除者 / removed residents", s->removed},
      {"versions", "記録の版 / record versions", s->versions},
      {"superseded_versions", "履歴 / superseded versions", s->superseded_versions},
      {"code_changes", "住民票コード変更 / resident-code changes", s->code_changes},
      {"senders", "通知元 / senders", s->senders},
      {"applied_notifications", "適用済み通知 / applied notifications", s->applied_notifications},
      {"outbox_pending", "全国サーバ未送信 / waiting for the national node", s->outbox_pending},
  };
  if (args->Has("json")) {
    std::string out = "{";
    for (const auto& i : items) {
      if (out.size() > 1) out += ",";
      out += "\"" + std::string(i.key) + "\":" + std::to_string(i.value);
    }
    io.out << out << "}\n";
  } else {
    for (const auto& i : items) io.out << i.label << ": " << i.value << "\n";
  }
  return kExitOk;
}

const char kPurgeHelp[] =
    "使い方 / usage: kakunin purge --data DIR [--dry-run] [--as-of YYYY-MM-DD] [--json]\n\n"
    "保存期間を経過した履歴と消除者を消去します。\n"
    "Erases what the law no longer allows the node to keep: superseded versions whose\n"
    "retention (default 150 years after the next notification for that person) has ended,\n"
    "and removed residents with every version (150 years after the removal). Periods are\n"
    "set in kakunin.toml [retention]. Reports counts by category, never personal data.\n";

int RunPurge(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {DataOption(),
                                   {"dry-run", "", "数えるだけ / count only, erase nothing"},
                                   {"as-of", "YYYY-MM-DD", "基準日 / the date (default today, JST)"},
                                   {"json", "", "JSONで出力 / print JSON"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "purge", kPurgeHelp,
                          "  kakunin purge --data /var/lib/kakunin --dry-run\n", io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "purge", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(*data);
  if (!node.ok()) return Fail(io, "purge", node.status());
  Date as_of = (*node)->clock.TodayJst();
  if (auto a = args->Get("as-of")) {
    auto d = ParseIsoDate(*a).date;
    if (!d) return Usage(io, "purge", "--as-of must be YYYY-MM-DD");
    as_of = *d;
  }
  bool dry = args->Has("dry-run");
  auto c = (*node)->registry->Purge(as_of, dry, (*node)->actor);
  if (!c.ok()) return Fail(io, "purge", c.status());
  (void)SealLog(**node);
  if (args->Has("json")) {
    io.out << "{\"as_of\":\"" << as_of.ToIso() << "\",\"dry_run\":" << (dry ? "true" : "false")
           << ",\"superseded_versions\":" << c->superseded_versions
           << ",\"removed_residents\":" << c->removed_residents
           << ",\"removed_resident_versions\":" << c->removed_resident_versions
           << ",\"audit_payloads\":" << c->audit_payloads << ",\"provisions\":" << c->provisions
           << "}\n";
  } else {
    io.out << (dry ? "消去対象（試行）/ would erase" : "消去しました / erased") << " (as of "
           << as_of.ToIso() << "):\n"
           << "  履歴 / superseded versions: " << c->superseded_versions << "\n"
           << "  消除者 / removed residents: " << c->removed_residents << " ("
           << c->removed_resident_versions << " versions)\n"
           << "  操作履歴の内容 / operation-log payloads: " << c->audit_payloads
           << " (leaf hashes kept)\n"
           << "  提供の記録 / provision records: " << c->provisions << "\n";
  }
  return kExitOk;
}

}  // namespace

int RunInitCommand(const std::vector<std::string>& a, Io& io) { return RunInit(a, io); }
int RunIngestCommand(const std::vector<std::string>& a, Io& io) { return RunIngest(a, io); }
int RunShowCommand(const std::vector<std::string>& a, Io& io) { return RunShow(a, io); }
int RunSearchCommand(const std::vector<std::string>& a, Io& io) { return RunSearch(a, io); }
int RunHistoryCommand(const std::vector<std::string>& a, Io& io) { return RunHistory(a, io); }
int RunStatsCommand(const std::vector<std::string>& a, Io& io) { return RunStats(a, io); }
int RunPurgeCommand(const std::vector<std::string>& a, Io& io) { return RunPurge(a, io); }
int RunProvideCommand(const std::vector<std::string>& a, Io& io) { return RunProvide(a, io); }
int RunProvisionsCommand(const std::vector<std::string>& a, Io& io) {
  return RunProvisions(a, io);
}

}  // namespace kakunin::cli
