#pragma once

// The client register in memory, for the per-request authentication (Gateway): a request of a
// registered system costs a read of one meta value (the register's generation) instead of the
// register's row. Every change of the register bumps the generation in the transaction that
// makes it — Gateway::Register explicitly, any update or deletion of a row by a trigger (schema
// 10), so also a revocation made with SQL behind the node's back — in whichever process makes
// it (the CLI writes
// the same database as a running node): an entry is used only while the generation read
// before it was loaded is still the current one, so the next request after a committed change
// reads the register again. Only active clients are kept: an unknown or revoked one is read
// (and its refusal recorded) every time.

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/status.h"
#include "registry/gateway.h"
#include "store/registry_store.h"

namespace kakunin::registry {

// The meta key holding the register's generation: a decimal counter, absent until the first
// change (read as "").
inline constexpr char kClientsGenerationKey[] = "clients_generation";

// In `txn` that changes the register: the next generation.
inline Status BumpClientsGeneration(store::RegistryTxn& txn) {
  KAKUNIN_ASSIGN_OR_RETURN(gen, txn.GetMeta(kClientsGenerationKey));
  const long long n = gen ? std::strtoll(gen->c_str(), nullptr, 10) : 0;
  return txn.SetMeta(kClientsGenerationKey, std::to_string(n + 1));
}

// Thread-safe.
class ClientCache {
 public:
  explicit ClientCache(size_t max_entries = 4096) : max_entries_(max_entries) {}

  // The active client `spki` as loaded under `generation`, or nullptr.
  std::shared_ptr<const Client> Find(const std::string& spki, const std::string& generation) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_) return nullptr;
    auto it = clients_.find(spki);
    return it == clients_.end() ? nullptr : it->second;
  }

  // Keeps `client`, read from a committed snapshot AFTER `generation` was read from it or an
  // earlier one: then a change committed in between makes the generation differ and the entry
  // is never used. (Rows read inside a write transaction must not come here: its generation
  // may roll back and be given again to another change.) A new generation drops every entry.
  void Put(const std::string& spki, const std::string& generation,
           std::shared_ptr<const Client> client) {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_ || clients_.size() >= max_entries_) {
      clients_.clear();
      generation_ = generation;
    }
    clients_[spki] = std::move(client);
  }

 private:
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::string generation_;
  std::unordered_map<std::string, std::shared_ptr<const Client>> clients_;
};

}  // namespace kakunin::registry
