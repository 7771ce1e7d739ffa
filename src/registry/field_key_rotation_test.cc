// Field-key rotation: values re-sealed under a new key in the background while the registry
// keeps reading and writing; resumable; recorded in the log without keys or personal data.

#include "registry/field_key_rotation.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "crypto/key_file.h"
#include "audit/entry.h"
#include "core/bytes.h"
#include "support/registry_fixture.h"

namespace kakunin::registry {
namespace {

constexpr char kKofu[] = "192015";

class FieldKeyRotationTest : public testing::RegistryFixture {
 public:
  FieldKeyRotationTest() : RegistryFixture("kakunin_fkrot_", Date::FromYmd(2026, 12, 4)) {}

  static std::string Code(int i) { return std::to_string(1000000000 + i); }
  static std::string Number(int i) { return std::to_string(10000000000LL + i); }

  // Births of residents [from, to) through `registry`, sequence = i + 1.
  Status Births(Registry& registry, int from, int to) {
    std::vector<PreparedNotification> batch;
    for (int i = from; i < to; ++i) {
      batch.push_back(registry.Prepare(CheckJsonNotification(
          ToCanonicalJson(Make(kKofu, static_cast<uint64_t>(i + 1), ChangeReason::kBirth,
                               Code(i), Number(i))),
          registry.check_options())));
    }
    auto r = registry.Apply(batch, actor_);
    if (!r.ok()) return r.status();
    for (const ApplyResult& a : *r) {
      if (!a.ok()) return Status::Internal("a birth was refused");
    }
    return Status::Ok();
  }
  // The individual number `registry` shows for resident i ("" if none or an error).
  std::string NumberOf(Registry& registry, int i) {
    auto reader = store_->OpenReader();
    if (!reader.ok()) return "";
    auto v = registry.Show(**reader, ResidentCode::FromTenDigits(Code(i)).str(), actor_, "test");
    if (!v.ok() || !*v) return "";
    return (*v)->individual_number;
  }
  int64_t UnderOlderKeys(const crypto::FieldCipher& cipher) {
    int64_t n = -1;
    EXPECT_TRUE(store_
                    ->Write([&](store::RegistryTxn& txn) -> Status {
                      KAKUNIN_ASSIGN_OR_RETURN(c, txn.CountSealedNotUnder(cipher.CurrentPrefix()));
                      n = c;
                      return Status::Ok();
                    })
                    .ok());
    return n;
  }
  std::vector<store::AuditRow> Entries(const char* action) {
    auto reader = *store_->OpenReader();
    store::AuditQuery q;
    q.action = action;
    return *reader->SearchAudit(q);
  }
  // The key file with a new current key added, and a cipher and registry over both keys.
  void Rotate() {
    const std::string path = (dir_ / "keys").string();
    ASSERT_TRUE(crypto::AddFieldKey(path, nullptr).ok());
    auto keys = crypto::LoadNodeKeyFile(path, nullptr);
    ASSERT_TRUE(keys.ok());
    ASSERT_EQ(keys->previous_aead_keys.size(), 1u);
    new_cipher_ = std::make_unique<crypto::FieldCipher>(*keys);
    new_registry_ =
        std::make_unique<Registry>(config_, store_.get(), new_cipher_.get(), &clock_, log_.get());
  }

