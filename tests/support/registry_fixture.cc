#include "support/registry_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "crypto/keys.h"
#include "domain/local_gov_code.h"
#include "store/pg/pg_registry_store.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_registry_store.h"
#include "support/pg_server.h"

namespace kakunin::registry::testing {

namespace fs = std::filesystem;

Result<std::unique_ptr<store::RegistryStore>> OpenTestStore(const fs::path& dir,
                                                           std::string* pg_schema) {
  if (kakunin::testing::TestStoreKind() != "postgresql") {
    return store::sqlite::OpenRegistryStore((dir / "registry.db").string(), true);
  }
  // A fresh schema on the process's own server: the same suite, unchanged, on PostgreSQL.
  static int next = 0;
  std::string schema = "t" + std::to_string(++next);
  if (pg_schema != nullptr) *pg_schema = schema;
  auto url = kakunin::testing::PgServer::Shared()->FreshSchema(schema);
  if (!url.ok()) return url.status();
  return store::pg::OpenRegistryStore(*url, true);
}

RegistryFixture::RegistryFixture(std::string prefix, Date today, bool with_gateway)
    : prefix_(std::move(prefix)), with_gateway_(with_gateway), clock_(FixedClock::AtDate(today)) {}

void RegistryFixture::SetUp() {
  dir_ = fs::path(::testing::TempDir()) /
         (prefix_ + std::to_string(::getpid()) + "_" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  ASSERT_TRUE(crypto::CreateKeyFile((dir_ / "keys").string()).ok());
  auto keys = crypto::LoadKeyFile((dir_ / "keys").string());
  ASSERT_TRUE(keys.ok());
  cipher_ = std::make_unique<crypto::FieldCipher>(*keys);
  auto store = OpenTestStore(dir_, &pg_schema_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(*store);
  config_.prefecture = 19;
  ASSERT_TRUE(audit::CreateSigningKeyFile((dir_ / "audit.key").string()).ok());
  signer_ = std::move(*audit::LoadSigningKeyFile((dir_ / "audit.key").string()));
  log_ = std::make_unique<audit::AuditLog>(signer_.get(), &clock_);
  registry_ =
      std::make_unique<Registry>(config_, store_.get(), cipher_.get(), &clock_, log_.get());
  if (!with_gateway_) return;
  auto catalogue = PurposeCatalogue::Parse(SamplePurposeCatalogue());
  ASSERT_TRUE(catalogue.ok()) << catalogue.status().ToString();
  purposes_ = std::make_unique<PurposeCatalogue>(std::move(*catalogue));
  registry_->UsePurposes(purposes_.get());
  gateway_ = std::make_unique<Gateway>(registry_.get(), purposes_.get(), &clock_,
                                       config_.prefecture);
  gateway_->UseStore(store_.get());
}

Notification RegistryFixture::Make(const std::string& municipality, uint64_t seq,
                                   ChangeReason reason, const std::string& code10,
                                   const std::string& number11) {
  Notification n;
  n.municipality_code = municipality;
  n.sequence = seq;
  n.kind = KindOf(reason);
  n.reason = reason;
  n.change_date = Date::FromYmd(2026, 4, 1);
  n.resident_code = ResidentCode::FromTenDigits(code10);
  n.individual_number = IndividualNumber::FromElevenDigits(number11);
  n.name = "山田　太郎";
  n.name_kana = "ヤマダ　タロウ";
  n.sex = Sex::kMale;
  n.birth_date = Date::FromYmd(1980, 5, 1);
  n.address = LocalGovTable::Builtin().Find(municipality)->FullName() + "1番地";
  return n;
}

bool RegistryFixture::OnPostgres() { return kakunin::testing::TestStoreKind() == "postgresql"; }

std::vector<audit::AuditEntry> RegistryFixture::LogEntries(const std::string& action) {
  std::vector<audit::AuditEntry> out;
  auto reader = store_->OpenReader();
  EXPECT_TRUE(reader.ok());
  if (!reader.ok()) return out;
  store::AuditQuery q;
  q.action = action;
  q.limit = 1000000;
  auto rows = (*reader)->SearchAudit(q);
  EXPECT_TRUE(rows.ok());
  if (!rows.ok()) return out;
  for (const auto& r : *rows) {
    auto e = audit::DecodeStoredEntry(r);
    EXPECT_TRUE(e.ok()) << "entry " << r.seq;
    if (e.ok()) out.push_back(*e);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  return out;
}

void RegistryFixture::NominateDirectly(const std::string& id, const std::string& purpose,
                                       const std::string& from, const std::string& to) {
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) {
                    store::NominationRow n;
                    n.operator_id = id;
                    n.purpose = purpose;
                    n.valid_from = from;
                    n.valid_to = to;
                    n.nominated_by = "sm";
                    return txn.InsertNomination(n);
                  })
                  .ok());
}

void RegistryFixture::SetUpMergedMunicipality(const std::string& code10,
                                              const std::string& number11,
                                              MergedMunicipality* out) {
  constexpr char kEnzan[] = "192031";  // 塩山市, until 2005-10-31
  constexpr char kKoshu[] = "192139";  // 甲州市
  Notification past = Make("192015", 1, ChangeReason::kBirth, code10, number11);
  past.municipality_code = kEnzan;
  past.change_date = Date::FromYmd(2004, 6, 1);
  past.address = "山梨県塩山市上於曽1番地";
  CheckOptions as_of_then = registry_->check_options();
  as_of_then.municipality_on_change_date = true;
  auto imported = registry_->Apply(
      {registry_->Prepare(CheckJsonNotification(ToCanonicalJson(past), as_of_then))},
      Actor{"os:test", "test"});
  ASSERT_TRUE(imported.ok() && (*imported)[0].ok());
  out->resident_code = past.resident_code.str();
  for (auto [c, spki, m] : {std::tuple{&out->successor_cs, '5', kKoshu},
                            std::tuple{&out->old_cs, '6', kEnzan}}) {
    c->spki_sha256 = std::string(64, spki);
    c->kind = ClientKind::kMunicipalCs;
    c->name = m;
    c->municipality_code = m;
  }
  ASSERT_TRUE(gateway_->Register(out->successor_cs, Actor{"os:test", "test"}).ok());
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) {
                    store::ClientRow row;
                    row.spki_sha256 = out->old_cs.spki_sha256;
                    row.kind = "municipal_cs";
                    row.name = "塩山市CS";
                    row.municipality_code = kEnzan;
                    row.registered_at = 1;
                    return txn.InsertClient(row);
                  })
                  .ok());
}

std::string RegistryFixture::AllLogText() {
  auto reader = store_->OpenReader();
  EXPECT_TRUE(reader.ok());
  if (!reader.ok()) return "";
  store::AuditQuery q;
  q.limit = 1000000;
  auto rows = (*reader)->SearchAudit(q);
  EXPECT_TRUE(rows.ok());
  if (!rows.ok()) return "";
  std::string all;
  for (const auto& r : *rows) {
    all += r.payload.value_or("") + r.targets.value_or("") + r.actor + r.action + r.purpose;
  }
  return all;
}

Status RegistryFixture::TamperDatabase(const std::string& sql) {
  if (!OnPostgres()) {
    auto db = store::sqlite::Db::Open((dir_ / "registry.db").string(), false, false);
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }
  auto out = kakunin::testing::PgServer::Shared()->Psql(sql, "postgres", pg_schema_);
  return out.ok() ? Status::Ok() : out.status();
}

void RegistryFixture::TearDown() {
  if (gateway_) gateway_->UseStore(nullptr);
  fs::remove_all(dir_);
}

}  // namespace kakunin::registry::testing
