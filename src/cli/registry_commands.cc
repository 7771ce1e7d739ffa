// Commands that administer a node's registry: init, ingest, stats, purge. None prints a
// resident's data: reads of resident data go through the console or the API, by an operator
// nominated for the purpose (DESIGN §5).

#include <filesystem>
#include <fstream>
#include <ostream>
#include <vector>

#include "cli/commands.h"
#include "cli/stats_digest.h"
#include "cli/node.h"
#include "cli/options.h"
#include "registry/pipeline.h"
#include "domain/local_gov_code.h"

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

// --- init ---

const char kInitHelp[] =
    "使い方 / usage: kakunin init --data DIR (--prefecture NN | --role national)\n"
    "                    [--key-file PATH] [--database-url URL]\n\n"
    "都道府県ノード（または全国ノード）のデータディレクトリを作成します。\n"
    "Creates a prefecture node in DIR: its configuration (kakunin.toml), its key file (mode\n"
    "0600; it encrypts individual numbers — keep it and its backups apart from the\n"
    "database's), and the registry database. Refuses a directory that already holds a node.\n"
    "With --role national, a national node (全国サーバ) for the whole country instead: it\n"
    "takes forwarded changes from registered prefecture nodes (clients --kind prefecture).\n";

int RunInit(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      DataOption(),
      {"prefecture", "NN", "都道府県コード / prefecture number, 1..47 (19 = 山梨県)"},
      {"role", "ROLE", "prefecture (default) | national"},
      {"key-file", "PATH", "鍵ファイル / key file (default DIR/keys); an existing one is reused"},
      {"database-url", "URL",
       "PostgreSQL の接続先 / the registry on PostgreSQL (a libpq URL; default: SQLite in DIR)"},
  };
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "init", kInitHelp,
                          "  kakunin init --data /var/lib/kakunin --prefecture 19\n", io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "init", io);
  if (!data) return kExitUsage;
  const std::string role = args->Get("role").value_or("prefecture");
  if (role != "prefecture" && role != "national") {
    return Usage(io, "init", "--role must be prefecture or national");
  }
  auto pref = args->Get("prefecture");
  if (role == "national") {
    if (pref) return Usage(io, "init", "a national node has no --prefecture");
    // Prefecture 0 makes the national node (app/node.cc).
    Status st = InitNode(io, *data, 0, args->Get("key-file").value_or(""),
                         args->Get("database-url").value_or(""));
    if (!st.ok()) return Fail(io, "init", st);
    io.out << "ノードを作成しました / node created: " << *data << " (全国 / national)\n";
    return kExitOk;
  }
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
  Status st = InitNode(io, *data, p, args->Get("key-file").value_or(""),
                       args->Get("database-url").value_or(""));
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
  auto node = OpenNode(io, *data);
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
  check.municipality_on_change_date = input->check.municipality_on_change_date;

  std::ifstream file;
  std::istream* in = &io.in;
  if (input->path != "-") {
    file.open(input->path, std::ios::binary);
    if (!file) return Fail(io, "ingest", Status::NotFound("cannot open the input file"));
    in = &file;
  }
  NotificationStream stream(*in, input->format, input->encoding, check);
  bool any_rejected = false;
  EncodingHint hint;
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
          hint.See(results[i].errors);
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
  hint.Print(*input, args->Has("encoding"), "ingest", io);
  return any_rejected ? kExitRejected : kExitOk;
}

// --- stats / purge ---

const char kStatsHelp[] =
    "使い方 / usage: kakunin stats --data DIR [--json]\n\n"
    "登録件数などの統計を表示します（個人情報を含みません）。\n"
    "Counts: active and removed residents, versions, code changes, senders, applied\n"
    "notifications, changes waiting for the national node. No personal data.\n"
    "--digest prints, per prefecture, the count of active residents and a SHA-256 digest of\n"
    "their current records, equal on two nodes holding the same records (a prefecture node and\n"
    "the national node): `prefecture 19 residents N digest HEX`. A prefecture with a single\n"
    "resident shows `digest withheld`: a hash of one record could confirm guesses about it.\n";

