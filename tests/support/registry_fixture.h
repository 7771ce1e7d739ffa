#pragma once

// The set-up the registry's unit tests share: a fresh directory per test, a real store (SQLite,
// or PostgreSQL with KAKUNIN_TEST_STORE=postgresql),
// real field keys and audit signing key, a fixed clock, the operation log and a Registry; on
// request the sample purpose catalogue and a Gateway over them. Each test keeps its own data
// (residents, clients, operators) in its own SetUp.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "audit/log.h"
#include "audit/signer.h"
#include "core/clock.h"
#include "core/date.h"
#include "domain/notification.h"
#include "crypto/field_cipher.h"
#include "registry/config.h"
#include "registry/gateway.h"
#include "registry/purposes.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::registry::testing {

// The store the suites run on: SQLite in `dir`, or with KAKUNIN_TEST_STORE=postgresql a fresh
// schema on the test process's own PostgreSQL server (support/pg_server.h).
// `pg_schema`, if given, receives the PostgreSQL schema's name.
Result<std::unique_ptr<store::RegistryStore>> OpenTestStore(const std::filesystem::path& dir,
                                                           std::string* pg_schema = nullptr);

// Public, as the suites' own helpers (threads, lambdas) reach into it.
class RegistryFixture : public ::testing::Test {
 public:
  // `prefix` names the per-test directory (kept apart from other suites run at once); `today`
  // is the fixed clock's date. `with_gateway`: the sample purpose catalogue too, given to the
  // registry, and a Gateway on the store.
  RegistryFixture(std::string prefix, Date today, bool with_gateway = false);

  // Directory, keys, store (prefecture 19), log and registry (and the gateway). A derived SetUp
  // calls this first and returns if HasFatalFailure().
  void SetUp() override;
  // The Gateway's pooled readers close before the files go.
  void TearDown() override;

  // A valid notification of 山田　太郎 born 1980-05-01 at 1番地 of `municipality`; the test
  // adjusts what it needs.
  static Notification Make(const std::string& municipality, uint64_t seq, ChangeReason reason,
                           const std::string& code10, const std::string& number11);

  // Whether the suite runs on PostgreSQL (KAKUNIN_TEST_STORE=postgresql).
  static bool OnPostgres();
  // Runs SQL on the database behind the store's back, as an administrator could (the tamper
  // tests): on the SQLite file, or through psql on this test's PostgreSQL schema.
  Status TamperDatabase(const std::string& sql);

  // The operation log's entries of `action`, decoded, oldest first (a decoding failure fails the
  // test).
  std::vector<audit::AuditEntry> LogEntries(const std::string& action);
  // Everything of the log that could hold text, concatenated (payloads, targets, actors,
  // actions, purposes): what a "never in clear" check searches.
  std::string AllLogText();

  // A municipality merged away and its successor: a resident of 塩山市 (192031, merged into 甲州市
  // 192139 on 2005-11-01) imported as a past record (checked as of its change date), the
  // successor's CS registered, and 塩山市's CS as a registration made before the merger that
  // nobody revoked would be (written straight into the register: registration refuses the code
  // today). Needs the gateway. ASSERTs; the caller returns if HasFatalFailure().
  struct MergedMunicipality {
    std::string resident_code;
    Client successor_cs;  // 甲州市
    Client old_cs;        // 塩山市
  };
  void SetUpMergedMunicipality(const std::string& code10, const std::string& number11,
                               MergedMunicipality* out);

  // A nomination written straight into the register (nominated by "sm"), as an older node or a
  // nomination made in an earlier fiscal year would hold it. ASSERTs.
  void NominateDirectly(const std::string& id, const std::string& purpose,
                        const std::string& from = "2026-01-01", const std::string& to = "2026-12-31");

  std::string prefix_;
  std::string pg_schema_;  // on PostgreSQL: this test's schema
  bool with_gateway_;
  std::filesystem::path dir_;
  NodeConfig config_;
  FixedClock clock_;
  std::unique_ptr<crypto::FieldCipher> cipher_;
  std::unique_ptr<store::RegistryStore> store_;
  std::unique_ptr<audit::Signer> signer_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<PurposeCatalogue> purposes_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<Gateway> gateway_;
};

}  // namespace kakunin::registry::testing
