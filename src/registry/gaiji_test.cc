// The 外字 register (issue 15): registration and its refusals, display, per-sender isolation of
// the Private Use Area, and pending flags left by applied notifications — on a real SQLite store.

#include "registry/gaiji.h"

#include <map>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/sqlite/db.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_registry_store.h"
#include "support/registry_fixture.h"

namespace kakunin::registry {
namespace {

constexpr char kKofu[] = "192015";
constexpr char kKai[] = "192104";
constexpr char kE000[] = "\xEE\x80\x80";  // U+E000
constexpr char kE001[] = "\xEE\x80\x81";  // U+E001
const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + "IHDR-and-the-rest";

class GaijiTest : public testing::RegistryFixture {
 public:
  GaijiTest() : RegistryFixture("kakunin_gaiji_", Date::FromYmd(2026, 11, 21)) {}

  void SetUp() override {
    RegistryFixture::SetUp();
    if (HasFatalFailure()) return;
    gaiji_ = std::make_unique<GaijiRegister>(registry_.get(), store_.get(), &clock_, 19);
  }

  ApplyResult SendOne(const Notification& n) {
    std::vector<PreparedNotification> batch;
    batch.push_back(
        registry_->Prepare(CheckJsonNotification(ToCanonicalJson(n), registry_->check_options())));
    auto r = registry_->Apply(batch, actor_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? (*r)[0] : ApplyResult();
  }

  static GaijiEntry Entry(const std::string& municipality, char32_t cp, const std::string& mj) {
    GaijiEntry e;
    e.municipality_code = municipality;
    e.code_point = cp;
    e.mj_code = mj;
    return e;
  }

  int64_t LogSize() {
    auto reader = store_->OpenReader();
    return *(*reader)->AuditSize();
  }

  std::vector<GaijiPending> Pending() {
    auto list = gaiji_->List();
    EXPECT_TRUE(list.ok());
    return list.ok() ? list->pending : std::vector<GaijiPending>();
  }

  Actor actor_{"os:test", "test"};
  std::unique_ptr<GaijiRegister> gaiji_;
};

TEST_F(GaijiTest, MigrationCreatesTheEmptyRegister) {
  EXPECT_GE(store::sqlite::LatestSchemaVersion(), 5);
  auto list = gaiji_->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->entries.empty());
  EXPECT_TRUE(list->pending.empty());
}

// A node made before the register (schema version 4) gains it when opened, its data intact.
TEST(GaijiMigrationTest, ADatabaseAtVersionFourGainsTheRegisterWhenOpened) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("kakunin_gaiji_migration_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "registry.db").string();
  {
    auto db = store::sqlite::Db::Open(path, true, false);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                           "applied_at TEXT NOT NULL) STRICT")
                    .ok());
    for (const auto& m : store::sqlite::kMigrations) {
      if (m.version > 4) continue;
      ASSERT_TRUE((*db)->Exec(m.sql).ok()) << m.version;
      ASSERT_TRUE((*db)
                      ->Exec("INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) +
                             ", 'then')")
                      .ok());
    }
    ASSERT_TRUE((*db)->Exec("INSERT INTO meta VALUES ('prefecture', '19')").ok());
  }
  auto store = store::sqlite::OpenRegistryStore(path, false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(*(*store)->GetMeta("prefecture"), std::optional<std::string>("19"));
  auto reader = (*store)->OpenReader();
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE((*reader)->ListGaiji().ok());
  EXPECT_TRUE((*reader)->ListGaijiPending().ok());
  ASSERT_TRUE(
      (*store)
          ->Write([](store::RegistryTxn& txn) { return txn.FlagGaijiPending("192015", 0xE000, 1); })
          .ok());
  auto pending = (*reader)->ListGaijiPending();
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), 1u);
  reader->reset();
  store->reset();
  fs::remove_all(dir);
}

