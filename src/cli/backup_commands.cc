// kakunin backup, restore and media (docs/backup.md): the only copying of the registry, by the
// node's OS owner on its host (DESIGN §7). The work is registry/backup.h's; this file reads
// options and prints.

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>

#include "audit/signer.h"
#include "cli/commands.h"
#include "cli/node.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "registry/backup.h"
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
  return st.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitRejected;
}

std::optional<Args> ParseOrHelp(const std::vector<std::string>& argv,
                                const std::vector<OptionSpec>& specs, const char* command,
                                const char* help, Io& io, int* exit) {
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) {
    *exit = Usage(io, command, args.status().message());
    return std::nullopt;
  }
  if (args->help()) {
    io.out << help << "\nOptions:\n" << FormatOptions(specs);
    *exit = kExitOk;
    return std::nullopt;
  }
  return std::move(*args);
}

OptionSpec KeyOption() {
  return {"key", "FILE",
          "バックアップ鍵 / the backup key (kakunin backup keygen; keep it apart from the node)"};
}

OptionSpec PublicKeyOption() {
  return {"public-key", "FILE",
          "ノードの署名公開鍵 / the node's audit.key.pub, to check whose backup it is"};
}

std::optional<registry::BackupKey> LoadKey(const Args& args, const char* command, Io& io,
                                           int* exit) {
  auto path = args.Get("key");
  if (!path || path->empty()) {
    *exit = Usage(io, command, "--key FILE (the backup key) is required");
    return std::nullopt;
  }
  auto key = registry::LoadBackupKeyFile(*path);
  if (!key.ok()) {
    *exit = Fail(io, command, key.status());
    return std::nullopt;
  }
  return std::move(*key);
}

// The raw public key of --public-key, "" without it; nullopt after printing an error.
std::optional<std::string> LoadTrusted(const Args& args, const char* command, Io& io, int* exit) {
  auto path = args.Get("public-key");
  if (!path) return std::string();
  auto pk = audit::LoadPublicKeyFile(*path);
  if (!pk.ok()) {
    *exit = Fail(io, command, pk.status());
    return std::nullopt;
  }
  return *pk;
}

const char kBackupHelp[] =
    "使い方 / usage:\n"
    "  kakunin backup --data DIR (--to BACKUP_DIR | --into PARENT_DIR) --key FILE [--json]\n"
    "  kakunin backup verify BACKUP_DIR --key FILE [--public-key audit.key.pub] [--work DIR]\n"
    "                        [--data NODE_DIR]   (keys on a token: the node's PIN file;\n"
    "                                             its log: a rotation of its signing key)\n"
    "  kakunin backup keygen --key FILE\n\n"
    "ノードの暗号化バックアップ（システム管理者のみ）。稼働中でも一貫したコピーを作ります。\n"
    "An online, consistent, encrypted copy of the node: the database, the key file, the\n"
    "signing key and the configuration, encrypted with the backup key (never stored in the\n"
    "backup), with a manifest signed by the node's checkpoint key that names the log's head.\n"
    "Each backup is an operation-log entry and a row of the media register (kakunin media).\n"
    "BACKUP_DIR must be new or empty; --into makes PARENT_DIR/kakunin-YYYYMMDDTHHMMSS (JST)\n"
    "and prints it (for a timer). `verify` decrypts and checks everything — signature,\n"
    "every chunk's MAC, integrity_check, the whole log against the manifest's head — in a\n"
    "private temporary directory (--work, default $TMPDIR or /tmp) that it removes; without\n"
    "--public-key the answer is UNTRUSTED (exit 1). --public-key is the node's current key\n"
    "(audit.key.pub; after a signing-key rotation signing-<key id>.pub, with --data NODE_DIR\n"
    "for backups made before it, whose log does not name the new key). Restore with\n"
    "kakunin restore.\n\n"
    "Examples:\n"
    "  kakunin backup keygen --key /media/keys/kakunin-backup.key\n"
    "  kakunin backup --data /var/lib/kakunin --to /srv/backup/2026-12-04 \\\n"
    "      --key /media/keys/kakunin-backup.key\n"
    "  kakunin backup verify /srv/backup/2026-12-04 --key /media/keys/kakunin-backup.key \\\n"
    "      --public-key /var/lib/kakunin/audit.key.pub\n";