int RunStats(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {DataOption(), {"json", "", "JSONで出力 / print JSON"}};
  specs.push_back({"digest", "", "都道府県別の照合値 / per-prefecture digest of current records"});
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "stats", kStatsHelp,
                          "  kakunin stats --data /var/lib/kakunin --json\n", io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "stats", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, "stats", node.status());
  if (args->Has("digest")) return PrintStatsDigest(**node, args->Has("json"), io);
  auto s = (*node)->reports->Stats();
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
  // The link (README "The link"): counts and ages only.
  std::vector<Item> link;
  const int64_t now = (*node)->clock.NowMicros();
  if (auto ack = (*node)->outbox->Acknowledged(); ack.ok() && *ack > 0) {
    link.push_back({"link_acknowledged", "全国サーバ確認済み / acknowledged (outbox id)", *ack});
  }
  if (auto b = (*node)->outbox->Backlog(); b.ok() && (b->pending > 0 || b->delivered > 0)) {
    link.push_back({"outbox_delivered", "送信済み保持 / delivered, kept", b->delivered});
    link.push_back({"outbox_oldest_pending_seconds", "最古の未送信 / oldest waiting (s)",
                    b->oldest_pending_at > 0 ? (now - b->oldest_pending_at) / 1000000 : 0});
  }
  if ((*node)->national) {
    auto received = (*node)->national->Received();
    if (!received.ok()) return Fail(io, "stats", received.status());
    int64_t total = 0;
    for (const auto& [pref, seq] : *received) total += seq;
    link.push_back({"link_prefectures", "受信元都道府県 / prefectures forwarding",
                    static_cast<int64_t>(received->size())});
    link.push_back({"link_received", "受信済み / received (sum of the points)", total});
  }
  if (args->Has("json")) {
    std::string out = "{";
    for (const auto& i : items) {
      if (out.size() > 1) out += ",";
      out += "\"" + std::string(i.key) + "\":" + std::to_string(i.value);
    }
    for (const auto& i : link) out += ",\"" + std::string(i.key) + "\":" + std::to_string(i.value);
    io.out << out << "}\n";
  } else {
    for (const auto& i : items) io.out << i.label << ": " << i.value << "\n";
    for (const auto& i : link) io.out << i.label << ": " << i.value << "\n";
  }
  return kExitOk;
}

const char kPurgeHelp[] =
    "使い方 / usage: kakunin purge --data DIR [--dry-run] [--as-of YYYY-MM-DD] [--json]\n\n"
    "保存期間を経過した履歴と消除者を消去します。\n"
    "Erases what the law no longer allows the node to keep: superseded versions whose\n"
    "retention (default 150 years after the next notification for that person) has ended,\n"
    "and removed residents with every version (150 years after the removal). Periods are\n"
    "set in kakunin.toml [retention]. Reports counts by category, never personal data.\n"
    "A purge dated more than 7 days after the last purge's date (before any purge, the day the\n"
    "operation log began) is refused: a clock set ahead would erase what the law still keeps.\n"
    "After a real pause, give the date again with --confirm-date.\n";

