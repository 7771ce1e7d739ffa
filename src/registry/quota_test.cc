// Read quotas and real-time alerts (registry/quota.h, docs/quotas.md): the limiter with a fake
// clock, the [quotas] configuration, and a harvest through the Gateway on a real database that
// is cut off at the quota, with the refusal and the alerts in the operation log.

#include "registry/quota.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "audit/review.h"
#include "audit/signer.h"
#include "crypto/keys.h"
#include "registry/gateway.h"
#include "store/sqlite/sqlite_registry_store.h"
#include "support/registry_fixture.h"

namespace kakunin::registry {
namespace {

constexpr int64_t kSecond = 1000000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kDay = 86400 * kSecond;

// Friday 2026-11-20, 12:00 JST: office hours, and on a minute boundary.
int64_t Noon() { return FixedClock::AtDate(Date::FromYmd(2026, 11, 20)).NowMicros(); }

QuotaConfig Small() {
  QuotaConfig c;
  c.defaults = {5, 20, 1000, 1000};
  return c;
}

int AdmitMany(QuotaTable& t, const std::string& caller, const std::string& purpose, int64_t now,
              int n, QuotaSubject subject = QuotaSubject::kClient) {
  int admitted = 0;
  for (int i = 0; i < n; ++i) admitted += t.Admit(caller, subject, purpose, now).admitted;
  return admitted;
}

TEST(QuotaTableTest, RequestsPerMinuteOverASlidingMinute) {
  QuotaTable t(Small());
  const int64_t t0 = Noon();
  EXPECT_EQ(AdmitMany(t, "cert:a", "p", t0, 5), 5);
  QuotaTable::Verdict v = t.Admit("cert:a", QuotaSubject::kClient, "p", t0 + 59 * kSecond);
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.limit, "requests_per_minute");
  EXPECT_EQ(v.value, 5);
  // The next minute begins with the whole previous one still inside the last 60 s.
  EXPECT_EQ(AdmitMany(t, "cert:a", "p", t0 + kMinute, 5), 0);
  // Half way through it, half of the previous minute's 5 still count: 2 more fit.
  EXPECT_EQ(AdmitMany(t, "cert:a", "p", t0 + kMinute + 30 * kSecond, 5), 2);
  // Two minutes on, nothing of the first minute is left.
  EXPECT_EQ(AdmitMany(t, "cert:a", "p", t0 + 3 * kMinute, 10), 5);
}

TEST(QuotaTableTest, ResidentsPerMinuteRefuseTheNextRequest) {
  QuotaTable t(Small());
  const int64_t t0 = Noon();
  ASSERT_TRUE(t.Admit("cert:a", QuotaSubject::kClient, "p", t0).admitted);
  t.Charge("cert:a", QuotaSubject::kClient, "p", 19, t0);
  ASSERT_TRUE(t.Admit("cert:a", QuotaSubject::kClient, "p", t0).admitted);  // one left
  t.Charge("cert:a", QuotaSubject::kClient, "p", 50, t0);  // an answer may overshoot once
  QuotaTable::Verdict v = t.Admit("cert:a", QuotaSubject::kClient, "p", t0);
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.limit, "residents_per_minute");
}

// Review: requests running at the same time were all admitted against a residents' counter
// that only moved when their answers were charged — 16 batches of 300 codes at once got 4,784
// residents past a limit of 600 a minute. Each admission now reserves the most its answer can
// hold, and the answer settles the difference: the overshoot is at most one answer, however
// many run at once.
TEST(QuotaTableTest, ConcurrentRequestsAreAdmittedAgainstWhatTheOnesBeforeMayReturn) {
  QuotaConfig c;
  c.defaults = {1000, 600, 100000, 100000};
  QuotaTable t(c);
  const int64_t t0 = Noon();
  int admitted = 0;
  for (int i = 0; i < 16; ++i) {
    admitted += t.Admit("cert:a", QuotaSubject::kClient, "p", t0, 300).admitted;
  }
  EXPECT_EQ(admitted, 2);  // 0 + 300 < 600, 300 + 300 = 600: the third finds none left
  // Their answers held 10 residents each: the unused 580 come back, and more fit.
  t.Charge("cert:a", QuotaSubject::kClient, "p", 10, t0, 300);
  t.Charge("cert:a", QuotaSubject::kClient, "p", 10, t0, 300);
  EXPECT_TRUE(t.Admit("cert:a", QuotaSubject::kClient, "p", t0, 300).admitted);
  EXPECT_TRUE(t.Admit("cert:a", QuotaSubject::kClient, "p", t0, 300).admitted);  // 20+300 < 600
  EXPECT_FALSE(t.Admit("cert:a", QuotaSubject::kClient, "p", t0, 1).admitted);   // 620
  // The day's counter the same way.
  QuotaConfig d;
  d.defaults = {1000, 100000, 100000, 500};
  QuotaTable day(d);
  EXPECT_TRUE(day.Admit("cert:b", QuotaSubject::kClient, "p", t0, 400).admitted);
  EXPECT_TRUE(day.Admit("cert:b", QuotaSubject::kClient, "p", t0 + kMinute, 400).admitted);
  EXPECT_FALSE(day.Admit("cert:b", QuotaSubject::kClient, "p", t0 + 2 * kMinute, 1).admitted);
}

