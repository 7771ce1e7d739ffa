// The running node's timed checkpoint, with a clock the tests move: no test waits for T.

#include "app/node_server.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <filesystem>
#include <thread>

#include "api/service.h"
#include "app/node.h"
#include "audit/checkpoint.h"
#include "core/file.h"
#include "crypto/pki.h"
#include "support/test_client.h"

namespace kakunin::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int64_t kSecond = 1000000;

// Thread-safe, unlike FixedClock: the timer thread reads it while the test moves it.
class MovableClock final : public Clock {
 public:
  explicit MovableClock(int64_t micros) : micros_(micros) {}
  int64_t NowMicros() const override { return micros_.load(); }
  void Advance(int64_t micros) { micros_ += micros; }

 private:
  std::atomic<int64_t> micros_;
};

TEST(CheckpointTimerTest, TicksEachTimeTheClockPassesTheInterval) {
  MovableClock clock(1000 * kSecond);
  std::atomic<int> ticks{0};
  CheckpointTimer timer(&clock, 60 * kSecond, [&] { ++ticks; });
  ASSERT_TRUE(timer.CheckNow());
  EXPECT_EQ(ticks.load(), 0);
  clock.Advance(59 * kSecond);
  ASSERT_TRUE(timer.CheckNow());
  EXPECT_EQ(ticks.load(), 0);
  clock.Advance(1 * kSecond);
  ASSERT_TRUE(timer.CheckNow());
  EXPECT_EQ(ticks.load(), 1);
  ASSERT_TRUE(timer.CheckNow());
  EXPECT_EQ(ticks.load(), 1);  // the next one is T after the tick
  clock.Advance(60 * kSecond);
  ASSERT_TRUE(timer.CheckNow());
  EXPECT_EQ(ticks.load(), 2);
  timer.Stop();
  clock.Advance(600 * kSecond);
  EXPECT_FALSE(timer.CheckNow());
  EXPECT_EQ(ticks.load(), 2);
}

TEST(CheckpointTimerTest, StopsPromptlyWhileWaitingForALongInterval) {
  MovableClock clock(0);
  CheckpointTimer timer(&clock, int64_t{3600} * kSecond, [] {});
  ASSERT_TRUE(timer.CheckNow());
  timer.Stop();  // would hang the test for an hour if the wait ignored it
}

// A node with a [server] table whose certificates the PKI module made.
class IdleNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kakunin_node_server_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string data = (dir_ / "node").string();
    ASSERT_TRUE(app::InitNode(data, 19, "").ok());
    auto node = app::OpenNode(data);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    node_ = std::move(*node);
    const std::string ca = (dir_ / "ca").string();
    ASSERT_TRUE(crypto::CreateCertificateAuthority(ca, "Test CA", 3650).ok());
    ASSERT_TRUE(crypto::IssueServerCertificate(ca, {"localhost"}, {"127.0.0.1"}, 30,
                                               (dir_ / "server.pem").string(),
                                               (dir_ / "server.key").string())
                    .ok());
    config_.present = true;
    config_.port = 0;
    config_.certificate = (dir_ / "server.pem").string();
    config_.key = (dir_ / "server.key").string();
    config_.client_ca = ca + "/ca.pem";
    config_.crl = ca + "/crl.pem";
    config_.io_threads = 1;
    config_.worker_threads = 1;
  }
  void TearDown() override {
    node_.reset();
    fs::remove_all(dir_);
  }

  // Writes two operation-log entries (the first may sign a checkpoint, the second does not:
  // it comes less than T after it).
  void WriteEntries() {
    for (const char* spki : {"aa", "bb"}) {
      registry::Client c;
      c.spki_sha256 = std::string(64, spki[0]);
      c.kind = registry::ClientKind::kNational;
      c.name = "機構";
      ASSERT_TRUE(node_->gateway->Register(c, node_->actor).ok());
    }
  }

  audit::VerifyReport Verify() {
    auto reader = node_->store->OpenReader();
    EXPECT_TRUE(reader.ok());
    auto report = audit::VerifyLog(**reader, node_->signer->public_key());
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : audit::VerifyReport{};
  }

  fs::path dir_;
  std::unique_ptr<app::Node> node_;
  registry::ServerConfig config_;
};

