// The staff's registers (registry::RegisterDesk) on a real store (SQLite, or PostgreSQL with
// KAKUNIN_TEST_STORE=postgresql): who records and reads the training, contractor and review
// registers, what a malformed entry changes (nothing), what the log says of each call (ids and
// counts, never the free text), and the rules of the operator register that rest on them — a
// nomination needs an operator training in the current fiscal year, the contractor role a
// contract in force.

#include "registry/registers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "audit/log.h"
#include "auth/password.h"
#include "auth/webauthn.h"
#include "registry/audit_desk.h"
#include "registry/operators.h"
#include "support/registry_fixture.h"

namespace kakunin::registry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTitle[] = "令和8年度 操作者研修（本人確認情報の保護）";
constexpr char kCompany[] = "甲府システム株式会社";
constexpr char kWork[] = "住基ネット端末の保守";
constexpr char kSummary[] = "操作履歴を点検した。\n不審な照会はなかった。";

class RegistersTest : public testing::RegistryFixture {
 public:
  RegistersTest()
      : RegistryFixture("kakunin_registers_", Date::FromYmd(2026, 11, 20), /*with_gateway=*/true) {}

  void SetUp() override {
    RegistryFixture::SetUp();
    if (HasFatalFailure()) return;
    operators_ = std::make_unique<OperatorDesk>(store_.get(), log_.get(), &clock_, purposes_.get());
    audit_ = std::make_unique<AuditDesk>(store_.get(), log_.get(), cipher_.get());
    desk_ = std::make_unique<RegisterDesk>(registry_.get(), store_.get(), &clock_);
    // Operators straight into the register, one per role (two operators, one without a role).
    ASSERT_TRUE(store_
                    ->Write([&](store::RegistryTxn& txn) -> Status {
                      for (auto [id, role] : {std::pair{"chief", "security_chief"},
                                              std::pair{"am", "access_manager"},
                                              std::pair{"sm", "security_manager"},
                                              std::pair{"aud", "auditor"},
                                              std::pair{"admin", "system_admin"},
                                              std::pair{"op1", "operator"},
                                              std::pair{"op2", "operator"},
                                              std::pair{"con", "contractor"},
                                              std::pair{"vendor", ""}}) {
                        store::OperatorRow row;
                        row.operator_id = id;
                        row.name = id;
                        row.status = "active";
                        KAKUNIN_RETURN_IF_ERROR(txn.InsertOperator(row));
                        if (*role) KAKUNIN_RETURN_IF_ERROR(txn.InsertRole(id, role, 0, "test"));
                      }
                      return Status::Ok();
                    })
                    .ok());
  }

  OperatorView Load(const std::string& id) {
    auto reader = store_->OpenReader();
    EXPECT_TRUE(reader.ok());
    auto v = operators_->Load(**reader, id);
    EXPECT_TRUE(v.ok() && *v) << id;
    return **v;
  }

  Actor As(const std::string& id) { return Actor{"operator:" + id, "console@127.0.0.1"}; }

  // Lists `id` under `contract` straight into the register: AddWorker refuses someone holding
  // another role, which these tests need to have happened (a row from before the rule).
  Status ListByHand(int64_t contract, const std::string& id) {
    return store_->Write([&](store::RegistryTxn& txn) {
      store::ContractWorkerRow w;
      w.contract_id = contract;
      w.operator_id = id;
      w.added_by = "chief";
      return txn.InsertContractWorker(w);
    });
  }

  TrainingInput Training(const std::string& held_on = "2026-11-10",
                         std::vector<std::string> attendees = {"op2", "op1"}) {
    return TrainingInput{held_on, "operator", kTitle, std::move(attendees)};
  }

  ContractInput Contract(const std::string& from = "2026-04-01",
                         const std::string& to = "2027-03-31") {
    return ContractInput{kCompany, kWork, from, to, "prohibited", "", "2026-03-25"};
  }

  ReviewInput Review(const std::string& kind) {
    return ReviewInput{kind, "2026-04-01", "2026-09-30", "2026-10-15", "no_findings", kSummary};
  }

  std::vector<std::string> Outcomes(const std::string& action) {
    std::vector<std::string> out;
    for (const auto& e : LogEntries(action)) out.push_back(e.outcome);
    return out;
  }

  size_t CountTrainings() {
    auto reader = store_->OpenReader();
    auto rows = (*reader)->ListTrainings(1000);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->size() : 0;
  }

  void ExpectVerified() {
    ASSERT_TRUE(registry_->Checkpoint().ok());
    auto report = audit_->Verify();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->ok) << report->problem;
  }

  std::unique_ptr<OperatorDesk> operators_;
  std::unique_ptr<AuditDesk> audit_;
  std::unique_ptr<RegisterDesk> desk_;
};

TEST(FiscalYear, StartsOnTheFirstOfApril) {
  EXPECT_EQ(FiscalYearStart(Date::FromYmd(2026, 11, 20)).ToIso(), "2026-04-01");
  EXPECT_EQ(FiscalYearStart(Date::FromYmd(2027, 3, 31)).ToIso(), "2026-04-01");
  EXPECT_EQ(FiscalYearStart(Date::FromYmd(2027, 4, 1)).ToIso(), "2027-04-01");
  EXPECT_EQ(FiscalYearStart(Date::FromYmd(2026, 1, 10)).ToIso(), "2025-04-01");
}

TEST(ResidentNumbers, ElevenAndTwelveDigitRunsAreRefused) {
  EXPECT_TRUE(HoldsResidentNumber("コード12345678901を照会"));
  EXPECT_TRUE(HoldsResidentNumber("123456789012"));
  EXPECT_TRUE(HoldsResidentNumber("番号１２３４５６７８９０１２"));  // full-width digits
  EXPECT_TRUE(HoldsResidentNumber("１２３４５67890１"));              // mixed
  EXPECT_FALSE(HoldsResidentNumber("1234567890"));
  EXPECT_FALSE(HoldsResidentNumber("法人番号1234567890123"));  // 13 digits: a corporate number
  EXPECT_FALSE(HoldsResidentNumber("令和8年11月20日"));
}

// Fix review: the register texts took a resident code or an individual number written in
// kanji numerals, in another script's digits, or with letters for 0 and 1 — kept for good.
TEST(ResidentNumbers, DigitsOfAnyScriptAndLettersWrittenForDigitsCount) {
  EXPECT_TRUE(HoldsResidentNumber("六五一〇一五二〇九七四八"));
  EXPECT_TRUE(HoldsResidentNumber("番号は六五一〇一五二〇九七四八です"));
  EXPECT_TRUE(HoldsResidentNumber("𝟔𝟓𝟏𝟎𝟏𝟓𝟐𝟎𝟗𝟕𝟒𝟖"));  // mathematical bold
  EXPECT_TRUE(HoldsResidentNumber("٦٥١٠١٥٢٠٩٧٤٨"));     // Arabic-Indic
  EXPECT_TRUE(HoldsResidentNumber("O39O536716O"));
  EXPECT_TRUE(HoldsResidentNumber("651O15209748"));
  EXPECT_TRUE(HoldsResidentNumber("０３９Ｏ５３６７１６Ｏ"));
  EXPECT_TRUE(HoldsResidentNumber("六五一〇 一五二〇 九七四八"));
  // Words, kanji dates and short numbers stay allowed.
  EXPECT_FALSE(HoldsResidentNumber("二〇二六年一一月二〇日"));
  EXPECT_FALSE(HoldsResidentNumber("Illinois Ohio lolol"));
  EXPECT_FALSE(HoldsResidentNumber("ISO 27001 に準拠"));
  EXPECT_FALSE(HoldsResidentNumber("一二三四五六七八九〇"));  // ten
  EXPECT_FALSE(HoldsResidentNumber("OOOO1234OOO"));  // mostly letters
}

