// kakunin stats --digest (registry/record_digest.h): two nodes with their own keys that hold the
// same current records give equal digests, whatever the batching and the order in which a move's
// 転入 and 転出 arrived; any difference in a current record shows; one resident is withheld.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "domain/local_gov_code.h"
#include "registry/record_digest.h"
#include "registry/registry.h"
#include "support/node_world.h"

namespace kakunin::testing {
namespace {

Notification Person(const std::string& municipality, uint64_t seq, ChangeReason reason) {
  Notification n;
  n.municipality_code = municipality;
  n.sequence = seq;
  n.kind = KindOf(reason);
  n.reason = reason;
  n.change_date = Date::FromYmd(2026, 4, 1);
  n.resident_code = ResidentCode::FromTenDigits("2472705960");
  n.individual_number = IndividualNumber::FromElevenDigits("98320567321");
  n.name = "山田　太郎";
  n.name_kana = "ヤマダ　タロウ";
  n.sex = Sex::kMale;
  n.birth_date = Date::FromYmd(1980, 5, 1);
  n.address = LocalGovTable::Builtin().Find(municipality)->FullName() + "1番地";
  return n;
}

class DigestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(a_.MakeNode("digest-a").ok());
    ASSERT_TRUE(b_.MakeNode("digest-b").ok());
  }

  static void Apply(NodeWorld& w, const std::vector<Notification>& ns) {
    std::vector<registry::PreparedNotification> batch;
    const CheckOptions check = w.node->registry->check_options();
    for (const auto& n : ns) {
      batch.push_back(w.node->registry->Prepare(CheckJsonNotification(ToCanonicalJson(n), check)));
    }
    auto applied = w.node->registry->Apply(batch, w.node->actor);
    ASSERT_TRUE(applied.ok()) << applied.status().message();
    for (const auto& r : *applied) {
      ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : std::string(ErrorCodeName(r.errors[0].code)));
    }
  }

  static std::vector<registry::PrefectureDigest> Digests(NodeWorld& w) {
    auto d = w.node->reports->Digests();
    EXPECT_TRUE(d.ok()) << d.status().message();
    return d.ok() ? *d : std::vector<registry::PrefectureDigest>{};
  }

  static std::string Line(const std::vector<registry::PrefectureDigest>& ds) {
    std::string out;
    for (const auto& d : ds) {
      out += std::to_string(d.prefecture) + " " + std::to_string(d.residents) + " " +
             d.digest_hex.value_or("withheld") + "\n";
    }
    return out;
  }

  NodeWorld a_, b_;
};

TEST_F(DigestTest, EqualRecordsGiveEqualDigestsAcrossKeysBatchesAndArrivalOrder) {
  // The same 300 residents: in one batch on A, in batches of 7 on B (other keys, other times).
  std::vector<Notification> all;
  ASSERT_TRUE(a_.ApplyGenerated({.seed = 4}, 300, [&](Notification& n) { all.push_back(n); }).ok());
  for (size_t i = 0; i < all.size(); i += 7) {
    Apply(b_,
          std::vector<Notification>(all.begin() + i, all.begin() + std::min(all.size(), i + 7)));
  }
  const auto da = Digests(a_);
  ASSERT_EQ(da.size(), 1u);
  EXPECT_EQ(da[0].prefecture, 19);
  EXPECT_EQ(da[0].residents, 300);
  ASSERT_TRUE(da[0].digest_hex.has_value());
  EXPECT_EQ(da[0].digest_hex->size(), 64u);
  EXPECT_EQ(Line(da), Line(Digests(b_)));

  // A move from 甲府市 to 富士吉田市: on A the 転入 arrives before the 転出, on B after it.
  Notification entry = Person("192015", 1000000, ChangeReason::kBirth);
  // Sequences continue each sender's own (the generator's are gap-free from 1).
  auto last = [&](const std::string& muni) {
    uint64_t s = 0;
    for (const auto& n : all) {
      if (n.municipality_code == muni) s = std::max(s, n.sequence);
    }
    return s;
  };
  entry.sequence = last("192015") + 1;
  Notification out = Person("192015", entry.sequence + 1, ChangeReason::kMovedOut);
  Notification in = Person("192023", last("192023") + 1, ChangeReason::kMovedIn);
  Apply(a_, {entry});
  Apply(b_, {entry});
  EXPECT_EQ(Line(Digests(a_)), Line(Digests(b_)));
  Apply(a_, {in});
  EXPECT_NE(Line(Digests(a_)), Line(Digests(b_)));  // A has the move, B not yet
  Apply(b_, {out});
  Apply(a_, {out});                                 // history only on A: B's registration stands
  EXPECT_NE(Line(Digests(a_)), Line(Digests(b_)));  // B: removed, A: active in 富士吉田市
  Apply(b_, {in});
  EXPECT_EQ(Line(Digests(a_)), Line(Digests(b_)));
  EXPECT_EQ(Digests(a_)[0].residents, 301);

  // Any change of a current record shows: an amendment of the address on A only.
  Notification moved = Person("192023", in.sequence + 1, ChangeReason::kMovedWithin);
  moved.address = LocalGovTable::Builtin().Find("192023")->FullName() + "2番地";
  Apply(a_, {moved});
  EXPECT_NE(Line(Digests(a_)), Line(Digests(b_)));
  Apply(b_, {moved});
  EXPECT_EQ(Line(Digests(a_)), Line(Digests(b_)));
}

TEST_F(DigestTest, ARemovedResidentDoesNotCountAndOneResidentIsWithheld) {
  EXPECT_EQ(Line(Digests(a_)), "");
  Apply(a_, {Person("192015", 1, ChangeReason::kBirth)});
  const auto one = Digests(a_);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].residents, 1);
  EXPECT_FALSE(one[0].digest_hex.has_value());
  Apply(a_, {Person("192015", 2, ChangeReason::kDeath)});
  EXPECT_EQ(Line(Digests(a_)), "");
}

TEST(CanonicalRecordTest, IsFixedLengthPrefixedAndOmitsNodeLocalData) {
  store::VersionRow v;
  v.version_id = 77;
  v.applied_at = 123456;
  v.sequence = 9;
  v.municipality_code = "192015";
  v.name = "山田;太郎";
  v.name_kana = "ヤマダ";
  v.sex = "male";
  v.birth_date = "1980-05-01";
  v.address = "山梨県甲府市1番地";
  v.sealed_number = "node-local ciphertext";
  const std::string c = registry::CanonicalRecord("24727059608", v, "983205673214");
  EXPECT_EQ(c,
            "resident_code:11:24727059608;municipality_code:6:192015;individual_number:12:"
            "983205673214;name:13:山田;太郎;name_kana:9:ヤマダ;former_surname=-;alias=-;"
            "sex:4:male;birth_date:10:1980-05-01;address:25:山梨県甲府市1番地;");
}

}  // namespace
}  // namespace kakunin::testing