TEST(QuotaTableTest, DaysAreJstCalendarDays) {
  QuotaConfig c;
  c.defaults = {1000, 1000, 3, 10};
  QuotaTable t(c);
  const int64_t t0 = Noon();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(t.Admit("cert:a", QuotaSubject::kClient, "p", t0 + i * kMinute).admitted);
  }
  QuotaTable::Verdict v = t.Admit("cert:a", QuotaSubject::kClient, "p", t0 + 11 * 3600 * kSecond);
  EXPECT_FALSE(v.admitted);  // 23:00 JST, same day
  EXPECT_EQ(v.limit, "requests_per_day");
  // Midnight JST (15:00 UTC) starts a new day.
  EXPECT_TRUE(t.Admit("cert:a", QuotaSubject::kClient, "p", t0 + 12 * 3600 * kSecond).admitted);
  t.Charge("cert:a", QuotaSubject::kClient, "p", 10, t0 + 12 * 3600 * kSecond);
  v = t.Admit("cert:a", QuotaSubject::kClient, "p", t0 + 13 * 3600 * kSecond);
  EXPECT_FALSE(v.admitted);
  EXPECT_EQ(v.limit, "residents_per_day");
  EXPECT_TRUE(t.Admit("cert:a", QuotaSubject::kClient, "p", t0 + 2 * kDay).admitted);
}

TEST(QuotaTableTest, PerPurposeAndOperatorOverrides) {
  QuotaConfig c = Small();
  c.operators.requests_per_minute = 2;
  c.purposes["board.school_aid"].requests_per_minute = 8;
  EXPECT_EQ(c.LimitsFor(false, "other").requests_per_minute, 5);
  EXPECT_EQ(c.LimitsFor(true, "other").requests_per_minute, 2);
  EXPECT_EQ(c.LimitsFor(false, "board.school_aid").requests_per_minute, 8);
  EXPECT_EQ(c.LimitsFor(true, "board.school_aid").requests_per_minute, 8);  // purpose wins
  EXPECT_EQ(c.LimitsFor(true, "board.school_aid").residents_per_minute, 20);
  QuotaTable t(c);
  const int64_t t0 = Noon();
  EXPECT_EQ(AdmitMany(t, "cert:a", "board.school_aid", t0, 20), 8);
  EXPECT_EQ(AdmitMany(t, "cert:a", "other", t0, 20), 5);
  EXPECT_EQ(AdmitMany(t, "operator:o", "other", t0, 20, QuotaSubject::kOperator), 2);
}

TEST(QuotaTableTest, CallersAndPurposesAreCountedApart) {
  QuotaTable t(Small());
  const int64_t t0 = Noon();
  EXPECT_EQ(AdmitMany(t, "cert:a", "p", t0, 10), 5);
  EXPECT_EQ(AdmitMany(t, "cert:b", "p", t0, 10), 5);
  EXPECT_EQ(AdmitMany(t, "cert:a", "q", t0, 10), 5);
  // The same id as an operator is another caller.
  EXPECT_EQ(AdmitMany(t, "cert:a", "p", t0, 10, QuotaSubject::kOperator), 5);
  EXPECT_EQ(t.size(), 4u);
}

TEST(QuotaTableTest, TheTableIsBounded) {
  QuotaTable t(Small(), /*max_keys=*/4);
  const int64_t t0 = Noon();
  for (int i = 0; i < 100; ++i) {
    t.Admit("cert:" + std::to_string(i), QuotaSubject::kClient, "p", t0 + i);
    EXPECT_LE(t.size(), 4u);
  }
  // An idle key is forgotten before an active one: "cert:99" was seen last and keeps its count.
  EXPECT_EQ(AdmitMany(t, "cert:99", "p", t0 + 200, 10), 4);
  // A day later every key has expired; new ones take their places.
  for (int i = 0; i < 4; ++i)
    t.Admit("new:" + std::to_string(i), QuotaSubject::kClient, "p", t0 + 2 * kDay);
  EXPECT_EQ(t.size(), 4u);
}

