#include "notify/journal.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <string_view>

#include "core/bytes.h"
#include "crypto/sha256.h"

namespace kakunin::notify {
namespace {

constexpr std::string_view kHeaderPrefix = "kakunin-notify-journal ";
constexpr std::string_view kVersion1 = "kakunin-notify-journal 1\n";
constexpr std::string_view kVersion = "2";
// Each use of the client key's bytes under its own label, so that nothing derived here is ever
// a value the TLS handshake or another use also computes.
constexpr std::string_view kKeyLabel = "kakunin.notify.journal.key.v2";
constexpr std::string_view kKeyIdLabel = "kakunin.notify.journal.key-id.v2";
constexpr std::string_view kHashDomain = "kakunin.notify.journal.v2\n";
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

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // HMAC-SHA-256 with a key and data in memory cannot fail short of memory exhaustion; an empty
  // result would compare unequal to every hash, so the worst is a resend the node answers.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len) == nullptr) {
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

// Names the key in the header without revealing it: lets a journal written under another key be
// refused with a clear message instead of every hash silently failing to match.
std::string KeyId(std::string_view journal_key) {
  return HexEncode(HmacSha256(journal_key, kKeyIdLabel).substr(0, 8));
}

std::string Header(std::string_view journal_key) {
  return std::string(kHeaderPrefix) + std::string(kVersion) + " " + KeyId(journal_key) + "\n";
}

// A passphrase is never prompted for here: the TLS client loaded the same file just before.
int NoPassphrase(char*, int, int, void*) { return -1; }

}  // namespace

Result<std::string> JournalKey(const std::string& key_file) {
  BIO* bio = BIO_new_file(key_file.c_str(), "r");
  if (bio == nullptr) {
    ERR_clear_error();
    return Status::InvalidArgument("cannot read the client key " + key_file);
  }
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, NoPassphrase, nullptr);
  BIO_free(bio);
  PKCS8_PRIV_KEY_INFO* p8 = pkey != nullptr ? EVP_PKEY2PKCS8(pkey) : nullptr;
  EVP_PKEY_free(pkey);
  unsigned char* der = nullptr;
  const int der_len = p8 != nullptr ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
  PKCS8_PRIV_KEY_INFO_free(p8);
  if (der_len <= 0) {
    ERR_clear_error();
    return Status::InvalidArgument("cannot read the client key " + key_file +
                                   " for the journal's key");
  }
  std::string key = HmacSha256(kKeyLabel, std::string_view(reinterpret_cast<char*>(der),
                                                           static_cast<size_t>(der_len)));
  OPENSSL_clear_free(der, static_cast<size_t>(der_len));
  if (key.size() != crypto::kSha256Size) return Status::Internal("cannot derive the journal key");
  return key;
}

std::string NotificationHash(const Notification& n, std::string_view journal_key) {
  std::string data(kHashDomain);
  data += ToCanonicalJson(n);
  return HexEncode(HmacSha256(journal_key, data));
}

std::string Journal::Key(const std::string& municipality, uint64_t sequence) {
  return municipality + "/" + std::to_string(sequence);
}

Result<Journal> Journal::Open(const std::string& path, std::string journal_key) {
  const std::string header = Header(journal_key);
  const bool existed = std::filesystem::exists(path);
  int raw = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (raw < 0) return ErrnoError("cannot open the journal", path);
  Journal j(path, FileDescriptor(raw), std::move(journal_key));
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
    KAKUNIN_RETURN_IF_ERROR(WriteAll(raw, header));
    if (::fsync(raw) != 0) return ErrnoError("cannot sync the journal", path);
    if (!existed) {
      std::string dir = std::filesystem::path(path).parent_path().string();
      KAKUNIN_RETURN_IF_ERROR(SyncDirectory(dir.empty() ? "." : dir));
    }
    return j;
  }
  const std::string_view head = std::string_view(text).substr(0, text.find('\n') + 1);
  if (head == kVersion1) {
    // Version 1 kept unkeyed hashes, from which 個人番号 can be recovered; they cannot be turned
    // into keyed ones without the notifications, and keeping the file working would keep them on
    // disk. Moving it aside is safe: what it lists is sent again and answered as duplicates.
    return Status::FailedPrecondition(
        "the journal " + path +
        " was written by an older kakunin notify: its hashes are not keyed, and with other "
        "records they can reveal individual numbers. Destroy it (shred -u), then run the same "
        "command again: a new journal is started, and the notifications the node already "
        "applied are answered as duplicates");
  }
  if (head.substr(0, std::min(head.size(), kHeaderPrefix.size())) == kHeaderPrefix &&
      head != header && head.size() == header.size() &&
      head.substr(kHeaderPrefix.size(), kVersion.size() + 1) == std::string(kVersion) + " ") {
    return Status::FailedPrecondition(
        "the journal " + path +
        " was written with another client key (key_file changed): its hashes cannot be checked. "
        "Move it aside and run the same command again: the notifications the node already "
        "applied are answered as duplicates");
  }
  if (head != header) {
    return Status::InvalidArgument("the journal " + path + " is not a kakunin notify journal");
  }
  size_t pos = header.size();
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
