#include "crypto/pkcs11.h"

#include <fcntl.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "core/file.h"

namespace kakunin::crypto {
namespace {

constexpr size_t kMaxPin = 255;
constexpr size_t kGcmIv = 12;
constexpr size_t kGcmTag = 16;
constexpr size_t kMaxSecret = 4096;

// Ed25519 in CKA_EC_PARAMS: the DER of the printable string "edwards25519", which PKCS#11 3.0
// names and SoftHSM2 2.6 understands; some tokens want the OID 1.3.101.112 instead, tried next.
const unsigned char kEdParamsName[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd',
                                       's',  '2',  '5', '5', '1', '9'};
const unsigned char kEdParamsOid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};

std::string Rv(CK_RV rv) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKR 0x%lx", static_cast<unsigned long>(rv));
  return buf;
}

Status Failed(std::string_view what, CK_RV rv) {
  return Status::FailedPrecondition("PKCS#11: " + std::string(what) + " failed (" + Rv(rv) + ")");
}

// A fixed-width, blank-padded PKCS#11 text field without its padding.
std::string Trimmed(const unsigned char* field, size_t size) {
  std::string s(reinterpret_cast<const char*>(field), size);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

void Wipe(std::string& s) {
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
}

CK_BYTE_PTR Bytes(std::string_view s) {
  return reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(s.data()));
}

}  // namespace

// The loaded module; finalised and released when the token goes.
struct Pkcs11Token::Module {
  CK_FUNCTION_LIST* f = nullptr;
  bool initialised = false;
  ~Module() {
    if (f == nullptr) return;
    if (initialised) p11_kit_module_finalize(f);
    p11_kit_module_release(f);
  }
};

Result<std::string> ReadPin(const HsmSettings& settings) {
  if (settings.pin_file.empty() == settings.pin_env.empty()) {
    return Status::InvalidArgument("[hsm] needs exactly one of pin_file and pin_env");
  }
  std::string pin;
  if (!settings.pin_env.empty()) {
    const char* v = std::getenv(settings.pin_env.c_str());
    if (v == nullptr) return Status::NotFound("the PIN variable is not set: " + settings.pin_env);
    pin = v;
  } else {
    const std::string& path = settings.pin_file;
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0 && errno == ENOENT) return Status::NotFound("PIN file not found: " + path);
    if (fd.get() < 0) return ErrnoError("cannot open PIN file", path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat PIN file", path);
    if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition("PIN file is not a file: " + path);
    if ((st.st_mode & 077) != 0) {
      return Status::PermissionDenied("PIN file must not be readable by group or others (chmod "
                                      "600): " + path);
    }
    pin.assign(kMaxPin + 2, '\0');
    size_t size = 0;
    while (size < pin.size()) {
      ssize_t n = ::read(fd.get(), pin.data() + size, pin.size() - size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Wipe(pin);
        return ErrnoError("cannot read PIN file", path);
      }
      if (n == 0) break;
      size += static_cast<size_t>(n);
    }
    pin.resize(size);
    if (!pin.empty() && pin.back() == '\n') pin.pop_back();
  }
  if (pin.empty() || pin.size() > kMaxPin || pin.find('\n') != std::string::npos) {
    Wipe(pin);
    return Status::DataLoss("the PIN is empty, longer than 255 bytes or more than one line");
  }
  return pin;
}

Pkcs11Token::Pkcs11Token(std::unique_ptr<Module> module, unsigned long session,
                         std::string description)
    : module_(std::move(module)), session_(session), description_(std::move(description)) {}

Pkcs11Token::~Pkcs11Token() {
  module_->f->C_Logout(session_);
  module_->f->C_CloseSession(session_);
}

Result<std::unique_ptr<Pkcs11Token>> Pkcs11Token::Open(const HsmSettings& settings,
                                                        std::string_view pin) {
  auto m = std::make_unique<Module>();
  m->f = p11_kit_module_load(settings.module.c_str(), 0);
  if (m->f == nullptr) {
    const char* why = p11_kit_message();
    return Status::FailedPrecondition("cannot load the PKCS#11 module " + settings.module +
                                      (why ? std::string(": ") + why : std::string()));
  }
  CK_RV rv = p11_kit_module_initialize(m->f);
  if (rv != CKR_OK) return Failed("initialising " + settings.module, rv);
  m->initialised = true;
  CK_FUNCTION_LIST* f = m->f;

  CK_ULONG count = 0;
  if ((rv = f->C_GetSlotList(CK_TRUE, nullptr, &count)) != CKR_OK) {
    return Failed("listing slots", rv);
  }
  std::vector<CK_SLOT_ID> slots(count);
  if (count > 0 && (rv = f->C_GetSlotList(CK_TRUE, slots.data(), &count)) != CKR_OK) {
    return Failed("listing slots", rv);
  }
  slots.resize(count);
  std::optional<CK_SLOT_ID> slot;
  std::string description;
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info;
    if (f->C_GetTokenInfo(s, &info) != CKR_OK) continue;
    if (Trimmed(info.label, sizeof info.label) != settings.token_label) continue;
    if (slot) {
      return Status::FailedPrecondition("more than one PKCS#11 token is labelled \"" +
                                        settings.token_label + "\"");
    }
    slot = s;
    description = "token \"" + settings.token_label + "\" (" +
                  Trimmed(info.manufacturerID, sizeof info.manufacturerID) + ", " +
                  Trimmed(info.model, sizeof info.model) + ")";
  }
  if (!slot) {
    return Status::FailedPrecondition("no PKCS#11 token labelled \"" + settings.token_label +
                                      "\" in " + settings.module);
  }
  CK_SESSION_HANDLE session = 0;
  rv = f->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
  if (rv != CKR_OK) return Failed("opening a session", rv);
  rv = f->C_Login(session, CKU_USER, Bytes(pin), pin.size());
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    f->C_CloseSession(session);
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
      return Status::FailedPrecondition("the PIN for " + description + " was refused (" + Rv(rv) +
                                        ")");
    }
    return Failed("logging in to " + description, rv);
  }
  return std::unique_ptr<Pkcs11Token>(new Pkcs11Token(std::move(m), session, description));
}