TEST(QuotaTableTest, ConcurrentRequestsAdmitExactlyTheLimit) {
  QuotaConfig c;
  c.defaults = {100, 100000, 100000, 100000};
  QuotaTable t(c);
  const int64_t t0 = Noon();
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (t.Admit("cert:a", QuotaSubject::kClient, "p", t0).admitted) ++admitted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 100);
}

// --- configuration ---

TEST(QuotaConfigTest, APurposeOutsideTheCatalogueIsRefusedAtStart) {
  auto catalogue = PurposeCatalogue::Parse(SamplePurposeCatalogue());
  ASSERT_TRUE(catalogue.ok());
  QuotaConfig c;
  c.purposes["board.school_aid"].requests_per_day = 5;
  EXPECT_TRUE(CheckQuotaPurposes(c, *catalogue).ok());
  c.purposes["board.shcool_aid"].requests_per_day = 5;
  EXPECT_EQ(CheckQuotaPurposes(c, *catalogue).code(), StatusCode::kInvalidArgument);
}

// --- real-time rules ---

std::vector<std::string> RulesOf(const std::vector<audit::LiveAlert>& alerts) {
  std::vector<std::string> out;
  for (const auto& a : alerts) out.push_back(a.rule);
  return out;
}

TEST(LiveReviewTest, ManySearchesFiresOnceWhenTheThresholdIsPassed) {
  audit::LiveReview live({}, 60 * kMinute);
  const int64_t t0 = Noon();
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(live.OnRead("cert:a", t0 + i, true).empty());
  auto alerts = live.OnRead("cert:a", t0 + 50, true);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "many_searches");
  EXPECT_EQ(alerts[0].actor, "cert:a");
  EXPECT_EQ(alerts[0].count, 51);
  EXPECT_EQ(alerts[0].threshold, 50);
  // At most one per interval, however many more searches.
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(live.OnRead("cert:a", t0 + 100 + i, true).empty());
  EXPECT_THAT(RulesOf(live.OnRead("cert:a", t0 + 61 * kMinute, true)),
              ::testing::ElementsAre("many_searches"));
  // Another actor has its own counters.
  EXPECT_TRUE(live.OnRead("cert:b", t0, true).empty());
}

TEST(LiveReviewTest, OffHoursRefusalsAndProbes) {
  audit::LiveReview live;
  const int64_t t0 = Noon();
  // 22:00 JST.
  EXPECT_THAT(RulesOf(live.OnRead("operator:x", t0 + 10 * 3600 * kSecond, false)),
              ::testing::ElementsAre("off_hours"));
  // Saturday noon.
  EXPECT_THAT(RulesOf(live.OnRead("operator:y", t0 + kDay, false)),
              ::testing::ElementsAre("off_hours"));
  EXPECT_TRUE(live.OnRefusal("cert:a", t0).empty());
  EXPECT_TRUE(live.OnRefusal("cert:a", t0).empty());
  EXPECT_THAT(RulesOf(live.OnRefusal("cert:a", t0)), ::testing::ElementsAre("repeated_refusals"));
  EXPECT_THAT(RulesOf(live.OnRefusal("cert:q", t0, /*quota=*/true)),
              ::testing::ElementsAre("quota_exceeded"));
  EXPECT_TRUE(live.OnRead("cert:p", t0, false, 50).empty());
  EXPECT_THAT(RulesOf(live.OnRead("cert:p", t0, false, 1)),
              ::testing::ElementsAre("many_not_found"));
  // A new day starts the counters again.
  EXPECT_TRUE(live.OnRefusal("cert:a", t0 + kDay).empty());
}

TEST(LiveReviewTest, TrackedActorsAreBounded) {
  audit::LiveReview live({}, 60 * kMinute, /*max_actors=*/10);
  for (int i = 0; i < 100; ++i) live.OnRead("cert:" + std::to_string(i), Noon() + i, true);
  EXPECT_LE(live.tracked(), 10u);
}

// --- a harvest through the Gateway ---

class HarvestTest : public testing::RegistryFixture {
 protected:
  // A Friday, noon.
  HarvestTest() : RegistryFixture("kakunin_quota_", Date::FromYmd(2026, 11, 20), /*with_gateway=*/true) {}