// The numbers are written in groups as often as not (個人番号 4-4-4 on the card): spaces and
// hyphens, half- or full-width, between the digits do not hide them.
TEST(ResidentNumbers, DigitsWrittenInGroupsAreOneNumber) {
  EXPECT_TRUE(HoldsResidentNumber("個人番号 1234 5678 9012 を照会"));
  EXPECT_TRUE(HoldsResidentNumber("1234-5678-9012"));
  EXPECT_TRUE(HoldsResidentNumber("12345-678901"));
  EXPECT_TRUE(HoldsResidentNumber("コード123-4567-8901"));
  EXPECT_TRUE(HoldsResidentNumber("１２３４　５６７８　９０１２"));   // full-width space
  EXPECT_TRUE(HoldsResidentNumber("１２３４－５６７８－９０１２"));   // full-width hyphen
  EXPECT_TRUE(HoldsResidentNumber("１２３４ー５６７８ー９０１"));     // 長音符 for a hyphen
  EXPECT_TRUE(HoldsResidentNumber("1234‐5678‐9012"));              // U+2010
  EXPECT_TRUE(HoldsResidentNumber("1234 - 5678 - 9012"));
  EXPECT_TRUE(HoldsResidentNumber("090-1234-5678"));  // 11 digits: cannot be told from a code
  // Dates, short numbers and numbers of other lengths stay allowed.
  EXPECT_FALSE(HoldsResidentNumber("2026-11-20"));
  EXPECT_FALSE(HoldsResidentNumber("２０２６－１１－２０"));
  EXPECT_FALSE(HoldsResidentNumber("期間 2026-04-01 2026-09-30"));
  EXPECT_FALSE(HoldsResidentNumber("2026-04-01 - 2026-09-30 に実施"));
  EXPECT_FALSE(HoldsResidentNumber("電話 055-223-1111、03-1234-5678"));
  EXPECT_FALSE(HoldsResidentNumber("受講者 12 名、2026-11-10 実施"));
  EXPECT_FALSE(HoldsResidentNumber("法人番号 1234 5678 9012 3"));  // 13 digits
  EXPECT_FALSE(HoldsResidentNumber("12345    678901"));  // too far apart to be one number
  // Any punctuation joins groups too, and invisible characters (review: these passed).
  EXPECT_TRUE(HoldsResidentNumber("0390.5367.160"));
  EXPECT_TRUE(HoldsResidentNumber("12,345,678,901"));
  EXPECT_TRUE(HoldsResidentNumber("1234/5678/9012"));
  EXPECT_TRUE(HoldsResidentNumber("1234\u200b5678\u200b901"));
  EXPECT_TRUE(HoldsResidentNumber("１２３４．５６７８．９０１２"));
  EXPECT_TRUE(HoldsResidentNumber("1234・5678・9012"));
  EXPECT_FALSE(HoldsResidentNumber("2026.11.20"));
  EXPECT_TRUE(HoldsInvisibleFormatting("県\u200b太郎"));
  EXPECT_TRUE(HoldsInvisibleFormatting("\u200e県太郎"));
  EXPECT_TRUE(HoldsInvisibleFormatting("県太郎\ufeff"));
  EXPECT_FALSE(HoldsInvisibleFormatting("県 太郎　（管理課）"));
}

TEST_F(RegistersTest, TrainingIsRecordedAndListedNewestFirst) {
  auto first = desk_->RecordTraining(Load("sm"), As("sm"), Training("2026-05-10", {"op1"}));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = desk_->RecordTraining(Load("chief"), As("chief"),
                                      TrainingInput{"2026-11-20", "manager", "管理者研修",
                                                    {"sm", "am", "aud"}});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(*second, *first);
  for (const char* reader : {"chief", "sm", "aud"}) {
    auto list = desk_->Trainings(Load(reader), As(reader));
    ASSERT_TRUE(list.ok()) << reader << " " << list.status().ToString();
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].id, *second);
    EXPECT_EQ((*list)[0].kind, "manager");
    EXPECT_EQ((*list)[0].attendees, (std::vector<std::string>{"am", "aud", "sm"}));
    EXPECT_EQ((*list)[0].recorded_by, "chief");
    EXPECT_EQ((*list)[1].held_on, "2026-05-10");
    EXPECT_EQ((*list)[1].title, kTitle);
  }
  auto recorded = LogEntries("register.training.record");
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0].conditions, "training=" + std::to_string(*first) + " kind=operator");
  EXPECT_EQ(recorded[0].result_count, 1);
  EXPECT_EQ(recorded[0].outcome, "done");
  EXPECT_EQ(recorded[0].actor, "operator:sm");
  EXPECT_EQ(recorded[1].result_count, 3);
  auto listed = LogEntries("register.training.list");
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[2].result_count, 2);
  EXPECT_EQ(listed[2].actor, "operator:aud");
}

TEST_F(RegistersTest, OnlyTheirRolesRecordAndReadTrainingAndEachRefusalIsRecorded) {
  for (const char* who : {"am", "aud", "admin", "op1", "con", "vendor"}) {
    auto r = desk_->RecordTraining(Load(who), As(who), Training());
    EXPECT_EQ(r.status().reason(), "not_permitted") << who;
  }
  for (const char* who : {"am", "admin", "op1", "con", "vendor"}) {
    auto r = desk_->Trainings(Load(who), As(who));
    EXPECT_EQ(r.status().reason(), "not_permitted") << who;
  }
  EXPECT_EQ(CountTrainings(), 0u);
  EXPECT_EQ(Outcomes("register.training.record"),
            std::vector<std::string>(6, "refused:not_permitted"));
  EXPECT_EQ(Outcomes("register.training.list"),
            std::vector<std::string>(5, "refused:not_permitted"));
}

TEST_F(RegistersTest, AMalformedTrainingChangesNothingAndIsRecorded) {
  std::vector<TrainingInput> bad;
  bad.push_back(Training("2026-11-21"));  // tomorrow
  bad.push_back(Training("2026-11-31"));
  bad.push_back(Training("20261110"));
  bad.push_back(Training("2026-11-10", {}));
  bad.push_back(Training("2026-11-10", {"op1", "op1"}));
  bad.push_back(Training("2026-11-10", {"Op1"}));
  bad.push_back(Training("2026-11-10", {"op1", "nobody"}));  // found missing in the transaction
  std::vector<std::string> many;
  for (int i = 0; i < 201; ++i) many.push_back("op" + std::to_string(i));
  bad.push_back(Training("2026-11-10", many));
  TrainingInput kind = Training();
  kind.kind = "contractor";
  bad.push_back(kind);
  for (std::string title : {std::string(), std::string(201, 'x'), std::string("研修\n二行目"),
                            std::string("住民票コード12345678901の扱い")}) {
    TrainingInput t = Training();
    t.title = title;
    bad.push_back(t);
  }
  for (const TrainingInput& in : bad) {
    auto r = desk_->RecordTraining(Load("sm"), As("sm"), in);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << in.held_on << " " << in.title;
    EXPECT_EQ(r.status().reason(), "invalid_request");
  }
  EXPECT_EQ(CountTrainings(), 0u);
  EXPECT_EQ(Outcomes("register.training.record"),
            std::vector<std::string>(bad.size(), "refused:invalid_request"));
  EXPECT_THAT(AllLogText(), Not(HasSubstr("12345678901")));
}

TEST_F(RegistersTest, AChangeIsCheckedAgainInTheRecordingTransaction) {
  const OperatorView sm = Load("sm");  // read while still active
  ASSERT_TRUE(store_->Write([](store::RegistryTxn& txn) {
                      return txn.SetOperatorStatus("sm", "suspended");
                    }).ok());
  auto r = desk_->RecordTraining(sm, As("sm"), Training());
  EXPECT_EQ(r.status().reason(), "not_permitted");
  EXPECT_EQ(CountTrainings(), 0u);
  EXPECT_EQ(Outcomes("register.training.record"),
            std::vector<std::string>{"refused:not_permitted"});
  // A read too (a later review: only the changes were checked again).
  auto list = desk_->Trainings(sm, As("sm"));
  EXPECT_EQ(list.status().reason(), "not_permitted");
  EXPECT_EQ(Outcomes("register.training.list"),
            std::vector<std::string>{"refused:not_permitted"});
  EXPECT_EQ(desk_->Reviews(sm, As("sm")).status().reason(), "not_permitted");
}

