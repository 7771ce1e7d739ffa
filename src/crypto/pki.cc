#include "crypto/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>
#include <utility>

#include "core/bytes.h"
#include "core/file.h"

namespace kakunin::crypto {
namespace {

// Like kakunin::ErrnoError, but a missing file is kNotFound: callers tell "no CA here" apart.
Status ErrnoError(std::string_view what, const std::string& path) {
  const int err = errno;
  std::string msg = std::string(what) + " " + path + ": " + std::strerror(err);
  return err == ENOENT ? Status::NotFound(std::move(msg)) : Status::IoError(std::move(msg));
}

// ---------------------------------------------------------------------------------------------
// OpenSSL handles (RAII, DESIGN §8).

template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, OpenSslDeleter<X509_CRL_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using X509RevokedPtr = std::unique_ptr<X509_REVOKED, OpenSslDeleter<X509_REVOKED_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OpenSslDeleter<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslDeleter<ASN1_TIME_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, OpenSslDeleter<ASN1_STRING_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;
struct OpenSslFree {  // OPENSSL_free is a macro, so it cannot be a template argument
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
using OpenSslBytes = std::unique_ptr<unsigned char, OpenSslFree>;

// Internal error for a failed OpenSSL call, with OpenSSL's first reason (library and reason
// names only, never data). Empties OpenSSL's error queue, so later calls start clean.
Status OpenSslError(std::string_view what) {
  std::string msg = "OpenSSL failed to " + std::string(what);
  if (unsigned long e = ERR_get_error(); e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  return Status::Internal(std::move(msg));
}

// PEM password callback that refuses: an encrypted key is an error, never a terminal prompt.
int NoPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

// ---------------------------------------------------------------------------------------------
// Files.

constexpr char kCaCertFile[] = "ca.pem";
constexpr char kCaKeyFile[] = "ca.key";
constexpr char kCrlFile[] = "crl.pem";
constexpr char kStateFile[] = "ca.state";
constexpr size_t kMaxPemFileSize = size_t{1} << 20;
constexpr size_t kMaxStateFileSize = size_t{64} << 20;

std::string JoinPath(const std::string& dir, std::string_view file) {
  return (std::filesystem::path(dir) / file).string();
}

// The directory that holds directory `dir` ("a/b/" → "a"; "b" → ".").
std::string ParentOfDirectory(const std::string& dir) {
  std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  std::string parent = p.parent_path().string();
  return parent.empty() ? "." : parent;
}

std::string DirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

// Fails with AlreadyExists if anything (even a dangling symlink) is at `path`.
Status CheckAbsent(const std::string& path, std::string_view what) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    return Status::AlreadyExists(std::string(what) + " exists (never overwritten): " + path);
  }
  if (errno != ENOENT) return ErrnoError("cannot check", path);
  return Status::Ok();
}

// Contents of a regular file of at most `max_size` bytes, and its mode.
struct FileContents {
  std::string data;
  mode_t mode = 0;
};

Result<FileContents> ReadSmallFile(const std::string& path, size_t max_size) {
  // O_NONBLOCK: a FIFO must not hang the caller; it is refused below.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return ErrnoError("cannot open", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat", path);
  if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition("not a regular file: " + path);
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    return Status::InvalidArgument("file is too large: " + path);
  }
  FileContents out;
  out.mode = st.st_mode;
  // One byte more than expected, to notice a file that grew after fstat (up to max_size + 1).
  out.data.resize(static_cast<size_t>(st.st_size) + 1);
  size_t size = 0;
  while (true) {
    if (size == out.data.size()) {
      if (size > max_size) break;
      out.data.resize(std::min(2 * size, max_size + 1));
    }
    ssize_t n = ::read(fd.get(), out.data.data() + size, out.data.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read", path);
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (size > max_size) return Status::InvalidArgument("file is too large: " + path);
  out.data.resize(size);
  return out;
}

// A file written and synced under a temporary name beside its final path, not yet visible there.
// The destructor removes the temporary file unless Commit() succeeded.
class PendingFile {
 public:
  // Writes `contents` to a new temporary file `path.tmp-XXXXXX` with exactly `mode`, syncs and
  // closes it.
  static Result<PendingFile> Write(const std::string& path, std::string_view contents,
                                   mode_t mode) {
    std::string tmp = path + ".tmp-XXXXXX";
    FileDescriptor fd(::mkostemp(tmp.data(), O_CLOEXEC));
    if (fd.get() < 0) return ErrnoError("cannot create a temporary file for", path);
    PendingFile pending(path, tmp);
    if (::fchmod(fd.get(), mode) != 0) return ErrnoError("cannot set the mode of", tmp);
    if (Status st = WriteAll(fd.get(), contents); !st.ok()) {
      return Status::IoError("cannot write " + tmp + ": " + st.message());
    }
    if (::fsync(fd.get()) != 0) return ErrnoError("cannot sync", tmp);
    if (!fd.Close()) return ErrnoError("cannot close", tmp);
    return pending;
  }

  PendingFile(PendingFile&& other) noexcept
      : path_(std::move(other.path_)), tmp_(std::exchange(other.tmp_, std::string())) {}
  PendingFile& operator=(PendingFile&&) = delete;
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  ~PendingFile() {
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
  }

  // Renames the temporary file onto the final path (atomically). With `replace` false nothing
  // is replaced: AlreadyExists if something is at the final path. The caller syncs the
  // directory.
  Status Commit(bool replace) {
    int rc = replace
                 ? ::rename(tmp_.c_str(), path_.c_str())
                 : ::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE);
    if (rc != 0) {
      if (errno == EEXIST) {
        return Status::AlreadyExists("file exists (never overwritten): " + path_);
      }
      return ErrnoError("cannot rename a temporary file to", path_);
    }
    tmp_.clear();
    return Status::Ok();
  }

  const std::string& path() const { return path_; }

 private:
  PendingFile(std::string path, std::string tmp) : path_(std::move(path)), tmp_(std::move(tmp)) {}

  std::string path_;
  std::string tmp_;
};

// Opens `dir` and holds an exclusive flock(2) on it until the returned descriptor is closed.
Result<FileDescriptor> LockDirectory(const std::string& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound("CA directory not found: " + dir);
    if (errno == ENOTDIR) return Status::FailedPrecondition("not a directory: " + dir);
    return ErrnoError("cannot open CA directory", dir);
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoError("cannot lock CA directory", dir);
  }
  return fd;
}

// ---------------------------------------------------------------------------------------------
// Text: times, names, codes, serials.

constexpr int64_t kSecondsPerDay = 86400;

std::string FormatTime(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

// Exactly YYYY-MM-DDTHH:MM:SSZ, a real instant (formatting it back gives the same text).
std::optional<int64_t> ParseTime(std::string_view s) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  if (s.size() != kShape.size()) return std::nullopt;
  for (size_t i = 0; i < s.size(); ++i) {
    bool ok = kShape[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == kShape[i];
    if (!ok) return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  struct tm tm {};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  const int64_t t = static_cast<int64_t>(timegm(&tm));
  if (FormatTime(t) != s) return std::nullopt;  // 2026-02-30, 24:00:00, leap seconds
  return t;
}

std::optional<int64_t> Asn1TimeToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

int64_t NowSeconds(const Clock& clock) {
  const int64_t us = clock.NowMicros();
  return us / 1000000 - (us % 1000000 < 0 ? 1 : 0);
}

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) without control
// characters (C0, DEL, C1); the number of code points, or nullopt.
std::optional<size_t> CleanUtf8Length(std::string_view s) {
  size_t count = 0;
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0;
    size_t len = 0;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      cp = b0 & 0x1F;
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      cp = b0 & 0x0F;
      len = 3;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      cp = b0 & 0x07;
      len = 4;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) return std::nullopt;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return std::nullopt;
    i += len;
    ++count;
  }
  return count;
}