Result<unsigned long> Pkcs11Token::FindKey(std::string_view label, unsigned long object_class) {
  CK_FUNCTION_LIST* f = module_->f;
  CK_OBJECT_CLASS cls = object_class;
  std::vector<CK_ATTRIBUTE> tmpl = {{CKA_LABEL, Bytes(label), label.size()}};
  if (object_class != ~0UL) tmpl.push_back({CKA_CLASS, &cls, sizeof cls});
  CK_RV rv = f->C_FindObjectsInit(session_, tmpl.data(), tmpl.size());
  if (rv != CKR_OK) return Failed("searching for a key", rv);
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;
  rv = f->C_FindObjects(session_, found, 2, &n);
  f->C_FindObjectsFinal(session_);
  if (rv != CKR_OK) return Failed("searching for a key", rv);
  if (n == 0) return Status::NotFound("no key labelled \"" + std::string(label) + "\" on the token");
  if (n > 1 && object_class != ~0UL) {
    return Status::FailedPrecondition("more than one key labelled \"" + std::string(label) +
                                      "\" on the token");
  }
  return found[0];
}

Result<bool> Pkcs11Token::HasKey(std::string_view label) {
  std::lock_guard lock(mu_);
  auto k = FindKey(label, ~0UL);
  if (k.ok()) return true;
  if (k.status().code() == StatusCode::kNotFound) return false;
  return k.status();
}

Result<std::string> Pkcs11Token::GenerateEd25519(std::string_view label) {
  std::lock_guard lock(mu_);
  if (FindKey(label, ~0UL).ok()) {
    return Status::AlreadyExists("the token already holds a key labelled \"" +
                                 std::string(label) + "\"");
  }
  CK_FUNCTION_LIST* f = module_->f;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_KEY_TYPE type = CKK_EC_EDWARDS;
  CK_MECHANISM mech = {CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  CK_RV rv = CKR_GENERAL_ERROR;
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  for (auto [params, size] : {std::pair{kEdParamsName, sizeof kEdParamsName},
                              std::pair{kEdParamsOid, sizeof kEdParamsOid}}) {
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_LABEL, Bytes(label), label.size()},
        {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_VERIFY, &yes, sizeof yes},
        {CKA_EC_PARAMS, const_cast<unsigned char*>(params), size},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_LABEL, Bytes(label), label.size()},
        {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_SIGN, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no},
    };
    rv = f->C_GenerateKeyPair(session_, &mech, pub_tmpl, std::size(pub_tmpl), priv_tmpl,
                              std::size(priv_tmpl), &pub, &priv);
    if (rv != CKR_ATTRIBUTE_VALUE_INVALID && rv != CKR_CURVE_NOT_SUPPORTED &&
        rv != CKR_DOMAIN_PARAMS_INVALID) {
      break;
    }
  }
  if (rv != CKR_OK) return Failed("generating an Ed25519 key pair", rv);
  return PublicKeyLocked(label);
}

Result<std::string> Pkcs11Token::Ed25519PublicKey(std::string_view label) {
  std::lock_guard lock(mu_);
  return PublicKeyLocked(label);
}

Result<std::string> Pkcs11Token::PublicKeyLocked(std::string_view label) {
  auto pub = FindKey(label, CKO_PUBLIC_KEY);
  if (!pub.ok()) return pub.status();
  unsigned char point[64];
  CK_ATTRIBUTE a = {CKA_EC_POINT, point, sizeof point};
  CK_RV rv = module_->f->C_GetAttributeValue(session_, *pub, &a, 1);
  if (rv != CKR_OK) return Failed("reading a public key", rv);
  // Either the raw 32 bytes or (as SoftHSM2 gives it) a DER OCTET STRING around them.
  if (a.ulValueLen == 32) return std::string(reinterpret_cast<char*>(point), 32);
  if (a.ulValueLen == 34 && point[0] == 0x04 && point[1] == 32) {
    return std::string(reinterpret_cast<char*>(point) + 2, 32);
  }
  return Status::DataLoss("the token's key \"" + std::string(label) + "\" is not an Ed25519 key");
}