int RunKeygen(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {KeyOption()};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "backup keygen", kBackupHelp, io, &exit);
  if (!args) return exit;
  auto path = args->Get("key");
  if (!path || path->empty()) return Usage(io, "backup keygen", "--key FILE is required");
  Status st = registry::CreateBackupKeyFile(*path);
  if (!st.ok()) return Fail(io, "backup keygen", st);
  auto key = registry::LoadBackupKeyFile(*path);
  if (!key.ok()) return Fail(io, "backup keygen", key.status());
  io.out << "バックアップ鍵を作成しました / backup key written: " << *path << " (id "
         << key->id() << ")\n"
         << "この鍵はノードとは別の場所に保管してください。鍵がなければ復元できません。\n"
         << "Keep it apart from the node and its backups: without it no backup can be restored.\n";
  return kExitOk;
}

int RunVerify(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      KeyOption(), PublicKeyOption(),
      {"work", "DIR", "一時展開先 / where to unpack while checking (default $TMPDIR or /tmp)"},
      {"data", "DIR",
       "鍵がトークンにあるノードのディレクトリ（PINファイルの場所） / the node's directory, for the "
       "PIN file of a token holding the keys"},
      {"json", "", "JSONで出力 / print JSON"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "backup verify", kBackupHelp, io, &exit);
  if (!args) return exit;
  if (args->positional().size() != 1) {
    return Usage(io, "backup verify", "give one backup directory");
  }
  auto key = LoadKey(*args, "backup verify", io, &exit);
  if (!key) return exit;
  auto trusted = LoadTrusted(*args, "backup verify", io, &exit);
  if (!trusted) return exit;
  if (io.nodes == nullptr) return Fail(io, "backup verify", Status::FailedPrecondition("no node access"));
  auto desk = io.nodes->NewBackupDesk();
  if (!desk) return Fail(io, "backup verify", Status::FailedPrecondition("no backup support"));
  std::string work = args->Get("work").value_or("");
  if (work.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    work = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  auto check = desk->Verify(args->positional()[0], *key, *trusted, work,
                            args->Get("data").value_or(""));
  if (!check.ok()) {
    io.err << "kakunin backup verify: 不正なバックアップ / BAD: " << check.status().message()
           << "\n";
    return kExitRejected;
  }
  const auto& m = check->manifest;
  if (args->Has("json")) {
    io.out << "{\"ok\":true,\"trusted\":" << (check->trusted ? "true" : "false")
           << ",\"backup_id\":\"" << m.backup_id << "\",\"tree_size\":" << m.tree_size
           << ",\"root\":\"" << HexEncode(m.root) << "\",\"log_key_id\":\"" << m.log_key_id
           << "\",\"entries\":" << check->entries << ",\"checkpoints\":" << check->checkpoints
           << "}\n";
  } else {
    io.out << "backup " << m.backup_id << " (" << JstIsoTime(m.created) << ")\n"
           << "  signed by checkpoint key " << m.log_key_id << "\n"
           << "  log head: " << m.tree_size << " entries, root " << HexEncode(m.root) << "\n"
           << "  payload: " << m.payload_bytes << " bytes in " << m.chunks
           << " chunks, every MAC checked\n"
           << "  database: integrity_check ok, operation log verified (" << check->entries
           << " entries, " << check->checkpoints << " checkpoints)\n";
  }
  if (!check->trusted) {
    io.out << "UNTRUSTED: consistent and complete, but not checked against a node's public key "
              "(give --public-key audit.key.pub)\n";
    return kExitRejected;
  }
  io.out << "OK\n";
  return kExitOk;
}

int RunBackup(const std::vector<std::string>& argv, Io& io) {
  if (!argv.empty() && argv[0] == "keygen") {
    return RunKeygen(std::vector<std::string>(argv.begin() + 1, argv.end()), io);
  }
  if (!argv.empty() && argv[0] == "verify") {
    return RunVerify(std::vector<std::string>(argv.begin() + 1, argv.end()), io);
  }
  std::vector<OptionSpec> specs = {
      DataOption(),
      {"to", "DIR", "書き込み先（新規または空） / where to write the backup (new or empty)"},
      {"into", "DIR",
       "この下に日時の名前で作成 / make a new directory named by the time (JST) under DIR"},
      KeyOption(),
      {"json", "", "JSONで出力 / print JSON"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "backup", kBackupHelp, io, &exit);
  if (!args) return exit;
  if (!args->positional().empty()) {
    return Usage(io, "backup", "unknown subcommand '" + Echoable(args->positional()[0]) + "'");
  }
  auto data = RequireData(*args, "backup", io);
  if (!data) return kExitUsage;
  auto to = args->Get("to");
  auto into = args->Get("into");
  if ((!to || to->empty()) == (!into || into->empty())) {
    return Usage(io, "backup", "give either --to DIR or --into DIR");
  }
  auto key = LoadKey(*args, "backup", io, &exit);
  if (!key) return exit;
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, "backup", node.status());
  std::string dir;
  if (to && !to->empty()) {
    dir = *to;
  } else {
    // For a timer: kakunin-20261204T213000 (JST), one directory per run.
    std::string t = JstIsoTime((*node)->clock.NowMicros());
    std::string name = "kakunin-";
    for (char c : t.substr(0, 19)) {
      if (c != '-' && c != ':') name += c;
    }
    dir = *into + "/" + name;
  }
  auto summary = (*node)->backup->Create(dir, *key, (*node)->actor);
  (void)(*node)->Seal();
  if (!summary.ok()) return Fail(io, "backup", summary.status());
  if (args->Has("json")) {
    std::string out = "{\"backup_id\":\"" + summary->backup_id + "\",\"dir\":";
    text::AppendJsonString(summary->dir, &out);
    out += ",\"tree_size\":" + std::to_string(summary->tree_size) + ",\"root\":\"" +
           HexEncode(summary->root) + "\",\"payload_bytes\":" +
           std::to_string(summary->payload_bytes) + ",\"manifest_sha256\":\"" +
           summary->manifest_sha256 + "\"}\n";
    io.out << out;
  } else {
    io.out << "バックアップを作成しました / backup written: " << summary->dir << "\n"
           << "  backup id: " << summary->backup_id << "\n"
           << "  log head: " << summary->tree_size << " entries, root "
           << HexEncode(summary->root) << "\n"
           << "  payload: " << summary->payload_bytes << " bytes in " << summary->chunks
           << " chunks\n"
           << "  manifest sha256: " << summary->manifest_sha256 << "\n";
  }
  return kExitOk;
}

const char kRestoreHelp[] =
    "使い方 / usage: kakunin restore --from BACKUP_DIR --data DIR --key FILE\n"
    "                [--public-key audit.key.pub] [--confirm-rollback]\n\n"
    "バックアップからノードを復元します（ノードは停止しておくこと）。\n"
    "Restores a node from a backup (stop the node first). Everything is checked before\n"
    "anything is replaced (as kakunin backup verify does). Into a node's directory, the backup\n"
    "must be that node's (same checkpoint key); a backup whose log does not hold everything\n"
    "the node's log holds (its last signed head, audit.head) is a rollback: refused unless\n"
    "--confirm-rollback, and then written to DIR/rollbacks.log and recorded in the restored\n"
    "log as backup.rollback with the lost range (sizes and roots). Into an empty or new\n"
    "directory (another machine) the backup key vouches for the backup; --public-key checks\n"
    "the signer too. kakunin.toml is kept when DIR has one.\n\n"
    "Examples:\n"
    "  kakunin restore --from /srv/backup/2026-12-04 --data /var/lib/kakunin \\\n"
    "      --key /media/keys/kakunin-backup.key\n";

int RunRestore(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      DataOption(),
      {"from", "DIR", "バックアップ / the backup directory"},
      KeyOption(),
      PublicKeyOption(),
      {"confirm-rollback", "", "ロールバックを承認 / accept losing log entries (recorded)"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "restore", kRestoreHelp, io, &exit);
  if (!args) return exit;
  if (!args->positional().empty()) return Usage(io, "restore", "unexpected argument");
  auto data = RequireData(*args, "restore", io);
  if (!data) return kExitUsage;
  auto from = args->Get("from");
  if (!from || from->empty()) return Usage(io, "restore", "--from DIR is required");
  auto key = LoadKey(*args, "restore", io, &exit);
  if (!key) return exit;
  auto trusted = LoadTrusted(*args, "restore", io, &exit);
  if (!trusted) return exit;
  if (io.nodes == nullptr) return Fail(io, "restore", Status::FailedPrecondition("no node access"));
  auto desk = io.nodes->NewBackupDesk();
  if (!desk) return Fail(io, "restore", Status::FailedPrecondition("no backup support"));
  auto report =
      desk->Restore(*from, *data, *key, *trusted, args->Has("confirm-rollback"), io.err);
  if (!report.ok()) return Fail(io, "restore", report.status());
  // Opening the node records the restore (NodeBackup::RecordPendingRestore); if it cannot open
  // now, the first open after the cause is fixed records it.
  auto node = OpenNode(io, *data);
  if (!node.ok()) {
    return Fail(io, "restore",
                Status(node.status().code(),
                       "the files are restored but the node does not open: " +
                           node.status().message() +
                           " (the restore is recorded in its log when it first opens)"));
  }
  Status sealed = (*node)->Seal();
  if (!sealed.ok()) return Fail(io, "restore", sealed);
  io.out << "復元しました / restored backup " << report->backup_id << " into " << *data << ": "
         << report->restored_size << " log entries, root " << HexEncode(report->restored_root)
         << "\n";
  if (report->rollback) {
    io.out << "ROLLBACK recorded in the log (backup.rollback) and in " << report->notice_file
           << "\n";
  }
  if (report->retired_signing_key) {
    // Found in review: the restore silently put back a signing key the node had rotated away
    // from (a rotation is made because a key may be exposed), and outside verifiers who adopted
    // the new key see checkpoints signed by the old one.
    io.out << "注意 / warning: このバックアップは、その後ローテーションした署名鍵で署名されています。"
              "復元したノードは古い鍵で署名します。起動する前に鍵を更新してください / this backup "
              "is signed by a key the node later rotated away from, and the restored node signs "
              "with it again: rotate before serving:\n"
           << "  kakunin keys rotate-signing-key --data " << *data << "\n"
           << "  kakunin keys rotate-field-key --data " << *data
           << "   # 復元した項目鍵も古いものです / the restored field keys are the old ones too\n";
  }
  // The backup holds what purges erased since it was made: the node is not served until it is
  // purged as of today (registry/backup.h RetentionDue).
  io.out << "次に保存期間を過ぎた記録を消去してください（それまで serve は起動しません）/ next, "
            "erase what is past its retention (serve refuses to start until then):\n"
         << "  kakunin purge --data " << *data << " --dry-run   # 基準日と件数を確認 / check the "
            "date and the counts\n"
         << "  kakunin purge --data " << *data << "\n"
         << "バックアップ後に消去が行われていた場合は、信頼できる時計で今日の日付を確かめ "
            "--confirm-date で指定してください / if purges ran after the backup, check today's "
            "date against a clock you trust and give it with --confirm-date YYYY-MM-DD\n";
  return kExitOk;
}

const char kMediaHelp[] =
    "使い方 / usage: kakunin media list --data DIR [--json]\n"
    "               kakunin media record ID --event taken_out|returned|disposed --note TEXT\n"
    "                      --data DIR\n\n"
    "媒体の管理簿です。バックアップと操作履歴の書き出し（audit export）を媒体ごとに記録し、\n"
    "その後の持出し・返却・廃棄を記録します。個人情報は含みません。\n"
    "The media register: every backup and every export of the operation log written, where,\n"
    "by whom, its status, size and digest, and what became of each medium afterwards.\n\n"
    "list    every medium, oldest first, with where it is now (custody: writing, stored,\n"
    "        taken_out, disposed) and its events. No personal data.\n"
    "record  what became of medium ID: taken_out (持出し: out of the locked storage, to whom\n"
    "        and why), returned (返却), disposed (廃棄: how, and who saw it destroyed). A medium\n"
    "        is taken out only while stored and complete, returned only while taken out, and\n"
    "        disposed of once. The note (1-500 characters) is kept in the register; the\n"
    "        operation log names the medium and the event only. Never write a resident's\n"
    "        code, number or name in a note: an 11- or 12-digit number is refused.\n\n"
    "Examples:\n"
    "  kakunin media list --data /var/lib/kakunin\n"
    "  kakunin media record 7 --event taken_out --note '監査委員事務局へ貸出（監査用）' \\\n"
    "      --data /var/lib/kakunin\n"
    "  kakunin media record 7 --event disposed --note '物理破砕 立会: 情報政策課 佐藤' \\\n"
    "      --data /var/lib/kakunin\n";

const char* CustodyJa(const std::string& custody) {
  if (custody == "stored") return "保管中";
  if (custody == "taken_out") return "持出し中";
  if (custody == "disposed") return "廃棄済み";
  return "書込み中";
}

int RunMedia(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      DataOption(),
      {"json", "", "JSONで出力 / print JSON"},
      {"event", "taken_out|returned|disposed", "持出し・返却・廃棄 / what became of the medium"},
      {"note", "TEXT", "相手・場所・方法 / to whom, where, how (1-500 characters)"}};
  int exit = 0;
  auto args = ParseOrHelp(argv, specs, "media", kMediaHelp, io, &exit);
  if (!args) return exit;
  const auto& pos = args->positional();
  const bool list = pos.size() == 1 && pos[0] == "list";
  const bool record = pos.size() == 2 && pos[0] == "record";
  if (!list && !record) return Usage(io, "media", "the subcommand is list, or record ID");
  std::optional<int64_t> id;
  if (record) {
    const std::string& t = pos[1];
    if (t.empty() || t.size() > 18 || t.find_first_not_of("0123456789") != std::string::npos) {
      return Usage(io, "media", "ID is the medium's number in `kakunin media list`");
    }
    id = std::stoll(t);
    if (!args->Get("event") || !args->Get("note")) {
      return Usage(io, "media", "record needs --event and --note");
    }
  }
  auto data = RequireData(*args, "media", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, "media", node.status());
  if (record) {
    auto event = (*node)->media->RecordCustody(*id, *args->Get("event"), *args->Get("note"),
                                               (*node)->actor);
    Status sealed = (*node)->Seal();
    if (!event.ok()) return Fail(io, "media", event.status());
    if (!sealed.ok()) return Fail(io, "media", sealed);
    io.out << "記録しました / recorded: medium " << *id << " " << *args->Get("event")
           << " (event " << *event << ")\n";
    return kExitOk;
  }
  auto media = (*node)->media->List();
  if (!media.ok()) return Fail(io, "media", media.status());
  for (const auto& m : *media) {
    if (args->Has("json")) {
      std::string out = "{\"id\":" + std::to_string(m.id) + ",\"kind\":";
      text::AppendJsonString(m.kind, &out);
      out += ",\"label\":";
      text::AppendJsonString(m.label, &out);
      out += ",\"location\":";
      text::AppendJsonString(m.location, &out);
      out += ",\"created\":\"" + JstIsoTime(m.created_at) + "\",\"created_by\":";
      text::AppendJsonString(m.created_by, &out);
      out += ",\"status\":";
      text::AppendJsonString(m.status, &out);
      out += ",\"bytes\":" + std::to_string(m.bytes) + ",\"digest\":";
      text::AppendJsonString(m.digest, &out);
      out += ",\"custody\":";
      text::AppendJsonString(m.custody, &out);
      out += ",\"events\":[";
      for (size_t i = 0; i < m.events.size(); ++i) {
        const auto& e = m.events[i];
        out += std::string(i ? "," : "") + "{\"id\":" + std::to_string(e.id) + ",\"at\":\"" +
               JstIsoTime(e.at) + "\",\"event\":";
        text::AppendJsonString(e.event, &out);
        out += ",\"note\":";
        text::AppendJsonString(e.note, &out);
        out += ",\"recorded_by\":";
        text::AppendJsonString(e.recorded_by, &out);
        out += "}";
      }
      io.out << out << "]}\n";
    } else {
      std::string digest_name = m.kind == "backup" ? "manifest sha256 " : "sha256 ";
      io.out << m.id << "  " << m.kind << "  " << JstIsoTime(m.created_at) << "  " << m.status
             << "  " << m.bytes << " bytes  " << m.label << "  " << m.location << "  "
             << m.created_by << (m.digest.empty() ? "" : "  " + digest_name + m.digest) << "  "
             << CustodyJa(m.custody) << " / " << m.custody << "\n";
      for (const auto& e : m.events) {
        io.out << "    " << JstIsoTime(e.at) << "  " << e.event << "  " << e.recorded_by << "  "
               << e.note << "\n";
      }
    }
  }
  return kExitOk;
}