// A CN: the rules of ClientCertRequest::name. `what` names the argument in the message; the
// value itself is never echoed (it may be a person's name).
Status ValidateName(std::string_view name, std::string_view what) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  std::optional<size_t> length = CleanUtf8Length(name);
  if (!length) {
    return Status::InvalidArgument(std::string(what) +
                                   " is not valid UTF-8 or contains control characters");
  }
  if (*length > kMaxNameCodePoints) {
    return Status::InvalidArgument(std::string(what) + " is longer than " +
                                   std::to_string(kMaxNameCodePoints) + " characters");
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return Status::InvalidArgument(std::string(what) + " has leading or trailing spaces");
  }
  return Status::Ok();
}

Status ValidateDays(int days) {
  if (days < 1 || days > kMaxValidityDays) {
    return Status::InvalidArgument("days must be between 1 and " +
                                   std::to_string(kMaxValidityDays));
  }
  return Status::Ok();
}

// 全国地方公共団体コード of a municipality: PPCCC + check digit (weights 6..2, mod 11).
Status ValidateMunicipalityCode(std::string_view code) {
  if (code.size() != 6 || code.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::InvalidArgument("municipality code must be 6 digits");
  }
  const int prefecture = (code[0] - '0') * 10 + (code[1] - '0');
  if (prefecture < 1 || prefecture > 47) {
    return Status::InvalidArgument("municipality code must start with a prefecture (01-47)");
  }
  if (code.substr(2, 3) == "000") {
    return Status::InvalidArgument("municipality code is a prefecture's code");
  }
  static constexpr int kWeights[] = {6, 5, 4, 3, 2};
  int sum = 0;
  for (size_t i = 0; i < 5; ++i) sum += (code[i] - '0') * kWeights[i];
  if ((11 - sum % 11) % 10 != code[5] - '0') {
    return Status::InvalidArgument("municipality code has a wrong check digit");
  }
  return Status::Ok();
}

bool IsLowerHex(std::string_view s, size_t size) {
  return s.size() == size && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

constexpr size_t kSerialBytes = 16;
constexpr size_t kSerialHexDigits = 2 * kSerialBytes;
constexpr size_t kSpkiHexDigits = 64;

// Hex of at most 128 bits, either case, leading zeros optional → 32 lower-case hex digits.
Result<std::string> NormaliseSerial(std::string_view hex) {
  if (hex.empty() || hex.size() > 2 * kSerialHexDigits ||
      hex.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
    return Status::InvalidArgument("serial must be hexadecimal digits");
  }
  size_t first = hex.find_first_not_of('0');
  std::string_view digits = first == std::string_view::npos ? "" : hex.substr(first);
  if (digits.size() > kSerialHexDigits) {
    return Status::InvalidArgument("serial is longer than 128 bits");
  }
  std::string out(kSerialHexDigits - digits.size(), '0');
  for (char c : digits) out.push_back(c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c);
  return out;
}

Result<Asn1IntegerPtr> SerialToAsn1(const std::string& serial_hex) {
  std::optional<std::string> bytes = HexDecode(serial_hex);
  if (!bytes) return Status::Internal("serial is not hex");
  BignumPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes->data()),
                         static_cast<int>(bytes->size()), nullptr));
  if (!bn) return OpenSslError("convert a serial");
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return OpenSslError("convert a serial");
  return serial;
}