TEST_F(IdleNodeTest, IdleRunningNodeSignsItsLastEntriesAfterTheInterval) {
  MovableClock clock(node_->clock.NowMicros());
  NodeServerOptions options;
  options.clock = &clock;
  options.checkpoint_interval_micros = 60 * kSecond;
  std::vector<std::string> reports;
  options.report = [&](const std::string& line) { reports.push_back(line); };
  auto server = NodeServer::Start(node_.get(), config_, nullptr, {}, options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  WriteEntries();
  // The node goes quiet: the last entry is not under a signature yet.
  audit::VerifyReport before = Verify();
  EXPECT_FALSE(before.ok);
  EXPECT_NE(before.problem.find("not covered"), std::string::npos) << before.problem;
  ASSERT_TRUE((*server)->checkpoint_timer().CheckNow());
  EXPECT_FALSE(Verify().ok);  // not due yet

  clock.Advance(60 * kSecond);
  ASSERT_TRUE((*server)->checkpoint_timer().CheckNow());
  audit::VerifyReport after = Verify();
  EXPECT_TRUE(after.ok) << after.problem;
  EXPECT_TRUE((*server)->Stop().ok());
  EXPECT_TRUE(reports.empty()) << reports.front();
}

// Found in review: entries signed while the node served were cut from the database with their
// checkpoints, and the node signed the shorter log, kept it in audit.head at shutdown, and it
// verified clean. The timer now keeps each checkpoint the committed log extends in audit.head
// (trusted by the signer from then on), and a log cut behind it is signed no more: the timer
// says so, and audit.head keeps the checkpoint the log no longer extends.
TEST_F(IdleNodeTest, TheTimerKeepsTheNewestCheckpointAndSignsNoLogCutBehindIt) {
  MovableClock clock(node_->clock.NowMicros());
  NodeServerOptions options;
  options.clock = &clock;
  options.checkpoint_interval_micros = 60 * kSecond;
  std::vector<std::string> reports;
  options.report = [&](const std::string& line) { reports.push_back(line); };
  auto server = NodeServer::Start(node_.get(), config_, nullptr, {}, options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  WriteEntries();
  clock.Advance(60 * kSecond);
  ASSERT_TRUE((*server)->checkpoint_timer().CheckNow());
  const std::string head_path = (dir_ / "node" / "audit.head").string();
  auto head = [&]() -> int64_t {
    auto text = ReadFileAtMost(head_path, 64 * 1024);
    if (!text.ok()) return -1;
    auto cp = audit::CheckpointFromJson(*text);
    return cp.ok() ? cp->tree_size : -2;
  };
  auto log_size = [&]() -> int64_t {
    auto reader = node_->store->OpenReader();
    if (!reader.ok()) return -1;
    auto size = (*reader)->AuditSize();
    return size.ok() ? *size : -1;
  };
  const int64_t first = log_size();
  EXPECT_EQ(head(), first);  // kept while serving, not only at shutdown
  // More entries, a newer checkpoint kept.
  for (const char* spki : {"cc", "dd"}) {
    registry::Client c;
    c.spki_sha256 = std::string(64, spki[0]);
    c.kind = registry::ClientKind::kNational;
    c.name = "機構";
    ASSERT_TRUE(node_->gateway->Register(c, node_->actor).ok());
  }
  clock.Advance(60 * kSecond);
  ASSERT_TRUE((*server)->checkpoint_timer().CheckNow());
  const int64_t size = log_size();
  ASSERT_GT(size, first);
  EXPECT_EQ(head(), size);
  EXPECT_TRUE(reports.empty()) << reports.front();
  // Cut back to the first checkpoint, which is left in place (found in review: the timer then
  // kept that older one in audit.head, and after a restart the node trusted the shorter log).
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "node" / "registry.db").c_str(), &db), SQLITE_OK);
    const std::string cut = std::to_string(first);
    for (const std::string& sql :
         {"DELETE FROM audit_targets WHERE seq >= " + cut,
          "DELETE FROM audit_entries WHERE seq >= " + cut,
          "DELETE FROM audit_checkpoints WHERE tree_size > " + cut,
          "DELETE FROM audit_nodes WHERE ((idx + 1) << level) > " + cut}) {
      EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    }
    sqlite3_close(db);
  }
  clock.Advance(60 * kSecond);
  ASSERT_TRUE((*server)->checkpoint_timer().CheckNow());
  ASSERT_EQ(log_size(), first);
  // Nothing to sign (the log ends at its newest checkpoint), and that one is not kept.
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("older than the one this node signed"), std::string::npos)
      << reports[0];
  // An entry appended now is not signed: its checkpoint would sign the shorter log.
  registry::Client c;
  c.spki_sha256 = std::string(64, 'e');
  c.kind = registry::ClientKind::kNational;
  c.name = "機構";
  ASSERT_TRUE(node_->gateway->Register(c, node_->actor).ok());
  clock.Advance(60 * kSecond);
  ASSERT_TRUE((*server)->checkpoint_timer().CheckNow());
  ASSERT_GE(reports.size(), 2u);
  EXPECT_NE(reports[1].find("no longer extends the checkpoint this node signed"),
            std::string::npos)
      << reports[1];
  EXPECT_EQ(head(), size);
  (void)(*server)->Stop();
  EXPECT_EQ(head(), size);  // nor at shutdown
}

