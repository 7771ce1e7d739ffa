#pragma once

// A store that hands everything to another: the base of the tests' wrappers, each of which
// overrides only what it intercepts (a write that fails, a revocation between two commits, a
// scrub that never runs, a count of transactions). Only what every store must provide is
// forwarded; the optional members keep RegistryStore's defaults unless a wrapper forwards them.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "store/registry_store.h"

namespace kakunin::testing {

class ForwardingStore : public store::RegistryStore {
 public:
  explicit ForwardingStore(store::RegistryStore* inner) : inner_(inner) {}
  Status Write(const std::function<Status(store::RegistryTxn&)>& fn) override {
    return inner_->Write(fn);
  }
  Result<std::unique_ptr<store::RegistryReader>> OpenReader() override {
    return inner_->OpenReader();
  }
  Result<std::optional<std::string>> GetMeta(const std::string& key) override {
    return inner_->GetMeta(key);
  }
  Status SetMeta(const std::string& key, const std::string& value) override {
    return inner_->SetMeta(key, value);
  }
  Status CheckIntegrity() override { return inner_->CheckIntegrity(); }

 protected:
  store::RegistryStore* inner() const { return inner_; }

 private:
  store::RegistryStore* inner_;
};

}  // namespace kakunin::testing