// Why a DNS name is refused; nullopt if it is fine. `name` is already lower-cased.
const char* DnsNameProblem(std::string_view name) {
  if (name.empty() || name.size() > 253) return "DNS name must have 1 to 253 characters";
  size_t start = 0;
  while (true) {
    size_t end = name.find('.', start);
    std::string_view label =
        name.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (label.empty() || label.size() > 63) return "DNS name has an empty or too long label";
    if (label.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
        std::string_view::npos) {
      return "DNS name may hold only letters, digits, hyphens and dots";
    }
    if (label.front() == '-' || label.back() == '-') {
      return "DNS name label starts or ends with a hyphen";
    }
    if (end == std::string_view::npos) return nullptr;
    start = end + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// ca.state.

constexpr std::string_view kStateHeader = "kakunin-ca-state v1";
constexpr std::string_view kCrlNumberLabel = "crl-number";
constexpr std::string_view kCertLabel = "cert";
constexpr std::string_view kServerKind = "server";
constexpr std::string_view kNone = "-";

struct CaState {
  int64_t crl_number = 1;
  std::vector<CertificateRecord> certs;
};

std::string KindToken(const std::optional<ClientKind>& kind) {
  return std::string(kind ? ClientKindName(*kind) : kServerKind);
}

std::string SerializeState(const CaState& state) {
  std::string out = std::string(kStateHeader) + "\n" + std::string(kCrlNumberLabel) + "\t" +
                    std::to_string(state.crl_number) + "\n";
  for (const CertificateRecord& r : state.certs) {
    out += std::string(kCertLabel) + "\t" + r.serial_hex + "\t" + KindToken(r.kind) + "\t" +
           (r.municipality_code.empty() ? std::string(kNone) : r.municipality_code) + "\t" +
           r.spki_sha256_hex + "\t" + FormatTime(r.not_after) + "\t" +
           (r.revoked_at ? FormatTime(*r.revoked_at) : std::string(kNone)) + "\t" + r.name + "\n";
  }
  return out;
}

std::vector<std::string_view> SplitTabs(std::string_view line) {
  std::vector<std::string_view> fields;
  while (true) {
    size_t tab = line.find('\t');
    fields.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) return fields;
    line.remove_prefix(tab + 1);
  }
}

// One `cert` line's fields after the label; nullptr if fine, else which field is bad.
const char* ParseCertFields(const std::vector<std::string_view>& f, CertificateRecord* r) {
  if (f.size() != 8 || f[0] != kCertLabel) return "field count";
  if (!IsLowerHex(f[1], kSerialHexDigits)) return "serial";
  r->serial_hex = std::string(f[1]);
  if (f[2] == kServerKind) {
    r->kind = std::nullopt;
  } else if (std::optional<ClientKind> kind = ParseClientKind(f[2])) {
    r->kind = kind;
  } else {
    return "kind";
  }
  if (r->kind == ClientKind::kMunicipalCs) {
    if (!ValidateMunicipalityCode(f[3]).ok()) return "municipality";
    r->municipality_code = std::string(f[3]);
  } else if (f[3] != kNone) {
    return "municipality";
  }
  if (!IsLowerHex(f[4], kSpkiHexDigits)) return "spki";
  r->spki_sha256_hex = std::string(f[4]);
  std::optional<int64_t> not_after = ParseTime(f[5]);
  if (!not_after) return "not-after";
  r->not_after = *not_after;
  if (f[6] != kNone) {
    r->revoked_at = ParseTime(f[6]);
    if (!r->revoked_at) return "revoked-at";
  }
  if (f[7].empty() || !CleanUtf8Length(f[7])) return "name";
  r->name = std::string(f[7]);
  return nullptr;
}

Result<CaState> ParseState(std::string_view text) {
  auto malformed = [](size_t line, std::string_view what) {
    return Status::DataLoss("CA state file " + std::string(kStateFile) + " is malformed at line " +
                            std::to_string(line) + " (" + std::string(what) + ")");
  };
  CaState state;
  std::set<std::string, std::less<>> serials;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return malformed(line_no, "no final newline");
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line_no == 1) {
      if (line != kStateHeader) return malformed(line_no, "header");
      continue;
    }
    std::vector<std::string_view> fields = SplitTabs(line);
    if (line_no == 2) {
      if (fields.size() != 2 || fields[0] != kCrlNumberLabel) {
        return malformed(line_no, "crl-number");
      }
      std::string_view n = fields[1];
      int64_t value = 0;
      auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), value);
      if (n.empty() || n.front() == '0' || n.front() == '-' || ec != std::errc() ||
          end != n.data() + n.size() || value < 1) {
        return malformed(line_no, "crl-number");
      }
      state.crl_number = value;
      continue;
    }
    CertificateRecord record;
    if (const char* bad = ParseCertFields(fields, &record)) return malformed(line_no, bad);
    if (!serials.insert(record.serial_hex).second) return malformed(line_no, "duplicate serial");
    state.certs.push_back(std::move(record));
  }
  if (line_no < 2) return malformed(line_no + 1, line_no == 0 ? "header" : "crl-number");
  return state;
}

Result<CaState> ReadState(const std::string& dir) {
  const std::string path = JoinPath(dir, kStateFile);
  Result<FileContents> file = ReadSmallFile(path, kMaxStateFileSize);
  if (!file.ok()) {
    if (file.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("not a CA directory (no " + std::string(kStateFile) + "): " + dir);
    }
    if (file.status().code() == StatusCode::kInvalidArgument) {
      return Status::DataLoss("CA state file is too large: " + path);
    }
    return file.status();
  }
  return ParseState(file->data);
}