// Fix review: a command run once with the clock set ahead dated every later entry at that time
// (entries' times never go back), and nothing said so. The server warns at start.
TEST_F(IdleNodeTest, AClockBehindTheLogsNewestEntryIsReportedAtStart) {
  WriteEntries();
  MovableClock clock(node_->clock.NowMicros() - 3600 * kSecond);  // an hour behind the log
  NodeServerOptions options;
  options.clock = &clock;
  std::vector<std::string> reports;
  options.report = [&](const std::string& line) { reports.push_back(line); };
  auto server = NodeServer::Start(node_.get(), config_, nullptr, {}, options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("warning: the operation log's newest entry is dated"),
            std::string::npos)
      << reports[0];
  EXPECT_NE(reports[0].find("minutes after this machine's clock"), std::string::npos);
  EXPECT_TRUE((*server)->Stop().ok());
}

// A person tailing the access log saw nothing for minutes (stdio's buffer): it is flushed every
// second.
TEST_F(IdleNodeTest, TheAccessLogReachesItsFileWithinASecond) {
  MovableClock clock(node_->clock.NowMicros());
  NodeServerOptions options;
  options.clock = &clock;
  const fs::path path = dir_ / "access.log";
  std::FILE* log = std::fopen(path.c_str(), "w");
  ASSERT_NE(log, nullptr);
  auto server = NodeServer::Start(node_.get(), config_, log, {}, options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  // A connection that is not TLS: the server logs a refused handshake.
  ASSERT_TRUE(http::testing::SendNotTls((*server)->port()));
  // The line is written by the server's thread at some moment; each second of the (moved)
  // clock flushes whatever is there. A condition awaited with a generous bound (10 s).
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {
    clock.Advance(kSecond);
    ASSERT_TRUE((*server)->access_log_timer().CheckNow());
    seen = fs::file_size(path) > 0;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(seen) << "the access log stayed in its buffer";
  EXPECT_TRUE((*server)->Stop().ok());
  std::fclose(log);
}

std::string ReadAll(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "";
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// A file for one AccessLog under a test clock, removed afterwards.
struct TempLog {
  explicit TempLog(const std::string& name)
      : path(fs::temp_directory_path() /
             ("kakunin-access-" + name + "-" + std::to_string(::getpid()) + ".log")),
        file(std::fopen(path.c_str(), "w")),
        log(file, &clock) {}
  ~TempLog() {
    if (file != nullptr) std::fclose(file);
    fs::remove(path);
  }
  std::string Text() const { return ReadAll(path); }

  fs::path path;
  MovableClock clock{1000 * kSecond};
  std::FILE* file;
  api::AccessLog log;
};

http::Event ConnectionEvent(http::Event::Kind kind, std::string remote) {
  http::Event e{};
  e.kind = kind;
  e.remote_address = std::move(remote);
  return e;
}

TEST(AccessLogTest, NetworksAreIpv4Slash24AndIpv6Slash64) {
  EXPECT_EQ(api::AccessLog::NetworkOf("203.0.113.77"), "203.0.113.0/24");
  EXPECT_EQ(api::AccessLog::NetworkOf("::ffff:203.0.113.77"), "203.0.113.0/24");
  EXPECT_EQ(api::AccessLog::NetworkOf("2001:db8:1:2:3:4:5:6"), "2001:0db8:0001:0002::/64");
  EXPECT_EQ(api::AccessLog::NetworkOf("2001:db8:1:2::9"), "2001:0db8:0001:0002::/64");
  EXPECT_EQ(api::AccessLog::NetworkOf(""), "?");
  EXPECT_EQ(api::AccessLog::NetworkOf("not an address"), "?");
  EXPECT_EQ(api::AccessLog::NetworkOf("203.0.113.77", /*wide=*/true), "203.0.0.0/16");
  EXPECT_EQ(api::AccessLog::NetworkOf("2001:db8:1:2::9", /*wide=*/true), "2001:0db8::/32");
}

// A churn of connections with no certificate (each a refused handshake or a timeout) grew a file
// access log by ~180 bytes each, 282 MB in three minutes of a reviewer's tests: a network's
// first few a second are written, the rest counted into one line.
TEST(AccessLogTest, AChurnOfConnectionEventsIsCountedNotWrittenLineByLine) {
  TempLog t("churn");
  ASSERT_NE(t.file, nullptr);
  MovableClock& clock = t.clock;
  api::AccessLog& log = t.log;
  const int n = api::AccessLog::kConnectionEventsPerSecond;
  // 200 from one /24, spread over its addresses; 3 from another network.
  for (int i = 0; i < 200; ++i) {
    log.Write(ConnectionEvent(i % 2 ? http::Event::kTimeout : http::Event::kRefusedHandshake,
                              "198.51.100." + std::to_string(i % 250)));
  }
  for (int i = 0; i < 3; ++i) log.Write(ConnectionEvent(http::Event::kTimeout, "192.0.2.1"));
  // Requests are never held back.
  for (int i = 0; i < 20; ++i) {
    http::Event r = ConnectionEvent(http::Event::kRequest, "198.51.100.1");
    r.method = "GET";
    r.path = "/healthz";
    r.status = 200;
    log.Write(r);
  }
  log.Flush();  // within the second: nothing summarised yet
  std::string text = t.Text();
  EXPECT_EQ(Count(text, "\"remote\":\"198.51.100."), static_cast<size_t>(n + 20));
  EXPECT_EQ(Count(text, "\"remote\":\"192.0.2.1\""), 3u);
  EXPECT_EQ(Count(text, "\"event\":\"suppressed\""), 0u);

  clock.Advance(kSecond);
  log.Flush();
  text = t.Text();
  EXPECT_EQ(Count(text, "\"event\":\"suppressed\""), 1u) << text;
  // 100 of each kind; the first n written alternate between them.
  EXPECT_NE(text.find("\"network\":\"198.51.100.0/24\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"refused_handshake\":" + std::to_string(100 - n / 2)), std::string::npos)
      << text;
  EXPECT_NE(text.find("\"timeout\":" + std::to_string(100 - n / 2)), std::string::npos) << text;

  // The next second starts afresh; its count is written at shutdown (Flush(true)).
  for (int i = 0; i < n + 5; ++i) log.Write(ConnectionEvent(http::Event::kTimeout, "198.51.100.9"));
  log.Flush();
  EXPECT_EQ(Count(t.Text(), "\"event\":\"suppressed\""), 1u);
  log.Flush(/*all=*/true);
  text = t.Text();
  EXPECT_EQ(Count(text, "\"event\":\"suppressed\""), 2u);
  EXPECT_NE(text.find("\"timeout\":5}"), std::string::npos) << text;
  EXPECT_EQ(Count(text, "\"remote\":\"198.51.100."), static_cast<size_t>(2 * n + 20));
}

// A refused certificate the client CA issued (expired, revoked) is named with its reason: bare
// connects and self-made certificates, from its network or from everywhere, cannot push it out
// of the log (found in review: eight plain-text connects, then eight self-signed certificates,
// hid an expired one's attempt).
TEST(AccessLogTest, AClientCaCertificatesAttemptIsNotPushedOut) {
  TempLog t("cert");
  ASSERT_NE(t.file, nullptr);
  MovableClock& clock = t.clock;
  api::AccessLog& log = t.log;
  const int n = api::AccessLog::kConnectionEventsPerSecond;
  const int global = api::AccessLog::kConnectionEventLinesPerSecond;
  // Bare connects from many networks: the node's budget for the second is spent.
  for (int i = 0; i < 2 * global; ++i) {
    log.Write(ConnectionEvent(http::Event::kRefusedHandshake,
                              "203.0." + std::to_string(i + 10) + ".7"));
  }
  auto refused = [](const std::string& remote, char c, bool client_ca, const char* why) {
    http::Event e = ConnectionEvent(http::Event::kRefusedHandshake, remote);
    e.client_spki_sha256 = std::string(64, c);
    e.detail = why;
    e.client_ca_issued = client_ca;
    return e;
  };
  // Self-signed certificates, eight from each of eight networks and from the target's own.
  for (int k = 0; k < 9; ++k) {
    for (int i = 0; i < n; ++i) {
      log.Write(refused(k < 8 ? "198.18." + std::to_string(k) + ".1" : "203.0.5.20", 'j', false,
                        "self-signed certificate"));
    }
  }
  log.Write(refused("203.0.5.9", 'a', true, "certificate has expired"));
  for (int i = 0; i < n + 2; ++i) log.Write(refused("203.0.5.10", 'b', true, "certificate revoked"));
  log.Flush();
  std::string text = t.Text();
  EXPECT_EQ(Count(text, "\"event\":\"refused_handshake\""), static_cast<size_t>(global + n));
  EXPECT_EQ(Count(text, "self-signed certificate"), 0u);
  EXPECT_NE(text.find("\"client\":\"" + std::string(64, 'a') + "\""), std::string::npos) << text;
  EXPECT_EQ(Count(text, "certificate has expired"), 1u);
  EXPECT_EQ(Count(text, "certificate revoked"), static_cast<size_t>(n - 1));
  clock.Advance(kSecond);
  log.Flush();
  text = t.Text();
  // The target network held back its eight self-signed and three of the client CA's.
  EXPECT_NE(text.find("\"network\":\"203.0.5.0/24\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"refused_handshake\":" + std::to_string(n + 3) +
                      ",\"client_ca_certificates\":3}"),
            std::string::npos)
      << text;
}

// The count lines name first the networks that held back refusals of client-CA certificates:
// bare connects from many networks, holding back more, do not push them into "*" (found in
// review).
TEST(AccessLogTest, CountsOfClientCaRefusalsAreNamedFirst) {
  TempLog t("rank");
  ASSERT_NE(t.file, nullptr);
  MovableClock& clock = t.clock;
  api::AccessLog& log = t.log;
  const int n = api::AccessLog::kConnectionEventsPerSecond;
  for (int k = 0; k < 40; ++k) {
    for (int i = 0; i < 3 * n; ++i) {
      log.Write(ConnectionEvent(http::Event::kTimeout, "198.51." + std::to_string(k) + ".1"));
    }
  }
  http::Event expired = ConnectionEvent(http::Event::kRefusedHandshake, "192.0.2.9");
  expired.client_spki_sha256 = std::string(64, 'e');
  expired.detail = "certificate has expired";
  expired.client_ca_issued = true;
  for (int i = 0; i < n + 1; ++i) log.Write(expired);
  clock.Advance(kSecond);
  log.Flush();
  const std::string text = t.Text();
  EXPECT_NE(text.find("\"network\":\"192.0.2.0/24\",\"since\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"refused_handshake\":1,\"client_ca_certificates\":1}"), std::string::npos);
}

// All networks together write a bounded number of lines a second, counts included (found in
// review: 4,110 networks wrote 4,104 lines in 0.7 s, then as many `suppressed` lines each second),
// and the table of networks stays bounded: past it, a wider prefix, then "*".
TEST(AccessLogTest, ManyNetworksShareTheNodesBudgetAndTheTableStaysBounded) {
  TempLog t("many");
  ASSERT_NE(t.file, nullptr);
  MovableClock& clock = t.clock;
  api::AccessLog& log = t.log;
  const size_t max = api::AccessLog::kMaxNetworks;
  const size_t wide = api::AccessLog::kMaxWideNetworks;
  const size_t global = api::AccessLog::kConnectionEventLinesPerSecond;
  const size_t shown = api::AccessLog::kSummaryLinesPerFlush;
  // The table's networks: 10.0.0.0/24 … 10.15.255.0/24.
  for (size_t i = 0; i < max; ++i) {
    log.Write(ConnectionEvent(http::Event::kTimeout, "10." + std::to_string(i / 256 % 256) + "." +
                                                         std::to_string(i % 256) + ".1"));
  }
  // Then a wider prefix each: 11.0.0.0/16 … (wide of them), then ten together as "*".
  for (size_t i = 0; i < wide + 10; ++i) {
    log.Write(ConnectionEvent(http::Event::kTimeout, std::to_string(11 + i / 256) + "." +
                                                         std::to_string(i % 256) + ".3.1"));
  }
  // More of 11.0.0.0/16, from other /24s of it: one window.
  for (int i = 0; i < 20; ++i) {
    log.Write(ConnectionEvent(http::Event::kTimeout, "11.0." + std::to_string(100 + i) + ".1"));
  }
  log.Flush();
  std::string text = t.Text();
  EXPECT_EQ(Count(text, "\"event\":\"timeout\""), global) << "the node's budget for the second";
  clock.Advance(kSecond);
  log.Flush();
  text = t.Text();
  // One line for each of the networks that held back most, one for all the others.
  EXPECT_EQ(Count(text, "\"event\":\"suppressed\""), shown + 1);
  EXPECT_NE(text.find("\"network\":\"11.0.0.0/16\",\"since\":"), std::string::npos);
  EXPECT_NE(text.find(",\"timeout\":21}"), std::string::npos) << "11.0.0.0/16: 1 + 20";
  const size_t others = (max - global) + wide - shown;  // each held back one
  EXPECT_NE(text.find("\"network\":\"*\",\"networks\":" + std::to_string(others + 1) + ","),
            std::string::npos)
      << text.substr(text.size() > 600 ? text.size() - 600 : 0);
  EXPECT_NE(text.find(",\"timeout\":" + std::to_string(others + 10) + "}"), std::string::npos);
  // Every window was summarised and dropped: the next second starts from an empty table, so a
  // network of its own again.
  log.Write(ConnectionEvent(http::Event::kTimeout, "12.34.56.78"));
  log.Flush(/*all=*/true);
  EXPECT_NE(t.Text().find("\"remote\":\"12.34.56.78\""), std::string::npos);
}

// The node's access log, end to end: connections that are not TLS, one after another from the
// loopback address, write a few lines a second and one count.
TEST_F(IdleNodeTest, AChurnOfRefusedHandshakesWritesAFewLinesAndACount) {
  MovableClock clock(node_->clock.NowMicros());
  NodeServerOptions options;
  options.clock = &clock;
  const fs::path path = dir_ / "access.log";
  std::FILE* log = std::fopen(path.c_str(), "w");
  ASSERT_NE(log, nullptr);
  auto server = NodeServer::Start(node_.get(), config_, log, {}, options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  constexpr int kConnects = 60;
  for (int i = 0; i < kConnects; ++i) ASSERT_TRUE(http::testing::SendNotTls((*server)->port()));
  // Every refusal is counted by the metrics; each is written or counted once the server has
  // seen it (a condition awaited with a generous bound).
  for (int i = 0; i < 500; ++i) {
    if ((*server)->metrics().Render(false).find("kind=\"handshake\"} " +
                                                std::to_string(kConnects)) != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE((*server)->Stop().ok());
  std::fclose(log);
  const std::string text = ReadAll(path);
  const size_t lines = Count(text, "\"event\":\"refused_handshake\"");
  EXPECT_EQ(lines, static_cast<size_t>(api::AccessLog::kConnectionEventsPerSecond)) << text;
  EXPECT_NE(text.find("\"event\":\"suppressed\",\"network\":\"127.0.0.0/24\""), std::string::npos)
      << text;
  EXPECT_NE(text.find("\"refused_handshake\":" + std::to_string(kConnects - lines)),
            std::string::npos)
      << text;
}

TEST_F(IdleNodeTest, FailedStartLeavesNothingRunningAndDoesNotCrash) {
  // The destructor of a half-made NodeServer used to call Stop() on its null http::Server.
  config_.certificate = (dir_ / "missing.pem").string();
  auto server = NodeServer::Start(node_.get(), config_, nullptr);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("server certificate"), std::string::npos)
      << server.status().message();
  // The node is usable as before: writes go straight to the store again.
  WriteEntries();
}

}  // namespace
}  // namespace kakunin::app