TEST_F(GaijiTest, RegisterRecordsTheEntryAndALogEntryInOneTransaction) {
  const int64_t before = LogSize();
  GaijiEntry e = Entry(kKofu, 0xE001, "MJ012345");
  e.description = "髙の異体";
  ASSERT_TRUE(gaiji_->Register(e, actor_).ok());
  EXPECT_EQ(LogSize(), before + 1);
  auto list = gaiji_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->entries.size(), 1u);
  EXPECT_EQ(list->entries[0].municipality_code, kKofu);
  EXPECT_EQ(list->entries[0].code_point, 0xE001u);
  EXPECT_EQ(list->entries[0].mj_code, "MJ012345");
  EXPECT_EQ(list->entries[0].description, "髙の異体");
  EXPECT_EQ(list->entries[0].registered_by, "os:test");
  EXPECT_EQ(list->entries[0].registered_at, clock_.NowMicros());

  GaijiEntry image = Entry(kKofu, 0xF0000, "");  // plane 15 is private use too
  image.image_png = kPng;
  ASSERT_TRUE(gaiji_->Register(image, actor_).ok());
  list = gaiji_->List();
  ASSERT_EQ(list->entries.size(), 2u);
  EXPECT_EQ(list->entries[1].image_png, kPng);
}

TEST_F(GaijiTest, RegisterRefusesWhatIsNotAGaijiAndRecordsNothing) {
  const int64_t before = LogSize();
  auto code = [&](GaijiEntry e) { return gaiji_->Register(e, actor_).code(); };
  EXPECT_EQ(code(Entry(kKofu, 0x41, "MJ012345")), StatusCode::kInvalidArgument);    // 'A'
  EXPECT_EQ(code(Entry(kKofu, 0x9AD9, "MJ012345")), StatusCode::kInvalidArgument);  // 髙
  EXPECT_EQ(code(Entry(kKofu, 0xDFFF, "MJ012345")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Entry(kKofu, 0xF900, "MJ012345")), StatusCode::kInvalidArgument);
  for (const char* mj : {"MJ12345", "MJ0123456", "mj012345", "MJ01234a", "JM012345", ""}) {
    EXPECT_EQ(code(Entry(kKofu, 0xE001, mj)), StatusCode::kInvalidArgument) << mj;
  }
  // A description of the character, not of the person (review: a code was accepted).
  GaijiEntry whose = Entry(kKofu, 0xE001, "MJ012345");
  whose.description = "98765432103 の氏名の外字";
  EXPECT_EQ(code(whose), StatusCode::kInvalidArgument);
  GaijiEntry not_png = Entry(kKofu, 0xE001, "");
  not_png.image_png = "GIF89a...";
  EXPECT_EQ(code(not_png), StatusCode::kInvalidArgument);
  GaijiEntry too_big = Entry(kKofu, 0xE001, "");
  too_big.image_png = kPng + std::string(kMaxGaijiImageBytes, 'x');
  EXPECT_EQ(code(too_big), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Entry("999999", 0xE001, "MJ012345")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Entry("131041", 0xE001, "MJ012345")), StatusCode::kInvalidArgument);  // 新宿区
  EXPECT_EQ(LogSize(), before);
  EXPECT_TRUE(gaiji_->List()->entries.empty());

  // A meaning once registered stays: names already shown with it would change otherwise.
  ASSERT_TRUE(gaiji_->Register(Entry(kKofu, 0xE001, "MJ012345"), actor_).ok());
  EXPECT_EQ(code(Entry(kKofu, 0xE001, "MJ000001")), StatusCode::kAlreadyExists);
}

TEST_F(GaijiTest, TwoMunicipalitiesMeaningsForOneCodePointNeverCollide) {
  ASSERT_TRUE(gaiji_->Register(Entry(kKofu, 0xE001, "MJ000001"), actor_).ok());
  ASSERT_TRUE(gaiji_->Register(Entry(kKai, 0xE001, "MJ000002"), actor_).ok());
  const std::string text = std::string("渡") + kE001;
  EXPECT_EQ(*gaiji_->Resolve(kKofu, text), "渡〓[MJ000001]");
  EXPECT_EQ(*gaiji_->Resolve(kKai, text), "渡〓[MJ000002]");
  // A third municipality has no meaning for it at all.
  EXPECT_EQ(*gaiji_->Resolve("192023", text), "渡〓[U+E001]");
}