// Review: the console checks the session's card or authenticator and its password mark when a
// request arrives, and reads check them again in their recording transaction
// (CheckSessionStands), but management writes did not: an access manager whose authenticator was
// revoked, or whose password was changed, while their request was on its way still made an
// account or revoked someone's authenticator. Every management write and register read made for
// a session checks both again in its own transaction, before it changes anything: refused
// (credential_revoked / password_changed; the console records it), nothing changed. A session
// that still stands acts as before — a stolen authenticator stays revocable.
TEST_F(RegistersTest, AManagementWriteChecksTheSessionAgainInItsTransaction) {
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) -> Status {
                    for (auto [id, cred] :
                         {std::pair{"am", "cred-am"}, std::pair{"am", "cred-am2"},
                          std::pair{"sm", "cred-sm"}, std::pair{"chief", "cred-chief"},
                          std::pair{"op1", "cred-op1"}}) {
                      store::CredentialRow c;
                      c.credential_id = cred;
                      c.operator_id = id;
                      c.kind = "webauthn";
                      c.public_key = "k";
                      c.confirmed_at = 1;
                      KAKUNIN_RETURN_IF_ERROR(txn.InsertCredential(c));
                    }
                    KAKUNIN_RETURN_IF_ERROR(txn.SetOperatorPassword("am", "$argon2id$am"));
                    return txn.SetOperatorPassword("sm", "$argon2id$sm");
                  })
                  .ok());
  // As the console passes the session's marks with the operator it loaded at arrival.
  auto session = [&](const std::string& id, const std::string& cred, const std::string& hash) {
    OperatorView v = Load(id);
    v.session_credential = cred;
    v.password_mark = PasswordMark(hash);
    return v;
  };
  const OperatorView am = session("am", "cred-am", "$argon2id$am");
  const OperatorView sm = session("sm", "cred-sm", "$argon2id$sm");
  const OperatorView chief = session("chief", "cred-chief", "");
  // op1 trained this year: a nomination would pass every other rule.
  ASSERT_TRUE(desk_->RecordTraining(Load("chief"), As("chief"), Training()).ok());
  ASSERT_TRUE(store_
                  ->Write([](store::RegistryTxn& txn) -> Status {
                    KAKUNIN_RETURN_IF_ERROR(txn.RevokeCredential("cred-am", "chief", 2).status());
                    KAKUNIN_RETURN_IF_ERROR(txn.RevokeCredential("cred-chief", "am", 2).status());
                    return txn.SetOperatorPassword("sm", "$argon2id$sm-new");
                  })
                  .ok());

  EXPECT_EQ(operators_->Create(am, "newop", "新規", "").status().reason(), "credential_revoked");
  EXPECT_EQ(operators_->RevokeCredential(am, "op1", auth::Base64UrlEncode("cred-op1")).reason(),
            "credential_revoked");
  EXPECT_EQ(operators_->SetStatus(am, "op2", "suspended").reason(), "credential_revoked");
  EXPECT_EQ(operators_->List(am, "console").status().reason(), "credential_revoked");
  EXPECT_EQ(
      operators_->Nominate(sm, "op1", "registry.maintenance", "2026-11-20", "2026-12-31").reason(),
      "password_changed");
  EXPECT_EQ(desk_->RecordTraining(sm, As("sm"), Training()).status().reason(), "password_changed");
  EXPECT_EQ(desk_->Trainings(sm, As("sm")).status().reason(), "password_changed");
  EXPECT_EQ(gateway_->HaltBy(chief, "訓練", "console").reason(), "credential_revoked");
  EXPECT_EQ(Outcomes("register.training.record"),
            std::vector<std::string>({"done", "refused:password_changed"}));
  EXPECT_EQ(Outcomes("register.training.list"),
            std::vector<std::string>{"refused:password_changed"});
  EXPECT_TRUE(Outcomes("operator.create").empty());
  EXPECT_TRUE(Outcomes("operator.credential.revoke").empty());
  EXPECT_TRUE(Outcomes("operator.status").empty());
  EXPECT_TRUE(Outcomes("operator.nominate").empty());
  EXPECT_EQ(CountTrainings(), 1u);
  EXPECT_FALSE(*gateway_->HaltedSince());
  {
    auto reader = store_->OpenReader();
    ASSERT_TRUE(reader.ok());
    EXPECT_FALSE(*(*reader)->FindOperator("newop"));
    EXPECT_EQ((*(*reader)->FindOperator("op2"))->status, "active");
    EXPECT_EQ((*(*reader)->FindCredential("cred-op1"))->revoked_at, 0);
    EXPECT_TRUE((*reader)->Nominations("op1")->empty());
  }

  // The access manager signed in again with their other authenticator: the revocation goes
  // through.
  const OperatorView again = session("am", "cred-am2", "$argon2id$am");
  EXPECT_TRUE(operators_->RevokeCredential(again, "op1", auth::Base64UrlEncode("cred-op1")).ok());
  EXPECT_TRUE(operators_->Create(again, "newop", "新規", "").ok());
  EXPECT_EQ(Outcomes("operator.credential.revoke"), std::vector<std::string>{"done"});
  ExpectVerified();
}

// Review: the operator's own password change is a write made for a session too. Revoked while the
// request was on its way, the session's authenticator changes no password: refused
// (credential_revoked), recorded, the stored hash unchanged.
TEST_F(RegistersTest, APasswordChangeChecksTheSessionsAuthenticatorInItsTransaction) {
  auto hash = auth::HashPassword("Kakunin-Test-Pass-1");
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) -> Status {
                    for (const char* cred : {"cred-op1", "cred-op1b"}) {
                      store::CredentialRow c;
                      c.credential_id = cred;
                      c.operator_id = "op1";
                      c.kind = "webauthn";
                      c.public_key = "k";
                      c.confirmed_at = 1;
                      KAKUNIN_RETURN_IF_ERROR(txn.InsertCredential(c));
                    }
                    KAKUNIN_RETURN_IF_ERROR(txn.SetOperatorPassword("op1", *hash));
                    return txn.RevokeCredential("cred-op1", "am", 2).status();
                  })
                  .ok());
  Status st = operators_->ChangePassword("op1", "Kakunin-Test-Pass-1", "Kakunin-Test-Pass-2",
                                         "console", "cred-op1");
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_EQ(st.reason(), "credential_revoked");
  auto stored = [&] {
    auto reader = store_->OpenReader();
    EXPECT_TRUE(reader.ok());
    return (*(*reader)->FindOperator("op1"))->password_hash;
  };
  EXPECT_EQ(stored(), *hash);
  // Through the authenticator still in force, the change goes through.
  st = operators_->ChangePassword("op1", "Kakunin-Test-Pass-1", "Kakunin-Test-Pass-2", "console",
                                  "cred-op1b");
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(stored(), *hash);
  EXPECT_EQ(Outcomes("operator.password.change"),
            std::vector<std::string>({"refused:credential_revoked", "changed"}));
  ExpectVerified();
}

// 研修 each fiscal year (年度, April to March): a nomination needs an operator training the
// nominee attended since April 1 of this one.
TEST_F(RegistersTest, ANominationNeedsThisFiscalYearsOperatorTraining) {
  const OperatorView sm = Load("sm");
  auto nominate = [&] {
    return operators_->Nominate(Load("sm"), "op1", "registry.maintenance", "2026-11-20",
                                "2027-03-31");
  };
  Status st = nominate();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(st.reason(), "training_required");
  // Last fiscal year's training does not count, nor a manager training, nor someone else's.
  ASSERT_TRUE(desk_->RecordTraining(sm, As("sm"), Training("2026-03-31", {"op1"})).ok());
  ASSERT_TRUE(desk_
                  ->RecordTraining(sm, As("sm"),
                                   TrainingInput{"2026-04-01", "manager", "管理者研修", {"op1"}})
                  .ok());
  ASSERT_TRUE(desk_->RecordTraining(sm, As("sm"), Training("2026-11-20", {"op2"})).ok());
  EXPECT_EQ(nominate().reason(), "training_required");
  // Nor one the nominating manager recorded (found in review: one security manager could record
  // a training and nominate on the strength of it).
  ASSERT_TRUE(desk_->RecordTraining(sm, As("sm"), Training("2026-10-01", {"op1"})).ok());
  EXPECT_EQ(nominate().reason(), "training_required");
  EXPECT_TRUE(Load("op1").nominations.empty());
  // The first day of the fiscal year counts.
  ASSERT_TRUE(
      desk_->RecordTraining(Load("chief"), As("chief"), Training("2026-04-01", {"op1", "op2"}))
          .ok());
  st = nominate();
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Load("op1").nominations.size(), 1u);
  auto nominations = LogEntries("operator.nominate");
  ASSERT_EQ(nominations.size(), 4u);
  EXPECT_EQ(nominations[0].outcome, "refused:training_required");
  EXPECT_EQ(nominations[0].conditions, "operator=op1 from=2026-11-20 to=2027-03-31");
  EXPECT_EQ(nominations[1].outcome, "refused:training_required");
  EXPECT_EQ(nominations[2].outcome, "refused:training_required");
  EXPECT_EQ(nominations[3].outcome, "done");
}

// Review: a security manager holding the operator role recorded a back-dated training of their
// own. Nobody records their own attendance; the refusal is recorded.
TEST_F(RegistersTest, NobodyRecordsTheirOwnTraining) {
  auto r = desk_->RecordTraining(Load("sm"), As("sm"), Training("2026-05-10", {"op1", "sm"}));
  EXPECT_EQ(r.status().reason(), "not_permitted") << r.status().ToString();
  EXPECT_TRUE(desk_->RecordTraining(Load("chief"), As("chief"), Training("2026-05-10", {"sm"}))
                  .ok());
  auto recorded = LogEntries("register.training.record");
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0].outcome.rfind("refused:not_permitted", 0), 0u) << recorded[0].outcome;
  // One recorded before the rule by its own attendee does not count (a later review).
  ASSERT_TRUE(store_
                  ->Write([](store::RegistryTxn& txn) {
                    store::TrainingRow t;
                    t.held_on = "2026-05-10";
                    t.kind = "operator";
                    t.title = "操作者研修";
                    t.recorded_by = "op1";
                    t.attendees = {"op1"};
                    return txn.InsertTraining(t).status();
                  })
                  .ok());
  EXPECT_EQ(operators_
                ->Nominate(Load("sm"), "op1", "registry.maintenance", "2026-11-20", "2027-03-31")
                .reason(),
            "training_required");
}

