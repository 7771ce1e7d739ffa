// The running node's timed checkpoint, with a clock the tests move: no test waits for T.

#include "app/node_server.h"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "app/node.h"
#include "crypto/pki.h"

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
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((*server)->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_GT(::write(fd, "not tls\r\n\r\n", 11), 0);
  char buf[64];
  while (::read(fd, buf, sizeof buf) > 0) {
  }
  ::close(fd);
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
