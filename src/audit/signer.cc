#include "audit/signer.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/bytes.h"
#include "core/file.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"

namespace kakunin::audit {
namespace {

constexpr char kHeader[] = "kakunin-signing-key v1 ed25519";

class KeyFileSigner final : public Signer {
 public:
  KeyFileSigner(std::string secret, std::string pub)
      : secret_(std::move(secret)), public_(std::move(pub)) {}
  ~KeyFileSigner() override { sodium_memzero(secret_.data(), secret_.size()); }

  Result<std::string> Sign(std::string_view message) const override {
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                         reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                         reinterpret_cast<const unsigned char*>(secret_.data()));
    return sig;
  }
  const std::string& public_key() const override { return public_; }

 private:
  std::string secret_;  // libsodium's 64-byte secret key (seed ‖ public key)
  std::string public_;
};

Status WriteNew(const std::string& path, const std::string& content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists("file exists: " + path);
    return Status::IoError("cannot create " + path);
  }
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Status::IoError("cannot write " + path);
}

Result<std::string> ReadSmall(const std::string& path) {
  auto s = ReadFileAtMost(path, 4096);
  if (s.status().code() == StatusCode::kNotFound) return Status::NotFound("file not found: " + path);
  if (!s.ok()) return Status::DataLoss("file is malformed: " + path);
  return s;
}

}  // namespace

std::string Signer::key_id() const { return PublicKeyId(public_key()); }

std::string PublicKeyId(std::string_view public_key) {
  return HexEncode(crypto::Sha256(public_key)).substr(0, 16);
}

Status CreateSigningKeyFile(const std::string& path) {
  KAKUNIN_RETURN_IF_ERROR(crypto::InitSodium());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  std::string seed(reinterpret_cast<char*>(sk), crypto_sign_SEEDBYTES);
  std::string content = std::string(kHeader) + "\nseed " + HexEncode(seed) + "\n";
  sodium_memzero(sk, sizeof sk);
  sodium_memzero(seed.data(), seed.size());
  Status st = WriteNew(path, content, 0600);
  sodium_memzero(content.data(), content.size());
  KAKUNIN_RETURN_IF_ERROR(st);
  std::string pub(reinterpret_cast<char*>(pk), sizeof pk);
  return WriteNew(path + ".pub", HexEncode(pub) + "\n", 0644);
}

Result<std::unique_ptr<Signer>> LoadSigningKeyFile(const std::string& path) {
  KAKUNIN_RETURN_IF_ERROR(crypto::InitSodium());
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound("signing key not found: " + path);
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied("signing key must not be readable by group or others");
  }
  auto text = ReadSmall(path);
  if (!text.ok()) return text.status();
  std::string prefix = std::string(kHeader) + "\nseed ";
  std::string& t = *text;
  if (t.rfind(prefix, 0) != 0) return Status::DataLoss("signing key file is malformed");
  std::string hex = t.substr(prefix.size());
  if (!hex.empty() && hex.back() == '\n') hex.pop_back();
  auto seed = HexDecode(hex);
  sodium_memzero(t.data(), t.size());
  if (!seed || seed->size() != crypto_sign_SEEDBYTES) {
    return Status::DataLoss("signing key file is malformed");
  }
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, reinterpret_cast<const unsigned char*>(seed->data()));
  sodium_memzero(seed->data(), seed->size());
  std::string secret(reinterpret_cast<char*>(sk), sizeof sk);
  sodium_memzero(sk, sizeof sk);
  return std::unique_ptr<Signer>(
      new KeyFileSigner(std::move(secret), std::string(reinterpret_cast<char*>(pk), sizeof pk)));
}

Result<std::string> LoadPublicKeyFile(const std::string& path) {
  auto text = ReadSmall(path);
  if (!text.ok()) return text.status();
  std::string hex = *text;
  if (!hex.empty() && hex.back() == '\n') hex.pop_back();
  auto pk = HexDecode(hex);
  if (!pk || pk->size() != crypto_sign_PUBLICKEYBYTES) {
    return Status::DataLoss("public key file is malformed");
  }
  return *pk;
}

bool VerifySignature(std::string_view public_key, std::string_view message,
                     std::string_view signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

}  // namespace kakunin::audit