TEST_F(RegistersTest, WithoutTheTrainingRuleANominationNeedsNoTraining) {
  operators_->RequireTraining(false);
  Status st =
      operators_->Nominate(Load("sm"), "op1", "registry.maintenance", "2026-11-20", "2027-03-31");
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_F(RegistersTest, ContractsAreRecordedWithTheirWorkers) {
  const OperatorView chief = Load("chief");
  auto ended = desk_->RecordContract(chief, As("chief"), Contract("2025-04-01", "2026-03-31"));
  ASSERT_TRUE(ended.ok()) << ended.status().ToString();
  ContractInput approved = Contract();
  approved.subcontracting = "approved";
  approved.approved_on = "2026-03-20";
  approved.pledge_received_on = "";
  auto current = desk_->RecordContract(chief, As("chief"), approved);
  ASSERT_TRUE(current.ok()) << current.status().ToString();
  // Listing needs an operator of the register, not yet the contractor role.
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *current, "vendor").ok());
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *current, "con").ok());
  EXPECT_EQ(desk_->AddWorker(chief, As("chief"), *current, "vendor").reason(), "conflict");
  EXPECT_EQ(desk_->AddWorker(chief, As("chief"), *current + 100, "vendor").reason(), "not_found");
  EXPECT_EQ(desk_->AddWorker(chief, As("chief"), *current, "nobody").reason(), "not_found");
  // The prefecture's own staff are nobody's workers (review: the chief and an operator were).
  EXPECT_EQ(desk_->AddWorker(chief, As("chief"), *current, "op1").reason(), "conflict");
  EXPECT_EQ(desk_->AddWorker(chief, As("chief"), *current, "chief").reason(), "conflict");
  for (const char* reader : {"chief", "sm", "am", "aud"}) {
    auto list = desk_->Contracts(Load(reader), As(reader));
    ASSERT_TRUE(list.ok()) << reader << " " << list.status().ToString();
    ASSERT_EQ(list->size(), 2u);
    const registry::Contract& c = (*list)[0];
    EXPECT_EQ(c.id, *current);
    EXPECT_TRUE(c.in_force);
    EXPECT_EQ(c.subcontracting, "approved");
    EXPECT_EQ(c.approved_on, "2026-03-20");
    EXPECT_EQ(c.pledge_received_on, "");
    ASSERT_EQ(c.workers.size(), 2u);
    // By the time they were listed, then id (the fixed clock lists both at once).
    EXPECT_EQ(c.workers[0].operator_id, "con");
    EXPECT_EQ(c.workers[1].operator_id, "vendor");
    EXPECT_EQ(c.workers[0].added_by, "chief");
    EXPECT_FALSE((*list)[1].in_force);
    EXPECT_EQ((*list)[1].pledge_received_on, "2026-03-25");
    EXPECT_TRUE((*list)[1].workers.empty());
  }
  EXPECT_EQ(Outcomes("register.contract.worker"),
            (std::vector<std::string>{"done", "done", "refused:conflict", "refused:not_found",
                                      "refused:not_found", "refused:conflict",
                                      "refused:conflict"}));
  auto workers = LogEntries("register.contract.worker");
  EXPECT_EQ(workers[0].conditions, "contract=" + std::to_string(*current) + " operator=vendor");
  auto recorded = LogEntries("register.contract.record");
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[1].conditions,
            "contract=" + std::to_string(*current) + " subcontracting=approved pledge=no");
}

TEST_F(RegistersTest, OnlyTheSecurityChiefChangesTheContractorRegister) {
  auto made = desk_->RecordContract(Load("chief"), As("chief"), Contract());
  ASSERT_TRUE(made.ok());
  for (const char* who : {"am", "sm", "aud", "admin", "op1", "con"}) {
    EXPECT_EQ(desk_->RecordContract(Load(who), As(who), Contract()).status().reason(),
              "not_permitted")
        << who;
    EXPECT_EQ(desk_->AddWorker(Load(who), As(who), *made, "vendor").reason(), "not_permitted")
        << who;
  }
  for (const char* who : {"admin", "op1", "con", "vendor"}) {
    EXPECT_EQ(desk_->Contracts(Load(who), As(who)).status().reason(), "not_permitted") << who;
  }
  EXPECT_EQ(Outcomes("register.contract.record"),
            (std::vector<std::string>{"done", "refused:not_permitted", "refused:not_permitted",
                                      "refused:not_permitted", "refused:not_permitted",
                                      "refused:not_permitted", "refused:not_permitted"}));
  EXPECT_EQ(Outcomes("register.contract.list"),
            std::vector<std::string>(4, "refused:not_permitted"));
}

TEST_F(RegistersTest, AMalformedContractChangesNothing) {
  std::vector<ContractInput> bad;
  bad.push_back(Contract("2026-04-01", "2026-03-31"));
  bad.push_back(Contract("2026-4-1", "2027-03-31"));
  ContractInput c = Contract();
  c.subcontracting = "approved";  // without the approval's date
  bad.push_back(c);
  c.approved_on = "2026-11-21";  // in the future
  bad.push_back(c);
  c = Contract();
  c.approved_on = "2026-03-20";  // approval of a subcontracting that is prohibited
  bad.push_back(c);
  c = Contract();
  c.subcontracting = "maybe";
  bad.push_back(c);
  c = Contract();
  c.pledge_received_on = "2026-12-01";
  bad.push_back(c);
  c = Contract();
  c.company = "";
  bad.push_back(c);
  c = Contract();
  c.work = "個人番号123456789012の端末";
  bad.push_back(c);
  for (const ContractInput& in : bad) {
    EXPECT_EQ(desk_->RecordContract(Load("chief"), As("chief"), in).status().reason(),
              "invalid_request")
        << in.from << " " << in.to << " " << in.subcontracting;
  }
  auto list = desk_->Contracts(Load("chief"), As("chief"));
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(Outcomes("register.contract.record"),
            std::vector<std::string>(bad.size(), "refused:invalid_request"));
}

// 委託: the contractor role only for someone the prefecture lists as a worker of a contract in
// force; the access manager's request is fine, the security chief's approval checks it.
TEST_F(RegistersTest, TheContractorRoleNeedsAContractInForce) {
  const OperatorView chief = Load("chief");
  auto request = operators_->RequestRole(Load("am"), "vendor", "contractor");
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  Status st = operators_->ApproveRole(chief, *request);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(st.reason(), "contract_required");
  // Listed under a contract that has ended: still no.
  auto ended = desk_->RecordContract(chief, As("chief"), Contract("2025-04-01", "2026-03-31"));
  ASSERT_TRUE(ended.ok());
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *ended, "vendor").ok());
  EXPECT_EQ(operators_->ApproveRole(chief, *request).reason(), "contract_required");
  // And one that starts next month: not in force today either.
  auto later = desk_->RecordContract(chief, As("chief"), Contract("2026-12-01", "2027-03-31"));
  ASSERT_TRUE(later.ok());
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *later, "vendor").ok());
  EXPECT_EQ(operators_->ApproveRole(chief, *request).reason(), "contract_required");
  EXPECT_TRUE(Load("vendor").roles.empty());
  auto current = desk_->RecordContract(chief, As("chief"), Contract());
  ASSERT_TRUE(current.ok());
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *current, "vendor").ok());
  st = operators_->ApproveRole(chief, *request);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Load("vendor").roles, std::vector<std::string>{"contractor"});
  EXPECT_EQ(Outcomes("operator.role.grant"),
            (std::vector<std::string>{"refused:contract_required", "refused:contract_required",
                                      "refused:contract_required", "done"}));
  // A contractor is never an operator (DESIGN §7: no resident data).
  auto op_role = operators_->RequestRole(Load("am"), "vendor", "operator");
  ASSERT_TRUE(op_role.ok()) << op_role.status().ToString();
  EXPECT_EQ(operators_->ApproveRole(Load("chief"), *op_role).reason(), "separation_of_duties");
  EXPECT_EQ(Load("vendor").roles, std::vector<std::string>{"contractor"});
  // Other roles need no contract.
  auto other = operators_->RequestRole(Load("am"), "sm", "access_manager");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(operators_->ApproveRole(chief, *other).ok());
}

