#include <algorithm>
#include <ostream>

#include "cli/commands.h"

namespace kakunin::cli {

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"validate", "更新通知の論理チェック", "check notifications against the contract",
       RunValidate},
      {"generate", "架空の記載通知の生成", "generate fictitious entry notifications", RunGenerate},
      {"init", "ノードの作成", "create a node (configuration, key file, database)",
       RunInitCommand},
      {"ingest", "更新通知の登録", "check and apply notifications", RunIngestCommand},
      {"import", "既存記録の一括登録", "load an existing registry into a new node",
       RunImportCommand},
      {"stats", "統計", "counts, without personal data", RunStatsCommand},
      {"purposes", "利用事由の一覧", "list the purpose catalogue (利用事由)", RunPurposesCommand},
      {"purge", "保存期間経過分の消去", "erase what retention no longer allows", RunPurgeCommand},
      {"pki", "試験・デモ用の認証局", "a private CA for test and demo deployments",
       RunPkiCommand},
      {"clients", "接続システムの登録簿", "the client register (systems allowed to connect)",
       RunClientsCommand},
      {"gaiji", "外字の登録簿", "the gaiji register (a municipality's PUA code point -> MJ code)",
       RunGaijiCommand},
      {"serve", "HTTPS APIの公開", "serve the HTTPS API with mutual TLS", RunServeCommand},
      {"halt", "作動停止", "halt: stop providing and applying at once", RunHaltCommand},
      {"resume", "作動停止の解除", "lift a halt", RunResumeCommand},
      {"operator", "操作者の初期登録", "bootstrap the first operators, list operators",
       RunOperatorCommand},
      {"demo", "デモノードの準備と起動", "prepare and serve a demo node", RunDemoCommand},
      {"audit", "操作履歴の検証・証明・検索", "verify, prove and search the operation log",
       RunAuditCommand},
      {"notify", "市町村CSからの更新通知の送信", "a municipal CS: send notifications to the node",
       RunNotifyCommand},
      {"backup", "暗号化バックアップの作成・検証", "write or verify an encrypted backup",
       RunBackupCommand},
      {"restore", "バックアップからの復元", "restore a node from a backup", RunRestoreCommand},
      {"media", "媒体の管理簿", "the media register (backups written)", RunMediaCommand},
      {"link", "全国サーバへの送信番号", "the link to the national node: renumber after a restore",
       RunLinkCommand},
      {"migrate-store", "記憶域の移行（SQLite⇄PostgreSQL）",
       "move a stopped node's registry between SQLite and PostgreSQL", RunMigrateStoreCommand},
      {"config", "設定ファイルの検査", "check a kakunin.toml: every problem at once",
       RunConfigCommand},
      {"keys", "鍵の管理（HSM・鍵の更新）", "the node's keys: HSM (PKCS#11), key rotation",
       RunKeysCommand},
  };
  return kCommands;
}

namespace {
void PrintHelp(std::ostream& out) {
  out << "Kakunin（確認）— 都道府県の本人確認情報を保存・提供するサーバ\n"
         "Kakunin keeps the identity confirmation information (本人確認情報) of a\n"
         "prefecture's residents.\n\n"
         "使い方 / usage: kakunin COMMAND [OPTIONS]\n\n"
         "Commands:\n";
  for (const auto& c : Commands()) {
    std::string name = c.name;
    name.resize(std::max<size_t>(12, name.size() + 1), ' ');  // migrate-store is longer
    out << "  " << name << c.summary_ja << " / " << c.summary_en << "\n";
  }
  out << "\n本人確認情報の参照は、指名された操作者が操作者コンソールまたはAPIで行います。\n"
         "Resident data is read through the operators' console or the API, by an operator\n"
         "nominated for the purpose; no command here prints it.\n"
         "\n`kakunin COMMAND --help` explains a command, with examples; `kakunin --version`\n"
         "prints the version.\n"
         "Example: kakunin generate --count 3 | kakunin validate -\n";
}

const char kRemovedJa[] =
    "このコマンドは廃止されました。本人確認情報は、利用事由について指名された操作者が"
    "操作者コンソールまたはAPIで参照します。";
const char kRemovedEn[] =
    "this command was removed. Resident data is read through the operators' console or the API, "
    "by an operator nominated for the purpose.";
}  // namespace

const std::vector<std::string>& RemovedCommands() {
  static const std::vector<std::string> kRemoved = {"show", "search", "history", "provide",
                                                    "provisions"};
  return kRemoved;
}

int Main(const std::vector<std::string>& argv, Io& io) {
  if (argv.size() < 2 || argv[1] == "--help" || argv[1] == "-h" || argv[1] == "help") {
    PrintHelp(io.out);
    return argv.size() < 2 ? kExitUsage : kExitOk;
  }
  if (argv[1] == "--version" || argv[1] == "version") {
    io.out << "kakunin " << Version() << "\n";
    return kExitOk;
  }
  for (const auto& c : Commands()) {
    if (argv[1] == c.name) {
      std::vector<std::string> rest(argv.begin() + 2, argv.end());
      return c.run(rest, io);
    }
  }
  for (const auto& name : RemovedCommands()) {
    if (argv[1] == name) {
      // The host's OS users are not operators: none of them may read resident data here.
      io.err << "kakunin " << name << ": " << kRemovedJa << "\n"
             << "kakunin " << name << ": " << kRemovedEn << "\n";
      return kExitUsage;
    }
  }
  io.err << "kakunin: unknown command '" << Echoable(argv[1]) << "'\n";
  PrintHelp(io.err);
  return kExitUsage;
}

}  // namespace kakunin::cli
