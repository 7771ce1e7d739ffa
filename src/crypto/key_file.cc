#include "crypto/key_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/file.h"
#include "crypto/field_cipher.h"

namespace kakunin::crypto {
namespace {

constexpr std::string_view kHeaderV1 = "kakunin-keys v1";
constexpr std::string_view kHeaderV2 = "kakunin-keys v2";
constexpr std::string_view kHeaderWrapped = "kakunin-keys v2 wrapped";
constexpr std::string_view kAadAead = "kakunin field key v2 aead";
constexpr std::string_view kAadHmac = "kakunin field key v2 hmac";
constexpr size_t kMaxFile = 4096;
constexpr size_t kMaxLabel = 128;

void Wipe(std::string& s) { sodium_memzero(s.data(), s.size()); }

// Wipes a string that held key bytes when the scope ends, however it ends.
class ScopedWipe {
 public:
  explicit ScopedWipe(std::string& s) : s_(s) {}
  ~ScopedWipe() { Wipe(s_); }
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;

 private:
  std::string& s_;
};

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
    if (n < 0) {
      Wipe(text);
      return ErrnoError("cannot read key file", path);
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (size > kMaxFile) {
    Wipe(text);
    return Status::DataLoss("key file is malformed");
  }
  text.resize(size);
  return text;
}

// "<label> <lower-case hex>" → bytes (of `size` if nonzero).
std::optional<std::string> HexLine(std::string_view line, std::string_view label, size_t size) {
  if (!line.starts_with(label) || line.size() <= label.size() + 1 ||
      line[label.size()] != ' ') {
    return std::nullopt;
  }
  line.remove_prefix(label.size() + 1);
  if (size != 0 && line.size() != 2 * size) return std::nullopt;
  for (char c : line) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return HexDecode(line);
}

bool ValidLabel(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabel) return false;
  for (char c : label) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

struct ParsedFile {
  KeyFileKind kind = KeyFileKind::kV1;
  std::string wrap_label;
  std::string hmac;               // key, or wrapped blob
  std::vector<std::string> aead;  // keys, or wrapped blobs; oldest first
  ~ParsedFile() {
    Wipe(hmac);
    for (std::string& a : aead) Wipe(a);
  }
};

// The v2 formats (clear or wrapped) exactly; DataLoss on any deviation.
Result<ParsedFile> ParseV2(std::string_view text, const std::string& path) {
  const Status malformed = Status::DataLoss("key file is malformed: " + path);
  if (!text.ends_with('\n')) return malformed;
  text.remove_suffix(1);
  std::vector<std::string_view> lines;
  while (lines.size() <= kMaxFieldKeys + 3) {
    size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  ParsedFile f;
  size_t i = 1;
  if (lines[0] == kHeaderWrapped) {
    f.kind = KeyFileKind::kWrapped;
    if (lines.size() < 2 || !lines[1].starts_with("wrap ")) return malformed;
    f.wrap_label = std::string(lines[1].substr(5));
    if (!ValidLabel(f.wrap_label)) return malformed;
    i = 2;
  } else if (lines[0] == kHeaderV2) {
    f.kind = KeyFileKind::kV2;
  } else {
    return malformed;
  }
  const size_t size = f.kind == KeyFileKind::kWrapped ? 0 : kKeySize;
  if (i >= lines.size()) return malformed;
  auto hmac = HexLine(lines[i++], "hmac", size);
  if (!hmac) return malformed;
  f.hmac = std::move(*hmac);
  for (; i < lines.size(); ++i) {
    auto aead = HexLine(lines[i], "aead", size);
    if (!aead) return malformed;
    f.aead.push_back(std::move(*aead));
  }
  if (f.aead.empty() || f.aead.size() > kMaxFieldKeys) return malformed;
  return f;
}

// Held over a read-modify-write of the key file (add, retire, wrap): two key commands at once
// would each write what they read, and one key could be lost — with every value sealed under
// it (found in review). A lock file beside it, since the key file itself is replaced by rename.
Result<FileDescriptor> LockKeyFile(const std::string& path) { return LockFile(path + ".lock", true); }

// Overwrites `path` with zeros, syncs it and removes it: what a replaced key file held (keys
// since retired, or the keys in clear before they were wrapped) does not stay in its freed
// blocks (found in review: the replacement was a rename only). As far as the file system lets
// us: a copy-on-write or journalled one may keep older blocks all the same.
Status Overwrite(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return ErrnoError("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat", path);
  // A file with another name too is not overwritten, only this name removed: a replacement
  // interrupted between its link and its rename leaves `.old` naming the live key file (found in
  // review: the next replacement would have zeroed it), and an administrator's hard-linked copy
  // is theirs.
  if (st.st_nlink == 1) {
    KAKUNIN_RETURN_IF_ERROR(
        WriteAll(fd.get(), std::string(static_cast<size_t>(st.st_size), '\0')));
    if (::fsync(fd.get()) != 0) return ErrnoError("cannot sync", path);
  }
  if (!fd.Close()) return ErrnoError("cannot close", path);
  if (::unlink(path.c_str()) != 0) return ErrnoError("cannot remove", path);
  return Status::Ok();
}

Status WriteAtomically(const std::string& path, std::string_view contents, bool replace) {
  struct stat st;
  if (!replace && ::lstat(path.c_str(), &st) == 0) {
    return Status::AlreadyExists("key file exists: " + path);
  }
  const std::string tmp = path + ".tmp";
  FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0 && errno == EEXIST) {
    return Status::FailedPrecondition("temporary key file exists: " + tmp +
                                      " (another key change, or an interrupted one)");
  }
  if (fd.get() < 0) return ErrnoError("cannot create", tmp);
  Status written = WriteAll(fd.get(), contents);
  if (written.ok() && ::fsync(fd.get()) != 0) written = ErrnoError("cannot sync", tmp);
  if (written.ok() && !fd.Close()) written = ErrnoError("cannot close", tmp);
  // The file replaced keeps a second name until the new one is in place, then is overwritten:
  // a crash between leaves the old file under that name (destroyed by the next replacement),
  // never no key file at all.
  const std::string old = path + ".old";
  bool kept_old = false;
  if (written.ok() && replace) {
    if (::lstat(old.c_str(), &st) == 0) written = Overwrite(old);  // an interrupted one's
    if (written.ok()) kept_old = ::link(path.c_str(), old.c_str()) == 0;
  }
  if (written.ok()) {
    int rc = replace ? ::rename(tmp.c_str(), path.c_str())
                     : ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (rc != 0) {
      written = errno == EEXIST ? Status::AlreadyExists("key file exists: " + path)
                                : ErrnoError("cannot rename the temporary key file to", path);
    }
  }
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    if (kept_old) ::unlink(old.c_str());  // the key file is still the old one
    return written;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  KAKUNIN_RETURN_IF_ERROR(SyncDirectory(dir.empty() ? "." : dir));
  if (!kept_old) return Status::Ok();
  KAKUNIN_RETURN_IF_ERROR(Overwrite(old));
  return SyncDirectory(dir.empty() ? "." : dir);
}

}  // namespace

Result<KeyFileKind> KeyFileKindOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("key file not found: " + path);
  std::string first;
  std::getline(in, first);
  if (first == kHeaderV1) return KeyFileKind::kV1;
  if (first == kHeaderV2) return KeyFileKind::kV2;
  if (first == kHeaderWrapped) return KeyFileKind::kWrapped;
  return Status::DataLoss("key file is malformed: " + path);
}