// ---------------------------------------------------------------------------------------------
// X.509.

Result<std::string> RandomSerial(const CaState& state) {
  while (true) {
    unsigned char bytes[kSerialBytes];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslError("generate a serial");
    std::string hex = HexEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
    bool taken = hex == std::string(kSerialHexDigits, '0');
    for (const CertificateRecord& r : state.certs) taken = taken || r.serial_hex == hex;
    if (!taken) return hex;
  }
}

Result<EvpPkeyPtr> GenerateP256Key() {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpenSslError("generate a P-256 key");
  return key;
}

Result<std::string> SpkiSha256Hex(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  OpenSslBytes owned(der);
  if (len <= 0) return OpenSslError("encode a public key");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(der, static_cast<size_t>(len), digest, &digest_len, EVP_sha256(), nullptr) != 1) {
    return OpenSslError("hash a public key");
  }
  return HexEncode(std::string_view(reinterpret_cast<char*>(digest), digest_len));
}

Result<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0) return OpenSslError("read a memory buffer");
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("encode a certificate");
  return BioContents(bio.get());
}

// The key as PKCS#8 PEM in a secure-memory BIO, which wipes the bytes when freed.
Result<BioPtr> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("encode a private key");
  }
  return bio;
}

std::string_view BioView(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len <= 0 ? std::string_view() : std::string_view(data, static_cast<size_t>(len));
}

Result<X509Ptr> ParseCertPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("open a memory buffer");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
  ERR_clear_error();
  if (!cert) return Status::InvalidArgument("no PEM certificate found");
  return cert;
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(std::string("add extension ") + OBJ_nid2sn(nid));
  }
  return Status::Ok();
}

Status AddGeneralName(GENERAL_NAMES* names, int type, std::string_view value) {
  Asn1StringPtr str(type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new());
  if (!str || ASN1_STRING_set(str.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return OpenSslError("build a subject alternative name");
  }
  GeneralNamePtr name(GENERAL_NAME_new());
  if (!name) return OpenSslError("build a subject alternative name");
  GENERAL_NAME_set0_value(name.get(), type, str.release());
  if (sk_GENERAL_NAME_push(names, name.get()) == 0) {
    return OpenSslError("build a subject alternative name");
  }
  name.release();
  return Status::Ok();
}

// What a new certificate says besides its key, serial and issuer.
struct CertSpec {
  std::string common_name;
  int64_t not_before = 0;
  int64_t not_after = 0;
  bool is_ca = false;
  const char* extended_key_usage = nullptr;  // "clientAuth" or "serverAuth" for a leaf
  GENERAL_NAMES* alt_names = nullptr;        // not owned; may be null
};

// Builds and signs a certificate for `key`. `issuer` and `issuer_key` are null for a
// self-signed certificate (then signed with `key`).
Result<X509Ptr> BuildCertificate(const CertSpec& spec, const std::string& serial_hex, EVP_PKEY* key,
                                 X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError("create a certificate");
  }
  Result<Asn1IntegerPtr> serial = SerialToAsn1(serial_hex);
  if (!serial.ok()) return serial.status();
  X509NamePtr subject(X509_NAME_new());
  if (!subject ||
      X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, V_ASN1_UTF8STRING,
                                 reinterpret_cast<const unsigned char*>(spec.common_name.data()),
                                 static_cast<int>(spec.common_name.size()), -1, 0) != 1) {
    return OpenSslError("build a subject name");
  }
  X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer) : subject.get();
  if (X509_set_serialNumber(cert.get(), serial->get()) != 1 ||
      X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer_name) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(spec.not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(spec.not_after)) ==
          nullptr ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError("fill in a certificate");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  if (spec.is_ca) {
    KAKUNIN_RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
    KAKUNIN_RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
    KAKUNIN_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  } else {
    KAKUNIN_RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
    KAKUNIN_RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
    KAKUNIN_RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_ext_key_usage, spec.extended_key_usage));
    KAKUNIN_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
    KAKUNIN_RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  }
  if (spec.alt_names != nullptr && X509_add1_ext_i2d(cert.get(), NID_subject_alt_name,
                                                     spec.alt_names, 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("add the subject alternative names");
  }
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) <= 0) {
    return OpenSslError("sign a certificate");
  }
  return cert;
}

// A CRL listing every revoked certificate of `state`, numbered state.crl_number, as PEM.
Result<std::string> BuildCrlPem(const CaState& state, X509* ca_cert, EVP_PKEY* ca_key,
                                int64_t now) {
  X509CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert)) != 1) {
    return OpenSslError("create a CRL");
  }
  // Dated back as certificates are (kNotBeforeSkewSeconds): OpenSSL checks it against
  // time(2), the kernel's coarse clock, which may still be in the previous second when this
  // one was read (the CI caught a fresh CRL "not yet valid"), and a verifier's clock may lag.
  Asn1TimePtr last_update(
      ASN1_TIME_set(nullptr, static_cast<time_t>(now - kNotBeforeSkewSeconds)));
  Asn1TimePtr next_update(
      ASN1_TIME_set(nullptr, static_cast<time_t>(now + kCrlValidityDays * kSecondsPerDay)));
  if (!last_update || !next_update || X509_CRL_set1_lastUpdate(crl.get(), last_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return OpenSslError("set the CRL's dates");
  }
  for (const CertificateRecord& r : state.certs) {
    if (!r.revoked_at) continue;
    Result<Asn1IntegerPtr> serial = SerialToAsn1(r.serial_hex);
    if (!serial.ok()) return serial.status();
    Asn1TimePtr when(ASN1_TIME_set(nullptr, static_cast<time_t>(*r.revoked_at)));
    X509RevokedPtr revoked(X509_REVOKED_new());
    if (!when || !revoked || X509_REVOKED_set_serialNumber(revoked.get(), serial->get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), when.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) {
      return OpenSslError("add a revoked certificate to the CRL");
    }
    revoked.release();  // owned by the CRL now
  }
  Asn1IntegerPtr number(ASN1_INTEGER_new());
  if (!number || ASN1_INTEGER_set_int64(number.get(), state.crl_number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("set the CRL number");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca_cert, nullptr, nullptr, crl.get(), 0);
  X509ExtPtr akid(
      X509V3_EXT_nconf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!akid || X509_CRL_add_ext(crl.get(), akid.get(), -1) != 1) {
    return OpenSslError("add the CRL's authority key identifier");
  }
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), ca_key, EVP_sha256()) <= 0) {
    return OpenSslError("sign the CRL");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return OpenSslError("encode the CRL");
  }
  return BioContents(bio.get());
}

