#include "auth/webauthn.h"

#include <cbor.h>
#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "core/bytes.h"
#include "text/json.h"

namespace kakunin::auth {
namespace {

// authenticatorData flags (WebAuthn §6.1).
constexpr uint8_t kFlagUserPresent = 0x01;
constexpr uint8_t kFlagUserVerified = 0x04;
constexpr uint8_t kFlagAttestedData = 0x40;
constexpr uint8_t kFlagExtensions = 0x80;

constexpr size_t kRpIdHashBytes = 32;
constexpr size_t kAuthDataFixedBytes = kRpIdHashBytes + 1 + 4;  // rpIdHash, flags, signCount
constexpr size_t kAaguidBytes = 16;
constexpr size_t kEs256KeyBytes = 64;
constexpr size_t kEdDsaKeyBytes = 32;
// fido_cred_verify{,_self} build the EdDSA message (authData || clientDataHash) in a 1024-byte
// stack buffer and fail with FIDO_ERR_INTERNAL beyond it.
constexpr size_t kMaxEdDsaSignedAuthDataBytes = 1024 - 32;
// Attestation objects nest map -> attStmt -> x5c -> certificate; COSE keys are flat.
constexpr size_t kMaxCborDepth = 8;

// RAII for the C handles (DESIGN §8).
struct FidoCredFree {
  void operator()(fido_cred_t* p) const { fido_cred_free(&p); }
};
struct FidoAssertFree {
  void operator()(fido_assert_t* p) const { fido_assert_free(&p); }
};
struct Es256PkFree {
  void operator()(es256_pk_t* p) const { es256_pk_free(&p); }
};
struct EddsaPkFree {
  void operator()(eddsa_pk_t* p) const { eddsa_pk_free(&p); }
};
struct CborItemFree {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};
struct MallocFree {
  void operator()(unsigned char* p) const { std::free(p); }
};
using FidoCred = std::unique_ptr<fido_cred_t, FidoCredFree>;
using FidoAssert = std::unique_ptr<fido_assert_t, FidoAssertFree>;
using Es256Pk = std::unique_ptr<es256_pk_t, Es256PkFree>;
using EddsaPk = std::unique_ptr<eddsa_pk_t, EddsaPkFree>;
using CborItem = std::unique_ptr<cbor_item_t, CborItemFree>;
using MallocBuffer = std::unique_ptr<unsigned char, MallocFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Status Denied(const char* what) {
  return Status::PermissionDenied(std::string("webauthn: ") + what);
}
Status Malformed(const char* what) {
  return Status::InvalidArgument(std::string("webauthn: ") + what);
}

std::optional<std::string> Sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 EVP_sha256(), nullptr) != 1 ||
      len != out.size()) {
    return std::nullopt;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CBOR

// libcbor 0.8 allocates (and zeroes) an array of the *declared* length before reading any
// element: five bytes declaring 2^28 elements cost 2 GiB and seconds. So every CBOR input is
// first walked here, without allocating: the first data item of `in` must be well-formed
// (RFC 8949), use definite lengths only, carry no tags, nest at most kMaxCborDepth deep and
// declare no more elements or bytes than remain in the input. Returns its size in bytes.
std::optional<size_t> CheckCborShape(std::string_view in) {
  std::array<uint64_t, kMaxCborDepth + 1> pending{};  // items still to read, per depth
  size_t depth = 0;
  size_t pos = 0;
  pending[0] = 1;
  while (true) {
    while (pending[depth] == 0) {
      if (depth == 0) return pos;
      --depth;
    }
    --pending[depth];
    if (pos >= in.size()) return std::nullopt;
    const auto initial = static_cast<uint8_t>(in[pos++]);
    const int major = initial >> 5;
    const int info = initial & 0x1f;
    uint64_t arg = 0;
    if (info < 24) {
      arg = static_cast<uint64_t>(info);
    } else if (info <= 27) {
      const size_t n = size_t{1} << (info - 24);
      if (in.size() - pos < n) return std::nullopt;
      for (size_t i = 0; i < n; ++i) arg = arg << 8 | static_cast<uint8_t>(in[pos + i]);
      pos += n;
    } else {
      return std::nullopt;  // 28-30 reserved, 31 indefinite length
    }
    const size_t remaining = in.size() - pos;
    switch (major) {
      case 0:  // unsigned integer
      case 1:  // negative integer
        break;
      case 2:  // byte string
      case 3:  // text string
        if (arg > remaining) return std::nullopt;
        pos += static_cast<size_t>(arg);
        break;
      case 4:    // array: every element takes at least one byte
      case 5: {  // map: every key and value takes at least one byte
        const uint64_t elements = major == 4 ? 1 : 2;
        if (arg > remaining / elements) return std::nullopt;
        if (arg == 0) break;
        if (depth == kMaxCborDepth) return std::nullopt;
        pending[++depth] = arg * elements;
        break;
      }
      case 6:  // tag: WebAuthn structures carry none
        return std::nullopt;
      default:  // 7: simple values and floats (the argument bytes were the payload)
        if (info == 24 && arg < 32) return std::nullopt;  // not well-formed (RFC 8949 §3.3)
        break;
    }
  }
}

// Loads `bytes` as exactly one CBOR item, after CheckCborShape.
Result<CborItem> LoadCbor(std::string_view bytes, const char* what) {
  const std::optional<size_t> size = CheckCborShape(bytes);
  if (!size.has_value() || *size != bytes.size()) {
    return Status::InvalidArgument(std::string("webauthn: ") + what + " is not well-formed CBOR");
  }
  cbor_load_result result{};
  CborItem item(cbor_load(Bytes(bytes), bytes.size(), &result));
  if (item == nullptr || result.error.code != CBOR_ERR_NONE || result.read != bytes.size()) {
    return Status::InvalidArgument(std::string("webauthn: ") + what + " is not well-formed CBOR");
  }
  return item;
}

std::optional<int64_t> CborInt(const cbor_item_t* item) {
  if (item == nullptr) return std::nullopt;
  const bool negative = cbor_isa_negint(item);
  if (!negative && !cbor_isa_uint(item)) return std::nullopt;
  const uint64_t v = cbor_get_int(item);
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return negative ? -1 - static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

std::optional<std::string_view> CborBytes(const cbor_item_t* item) {
  if (item == nullptr || !cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item))
    return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(cbor_bytestring_handle(item)),
                          cbor_bytestring_length(item));
}