Result<std::string> WrappingLabelOf(const std::string& path) {
  auto text = ReadKeyText(path);
  if (!text.ok()) return text.status();
  ScopedWipe wipe(*text);
  if (!text->starts_with(std::string(kHeaderWrapped) + "\n")) return std::string();
  auto parsed = ParseV2(*text, path);
  if (!parsed.ok()) return parsed.status();
  return parsed->wrap_label;
}

Result<NodeKeys> LoadNodeKeyFile(const std::string& path, Pkcs11Token* token) {
  KAKUNIN_RETURN_IF_ERROR(InitSodium());
  auto text = ReadKeyText(path);
  if (!text.ok()) return text.status();
  ScopedWipe wipe(*text);
  if (text->starts_with(std::string(kHeaderV1) + "\n")) return LoadKeyFile(path);
  auto parsed = ParseV2(*text, path);
  if (!parsed.ok()) return parsed.status();
  NodeKeys keys;
  keys.key_ids = true;
  if (parsed->kind == KeyFileKind::kV2) {
    keys.hmac_key = parsed->hmac;
    keys.aead_key = parsed->aead.back();
    keys.previous_aead_keys.assign(parsed->aead.begin(), parsed->aead.end() - 1);
    return keys;
  }
  if (token == nullptr) {
    return Status::FailedPrecondition("the key file " + path +
                                      " is wrapped by a key on a PKCS#11 token: configure [hsm]");
  }
  auto hmac = token->Unwrap(parsed->wrap_label, parsed->hmac, kAadHmac);
  if (!hmac.ok()) return hmac.status();
  keys.hmac_key = std::move(*hmac);
  for (size_t i = 0; i < parsed->aead.size(); ++i) {
    auto aead = token->Unwrap(parsed->wrap_label, parsed->aead[i], kAadAead);
    if (!aead.ok()) return aead.status();
    if (aead->size() != kKeySize) return Status::DataLoss("key file is malformed: " + path);
    if (i + 1 == parsed->aead.size()) {
      keys.aead_key = std::move(*aead);
    } else {
      keys.previous_aead_keys.push_back(std::move(*aead));
    }
  }
  if (keys.hmac_key.size() != kKeySize) return Status::DataLoss("key file is malformed: " + path);
  return keys;
}