  Actor actor_{"os:test", "test"};
  std::unique_ptr<crypto::FieldCipher> new_cipher_;
  std::unique_ptr<Registry> new_registry_;
};

TEST_F(FieldKeyRotationTest, ReSealsEverythingWhileTheRegistryReadsAndWrites) {
  constexpr int kBefore = 300;
  ASSERT_TRUE(Births(*registry_, 0, kBefore).ok());
  ASSERT_NO_FATAL_FAILURE(Rotate());
  EXPECT_EQ(UnderOlderKeys(*new_cipher_), kBefore);

  // A client of the node: births and reads through the registry holding both keys, until the
  // job is done. Every read must show the right number, whichever key its value is under.
  std::atomic<bool> done{false};
  std::atomic<int> operations{0};
  std::atomic<int> written{kBefore};
  std::atomic<int> wrong{0};
  std::thread client([&] {
    for (int round = 0; !done; ++round) {
      const int next = written.load();
      if (!Births(*new_registry_, next, next + 2).ok()) ++wrong;
      written = next + 2;
      const int i = (round * 37) % next;
      if (NumberOf(*new_registry_, i) != IndividualNumber::FromElevenDigits(Number(i)).str()) {
        ++wrong;
      }
      ++operations;
    }
  });
  FieldKeyRotation job(store_.get(), new_cipher_.get(), log_.get(), Actor{"os:kakunin", "job"});
  int steps = 0;
  for (;;) {
    auto p = job.Step(/*batch_size=*/16);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ++steps;
    if (p->done) break;
    // Let the client in between batches (a bounded poll, not a sleep): serving continues.
    const int seen = operations.load();
    for (int spin = 0; operations.load() == seen && spin < 30'000'000; ++spin) {
      std::this_thread::yield();
    }
  }
  done = true;
  client.join();
  EXPECT_GT(steps, kBefore / 16);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(written.load(), kBefore);

  // Every record opens, with the new key; nothing is under the old key any more.
  EXPECT_EQ(UnderOlderKeys(*new_cipher_), 0);
  for (int i = 0; i < written.load(); ++i) {
    ASSERT_EQ(NumberOf(*new_registry_, i), IndividualNumber::FromElevenDigits(Number(i)).str())
        << i;
  }
  // After retiring the old key, too.
  ASSERT_TRUE(crypto::RetireOldFieldKeys((dir_ / "keys").string(), nullptr).ok());
  auto keys = crypto::LoadNodeKeyFile((dir_ / "keys").string(), nullptr);
  ASSERT_TRUE(keys.ok());
  crypto::FieldCipher only_new(*keys);
  Registry retired(config_, store_.get(), &only_new, &clock_, log_.get());
  for (int i = 0; i < written.load(); i += 7) {
    ASSERT_EQ(NumberOf(retired, i), IndividualNumber::FromElevenDigits(Number(i)).str()) << i;
  }

  // The log: one start, one finish, key ids and counts only.
  auto starts = Entries(kFieldKeyRotateStartAction);
  auto finishes = Entries(kFieldKeyRotateFinishAction);
  ASSERT_EQ(starts.size(), 1u);
  ASSERT_EQ(finishes.size(), 1u);
  for (const auto* rows : {&starts, &finishes}) {
    auto e = audit::DecodeEntry(*(*rows)[0].payload);
    ASSERT_TRUE(e.ok());
    EXPECT_TRUE(e->targets.empty());
    EXPECT_EQ(e->conditions.find("1000000000"), std::string::npos);
    EXPECT_NE(e->conditions.find(HexEncode(crypto::FieldKeyId(keys->aead_key))),
              std::string::npos);
  }
  // Done stays done: no second finish.
  auto again = job.Step();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->done);
  EXPECT_EQ(Entries(kFieldKeyRotateFinishAction).size(), 1u);
  // And the log still verifies.
  auto reader = *store_->OpenReader();
  ASSERT_TRUE(registry_->Checkpoint().ok());
  auto report = audit::VerifyLog(*reader, signer_->public_key());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
}

TEST_F(FieldKeyRotationTest, ResumesAfterACrashWhereItStopped) {
  ASSERT_TRUE(Births(*registry_, 0, 100).ok());
  ASSERT_NO_FATAL_FAILURE(Rotate());
  {
    FieldKeyRotation job(store_.get(), new_cipher_.get(), log_.get(), Actor{"os:kakunin", "job"});
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(job.Step(10).ok());
  }  // the process dies here
  EXPECT_EQ(UnderOlderKeys(*new_cipher_), 70);
  auto progress = store_->GetMeta(kFieldKeyRotationProgressMeta);
  ASSERT_TRUE(progress.ok() && *progress);
  FieldKeyRotation restarted(store_.get(), new_cipher_.get(), log_.get(),
                             Actor{"os:kakunin", "job"});
  auto p = restarted.Run(nullptr, 10);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->done);
  EXPECT_EQ(p->resealed, 70);
  EXPECT_EQ(UnderOlderKeys(*new_cipher_), 0);
  EXPECT_EQ(Entries(kFieldKeyRotateStartAction).size(), 1u);
  EXPECT_EQ(Entries(kFieldKeyRotateFinishAction).size(), 1u);
}