  void SetUp() override {
    RegistryFixture::SetUp();
    if (HasFatalFailure()) return;
    // Three residents named ヤマダ.
    std::vector<PreparedNotification> batch;
    for (int i = 1; i <= 3; ++i) {
      const std::string i1 = std::to_string(i);
      Notification n = Make("192015", static_cast<uint64_t>(i), ChangeReason::kBirth,
                            "100000000" + i1, "1000000000" + i1);
      batch.push_back(registry_->Prepare(
          CheckJsonNotification(ToCanonicalJson(n), registry_->check_options())));
    }
    auto applied = registry_->Apply(batch, Actor{"os:test", "test"});
    ASSERT_TRUE(applied.ok());
    for (const auto& r : *applied) ASSERT_TRUE(r.ok());
    agency_.spki_sha256 = std::string(64, 'a');
    agency_.kind = ClientKind::kAgency;
    agency_.name = "山梨県教育委員会";
    agency_.recipient = "agency:yamanashi-board-of-education";
    agency_.purposes = {"board.school_aid"};
    // Registered: the read's own transaction checks the register again.
    ASSERT_TRUE(gateway_->Register(agency_, Actor{"os:test", "test"}).ok());
  }

  std::vector<audit::AuditEntry> Entries(const std::string& action) {
    auto reader = store_->OpenReader();
    store::AuditQuery q;
    q.action = action;
    auto rows = (*reader)->SearchAudit(q);
    EXPECT_TRUE(rows.ok());
    std::vector<audit::AuditEntry> out;
    for (const auto& row : *rows) out.push_back(*audit::DecodeStoredEntry(row));
    return out;
  }

  Client agency_;
};