const char kLinkHelp[] =
    "使い方 / usage: kakunin link renumber --data DIR\n"
    "               kakunin link resync --data DIR\n\n"
    "全国サーバへの送信番号を先へ進めます（操作履歴に記録）。\n"
    "Moves the numbering of the changes this prefecture node forwards to the national node 2^40\n"
    "above every number its database ever gave out. Run it, with the node stopped, on a\n"
    "database restored other than by `kakunin restore` (which does it itself): a PostgreSQL\n"
    "point-in-time recovery, a file copied back by hand. Otherwise its next changes reuse\n"
    "numbers the national node holds other changes under, and the link stops at\n"
    "sequence_conflict (docs/backup.md). The national node sees a hole in the numbers, which\n"
    "the link allows.\n\n"
    "resync: after the national node came back from a backup older than\n"
    "delivered_retention_hours, the link stops (link_resync): the outbox rows after the national\n"
    "node's point were purged and cannot be sent. Once the changes in that range have reached\n"
    "the national node another way (docs/backup.md), this forgets the purged point, records the\n"
    "range no longer held (link.resync, numbers only), and the link resumes.\n\n"
    "rewind (national node): kakunin link rewind --data DIR --prefecture P --to N\n"
    "moves prefecture P's point back to N, so that the prefecture's sender resends from N: a\n"
    "change applied before is a duplicate, never applied twice. For a point moved past numbers\n"
    "the prefecture never sent (its changes then stop at sequence_conflict for ever): N is the\n"
    "number the prefecture's log shows acknowledged last (link.forward). What was applied stays\n"
    "applied; recorded as link.rewind (numbers only).\n\n"
    "Example:\n"
    "  kakunin link renumber --data /var/lib/kakunin\n"
    "  kakunin link rewind --data /var/lib/kakunin-national --prefecture 19 --to 2006\n";