// A node that had not taken the new key (no SIGHUP) sealed on under the old one after the
// re-sealing finished: the next run re-seals those values, instead of answering "done" for
// ever (found in review: retire-field-keys then refused, and its advice did nothing).
TEST_F(FieldKeyRotationTest, ValuesSealedUnderTheOldKeyAfterItFinishedAreReSealedByTheNextRun) {
  ASSERT_TRUE(Births(*registry_, 0, 20).ok());
  ASSERT_NO_FATAL_FAILURE(Rotate());
  FieldKeyRotation job(store_.get(), new_cipher_.get(), log_.get(), Actor{"os:kakunin", "job"});
  auto first = job.Run(nullptr, 8);
  ASSERT_TRUE(first.ok() && first->done);
  ASSERT_EQ(UnderOlderKeys(*new_cipher_), 0);
  ASSERT_TRUE(Births(*registry_, 20, 25).ok());  // the stale node, under the old key
  EXPECT_EQ(UnderOlderKeys(*new_cipher_), 5);
  FieldKeyRotation again(store_.get(), new_cipher_.get(), log_.get(), Actor{"os:kakunin", "job"});
  auto second = again.Run(nullptr, 8);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->done);
  EXPECT_EQ(second->resealed, 5);
  EXPECT_EQ(UnderOlderKeys(*new_cipher_), 0);
  EXPECT_EQ(NumberOf(*new_registry_, 22), IndividualNumber::FromElevenDigits(Number(22)).str());
  EXPECT_EQ(Entries(kFieldKeyRotateStartAction).size(), 2u);
  EXPECT_EQ(Entries(kFieldKeyRotateFinishAction).size(), 2u);
  // Done and nothing left: done at once, nothing logged.
  FieldKeyRotation third(store_.get(), new_cipher_.get(), log_.get(), Actor{"os:kakunin", "job"});
  auto idle = third.Run(nullptr, 8);
  ASSERT_TRUE(idle.ok() && idle->done);
  EXPECT_EQ(idle->resealed, 0);
  EXPECT_EQ(Entries(kFieldKeyRotateStartAction).size(), 2u);
}

TEST_F(FieldKeyRotationTest, AValueNoKeyOpensStopsTheJobAndIsNeverLoggedAsFinished) {
  ASSERT_TRUE(Births(*registry_, 0, 20).ok());
  // The old key is lost before the job ran: the new cipher alone cannot open the old values.
  const std::string path = (dir_ / "keys").string();
  ASSERT_TRUE(crypto::AddFieldKey(path, nullptr).ok());
  ASSERT_TRUE(crypto::RetireOldFieldKeys(path, nullptr).ok());
  auto keys = crypto::LoadNodeKeyFile(path, nullptr);
  ASSERT_TRUE(keys.ok());
  crypto::FieldCipher only_new(*keys);
  FieldKeyRotation job(store_.get(), &only_new, log_.get(), Actor{"os:kakunin", "job"});
  auto p = job.Run(nullptr, 8);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(p.status().message().find("opens under no key"), std::string::npos);
  EXPECT_TRUE(Entries(kFieldKeyRotateFinishAction).empty());
}

}  // namespace
}  // namespace kakunin::registry
