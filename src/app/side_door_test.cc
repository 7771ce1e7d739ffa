// The host's side door (issue 10): an OS user on the node's host, with no operator credentials,
// must not get a resident's data out of any `kakunin` command. Every command of the command table
// runs here, with typical arguments and some wrong ones, against a node holding residents whose
// names, kana, numbers, codes, addresses and birth dates appear nowhere else; their stdout and
// stderr must hold none of them. A command added to the table without a row here fails the test.

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "app/node.h"
#include "cli/commands.h"
#include "cli/generate.h"
#include "text/json.h"

namespace kakunin::cli {
namespace {

namespace fs = std::filesystem;

struct Out {
  int status = -1;
  std::string out, err;
};

Out Kakunin(std::vector<std::string> args, const std::string& in = "") {
  args.insert(args.begin(), "kakunin");
  std::istringstream is(in);
  std::ostringstream os, es;
  static const app::NodeAccess nodes;
  Io io{is, os, es, &nodes};
  int st = Main(args, io);
  return {st, os.str(), es.str()};
}

// Runs a command that serves until SIGTERM (serve, demo): the signal is sent before the command
// starts and stays pending, blocked, until the command waits for it, so the command starts,
// serves, stops, and returns, whatever the timing. A command that fails before waiting never
// takes the signal, and it is discarded with its thread.
Out KakunServing(const std::vector<std::string>& args) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  Out out;
  std::thread t([&] { out = Kakunin(args); });
  pthread_kill(t.native_handle(), SIGTERM);
  t.join();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return out;
}

std::string Read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void Write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

// Residents nobody else has: names, kana and addresses the generator never makes, birth dates
// nobody else in this node has. Codes and numbers are valid ones from a seed no row uses.
struct Resident {
  std::string code, number;
  std::string surname, given, kana_surname, kana_given, town, birth_date;
  std::string name() const { return surname + "　" + given; }
  std::string kana() const { return kana_surname + "　" + kana_given; }
  std::string address() const { return "山梨県甲府市" + town; }
};

std::vector<Resident> MakeResidents() {
  std::vector<Resident> rs = {
      {"", "", "鬼瓦", "権左衛門", "オニガワラ", "ゴンザエモン", "鬼瓦町九十九番地", "1931-07-23"},
      {"", "", "勅使河原", "蘭丸", "テシガワラ", "ランマル", "百目鬼町八丁目", "1944-12-08"},
      {"", "", "東海林", "艶子", "トウカイリン", "ツヤコ", "雲母坂七番", "1952-02-29"},
  };
  GenerateOptions options;
  options.seed = 4242;
  auto gen = NotificationGenerator::Create(options);
  for (auto& r : rs) {
    Notification n = (*gen)->Next();
    r.code = n.resident_code.str();
    r.number = n.individual_number.str();
  }
  return rs;
}

std::string EntryJson(const Resident& r, int sequence, const char* kind, const char* reason,
                      const std::string& change_date, const std::string& address,
                      const std::string& number) {
  std::string o = "{\"municipality_code\":\"192015\",\"sequence\":" + std::to_string(sequence) +
                  ",\"kind\":\"" + kind + "\",\"reason\":\"" + reason + "\",\"change_date\":\"" +
                  change_date + "\",\"resident_code\":\"" + r.code + "\",\"individual_number\":\"" +
                  number + "\",\"name\":";
  text::AppendJsonString(r.name(), &o);
  o += ",\"name_kana\":";
  text::AppendJsonString(r.kana(), &o);
  o += ",\"sex\":\"female\",\"birth_date\":\"" + r.birth_date + "\",\"address\":";
  text::AppendJsonString(address, &o);
  return o + "}\n";
}

// Every form in which a field of `r` could be printed.
std::vector<std::pair<std::string, std::string>> Needles(const Resident& r) {
  auto date = ParseIsoDate(r.birth_date).date;
  std::string compact = r.birth_date;
  compact.erase(std::remove(compact.begin(), compact.end(), '-'), compact.end());
  return {{"resident code", r.code}, {"individual number", r.number},
          {"name", r.surname},       {"name", r.given},
          {"kana", r.kana_surname},  {"kana", r.kana_given},
          {"address", r.town},       {"birth date", r.birth_date},
          {"birth date", compact},   {"birth date", date->ToWareki()}};
}

// One run of a command: its arguments, its stdin, and whether it serves until stopped.
struct Row {
  Row(std::vector<std::string> a, std::string i = "", bool s = false)
      : argv(std::move(a)), in(std::move(i)), serves(s) {}
  std::vector<std::string> argv;
  std::string in;
  bool serves;
};

class SideDoorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kakunin_side_door_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    data_ = (dir_ / "node").string();
    ca_ = (dir_ / "ca").string();
    residents_ = MakeResidents();
    Setup({"init", "--data", data_, "--prefecture", "19"});
    Setup({"pki", "init", "--ca", ca_});
    Setup({"pki", "server", "--ca", ca_, "--dns", "localhost", "--ip", "127.0.0.1", "--out",
           Path("server")});
    Setup({"pki", "issue", "--ca", ca_, "--kind", "agency", "--name", "山梨県教育委員会", "--out",
           Path("boe")});
    Setup({"pki", "issue", "--ca", ca_, "--kind", "municipal-cs", "--name", "甲府市CS",
           "--municipality", "192015", "--out", Path("kofu")});
    Setup({"clients", "register", "--data", data_, "--cert", Path("boe.pem"), "--kind", "agency",
           "--name", "山梨県教育委員会", "--recipient", "agency:yamanashi-board-of-education",
           "--purposes", "board.school_aid"});
    {
      std::ofstream config(fs::path(data_) / "kakunin.toml", std::ios::binary | std::ios::app);
      config << "\n[server]\naddress = \"127.0.0.1\"\nport = 0\ncertificate = \""
             << Path("server.pem") << "\"\nkey = \"" << Path("server.key") << "\"\nclient_ca = \""
             << ca_ << "/ca.pem\"\naccess_log = \"" << Path("access.log") << "\"\n";
    }
    // The residents, one moved (a superseded version), and files that go wrong.
    std::string entries, bad, conflict;
    for (size_t i = 0; i < residents_.size(); ++i) {
      const Resident& r = residents_[i];
      entries += EntryJson(r, static_cast<int>(i) + 1, "entry", "moved_in", "2020-04-01",
                           r.address(), r.number);
    }
    const Resident& first = residents_[0];
    std::string amend = EntryJson(first, 4, "amendment", "moved_within", "2025-06-01",
                                  "山梨県甲府市鬼瓦町百番地", first.number);
    std::string wrong_digit = first.number;
    wrong_digit.back() = wrong_digit.back() == '0' ? '1' : '0';
    bad = EntryJson(first, 5, "amendment", "moved_within", "2025-07-01", first.address(),
                    wrong_digit) +
          EntryJson(first, 5, "amendment", "moved_within", "2025-07-01",
                    "東京都新宿区" + first.town, first.number);
    conflict = EntryJson(residents_[1], 5, "entry", "moved_in", "2025-07-01",
                         residents_[1].address(), residents_[1].number);
    Write(Path("residents.jsonl"), entries);
    Write(Path("amend.jsonl"), amend);
    Write(Path("bad.jsonl"), bad);
    Write(Path("conflict.jsonl"), conflict);
    Setup({"ingest", "--data", data_, "--today", "2026-04-01", Path("residents.jsonl")});
    Setup({"ingest", "--data", data_, "--today", "2026-04-01", Path("amend.jsonl")});
    // Reads and a provision, as the console and the API make them, so the log and the provision
    // records hold them too.
    {
      auto node = app::OpenNode(data_);
      ASSERT_TRUE(node.ok()) << node.status().message();
      auto reader = (*node)->store->OpenReader();
      ASSERT_TRUE(reader.ok());
      registry::Actor agency{"cert:test-agency", "127.0.0.1"};
      auto shown = (*node)->registry->Show(**reader, first.code, agency, "registry.maintenance");
      ASSERT_TRUE(shown.ok() && shown->has_value());
      registry::ProvisionRequest req;
      req.purpose = "board.school_aid";
      req.provision_kind = "別表第六";
      req.recipient = "agency:yamanashi-board-of-education";
      req.items = {"name", "address", "birth_date"};
      for (const auto& r : residents_) req.resident_codes.push_back(r.code);
      auto provided = (*node)->registry->Provide(**reader, req, agency);
      ASSERT_TRUE(provided.ok()) << provided.status().message();
      ASSERT_TRUE(SealLog(**node).ok());
    }
    Write(Path("cp.json"), Setup({"audit", "checkpoint", "--data", data_}).out);
    Write(Path("proof.json"), Setup({"audit", "prove", "--data", data_, "--entry", "3"}).out);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // A setup step is a run of a command too: it must succeed and print no resident data.
  Out Setup(const std::vector<std::string>& args) {
    Out r = Kakunin(args);
    EXPECT_EQ(r.status, 0) << args[0] << ": " << r.err;
    ExpectNoResidentData(args, r, /*codes_allowed=*/false);
    return r;
  }

