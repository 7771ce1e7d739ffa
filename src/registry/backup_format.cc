#include "registry/backup_format.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "core/bytes.h"
#include "core/file.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "text/json.h"

namespace kakunin::registry {

namespace {

constexpr char kKeyHeader[] = "kakunin-backup-key v1\n";
constexpr size_t kCipherChunk = kBackupChunk + crypto_secretstream_xchacha20poly1305_ABYTES;

void PutU16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}
void PutU32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetBe(std::string_view b) {
  uint64_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return v;
}

bool KnownName(std::string_view name) {
  for (const char* n : kBackupFileNames) {
    if (name == n) return true;
  }
  return false;
}

Result<std::string> ReadSmallFile(const std::string& path, size_t limit) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound("no file " + path);
    return ErrnoError("cannot open", path);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) return Status::DataLoss(path + " is larger than expected");
  }
  return out;
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

// --- the backup key ---

BackupKey::~BackupKey() {
  if (!key.empty()) sodium_memzero(key.data(), key.size());
}

std::string BackupKey::id() const {
  return HexEncode(crypto::Sha256(std::string("kakunin backup key id v1\n") + key)).substr(0, 16);
}

Status CreateBackupKeyFile(const std::string& path) {
  KAKUNIN_RETURN_IF_ERROR(crypto::InitSodium());
  std::string raw(32, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string text = std::string(kKeyHeader) + "key " + HexEncode(raw) + "\n";
  sodium_memzero(raw.data(), raw.size());
  FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      return Status::AlreadyExists("a backup key already exists at " + path +
                                   " (it is never overwritten)");
    }
    return ErrnoError("cannot create", path);
  }
  Status st = WriteAll(fd.get(), text);
  sodium_memzero(text.data(), text.size());
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoError("cannot sync", path);
  if (!fd.Close() && st.ok()) st = ErrnoError("cannot close", path);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

Result<BackupKey> LoadBackupKeyFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::NotFound("no backup key at " + path + " (make one: kakunin backup keygen)");
    }
    return ErrnoError("cannot inspect", path);
  }
  if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition(path + " is not a regular file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status::PermissionDenied("the backup key " + path +
                                    " is open to other users: run `chmod 600 " + path + "`");
  }
  KAKUNIN_ASSIGN_OR_RETURN(text, ReadSmallFile(path, 1024));
  const std::string prefix = std::string(kKeyHeader) + "key ";
  bool ok = text.size() == prefix.size() + 65 && text.compare(0, prefix.size(), prefix) == 0 &&
            text.back() == '\n' && IsLowerHex(std::string_view(text).substr(prefix.size(), 64));
  std::optional<std::string> raw;
  if (ok) raw = HexDecode(std::string_view(text).substr(prefix.size(), 64));
  sodium_memzero(text.data(), text.size());
  if (!raw || raw->size() != 32) {
    return Status::DataLoss(path + " is not a backup key file (kakunin backup keygen makes one)");
  }
  BackupKey k;
  k.key = std::move(*raw);
  return k;
}

// --- the manifest ---

std::string ManifestToJson(const BackupManifest& m) {
  std::string o = "{\"format\":\"kakunin-backup\",\"version\":" + std::to_string(m.version);
  o += ",\"backup_id\":\"" + m.backup_id + "\"";
  o += ",\"created\":" + std::to_string(m.created);
  o += ",\"prefecture\":" + std::to_string(m.prefecture);
  o += ",\"data_key_id\":\"" + m.data_key_id + "\"";
  o += ",\"log_key_id\":\"" + m.log_key_id + "\"";
  o += ",\"public_key\":\"" + HexEncode(m.public_key) + "\"";
  o += ",\"backup_key_id\":\"" + m.backup_key_id + "\"";
  o += ",\"tree_size\":" + std::to_string(m.tree_size);
  o += ",\"root\":\"" + HexEncode(m.root) + "\"";
  o += ",\"checkpoint\":";
  text::AppendJsonString(m.checkpoint_json, &o);
  o += ",\"payload_bytes\":" + std::to_string(m.payload_bytes);
  o += ",\"payload_sha256\":\"" + HexEncode(m.payload_sha256) + "\"";
  o += ",\"chunks\":" + std::to_string(m.chunks);
  o += "}\n";
  return o;
}

