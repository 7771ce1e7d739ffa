#include "crypto/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

#include "core/bytes.h"
#include "core/file.h"

namespace kakunin::crypto {
namespace {

static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kKeySize == crypto_auth_hmacsha256_KEYBYTES);

constexpr std::string_view kHeader = "kakunin-keys v1";
constexpr std::string_view kAeadLabel = "aead ";
constexpr std::string_view kHmacLabel = "hmac ";
constexpr size_t kMaxKeyFileSize = 4096;
constexpr std::string_view kKeyIdLabel = "kakunin key id v1";
constexpr size_t kKeyIdBytes = 8;  // 16 hex digits

// Wipes a string that held key bytes when the scope ends, however it ends.
class ScopedWipe {
 public:
  explicit ScopedWipe(std::string& s) : s_(s) {}
  ~ScopedWipe() { sodium_memzero(s_.data(), s_.size()); }
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;

 private:
  std::string& s_;
};

// Writes `contents` to the new file `tmp` (opened as `fd`), syncs and closes it.
Status WriteSynced(FileDescriptor& fd, const std::string& tmp, std::string_view contents) {
  if (Status st = WriteAll(fd.get(), contents); !st.ok()) {
    return Status::IoError("cannot write " + tmp + ": " + st.message());
  }
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot sync", tmp);
  if (!fd.Close()) return ErrnoError("cannot close", tmp);
  return Status::Ok();
}

// Makes the rename of a file in the directory of `path` durable.
Status SyncDirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return SyncDirectory(dir);
}

// "<label><64 lower-case hex digits>" → kKeySize bytes; nullopt otherwise.
std::optional<std::string> ParseKeyLine(std::string_view line, std::string_view label) {
  if (!line.starts_with(label)) return std::nullopt;
  line.remove_prefix(label.size());
  if (line.size() != 2 * kKeySize) return std::nullopt;
  for (char c : line) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return HexDecode(line);
}

// The v1 format exactly; DataLoss on any deviation.
Result<NodeKeys> ParseKeyFile(std::string_view text) {
  const Status malformed = Status::DataLoss("key file is malformed");
  if (text.ends_with('\n')) text.remove_suffix(1);
  std::array<std::string_view, 3> lines;
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t end = text.find('\n');
    if ((end == std::string_view::npos) != (i + 1 == lines.size())) return malformed;
    lines[i] = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  if (lines[0] != kHeader) return malformed;
  std::optional<std::string> aead = ParseKeyLine(lines[1], kAeadLabel);
  std::optional<std::string> hmac = ParseKeyLine(lines[2], kHmacLabel);
  if (!aead || !hmac) {
    if (aead) sodium_memzero(aead->data(), aead->size());
    if (hmac) sodium_memzero(hmac->data(), hmac->size());
    return malformed;
  }
  return NodeKeys{.aead_key = std::move(*aead), .hmac_key = std::move(*hmac)};
}

}  // namespace

NodeKeys::~NodeKeys() {
  sodium_memzero(aead_key.data(), aead_key.size());
  sodium_memzero(hmac_key.data(), hmac_key.size());
  for (std::string& k : previous_aead_keys) sodium_memzero(k.data(), k.size());
}

Status InitSodium() {
  static const bool initialised = sodium_init() >= 0;  // 1 means "already initialised"
  if (!initialised) return Status::Internal("libsodium failed to initialise");
  return Status::Ok();
}

Status CreateKeyFile(const std::string& path) {
  KAKUNIN_RETURN_IF_ERROR(InitSodium());
  // Fails early and clearly in the common case; the rename below closes the race.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return Status::AlreadyExists("key file exists: " + path);
  if (errno != ENOENT) return ErrnoError("cannot check key file", path);

  std::string keys(2 * kKeySize, '\0');
  ScopedWipe wipe_keys(keys);
  randombytes_buf(keys.data(), keys.size());
  std::string contents = std::string(kHeader) + "\n" + std::string(kAeadLabel) +
                         HexEncode(std::string_view(keys).substr(0, kKeySize)) + "\n" +
                         std::string(kHmacLabel) +
                         HexEncode(std::string_view(keys).substr(kKeySize)) + "\n";
  ScopedWipe wipe_contents(contents);

  const std::string tmp = path + ".tmp";
  FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0 && errno == EEXIST) {
    return Status::FailedPrecondition("temporary key file exists: " + tmp +
                                      " (another key creation, or an interrupted one)");
  }
  if (fd.get() < 0) return ErrnoError("cannot create", tmp);

  Status written = WriteSynced(fd, tmp, contents);
  if (written.ok() &&
      ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    written = errno == EEXIST ? Status::AlreadyExists("key file exists: " + path)
                              : ErrnoError("cannot rename the temporary key file to", path);
  }
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return written;
  }
  return SyncDirectoryOf(path);
}

Result<NodeKeys> LoadKeyFile(const std::string& path) {
  // O_NONBLOCK: a FIFO at `path` must not hang the start-up; it is refused below.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0 && errno == ENOENT) return Status::NotFound("key file not found: " + path);
  if (fd.get() < 0) return ErrnoError("cannot open key file", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat key file", path);
  if (!S_ISREG(st.st_mode)) {
    return Status::FailedPrecondition("key file is not a regular file: " + path);
  }
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied("key file must not be readable by group or others (chmod 600)");
  }
  if (st.st_size > static_cast<off_t>(kMaxKeyFileSize)) {
    return Status::DataLoss("key file is malformed");
  }

  // One byte more than the limit, to notice a file that grew after fstat.
  std::string contents(kMaxKeyFileSize + 1, '\0');
  ScopedWipe wipe_contents(contents);
  size_t size = 0;
  while (size < contents.size()) {
    ssize_t n = ::read(fd.get(), contents.data() + size, contents.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read key file", path);
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (size > kMaxKeyFileSize) return Status::DataLoss("key file is malformed");
  return ParseKeyFile(std::string_view(contents).substr(0, size));
}

std::string KeyId(const NodeKeys& keys) {
  if (!InitSodium().ok()) {
    std::fputs("kakunin::crypto: libsodium failed to initialise; aborting\n", stderr);
    std::abort();
  }
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(keys.hmac_key.data()),
                              keys.hmac_key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(kKeyIdLabel.data()),
                                kKeyIdLabel.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&state, mac);
  sodium_memzero(&state, sizeof state);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(mac), kKeyIdBytes));
}

}  // namespace kakunin::crypto