// Fix review: a worker listed under a contract while holding no role was then given the
// operator role, nominated and read residents' records, 個人番号 included. Listing refused a
// holder of another role, but approving refused only the other order. Now no role but
// contractor is approved while the person is on a roster (even of a contract that has ended),
// nobody on a roster is nominated, and a read by an account written so by hand is refused.
TEST_F(RegistersTest, AListedContractWorkerIsGivenNoOtherRoleAndReadsNothing) {
  const OperatorView chief = Load("chief");
  auto ended = desk_->RecordContract(chief, As("chief"), Contract("2025-04-01", "2026-03-31"));
  ASSERT_TRUE(ended.ok());
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *ended, "vendor").ok());
  for (const char* role : {"operator", "security_manager", "access_manager"}) {
    auto request = operators_->RequestRole(Load("am"), "vendor", role);
    ASSERT_TRUE(request.ok()) << request.status().ToString();
    EXPECT_EQ(operators_->ApproveRole(chief, *request).reason(), "separation_of_duties") << role;
  }
  EXPECT_TRUE(Load("vendor").roles.empty());
  // Taken off the roster, the person may join the prefecture's staff.
  ASSERT_TRUE(desk_->RemoveWorker(chief, As("chief"), *ended, "vendor").ok());
  auto request = operators_->RequestRole(Load("am"), "vendor", "operator");
  ASSERT_TRUE(request.ok());
  EXPECT_TRUE(operators_->ApproveRole(chief, *request).ok());
  EXPECT_EQ(Load("vendor").roles, std::vector<std::string>{"operator"});

  // An operator listed by hand (AddWorker refuses them) is neither nominated nor served.
  auto current = desk_->RecordContract(chief, As("chief"), Contract());
  ASSERT_TRUE(current.ok());
  ASSERT_TRUE(desk_->RecordTraining(chief, As("chief"), Training("2026-11-10", {"op1"})).ok());
  ASSERT_TRUE(operators_->Nominate(Load("sm"), "op1", "registry.maintenance", "2026-11-20",
                                   "2027-03-31")
                  .ok());
  Notification n = Make("192015", 1, ChangeReason::kBirth, "1000000001", "10000000001");
  auto p = registry_->Prepare(CheckJsonNotification(ToCanonicalJson(n), registry_->check_options()));
  auto applied = registry_->Apply({p}, Actor{"os:test", "test"});
  ASSERT_TRUE(applied.ok() && (*applied)[0].ok());
  const OperatorView op1_view = Load("op1");
  const Caller op1 = Caller::ForOperator(op1_view, "console", "s");
  auto before = gateway_->Lookup(op1, n.resident_code.str(), "registry.maintenance");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_TRUE(ListByHand(*current, "op1").ok());
  const OperatorView listed = Load("op1");
  auto read = gateway_->Lookup(Caller::ForOperator(listed, "console", "s"), n.resident_code.str(),
                               "registry.maintenance");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().reason(), "not_nominated");
  EXPECT_EQ(operators_->Nominate(Load("sm"), "op1", "registry.maintenance", "2026-11-20",
                                 "2027-03-31")
                .reason(),
            "separation_of_duties");
  ExpectVerified();
}

// Fix review: a security manager was also given the operator role, nominated by a second
// security manager, read residents and recorded a log review of the same day, no findings.
// The one who nominates operators and checks their reads is never one of them.
TEST_F(RegistersTest, NoManagementRoleIsEverAnOperator) {
  const OperatorView chief = Load("chief");
  auto to_sm = operators_->RequestRole(Load("am"), "sm", "operator");
  ASSERT_TRUE(to_sm.ok());
  EXPECT_EQ(operators_->ApproveRole(chief, *to_sm).reason(), "separation_of_duties");
  auto to_op = operators_->RequestRole(Load("am"), "op1", "security_manager");
  ASSERT_TRUE(to_op.ok());
  EXPECT_EQ(operators_->ApproveRole(chief, *to_op).reason(), "separation_of_duties");
  // Nor the access manager or the security chief (found in review: each was made an operator
  // too, read a record and recorded a log review of it).
  for (const char* role : {"access_manager", "security_chief", "system_admin"}) {
    auto to = operators_->RequestRole(Load("am"), "op1", role);
    ASSERT_TRUE(to.ok()) << role;
    EXPECT_EQ(operators_->ApproveRole(chief, *to).reason(), "separation_of_duties") << role;
  }
  EXPECT_EQ(Load("sm").roles, std::vector<std::string>{"security_manager"});
  EXPECT_EQ(Load("op1").roles, std::vector<std::string>{"operator"});
  // A role held already is not approved again.
  auto again = operators_->RequestRole(Load("am"), "op1", "operator");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  Status st = operators_->ApproveRole(chief, *again);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(st.reason(), "conflict");
}

// Found in review: anonymous sign-ins naming a known, locked account each wrote an entry (300
// in 7 s from ten addresses, 3.5 million a day kept 7 years). While locked, the first refusal
// in a minute is an entry; the others are counted and written as one sampled entry by the
// console's timer (or at stop), so none is lost and the log grows by a constant.
TEST_F(RegistersTest, SignInsToALockedAccountAreRecordedAsASample) {
  auto hash = auth::HashPassword("a long enough password");
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) {
                    return txn.SetOperatorPassword("op1", *hash);
                  })
                  .ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(operators_->CheckPassword("op1", "wrong password!!", "console").status().reason(),
              "login_failed");
  }
  const size_t before = Outcomes("session.login").size();
  EXPECT_EQ(before, 5u);
  // From two addresses (the console names the source in the terminal).
  constexpr int kTries = 40;
  for (int i = 0; i < kTries; ++i) {
    const std::string from = i % 4 == 0 ? "console@10.0.0.2" : "console@10.0.0.1";
    EXPECT_FALSE(operators_->CheckPassword("op1", "a long enough password", from).ok());
  }
  // One entry for the first of each address; the rest held back.
  auto outcomes = Outcomes("session.login");
  ASSERT_EQ(outcomes.size(), before + 2);
  EXPECT_EQ(outcomes.back(), "refused:locked");
  ASSERT_TRUE(operators_->WriteHeldLoginRefusals(/*everything=*/true).ok());
  auto entries = LogEntries("session.login");
  ASSERT_EQ(entries.size(), before + 4);
  std::map<std::string, std::string> held;  // terminal -> conditions
  for (size_t i = before + 2; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].outcome, "refused:sampled");
    EXPECT_EQ(entries[i].actor, "operator:op1");
    held[entries[i].terminal] = entries[i].conditions;
  }
  // Each address's own count: 30 − 1 written at once, 10 − 1.
  EXPECT_NE(held["console@10.0.0.1"].find("count=29"), std::string::npos)
      << held["console@10.0.0.1"];
  EXPECT_NE(held["console@10.0.0.2"].find("count=9"), std::string::npos)
      << held["console@10.0.0.2"];
  // Nothing more held.
  ASSERT_TRUE(operators_->WriteHeldLoginRefusals(true).ok());
  EXPECT_EQ(LogEntries("session.login").size(), before + 4);
}