  void ExpectNoResidentData(const std::vector<std::string>& args, const Out& r,
                            bool codes_allowed) {
    std::string what = "kakunin";
    for (const auto& a : args) what += " " + a;
    for (const Resident& resident : residents_) {
      for (const auto& [field, value] : Needles(resident)) {
        if (codes_allowed && field == "resident code") continue;
        EXPECT_EQ(r.out.find(value), std::string::npos)
            << what << " printed a resident's " << field << " on stdout:\n"
            << r.out;
        EXPECT_EQ(r.err.find(value), std::string::npos)
            << what << " printed a resident's " << field << " on stderr:\n"
            << r.err;
      }
    }
  }

  // The table: every command of Commands(), with the runs that exercise it. Rows run in order.
  std::vector<std::pair<std::string, std::vector<Row>>> Table() const {
    const std::string& d = data_;
    const std::string code = residents_[0].code;
    return {
        {"validate",
         {{{"validate", "--today", "2026-04-01", Path("residents.jsonl")}},
          {{"validate", "--today", "2026-04-01", Path("bad.jsonl")}},
          {{"validate", "--today", "2026-04-01", "-"}, Read(Path("bad.jsonl"))},
          {{"validate", "--format", "csv", "-"},
           "192015,1,entry,moved_in,2020-04-01," + code + "," + residents_[0].number + "," +
               residents_[0].name() + "\n"}}},
        {"generate", {{{"generate", "--count", "5", "--seed", "9"}}}},
        {"purposes", {{{"purposes"}}, {{"purposes", "--data", d, "--json"}}}},
        {"init",
         {{{"init", "--data", d, "--prefecture", "19"}},
          {{"init", "--data", Path("other"), "--prefecture", "19"}}}},
        {"ingest",
         {{{"ingest", "--data", d, "--today", "2026-04-01", Path("residents.jsonl")}},
          {{"ingest", "--data", d, "--today", "2026-04-01", Path("bad.jsonl")}},
          {{"ingest", "--data", d, "--today", "2026-04-01", Path("conflict.jsonl")}},
          {{"ingest", "--data", d, "--format", "csv", "-"}, "\"bad\"" + code + "\n1\n"}}},
        {"stats",
         {{{"stats", "--data", d}},
          {{"stats", "--data", d, "--json"}},
          {{"stats", "--data", d, "--digest"}},
          {{"stats", "--data", d, "--digest", "--json"}}}},
        {"import",
         {{{"import", "--data", d, "--today", "2026-04-01", Path("residents.jsonl")}},
          {{"import", "--data", d, "--append", "--today", "2026-04-01", Path("bad.jsonl")}},
          {{"import", "--data", Path("other"), "--today", "2026-04-01", "--batch", "2",
            Path("residents.jsonl"), Path("conflict.jsonl")}}}},
        {"purge",
         {{{"purge", "--data", d, "--dry-run", "--as-of", "2177-01-01"}},
          {{"purge", "--data", d, "--dry-run", "--as-of", "2177-01-01", "--json"}},
          {{"purge", "--data", d, "--as-of", "2177-01-01"}},
          {{"purge", "--data", d, "--json"}}}},
        {"pki",
         {{{"pki", "list", "--ca", ca_}},
          {{"pki", "renew-crl", "--ca", ca_}},
          {{"pki", "issue", "--ca", ca_, "--kind", "national", "--name", "機構", "--out",
            Path("national")}}}},
        {"clients",
         {{{"clients", "list", "--data", d}},
          {{"clients", "list", "--data", d, "--json"}},
          {{"clients", "register", "--data", d, "--cert", Path("kofu.pem"), "--kind",
            "municipal_cs", "--name", "甲府市CS", "--municipality", "192015"}},
          {{"clients", "revoke", "--data", d, "--cert", Path("kofu.pem")}}}},
        {"gaiji",
         {{{"gaiji", "register", "--data", d, "--municipality", "192015", "--code-point", "U+E001",
            "--mj", "MJ012345", "--description", "髙の異体"}},
          {{"gaiji", "register", "--data", d, "--municipality", "192015", "--code-point", "U+0041",
            "--mj", "MJ012345"}},
          {{"gaiji", "list", "--data", d}},
          {{"gaiji", "list", "--data", d, "--pending"}}}},
        {"serve",
         {{{"serve", "--data", d, "--port", "0"}, "", true},
          {{"serve", "--config", d + "/kakunin.toml", "--port", "0"}, "", true}}},
        // A reason naming a resident (typed in an emergency): kept nowhere, printed by nobody.
        {"halt",
         {{{"halt", "--data", d, "--reason",
            "試験 " + residents_[0].name() + " " + residents_[0].number}}}},
        {"resume", {{{"resume", "--data", d}}, {{"resume", "--data", d}}}},
        {"operator",
         {{{"operator", "list", "--data", d}},
          {{"operator", "bootstrap", "--data", d, "--chief", "chief:県太郎", "--access-manager",
            "access:県花子"}},
          {{"operator", "recover", "--data", d, "--operator", "access"}},
          {{"operator", "list", "--data", d}}}},
        {"notify",
         // Without a node to reach: a configuration that does not load, then one whose files
         // are missing; neither may echo the records.
         {{{"notify", "--config", Path("no-such-notify.toml"), Path("residents.jsonl")}},
          {{"notify", "--config", Path("residents.jsonl"), "-"}, Read(Path("bad.jsonl"))}}},
        {"demo",
         // A node the demo did not make is refused (it would print a resident's code).
         {{{"demo", "--data", d, "--port", "0", "--console-port", "0"}},
          {{"demo", "--data", Path("demo"), "--port", "0", "--console-port", "0", "--residents",
            "3"},
           "",
           true}}},
        {"config",
         {{{"config", "check", "--data", d}},
          {{"config", "check", "--config", d + "/kakunin.toml"}}}},
        {"audit",
         {{{"audit", "verify", "--data", d}},
          {{"audit", "checkpoint", "--data", d}},
          {{"audit", "prove", "--data", d, "--entry", "3"}},
          {{"audit", "prove", "--data", d, "--from", "2", "--to", "6"}},
          {{"audit", "check-proof", "--public-key", d + "/audit.key.pub", "--checkpoint",
            Path("cp.json"), Path("proof.json")}},
          {{"audit", "review", "--data", d}},
          {{"audit", "search", "--data", d}},
          {{"audit", "search", "--data", d, "--action", "resident.show"}},
          {{"audit", "export", "--data", d, "--from", "2000-01-01", "--to", "2100-01-01", "--out",
            Path("log.kla")}},
          {{"audit", "verify", "--archive", Path("log.kla"), "--public-key", d + "/audit.key.pub"}},
          {{"audit", "no-such-subcommand", "--data", d}}}},
        {"backup",
         {{{"backup", "keygen", "--key", Path("backup.key")}},
          {{"backup", "--data", d, "--to", Path("backup1"), "--key", Path("backup.key")}},
          {{"backup", "verify", Path("backup1"), "--key", Path("backup.key"), "--public-key",
            d + "/audit.key.pub", "--work", dir_.string()}}}},
        {"restore",
         {{{"restore", "--from", Path("backup1"), "--data", Path("restored"), "--key",
            Path("backup.key")}}}},
        {"media",
         {{{"media", "list", "--data", d}},
          {{"media", "list", "--data", d, "--json"}},
          {{"media", "record", "1", "--event", "taken_out", "--note", "監査室へ貸出", "--data", d}},
          {{"media", "record", "1", "--event", "lost", "--note", "x", "--data", d}}}},
        {"link", {{{"link", "renumber", "--data", d}}, {{"link", "resync", "--data", d}}}},
        {"migrate-store",
         {{{"migrate-store", "--data", d, "--to", "mysql://db/registry"}},
          {{"migrate-store", "--data", d, "--to", "sqlite"}},
          {{"migrate-store", "--data", d, "--to", "sqlite:moved.db"}}}},
        {"keys",
         {{{"keys", "status", "--data", d}},
          {{"keys", "rotate-field-key", "--data", d}},
          {{"keys", "reseal", "--data", d}},
          {{"keys", "retire-field-keys", "--data", d}},
          {{"keys", "rotate-signing-key", "--data", d}},
          {{"keys", "status", "--data", d}},
          {{"keys", "init-token", "--data", d}}}},
    };
  }

