// Opening a node with bad inputs: every failure is a clear error and leaves the files as
// they were.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <sqlite3.h>

#include "app/node.h"
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
  static const app::NodeAccess nodes;
  Io io{is, os, es, &nodes};
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
  const auto rw = fs::perms::owner_read | fs::perms::owner_write;
  EXPECT_EQ(mode(data_), fs::perms::owner_all);
  EXPECT_EQ(mode(fs::path(data_) / "keys"), rw);
  EXPECT_EQ(mode(fs::path(data_) / "audit.key"), rw);
  EXPECT_EQ(mode(fs::path(data_) / "kakunin.toml"), rw);
  EXPECT_EQ(mode(db()), rw);
  std::string keys = Read(fs::path(data_) / "keys");
  Out again = Kakunin({"init", "--data", data_, "--prefecture", "19"});
  EXPECT_EQ(again.status, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos);
  EXPECT_EQ(Read(fs::path(data_) / "keys"), keys);
}

// [audit] map_every_checkpoint = true: the periodic checkpoints (each 1,000 entries) sign the
// resident map too. Without it they do not, which the first ingest shows.
TEST_F(NodeTest, MapEveryCheckpointMakesEveryCheckpointSignTheMap) {
  // A node of its own, fed one generated file in two halves (sequences continue).
  const std::string data = (dir_ / "node2").string();
  ASSERT_EQ(Kakunin({"init", "--data", data, "--prefecture", "19"}).status, 0);
  auto unsigned_maps = [&] {
    sqlite3* conn = nullptr;
    const std::string path = (fs::path(data) / "registry.db").string();
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(conn,
                                 "SELECT count(*) FROM audit_checkpoints WHERE map_root IS NULL",
                                 -1, &s, nullptr),
              SQLITE_OK);
    int64_t n = -1;
    if (s != nullptr && sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(conn);
    return n;
  };
  const std::string all = Kakunin({"generate", "--count", "2400", "--seed", "11"}).out;
  size_t cut = 0;
  for (int i = 0; i < 1200; ++i) cut = all.find('\n', cut) + 1;
  auto ingest = [&](const std::string& lines) {
    auto ing = Kakunin({"ingest", "--data", data, "--today", "2026-04-01", "-"}, lines);
    ASSERT_EQ(ing.status, 0) << ing.err;
  };
  ingest(all.substr(0, cut));
  const int64_t before = unsigned_maps();
  EXPECT_GE(before, 1);  // the default: a periodic checkpoint without the map
  {
    std::ofstream toml(fs::path(data) / "kakunin.toml", std::ios::app);
    toml << "\n[audit]\nmap_every_checkpoint = true\n";
  }
  ingest(all.substr(cut));
  EXPECT_EQ(unsigned_maps(), before);  // every checkpoint since signs the map
  auto verify = Kakunin({"audit", "verify", "--data", data});
  EXPECT_EQ(verify.status, 0) << verify.out << verify.err;
}

