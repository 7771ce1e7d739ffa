#pragma once

// `kakunin keys` over a real node (cli/keys.h, docs/keys.md).

#include "cli/keys.h"

namespace kakunin::app {

class KeyAccess final : public cli::KeyAccess {
 public:
  Result<std::vector<std::string>> Status(const std::string& data_dir) const override;
  Result<std::vector<std::string>> InitToken(const std::string& data_dir) const override;
  Result<std::vector<std::string>> WrapFieldKeys(const std::string& data_dir) const override;
  Result<std::vector<std::string>> RotateSigningKey(const std::string& data_dir,
                                                    const std::string& label) const override;
  Result<std::vector<std::string>> RotateFieldKey(const std::string& data_dir) const override;
  Result<std::vector<std::string>> Reseal(const std::string& data_dir) const override;
  Result<std::vector<std::string>> RetireFieldKeys(const std::string& data_dir) const override;
};

}  // namespace kakunin::app