// ---------------------------------------------------------------------------------------------
// An open, locked CA.

struct OpenCa {
  std::string dir;
  FileDescriptor lock;  // holds the directory's flock while the CA is open
  CaState state;
  X509Ptr cert;
  EvpPkeyPtr key;
  int64_t not_after = 0;
};

Result<OpenCa> OpenCertificateAuthority(const std::string& dir) {
  OpenCa ca;
  ca.dir = dir;
  Result<FileDescriptor> lock = LockDirectory(dir);
  if (!lock.ok()) return lock.status();
  ca.lock = std::move(lock).value();

  Result<CaState> state = ReadState(dir);
  if (!state.ok()) return state.status();
  ca.state = std::move(state).value();

  const std::string cert_path = JoinPath(dir, kCaCertFile);
  Result<FileContents> cert_pem = ReadSmallFile(cert_path, kMaxPemFileSize);
  if (!cert_pem.ok()) {
    if (cert_pem.status().code() == StatusCode::kInvalidArgument) {
      return Status::DataLoss("CA certificate is malformed: " + cert_path);
    }
    return cert_pem.status();
  }
  Result<X509Ptr> cert = ParseCertPem(cert_pem->data);
  if (!cert.ok()) return Status::DataLoss("CA certificate is malformed: " + cert_path);
  ca.cert = std::move(cert).value();
  std::optional<int64_t> not_after = Asn1TimeToUnix(X509_get0_notAfter(ca.cert.get()));
  if (!not_after) return Status::DataLoss("CA certificate has a malformed date: " + cert_path);
  ca.not_after = *not_after;

  const std::string key_path = JoinPath(dir, kCaKeyFile);
  Result<FileContents> key_pem = ReadSmallFile(key_path, kMaxPemFileSize);
  if (!key_pem.ok()) {
    if (key_pem.status().code() == StatusCode::kInvalidArgument) {
      return Status::DataLoss("CA key is malformed: " + key_path);
    }
    return key_pem.status();
  }
  std::string& key_bytes = key_pem->data;
  if ((key_pem->mode & 077) != 0) {
    OPENSSL_cleanse(key_bytes.data(), key_bytes.size());
    return Status::PermissionDenied(
        "CA key must not be accessible to group or others (chmod 600): " + key_path);
  }
  BioPtr bio(BIO_new_mem_buf(key_bytes.data(), static_cast<int>(key_bytes.size())));
  if (bio) ca.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  bio.reset();
  OPENSSL_cleanse(key_bytes.data(), key_bytes.size());
  ERR_clear_error();
  if (!ca.key) return Status::DataLoss("CA key is malformed or encrypted: " + key_path);
  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    ERR_clear_error();
    return Status::DataLoss("CA key does not match the CA certificate in " + dir);
  }
  return ca;
}

// Replaces ca.state; the caller syncs the directory.
Status CommitState(const OpenCa& ca, const CaState& state) {
  Result<PendingFile> file =
      PendingFile::Write(JoinPath(ca.dir, kStateFile), SerializeState(state), 0644);
  if (!file.ok()) return file.status();
  return file->Commit(/*replace=*/true);
}

// Writes `new_state` (with a CRL number one higher than the current) and then a CRL built
// from it. ca.state first: it is the source of truth, and a CRL older than it is repaired by the
// next call.
Status CommitStateAndCrl(OpenCa& ca, CaState new_state, int64_t now) {
  if (ca.state.crl_number == std::numeric_limits<int64_t>::max()) {
    return Status::FailedPrecondition("CRL number exhausted");
  }
  new_state.crl_number = ca.state.crl_number + 1;
  Result<std::string> crl_pem = BuildCrlPem(new_state, ca.cert.get(), ca.key.get(), now);
  if (!crl_pem.ok()) return crl_pem.status();
  Result<PendingFile> crl = PendingFile::Write(JoinPath(ca.dir, kCrlFile), *crl_pem, 0644);
  if (!crl.ok()) return crl.status();
  KAKUNIN_RETURN_IF_ERROR(CommitState(ca, new_state));
  ca.state = std::move(new_state);
  if (Status st = crl->Commit(/*replace=*/true); !st.ok()) {
    return Status(st.code(), st.message() + " (ca.state was updated; run RenewCrl to re-issue " +
                                 std::string(kCrlFile) + ")");
  }
  return SyncDirectory(ca.dir);
}

// What a leaf certificate is for.
struct LeafRequest {
  std::optional<ClientKind> kind;  // nullopt: server
  std::string common_name;
  std::string record_name;
  std::string municipality_code;
  std::string uri;  // client: the SAN URI (the serial is appended if it ends in ':')
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_bytes;  // 4 or 16 raw bytes each
  int days = 0;
};