// The incident: one agency collected 1,395 residents with 27,600 searches in under 10 s. With the
// default quotas the same loop is cut off after 120 searches, the refusal is recorded, and the
// alerts are in the log at once.
TEST_F(HarvestTest, AHarvestingAgencyIsCutOffAndAlertedAtOnce) {
  Quotas quotas(QuotaConfig{}, &clock_, registry_.get());
  int refusal_hooks = 0;
  std::vector<std::string> alert_hooks;
  quotas.SetHooks({[&](QuotaSubject kind) {
                     EXPECT_EQ(kind, QuotaSubject::kClient);
                     ++refusal_hooks;
                   },
                   [&](const audit::LiveAlert& a) { alert_hooks.push_back(a.rule); }});
  gateway_->UseQuotas(&quotas);
  const Caller caller = Caller::ForClient(agency_, "10.0.0.5");
  SearchRequest yamada;
  yamada.name = "山田";  // a criterion the purpose allows (name, not kana)
  int answered = 0, residents = 0, refused = 0;
  for (int i = 0; i < 300; ++i) {  // 300 searches within one second
    auto found = gateway_->Search(caller, yamada, "board.school_aid");
    if (found.ok()) {
      ++answered;
      residents += static_cast<int>(found->records.size());
      continue;
    }
    ++refused;
    EXPECT_EQ(found.status().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(found.status().reason(), "quota_exceeded");
    EXPECT_EQ(found.status().message().find("山田"), std::string::npos);
  }
  EXPECT_EQ(answered, 120);  // requests_per_minute
  EXPECT_EQ(residents, 360);
  EXPECT_EQ(refused, 180);
  EXPECT_EQ(refusal_hooks, 180);

  // The refusals are in the log, with which limit, and nothing about the residents: the first
  // Registry::kClientRefusalsFree of the minute each an entry, the rest counted into the
  // certificate's next refused entry (found in review: one entry per refusal let a harvesting
  // agency write thousands of 7-year entries a second).
  auto searches = Entries("resident.search");
  int refusals_logged = 0;
  for (const auto& e : searches) {
    if (e.outcome != "refused:quota_exceeded") continue;
    ++refusals_logged;
    EXPECT_EQ(e.actor, "cert:" + agency_.spki_sha256);
    EXPECT_EQ(e.purpose, "board.school_aid");
    EXPECT_TRUE(e.targets.empty());
    EXPECT_EQ(e.conditions, "quota=requests_per_minute limit=120 subject=client");
  }
  EXPECT_EQ(refusals_logged, Registry::kClientRefusalsFree);

  // The alerts, each once (one per rule and actor per interval), in the log and at the hooks.
  std::vector<std::string> logged;
  for (const auto& e : Entries("alert.raised")) {
    EXPECT_EQ(e.actor, "cert:" + agency_.spki_sha256);
    EXPECT_TRUE(e.targets.empty());
    EXPECT_EQ(e.conditions.find("山田"), std::string::npos);
    logged.push_back(e.conditions.substr(0, e.conditions.find(' ')));
  }
  EXPECT_THAT(logged, ::testing::UnorderedElementsAre("rule=many_searches", "rule=quota_exceeded",
                                                      "rule=repeated_refusals"));
  EXPECT_THAT(alert_hooks, ::testing::UnorderedElementsAre("many_searches", "quota_exceeded",
                                                           "repeated_refusals"));
  // many_searches fired during the harvest, before the quota: at the 51st search.
  EXPECT_EQ(alert_hooks.front(), "many_searches");

  // Two minutes later the agency may read again, at the quota's pace.
  clock_.Advance(2 * kMinute);
  EXPECT_TRUE(gateway_->Search(caller, yamada, "board.school_aid").ok());
  // When it runs into the quota again, that refusal's entry carries the count held back.
  for (int i = 1; i < 120; ++i) {
    ASSERT_TRUE(gateway_->Search(caller, yamada, "board.school_aid").ok()) << i;
  }
  EXPECT_EQ(gateway_->Search(caller, yamada, "board.school_aid").status().reason(),
            "quota_exceeded");
  auto last = Entries("resident.search").back();
  EXPECT_EQ(last.outcome, "refused:quota_exceeded");
  const int held = 180 - Registry::kClientRefusalsFree + 1;
  EXPECT_EQ(last.conditions, "quota=requests_per_minute limit=120 subject=client count=" +
                                 std::to_string(held) +
                                 " quota_exceeded=" + std::to_string(held));
  // The log review counts what the sampled entries stand for, not the entries: 181 refusals.
  auto reader = store_->OpenReader();
  ASSERT_TRUE(reader.ok());
  auto findings = audit::Review(**reader, 0, INT64_MAX);
  ASSERT_TRUE(findings.ok()) << findings.status().ToString();
  int repeated = 0;
  for (const auto& f : *findings) {
    if (f.rule != "repeated_refusals" || f.actor != "cert:" + agency_.spki_sha256) continue;
    ++repeated;
    EXPECT_EQ(f.note, std::to_string(180 + 1) + " refused operations in one day");
    EXPECT_EQ(f.entries.size(), static_cast<size_t>(Registry::kClientRefusalsFree) + 1);
  }
  EXPECT_EQ(repeated, 1);
}

TEST_F(HarvestTest, LookupsChargeResidentsAndProbesRaiseAnAlert) {
  QuotaConfig config;
  config.defaults.residents_per_day = 2;
  Quotas quotas(config, &clock_, registry_.get());
  gateway_->UseQuotas(&quotas);
  const Caller caller = Caller::ForClient(agency_, "10.0.0.5");
  const std::string code = ResidentCode::FromTenDigits("1000000001").str();
  ASSERT_TRUE(gateway_->Lookup(caller, code, "board.school_aid").ok());
  ASSERT_TRUE(gateway_->Lookup(caller, code, "board.school_aid").ok());
  auto third = gateway_->Lookup(caller, code, "board.school_aid");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().reason(), "quota_exceeded");
  // Not-found probes cost no resident, but 51 of them in a day raise many_not_found.
  std::vector<std::string> probes;
  for (int i = 0; i < 51; ++i) {
    probes.push_back(ResidentCode::FromTenDigits("20000000" + std::to_string(10 + i)).str());
  }
  Quotas fresh(QuotaConfig{}, &clock_, registry_.get());
  gateway_->UseQuotas(&fresh);
  auto batch = gateway_->Batch(caller, probes, "board.school_aid");
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  std::vector<std::string> rules;
  for (const auto& e : Entries("alert.raised")) rules.push_back(e.conditions);
  EXPECT_THAT(rules, ::testing::Contains(::testing::StartsWith("rule=many_not_found count=51")));
}

// Review: a reservation is given back when the read returns nothing. A search refused by its
// use case (a criterion the purpose does not allow) costs no resident, however often; a search
// that finds one costs one.
TEST_F(HarvestTest, AFailedReadGivesItsReservationBack) {
  QuotaConfig config;
  config.defaults.residents_per_minute = 150;
  Quotas quotas(config, &clock_, registry_.get());
  gateway_->UseQuotas(&quotas);
  const Caller caller = Caller::ForClient(agency_, "10.0.0.5");
  SearchRequest bad;
  bad.kana = "ヤマダ";  // board.school_aid holds no kana
  bad.limit = 100;
  for (int i = 0; i < 5; ++i) {
    auto r = gateway_->Search(caller, bad, "board.school_aid");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().reason(), "quota_exceeded") << i;
  }
  // 5 × 100 reserved would have used up 150; given back, a lookup still fits.
  const std::string code = ResidentCode::FromTenDigits("1000000001").str();
  EXPECT_TRUE(gateway_->Lookup(caller, code, "board.school_aid").ok());
}

}  // namespace
}  // namespace kakunin::registry
