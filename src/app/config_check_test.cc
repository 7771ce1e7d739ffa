// kakunin config check: every problem of a configuration in one run, and none for a good one.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/config_check.h"
#include "app/node.h"
#include "cli/commands.h"

namespace kakunin::cli {
namespace {

namespace fs = std::filesystem;

struct Out {
  int status;
  std::string out, err;
};

Out Kakunin(std::vector<std::string> args) {
  args.insert(args.begin(), "kakunin");
  std::istringstream is;
  std::ostringstream os, es;
  static const app::NodeAccess nodes;
  Io io{is, os, es, &nodes};
  int st = Main(args, io);
  return {st, os.str(), es.str()};
}

class ConfigCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kakunin_cfgcheck_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    data_ = (dir_ / "node").string();
    ASSERT_EQ(Kakunin({"init", "--data", data_, "--prefecture", "19"}).status, 0);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Append(const std::string& text) {
    std::ofstream(data_ + "/kakunin.toml", std::ios::app) << text;
  }
  std::vector<std::string> Check() {
    return app::CheckNodeConfigFile(data_ + "/kakunin.toml", data_);
  }
  static bool Has(const std::vector<std::string>& problems, const std::string& part) {
    for (const auto& p : problems) {
      if (p.find(part) != std::string::npos) return true;
    }
    return false;
  }

  fs::path dir_;
  std::string data_;
};

TEST_F(ConfigCheckTest, WhatInitWritesHasNoProblem) {
  EXPECT_TRUE(Check().empty());
  auto r = Kakunin({"config", "check", "--data", data_});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(": ok"), std::string::npos);
}

// A table with required keys ([upstream]) was reported broken key by key: each key was tried
// alone, without the table's other required keys.
TEST_F(ConfigCheckTest, ACompleteUpstreamTableHasNoProblemAndAMissingKeyIsNamed) {
  for (const char* f : {"national-ca.pem", "link.pem", "link.key"}) {
    std::ofstream(data_ + "/" + f) << "x";
    fs::permissions(data_ + "/" + f, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace);
  }
  Append("\n[upstream]\nurl = \"https://national.example:8445\"\n"
         "ca_file = \"national-ca.pem\"\ncert_file = \"link.pem\"\nkey_file = \"link.key\"\n");
  auto problems = Check();
  EXPECT_TRUE(problems.empty()) << problems.front();
  std::string text;
  {
    std::ifstream in(data_ + "/kakunin.toml");
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  text.replace(text.find("ca_file = \"national-ca.pem\"\n"),
               std::string("ca_file = \"national-ca.pem\"\n").size(), "");
  std::ofstream(data_ + "/kakunin.toml", std::ios::trunc) << text;
  problems = Check();
  EXPECT_TRUE(Has(problems, "ca_file")) << (problems.empty() ? "" : problems.front());
}

// The point of the command: one run lists them all, not the first only.
TEST_F(ConfigCheckTest, EveryProblemAtOnce) {
  std::ofstream(data_ + "/kakunin.toml", std::ios::trunc)
      << "role = \"prefecture\"\nprefecture = 19\n"
         "[checks]\n"
         "colour = \"blue\"\n"
         "[retention]\n"
         "audit_years = 0\n"
         "superseded_yaers = 150\n"
         "[server]\n"
         "port = \"8443\"\n"
         "certificate = \"tls/missing.pem\"\n"
         "key = \"tls/missing.key\"\n"
         "max_connections = 0\n"
         "[console]\n"
         "rp_idd = \"x\"\n"
         "[quotas.purpose.\"Not An Id\"]\n"
         "requests_per_day = 5\n"
         "[typo_table]\n";
  fs::permissions(data_ + "/keys", fs::perms::group_read, fs::perm_options::add);
  auto problems = Check();
  // server.port falls back to 8443 and the console to 8444 for the bind check; on a shared
  // machine another node may hold them, which is a true but unrelated finding.
  std::erase_if(problems, [](const std::string& p) { return p.find("is in use") != p.npos; });
  for (const char* expected :
       {"unknown key 'checks.colour'", "retention.audit_years must be an integer",
        "unknown key 'retention.superseded_yaers'", "server.port must be an integer",
        "server.client_ca is required", "server.max_connections must be an integer",
        "unknown key 'console.rp_idd'", "not a purpose id", "unknown key 'typo_table'",
        "is open to other users (mode 0640)", "server.certificate", "server.key"}) {
    EXPECT_TRUE(Has(problems, expected)) << "missing: " << expected;
  }
  EXPECT_EQ(problems.size(), 12u) << ::testing::PrintToString(problems);
  auto r = Kakunin({"config", "check", "--data", data_});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find(" problems\n"), std::string::npos) << r.out;
}

TEST_F(ConfigCheckTest, RoleAndPrefectureProblemsDoNotHideTheRest) {
  std::string text = "role = \"county\"\nprefecture = 48\n[retention]\nremoved_years = -1\n";
  std::ofstream(data_ + "/kakunin.toml", std::ios::trunc) << text;
  auto problems = Check();
  EXPECT_TRUE(Has(problems, "'role' must be")) << ::testing::PrintToString(problems);
  EXPECT_TRUE(Has(problems, "retention.removed_years")) << ::testing::PrintToString(problems);
}

TEST_F(ConfigCheckTest, SyntaxErrorIsOneProblemWithTheLine) {
  Append("[server\n");
  auto problems = Check();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("syntax error at line"), std::string::npos);
}

TEST_F(ConfigCheckTest, MissingFileAndMissingNodeFiles) {
  auto r = Kakunin({"config", "check", "--config", (dir_ / "nothing.toml").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("does not exist"), std::string::npos);
  fs::remove(data_ + "/audit.key");
  auto problems = Check();
  EXPECT_TRUE(Has(problems, "signing_key")) << ::testing::PrintToString(problems);
}

TEST_F(ConfigCheckTest, PortsTakenPrivilegedOrShared) {
  // A port held by someone else (this test's own socket).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int taken = ntohs(a.sin_port);
  fs::create_directories(data_ + "/tls");
  for (const char* f : {"/tls/s.pem", "/tls/ca.pem"}) std::ofstream(data_ + f) << "x";
  std::ofstream(data_ + "/tls/s.key") << "x";
  fs::permissions(data_ + "/tls/s.key", fs::perms::owner_read | fs::perms::owner_write,
                  fs::perm_options::replace);
  Append("[server]\nport = " + std::to_string(taken) +
         "\ncertificate = \"tls/s.pem\"\nkey = \"tls/s.key\"\nclient_ca = \"tls/ca.pem\"\n"
         "[console]\nport = 80\n");
  auto problems = Check();
  EXPECT_TRUE(Has(problems, "is in use")) << ::testing::PrintToString(problems);
  EXPECT_TRUE(Has(problems, "console.port 80 is below 1024"))
      << ::testing::PrintToString(problems);
  ::close(fd);
  std::ofstream(data_ + "/kakunin.toml", std::ios::app) << "";
  // Both listeners on one port.
  std::string text;
  {
    std::ifstream in(data_ + "/kakunin.toml");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  text.replace(text.find("port = 80"), 9, "port = " + std::to_string(taken));
  std::ofstream(data_ + "/kakunin.toml", std::ios::trunc) << text;
  problems = Check();
  EXPECT_TRUE(Has(problems, "is server.port too")) << ::testing::PrintToString(problems);
}

TEST(VersionTest, PrintsTheProjectVersion) {
  auto r = Kakunin({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("kakunin 0.", 0), 0u) << r.out;
}

}  // namespace
}  // namespace kakunin::cli
