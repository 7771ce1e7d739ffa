#pragma once

// The set-up the registry's unit tests share: a fresh directory per test, a real SQLite store,
// real field keys and audit signing key, a fixed clock, the operation log and a Registry; on
// request the sample purpose catalogue and a Gateway over them. Each test keeps its own data
// (residents, clients, operators) in its own SetUp.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "audit/log.h"
#include "audit/signer.h"
#include "core/clock.h"
#include "core/date.h"
#include "crypto/field_cipher.h"
#include "registry/config.h"
#include "registry/gateway.h"
#include "registry/purposes.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::registry::testing {

class RegistryFixture : public ::testing::Test {
 protected:
  // `prefix` names the per-test directory (kept apart from other suites run at once); `today`
  // is the fixed clock's date.
  RegistryFixture(std::string prefix, Date today);

  // Directory, keys, store (prefecture 19), log and registry. A derived SetUp calls this first
  // and returns if HasFatalFailure().
  void SetUp() override;
  // The Gateway's pooled readers close before the files go.
  void TearDown() override;

  // The sample purpose catalogue, given to the registry, and a Gateway on the store. Call from
  // a derived SetUp after RegistryFixture::SetUp(); check HasFatalFailure() after.
  void UseSampleGateway();

  std::string prefix_;
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
