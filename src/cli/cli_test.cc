// The commands run in-process with injected streams: their output and exit statuses are
// the contract's (spec/notifications.md, "Results").

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/generate.h"
#include "domain/notification_reader.h"

namespace kakunin::cli {
namespace {

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

CliRun Cli(std::vector<std::string> args, const std::string& stdin_text = "") {
  args.insert(args.begin(), "kakunin");
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  Io io{in, out, err};
  int status = Main(args, io);
  return {status, out.str(), err.str()};
}

const char kValid[] =
    R"({"municipality_code":"192015","sequence":1,"kind":"entry","reason":"birth",)"
    R"("change_date":"2026-04-01","resident_code":"24727059608","individual_number":"123456789018",)"
    R"("name":"山田　太郎","sex":"male","birth_date":"2026-04-01","address":"山梨県甲府市丸の内1"})";

TEST(ValidateCommandTest, ContractOutputAndExitStatus) {
  std::string bad = kValid;
  bad.replace(bad.find("123456789018"), 12, "123456789019");
  CliRun r = Cli({"validate", "--today", "2026-11-21", "-"}, std::string(kValid) + "\n" + bad + "\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out,
            "{\"line\":1,\"ok\":true}\n"
            "{\"line\":2,\"ok\":false,\"errors\":[{\"field\":\"individual_number\",\"code\":"
            "\"check_digit\"}]}\n");
  CliRun ok = Cli({"validate", "--today", "2026-11-21", "-"}, std::string(kValid) + "\n");
  EXPECT_EQ(ok.status, 0);
  EXPECT_EQ(ok.out, "{\"line\":1,\"ok\":true}\n");
}

// An abolished code is refused with the contract's line naming its successors (浜松市中区,
// until 2023-12-31 → 中央区); every other byte of the line is as for any error.
TEST(ValidateCommandTest, AbolishedCodePrintsSuccessors) {
  std::string old = kValid;
  old.replace(old.find("192015"), 6, "221317");
  old.replace(old.find("山梨県甲府市丸の内1"), std::string("山梨県甲府市丸の内1").size(),
              "静岡県浜松市中央区元城町103番地の2");
  std::string path = ::testing::TempDir() + "/abolished_code.jsonl";
  {
    std::ofstream f(path, std::ios::binary);
    f << old << "\n";
  }
  CliRun r = Cli({"validate", "--today", "2026-04-01", path});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out,
            "{\"line\":1,\"ok\":false,\"errors\":[{\"field\":\"municipality_code\",\"code\":"
            "\"abolished\",\"successors\":[\"221384\"]}]}\n");
}

TEST(ValidateCommandTest, TodayFixesFutureDate) {
  CliRun r = Cli({"validate", "--today", "2026-03-31", "-"}, std::string(kValid) + "\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("future_date"), std::string::npos);
}

TEST(ValidateCommandTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Cli({"validate"}).status, 2);
  EXPECT_EQ(Cli({"validate", "--format", "xml", "-"}).status, 2);
  EXPECT_EQ(Cli({"validate", "--encoding", "cp932", "-"}).status, 2);  // JSON is UTF-8
  EXPECT_EQ(Cli({"validate", "--today", "tomorrow", "-"}).status, 2);
  EXPECT_EQ(Cli({"validate", "--bogus", "-"}).status, 2);
  CliRun missing = Cli({"validate", "/nonexistent/file.jsonl"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos);
  EXPECT_EQ(Cli({"validate", "--format", "csv", "-"}, "municipality_code,b\n\"open\n").status, 1);
  EXPECT_EQ(Cli({"validate", "--format", "csv", "-"}, "\"bad\"header\n1\n").status, 2);
}

TEST(ValidateCommandTest, ErrorsNeverEchoValues) {
  std::string bad = kValid;
  bad.replace(bad.find("山田"), 6, "\xFF\xFE");
  CliRun r = Cli({"validate", "--today", "2026-11-21", "-"}, bad + "\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out.find("\xFF"), std::string::npos);
  EXPECT_EQ(r.out.find("24727059608"), std::string::npos);
  EXPECT_EQ(r.err, "");
}

// Regression (review): a CSV without a header row had its first record taken for column
// names, which were then echoed in every answer as unknown fields.
TEST(ValidateCommandTest, CsvWithoutHeaderIsRefusedWithoutEcho) {
  CliRun r = Cli({"validate", "--format", "csv", "-"},
                 "192015,1,entry,birth,2026-04-01,24727059608,123456789018,山田　太郎,,male,"
                 "2026-04-01,山梨県甲府市\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.find("山田"), std::string::npos);
  EXPECT_EQ(r.err.find("123456789018"), std::string::npos);
  EXPECT_NE(r.err.find("header"), std::string::npos);
}

// Review: a mistyped argument may be a resident code or a name, and usage errors reach the
// journal: a command, subcommand or option is repeated only when it looks like one.
TEST(CliUsageTest, AMistypedArgumentIsNotRepeatedUnlessItLooksLikeAName) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"03905367160"}, {"audit", "03905367160"},
        {"validate", "-03905367160"}, {"validate", "--03905367160"}, {"keys", "山田太郎"},
        {"backup", "03905367160"}, {"clients", "03905367160"},
        // A number run into an option's name (review finding).
        {"validate", "--n03905367160"}, {"validate", "-x03905367160"}}) {
    CliRun r = Cli(args);
    EXPECT_EQ(r.status, 2) << args.back();
    EXPECT_EQ(r.err.find("03905367160"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("山田"), std::string::npos) << r.err;
  }
  CliRun named = Cli({"validate", "--shoe-size"});
  EXPECT_NE(named.err.find("--shoe-size"), std::string::npos) << named.err;
}

TEST(ValidateCommandTest, UnknownKeysAreNamedOnlyIfTheyLookLikeFieldNames) {
  std::string odd = kValid;
  odd.insert(odd.size() - 1, R"(,"shoe_size":27,"山田　花子":1,"123456789018":2)");
  CliRun r = Cli({"validate", "--today", "2026-11-21", "-"}, odd + "\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("{\"field\":\"shoe_size\",\"code\":\"unknown_field\"}"), std::string::npos);
  EXPECT_EQ(r.out.find("山田"), std::string::npos);
  EXPECT_EQ(r.out.find("123456789018"), std::string::npos);
  EXPECT_NE(r.out.find("(unnamed)"), std::string::npos);
}

TEST(ValidateCommandTest, EmptyInputAcceptsNothingAndSucceeds) {
  CliRun r = Cli({"validate", "-"}, "");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "");
}

