#pragma once

// The municipal client's journal: what the node acknowledged (applied, or applied before),
// append-only and fsync'd before the results are printed, so a client killed at any moment
// resumes without sending an acknowledged notification again. It holds no personal data: per
// notification the input line (for people), the sender's municipality code and sequence (the
// notification's identity in the contract) and a SHA-256 of its canonical JSON under a fixed
// domain-separation prefix (so that an edited notification under an old sequence is sent, and
// refused by the node as sequence_conflict, instead of being skipped).
//
// Format (text, one record a line):
//   kakunin-notify-journal 1
//   ack <line> <municipality> <sequence> <64 hex>
// Read back strictly: anything else is an error, except a last line without its newline (a
// write cut short by a crash), which is dropped — that notification was not journaled, so it is
// sent again and the node answers it as a duplicate.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/file.h"
#include "core/status.h"
#include "domain/notification.h"

namespace kakunin::notify {

// The journal's hash of a notification (hex).
std::string NotificationHash(const Notification& n);

struct JournalEntry {
  size_t line = 0;
  std::string municipality;
  uint64_t sequence = 0;
  std::string hash;  // NotificationHash
};

class Journal {
 public:
  // Opens (creating it, mode 0600, if missing) and reads back the journal at `path`.
  static Result<Journal> Open(const std::string& path);

  // Whether this very notification (same sender, sequence and content) was acknowledged.
  bool Acknowledged(const std::string& municipality, uint64_t sequence,
                    const std::string& hash) const;
  size_t size() const { return acked_.size(); }

  // Appends the entries in one write and fsyncs; durable when it returns OK.
  Status Append(const std::vector<JournalEntry>& entries);

 private:
  Journal(std::string path, FileDescriptor fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  static std::string Key(const std::string& municipality, uint64_t sequence);

  std::string path_;
  FileDescriptor fd_;
  std::unordered_map<std::string, std::string> acked_;  // "<muni>/<seq>" -> hash
};

}  // namespace kakunin::notify