// A contractor's worker (委託作業者) reads no resident data (DESIGN §7; the PIA: 委託先は本人確認
// 情報に直接アクセスしない): the operator role is never approved for a holder of the contractor
// role, and an account holding both — written by hand, or from before the rule — reads nothing
// (not_nominated), under a contract or not. It signs in (health and metrics) only while a
// contract listing it is in force: the password step and the second factor check it (recorded
// refusals, reason contract_required). A new contract listing the worker gives that back.
TEST_F(RegistersTest, AContractorsWorkerReadsNothingAndSignsInOnlyWhileTheirContractIsInForce) {
  const OperatorView chief = Load("chief");
  const Actor host{"os:test", "test"};
  const std::string kCard(64, 'a');
  Notification n = Make("192015", 1, ChangeReason::kBirth, "1000000001", "10000000001");
  const std::string code = n.resident_code.str();
  auto p = registry_->Prepare(CheckJsonNotification(ToCanonicalJson(n), registry_->check_options()));
  auto applied = registry_->Apply({p}, host);
  ASSERT_TRUE(applied.ok() && (*applied)[0].ok());
  auto hash = auth::HashPassword("a long enough password");
  ASSERT_TRUE(hash.ok());
  // "worker": operator and contractor, trained, nominated into next year, under a contract
  // that ends on 2026-11-30.
  auto contract = desk_->RecordContract(chief, As("chief"), Contract("2026-04-01", "2026-11-30"));
  ASSERT_TRUE(contract.ok());
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) -> Status {
                    store::OperatorRow row;
                    row.operator_id = "worker";
                    row.name = "worker";
                    row.status = "active";
                    KAKUNIN_RETURN_IF_ERROR(txn.InsertOperator(row));
                    KAKUNIN_RETURN_IF_ERROR(txn.SetOperatorPassword("worker", *hash));
                    KAKUNIN_RETURN_IF_ERROR(txn.InsertRole("worker", "operator", 0, "test"));
                    KAKUNIN_RETURN_IF_ERROR(txn.InsertRole("worker", "contractor", 0, "test"));
                    store::CredentialRow card;  // an IC card
                    card.credential_id = kCard;
                    card.operator_id = "worker";
                    card.kind = "certificate";
                    card.confirmed_at = 1;  // confirmed by its holder
                    KAKUNIN_RETURN_IF_ERROR(txn.InsertCredential(card));
                    store::NominationRow nom;
                    nom.operator_id = "worker";
                    nom.purpose = "registry.maintenance";
                    nom.valid_from = "2026-11-01";
                    nom.valid_to = "2027-03-31";
                    nom.nominated_by = "sm";
                    return txn.InsertNomination(nom);
                  })
                  .ok());
  ASSERT_TRUE(ListByHand(*contract, "worker").ok());  // listed by hand too
  ASSERT_TRUE(desk_->RecordTraining(chief, As("chief"), Training("2026-11-10", {"worker"})).ok());
  const OperatorView worker = Load("worker");
  const Caller caller = Caller::ForOperator(worker, "console", "s");
  auto read = gateway_->Lookup(caller, code, "registry.maintenance");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().reason(), "not_nominated");
  ASSERT_TRUE(operators_->CheckPassword("worker", "a long enough password", "console").ok());
  ASSERT_TRUE(operators_->CardPassed("worker", kCard, "console").ok());

  clock_.Advance(int64_t{11} * 24 * 3600 * 1000000);  // 2026-12-01: the contract has ended
  ASSERT_EQ(clock_.TodayJst().ToIso(), "2026-12-01");
  auto login = operators_->CheckPassword("worker", "a long enough password", "console");
  ASSERT_FALSE(login.ok());
  EXPECT_EQ(login.status().reason(), "login_failed");  // the same answer as a wrong password
  std::vector<std::string> reads;
  for (const auto& e : LogEntries("resident.provide")) reads.push_back(e.outcome);
  EXPECT_EQ(reads, (std::vector<std::string>{"refused:not_nominated"}));
  EXPECT_EQ(Outcomes("session.login"),
            (std::vector<std::string>{"password_ok", "refused:contract_required"}));
  // Nor does the IC card pass as the second factor.
  EXPECT_EQ(operators_->CardPassed("worker", kCard, "console").reason(), "contract_required");
  EXPECT_EQ(Outcomes("session.second_factor"),
            (std::vector<std::string>{"done:ic_card", "refused:contract_required"}));
  // Without the training rule, the contract still counts at sign-in.
  gateway_->RequireTraining(false);
  EXPECT_EQ(operators_->CheckPassword("worker", "a long enough password", "console")
                .status()
                .reason(),
            "login_failed");
  gateway_->RequireTraining(true);

  // A new contract from today listing the worker: reads and sign-ins again.
  auto renewed = desk_->RecordContract(Load("chief"), As("chief"),
                                       Contract("2026-12-01", "2027-03-31"));
  ASSERT_TRUE(renewed.ok());
  ASSERT_TRUE(ListByHand(*renewed, "worker").ok());  // by hand, as above
  EXPECT_TRUE(operators_->CheckPassword("worker", "a long enough password", "console").ok());
  // Still no resident data.
  EXPECT_EQ(gateway_->Lookup(caller, code, "registry.maintenance").status().reason(),
            "not_nominated");
}

// The roster and the contract keep up with the facts (委託作業者の名簿): a worker who leaves the
// work is taken off the roster, a contract can end before its last day (解除), and either stops
// what the contractor role allowed at once — the sign-in and every read check the roster
// (CheckContract). Only the security chief does either; both are recorded, refusals too, and the
// register shows them. A removed worker is not listed under that contract again.
TEST_F(RegistersTest, AWorkerTakenOffTheRosterOrAContractEndedEarlyStopsAtOnce) {
  const OperatorView chief = Load("chief");
  auto contract = desk_->RecordContract(chief, As("chief"), Contract());
  ASSERT_TRUE(contract.ok());
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *contract, "vendor").ok());
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *contract, "con").ok());
  auto request = operators_->RequestRole(Load("am"), "vendor", "contractor");
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  ASSERT_TRUE(operators_->ApproveRole(chief, *request).ok());
  auto check = [&](const std::string& id) {
    Status out;
    EXPECT_TRUE(store_
                    ->Write([&](store::RegistryTxn& txn) {
                      out = CheckContract(txn, id, clock_.TodayJst());
                      return Status::Ok();
                    })
                    .ok());
    return out.ok() ? std::string("ok") : out.reason();
  };
  EXPECT_EQ(check("vendor"), "ok");
  const std::string today = clock_.TodayJst().ToIso();
  for (const char* who : {"am", "sm", "aud", "admin", "op1", "vendor"}) {
    EXPECT_EQ(desk_->RemoveWorker(Load(who), As(who), *contract, "vendor").reason(),
              "not_permitted")
        << who;
    EXPECT_EQ(desk_->EndContract(Load(who), As(who), *contract, today).reason(), "not_permitted")
        << who;
  }
  EXPECT_EQ(check("vendor"), "ok");

  ASSERT_TRUE(desk_->RemoveWorker(chief, As("chief"), *contract, "vendor").ok());
  EXPECT_EQ(check("vendor"), "contract_required");
  EXPECT_EQ(desk_->RemoveWorker(chief, As("chief"), *contract, "vendor").reason(), "conflict");
  EXPECT_EQ(desk_->AddWorker(chief, As("chief"), *contract, "vendor").reason(), "conflict");
  EXPECT_EQ(check("vendor"), "contract_required");
  EXPECT_EQ(desk_->RemoveWorker(chief, As("chief"), *contract, "op1").reason(), "not_found");
  EXPECT_EQ(desk_->RemoveWorker(chief, As("chief"), *contract + 100, "con").reason(), "not_found");
  EXPECT_EQ(desk_->RemoveWorker(chief, As("chief"), *contract, "no such id!").reason(),
            "invalid_request");

  // A renewed contract lists them again; ended early, it stops after its new last day.
  auto renewed = desk_->RecordContract(chief, As("chief"), Contract());
  ASSERT_TRUE(renewed.ok());
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *renewed, "vendor").ok());
  EXPECT_EQ(check("vendor"), "ok");
  EXPECT_EQ(desk_->EndContract(chief, As("chief"), *renewed, "2027-03-31").reason(),
            "invalid_request");  // its own last day: nothing to end
  EXPECT_EQ(desk_->EndContract(chief, As("chief"), *renewed, "2027-3-1").reason(),
            "invalid_request");
  EXPECT_EQ(desk_->EndContract(chief, As("chief"), *renewed + 100, today).reason(), "not_found");
  // Not before it began (review: the register showed a contract ended before its start). The
  // day before its first is a contract cancelled before it began; tried on a later contract.
  EXPECT_EQ(desk_->EndContract(chief, As("chief"), *renewed, "2026-03-30").reason(),
            "invalid_request");
  // Once it began, not "cancelled before it began", nor any day before yesterday (review: a
  // contract that ran for months was marked in force on no day).
  EXPECT_EQ(desk_->EndContract(chief, As("chief"), *renewed, "2026-03-31").reason(),
            "invalid_request");
  EXPECT_EQ(desk_->EndContract(chief, As("chief"), *renewed, "2026-11-01").reason(),
            "invalid_request");
  auto future = desk_->RecordContract(chief, As("chief"), Contract("2027-04-01", "2028-03-31"));
  ASSERT_TRUE(future.ok());
  EXPECT_EQ(desk_->EndContract(chief, As("chief"), *future, "2027-03-30").reason(),
            "invalid_request");
  ASSERT_TRUE(desk_->EndContract(chief, As("chief"), *future, "2027-03-31").ok());
  ASSERT_TRUE(desk_->EndContract(chief, As("chief"), *renewed, today).ok());
  EXPECT_EQ(check("vendor"), "ok");  // today is still its last day
  EXPECT_EQ(desk_->EndContract(chief, As("chief"), *renewed, today).reason(), "conflict");
  clock_.Advance(int64_t{24} * 3600 * 1000000);
  EXPECT_EQ(check("vendor"), "contract_required");
  EXPECT_EQ(check("con"), "ok");  // holds no contractor role: nothing to check

  auto list = desk_->Contracts(Load("aud"), As("aud"));
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, *future);
  EXPECT_EQ((*list)[0].ended_on, "2027-03-31");
  EXPECT_FALSE((*list)[0].in_force);
  list->erase(list->begin());
  const registry::Contract& ended = (*list)[0];
  EXPECT_EQ(ended.id, *renewed);
  EXPECT_EQ(ended.ended_on, today);
  EXPECT_EQ(ended.ended_by, "chief");
  EXPECT_NE(ended.ended_at, 0);
  EXPECT_FALSE(ended.in_force);
  const registry::Contract& first = (*list)[1];
  EXPECT_TRUE(first.in_force);
  EXPECT_EQ(first.ended_on, "");
  ASSERT_EQ(first.workers.size(), 2u);
  EXPECT_EQ(first.workers[0].operator_id, "con");
  EXPECT_EQ(first.workers[0].removed_at, 0);
  EXPECT_EQ(first.workers[1].operator_id, "vendor");
  EXPECT_NE(first.workers[1].removed_at, 0);
  EXPECT_EQ(first.workers[1].removed_by, "chief");

  std::vector<std::string> removal(6, "refused:not_permitted");
  for (const char* o : {"done", "refused:conflict", "refused:not_found", "refused:not_found",
                        "refused:invalid_request"}) {
    removal.push_back(o);
  }
  EXPECT_EQ(Outcomes("register.contract.worker_removal"), removal);
  std::vector<std::string> end(6, "refused:not_permitted");
  for (const char* o : {"refused:invalid_request", "refused:invalid_request", "refused:not_found",
                        "refused:invalid_request", "refused:invalid_request",
                        "refused:invalid_request", "refused:invalid_request", "done", "done",
                        "refused:conflict"}) {
    end.push_back(o);
  }
  EXPECT_EQ(Outcomes("register.contract.end"), end);
  auto removed = LogEntries("register.contract.worker_removal");
  EXPECT_EQ(removed[6].conditions, "contract=" + std::to_string(*contract) + " operator=vendor");
  auto ends = LogEntries("register.contract.end");
  EXPECT_EQ(ends[13].conditions, "contract=" + std::to_string(*future) + " last_day=2027-03-31");
  EXPECT_EQ(ends[14].conditions, "contract=" + std::to_string(*renewed) + " last_day=" + today);
}