  fs::path dir_;
  std::string data_, ca_;
  std::vector<Resident> residents_;
};

TEST_F(SideDoorTest, EveryCommandHasRowsInTheTable) {
  std::set<std::string> commands, rows;
  for (const auto& c : Commands()) commands.insert(c.name);
  for (const auto& [name, runs] : Table()) {
    EXPECT_FALSE(runs.empty()) << name;
    rows.insert(name);
  }
  for (const auto& c : commands) {
    EXPECT_TRUE(rows.count(c)) << "kakunin " << c << " has no row in side_door_test.cc: add the "
                               << "runs that exercise it, so it is checked for resident data";
  }
  for (const auto& r : rows) EXPECT_TRUE(commands.count(r)) << r << " is not a command";
}

TEST_F(SideDoorTest, NoCommandPrintsResidentData) {
  for (const auto& [name, runs] : Table()) {
    SCOPED_TRACE(name);
    // Help and a usage error, for every command.
    for (std::vector<std::string> extra :
         {std::vector<std::string>{"--help"}, std::vector<std::string>{"--no-such-option"}}) {
      extra.insert(extra.begin(), name);
      ExpectNoResidentData(extra, Kakunin(extra), false);
    }
    for (const Row& row : runs) {
      Out r = row.serves ? KakunServing(row.argv) : Kakunin(row.argv, row.in);
      EXPECT_NE(r.status, -1);
      // serve and demo must have listened and stopped cleanly, or they were not really tried.
      if (row.serves) {
        EXPECT_EQ(r.status, 0) << r.err;
      }
      // Since the log's second edition (issue 11) no command prints resident data, `audit
      // search` included: entries name residents by keyed MAC only.
      ExpectNoResidentData(row.argv, r, false);
    }
  }
  // The runs did what they were meant to (a row that only ever failed would prove little).
  Out stats = Kakunin({"stats", "--data", data_, "--json"});
  EXPECT_NE(stats.out.find("\"active\":3"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("\"superseded_versions\":1"), std::string::npos) << stats.out;
  EXPECT_EQ(Kakunin({"audit", "verify", "--data", data_}).status, 0);
  Out gaiji = Kakunin({"gaiji", "list", "--data", data_});
  EXPECT_NE(gaiji.out.find("\"code_point\":\"U+E001\",\"mj_code\":\"MJ012345\""), std::string::npos)
      << gaiji.out << gaiji.err;
}

TEST_F(SideDoorTest, RemovedCommandsExitTwoAndPrintNoResidentData) {
  const std::string before = Read(fs::path(data_) / "registry.db");
  const Resident& r = residents_[0];
  const std::map<std::string, std::vector<std::string>> typical = {
      {"show", {"--data", data_, "--purpose", "registry.maintenance", "--json", r.code}},
      {"search", {"--data", data_, "--purpose", "registry.maintenance", "--kana", r.kana_surname}},
      {"history", {"--data", data_, "--purpose", "registry.maintenance", r.code}},
      {"provide",
       {"--data", data_, "--purpose", "board.school_aid", "--recipient",
        "agency:yamanashi-board-of-education", "--kind", "別表第六", "--items", "name,address",
        r.code}},
      {"provisions", {"--data", data_, "--purpose", "disclosure.self", r.code}},
  };
  ASSERT_EQ(RemovedCommands().size(), typical.size());
  for (const auto& name : RemovedCommands()) {
    SCOPED_TRACE(name);
    for (const auto& c : Commands()) EXPECT_NE(c.name, name) << "a removed command is back";
    ASSERT_TRUE(typical.count(name));
    std::vector<std::string> args = typical.at(name);
    args.insert(args.begin(), name);
    Out out = Kakunin(args);
    EXPECT_EQ(out.status, 2);
    EXPECT_EQ(out.out, "");
    EXPECT_NE(out.err.find("console or the API"), std::string::npos) << out.err;
    // The arguments themselves hold a code or kana; the answer must not repeat them.
    ExpectNoResidentData(args, out, false);
  }
  // Nothing was read, so nothing was recorded.
  EXPECT_EQ(Read(fs::path(data_) / "registry.db"), before);
  Out help = Kakunin({"--help"});
  for (const auto& name : RemovedCommands()) {
    EXPECT_EQ(help.out.find("  " + name + " "), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace kakunin::cli
