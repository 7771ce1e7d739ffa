// Opening a node with bad inputs: every failure is a clear error and leaves the files as
// they were.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"

namespace kakunin::cli {
namespace {

namespace fs = std::filesystem;

struct Out {
  int status;
  std::string out, err;
};

Out Kakunin(std::vector<std::string> args, const std::string& in = "") {
  args.insert(args.begin(), "kakunin");
  std::istringstream is(in);
  std::ostringstream os, es;
  Io io{is, os, es};
  int st = Main(args, io);
  return {st, os.str(), es.str()};
}

std::string Read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kakunin_node_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    data_ = (dir_ / "node").string();
    ASSERT_EQ(Kakunin({"init", "--data", data_, "--prefecture", "19"}).status, 0);
    auto gen = Kakunin({"generate", "--count", "50"});
    auto ing = Kakunin({"ingest", "--data", data_, "--today", "2026-04-01", "-"}, gen.out);
    ASSERT_EQ(ing.status, 0) << ing.err;
    code_ = gen.out.substr(gen.out.find("\"resident_code\":\"") + 17, 11);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path db() const { return fs::path(data_) / "registry.db"; }

  fs::path dir_;
  std::string data_;
  std::string code_;
};

TEST_F(NodeTest, InitMakesPrivateFilesAndRefusesTwice) {
  auto mode = [](const fs::path& p) { return fs::status(p).permissions() & fs::perms::all; };
  EXPECT_EQ(mode(data_), fs::perms::owner_all);
  EXPECT_EQ(mode(fs::path(data_) / "keys"), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(mode(db()), fs::perms::owner_read | fs::perms::owner_write);
  std::string keys = Read(fs::path(data_) / "keys");
  Out again = Kakunin({"init", "--data", data_, "--prefecture", "19"});
  EXPECT_EQ(again.status, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos);
  EXPECT_EQ(Read(fs::path(data_) / "keys"), keys);
}

TEST_F(NodeTest, ShowSearchHistoryStatsWork) {
  EXPECT_EQ(Kakunin({"show", "--data", data_, code_}).status, 2);  // no purpose, no read
  Out show = Kakunin({"show", "--data", data_, "--purpose", "registry.maintenance", "--json", code_});
  ASSERT_EQ(show.status, 0) << show.err;
  EXPECT_NE(show.out.find("\"resident_code\":\"" + code_ + "\""), std::string::npos);
  EXPECT_NE(show.out.find("\"individual_number\":\""), std::string::npos);
  EXPECT_EQ(Kakunin({"show", "--data", data_, "--purpose", "registry.maintenance", "99999999999"}).status, 1);
  Out hist = Kakunin({"history", "--data", data_, "--purpose", "registry.maintenance", "--json", code_});
  EXPECT_EQ(hist.status, 0);
  Out stats = Kakunin({"stats", "--data", data_, "--json"});
  EXPECT_NE(stats.out.find("\"active\":50"), std::string::npos);
  Out search = Kakunin({"search", "--data", data_, "--purpose", "registry.maintenance", "--address", "山梨県",
                        "--limit", "5", "--json"});
  EXPECT_EQ(search.status, 0);
  EXPECT_EQ(std::count(search.out.begin(), search.out.end(), '\n'), 5);
  EXPECT_NE(search.err.find("cut"), std::string::npos);
  EXPECT_EQ(Kakunin({"search", "--data", data_, "--purpose", "registry.maintenance", "--sex", "male"}).status, 2);
}

TEST_F(NodeTest, ReadsNeedACataloguePurposeAndShowOnlyItsFields) {
  Out unknown = Kakunin({"show", "--data", data_, "--purpose", "no.such.purpose", code_});
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.err.find("catalogue"), std::string::npos);
  // board.school_aid: name, sex, birth date, address — no code, number or kana.
  Out show = Kakunin({"show", "--data", data_, "--purpose", "board.school_aid", "--json", code_});
  ASSERT_EQ(show.status, 0) << show.err;
  EXPECT_EQ(show.out.find(code_), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("\"individual_number\":\"\""), std::string::npos) << show.out;
  Out hist = Kakunin({"history", "--data", data_, "--purpose", "board.school_aid", "--json", code_});
  ASSERT_EQ(hist.status, 0);
  EXPECT_EQ(hist.out.find(code_), std::string::npos) << hist.out;
  // provide: the recipient and every item must be the purpose's.
  EXPECT_NE(Kakunin({"provide", "--data", data_, "--purpose", "board.school_aid", "--recipient",
                     "agency:yamanashi-board-of-education", "--kind", "別表第六", "--items",
                     "name,individual_number", code_})
                .status,
            0);
  EXPECT_NE(Kakunin({"provide", "--data", data_, "--purpose", "board.school_aid", "--recipient",
                     "dept:passport", "--kind", "別表第六", "--items", "name", code_})
                .status,
            0);
  EXPECT_EQ(Kakunin({"provide", "--data", data_, "--purpose", "board.school_aid", "--recipient",
                     "agency:yamanashi-board-of-education", "--kind", "別表第六", "--items",
                     "name,address", code_})
                .status,
            0);
}

TEST_F(NodeTest, MissingKeyFileIsAClearErrorAndChangesNothing) {
  std::string before = Read(db());
  fs::rename(fs::path(data_) / "keys", dir_ / "keys.away");
  Out r = Kakunin({"stats", "--data", data_});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("key file not found"), std::string::npos) << r.err;
  EXPECT_EQ(Read(db()), before);
}

