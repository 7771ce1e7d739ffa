#pragma once

// The client aggregate (DESIGN §3, §8): the register of systems allowed to connect, and the
// node's metadata (prefecture, key id, schema facts, the halt flag); never personal data.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::store {

// A system allowed to connect (the client register). `kind` is municipal_cs | agency | national.
struct ClientRow {
  std::string spki_sha256;  // lower-case hex SHA-256 of the certificate's SPKI
  std::string kind;
  std::string name;               // for people; never used to authorise
  std::string municipality_code;  // municipal_cs: the municipality it speaks for; else ""
  std::string recipient;          // agency/national: its recipient id in the purpose catalogue
  std::string purposes;           // agency: the purpose ids it is registered for, comma-separated
  int64_t registered_at = 0;      // µs since epoch
  int64_t revoked_at = 0;         // µs since epoch; 0 while valid
};

// Reads of the client register and node state (see RegistryReader).
class ClientReader {
 public:
  virtual ~ClientReader() = default;
  virtual Result<std::optional<ClientRow>> FindClient(const std::string& spki_sha256) = 0;
  virtual Result<std::vector<ClientRow>> ListClients() = 0;
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
};

// Writes of the client register and node state inside one transaction (see RegistryTxn).
class ClientWriter {
 public:
  virtual ~ClientWriter() = default;
  // AlreadyExists if the SPKI is registered (revoked or not): a key is registered once.
  virtual Status InsertClient(const ClientRow& row) = 0;
  // False if no such client or already revoked.
  virtual Result<bool> RevokeClient(const std::string& spki_sha256, int64_t at) = 0;
  // The register entry as of this transaction: a read re-checks its caller's rights here, in
  // the transaction that records it, so a revocation committed a moment earlier counts.
  virtual Result<std::optional<ClientRow>> FindClient(const std::string& spki_sha256) = 0;
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;
  virtual Status DeleteMeta(const std::string& key) = 0;
  // Whether a system client (revoked or not) is registered with this SPKI SHA-256: such a key
  // is never an operator's IC card.
  virtual Result<bool> IsClientKey(const std::string& spki_sha256) = 0;
};

}  // namespace kakunin::store
