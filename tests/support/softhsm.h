#pragma once

// A SoftHSM2 token of the test's own: a temporary directory with its configuration and token
// store, SOFTHSM2_CONF pointing at it while the object lives, and one token initialised with
// softhsm2-util. Removed (and the variable restored) afterwards, so nothing is left behind.
// Tests skip when SoftHSM2 is not installed (scripts/bootstrap installs it).

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "crypto/pkcs11.h"

namespace kakunin::testing_support {

inline std::string SoftHsmModule() {
  for (const char* p : {"/usr/lib/softhsm/libsofthsm2.so",
                        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

class SoftHsm {
 public:
  // Returns false (and the test should skip) if SoftHSM2 is missing.
  bool Start(const std::string& label = "kakunin-test") {
    module_ = SoftHsmModule();
    if (module_.empty() || std::system("command -v softhsm2-util >/dev/null") != 0) return false;
    std::string pattern = ::testing::TempDir() + "kakunin_softhsm_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return false;
    dir_ = pattern;
    std::filesystem::create_directory(dir_ + "/tokens");
    std::ofstream(dir_ + "/softhsm2.conf")
        << "directories.tokendir = " << dir_ << "/tokens\nobjectstore.backend = file\n"
        << "log.level = ERROR\nslots.removable = false\n";
    if (const char* old = std::getenv("SOFTHSM2_CONF")) old_conf_ = old;
    ::setenv("SOFTHSM2_CONF", (dir_ + "/softhsm2.conf").c_str(), 1);
    std::string cmd = "softhsm2-util --init-token --free --label " + label +
                      " --pin 1234 --so-pin 87654321 >/dev/null";
    if (std::system(cmd.c_str()) != 0) return false;
    std::ofstream(dir_ + "/pin") << "1234\n";
    std::filesystem::permissions(dir_ + "/pin", std::filesystem::perms::owner_read |
                                                    std::filesystem::perms::owner_write);
    settings_.module = module_;
    settings_.token_label = label;
    settings_.pin_file = dir_ + "/pin";
    return true;
  }
  ~SoftHsm() {
    if (dir_.empty()) return;
    if (old_conf_) {
      ::setenv("SOFTHSM2_CONF", old_conf_->c_str(), 1);
    } else {
      ::unsetenv("SOFTHSM2_CONF");
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const std::string& dir() const { return dir_; }
  const crypto::HsmSettings& settings() const { return settings_; }

 private:
  std::string module_;
  std::string dir_;
  std::optional<std::string> old_conf_;
  crypto::HsmSettings settings_;
};

}  // namespace kakunin::testing_support