TEST(HelpTest, EveryCommandExplainsItselfWithAnExample) {
  CliRun top = Cli({"--help"});
  EXPECT_EQ(top.status, 0);
  for (const auto& c : Commands()) {
    EXPECT_NE(top.out.find(c.name), std::string::npos);
    CliRun h = Cli({c.name, "--help"});
    EXPECT_EQ(h.status, 0) << c.name;
    EXPECT_NE(h.out.find("Example"), std::string::npos) << c.name;
  }
  EXPECT_EQ(Cli({"no-such-command"}).status, 2);
}

TEST(GenerateTest, DeterministicValidUniqueAndGapFree) {
  CliRun a = Cli({"generate", "--count", "3000", "--seed", "5"});
  CliRun b = Cli({"generate", "--count", "3000", "--seed", "5"});
  CliRun c = Cli({"generate", "--count", "3000", "--seed", "6"});
  ASSERT_EQ(a.status, 0);
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);

  CheckOptions options;
  options.today = Date::FromYmd(2026, 4, 1);
  std::istringstream in(a.out);
  NotificationStream stream(in, InputFormat::kJsonLines, InputEncoding::kUtf8, options);
  StreamItem item;
  std::set<std::string> codes, numbers;
  std::map<std::string, uint64_t> last_sequence;
  std::map<Sex, int> sexes;
  std::set<std::string> municipalities;
  int count = 0, elderly = 0, children = 0;
  while (stream.Next(&item)) {
    ASSERT_TRUE(item.result.ok()) << "line " << item.line;
    const Notification& n = *item.result.notification;
    EXPECT_EQ(n.kind, NotificationKind::kEntry);
    EXPECT_TRUE(codes.insert(n.resident_code.str()).second);
    EXPECT_TRUE(numbers.insert(n.individual_number.str()).second);
    EXPECT_EQ(n.sequence, ++last_sequence[n.municipality_code]);  // gap-free per sender
    EXPECT_TRUE(n.name_kana.has_value());
    ++sexes[n.sex];
    municipalities.insert(n.municipality_code);
    int age = 2026 - n.birth_date.year();
    elderly += age >= 65;
    children += age < 15;
    ++count;
  }
  EXPECT_EQ(count, 3000);
  // Believable: both sexes near half, about 29 % aged 65+, about 11 % under 15, most of
  // 山梨県's 27 municipalities present.
  EXPECT_NEAR(sexes[Sex::kMale], 1460, 120);
  EXPECT_NEAR(elderly, 870, 150);
  EXPECT_NEAR(children, 340, 110);
  EXPECT_GE(municipalities.size(), 20u);
}

TEST(GenerateTest, CsvOutputValidatesAsCsv) {
  CliRun g = Cli({"generate", "--count", "200", "--format", "csv"});
  ASSERT_EQ(g.status, 0);
  CliRun v = Cli({"validate", "--format", "csv", "--today", "2026-04-01", "-"}, g.out);
  EXPECT_EQ(v.status, 0) << v.out.substr(0, 300);
  EXPECT_NE(v.out.find("{\"line\":201,\"ok\":true}"), std::string::npos);
}

TEST(GenerateTest, OtherPrefecturesAndBadOptions) {
  CliRun tokyo = Cli({"generate", "--count", "50", "--prefecture", "13"});
  ASSERT_EQ(tokyo.status, 0);
  EXPECT_NE(tokyo.out.find("\"address\":\"東京都"), std::string::npos);
  EXPECT_EQ(Cli({"generate", "--count", "5", "--prefecture", "48"}).status, 2);
  EXPECT_EQ(Cli({"generate"}).status, 2);
  EXPECT_EQ(Cli({"generate", "--count", "x"}).status, 2);
}

}  // namespace
}  // namespace kakunin::cli