Status WriteNodeKeyFile(const std::string& path, const NodeKeys& keys, Pkcs11Token* token,
                        const std::string& wrap_label, bool replace) {
  KAKUNIN_RETURN_IF_ERROR(InitSodium());
  if (keys.previous_aead_keys.size() + 1 > kMaxFieldKeys) {
    return Status::FailedPrecondition("a key file holds at most 8 field keys");
  }
  std::vector<const std::string*> aead;
  for (const std::string& k : keys.previous_aead_keys) aead.push_back(&k);
  aead.push_back(&keys.aead_key);
  std::string contents;
  ScopedWipe wipe(contents);
  if (token == nullptr) {
    contents = std::string(kHeaderV2) + "\nhmac " + HexEncode(keys.hmac_key) + "\n";
    for (const std::string* k : aead) contents += "aead " + HexEncode(*k) + "\n";
    return WriteAtomically(path, contents, replace);
  }
  if (!ValidLabel(wrap_label)) {
    return Status::InvalidArgument("a wrapping key label must be 1–128 printable characters, "
                                   "no spaces");
  }
  auto hmac = token->Wrap(wrap_label, keys.hmac_key, kAadHmac);
  if (!hmac.ok()) return hmac.status();
  contents = std::string(kHeaderWrapped) + "\nwrap " + wrap_label + "\nhmac " +
             HexEncode(*hmac) + "\n";
  for (const std::string* k : aead) {
    auto blob = token->Wrap(wrap_label, *k, kAadAead);
    if (!blob.ok()) return blob.status();
    // Read back before it matters: a file we could not open again would lock the registry.
    auto back = token->Unwrap(wrap_label, *blob, kAadAead);
    const bool same = back.ok() && *back == *k;
    if (back.ok()) Wipe(*back);
    if (!same) return Status::Internal("the token did not give back the key it wrapped");
    contents += "aead " + HexEncode(*blob) + "\n";
  }
  return WriteAtomically(path, contents, replace);
}

Status CreateWrappedKeyFile(const std::string& path, Pkcs11Token& token,
                            const std::string& wrap_label) {
  KAKUNIN_RETURN_IF_ERROR(InitSodium());
  NodeKeys keys;
  keys.aead_key.assign(kKeySize, '\0');
  keys.hmac_key.assign(kKeySize, '\0');
  randombytes_buf(keys.aead_key.data(), kKeySize);
  randombytes_buf(keys.hmac_key.data(), kKeySize);
  return WriteNodeKeyFile(path, keys, &token, wrap_label, /*replace=*/false);
}

Result<std::string> AddFieldKey(const std::string& path, Pkcs11Token* token) {
  KAKUNIN_ASSIGN_OR_RETURN(held, LockKeyFile(path));
  auto label = WrappingLabelOf(path);
  if (!label.ok()) return label.status();
  auto keys = LoadNodeKeyFile(path, token);
  if (!keys.ok()) return keys.status();
  if (keys->previous_aead_keys.size() + 1 >= kMaxFieldKeys) {
    return Status::FailedPrecondition(
        "the key file holds 8 field keys: retire the old ones first (kakunin keys status)");
  }
  keys->previous_aead_keys.push_back(keys->aead_key);
  randombytes_buf(keys->aead_key.data(), kKeySize);
  KAKUNIN_RETURN_IF_ERROR(
      WriteNodeKeyFile(path, *keys, label->empty() ? nullptr : token, *label, /*replace=*/true));
  return HexEncode(FieldKeyId(keys->aead_key));
}

Result<int> RetireOldFieldKeys(const std::string& path, Pkcs11Token* token,
                               std::string_view counted_against) {
  KAKUNIN_ASSIGN_OR_RETURN(held, LockKeyFile(path));
  auto label = WrappingLabelOf(path);
  if (!label.ok()) return label.status();
  auto keys = LoadNodeKeyFile(path, token);
  if (!keys.ok()) return keys.status();
  // Found in review: a key added between the caller's count and this lock became current, and
  // the key every value was sealed under went as an older one.
  if (!counted_against.empty() && FieldKeyId(keys->aead_key) != counted_against) {
    return Status::FailedPrecondition(
        "a new field key was added to the key file meanwhile: nothing was retired; re-seal under "
        "it (kakunin keys reseal) and retire again");
  }
  const int removed = static_cast<int>(keys->previous_aead_keys.size());
  if (removed == 0) return 0;
  for (std::string& k : keys->previous_aead_keys) Wipe(k);
  keys->previous_aead_keys.clear();
  keys->key_ids = true;
  KAKUNIN_RETURN_IF_ERROR(
      WriteNodeKeyFile(path, *keys, label->empty() ? nullptr : token, *label, /*replace=*/true));
  return removed;
}

Status WrapKeyFile(const std::string& path, Pkcs11Token& token, const std::string& wrap_label) {
  KAKUNIN_ASSIGN_OR_RETURN(held, LockKeyFile(path));
  auto kind = KeyFileKindOf(path);
  if (!kind.ok()) return kind.status();
  if (*kind == KeyFileKind::kWrapped) {
    return Status::AlreadyExists("the key file is wrapped already: " + path);
  }
  auto keys = LoadNodeKeyFile(path, nullptr);
  if (!keys.ok()) return keys.status();
  return WriteNodeKeyFile(path, *keys, &token, wrap_label, /*replace=*/true);
}

}  // namespace kakunin::crypto