Result<IssuedCert> IssueLeaf(const std::string& ca_dir, const LeafRequest& req,
                             const std::string& cert_path, const std::string& key_path,
                             const Clock& clock) {
  if (cert_path.empty() || key_path.empty()) {
    return Status::InvalidArgument("certificate and key paths must not be empty");
  }
  if (std::filesystem::path(cert_path).lexically_normal() ==
      std::filesystem::path(key_path).lexically_normal()) {
    return Status::InvalidArgument("certificate and key paths must differ");
  }
  Result<OpenCa> opened = OpenCertificateAuthority(ca_dir);
  if (!opened.ok()) return opened.status();
  OpenCa& ca = *opened;
  KAKUNIN_RETURN_IF_ERROR(CheckAbsent(key_path, "key file"));
  KAKUNIN_RETURN_IF_ERROR(CheckAbsent(cert_path, "certificate file"));

  const int64_t now = NowSeconds(clock);
  if (ca.not_after <= now) return Status::FailedPrecondition("the CA certificate has expired");
  CertSpec spec;
  spec.common_name = req.common_name;
  spec.not_before = now - kNotBeforeSkewSeconds;
  spec.not_after = now + int64_t{req.days} * kSecondsPerDay;
  spec.extended_key_usage = req.kind ? "clientAuth" : "serverAuth";
  if (spec.not_after > ca.not_after) {
    return Status::FailedPrecondition(
        "the certificate would outlive the CA certificate: ask for fewer days");
  }

  Result<std::string> serial = RandomSerial(ca.state);
  if (!serial.ok()) return serial.status();
  GeneralNamesPtr alt_names(GENERAL_NAMES_new());
  if (!alt_names) return OpenSslError("build the subject alternative names");
  if (req.kind) {
    std::string uri = req.uri.ends_with(':') ? req.uri + *serial : req.uri;
    KAKUNIN_RETURN_IF_ERROR(AddGeneralName(alt_names.get(), GEN_URI, uri));
  }
  for (const std::string& dns : req.dns_names) {
    KAKUNIN_RETURN_IF_ERROR(AddGeneralName(alt_names.get(), GEN_DNS, dns));
  }
  for (const std::string& ip : req.ip_bytes) {
    KAKUNIN_RETURN_IF_ERROR(AddGeneralName(alt_names.get(), GEN_IPADD, ip));
  }
  spec.alt_names = alt_names.get();

  Result<EvpPkeyPtr> key = GenerateP256Key();
  if (!key.ok()) return key.status();
  Result<X509Ptr> cert = BuildCertificate(spec, *serial, key->get(), ca.cert.get(), ca.key.get());
  if (!cert.ok()) return cert.status();
  Result<std::string> spki = SpkiSha256Hex(cert->get());
  if (!spki.ok()) return spki.status();
  Result<std::string> cert_pem = CertToPem(cert->get());
  if (!cert_pem.ok()) return cert_pem.status();
  Result<BioPtr> key_pem = KeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();

  Result<PendingFile> key_file = PendingFile::Write(key_path, BioView(key_pem->get()), 0600);
  key_pem->reset();  // wipes the PEM
  if (!key_file.ok()) return key_file.status();
  Result<PendingFile> cert_file = PendingFile::Write(cert_path, *cert_pem, 0644);
  if (!cert_file.ok()) return cert_file.status();

  // Recorded before it is handed out: a certificate that exists is always in ca.state.
  const CaState old_state = ca.state;
  CaState new_state = ca.state;
  new_state.certs.push_back(CertificateRecord{.serial_hex = *serial,
                                              .kind = req.kind,
                                              .name = req.record_name,
                                              .municipality_code = req.municipality_code,
                                              .spki_sha256_hex = *spki,
                                              .not_after = spec.not_after,
                                              .revoked_at = std::nullopt});
  KAKUNIN_RETURN_IF_ERROR(CommitState(ca, new_state));
  Status placed = SyncDirectory(ca.dir);
  if (placed.ok()) placed = key_file->Commit(/*replace=*/false);
  if (placed.ok()) {
    placed = cert_file->Commit(/*replace=*/false);
    if (!placed.ok()) ::unlink(key_path.c_str());  // ours: renamed there without replacing
  }
  if (!placed.ok()) {
    // The key never reached its place (or was removed), so the record describes a certificate
    // nobody holds: take it back.
    if (Status undo = CommitState(ca, old_state); undo.ok() && SyncDirectory(ca.dir).ok()) {
      return placed;
    }
    return Status(placed.code(), placed.message() + " (the certificate stays recorded in " +
                                     std::string(kStateFile) + "; revoke serial " + *serial + ")");
  }
  // Both files are in place and recorded; a failure here only means they may not survive a
  // crash.
  KAKUNIN_RETURN_IF_ERROR(SyncDirectory(DirectoryOf(key_path)));
  if (DirectoryOf(cert_path) != DirectoryOf(key_path)) {
    KAKUNIN_RETURN_IF_ERROR(SyncDirectory(DirectoryOf(cert_path)));
  }
  return IssuedCert{.serial_hex = *serial,
                    .spki_sha256_hex = *spki,
                    .cert_path = cert_path,
                    .key_path = key_path};
}

const SystemClock& DefaultClock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace

std::string_view ClientKindName(ClientKind kind) {
  switch (kind) {
    case ClientKind::kMunicipalCs:
      return "municipal-cs";
    case ClientKind::kAgency:
      return "agency";
    case ClientKind::kNational:
      return "national";
    case ClientKind::kOperator:
      return "operator";
  }
  return "unknown";
}