int RunLink(const std::vector<std::string>& argv, Io& io) {
  int exit = 0;
  auto args = ParseOrHelp(argv,
                          {DataOption(),
                           {"prefecture", "1..47", "都道府県 / the prefecture (rewind)"},
                           {"to", "N", "戻す位置 / the point to move back to (rewind)"}},
                          "link", kLinkHelp, io, &exit);
  if (!args) return exit;
  if (args->positional().size() != 1 ||
      (args->positional()[0] != "renumber" && args->positional()[0] != "resync" &&
       args->positional()[0] != "rewind")) {
    return Usage(io, "link", "the subcommand is renumber, resync or rewind");
  }
  const bool resync = args->positional()[0] == "resync";
  const bool rewind = args->positional()[0] == "rewind";
  auto number = [&](const char* name, int64_t max) -> std::optional<int64_t> {
    auto v = args->Get(name);
    if (!v || v->empty() || v->size() > 19 ||
        !std::all_of(v->begin(), v->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    errno = 0;
    const long long n = std::strtoll(v->c_str(), nullptr, 10);
    if (errno != 0 || n > max) return std::nullopt;
    return n;
  };
  std::optional<int64_t> prefecture, to;
  if (rewind) {
    prefecture = number("prefecture", 47);
    to = number("to", INT64_MAX);
    if (!prefecture || *prefecture < 1 || !to) {
      return Usage(io, "link", "rewind needs --prefecture 1..47 and --to N (a sequence number)");
    }
  } else if (args->Has("prefecture") || args->Has("to")) {
    return Usage(io, "link", "--prefecture and --to belong to rewind");
  }
  auto data = RequireData(*args, "link", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, "link", node.status());
  if (rewind) {
    if (!(*node)->national) {
      return Fail(io, "link", Status::FailedPrecondition(
                                  "only the national node receives forwarded changes: nothing "
                                  "to rewind"));
    }
    auto had = (*node)->national->Rewind(static_cast<int>(*prefecture), *to, (*node)->actor);
    if (!had.ok()) return Fail(io, "link", had.status());
    (void)SealLog(**node);
    io.out << "巻き戻しました / rewound: prefecture " << *prefecture << "'s point moved from "
           << *had << " to " << *to << "; its sender resends from there\n";
    return kExitOk;
  }
  if ((*node)->config.role != registry::NodeRole::kPrefecture || !(*node)->outbox) {
    return Fail(io, "link", Status::FailedPrecondition(
                                "only a prefecture node forwards changes: nothing to renumber"));
  }
  if (resync) {
    auto lost = (*node)->outbox->Resync((*node)->actor);
    if (!lost.ok()) return Fail(io, "link", lost.status());
    (void)SealLog(**node);
    io.out << "再同期しました / resynced: the link resumes from the national node's point; "
              "numbers through "
           << *lost << " are no longer held here\n";
    return kExitOk;
  }
  auto next = (*node)->outbox->SkipNumbers(registry::kRestoredOutboxGap, (*node)->actor);
  if (!next.ok()) return Fail(io, "link", next.status());
  (void)SealLog(**node);
  io.out << "送信番号を進めました / renumbered: the next change forwarded is number " << *next
         << "\n";
  return kExitOk;
}

}  // namespace

int RunBackupCommand(const std::vector<std::string>& a, Io& io) { return RunBackup(a, io); }
int RunRestoreCommand(const std::vector<std::string>& a, Io& io) { return RunRestore(a, io); }
int RunLinkCommand(const std::vector<std::string>& a, Io& io) { return RunLink(a, io); }
int RunMediaCommand(const std::vector<std::string>& a, Io& io) { return RunMedia(a, io); }

}  // namespace kakunin::cli