int RunPurge(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {DataOption(),
                                   {"dry-run", "", "数えるだけ / count only, erase nothing"},
                                   {"as-of", "YYYY-MM-DD", "基準日 / the date (default today, JST)"},
                                   {"confirm-date", "YYYY-MM-DD",
                                    "基準日の確認 / the date again, after a long standstill"},
                                   {"json", "", "JSONで出力 / print JSON"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "purge", kPurgeHelp,
                          "  kakunin purge --data /var/lib/kakunin --dry-run\n", io, &exit);
  if (!args) return exit;
  auto data = RequireData(*args, "purge", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, "purge", node.status());
  Date as_of = (*node)->clock.TodayJst();
  if (auto a = args->Get("as-of")) {
    auto d = ParseIsoDate(*a).date;
    if (!d) return Usage(io, "purge", "--as-of must be YYYY-MM-DD");
    as_of = *d;
  }
  bool dry = args->Has("dry-run");
  if (!dry) {
    std::optional<Date> confirmed;
    if (auto a = args->Get("confirm-date")) {
      confirmed = ParseIsoDate(*a).date;
      if (!confirmed) return Usage(io, "purge", "--confirm-date must be YYYY-MM-DD");
    }
    Status clock = (*node)->registry->CheckPurgeClock(as_of, confirmed);
    if (!clock.ok()) return Fail(io, "purge", clock);
  }
  auto c = (*node)->registry->Purge(as_of, dry, (*node)->actor);
  if (!c.ok()) return Fail(io, "purge", c.status());
  // A restored node may serve again once purged as of today (registry/backup.h RetentionDue).
  if (!dry && as_of == (*node)->clock.TodayJst() && (*node)->backup) {
    Status cleared = (*node)->backup->ClearRetentionDue();
    if (!cleared.ok()) return Fail(io, "purge", cleared);
  }
  (void)SealLog(**node);
  if (args->Has("json")) {
    io.out << "{\"as_of\":\"" << as_of.ToIso() << "\",\"dry_run\":" << (dry ? "true" : "false")
           << ",\"superseded_versions\":" << c->superseded_versions
           << ",\"removed_residents\":" << c->removed_residents
           << ",\"removed_resident_versions\":" << c->removed_resident_versions
           << ",\"audit_payloads\":" << c->audit_payloads << ",\"provisions\":" << c->provisions
           << ",\"received_changes\":" << c->received_changes
           << ",\"disclosures\":" << c->disclosures
           << ",\"scrub_pending\":" << (c->scrub_pending ? "true" : "false") << "}\n";
  } else {
    io.out << (dry ? "消去対象（試行）/ would erase" : "消去しました / erased") << " (as of "
           << as_of.ToIso() << "):\n"
           << "  履歴 / superseded versions: " << c->superseded_versions << "\n"
           << "  消除者 / removed residents: " << c->removed_residents << " ("
           << c->removed_resident_versions << " versions)\n"
           << "  操作履歴の内容 / operation-log payloads: " << c->audit_payloads
           << " (leaf hashes kept)\n"
           << "  提供の記録 / provision records: " << c->provisions << "\n";
    if (c->disclosures > 0) {
      io.out << "  開示請求・訂正等の申出・帳票の記録 / disclosure, correction and printout rows: "
             << c->disclosures << "\n";
    }
    if (c->received_changes > 0) {
      io.out << "  受信した変更の照合値 / MACs of received changes: " << c->received_changes << "\n";
    }
    if (c->scrub_pending && (*node)->config.database_kind == "sqlite") {
      io.out << "  注意 / note: 読取り中の処理があるため、消去した内容の一部がデータベースのファイル"
                "（先行書込みログ）に残っています。稼働中のノードが定期的に消去を再試行し、読取りが"
                "終わると消えます（次の kakunin purge でも）/ readers kept the write-ahead log from "
                "being cut back: some erased bytes stay in the database files until the serving "
                "node's periodic retry (or the next purge) finishes the scrub once they are gone\n";
    } else if (c->scrub_pending) {
      io.out << "  注意 / note: 消去した値がまだ PostgreSQL の統計情報（pg_statistic）に残っています"
                "（ANALYZE が終わっていません）。稼働中のノードが定期的に再試行します（次の kakunin "
                "purge でも）。docs/postgresql.md の「Erasure」も参照 / the planner's statistics "
                "(pg_statistic) may still hold erased values: ANALYZE of the purged tables has not "
                "finished; the serving node retries it (as does the next purge); see "
                "docs/postgresql.md, Erasure\n";
    }
  }
  // A database the node moved away from (kakunin migrate-store keeps it in the data directory)
  // still holds everything this purge erased (found in review): said on every purge until it goes.
  if (!dry) {
    std::error_code ec;
    const std::filesystem::path old_db = std::filesystem::path(*data) / "registry.db";
    const bool moved = (*node)->config.database_kind != "sqlite" ||
                       !std::filesystem::equivalent(old_db, (*node)->config.database_path, ec);
    if (moved && std::filesystem::exists(old_db, ec)) {
      io.err << "kakunin purge: 注意 / warning: " << old_db.string()
             << " はこのノードの移行前のデータベースで、消去した記録をまだ保持しています。"
                "不要になったら消去してください / is the database this node moved from and still "
                "holds what was erased here: erase it once it is no longer needed\n";
    }
  }
  return kExitOk;
}

}  // namespace

