#pragma once

// What `kakunin keys` needs of a node's keys (docs/keys.md), implemented by app/ (app::KeyAccess)
// over the configuration, the key file, the PKCS#11 token and the store. Each call returns the
// lines to print: key ids, labels, kinds and counts — public facts only, never a key or a PIN.

#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::cli {

class KeyAccess {
 public:
  virtual ~KeyAccess() = default;
  // Where each key is, its id, and field-key rotation's progress.
  virtual Result<std::vector<std::string>> Status(const std::string& data_dir) const = 0;
  // Creates on the token the AES key [hsm] wrap_key_label names, if it is missing.
  virtual Result<std::vector<std::string>> InitToken(const std::string& data_dir) const = 0;
  // Rewrites the key file wrapped by the token's AES key.
  virtual Result<std::vector<std::string>> WrapFieldKeys(const std::string& data_dir) const = 0;
  // A new signing key (on the token as `label` with [hsm], else a new key file), announced in
  // the log under the old one; the configuration then names it.
  virtual Result<std::vector<std::string>> RotateSigningKey(const std::string& data_dir,
                                                            const std::string& label) const = 0;
  // Adds a new current field key to the key file.
  virtual Result<std::vector<std::string>> RotateFieldKey(const std::string& data_dir) const = 0;
  // Runs the re-sealing to the end here (a node that is not serving).
  virtual Result<std::vector<std::string>> Reseal(const std::string& data_dir) const = 0;
  // Removes the older field keys once nothing is sealed under them.
  virtual Result<std::vector<std::string>> RetireFieldKeys(const std::string& data_dir) const = 0;
};

}  // namespace kakunin::cli
