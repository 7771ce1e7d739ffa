#pragma once

// The municipal client's journal: what the node acknowledged (applied, or applied before),
// append-only and fsync'd before the results are printed, so a client killed at any moment
// resumes without sending an acknowledged notification again. It holds no personal data: per
// notification the input line (for people), the sender's municipality code and sequence (the
// notification's identity in the contract) and a keyed hash of its canonical JSON (so that an
// edited notification under an old sequence is sent, and refused by the node as
// sequence_conflict, instead of being skipped).
//
// The hash is an HMAC under a key derived from the CS's client private key (JournalKey), not a
// plain SHA-256: the canonical JSON holds the 個人番号, and with the record's other fields known
// (a registry's clear columns) an unkeyed hash let anyone holding the journal try the 10^11
// possible numbers until one matched (found in review: seconds with six digits known). Without
// the client key — the secret the CS already keeps (mode 0600) to authenticate to the node —
// the journal confirms nothing about anyone.
//
// Format (text, one record a line):
//   kakunin-notify-journal 2 <key id: 16 hex>
//   ack <line> <municipality> <sequence> <64 hex>
// Read back strictly: anything else is an error, except a last line without its newline (a
// write cut short by a crash), which is dropped — that notification was not journaled, so it is
// sent again and the node answers it as a duplicate. A journal written under another key (the
// CS's key was replaced) or by an older version (version 1, unkeyed hashes) is refused with a
// message saying what to do: it cannot be checked against the notifications, and moving it
// aside is always safe — everything it lists is sent again and the node answers it as
// duplicates.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/file.h"
#include "core/status.h"
#include "domain/notification.h"

namespace kakunin::notify {

// The journal's key: derived from the client private key in the PEM file at `key_file` (the
// one kakunin notify's key_file names for mutual TLS), independent of how the PEM encodes it.
// kSha256Size raw bytes.
Result<std::string> JournalKey(const std::string& key_file);

// The journal's hash of a notification under `journal_key` (hex): HMAC-SHA-256 over a fixed
// domain-separation prefix and the notification's canonical JSON.
std::string NotificationHash(const Notification& n, std::string_view journal_key);

struct JournalEntry {
  size_t line = 0;
  std::string municipality;
  uint64_t sequence = 0;
  std::string hash;  // NotificationHash
};

class Journal {
 public:
  // Opens (creating it, mode 0600, if missing) and reads back the journal at `path`, whose
  // hashes are keyed by `journal_key` (JournalKey). FailedPrecondition for a journal written
  // under another key or by an older version (the message says what to do).
  static Result<Journal> Open(const std::string& path, std::string journal_key);

  // NotificationHash under this journal's key.
  std::string Hash(const Notification& n) const { return NotificationHash(n, key_); }

  // Whether this very notification (same sender, sequence and content) was acknowledged.
  bool Acknowledged(const std::string& municipality, uint64_t sequence,
                    const std::string& hash) const;
  size_t size() const { return acked_.size(); }

  // Appends the entries in one write and fsyncs; durable when it returns OK.
  Status Append(const std::vector<JournalEntry>& entries);

 private:
  Journal(std::string path, FileDescriptor fd, std::string key)
      : path_(std::move(path)), fd_(std::move(fd)), key_(std::move(key)) {}
  static std::string Key(const std::string& municipality, uint64_t sequence);

  std::string path_;
  FileDescriptor fd_;
  std::string key_;
  std::unordered_map<std::string, std::string> acked_;  // "<muni>/<seq>" -> hash
};

}  // namespace kakunin::notify