int RunInitCommand(const std::vector<std::string>& a, Io& io) { return RunInit(a, io); }
int RunIngestCommand(const std::vector<std::string>& a, Io& io) { return RunIngest(a, io); }
int RunStatsCommand(const std::vector<std::string>& a, Io& io) { return RunStats(a, io); }

// --- purposes ---

const char kPurposesHelp[] =
    "使い方 / usage: kakunin purposes [--data DIR] [--json]\n\n"
    "利用事由の一覧（根拠、種別、提供先、項目、操作者が使えるか）を表示します。\n"
    "Lists the purpose catalogue (利用事由): id, title, legal basis, kind, recipients, fields, and\n"
    "whether the prefecture's operators may be nominated for it. Every read names one of these.\n"
    "With --data, the node's own catalogue; without, the sample compiled in.\n";

int RunPurposesCommand(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {DataOption(), {"json", "", "JSONで出力 / print JSON"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "purposes", kPurposesHelp,
                          "  kakunin purposes --data /var/lib/kakunin\n", io, &exit);
  if (!args) return exit;
  std::unique_ptr<Node> node;
  std::optional<registry::PurposeCatalogue> sample;
  const registry::PurposeCatalogue* catalogue = nullptr;
  if (auto data = args->Get("data")) {
    auto opened = OpenNode(io, *data);
    if (!opened.ok()) return Fail(io, "purposes", opened.status());
    node = std::move(*opened);
    catalogue = node->purposes.get();
  } else {
    auto parsed = registry::PurposeCatalogue::Parse(registry::SamplePurposeCatalogue());
    if (!parsed.ok()) return Fail(io, "purposes", parsed.status());
    sample = std::move(*parsed);
    catalogue = &*sample;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string o;
    for (const auto& x : v) o += (o.empty() ? "" : ", ") + x;
    return o;
  };
  for (const registry::Purpose& p : catalogue->purposes()) {
    if (args->Has("json")) {
      std::string o = "{\"id\":";
      text::AppendJsonString(p.id, &o);
      o += ",\"title\":";
      text::AppendJsonString(p.title, &o);
      o += ",\"legal_basis\":";
      text::AppendJsonString(p.legal_basis, &o);
      o += ",\"kind\":";
      text::AppendJsonString(registry::PurposeKindName(p.kind), &o);
      for (const auto& [key, list] : {std::pair<const char*, const std::vector<std::string>*>{
                                           "recipients", &p.recipients},
                                       {"fields", &p.fields}}) {
        o += std::string(",\"") + key + "\":[";
        for (size_t i = 0; i < list->size(); ++i) {
          if (i > 0) o += ",";
          text::AppendJsonString((*list)[i], &o);
        }
        o += "]";
      }
      o += std::string(",\"open_to_operators\":") + (p.OpenToOperators() ? "true" : "false") +
           ",\"disclosure_desk\":" + (p.OpenToDisclosureDesk() ? "true" : "false") +
           ",\"open_to_systems\":" + (p.OpenToSystems() ? "true" : "false") + "}\n";
      io.out << o;
    } else {
      io.out << p.id << "  " << p.title << "\n"
             << "    根拠 / legal basis: " << p.legal_basis << "\n"
             << "    種別 / kind: " << registry::PurposeKindName(p.kind) << "\n"
             << "    提供先 / recipients: " << join(p.recipients) << "\n"
             << "    項目 / fields: " << join(p.fields) << "\n"
             << "    操作者 / operators: "
             << (p.OpenToOperators()        ? "指定できる / may be nominated"
                 : p.OpenToDisclosureDesk() ? "開示窓口に限り指定できる / the disclosure desk only"
                                            : "不可 / never")
             << "\n"
             << "    システム / systems: "
             << (p.OpenToSystems() ? "提供先のシステムに限り可 / its recipients' registered systems"
                                   : "不可 / never")
             << "\n";
    }
  }
  return kExitOk;
}
int RunPurgeCommand(const std::vector<std::string>& a, Io& io) { return RunPurge(a, io); }

}  // namespace kakunin::cli