std::optional<std::string_view> CborText(const cbor_item_t* item) {
  if (item == nullptr || !cbor_isa_string(item) || !cbor_string_is_definite(item))
    return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(cbor_string_handle(item)),
                          cbor_string_length(item));
}

// Looks up the values of text keys `names` in `map` (nullptr where absent). Other text keys
// are ignored; a non-text key or a repeated key makes the map malformed.
template <size_t N>
bool FindTextKeys(const cbor_item_t* map, const std::array<std::string_view, N>& names,
                  std::array<const cbor_item_t*, N>* values) {
  values->fill(nullptr);
  if (!cbor_isa_map(map) || !cbor_map_is_definite(map)) return false;
  const cbor_pair* pairs = cbor_map_handle(map);
  const size_t n = cbor_map_size(map);
  for (size_t i = 0; i < n; ++i) {
    const std::optional<std::string_view> key = CborText(pairs[i].key);
    if (!key.has_value()) return false;
    for (size_t j = i + 1; j < n; ++j) {
      if (CborText(pairs[j].key) == key) return false;
    }
    for (size_t k = 0; k < N; ++k) {
      if (*key == names[k]) (*values)[k] = pairs[i].value;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// COSE keys (RFC 9053; WebAuthn §6.5.1.1)

struct CoseKey {
  int alg = 0;
  std::string raw;  // ES256 x||y, EdDSA x
};

Result<CoseKey> ParseCoseKey(std::string_view bytes) {
  Result<CborItem> loaded = LoadCbor(bytes, "credential public key");
  if (!loaded.ok()) return loaded.status();
  const cbor_item_t* map = loaded->get();
  if (!cbor_isa_map(map) || !cbor_map_is_definite(map)) {
    return Malformed("credential public key is not a COSE key");
  }
  // Labels: 1 kty, 3 alg, -1 crv, -2 x, -3 y.
  constexpr std::array<int64_t, 5> kLabels = {1, 3, -1, -2, -3};
  std::array<const cbor_item_t*, 5> v{};
  const cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i) {
    const std::optional<int64_t> label = CborInt(pairs[i].key);
    if (!label.has_value()) continue;  // text labels are allowed and unused
    for (size_t k = 0; k < kLabels.size(); ++k) {
      if (*label != kLabels[k]) continue;
      if (v[k] != nullptr) return Malformed("credential public key repeats a label");
      v[k] = pairs[i].value;
    }
  }
  const std::optional<int64_t> kty = CborInt(v[0]), alg = CborInt(v[1]), crv = CborInt(v[2]);
  const std::optional<std::string_view> x = CborBytes(v[3]), y = CborBytes(v[4]);
  if (!alg.has_value()) return Malformed("credential public key has no algorithm");
  CoseKey key;
  if (*alg == kCoseEs256) {
    if (kty != 2 || crv != 1 || !x.has_value() || !y.has_value() || x->size() != 32 ||
        y->size() != 32) {
      return Malformed("ES256 credential public key is not a P-256 EC2 key");
    }
    key.raw.append(*x).append(*y);
  } else if (*alg == kCoseEdDsa) {
    if (kty != 1 || crv != 6 || !x.has_value() || x->size() != kEdDsaKeyBytes || v[4] != nullptr) {
      return Malformed("EdDSA credential public key is not an Ed25519 OKP key");
    }
    key.raw.assign(*x);
  } else {
    return Denied("unsupported credential algorithm");
  }
  key.alg = static_cast<int>(*alg);
  return key;
}

// Checks that `raw` is a usable public key for `alg` by loading it into libfido2.
bool PublicKeyIsValid(int alg, std::string_view raw) {
  if (alg == kCoseEs256) {
    Es256Pk pk(es256_pk_new());
    return pk != nullptr && raw.size() == kEs256KeyBytes &&
           es256_pk_from_ptr(pk.get(), raw.data(), raw.size()) == FIDO_OK;
  }
  if (alg == kCoseEdDsa) {
    EddsaPk pk(eddsa_pk_new());
    return pk != nullptr && raw.size() == kEdDsaKeyBytes &&
           eddsa_pk_from_ptr(pk.get(), raw.data(), raw.size()) == FIDO_OK;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// clientDataJSON (WebAuthn §5.8.1)

struct ClientData {
  std::string type;
  std::string challenge;  // base64url, as sent
  std::string origin;
  bool cross_origin = false;
};

Result<ClientData> ParseClientData(std::string_view json) {
  if (json.size() > kMaxClientDataJsonBytes) return Malformed("clientDataJSON is too large");
  text::JsonLimits limits;
  limits.max_bytes = kMaxClientDataJsonBytes;
  limits.max_depth = 8;
  Result<text::JsonValue> parsed = text::ParseJson(json, limits);
  if (!parsed.ok()) return Malformed("clientDataJSON is not valid JSON");
  if (!parsed->is_object()) return Malformed("clientDataJSON is not an object");
  ClientData cd;
  bool seen_type = false, seen_challenge = false, seen_origin = false, seen_cross = false;
  for (const auto& [key, value] : parsed->members()) {
    std::string* target = nullptr;
    bool* seen = nullptr;
    if (key == "type") {
      target = &cd.type, seen = &seen_type;
    } else if (key == "challenge") {
      target = &cd.challenge, seen = &seen_challenge;
    } else if (key == "origin") {
      target = &cd.origin, seen = &seen_origin;
    } else if (key == "crossOrigin") {
      if (seen_cross) return Malformed("clientDataJSON repeats crossOrigin");
      seen_cross = true;
      if (value.type() != text::JsonValue::Type::kBool) {
        return Malformed("clientDataJSON crossOrigin is not a boolean");
      }
      cd.cross_origin = value.bool_value();
      continue;
    } else {
      continue;  // tokenBinding, topOrigin, future members
    }
    if (*seen) return Malformed("clientDataJSON repeats a member");
    *seen = true;
    if (!value.is_string() || !value.well_formed()) {
      return Malformed("clientDataJSON member is not a well-formed string");
    }
    *target = value.text();
  }
  if (!seen_type || !seen_challenge || !seen_origin) {
    return Malformed("clientDataJSON lacks type, challenge or origin");
  }
  return cd;
}

Status CheckClientData(const ClientData& cd, std::string_view expected_type, const RelyingParty& rp,
                       std::string_view expected_challenge) {
  if (cd.type != expected_type) return Denied("clientDataJSON type is not the expected ceremony");
  const std::optional<std::string> challenge = Base64UrlDecode(cd.challenge);
  if (!challenge.has_value() || !ConstantTimeEquals(*challenge, expected_challenge)) {
    return Denied("challenge does not match");
  }
  if (cd.origin != rp.origin) return Denied("origin does not match");
  if (cd.cross_origin) return Denied("cross-origin request");
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// authenticatorData (WebAuthn §6.1)

struct AuthData {
  uint8_t flags = 0;
  uint32_t sign_count = 0;
  std::string_view credential_id;  // registration only
  std::string_view cose_key;       // registration only
  int cred_protect = 0;            // registration only: the credProtect output, 0 if none
};

// Parses `raw` and checks rpIdHash, UP, UV and the absence of extensions. With
// `attested`, attested credential data must be present and fill the rest; without, it must
// be absent and `raw` exactly 37 bytes.
Result<AuthData> ParseAndCheckAuthData(std::string_view raw, const RelyingParty& rp,
                                       bool attested) {
  if (raw.size() > kMaxAuthenticatorDataBytes) {
    return Malformed("authenticator data is too large");
  }
  if (raw.size() < kAuthDataFixedBytes) return Malformed("authenticator data is too short");
  AuthData ad;
  const std::optional<std::string> rp_id_hash = Sha256(rp.id);
  if (!rp_id_hash.has_value()) return Status::Internal("webauthn: SHA-256 failed");
  if (!ConstantTimeEquals(raw.substr(0, kRpIdHashBytes), *rp_id_hash)) {
    return Denied("rp id hash does not match");
  }
  ad.flags = static_cast<uint8_t>(raw[kRpIdHashBytes]);
  for (size_t i = 0; i < 4; ++i) {
    ad.sign_count = ad.sign_count << 8 | static_cast<uint8_t>(raw[kRpIdHashBytes + 1 + i]);
  }
  if ((ad.flags & kFlagUserPresent) == 0) return Denied("user not present");
  if ((ad.flags & kFlagUserVerified) == 0) return Denied("user not verified");
  // No extensions are requested. Browsers may add credProtect on their own when they create a
  // discoverable credential, so that one output is accepted at registration (below).
  const bool has_extensions = (ad.flags & kFlagExtensions) != 0;
  if (has_extensions && !attested) return Denied("unexpected extensions");
  std::string_view rest = raw.substr(kAuthDataFixedBytes);
  if (!attested) {
    if ((ad.flags & kFlagAttestedData) != 0) {
      return Malformed("assertion carries attested credential data");
    }
    if (!rest.empty()) return Malformed("authenticator data has trailing bytes");
    return ad;
  }
  if ((ad.flags & kFlagAttestedData) == 0) return Malformed("no attested credential data");
  if (rest.size() < kAaguidBytes + 2) return Malformed("attested credential data is truncated");
  rest.remove_prefix(kAaguidBytes);
  const size_t id_len =
      static_cast<size_t>(static_cast<uint8_t>(rest[0])) << 8 | static_cast<uint8_t>(rest[1]);
  rest.remove_prefix(2);
  if (id_len == 0 || id_len > kMaxCredentialIdBytes || id_len > rest.size()) {
    return Malformed("credential id length is out of range");
  }
  ad.credential_id = rest.substr(0, id_len);
  rest.remove_prefix(id_len);
  const std::optional<size_t> key_len = CheckCborShape(rest);
  if (!key_len.has_value()) return Malformed("credential public key is not well-formed CBOR");
  ad.cose_key = rest.substr(0, *key_len);
  rest.remove_prefix(*key_len);
  if (!has_extensions) {
    if (!rest.empty()) return Malformed("authenticator data has trailing bytes");
    return ad;
  }
  Result<CborItem> extensions = LoadCbor(rest, "authenticator extension outputs");
  if (!extensions.ok()) return extensions.status();
  std::array<const cbor_item_t*, 1> v{};
  if (!FindTextKeys(extensions->get(), std::array<std::string_view, 1>{"credProtect"}, &v)) {
    return Malformed("authenticator extension outputs are malformed");
  }
  const std::optional<int64_t> prot = CborInt(v[0]);
  if (cbor_map_size(extensions->get()) != 1 || !prot.has_value()) {
    return Denied("unexpected extensions");
  }
  if (*prot < FIDO_CRED_PROT_UV_OPTIONAL || *prot > FIDO_CRED_PROT_UV_REQUIRED) {
    return Malformed("credProtect output is out of range");
  }
  ad.cred_protect = static_cast<int>(*prot);
  return ad;
}

Status CheckRelyingParty(const RelyingParty& rp) {
  if (rp.id.empty() || rp.id.find('\0') != std::string::npos || rp.origin.empty()) {
    return Status::InvalidArgument("webauthn: relying party id or origin is not valid");
  }
  return Status::Ok();
}

Status CheckChallengeSize(std::string_view expected_challenge) {
  if (expected_challenge.size() < kMinChallengeBytes ||
      expected_challenge.size() > kMaxChallengeBytes) {
    return Status::InvalidArgument("webauthn: expected challenge has a bad size");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Attestation statements (WebAuthn §8.2 packed, §8.7 none)

struct Attestation {
  std::string fmt;
  const cbor_item_t* att_stmt = nullptr;  // owned by the attestation object's item
  std::string_view auth_data;             // points into the attestation object's item
};

Result<Attestation> ParseAttestationObject(const cbor_item_t* root) {
  std::array<const cbor_item_t*, 3> v{};
  if (!FindTextKeys(root, std::array<std::string_view, 3>{"fmt", "attStmt", "authData"}, &v)) {
    return Malformed("attestation object is not a map with text keys");
  }
  const std::optional<std::string_view> fmt = CborText(v[0]);
  const std::optional<std::string_view> auth_data = CborBytes(v[2]);
  if (!fmt.has_value() || v[1] == nullptr || !cbor_isa_map(v[1]) || !auth_data.has_value()) {
    return Malformed("attestation object lacks fmt, attStmt or authData");
  }
  Attestation att;
  att.fmt.assign(*fmt);
  att.att_stmt = v[1];
  att.auth_data = *auth_data;
  return att;
}

// Verifies a "packed" statement through libfido2: self attestation (no x5c; signed by the
// credential key itself, whose algorithm it must name) or x5c (signed by the key of the first
// certificate; the chain is not validated).
Status VerifyPacked(const cbor_item_t* att_stmt, int credential_alg, fido_cred_t* cred,
                    size_t auth_data_size) {
  std::array<const cbor_item_t*, 3> v{};
  if (!FindTextKeys(att_stmt, std::array<std::string_view, 3>{"alg", "sig", "x5c"}, &v)) {
    return Malformed("packed attestation statement is malformed");
  }
  const std::optional<int64_t> alg = CborInt(v[0]);
  const std::optional<std::string_view> sig = CborBytes(v[1]);
  if (!alg.has_value() || !sig.has_value() || sig->empty() || sig->size() > kMaxSignatureBytes) {
    return Malformed("packed attestation statement lacks alg or sig");
  }
  const bool has_x5c = v[2] != nullptr;
  if (has_x5c) {
    if (!cbor_isa_array(v[2]) || cbor_array_size(v[2]) == 0) {
      return Malformed("packed attestation x5c is not a list of certificates");
    }
    cbor_item_t** certs = cbor_array_handle(v[2]);
    for (size_t i = 0; i < cbor_array_size(v[2]); ++i) {
      const std::optional<std::string_view> der = CborBytes(certs[i]);
      if (!der.has_value() || der->empty()) {
        return Malformed("packed attestation x5c is not a list of certificates");
      }
    }
    if (*alg != kCoseEs256 && *alg != kCoseEdDsa) {
      return Denied("unsupported attestation algorithm");
    }
  } else if (*alg != credential_alg) {
    return Denied("attestation algorithm does not match the credential");
  }
  if (*alg == kCoseEdDsa && auth_data_size > kMaxEdDsaSignedAuthDataBytes) {
    return Malformed("authenticator data is too large for an EdDSA attestation");
  }
  unsigned char* raw = nullptr;
  size_t raw_capacity = 0;
  const size_t raw_size = cbor_serialize_alloc(att_stmt, &raw, &raw_capacity);
  const MallocBuffer serialized(raw);
  if (raw_size == 0 || serialized == nullptr) {
    return Status::Internal("webauthn: cannot serialise the attestation statement");
  }
  if (fido_cred_set_fmt(cred, "packed") != FIDO_OK ||
      fido_cred_set_attstmt(cred, serialized.get(), raw_size) != FIDO_OK) {
    return Malformed("packed attestation statement is malformed");
  }
  const int r = has_x5c ? fido_cred_verify(cred) : fido_cred_verify_self(cred);
  if (r == FIDO_ERR_INVALID_SIG) return Denied("bad attestation signature");
  if (r != FIDO_OK) return Denied("attestation did not verify");
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Result<StoredCredential> VerifyRegistration(const RelyingParty& rp,
                                            std::string_view expected_challenge,
                                            std::string_view client_data_json,
                                            std::string_view attestation_object) {
  KAKUNIN_RETURN_IF_ERROR(CheckRelyingParty(rp));
  KAKUNIN_RETURN_IF_ERROR(CheckChallengeSize(expected_challenge));
  if (attestation_object.size() > kMaxAttestationObjectBytes) {
    return Malformed("attestation object is too large");
  }
  Result<ClientData> cd = ParseClientData(client_data_json);
  if (!cd.ok()) return cd.status();
  KAKUNIN_RETURN_IF_ERROR(CheckClientData(*cd, "webauthn.create", rp, expected_challenge));

  Result<CborItem> root = LoadCbor(attestation_object, "attestation object");
  if (!root.ok()) return root.status();
  Result<Attestation> att = ParseAttestationObject(root->get());
  if (!att.ok()) return att.status();
  Result<AuthData> ad = ParseAndCheckAuthData(att->auth_data, rp, /*attested=*/true);
  if (!ad.ok()) return ad.status();
  Result<CoseKey> key = ParseCoseKey(ad->cose_key);
  if (!key.ok()) return key.status();
  if (att->fmt != "none" && att->fmt != "packed") {
    return Denied("unsupported attestation format");
  }

  // libfido2 parses the authenticator data again (set_type first: it picks the COSE parser)
  // and checks rpIdHash, UP and UV itself.
  FidoCred cred(fido_cred_new());
  if (cred == nullptr) return Status::Internal("webauthn: out of memory");
  if (fido_cred_set_type(cred.get(), key->alg) != FIDO_OK ||
      fido_cred_set_rp(cred.get(), rp.id.c_str(), nullptr) != FIDO_OK ||
      fido_cred_set_clientdata(cred.get(), Bytes(client_data_json), client_data_json.size()) !=
          FIDO_OK ||
      fido_cred_set_uv(cred.get(), FIDO_OPT_TRUE) != FIDO_OK) {
    return Status::Internal("webauthn: cannot set up libfido2");
  }
  // libfido2 requires the extension outputs to equal the requested set exactly, so mirror them.
  if (ad->cred_protect != 0 && fido_cred_set_prot(cred.get(), ad->cred_protect) != FIDO_OK) {
    return Status::Internal("webauthn: cannot set up libfido2");
  }
  if (fido_cred_set_authdata_raw(cred.get(), Bytes(att->auth_data), att->auth_data.size()) !=
      FIDO_OK) {
    return Malformed("authenticator data was rejected by libfido2");
  }
  if (att->fmt == "none") {
    // Nothing is signed (fido_cred_verify would say "unknown fmt"); the statement must be empty.
    if (cbor_map_size(att->att_stmt) != 0) {
      return Malformed("none attestation statement is not empty");
    }
  } else {
    KAKUNIN_RETURN_IF_ERROR(
        VerifyPacked(att->att_stmt, key->alg, cred.get(), att->auth_data.size()));
  }

  StoredCredential out;
  out.alg = key->alg;
  out.sign_count = ad->sign_count;
  const unsigned char* id = fido_cred_id_ptr(cred.get());
  const unsigned char* pk = fido_cred_pubkey_ptr(cred.get());
  if (id == nullptr || pk == nullptr) return Status::Internal("webauthn: libfido2 lost the key");
  out.credential_id.assign(reinterpret_cast<const char*>(id), fido_cred_id_len(cred.get()));
  out.public_key.assign(reinterpret_cast<const char*>(pk), fido_cred_pubkey_len(cred.get()));
  // Our parse and libfido2's must agree; a disagreement is a parser bug on one side.
  if (out.credential_id != ad->credential_id || out.public_key != key->raw) {
    return Status::Internal("webauthn: libfido2 and our parser disagree on the credential");
  }
  if (!PublicKeyIsValid(out.alg, out.public_key)) {
    return Malformed("credential public key is not a valid key");
  }
  return out;
}

Result<uint32_t> VerifyAssertion(const RelyingParty& rp, std::string_view expected_challenge,
                                 const StoredCredential& credential,
                                 std::string_view client_data_json,
                                 std::string_view authenticator_data, std::string_view signature) {
  KAKUNIN_RETURN_IF_ERROR(CheckRelyingParty(rp));
  KAKUNIN_RETURN_IF_ERROR(CheckChallengeSize(expected_challenge));
  if (signature.empty() || signature.size() > kMaxSignatureBytes) {
    return Malformed("signature size is out of range");
  }
  Result<ClientData> cd = ParseClientData(client_data_json);
  if (!cd.ok()) return cd.status();
  KAKUNIN_RETURN_IF_ERROR(CheckClientData(*cd, "webauthn.get", rp, expected_challenge));
  Result<AuthData> ad = ParseAndCheckAuthData(authenticator_data, rp, /*attested=*/false);
  if (!ad.ok()) return ad.status();

  Es256Pk es256;
  EddsaPk eddsa;
  const void* pk = nullptr;
  if (credential.alg == kCoseEs256 && credential.public_key.size() == kEs256KeyBytes) {
    es256.reset(es256_pk_new());
    if (es256 != nullptr && es256_pk_from_ptr(es256.get(), credential.public_key.data(),
                                              credential.public_key.size()) == FIDO_OK) {
      pk = es256.get();
    }
  } else if (credential.alg == kCoseEdDsa && credential.public_key.size() == kEdDsaKeyBytes) {
    eddsa.reset(eddsa_pk_new());
    if (eddsa != nullptr && eddsa_pk_from_ptr(eddsa.get(), credential.public_key.data(),
                                              credential.public_key.size()) == FIDO_OK) {
      pk = eddsa.get();
    }
  }
  if (pk == nullptr) return Malformed("stored credential is not valid");

  FidoAssert assertion(fido_assert_new());
  if (assertion == nullptr) return Status::Internal("webauthn: out of memory");
  if (fido_assert_set_count(assertion.get(), 1) != FIDO_OK ||
      fido_assert_set_rp(assertion.get(), rp.id.c_str()) != FIDO_OK ||
      fido_assert_set_clientdata(assertion.get(), Bytes(client_data_json),
                                 client_data_json.size()) != FIDO_OK ||
      fido_assert_set_up(assertion.get(), FIDO_OPT_TRUE) != FIDO_OK ||
      fido_assert_set_uv(assertion.get(), FIDO_OPT_TRUE) != FIDO_OK) {
    return Status::Internal("webauthn: cannot set up libfido2");
  }
  if (fido_assert_set_authdata_raw(assertion.get(), 0, Bytes(authenticator_data),
                                   authenticator_data.size()) != FIDO_OK) {
    return Malformed("authenticator data was rejected by libfido2");
  }
  if (fido_assert_set_sig(assertion.get(), 0, Bytes(signature), signature.size()) != FIDO_OK) {
    return Malformed("signature was rejected by libfido2");
  }
  const int r = fido_assert_verify(assertion.get(), 0, credential.alg, pk);
  if (r == FIDO_ERR_INVALID_SIG) return Denied("bad signature");
  if (r != FIDO_OK) return Denied("assertion did not verify");

  // Only a signed counter means anything, so this comes after the signature.
  const uint32_t stored = credential.sign_count;
  const uint32_t now = ad->sign_count;
  if ((stored != 0 || now != 0) && now <= stored) return Denied("sign counter did not increase");
  return now;
}

Result<std::string> NewChallenge() {
  std::string out(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) != 1) {
    return Status::Internal("webauthn: no randomness for a challenge");
  }
  return out;
}

namespace {
constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}
}  // namespace

std::string Base64UrlEncode(std::string_view raw) {
  std::string out;
  out.reserve((raw.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(raw[i])) << 16 |
                       static_cast<uint32_t>(static_cast<uint8_t>(raw[i + 1])) << 8 |
                       static_cast<uint8_t>(raw[i + 2]);
    out.push_back(kBase64UrlAlphabet[v >> 18]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
    out.push_back(kBase64UrlAlphabet[v & 63]);
  }
  const size_t left = raw.size() - i;
  if (left == 1) {
    const uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(raw[i])) << 16;
    out.push_back(kBase64UrlAlphabet[v >> 18]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
  } else if (left == 2) {
    const uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(raw[i])) << 16 |
                       static_cast<uint32_t>(static_cast<uint8_t>(raw[i + 1])) << 8;
    out.push_back(kBase64UrlAlphabet[v >> 18]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = Base64UrlValue(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6 | static_cast<uint32_t>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Unused trailing bits must be zero, so that every byte string has one encoding.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace kakunin::auth
