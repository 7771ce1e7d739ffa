#pragma once

// The municipal client's configuration (kakunin notify --config FILE): a small TOML file,
// parsed strictly (unknown keys, wrong types and out-of-range values are errors).
//
//   url        = "https://pref-node.example:8443"   # the prefecture node (required)
//   ca_file    = "ca.pem"                           # trusts the node's certificate (required)
//   cert_file  = "kofu-cs.pem"                      # this CS's client certificate (required)
//   key_file   = "kofu-cs.key"                      # its key (required)
//   journal    = "notify.journal"                   # what the node acknowledged (required)
//   format     = "jsonl"        # jsonl | csv (default jsonl)
//   encoding   = "utf-8"        # utf-8 | cp932 (default utf-8; cp932 only with csv)
//   batch_size = 100            # notifications per request, 1..1000 (default 100)
//   retries    = 8              # attempts per batch after a transport failure, 1..100 (8)
//   timeout_seconds = 30        # connect and each read or write, 1..600 (30)
//   resident_code_check = "full"  # full | format: as the node's [checks] (default full)
//
// Relative paths are relative to the configuration file's directory.

#include <string>
#include <string_view>

#include "core/status.h"
#include "domain/notification_reader.h"
#include "notify/https_client.h"

namespace kakunin::notify {

struct NotifyConfig {
  HttpsUrl url;
  std::string ca_file, cert_file, key_file, journal;
  InputFormat format = InputFormat::kJsonLines;
  InputEncoding encoding = InputEncoding::kUtf8;
  int batch_size = 100;
  int retries = 8;
  int timeout_seconds = 30;
  ResidentCodeCheck resident_code_check = ResidentCodeCheck::kFull;
};

inline constexpr int kMaxBatchSize = 1000;  // the API's limit per request

// `base_dir` resolves relative paths.
Result<NotifyConfig> ParseNotifyConfig(std::string_view toml, const std::string& base_dir);
Result<NotifyConfig> LoadNotifyConfig(const std::string& path);

}  // namespace kakunin::notify