std::optional<ClientKind> ParseClientKind(std::string_view name) {
  for (ClientKind kind : {ClientKind::kMunicipalCs, ClientKind::kAgency, ClientKind::kNational,
                          ClientKind::kOperator}) {
    if (name == ClientKindName(kind)) return kind;
  }
  return std::nullopt;
}

Status CreateCertificateAuthority(const std::string& dir, const std::string& common_name,
                                  int days) {
  return CreateCertificateAuthority(dir, common_name, days, DefaultClock());
}

Status CreateCertificateAuthority(const std::string& dir, const std::string& common_name, int days,
                                  const Clock& clock) {
  KAKUNIN_RETURN_IF_ERROR(ValidateName(common_name, "CA common name"));
  KAKUNIN_RETURN_IF_ERROR(ValidateDays(days));
  if (dir.empty()) return Status::InvalidArgument("CA directory must not be empty");

  bool created_dir = false;
  if (::mkdir(dir.c_str(), 0700) == 0) {
    created_dir = true;
  } else if (errno == ENOENT) {
    return Status::NotFound("parent directory of the CA directory does not exist: " + dir);
  } else if (errno != EEXIST) {
    return ErrnoError("cannot create CA directory", dir);
  }
  // Removes a directory this call created if the creation does not complete.
  struct DirCleanup {
    const std::string& dir;
    bool active;
    ~DirCleanup() {
      if (active) ::rmdir(dir.c_str());
    }
  } dir_cleanup{dir, created_dir};

  Result<FileDescriptor> lock = LockDirectory(dir);
  if (!lock.ok()) return lock.status();
  const std::string key_path = JoinPath(dir, kCaKeyFile);
  if (Status st = CheckAbsent(key_path, "CA key"); !st.ok()) return st;
  for (const char* file : {kCaCertFile, kCrlFile, kStateFile}) {
    if (Status st = CheckAbsent(JoinPath(dir, file), "CA file"); !st.ok()) {
      if (st.code() != StatusCode::kAlreadyExists) return st;
      return Status::FailedPrecondition(JoinPath(dir, file) + " exists without " + kCaKeyFile +
                                        " (an interrupted creation? check, then remove it)");
    }
  }

  const int64_t now = NowSeconds(clock);
  CaState state;  // CRL number 1, nothing issued
  Result<std::string> serial = RandomSerial(state);
  if (!serial.ok()) return serial.status();
  Result<EvpPkeyPtr> key = GenerateP256Key();
  if (!key.ok()) return key.status();
  CertSpec spec;
  spec.common_name = common_name;
  spec.not_before = now - kNotBeforeSkewSeconds;
  spec.not_after = now + int64_t{days} * kSecondsPerDay;
  spec.is_ca = true;
  Result<X509Ptr> cert = BuildCertificate(spec, *serial, key->get(), nullptr, nullptr);
  if (!cert.ok()) return cert.status();
  Result<std::string> cert_pem = CertToPem(cert->get());
  if (!cert_pem.ok()) return cert_pem.status();
  Result<std::string> crl_pem = BuildCrlPem(state, cert->get(), key->get(), now);
  if (!crl_pem.ok()) return crl_pem.status();
  Result<BioPtr> key_pem = KeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();

  const std::string state_text = SerializeState(state);
  std::vector<PendingFile> files;
  for (auto [file, contents] : {std::pair<const char*, std::string_view>{kCaCertFile, *cert_pem},
                                {kCrlFile, *crl_pem},
                                {kStateFile, state_text}}) {
    Result<PendingFile> pending = PendingFile::Write(JoinPath(dir, file), contents, 0644);
    if (!pending.ok()) return pending.status();
    files.push_back(std::move(pending).value());
  }
  Result<PendingFile> key_file = PendingFile::Write(key_path, BioView(key_pem->get()), 0600);
  key_pem->reset();  // wipes the PEM
  if (!key_file.ok()) return key_file.status();
  files.push_back(std::move(key_file).value());  // last: ca.key completes the CA

  std::vector<std::string> placed;
  for (PendingFile& file : files) {
    if (Status st = file.Commit(/*replace=*/false); !st.ok()) {
      for (const std::string& path : placed) ::unlink(path.c_str());
      return st;
    }
    placed.push_back(file.path());
  }
  dir_cleanup.active = false;
  KAKUNIN_RETURN_IF_ERROR(SyncDirectory(dir));
  if (created_dir) return SyncDirectory(ParentOfDirectory(dir));
  return Status::Ok();
}

Result<IssuedCert> IssueClientCertificate(const std::string& ca_dir, const ClientCertRequest& req,
                                          const std::string& cert_path,
                                          const std::string& key_path) {
  return IssueClientCertificate(ca_dir, req, cert_path, key_path, DefaultClock());
}

