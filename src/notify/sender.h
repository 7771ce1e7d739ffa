#pragma once

// kakunin notify's work: reads a municipality's notifications (JSON Lines or CSV), checks their
// fields as the contract says, sends the valid ones in batches to the node's
// POST /v1/notifications, and prints the contract's per-record results with the input line:
//   {"line":3,"ok":true}
//   {"line":4,"ok":true,"duplicate":true}
//   {"line":5,"ok":false,"errors":[{"field":"record","code":"sequence_conflict"}]}
//
// Exactly once: a batch's acknowledgements (applied, or duplicate) are journaled and synced
// before they are printed; a notification already in the journal is not sent again (it prints
// as a duplicate). A batch whose answer never arrived (crash, network) is sent again and the
// node answers what it had applied as duplicates: its per-sender sequences make that safe.
// A rejected notification is not journaled (the node changed nothing) and stops nothing else;
// the node's sequence rule then refuses that sender's later notifications with sequence_gap
// until the rejected one is corrected and sent under the same number.
//
// With `resend`, every notification is sent whatever the journal says: after the node was
// restored from an older backup (docs/backup.md, a rollback) it no longer holds what it once
// acknowledged, and skipping those would leave it without them for good (and refuse the next
// new one as sequence_gap). Safe, as the node answers what it holds as duplicates.

#include <chrono>
#include <cstdint>
#include <functional>
#include <istream>
#include <ostream>

#include "core/status.h"
#include "notify/config.h"
#include "notify/https_client.h"
#include "notify/journal.h"

namespace kakunin::notify {

// The node's answer to one batch, or a failure.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<HttpsResponse> PostJson(std::string_view path, std::string_view body) = 0;
};

// Transport over HttpsClient.
class HttpsTransport : public Transport {
 public:
  explicit HttpsTransport(HttpsClient* client) : client_(client) {}
  Result<HttpsResponse> PostJson(std::string_view path, std::string_view body) override {
    return client_->PostJson(path, body);
  }

 private:
  HttpsClient* client_;
};

struct SendOptions {
  InputFormat format = InputFormat::kJsonLines;
  InputEncoding encoding = InputEncoding::kUtf8;
  CheckOptions check;
  int batch_size = 100;
  int retries = 8;  // attempts per batch
  // Waits between attempts (exponential backoff with jitter, 0.2 s doubling up to 10 s).
  // Tests inject one that does not sleep.
  std::function<void(std::chrono::milliseconds)> sleep;
  uint64_t jitter_seed = 0;  // 0: from std::random_device
  // Send what the journal lists as acknowledged too (kakunin notify --resend).
  bool resend = false;
};

struct SendSummary {
  int64_t records = 0;
  int64_t applied = 0;
  int64_t duplicates = 0;    // answered as already applied by the node
  int64_t from_journal = 0;  // acknowledged in an earlier run: not sent
  int64_t resent = 0;        // acknowledged in an earlier run, sent again (`resend`)
  int64_t rejected = 0;      // by the field checks here or by the node
  int64_t requests = 0;
  int64_t retried = 0;  // attempts that failed and were retried
};

// kExitOk 0: every record applied (or applied before); 1: some rejected; 2: the input or the
// node's answer could not be used, or the node stayed unreachable (`*error` says why, without
// personal data). Results are printed to `out` as they become final.
int SendNotifications(std::istream& in, const SendOptions& options, Transport& transport,
                      Journal& journal, std::ostream& out, SendSummary* summary,
                      std::string* error);

}  // namespace kakunin::notify