// A national node whose configuration names no catalogue uses the national sample, never the
// prefecture's (review: it then offered registry.maintenance, every item, open to operators, for
// the whole country).
TEST_F(NodeTest, ANationalNodeWithoutACatalogueUsesTheNationalSample) {
  const std::string data = (dir_ / "national").string();
  ASSERT_EQ(Kakunin({"init", "--data", data, "--role", "national"}).status, 0);
  const fs::path toml = fs::path(data) / "kakunin.toml";
  std::string config = Read(toml);
  const size_t at = config.find("\npurposes =");
  ASSERT_NE(at, std::string::npos) << config;
  config.erase(at + 1, config.find('\n', at + 1) - at);
  {
    std::ofstream out(toml, std::ios::binary | std::ios::trunc);
    out << config;
  }
  fs::remove(fs::path(data) / "purposes.toml");
  Out listed = Kakunin({"purposes", "--data", data});
  ASSERT_EQ(listed.status, 0) << listed.err;
  EXPECT_NE(listed.out.find("nenkin.pension"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("registry.maintenance"), std::string::npos) << listed.out;
  // The listing says which purposes a registered system may take (systems = true).
  Out json = Kakunin({"purposes", "--data", data_, "--json"});
  ASSERT_EQ(json.status, 0) << json.err;
  auto line_of = [&](const std::string& id) {
    const size_t at = json.out.find("{\"id\":\"" + id + "\"");
    return at == std::string::npos ? std::string() : json.out.substr(at, json.out.find('\n', at) - at);
  };
  EXPECT_NE(line_of("registry.maintenance").find("\"open_to_systems\":false"), std::string::npos)
      << json.out;
  EXPECT_NE(line_of("pref.passport").find("\"open_to_systems\":true"), std::string::npos);
  EXPECT_NE(line_of("board.school_aid").find("\"open_to_systems\":true"), std::string::npos);
}

// The catalogue decides who reads what; a change of it is recorded when the node is next opened
// (review: a host could add `systems = true` to registry.maintenance and restart, leaving no
// trace). A comment changes nothing.
TEST_F(NodeTest, AChangeOfThePurposeCatalogueIsRecorded) {
  auto recorded = [&] {
    Out found = Kakunin({"audit", "search", "--data", data_, "--action", "config.purposes"});
    EXPECT_EQ(found.status, 0) << found.err;
    return found.out;
  };
  EXPECT_EQ(recorded(), "");  // init remembered the catalogue it began with
  const fs::path toml = fs::path(data_) / "purposes.toml";
  std::string catalogue = Read(toml);
  {
    std::ofstream out(toml, std::ios::binary | std::ios::app);
    out << "\n# a comment\n";
  }
  EXPECT_EQ(recorded(), "");
  const std::string id = "id = \"registry.maintenance\"";
  const size_t at = catalogue.find(id);
  ASSERT_NE(at, std::string::npos);
  const size_t fields = catalogue.find("\n[[purpose]]", at);
  ASSERT_NE(fields, std::string::npos);
  catalogue.insert(fields, "\nsystems = true");
  {
    std::ofstream out(toml, std::ios::binary | std::ios::trunc);
    out << catalogue;
  }
  const std::string once = recorded();
  EXPECT_NE(once.find("\"action\":\"config.purposes\""), std::string::npos) << once;
  EXPECT_NE(once.find("previous="), std::string::npos) << once;
  EXPECT_EQ(once.find("previous=none"), std::string::npos) << once;
  EXPECT_EQ(recorded(), once);  // recorded once, not at every open
  EXPECT_EQ(Kakunin({"audit", "verify", "--data", data_}).status, 0);
}

// Reads of resident data are use cases of the registry (the console and the API call them);
// the host's command line has none. The registry over an opened node reads what was ingested.
TEST_F(NodeTest, StatsCountAndTheRegistryReadsWhatWasIngested) {
  Out stats = Kakunin({"stats", "--data", data_, "--json"});
  ASSERT_EQ(stats.status, 0) << stats.err;
  EXPECT_NE(stats.out.find("\"active\":50"), std::string::npos) << stats.out;
  auto node = app::OpenNode(data_);
  ASSERT_TRUE(node.ok()) << node.status().message();
  registry::Registry& reg = *(*node)->registry;
  const registry::Actor& actor = (*node)->actor;
  auto reader = (*node)->store->OpenReader();
  ASSERT_TRUE(reader.ok());
  auto view = reg.Show(**reader, code_, actor, "registry.maintenance");
  ASSERT_TRUE(view.ok()) << view.status().message();
  ASSERT_TRUE(view->has_value());
  EXPECT_EQ((*view)->row.resident_code, code_);
  EXPECT_EQ((*view)->individual_number.size(), 12u);
  auto missing = reg.Show(**reader, "99999999999", actor, "registry.maintenance");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto history = reg.History(**reader, code_, actor, "registry.maintenance");
  ASSERT_TRUE(history.ok());
  ASSERT_TRUE(history->has_value());
  EXPECT_EQ((*history)->size(), 1u);
  registry::SearchRequest by_address;
  by_address.address = "山梨県";
  by_address.limit = 5;
  auto found = reg.Search(**reader, by_address, actor, "registry.maintenance");
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->rows.size(), 5u);
  EXPECT_TRUE(found->cut);
  registry::SearchRequest by_sex;
  by_sex.sex = "male";
  auto refused = reg.Search(**reader, by_sex, actor, "registry.maintenance");
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(NodeTest, ReadsNeedACataloguePurposeAndProvideOnlyItsItems) {
  auto node = app::OpenNode(data_);
  ASSERT_TRUE(node.ok()) << node.status().message();
  registry::Registry& reg = *(*node)->registry;
  const registry::Actor& actor = (*node)->actor;
  auto reader = (*node)->store->OpenReader();
  ASSERT_TRUE(reader.ok());
  auto unknown = reg.Show(**reader, code_, actor, "no.such.purpose");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("catalogue"), std::string::npos);
  // board.school_aid: name, sex, birth date, address — no code, number or kana.
  auto view = reg.Show(**reader, code_, actor, "board.school_aid");
  ASSERT_TRUE(view.ok() && view->has_value());
  registry::Minimise(*(*node)->purposes->Find("board.school_aid"), &**view);
  EXPECT_EQ((*view)->row.resident_code, "");
  EXPECT_EQ((*view)->individual_number, "");
  // provide: the recipient and every item must be the purpose's.
  registry::ProvisionRequest req;
  req.purpose = "board.school_aid";
  req.provision_kind = "別表第六";
  req.recipient = "agency:yamanashi-board-of-education";
  req.resident_codes = {code_};
  req.items = {"name", "individual_number"};
  EXPECT_FALSE(reg.Provide(**reader, req, actor).ok());
  req.items = {"name"};
  req.recipient = "dept:passport";
  EXPECT_FALSE(reg.Provide(**reader, req, actor).ok());
  req.items = {"name", "address"};
  req.recipient = "agency:yamanashi-board-of-education";
  auto provided = reg.Provide(**reader, req, actor);
  ASSERT_TRUE(provided.ok()) << provided.status().message();
  ASSERT_EQ(provided->size(), 1u);
  EXPECT_TRUE((*provided)[0].found);
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

// The configured role must be the database's (found in review: a prefecture database served
// with role = "national" and its own prefecture opened, and took any municipality's CS
// notifications with no outside-prefecture check). Refused with both roles named, exit 2, and
// the database as it was.
TEST_F(NodeTest, ARoleOtherThanTheDatabasesIsRefused) {
  const fs::path toml = fs::path(data_) / "kakunin.toml";
  const std::string config = Read(toml);
  // The file with its role and prefecture lines replaced by HEAD.
  auto with_head = [](const fs::path& file, std::string text, const std::string& head) {
    for (const char* key : {"\nrole = ", "\nprefecture = "}) {
      text.insert(0, "\n");
      const size_t at = text.find(key);
      if (at != std::string::npos) text.erase(at + 1, text.find('\n', at + 1) - at);
      text.erase(0, 1);
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << head << text;
  };
  const std::string before = Read(db());

  // The mistake as it was made: the prefecture kept, the role changed. The parser refuses it
  // (a national node has no prefecture), so `config check` reports it too.
  with_head(toml, config, "role = \"national\"\nprefecture = 19\n");
  Out r = Kakunin({"stats", "--data", data_});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.err.find("'prefecture' is for role = \"prefecture\" only"), std::string::npos)
      << r.err;
  Out check = Kakunin({"config", "check", "--data", data_});
  EXPECT_EQ(check.status, 1) << check.out;
  EXPECT_NE(check.out.find("'prefecture' is for role = \"prefecture\" only"), std::string::npos)
      << check.out;

  // Without the prefecture, the configuration is a national node's: the database says otherwise.
  with_head(toml, config, "role = \"national\"\n");
  r = Kakunin({"stats", "--data", data_});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.err.find("role (\"national\") does not match the database's (\"prefecture\")"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Read(db()), before);

  // The reverse: a national database opened as a prefecture's.
  const fs::path national = dir_ / "national";
  ASSERT_EQ(Kakunin({"init", "--data", national.string(), "--role", "national"}).status, 0);
  const fs::path national_toml = national / "kakunin.toml";
  const std::string national_before = Read(national / "registry.db");
  with_head(national_toml, Read(national_toml), "role = \"prefecture\"\nprefecture = 19\n");
  r = Kakunin({"stats", "--data", national.string()});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.err.find("role (\"prefecture\") does not match the database's (\"national\")"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Read(national / "registry.db"), national_before);

  // The right role opens both.
  with_head(toml, config, "role = \"prefecture\"\nprefecture = 19\n");
  r = Kakunin({"stats", "--data", data_});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(NodeTest, TruncatedDatabaseIsAClearError) {
  std::string bytes = Read(db());
  { std::ofstream(db(), std::ios::binary | std::ios::trunc) << bytes.substr(0, 3000); }
  std::string before = Read(db());
  Out r = Kakunin({"stats", "--data", data_});
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
  Out r = Kakunin({"stats", "--data", data_});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
}

TEST_F(NodeTest, NotADatabaseIsRefused) {
  { std::ofstream(db(), std::ios::binary | std::ios::trunc) << "just text, not SQLite\n"; }
  Out r = Kakunin({"stats", "--data", data_});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(Read(db()), "just text, not SQLite\n");
}

// --- The data directory and its files belong to the service user (issue 10: any OS user who
// could read the data directory could read every resident). ---

// Runs `args` against a node whose `path` was opened up, and expects a refusal that names the
// path and the fix, exits 2 and changes nothing.
void ExpectRefused(const std::vector<std::string>& args, const fs::path& db, const fs::path& path,
                   const std::string& fix, const std::string& in = "") {
  std::string before = Read(db);
  Out r = Kakunin(args, in);
  EXPECT_EQ(r.status, 2) << args[0] << ": " << r.err;
  EXPECT_NE(r.err.find(path.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(fix), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was changed"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Read(db), before);
}

TEST_F(NodeTest, GroupReadableDataDirectoryIsRefused) {
  fs::permissions(data_, fs::perms::group_read | fs::perms::group_exec, fs::perm_options::add);
  ExpectRefused({"stats", "--data", data_}, db(), data_, "chmod 700 " + data_);
  fs::permissions(data_, fs::perms::owner_all, fs::perm_options::replace);
  EXPECT_EQ(Kakunin({"stats", "--data", data_}).status, 0);
}

TEST_F(NodeTest, WorldReadableKeyFileIsRefusedBeforeAnythingIsApplied) {
  fs::path keys = fs::path(data_) / "keys";
  fs::permissions(keys, fs::perms::others_read, fs::perm_options::add);
  auto gen = Kakunin({"generate", "--count", "5", "--seed", "99"});
  ExpectRefused({"ingest", "--data", data_, "--today", "2026-04-01", "-"}, db(), keys,
                "chmod 600 " + keys.string(), gen.out);
}

TEST_F(NodeTest, OpenConfigurationSigningKeyDatabaseAndWalAreRefused) {
  for (const char* name :
       {"kakunin.toml", "audit.key", "registry.db", "registry.db-wal", "registry.db-shm"}) {
    SCOPED_TRACE(name);
    fs::path p = fs::path(data_) / name;
    const bool made = !fs::exists(p);
    if (made) std::ofstream(p, std::ios::binary);  // an empty -wal/-shm, as SQLite leaves them
    const fs::perms was = fs::status(p).permissions();
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                    fs::perm_options::replace);
    ExpectRefused({"audit", "checkpoint", "--data", data_}, db(), p, "chmod 600 " + p.string());
    if (made) {
      fs::remove(p);
    } else {
      fs::permissions(p, was, fs::perm_options::replace);
    }
  }
  EXPECT_EQ(Kakunin({"audit", "verify", "--data", data_}).status, 0);
}

// The commands in server_commands.cc map most failures to exit 1: the refusal is a usage error
// there too (exit 2), and `serve --config FILE` checks FILE and its directory.
TEST_F(NodeTest, HaltAndServeRefuseAnOpenNodeWithExitTwo) {
  fs::path config = fs::path(data_) / "kakunin.toml";
  fs::permissions(config, fs::perms::others_read, fs::perm_options::add);
  ExpectRefused({"halt", "--data", data_, "--reason", "test"}, db(), config, "chmod 600");
  ExpectRefused({"serve", "--config", config.string(), "--port", "0"}, db(), config, "chmod 600");
}

TEST_F(NodeTest, DatabaseOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root can give a file to another user";
  ASSERT_EQ(::chown(db().c_str(), 65534, static_cast<gid_t>(-1)), 0);
  ExpectRefused({"stats", "--data", data_}, db(), db(), "chown");
  Out r = Kakunin({"stats", "--data", data_});
  EXPECT_NE(r.err.find("belongs to uid 65534"), std::string::npos) << r.err;
  ASSERT_EQ(::chown(db().c_str(), 0, static_cast<gid_t>(-1)), 0);
  EXPECT_EQ(Kakunin({"stats", "--data", data_}).status, 0);
}

}  // namespace
}  // namespace kakunin::cli