std::string ManifestSigningMessage(std::string_view manifest_json) {
  return std::string("kakunin backup manifest v1\n") + std::string(manifest_json);
}

Result<BackupManifest> ParseManifest(std::string_view json) {
  if (json.size() > 16 * 1024) return Status::InvalidArgument("the manifest is too large");
  text::JsonLimits limits;
  limits.max_bytes = 16 * 1024;
  limits.max_depth = 2;
  KAKUNIN_ASSIGN_OR_RETURN(doc, text::ParseJson(json, limits));
  if (!doc.is_object()) return Status::InvalidArgument("the manifest is not a JSON object");
  static const char* const kMembers[] = {
      "format",     "version",   "backup_id",  "created",    "prefecture",
      "data_key_id", "log_key_id", "public_key", "backup_key_id", "tree_size",
      "root",       "checkpoint", "payload_bytes", "payload_sha256", "chunks"};
  std::set<std::string> seen;
  for (const auto& member : doc.members()) {
    // Not a structured binding: clang-14 (the fuzz build) cannot capture one in a lambda.
    const std::string& k = member.first;
    if (std::find_if(std::begin(kMembers), std::end(kMembers),
                     [&](const char* m) { return k == m; }) == std::end(kMembers)) {
      return Status::InvalidArgument("the manifest has an unknown member");
    }
    if (!seen.insert(k).second) {
      return Status::InvalidArgument("the manifest names " + k + " twice");
    }
  }
  if (seen.size() != std::size(kMembers)) {
    return Status::InvalidArgument("the manifest lacks a member");
  }
  auto str = [&](const char* name) -> Result<std::string> {
    const text::JsonValue* v = doc.Find(name);
    if (!v->is_string() || !v->well_formed()) {
      return Status::InvalidArgument(std::string("manifest member ") + name + " is not text");
    }
    return v->text();
  };
  auto hex = [&](const char* name, size_t digits) -> Result<std::string> {
    KAKUNIN_ASSIGN_OR_RETURN(s, str(name));
    if (s.size() != digits || !IsLowerHex(s)) {
      return Status::InvalidArgument(std::string("manifest member ") + name + " is not " +
                                     std::to_string(digits) + " lower-case hex digits");
    }
    return s;
  };
  auto num = [&](const char* name, int64_t min, int64_t max) -> Result<int64_t> {
    const text::JsonValue* v = doc.Find(name);
    std::optional<int64_t> n = v->is_number() ? v->AsInt64() : std::nullopt;
    if (!n || *n < min || *n > max) {
      return Status::InvalidArgument(std::string("manifest member ") + name +
                                     " is not an integer in range");
    }
    return *n;
  };
  BackupManifest m;
  KAKUNIN_ASSIGN_OR_RETURN(format, str("format"));
  if (format != "kakunin-backup") return Status::InvalidArgument("not a Kakunin backup manifest");
  KAKUNIN_ASSIGN_OR_RETURN(version, num("version", 0, INT64_MAX));
  if (version != 1) {
    return Status::InvalidArgument("backup format version " + std::to_string(version) +
                                   " is not supported by this build");
  }
  m.version = version;
  KAKUNIN_ASSIGN_OR_RETURN(id, hex("backup_id", 32));
  m.backup_id = id;
  KAKUNIN_ASSIGN_OR_RETURN(created, num("created", 0, INT64_MAX));
  m.created = created;
  // 0: the national node (found in review: its backups could not be restored).
  KAKUNIN_ASSIGN_OR_RETURN(pref, num("prefecture", 0, 47));
  m.prefecture = pref;
  KAKUNIN_ASSIGN_OR_RETURN(dk, hex("data_key_id", 16));
  m.data_key_id = dk;
  KAKUNIN_ASSIGN_OR_RETURN(lk, hex("log_key_id", 16));
  m.log_key_id = lk;
  KAKUNIN_ASSIGN_OR_RETURN(pk, hex("public_key", 64));
  m.public_key = *HexDecode(pk);
  KAKUNIN_ASSIGN_OR_RETURN(bk, hex("backup_key_id", 16));
  m.backup_key_id = bk;
  KAKUNIN_ASSIGN_OR_RETURN(size, num("tree_size", 0, int64_t{1} << 48));
  m.tree_size = size;
  KAKUNIN_ASSIGN_OR_RETURN(root, hex("root", 64));
  m.root = *HexDecode(root);
  KAKUNIN_ASSIGN_OR_RETURN(cp, str("checkpoint"));
  if (cp.size() > 4096) return Status::InvalidArgument("manifest member checkpoint is too long");
  m.checkpoint_json = cp;
  KAKUNIN_ASSIGN_OR_RETURN(bytes, num("payload_bytes", 0, int64_t{1} << 50));
  m.payload_bytes = bytes;
  KAKUNIN_ASSIGN_OR_RETURN(sha, hex("payload_sha256", 64));
  m.payload_sha256 = *HexDecode(sha);
  KAKUNIN_ASSIGN_OR_RETURN(chunks, num("chunks", 1, int64_t{1} << 40));
  m.chunks = chunks;
  return m;
}