// The log as reviewers read it names no resident, not even by keyed MAC: the same MAC in two
// entries links them, and a reviewer holding a role that reads or is refused a code they typed
// would find their own entry's MAC and, through it, every entry about that person (found in
// review: an access manager who was also an operator). Each target shows whether the person was
// found, nothing more.
TEST_F(RegistersTest, TheLogAsReviewersReadItLinksNoEntryToAResident) {
  const Actor host{"os:test", "test"};
  Notification n = Make("192015", 1, ChangeReason::kBirth, "1000000001", "10000000001");
  auto p = registry_->Prepare(CheckJsonNotification(ToCanonicalJson(n), registry_->check_options()));
  auto applied = registry_->Apply({p}, host);
  ASSERT_TRUE(applied.ok() && (*applied)[0].ok());
  LogReadInput in;
  in.action = "notification.apply";
  auto page = desk_->ReadLog(Load("aud"), As("aud"), *audit_, in);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->records.size(), 1u);
  ASSERT_TRUE(page->records[0].entry);
  ASSERT_EQ(page->records[0].entry->targets.size(), 1u);
  EXPECT_TRUE(page->records[0].entry->targets[0].starts_with("resident"))
      << page->records[0].entry->targets[0];
  const std::string json = LogRecordJson(page->records[0]);
  EXPECT_EQ(json.find("mac:"), std::string::npos) << json;
  // The host's search (the suspicion check) still has them.
  auto host_rows = audit_->Search(LogQuery{});
  ASSERT_TRUE(host_rows.ok());
  bool mac = false;
  for (const auto& r : *host_rows) {
    if (r.entry && r.entry->action == "notification.apply" && !r.entry->targets.empty()) {
      mac = r.entry->targets[0].starts_with("mac:");
    }
  }
  EXPECT_TRUE(mac);
}

// Fix review: the log read only its first 1,000 matching entries; a busy day could not be read
// past them. `after` gives the next page, and every page is recorded.
TEST_F(RegistersTest, TheLogIsReadPageByPage) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(desk_->RecordTraining(Load("chief"), As("chief"), Training()).ok());
  }
  LogReadInput in;
  in.action = "register.training.record";
  in.limit = 3;
  std::vector<int64_t> seen;
  for (int page_no = 0; page_no < 10; ++page_no) {
    auto page = desk_->ReadLog(Load("aud"), As("aud"), *audit_, in);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& r : page->records) seen.push_back(r.seq);
    if (!page->truncated) break;
    ASSERT_FALSE(page->records.empty());
    in.after = page->records.back().seq;
  }
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "no entry twice";
  auto reads = LogEntries("audit.search");
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_THAT(reads.back().conditions, HasSubstr(" after=" + std::to_string(seen[5])));
  in.after = -1;
  EXPECT_EQ(desk_->ReadLog(Load("aud"), As("aud"), *audit_, in).status().reason(),
            "invalid_request");
}

TEST_F(RegistersTest, EachKindOfReviewHasItsRecorders) {
  struct Case {
    const char* who;
    const char* kind;
    bool allowed;
  };
  const std::vector<Case> cases = {
      {"chief", "self_inspection", true}, {"chief", "audit", false},
      {"chief", "log_review", false},     {"aud", "audit", true},
      {"aud", "log_review", true},        {"aud", "self_inspection", false},
      {"sm", "log_review", true},         {"sm", "self_inspection", false},
      {"sm", "audit", false},             {"am", "log_review", true},
      {"am", "audit", false},             {"op1", "log_review", false},
      {"admin", "log_review", false},     {"con", "log_review", false},
  };
  std::vector<std::string> outcomes;
  size_t made = 0;
  for (const Case& c : cases) {
    auto r = desk_->RecordReview(Load(c.who), As(c.who), Review(c.kind));
    EXPECT_EQ(r.ok(), c.allowed) << c.who << " " << c.kind << " " << r.status().ToString();
    if (!c.allowed) {
      EXPECT_EQ(r.status().reason(), "not_permitted") << c.who << " " << c.kind;
    }
    outcomes.push_back(c.allowed ? "done" : "refused:not_permitted");
    made += c.allowed;
  }
  EXPECT_EQ(Outcomes("register.review.record"), outcomes);
  for (const char* reader : {"chief", "aud", "sm"}) {
    auto list = desk_->Reviews(Load(reader), As(reader));
    ASSERT_TRUE(list.ok()) << reader;
    ASSERT_EQ(list->size(), made);
    EXPECT_EQ((*list)[0].summary, kSummary);
    EXPECT_EQ((*list)[0].result, "no_findings");
  }
  for (const char* who : {"am", "admin", "op1", "con"}) {
    EXPECT_EQ(desk_->Reviews(Load(who), As(who)).status().reason(), "not_permitted") << who;
  }
  auto recorded = LogEntries("register.review.record");
  EXPECT_EQ(recorded[0].conditions, "review=1 kind=self_inspection result=no_findings");
}

TEST_F(RegistersTest, AReviewSummaryHoldsNoResidentNumber) {
  std::vector<ReviewInput> bad;
  for (const char* summary :
       {"住民票コード12345678901の照会を確認した。", "個人番号123456789012を含む照会があった。",
        "照会：１２３４５６７８９０１", "個人番号 1234 5678 9012 の照会があった。",
        "照会：１２３－４５６７－８９０１", "", "\x01"}) {
    ReviewInput r = Review("audit");
    r.summary = summary;
    bad.push_back(r);
  }
  ReviewInput r = Review("audit");
  r.summary = std::string(2001, 'x');
  bad.push_back(r);
  r = Review("audit");
  r.conducted_on = "2026-09-29";  // before the period ends
  bad.push_back(r);
  r = Review("audit");
  r.conducted_on = "2026-11-21";  // tomorrow
  bad.push_back(r);
  r = Review("audit");
  r.period_from = "2026-10-01";  // after period_to
  bad.push_back(r);
  r = Review("audit");
  r.result = "fine";
  bad.push_back(r);
  r = Review("review");
  bad.push_back(r);
  for (const ReviewInput& in : bad) {
    auto made = desk_->RecordReview(Load("aud"), As("aud"), in);
    EXPECT_EQ(made.status().reason(), "invalid_request") << in.summary.substr(0, 40);
  }
  auto list = desk_->Reviews(Load("aud"), As("aud"));
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(Outcomes("register.review.record"),
            std::vector<std::string>(bad.size(), "refused:invalid_request"));
  // A ten-digit number (a phone number) and a thirteen-digit corporate number are no residents'.
  ReviewInput fine = Review("audit");
  fine.summary =
      "委託先（法人番号1234567890123、電話0552231111、055-223-1111）の2026-04-01 2026-09-30の"
      "作業記録を確認した。";
  EXPECT_TRUE(desk_->RecordReview(Load("aud"), As("aud"), fine).ok());
  EXPECT_THAT(AllLogText(), Not(HasSubstr("12345678901")));
}

