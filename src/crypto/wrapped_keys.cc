#include "crypto/wrapped_keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/file.h"

namespace kakunin::crypto {
namespace {

constexpr std::string_view kHeader = "kakunin-keys v2 wrapped";
constexpr std::string_view kAadAead = "kakunin field key v2 aead";
constexpr std::string_view kAadHmac = "kakunin field key v2 hmac";
constexpr size_t kMaxFile = 4096;
constexpr size_t kMaxLabel = 128;

void Wipe(std::string& s) { sodium_memzero(s.data(), s.size()); }

Result<std::string> ReadKeyText(const std::string& path) {
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
  std::string text(kMaxFile + 1, '\0');
  size_t size = 0;
  while (size < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read key file", path);
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (size > kMaxFile) return Status::DataLoss("key file is malformed");
  text.resize(size);
  return text;
}

// "<label> <lower-case hex>" → bytes.
std::optional<std::string> HexLine(std::string_view line, std::string_view label) {
  if (!line.starts_with(label) || line.size() <= label.size() + 1 ||
      line[label.size()] != ' ') {
    return std::nullopt;
  }
  line.remove_prefix(label.size() + 1);
  for (char c : line) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return HexDecode(line);
}

}  // namespace

bool IsWrappedKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string first;
  return in && std::getline(in, first) && first == kHeader;
}

Status WriteWrappedKeyFile(const std::string& path, const NodeKeys& keys, Pkcs11Token& token,
                           const std::string& wrap_label) {
  if (wrap_label.empty() || wrap_label.size() > kMaxLabel ||
      wrap_label.find_first_of(" \n") != std::string::npos) {
    return Status::InvalidArgument("a wrapping key label must be 1–128 characters, no spaces");
  }
  auto aead = token.Wrap(wrap_label, keys.aead_key, kAadAead);
  if (!aead.ok()) return aead.status();
  auto hmac = token.Wrap(wrap_label, keys.hmac_key, kAadHmac);
  if (!hmac.ok()) return hmac.status();
  // Check before writing: a file we could not open again would lock the registry.
  auto back = token.Unwrap(wrap_label, *aead, kAadAead);
  if (!back.ok() || *back != keys.aead_key) {
    if (back.ok()) Wipe(*back);
    return Status::Internal("the token did not give back the key it wrapped");
  }
  Wipe(*back);
  const std::string contents = std::string(kHeader) + "\nwrap " + wrap_label + "\naead " +
                               HexEncode(*aead) + "\nhmac " + HexEncode(*hmac) + "\n";
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return Status::AlreadyExists("key file exists: " + path);
  const std::string tmp = path + ".tmp";
  FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0 && errno == EEXIST) {
    return Status::FailedPrecondition("temporary key file exists: " + tmp +
                                      " (another key creation, or an interrupted one)");
  }
  if (fd.get() < 0) return ErrnoError("cannot create", tmp);
  Status written = WriteAll(fd.get(), contents);
  if (written.ok() && ::fsync(fd.get()) != 0) written = ErrnoError("cannot sync", tmp);
  if (written.ok() && !fd.Close()) written = ErrnoError("cannot close", tmp);
  if (written.ok() &&
      ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    written = errno == EEXIST ? Status::AlreadyExists("key file exists: " + path)
                              : ErrnoError("cannot rename the temporary key file to", path);
  }
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return written;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return SyncDirectory(dir.empty() ? "." : dir);
}

Status CreateWrappedKeyFile(const std::string& path, Pkcs11Token& token,
                            const std::string& wrap_label) {
  KAKUNIN_RETURN_IF_ERROR(InitSodium());
  NodeKeys keys;
  keys.aead_key.assign(kKeySize, '\0');
  keys.hmac_key.assign(kKeySize, '\0');
  randombytes_buf(keys.aead_key.data(), kKeySize);
  randombytes_buf(keys.hmac_key.data(), kKeySize);
  return WriteWrappedKeyFile(path, keys, token, wrap_label);
}

Result<NodeKeys> LoadWrappedKeyFile(const std::string& path, Pkcs11Token& token) {
  KAKUNIN_RETURN_IF_ERROR(InitSodium());
  auto text = ReadKeyText(path);
  if (!text.ok()) return text.status();
  const Status malformed = Status::DataLoss("wrapped key file is malformed: " + path);
  std::string_view t = *text;
  if (!t.ends_with('\n')) return malformed;
  t.remove_suffix(1);
  std::vector<std::string_view> lines;
  while (lines.size() < 5) {
    size_t end = t.find('\n');
    lines.push_back(t.substr(0, end));
    if (end == std::string_view::npos) break;
    t.remove_prefix(end + 1);
  }
  if (lines.size() != 4 || lines[0] != kHeader || !lines[1].starts_with("wrap ")) {
    return malformed;
  }
  std::string label(lines[1].substr(5));
  if (label.empty() || label.size() > kMaxLabel || label.find(' ') != std::string::npos) {
    return malformed;
  }
  auto aead_blob = HexLine(lines[2], "aead");
  auto hmac_blob = HexLine(lines[3], "hmac");
  if (!aead_blob || !hmac_blob) return malformed;
  auto aead = token.Unwrap(label, *aead_blob, kAadAead);
  if (!aead.ok()) return aead.status();
  auto hmac = token.Unwrap(label, *hmac_blob, kAadHmac);
  if (!hmac.ok()) {
    Wipe(*aead);
    return hmac.status();
  }
  NodeKeys keys{.aead_key = std::move(*aead), .hmac_key = std::move(*hmac)};
  if (keys.aead_key.size() != kKeySize || keys.hmac_key.size() != kKeySize) return malformed;
  return keys;
}

}  // namespace kakunin::crypto