TEST_F(NodeTest, WrongKeyIsRefusedBeforeAnythingIsWritten) {
  std::string before = Read(db());
  fs::path other = dir_ / "other";
  ASSERT_EQ(Kakunin({"init", "--data", other.string(), "--prefecture", "19"}).status, 0);
  fs::copy_file(other / "keys", fs::path(data_) / "keys", fs::copy_options::overwrite_existing);
  auto gen = Kakunin({"generate", "--count", "5", "--seed", "99"});
  Out r = Kakunin({"ingest", "--data", data_, "--today", "2026-04-01", "-"}, gen.out);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("key file does not belong"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Read(db()), before);
}

TEST_F(NodeTest, TruncatedDatabaseIsAClearError) {
  std::string bytes = Read(db());
  { std::ofstream(db(), std::ios::binary | std::ios::trunc) << bytes.substr(0, 3000); }
  std::string before = Read(db());
  Out r = Kakunin({"show", "--data", data_, "--purpose", "registry.maintenance", code_});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
  EXPECT_EQ(Read(db()), before);
}

TEST_F(NodeTest, CorruptHeaderIsAClearError) {
  std::string bytes = Read(db());
  for (int i = 0; i < 16; ++i) bytes[i] = 'x';
  { std::ofstream(db(), std::ios::binary | std::ios::trunc) << bytes; }
  Out r = Kakunin({"stats", "--data", data_});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
  EXPECT_EQ(Read(db()), bytes);
}

TEST_F(NodeTest, CorruptPagesAreDetected) {
  std::string bytes = Read(db());
  // Scribble over everything after the first page (the schema survives, the data does not).
  for (size_t i = 4096 + 100; i < bytes.size(); i += 7) bytes[i] = static_cast<char>(0xA5);
  { std::ofstream(db(), std::ios::binary | std::ios::trunc) << bytes; }
  Out r = Kakunin({"search", "--data", data_, "--purpose", "registry.maintenance", "--address", "山梨県"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
}

TEST_F(NodeTest, NotADatabaseIsRefused) {
  { std::ofstream(db(), std::ios::binary | std::ios::trunc) << "just text, not SQLite\n"; }
  Out r = Kakunin({"stats", "--data", data_});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(Read(db()), "just text, not SQLite\n");
}

}  // namespace
}  // namespace kakunin::cli