// After every register's calls: the log names ids, kinds and counts — never a title, a company,
// the work or a summary — and verifies.
// Found in review: on a node of one security chief and one access manager (as bootstrap makes
// it), the chief revoked the access manager's authenticator (allowed: nobody else can), issued
// the account a new enrolment link (allowed then for the only chief), enrolled as the access
// manager, and from there made and nominated an operator of their own. Nobody re-enrols
// credentials they revoked; such an account is recovered on the node's host, and recorded.
TEST_F(RegistersTest, TheOnlySecurityChiefDoesNotReEnrolAnAccountTheyRevoked) {
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) -> Status {
                    for (const char* id : {"am", "op1"}) {
                      KAKUNIN_RETURN_IF_ERROR(txn.SetOperatorPassword(id, "enrolled"));
                      store::CredentialRow c;
                      c.credential_id = std::string("cred-") + id;
                      c.operator_id = id;
                      c.kind = "webauthn";
                      c.public_key = "k";
                      c.confirmed_at = 1;
                      KAKUNIN_RETURN_IF_ERROR(txn.InsertCredential(c));
                    }
                    return Status::Ok();
                  })
                  .ok());
  const OperatorView chief = Load("chief");
  ASSERT_TRUE(operators_->RevokeCredential(chief, "am", auth::Base64UrlEncode("cred-am")).ok());
  EXPECT_EQ(operators_->IssueEnrolment(chief, "am").status().reason(), "not_permitted");
  // On the host: only for an account that cannot sign in any more.
  EXPECT_EQ(operators_->RecoverEnrolment("op1", "os:root").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(operators_->RecoverEnrolment("vendor", "os:root").status().code(),
            StatusCode::kFailedPrecondition)
      << "never enrolled: the first link is the chief's";
  auto recovered = operators_->RecoverEnrolment("am", "os:root");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ(recovered->operator_id, "am");
  // Not where a chief can issue the link in the console (review: the host path re-enrolled
  // any revoked account, one person alone).
  ASSERT_TRUE(
      operators_->RevokeCredential(Load("am"), "op1", auth::Base64UrlEncode("cred-op1")).ok());
  EXPECT_EQ(operators_->RecoverEnrolment("op1", "os:root").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(operators_->IssueEnrolment(chief, "op1").ok());
  EXPECT_EQ(Outcomes("operator.recover"),
            std::vector<std::string>({"refused:conflict", "refused:conflict", "done",
                                      "refused:conflict"}));
}

// The system administrator (backups, keys, the only copying role) gets no resident data: no
// operator role beside it, and an account holding both (written before the rule) reads nothing.
TEST_F(RegistersTest, TheSystemAdministratorIsNeverAnOperator) {
  EXPECT_TRUE(RolesConflict("system_admin", "operator"));
  EXPECT_TRUE(RolesConflict("operator", "system_admin"));
  auto asked = operators_->RequestRole(Load("am"), "admin", "operator");
  if (asked.ok()) {
    EXPECT_EQ(operators_->ApproveRole(Load("chief"), *asked).reason(), "separation_of_duties");
  } else {
    EXPECT_EQ(asked.status().reason(), "separation_of_duties") << asked.status().ToString();
  }
  EXPECT_FALSE(Load("admin").HasRole("operator"));
}

// A nomination is made in advance: it does not begin before the day it is made (review: one
// from 2019 went into the register).
TEST_F(RegistersTest, ANominationIsNotBackDated) {
  ASSERT_TRUE(
      desk_->RecordTraining(Load("chief"), As("chief"), Training("2026-11-10", {"op1"})).ok());
  Status back = operators_->Nominate(Load("sm"), "op1", "registry.maintenance", "2019-04-01",
                                     "2099-12-31");
  EXPECT_EQ(back.code(), StatusCode::kInvalidArgument) << back.ToString();
  EXPECT_TRUE(Load("op1").nominations.empty());
  EXPECT_TRUE(operators_
                  ->Nominate(Load("sm"), "op1", "registry.maintenance", "2026-11-20", "2027-03-31")
                  .ok());
}

// The operation log for its reviewers on the console (DESIGN §7): auditors and access managers
// read it whole, a security manager the entries of an operator of their own unit; nobody else.
// Each read is recorded, with its filters as ids only.
TEST_F(RegistersTest, ReviewersReadTheLogAndEachReadIsRecorded) {
  ASSERT_TRUE(store_
                  ->Write([&](store::RegistryTxn& txn) -> Status {
                    for (auto [id, role, unit] : {std::tuple{"sm2", "security_manager", "市町村課"},
                                                  std::tuple{"op3", "operator", "市町村課"},
                                                  std::tuple{"op4", "operator", "総務課"}}) {
                      store::OperatorRow row;
                      row.operator_id = id;
                      row.name = id;
                      row.unit = unit;
                      row.status = "active";
                      KAKUNIN_RETURN_IF_ERROR(txn.InsertOperator(row));
                      KAKUNIN_RETURN_IF_ERROR(txn.InsertRole(id, role, 0, "test"));
                    }
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(desk_->RecordTraining(Load("chief"), As("chief"), Training()).ok());
  LogReadInput in;
  in.action = "register.training.record";
  for (const char* who : {"aud", "am"}) {
    auto page = desk_->ReadLog(Load(who), As(who), *audit_, in);
    ASSERT_TRUE(page.ok()) << who << " " << page.status().ToString();
    ASSERT_EQ(page->records.size(), 1u) << who;
    EXPECT_FALSE(page->truncated);
    EXPECT_THAT(LogRecordJson(page->records[0]), HasSubstr("\"actor\":\"operator:chief\""));
  }
  for (const char* who : {"op1", "chief", "admin", "con"}) {
    EXPECT_EQ(desk_->ReadLog(Load(who), As(who), *audit_, in).status().reason(), "not_permitted")
        << who;
  }
  // A security manager: an operator of their unit, named.
  EXPECT_EQ(desk_->ReadLog(Load("sm2"), As("sm2"), *audit_, in).status().code(),
            StatusCode::kInvalidArgument);
  LogReadInput unit;
  unit.actor = "operator:op4";
  EXPECT_EQ(desk_->ReadLog(Load("sm2"), As("sm2"), *audit_, unit).status().reason(),
            "not_permitted");
  unit.actor = "operator:op3";
  EXPECT_TRUE(desk_->ReadLog(Load("sm2"), As("sm2"), *audit_, unit).ok());
  // Filters are ids: a name or a code typed into one is refused, never written to the log.
  LogReadInput bad;
  bad.actor = "山田太郎";
  EXPECT_EQ(desk_->ReadLog(Load("aud"), As("aud"), *audit_, bad).status().code(),
            StatusCode::kInvalidArgument);
  bad.actor = "operator:12345678901";
  EXPECT_EQ(desk_->ReadLog(Load("aud"), As("aud"), *audit_, bad).status().code(),
            StatusCode::kInvalidArgument);
  LogReadInput few;
  few.limit = 1;
  auto cut = desk_->ReadLog(Load("aud"), As("aud"), *audit_, few);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->records.size(), 1u);
  EXPECT_TRUE(cut->truncated);
  const auto reads = LogEntries("audit.search");
  ASSERT_EQ(reads.size(), 12u);
  EXPECT_EQ(reads[0].conditions,
            "actor= action=register.training.record purpose= from= to=");
  EXPECT_EQ(reads[0].outcome, "done");
  EXPECT_EQ(reads[0].result_count, 1);
  EXPECT_THAT(AllLogText(), Not(HasSubstr("山田太郎")));
  ExpectVerified();
}

TEST_F(RegistersTest, TheLogHoldsIdsAndCountsAndVerifies) {
  const OperatorView chief = Load("chief");
  ASSERT_TRUE(desk_->RecordTraining(chief, As("chief"), Training()).ok());
  ASSERT_FALSE(desk_->RecordTraining(Load("op1"), As("op1"), Training()).ok());
  ASSERT_TRUE(desk_->Trainings(Load("aud"), As("aud")).ok());
  auto contract = desk_->RecordContract(chief, As("chief"), Contract());
  ASSERT_TRUE(contract.ok());
  ASSERT_TRUE(desk_->AddWorker(chief, As("chief"), *contract, "vendor").ok());
  ASSERT_TRUE(desk_->Contracts(Load("am"), As("am")).ok());
  ASSERT_TRUE(desk_->RecordReview(Load("aud"), As("aud"), Review("audit")).ok());
  ASSERT_TRUE(desk_->Reviews(Load("sm"), As("sm")).ok());
  ASSERT_TRUE(
      operators_->Nominate(Load("sm"), "op1", "registry.maintenance", "2026-11-20", "2026-12-31")
          .ok());
  const std::string all = AllLogText();
  for (const char* text : {kTitle, kCompany, kWork, "操作履歴を点検した", "不審な照会"}) {
    EXPECT_THAT(all, Not(HasSubstr(text)));
  }
  for (const char* action :
       {"register.training.record", "register.training.list", "register.contract.record",
        "register.contract.worker", "register.contract.list", "register.review.record",
        "register.review.list"}) {
    auto entries = LogEntries(action);
    ASSERT_FALSE(entries.empty()) << action;
    for (const auto& e : entries) {
      EXPECT_TRUE(e.targets.empty()) << action;
      EXPECT_EQ(e.target_count, 0u) << action;
      EXPECT_TRUE(e.purpose.empty()) << action;
      // "name=value" pairs of ids, kinds and counts.
      for (char ch : e.conditions) {
        EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '=' ||
                    ch == ' ' || ch == '_' || ch == '-' || ch == '.')
            << action << ": " << e.conditions;
      }
    }
  }
  ExpectVerified();
}

}  // namespace
}  // namespace kakunin::registry
