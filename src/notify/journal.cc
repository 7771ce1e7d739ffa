#include "notify/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <string_view>

#include "core/bytes.h"
#include "crypto/sha256.h"

namespace kakunin::notify {
namespace {

constexpr std::string_view kHeader = "kakunin-notify-journal 1\n";
constexpr std::string_view kHashDomain = "kakunin.notify.journal.v1\n";
constexpr size_t kMaxLine = 256;

bool AllDigits(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool LowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "ack <line> <municipality> <sequence> <hash>"
bool ParseEntry(std::string_view line, JournalEntry* out) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= line.size()) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string_view::npos) sp = line.size();
    parts.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  if (parts.size() != 5 || parts[0] != "ack") return false;
  if (!AllDigits(parts[1], 1, 12) || parts[1][0] == '0') return false;
  if (!AllDigits(parts[2], 6, 6)) return false;
  if (!AllDigits(parts[3], 1, 16) || parts[3][0] == '0') return false;
  if (!LowerHex64(parts[4])) return false;
  std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), out->line);
  std::from_chars(parts[3].data(), parts[3].data() + parts[3].size(), out->sequence);
  if (out->sequence > kMaxSequence) return false;
  out->municipality = std::string(parts[2]);
  out->hash = std::string(parts[4]);
  return true;
}

}  // namespace

std::string NotificationHash(const Notification& n) {
  std::string data(kHashDomain);
  data += ToCanonicalJson(n);
  return HexEncode(crypto::Sha256(data));
}

std::string Journal::Key(const std::string& municipality, uint64_t sequence) {
  return municipality + "/" + std::to_string(sequence);
}

Result<Journal> Journal::Open(const std::string& path) {
  const bool existed = std::filesystem::exists(path);
  int raw = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (raw < 0) return ErrnoError("cannot open the journal", path);
  Journal j(path, FileDescriptor(raw));
  // Two clients appending to one journal would each trust what the other had not yet synced.
  if (::flock(raw, LOCK_EX | LOCK_NB) != 0) {
    return Status::FailedPrecondition("the journal " + path +
                                      " is in use by another kakunin notify");
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(raw, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read the journal", path);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  if (text.empty()) {
    KAKUNIN_RETURN_IF_ERROR(WriteAll(raw, kHeader));
    if (::fsync(raw) != 0) return ErrnoError("cannot sync the journal", path);
    if (!existed) {
      std::string dir = std::filesystem::path(path).parent_path().string();
      KAKUNIN_RETURN_IF_ERROR(SyncDirectory(dir.empty() ? "." : dir));
    }
    return j;
  }
  if (text.size() < kHeader.size() || std::string_view(text).substr(0, kHeader.size()) != kHeader) {
    return Status::InvalidArgument("the journal " + path + " is not a kakunin notify journal");
  }
  size_t pos = kHeader.size();
  size_t number = 1;
  while (pos < text.size()) {
    ++number;
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      // A write cut short: forget it, and cut it off so the next append starts a clean line.
      if (::ftruncate(raw, static_cast<off_t>(pos)) != 0 || ::fsync(raw) != 0) {
        return ErrnoError("cannot repair the journal's last line", path);
      }
      break;
    }
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    JournalEntry e;
    if (line.size() > kMaxLine || !ParseEntry(line, &e)) {
      return Status::InvalidArgument("the journal " + path + " is damaged at line " +
                                     std::to_string(number));
    }
    auto [it, inserted] = j.acked_.emplace(Key(e.municipality, e.sequence), e.hash);
    if (!inserted && it->second != e.hash) {
      return Status::InvalidArgument("the journal " + path + " holds two notifications under " +
                                     "one sequence at line " + std::to_string(number));
    }
  }
  if (::lseek(raw, 0, SEEK_END) < 0) return ErrnoError("cannot seek in the journal", path);
  return j;
}

bool Journal::Acknowledged(const std::string& municipality, uint64_t sequence,
                           const std::string& hash) const {
  auto it = acked_.find(Key(municipality, sequence));
  return it != acked_.end() && it->second == hash;
}

Status Journal::Append(const std::vector<JournalEntry>& entries) {
  if (entries.empty()) return Status::Ok();
  std::string out;
  for (const auto& e : entries) {
    out += "ack " + std::to_string(e.line) + " " + e.municipality + " " +
           std::to_string(e.sequence) + " " + e.hash + "\n";
  }
  KAKUNIN_RETURN_IF_ERROR(WriteAll(fd_.get(), out));
  if (::fdatasync(fd_.get()) != 0) return ErrnoError("cannot sync the journal", path_);
  for (const auto& e : entries) acked_[Key(e.municipality, e.sequence)] = e.hash;
  return Status::Ok();
}

}  // namespace kakunin::notify