TEST_F(GaijiTest, ResolveShowsEachFormAndKeepsOrdinaryText) {
  GaijiEntry image = Entry(kKofu, 0xE002, "");
  image.image_png = kPng;
  ASSERT_TRUE(gaiji_->Register(image, actor_).ok());
  ASSERT_TRUE(gaiji_->Register(Entry(kKofu, 0x10FFFD, "MJ058123"), actor_).ok());
  const std::string text =
      std::string("山田") + "\xEE\x80\x82" + "\xF4\x8F\xBF\xBD" + kE000 + "郎 ABC";
  EXPECT_EQ(*gaiji_->Resolve(kKofu, text), "山田〓[U+E002:image]〓[MJ058123]〓[U+E000]郎 ABC");
  EXPECT_EQ(*gaiji_->Resolve(kKofu, "山田　太郎"), "山田　太郎");
}

TEST_F(GaijiTest, CodePointsParseAndFormat) {
  EXPECT_EQ(*ParseCodePoint("U+E001"), 0xE001u);
  EXPECT_EQ(*ParseCodePoint("u+f8ff"), 0xF8FFu);
  EXPECT_EQ(*ParseCodePoint("U+10FFFD"), 0x10FFFDu);
  for (const char* bad : {"", "E001", "U+", "U+E0", "U+E00G", "U+1100000", "U+110000"}) {
    EXPECT_FALSE(ParseCodePoint(bad).ok()) << bad;
  }
  EXPECT_EQ(FormatCodePoint(0xE001), "U+E001");
  EXPECT_EQ(FormatCodePoint(0x10FFFD), "U+10FFFD");
  EXPECT_TRUE(IsPrivateUse(0xE000));
  EXPECT_TRUE(IsPrivateUse(0xF8FF));
  EXPECT_TRUE(IsPrivateUse(0xFFFFD));
  EXPECT_FALSE(IsPrivateUse(0xFFFFE));
  EXPECT_FALSE(IsPrivateUse(0x3042));
}

TEST_F(GaijiTest, NotificationWithUnregisteredPuaIsAcceptedAndFlaggedWithoutPersonalData) {
  Notification n = Make(kKofu, 1, ChangeReason::kBirth, "1000000001", "10000000001");
  n.name = std::string("山田　") + kE000 + "郎";
  ApplyResult r = SendOne(n);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.duplicate);
  auto pending = Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].municipality_code, kKofu);
  EXPECT_EQ(pending[0].code_point, 0xE000u);
  EXPECT_EQ(pending[0].count, 1);
  EXPECT_EQ(pending[0].first_seen, clock_.NowMicros());

  // Seen again (in the address this time): counted, still one row.
  Notification a = Make(kKofu, 2, ChangeReason::kMovedWithin, "1000000001", "10000000001");
  a.name = n.name;
  a.address += kE000;
  EXPECT_TRUE(SendOne(a).ok());
  pending = Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].count, 2);

  // The same code point from another sender is that sender's own pending code point.
  Notification k = Make(kKai, 1, ChangeReason::kBirth, "1000000002", "10000000002");
  k.name = std::string("山田　") + kE000;
  EXPECT_TRUE(SendOne(k).ok());
  ASSERT_EQ(Pending().size(), 2u);

  // Registering clears the flag, and a registered code point is not flagged again.
  ASSERT_TRUE(gaiji_->Register(Entry(kKofu, 0xE000, "MJ012345"), actor_).ok());
  pending = Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].municipality_code, kKai);
  Notification b = Make(kKofu, 3, ChangeReason::kMovedWithin, "1000000001", "10000000001");
  b.name = n.name;
  EXPECT_TRUE(SendOne(b).ok());
  EXPECT_EQ(Pending().size(), 1u);
}

TEST_F(GaijiTest, PlanesFifteenAndSixteenAreFlaggedTooAndOrdinaryKanjiNever) {
  Notification n = Make(kKofu, 1, ChangeReason::kBirth, "1000000001", "10000000001");
  n.name = "髙橋　\xF3\xB0\x80\x80\xF4\x8F\xBF\xBD";  // U+F0000 U+10FFFD
  n.address += "\xEF\xA3\xBF";                        // U+F8FF
  ASSERT_TRUE(SendOne(n).ok());
  auto pending = Pending();
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].code_point, 0xF8FFu);
  EXPECT_EQ(pending[1].code_point, 0xF0000u);
  EXPECT_EQ(pending[2].code_point, 0x10FFFDu);
  Notification plain = Make(kKofu, 2, ChangeReason::kBirth, "1000000002", "10000000002");
  plain.name = "𠮷野　﨑子";  // outside the BMP and a compatibility ideograph: not 外字
  ASSERT_TRUE(SendOne(plain).ok());
  EXPECT_EQ(Pending().size(), 3u);
}

