// kakunin notify: a municipality's CS side — sends its notifications to the prefecture node
// over mutual TLS and prints the contract's per-record results (src/notify/).

#include <csignal>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/date.h"
#include "notify/config.h"
#include "notify/https_client.h"
#include "notify/journal.h"
#include "notify/sender.h"

namespace kakunin::cli {
namespace {

const char kHelp[] =
    "使い方 / usage: kakunin notify --config FILE [OPTIONS] FILE|-\n"
    "\n"
    "市町村CSとして、本人確認情報の更新通知を都道府県サーバへ送信します。\n"
    "Sends a municipality's notifications (JSON Lines or CSV, UTF-8 or CP932) to the\n"
    "prefecture node's POST /v1/notifications in batches over mutual TLS and prints the\n"
    "contract's result for every record, with its input line:\n"
    "  {\"line\":1,\"ok\":true}\n"
    "  {\"line\":2,\"ok\":true,\"duplicate\":true}\n"
    "  "
    "{\"line\":3,\"ok\":false,\"errors\":[{\"field\":\"record\",\"code\":\"sequence_conflict\"}]}\n"
    "\n"
    "What the node acknowledged is written to a local journal (no personal data: line,\n"
    "municipality code, sequence and a hash keyed by the client key, so that the journal\n"
    "alone confirms nothing about anyone) and synced before it is printed. Run the same\n"
    "command again after a crash or a network failure: acknowledged notifications are not sent\n"
    "again (they print as duplicates); the batch in flight is sent again and the node answers\n"
    "it as duplicates. A journal written under another client key or by an older version is\n"
    "refused: move it aside (an old one: destroy it) and run again; the node answers what it\n"
    "already applied as duplicates. Records failing the contract's field checks are reported\n"
    "here and not sent. A rejected record stops nothing else (the node refuses the sender's\n"
    "later records with sequence_gap until it is corrected and sent under the same sequence).\n"
    "\n"
    "After the node was restored from an older backup (a rollback, docs/backup.md), it no\n"
    "longer holds what it acknowledged since that backup, but the journal still lists it and a\n"
    "plain run sends none of it. Send the file again with --resend: every record is sent\n"
    "whatever the journal says, the node applies what it lacks and answers what it holds as\n"
    "duplicates (the summary says how many it already held), and the journal records the new\n"
    "acknowledgements.\n"
    "\n"
    "The configuration (TOML; relative paths from its directory):\n"
    "  url = \"https://pref-node:8443\"   ca_file = \"ca.pem\"\n"
    "  cert_file = \"cs.pem\"   key_file = \"cs.key\"   journal = \"notify.journal\"\n"
    "  format = \"jsonl\"|\"csv\"   encoding = \"utf-8\"|\"cp932\"   batch_size = 100 (1..1000)\n"
    "  retries = 8 (attempts per batch)   timeout_seconds = 30\n"
    "  resident_code_check = \"full\"|\"format\" (as the node's [checks])\n"
    "\n"
    "Exit status: 0 every record applied (now or before), 1 some rejected, 2 usage, start-up\n"
    "(configuration, certificates, journal) or transport failure after the retries, or a\n"
    "request the node refused as a whole.\n"
    "\n"
    "Options:\n";

const char kExample[] =
    "\nExamples:\n"
    "  kakunin notify --config /etc/kakunin/notify.toml idou-20260401.csv\n"
    "  kakunin generate --count 3 | kakunin notify --config notify.toml -\n"
    "  kakunin notify --config /etc/kakunin/notify.toml --resend idou-20260401.csv\n";

}  // namespace

int RunNotifyCommand(const std::vector<std::string>& argv, Io& io) {
  // A write to a connection the node closed (killed, restarted mid-request) must fail with EPIPE
  // and be retried like any network failure, not end the sender by SIGPIPE (found in review:
  // exit 141, no summary line). The command owns its process.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<OptionSpec> specs = {
      {"config", "FILE", "設定ファイル / the client's configuration (required)"},
      {"today", "YYYY-MM-DD", "基準日 / the date used for future_date (default: today, JST)"},
      {"resend", "",
       "送信済みも再送 / send every record, even those the journal lists as acknowledged "
       "(after a rollback)"},
  };
  auto usage = [&](const std::string& msg) {
    io.err << "kakunin notify: " << msg << "\n詳しくは / see: kakunin notify --help\n";
    return kExitUsage;
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return usage(args.status().message());
  if (args->help()) {
    io.out << kHelp << FormatOptions(specs) << kExample;
    return kExitOk;
  }
  auto config_path = args->Get("config");
  if (!config_path || config_path->empty()) return usage("--config FILE is required");
  if (args->positional().size() != 1) return usage("give exactly one input FILE, or - for stdin");
  auto config = notify::LoadNotifyConfig(*config_path);
  if (!config.ok()) return usage(config.status().message());

  notify::SendOptions options;
  options.format = config->format;
  options.encoding = config->encoding;
  options.batch_size = config->batch_size;
  options.retries = config->retries;
  options.resend = args->Has("resend");
  options.check.allow_wareki_dates = config->format == InputFormat::kCsv;
  options.check.resident_code_check = config->resident_code_check;
  if (auto today = args->Get("today")) {
    DateParse p = ParseIsoDate(*today);
    if (!p.date) return usage("--today must be a date YYYY-MM-DD");
    options.check.today = *p.date;
  } else {
    options.check.today = SystemClock().TodayJst();
  }

  std::ifstream file;
  std::istream* in = &io.in;
  const std::string& path = args->positional()[0];
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return usage("cannot open the input file " + path);
    in = &file;
  }
  notify::HttpsClientOptions client_options;
  client_options.url = config->url;
  client_options.ca_file = config->ca_file;
  client_options.cert_file = config->cert_file;
  client_options.key_file = config->key_file;
  client_options.timeout = std::chrono::seconds(config->timeout_seconds);
  auto client = notify::HttpsClient::Create(client_options);
  if (!client.ok()) return usage(client.status().message());
  // The journal's hashes are keyed by the client key: a journal alone confirms no notification.
  auto journal_key = notify::JournalKey(config->key_file);
  if (!journal_key.ok()) return usage(journal_key.status().message());
  auto journal = notify::Journal::Open(config->journal, std::move(*journal_key));
  if (!journal.ok()) return usage(journal.status().message());

  notify::HttpsTransport transport(client->get());
  notify::SendSummary summary;
  std::string error;
  int rc = notify::SendNotifications(*in, options, transport, *journal, io.out, &summary, &error);
  io.out.flush();
  // Counts only: no personal data.
  if (options.resend) {
    // What the rollback had lost is what was applied again; what the node already held is
    // answered as duplicates.
    io.err << "kakunin notify: " << summary.records << " records, sent again whatever the journal "
           << "says (--resend; " << summary.resent << " acknowledged before): " << summary.applied
           << " applied, " << summary.duplicates << " already held by the node (duplicates), "
           << summary.rejected << " rejected; " << summary.requests << " requests, "
           << summary.retried << " retried\n";
  } else {
    io.err << "kakunin notify: " << summary.records << " records: " << summary.applied
           << " applied, " << summary.duplicates << " duplicates, " << summary.from_journal
           << " acknowledged before (journal), " << summary.rejected << " rejected; "
           << summary.requests << " requests, " << summary.retried << " retried\n";
  }
  if (rc == kExitUsage) io.err << "kakunin notify: " << error << "\n";
  return rc;
}

}  // namespace kakunin::cli