// --- the payload ---

struct PayloadWriter::State {
  std::string path;
  FileDescriptor fd;
  crypto_secretstream_xchacha20poly1305_state st;
  std::string ad;
  std::string plain;  // pending plaintext, < kBackupChunk
  crypto::Sha256Hasher hash;
  int64_t bytes = 0;
  int64_t chunks = 0;
  bool finished = false;

  Status Write(std::string_view data) {
    hash.Update(data);
    bytes += static_cast<int64_t>(data.size());
    return WriteAll(fd.get(), data);
  }
};

PayloadWriter::~PayloadWriter() {
  if (s_) sodium_memzero(&s_->st, sizeof s_->st);
}

Result<std::unique_ptr<PayloadWriter>> PayloadWriter::Create(const std::string& path,
                                                             const BackupKey& key,
                                                             std::string additional_data) {
  KAKUNIN_RETURN_IF_ERROR(crypto::InitSodium());
  if (key.key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return Status::InvalidArgument("a backup key is 32 bytes");
  }
  std::unique_ptr<PayloadWriter> w(new PayloadWriter());
  w->s_ = std::make_unique<State>();
  w->s_->path = path;
  w->s_->ad = std::move(additional_data);
  w->s_->fd = FileDescriptor(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (w->s_->fd.get() < 0) return ErrnoError("cannot create", path);
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_init_push(
      &w->s_->st, header, reinterpret_cast<const unsigned char*>(key.key.data()));
  KAKUNIN_RETURN_IF_ERROR(
      w->s_->Write(std::string_view(reinterpret_cast<char*>(header), sizeof header)));
  return w;
}

Status PayloadWriter::Flush(bool final) {
  std::string out(4 + s_->plain.size() + crypto_secretstream_xchacha20poly1305_ABYTES, '\0');
  unsigned long long clen = 0;
  crypto_secretstream_xchacha20poly1305_push(
      &s_->st, reinterpret_cast<unsigned char*>(out.data() + 4), &clen,
      reinterpret_cast<const unsigned char*>(s_->plain.data()), s_->plain.size(),
      reinterpret_cast<const unsigned char*>(s_->ad.data()), s_->ad.size(),
      final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
  std::string len;
  PutU32(&len, static_cast<uint32_t>(clen));
  std::memcpy(out.data(), len.data(), 4);
  sodium_memzero(s_->plain.data(), s_->plain.size());
  s_->plain.clear();
  ++s_->chunks;
  return s_->Write(out);
}

Status PayloadWriter::Append(std::string_view data) {
  while (!data.empty()) {
    size_t take = std::min(data.size(), kBackupChunk - s_->plain.size());
    s_->plain.append(data.substr(0, take));
    data.remove_prefix(take);
    if (s_->plain.size() == kBackupChunk) KAKUNIN_RETURN_IF_ERROR(Flush(false));
  }
  return Status::Ok();
}

Status PayloadWriter::AddFile(const std::string& name, const std::string& source_path) {
  if (!KnownName(name)) return Status::InvalidArgument("not a file a backup holds: " + name);
  FileDescriptor fd(::open(source_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open", source_path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot inspect", source_path);
  std::string head = "F";
  PutU16(&head, static_cast<uint16_t>(name.size()));
  head += name;
  PutU64(&head, static_cast<uint64_t>(st.st_size));
  KAKUNIN_RETURN_IF_ERROR(Append(head));
  std::string buf(kBackupChunk, '\0');
  int64_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::read(fd.get(), buf.data(),
                       static_cast<size_t>(std::min<int64_t>(left, kBackupChunk)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IoError(source_path + " changed while it was being copied");
    KAKUNIN_RETURN_IF_ERROR(Append(std::string_view(buf.data(), static_cast<size_t>(n))));
    left -= n;
  }
  sodium_memzero(buf.data(), buf.size());
  return Status::Ok();
}

Result<PayloadWriter::Summary> PayloadWriter::Finish() {
  if (s_->finished) return Status::FailedPrecondition("the payload is already finished");
  KAKUNIN_RETURN_IF_ERROR(Append("E"));
  KAKUNIN_RETURN_IF_ERROR(Flush(true));
  s_->finished = true;
  if (::fsync(s_->fd.get()) != 0) return ErrnoError("cannot sync", s_->path);
  if (!s_->fd.Close()) return ErrnoError("cannot close", s_->path);
  Summary out;
  out.bytes = s_->bytes;
  out.sha256 = s_->hash.Finish();
  out.chunks = s_->chunks;
  return out;
}

namespace {

// The decrypted stream, read in exact amounts.
class PayloadReader {
 public:
  PayloadReader(const std::string& path, const BackupKey& key, std::string_view ad)
      : path_(path), key_(key), ad_(ad) {}
  ~PayloadReader() {
    sodium_memzero(&st_, sizeof st_);
    if (!plain_.empty()) sodium_memzero(plain_.data(), plain_.size());
  }

  Status Open() {
    KAKUNIN_RETURN_IF_ERROR(crypto::InitSodium());
    fd_ = FileDescriptor(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd_.get() < 0) return ErrnoError("cannot open", path_);
    std::string header;
    KAKUNIN_RETURN_IF_ERROR(ReadRaw(crypto_secretstream_xchacha20poly1305_HEADERBYTES, &header));
    if (header.size() != crypto_secretstream_xchacha20poly1305_HEADERBYTES) {
      return Status::DataLoss("the payload is truncated (no header)");
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(
            &st_, reinterpret_cast<const unsigned char*>(header.data()),
            reinterpret_cast<const unsigned char*>(key_.key.data())) != 0) {
      return Status::DataLoss("the payload's header is not valid");
    }
    return Status::Ok();
  }

  // Exactly `n` bytes of plaintext into *out, or DataLoss.
  Status Read(size_t n, std::string* out) {
    out->clear();
    while (out->size() < n) {
      if (pos_ == plain_.size()) KAKUNIN_RETURN_IF_ERROR(NextChunk());
      size_t take = std::min(n - out->size(), plain_.size() - pos_);
      out->append(plain_, pos_, take);
      pos_ += take;
    }
    return Status::Ok();
  }

  // After the archive's end: nothing may be left, and the last chunk must be FINAL.
  Status End() {
    if (pos_ != plain_.size() || !final_) {
      return Status::DataLoss("the payload has data after the archive's end");
    }
    char c;
    ssize_t n = ::read(fd_.get(), &c, 1);
    if (n != 0) return Status::DataLoss("the payload has bytes after its final chunk");
    return Status::Ok();
  }

  int64_t chunks() const { return chunks_; }

 private:
  Status ReadRaw(size_t n, std::string* out) {
    out->assign(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_.get(), out->data() + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ErrnoError("cannot read", path_);
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    out->resize(got);
    return Status::Ok();
  }

  Status NextChunk() {
    if (final_) return Status::DataLoss("the archive goes on past the payload's final chunk");
    std::string len;
    KAKUNIN_RETURN_IF_ERROR(ReadRaw(4, &len));
    if (len.size() != 4) {
      return Status::DataLoss("the payload is truncated after chunk " + std::to_string(chunks_) +
                              " (no final chunk)");
    }
    uint64_t clen = GetBe(len);
    if (clen < crypto_secretstream_xchacha20poly1305_ABYTES || clen > kCipherChunk) {
      return Status::DataLoss("chunk " + std::to_string(chunks_ + 1) +
                              " of the payload has an impossible length");
    }
    std::string c;
    KAKUNIN_RETURN_IF_ERROR(ReadRaw(clen, &c));
    if (c.size() != clen) {
      return Status::DataLoss("the payload is truncated in chunk " +
                              std::to_string(chunks_ + 1));
    }
    plain_.assign(clen - crypto_secretstream_xchacha20poly1305_ABYTES, '\0');
    unsigned long long mlen = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(
            &st_, reinterpret_cast<unsigned char*>(plain_.data()), &mlen, &tag,
            reinterpret_cast<const unsigned char*>(c.data()), c.size(),
            reinterpret_cast<const unsigned char*>(ad_.data()), ad_.size()) != 0) {
      return Status::DataLoss("chunk " + std::to_string(chunks_ + 1) +
                              " of the payload does not authenticate (altered, out of order, "
                              "from another backup, or another backup key)");
    }
    plain_.resize(mlen);
    pos_ = 0;
    ++chunks_;
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) final_ = true;
    return Status::Ok();
  }

  std::string path_;
  const BackupKey& key_;
  std::string ad_;
  FileDescriptor fd_;
  crypto_secretstream_xchacha20poly1305_state st_;
  std::string plain_;
  size_t pos_ = 0;
  bool final_ = false;
  int64_t chunks_ = 0;
};

}  // namespace

Result<std::vector<std::string>> UnpackPayload(const std::string& path, const BackupKey& key,
                                               std::string_view additional_data,
                                               const std::string& out_dir) {
  PayloadReader r(path, key, additional_data);
  KAKUNIN_RETURN_IF_ERROR(r.Open());
  std::vector<std::string> names;
  std::string b;
  for (;;) {
    KAKUNIN_RETURN_IF_ERROR(r.Read(1, &b));
    if (b == "E") break;
    if (b != "F") return Status::DataLoss("the payload's archive is malformed");
    KAKUNIN_RETURN_IF_ERROR(r.Read(2, &b));
    size_t name_len = GetBe(b);
    std::string name;
    KAKUNIN_RETURN_IF_ERROR(r.Read(name_len, &name));
    if (!KnownName(name) || std::find(names.begin(), names.end(), name) != names.end()) {
      return Status::DataLoss("the payload holds an unexpected or repeated file");
    }
    KAKUNIN_RETURN_IF_ERROR(r.Read(8, &b));
    uint64_t size = GetBe(b);
    std::string out_path = out_dir + "/" + name;
    FileDescriptor fd(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return ErrnoError("cannot create", out_path);
    names.push_back(name);
    std::string piece;
    while (size > 0) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(size, kBackupChunk));
      KAKUNIN_RETURN_IF_ERROR(r.Read(take, &piece));
      KAKUNIN_RETURN_IF_ERROR(WriteAll(fd.get(), piece));
      size -= take;
    }
    if (!piece.empty()) sodium_memzero(piece.data(), piece.size());
    if (::fsync(fd.get()) != 0) return ErrnoError("cannot sync", out_path);
    if (!fd.Close()) return ErrnoError("cannot close", out_path);
  }
  KAKUNIN_RETURN_IF_ERROR(r.End());
  return names;
}

}  // namespace kakunin::registry