TEST_F(GaijiTest, RefusedOrReplayedNotificationsFlagNothing) {
  Notification gap = Make(kKofu, 5, ChangeReason::kBirth, "1000000001", "10000000001");
  gap.name = std::string("山田　") + kE000;
  EXPECT_FALSE(SendOne(gap).ok());
  EXPECT_TRUE(Pending().empty());

  Notification n = Make(kKofu, 1, ChangeReason::kBirth, "1000000001", "10000000001");
  n.name = std::string("山田　") + kE001;
  EXPECT_TRUE(SendOne(n).ok());
  ApplyResult again = SendOne(n);
  EXPECT_TRUE(again.duplicate);
  auto pending = Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].count, 1);
}

// A provided record shows registered 外字 beside the name as sent, and names its municipality —
// for a version from before a merger, the name it had and the municipality of today.
TEST_F(GaijiTest, ProvidedRecordsShowRegisteredGaijiAndTheMunicipalityName) {
  Notification n = Make(kKofu, 1, ChangeReason::kBirth, "1000000001", "10000000001");
  n.name = std::string("山田　") + kE000 + "郎";
  ASSERT_TRUE(SendOne(n).ok());
  registry_->UseGaiji(gaiji_.get());
  ASSERT_TRUE(gaiji_->Register(Entry(kKofu, 0xE000, "MJ012345"), actor_).ok());
  ProvisionRequest req;
  req.resident_codes = {n.resident_code.str()};
  req.purpose = "registry.maintenance";
  req.provision_kind = "住基法第30条の6第4項";
  req.recipient = "dept:registry";
  req.items = {"name", "municipality_code"};
  auto reader = store_->OpenReader();
  auto out = registry_->Provide(**reader, req, actor_);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  std::map<std::string, std::string> items((*out)[0].items.begin(), (*out)[0].items.end());
  EXPECT_EQ(items["name"], n.name) << "the name itself stays as sent";
  EXPECT_NE(items["name_display"].find("MJ012345"), std::string::npos) << items["name_display"];
  EXPECT_EQ(items["name_display"].find(kE000), std::string::npos);
  EXPECT_EQ(items["municipality_name"], "山梨県甲府市");
  registry_->UseGaiji(nullptr);

  // 塩山市 (192031) became 甲州市 (192139) on 2005-11-01: a past record keeps its code and shows
  // both names.
  Notification past = Make(kKofu, 1, ChangeReason::kBirth, "1000000003", "10000000003");
  past.municipality_code = "192031";
  past.change_date = Date::FromYmd(2004, 6, 1);
  past.birth_date = Date::FromYmd(2004, 6, 1);
  past.address = "山梨県塩山市上於曽1番地";
  CheckOptions o = registry_->check_options();
  o.municipality_on_change_date = true;
  std::vector<PreparedNotification> batch;
  batch.push_back(registry_->Prepare(CheckJsonNotification(ToCanonicalJson(past), o)));
  auto applied = registry_->Apply(batch, actor_);
  ASSERT_TRUE(applied.ok());
  ASSERT_TRUE((*applied)[0].ok());
  req.resident_codes = {past.resident_code.str()};
  reader = store_->OpenReader();
  out = registry_->Provide(**reader, req, actor_);
  ASSERT_TRUE(out.ok());
  std::map<std::string, std::string> was((*out)[0].items.begin(), (*out)[0].items.end());
  EXPECT_EQ(was["municipality_code"], "192031");
  EXPECT_EQ(was["municipality_name"], "山梨県塩山市（現 山梨県甲州市）");
  EXPECT_EQ(was.count("name_display"), 0u) << "no PUA, no display form";
}

}  // namespace
}  // namespace kakunin::registry