Result<std::string> Pkcs11Token::SignEd25519(std::string_view label, std::string_view message) {
  std::lock_guard lock(mu_);
  auto priv = FindKey(label, CKO_PRIVATE_KEY);
  if (!priv.ok()) return priv.status();
  CK_MECHANISM mech = {CKM_EDDSA, nullptr, 0};
  CK_RV rv = module_->f->C_SignInit(session_, &mech, *priv);
  if (rv != CKR_OK) return Failed("starting a signature", rv);
  std::string sig(64, '\0');
  CK_ULONG size = sig.size();
  rv = module_->f->C_Sign(session_, Bytes(message), message.size(), Bytes(sig), &size);
  if (rv != CKR_OK) return Failed("signing", rv);
  if (size != 64) return Status::DataLoss("the token gave an Ed25519 signature of a wrong size");
  return sig;
}

Status Pkcs11Token::GenerateAesKey(std::string_view label) {
  std::lock_guard lock(mu_);
  if (FindKey(label, ~0UL).ok()) {
    return Status::AlreadyExists("the token already holds a key labelled \"" +
                                 std::string(label) + "\"");
  }
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG length = 32;
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof cls},
      {CKA_KEY_TYPE, &type, sizeof type},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_LABEL, Bytes(label), label.size()},
      {CKA_VALUE_LEN, &length, sizeof length},
      {CKA_ENCRYPT, &yes, sizeof yes},
      {CKA_DECRYPT, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
  };
  CK_MECHANISM mech = {CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE key = 0;
  CK_RV rv = module_->f->C_GenerateKey(session_, &mech, tmpl, std::size(tmpl), &key);
  if (rv != CKR_OK) return Failed("generating an AES key", rv);
  return Status::Ok();
}

Result<std::string> Pkcs11Token::Wrap(std::string_view label, std::string_view secret,
                                      std::string_view aad) {
  if (secret.size() > kMaxSecret) return Status::InvalidArgument("secret too long to wrap");
  std::lock_guard lock(mu_);
  auto key = FindKey(label, CKO_SECRET_KEY);
  if (!key.ok()) return key.status();
  CK_FUNCTION_LIST* f = module_->f;
  std::string out(kGcmIv + secret.size() + kGcmTag, '\0');
  CK_RV rv = f->C_GenerateRandom(session_, Bytes(out), kGcmIv);
  if (rv != CKR_OK) return Failed("drawing an IV", rv);
  CK_GCM_PARAMS gcm = {Bytes(out), kGcmIv, kGcmIv * 8, Bytes(aad), aad.size(), kGcmTag * 8};
  CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
  if ((rv = f->C_EncryptInit(session_, &mech, *key)) != CKR_OK) return Failed("wrapping", rv);
  CK_ULONG size = out.size() - kGcmIv;
  rv = f->C_Encrypt(session_, Bytes(secret), secret.size(), Bytes(out) + kGcmIv, &size);
  if (rv != CKR_OK) return Failed("wrapping", rv);
  if (size != secret.size() + kGcmTag) return Status::DataLoss("AES-GCM gave a wrong size");
  return out;
}

Result<std::string> Pkcs11Token::Unwrap(std::string_view label, std::string_view blob,
                                        std::string_view aad) {
  const Status failed = Status::DataLoss("a wrapped key does not open under the token's key \"" +
                                         std::string(label) + "\"");
  if (blob.size() < kGcmIv + kGcmTag || blob.size() > kMaxSecret + kGcmIv + kGcmTag) {
    return failed;
  }
  std::lock_guard lock(mu_);
  auto key = FindKey(label, CKO_SECRET_KEY);
  if (!key.ok()) return key.status();
  CK_FUNCTION_LIST* f = module_->f;
  std::string iv(blob.substr(0, kGcmIv));
  CK_GCM_PARAMS gcm = {Bytes(iv), kGcmIv, kGcmIv * 8, Bytes(aad), aad.size(), kGcmTag * 8};
  CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
  CK_RV rv = f->C_DecryptInit(session_, &mech, *key);
  if (rv != CKR_OK) return Failed("unwrapping", rv);
  std::string out(blob.size() - kGcmIv, '\0');
  CK_ULONG size = out.size();
  rv = f->C_Decrypt(session_, Bytes(blob) + kGcmIv, blob.size() - kGcmIv, Bytes(out), &size);
  // SoftHSM2 reports a failed GCM tag as CKR_GENERAL_ERROR, others as ENCRYPTED_DATA_INVALID.
  if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
      rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED) {
    return Status::DataLoss(failed.message() + " (" + Rv(rv) + ")");
  }
  if (rv != CKR_OK) return Failed("unwrapping", rv);
  out.resize(size);
  return out;
}

}  // namespace kakunin::crypto