Result<IssuedCert> IssueClientCertificate(const std::string& ca_dir, const ClientCertRequest& req,
                                          const std::string& cert_path, const std::string& key_path,
                                          const Clock& clock) {
  KAKUNIN_RETURN_IF_ERROR(ValidateName(req.name, "name"));
  KAKUNIN_RETURN_IF_ERROR(ValidateDays(req.days));
  if (!ParseClientKind(ClientKindName(req.kind))) {
    return Status::InvalidArgument("unknown client kind");
  }
  LeafRequest leaf;
  leaf.kind = req.kind;
  leaf.common_name = req.name;
  leaf.record_name = req.name;
  leaf.days = req.days;
  leaf.uri = "urn:kakunin:" + std::string(ClientKindName(req.kind)) + ":";
  if (req.kind == ClientKind::kMunicipalCs) {
    if (req.municipality_code.empty()) {
      return Status::InvalidArgument("a municipal CS certificate needs a municipality code");
    }
    KAKUNIN_RETURN_IF_ERROR(ValidateMunicipalityCode(req.municipality_code));
    leaf.municipality_code = req.municipality_code;
    leaf.uri += req.municipality_code;
  } else {
    if (!req.municipality_code.empty()) {
      return Status::InvalidArgument("only a municipal CS certificate takes a municipality code");
    }
    // A slug of the name's ASCII letters and digits; none (a name in kanji): the serial.
    std::string slug;
    for (char c : req.name) {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        slug.push_back(c);
      } else if (c >= 'A' && c <= 'Z') {
        slug.push_back(static_cast<char>(c - 'A' + 'a'));
      } else if (!slug.empty() && slug.back() != '-') {
        slug.push_back('-');
      }
    }
    if (slug.size() > 48) slug.resize(48);
    while (!slug.empty() && slug.back() == '-') slug.pop_back();
    leaf.uri += slug;  // ends in ':' if empty, so the serial completes it
  }
  return IssueLeaf(ca_dir, leaf, cert_path, key_path, clock);
}

Result<IssuedCert> IssueServerCertificate(const std::string& ca_dir,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ip_addresses, int days,
                                          const std::string& cert_path,
                                          const std::string& key_path) {
  return IssueServerCertificate(ca_dir, dns_names, ip_addresses, days, cert_path, key_path,
                                DefaultClock());
}

Result<IssuedCert> IssueServerCertificate(const std::string& ca_dir,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ip_addresses, int days,
                                          const std::string& cert_path, const std::string& key_path,
                                          const Clock& clock) {
  KAKUNIN_RETURN_IF_ERROR(ValidateDays(days));
  if (dns_names.empty() && ip_addresses.empty()) {
    return Status::InvalidArgument("a server certificate needs a DNS name or an IP address");
  }
  LeafRequest leaf;
  leaf.days = days;
  std::vector<std::string> shown;
  for (const std::string& name : dns_names) {
    std::string lower = name;
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (const char* problem = DnsNameProblem(lower)) return Status::InvalidArgument(problem);
    leaf.dns_names.push_back(lower);
    shown.push_back(lower);
  }
  for (const std::string& ip : ip_addresses) {
    unsigned char bytes[16];
    if (::inet_pton(AF_INET, ip.c_str(), bytes) == 1) {
      leaf.ip_bytes.emplace_back(reinterpret_cast<char*>(bytes), 4);
    } else if (::inet_pton(AF_INET6, ip.c_str(), bytes) == 1) {
      leaf.ip_bytes.emplace_back(reinterpret_cast<char*>(bytes), 16);
    } else {
      return Status::InvalidArgument("not an IPv4 or IPv6 address");
    }
    shown.push_back(ip);
  }
  leaf.common_name = shown.front();
  if (leaf.common_name.size() > kMaxNameCodePoints) {
    return Status::InvalidArgument("first server name is longer than " +
                                   std::to_string(kMaxNameCodePoints) + " characters");
  }
  for (const std::string& s : shown) {
    leaf.record_name += (leaf.record_name.empty() ? "" : ",") + s;
  }
  return IssueLeaf(ca_dir, leaf, cert_path, key_path, clock);
}

Status RevokeCertificate(const std::string& ca_dir, const std::string& serial_hex) {
  return RevokeCertificate(ca_dir, serial_hex, DefaultClock());
}

Status RevokeCertificate(const std::string& ca_dir, const std::string& serial_hex,
                         const Clock& clock) {
  Result<std::string> serial = NormaliseSerial(serial_hex);
  if (!serial.ok()) return serial.status();
  Result<OpenCa> ca = OpenCertificateAuthority(ca_dir);
  if (!ca.ok()) return ca.status();
  const int64_t now = NowSeconds(clock);
  CaState new_state = ca->state;
  auto it = std::find_if(new_state.certs.begin(), new_state.certs.end(),
                         [&](const CertificateRecord& r) { return r.serial_hex == *serial; });
  if (it == new_state.certs.end()) {
    return Status::NotFound("no certificate with this serial was issued by the CA in " + ca_dir);
  }
  if (!it->revoked_at) it->revoked_at = now;
  return CommitStateAndCrl(*ca, std::move(new_state), now);
}

Status RenewCrl(const std::string& ca_dir) { return RenewCrl(ca_dir, DefaultClock()); }

Status RenewCrl(const std::string& ca_dir, const Clock& clock) {
  Result<OpenCa> ca = OpenCertificateAuthority(ca_dir);
  if (!ca.ok()) return ca.status();
  CaState new_state = ca->state;
  return CommitStateAndCrl(*ca, std::move(new_state), NowSeconds(clock));
}

Result<std::vector<CertificateRecord>> ListCertificates(const std::string& ca_dir) {
  Result<FileDescriptor> lock = LockDirectory(ca_dir);
  if (!lock.ok()) return lock.status();
  Result<CaState> state = ReadState(ca_dir);
  if (!state.ok()) return state.status();
  return std::move(state->certs);
}

Result<std::string> CertificateSpkiSha256(const std::string& cert_pem) {
  Result<X509Ptr> cert = ParseCertPem(cert_pem);
  if (!cert.ok()) return cert.status();
  return SpkiSha256Hex(cert->get());
}

Result<std::string> CertificateSpkiSha256File(const std::string& path) {
  Result<FileContents> file = ReadSmallFile(path, kMaxPemFileSize);
  if (!file.ok()) return file.status();
  return CertificateSpkiSha256(file->data);
}

}  // namespace kakunin::crypto
