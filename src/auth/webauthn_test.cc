#include "auth/webauthn.h"

#include <cbor.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kakunin::auth {
namespace {

constexpr char kRpId[] = "localhost";
constexpr char kOrigin[] = "https://localhost:8444";

constexpr uint8_t kUp = 0x01;
constexpr uint8_t kUv = 0x04;
constexpr uint8_t kAt = 0x40;
constexpr uint8_t kEd = 0x80;

// ---------------------------------------------------------------------------------------------
// A software authenticator (OpenSSL keys, libcbor encoding), standing in for the browser.

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct CborFree {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cbor = std::unique_ptr<cbor_item_t, CborFree>;

std::string Sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                       EVP_sha256(), nullptr),
            1);
  return out;
}

std::string Serialize(const cbor_item_t* item) {
  unsigned char* buf = nullptr;
  size_t capacity = 0;
  const size_t n = cbor_serialize_alloc(item, &buf, &capacity);
  std::string out(reinterpret_cast<const char*>(buf), n);
  std::free(buf);
  return out;
}

// Integers in the shortest form (CTAP2 canonical CBOR; libfido2 rejects wider encodings).
cbor_item_t* Int(int64_t v) {
  const uint64_t u = v >= 0 ? static_cast<uint64_t>(v) : static_cast<uint64_t>(-1 - v);
  if (u <= 0xff) {
    const auto n = static_cast<uint8_t>(u);
    return v >= 0 ? cbor_build_uint8(n) : cbor_build_negint8(n);
  }
  if (u <= 0xffff) {
    const auto n = static_cast<uint16_t>(u);
    return v >= 0 ? cbor_build_uint16(n) : cbor_build_negint16(n);
  }
  return v >= 0 ? cbor_build_uint64(u) : cbor_build_negint64(u);
}
cbor_item_t* ByteString(std::string_view s) {
  return cbor_build_bytestring(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}
cbor_item_t* Text(std::string_view s) { return cbor_build_stringn(s.data(), s.size()); }
void Put(cbor_item_t* map, cbor_item_t* key, cbor_item_t* value) {
  ASSERT_TRUE(cbor_map_add(map, cbor_pair{cbor_move(key), cbor_move(value)}));
}

Pkey NewKey(int alg) {
  return Pkey(alg == kCoseEs256 ? EVP_EC_gen("P-256")
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
}

// ES256: DER ECDSA over SHA-256(message); EdDSA: Ed25519 over message.
std::string Sign(EVP_PKEY* key, int alg, std::string_view message) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, alg == kCoseEs256 ? EVP_sha256() : nullptr,
                               nullptr, key),
            1);
  size_t len = 0;
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, msg, message.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, msg,
                           message.size()),
            1);
  sig.resize(len);
  return sig;
}

// ES256 x||y (64 bytes) or the Ed25519 key (32 bytes).
std::string RawPublicKey(EVP_PKEY* key, int alg) {
  unsigned char buf[65];
  size_t len = 0;
  if (alg == kCoseEs256) {
    EXPECT_EQ(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len),
              1);
    EXPECT_EQ(len, 65u);
    EXPECT_EQ(buf[0], 0x04);  // uncompressed
    return std::string(reinterpret_cast<const char*>(buf) + 1, 64);
  }
  len = sizeof buf;
  EXPECT_EQ(EVP_PKEY_get_raw_public_key(key, buf, &len), 1);
  return std::string(reinterpret_cast<const char*>(buf), len);
}

std::string CoseKey(int alg, std::string_view raw) {
  Cbor map(cbor_new_definite_map(alg == kCoseEs256 ? 5 : 4));
  if (alg == kCoseEs256) {
    Put(map.get(), Int(1), Int(2));   // kty EC2
    Put(map.get(), Int(3), Int(-7));  // alg ES256
    Put(map.get(), Int(-1), Int(1));  // crv P-256
    Put(map.get(), Int(-2), ByteString(raw.substr(0, 32)));
    Put(map.get(), Int(-3), ByteString(raw.substr(32)));
  } else {
    Put(map.get(), Int(1), Int(1));   // kty OKP
    Put(map.get(), Int(3), Int(-8));  // alg EdDSA
    Put(map.get(), Int(-1), Int(6));  // crv Ed25519
    Put(map.get(), Int(-2), ByteString(raw));
  }
  return Serialize(map.get());
}

// A self-signed certificate for `key` (an "attestation CA" nobody trusts).
std::string SelfSignedCert(EVP_PKEY* key) {
  std::unique_ptr<X509, X509Free> cert(X509_new());
  EXPECT_EQ(X509_set_version(cert.get(), 2), 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("soft attestation"), -1, -1, 0);
  EXPECT_EQ(X509_set_issuer_name(cert.get(), name), 1);
  EXPECT_EQ(X509_set_pubkey(cert.get(), key), 1);
  EXPECT_GT(X509_sign(cert.get(), key, EVP_sha256()), 0);
  const int len = i2d_X509(cert.get(), nullptr);
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  EXPECT_EQ(i2d_X509(cert.get(), &p), len);
  return der;
}

std::string ClientDataJson(std::string_view type, std::string_view challenge,
                           std::string_view origin) {
  return R"({"type":")" + std::string(type) + R"(","challenge":")" + Base64UrlEncode(challenge) +
         R"(","origin":")" + std::string(origin) + R"(","crossOrigin":false})";
}

struct Options {
  std::string type;  // "" = the ceremony's own
  std::string origin = kOrigin;
  std::string rp_id = kRpId;
  int flags = -1;  // -1 = the ceremony's default
  std::string fmt = "none";
  bool x5c = false;
  std::string extensions;               // CBOR map appended to the authenticator data (set kEd too)
  EVP_PKEY* attestation_key = nullptr;  // packed: signer other than the credential key
};

struct Registration {
  std::string client_data;
  std::string attestation_object;
  std::string auth_data;
};

struct Assertion {
  std::string client_data;
  std::string auth_data;
  std::string signature;
};

class SoftAuthenticator {
 public:
  explicit SoftAuthenticator(int alg) : alg_(alg), key_(NewKey(alg)) {
    credential_id_ = "cred-" + std::to_string(alg) + "-0123456789abcdef";
  }

  int alg() const { return alg_; }
  EVP_PKEY* key() const { return key_.get(); }
  const std::string& credential_id() const { return credential_id_; }
  std::string public_key() const { return RawPublicKey(key_.get(), alg_); }
  void set_counter(uint32_t counter) { counter_ = counter; }

  std::string AuthData(std::string_view rp_id, uint8_t flags, bool attested,
                       std::string_view cose_key_override = {},
                       std::string_view extensions = {}) const {
    std::string ad = Sha256(rp_id);
    ad.push_back(static_cast<char>(flags));
    for (int shift = 24; shift >= 0; shift -= 8) {
      ad.push_back(static_cast<char>((counter_ >> shift) & 0xff));
    }
    if (attested) {
      ad.append(16, '\x42');  // AAGUID
      ad.push_back(static_cast<char>(credential_id_.size() >> 8));
      ad.push_back(static_cast<char>(credential_id_.size() & 0xff));
      ad.append(credential_id_);
      ad.append(cose_key_override.empty() ? CoseKey(alg_, public_key()) : cose_key_override);
    }
    ad.append(extensions);
    return ad;
  }

  Registration Create(std::string_view challenge, const Options& o = {},
                      std::string_view cose_key_override = {}) const {
    Registration r;
    r.client_data =
        ClientDataJson(o.type.empty() ? "webauthn.create" : o.type, challenge, o.origin);
    const uint8_t flags = o.flags < 0 ? kUp | kUv | kAt : static_cast<uint8_t>(o.flags);
    r.auth_data = AuthData(o.rp_id, flags, (flags & kAt) != 0, cose_key_override, o.extensions);
    Cbor stmt(cbor_new_definite_map(o.fmt == "packed" ? (o.x5c ? 3 : 2) : 0));
    if (o.fmt == "packed") {
      EVP_PKEY* signer = o.attestation_key != nullptr ? o.attestation_key : key_.get();
      const int signer_alg = EVP_PKEY_id(signer) == EVP_PKEY_ED25519 ? kCoseEdDsa : kCoseEs256;
      Put(stmt.get(), Text("alg"), Int(signer_alg));
      Put(stmt.get(), Text("sig"),
          ByteString(Sign(signer, signer_alg, r.auth_data + Sha256(r.client_data))));
      if (o.x5c) {
        Cbor certs(cbor_new_definite_array(1));
        EXPECT_TRUE(cbor_array_push(certs.get(), cbor_move(ByteString(SelfSignedCert(signer)))));
        Put(stmt.get(), Text("x5c"), certs.release());
      }
    }
    Cbor obj(cbor_new_definite_map(3));
    Put(obj.get(), Text("fmt"), Text(o.fmt));
    Put(obj.get(), Text("attStmt"), stmt.release());
    Put(obj.get(), Text("authData"), ByteString(r.auth_data));
    r.attestation_object = Serialize(obj.get());
    return r;
  }

  Assertion Get(std::string_view challenge, const Options& o = {}) const {
    Assertion a;
    a.client_data = ClientDataJson(o.type.empty() ? "webauthn.get" : o.type, challenge, o.origin);
    const uint8_t flags = o.flags < 0 ? kUp | kUv : static_cast<uint8_t>(o.flags);
    a.auth_data = AuthData(o.rp_id, flags, /*attested=*/false);
    a.signature = Sign(key_.get(), alg_, a.auth_data + Sha256(a.client_data));
    return a;
  }

 private:
  int alg_;
  Pkey key_;
  std::string credential_id_;
  uint32_t counter_ = 0;
};

RelyingParty Rp() { return RelyingParty{kRpId, kOrigin}; }

std::string Challenge(char fill = 'c') { return std::string(32, fill); }

void ExpectDenied(const Status& s, std::string_view message) {
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_EQ(s.message(), message);
}
void ExpectMalformed(const Status& s) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

// Registers `auth` (fmt "none") and returns what the server stores.
StoredCredential Enroll(const SoftAuthenticator& auth) {
  const Registration r = auth.Create(Challenge());
  Result<StoredCredential> c =
      VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : StoredCredential{};
}

Result<uint32_t> Verify(const StoredCredential& c, const Assertion& a,
                        std::string_view challenge = {}) {
  return VerifyAssertion(Rp(), challenge.empty() ? Challenge('g') : challenge, c, a.client_data,
                         a.auth_data, a.signature);
}

// ---------------------------------------------------------------------------------------------
// Success paths

class WebAuthnAlgTest : public testing::TestWithParam<int> {};

TEST_P(WebAuthnAlgTest, RegistersWithNoneAttestation) {
  SoftAuthenticator auth(GetParam());
  auth.set_counter(7);
  const Registration r = auth.Create(Challenge());
  Result<StoredCredential> c =
      VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->credential_id, auth.credential_id());
  EXPECT_EQ(c->alg, GetParam());
  EXPECT_EQ(c->public_key, auth.public_key());
  EXPECT_EQ(c->public_key.size(), GetParam() == kCoseEs256 ? 64u : 32u);
  EXPECT_EQ(c->sign_count, 7u);
}

TEST_P(WebAuthnAlgTest, RegistersWithPackedSelfAttestation) {
  SoftAuthenticator auth(GetParam());
  Options o;
  o.fmt = "packed";
  const Registration r = auth.Create(Challenge(), o);
  Result<StoredCredential> c =
      VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->public_key, auth.public_key());
}

TEST_P(WebAuthnAlgTest, RegistersWithPackedX5cAttestation) {
  SoftAuthenticator auth(GetParam());
  Pkey attestation_key = NewKey(kCoseEs256);
  Options o;
  o.fmt = "packed";
  o.x5c = true;
  o.attestation_key = attestation_key.get();
  const Registration r = auth.Create(Challenge(), o);
  Result<StoredCredential> c =
      VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->public_key, auth.public_key());
}

TEST_P(WebAuthnAlgTest, AssertsAndReturnsTheNewCount) {
  SoftAuthenticator auth(GetParam());
  auth.set_counter(1);
  StoredCredential c = Enroll(auth);
  for (uint32_t count : {2u, 3u, 1000u}) {
    auth.set_counter(count);
    Result<uint32_t> n = Verify(c, auth.Get(Challenge('g')));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, count);
    c.sign_count = *n;
  }
}

TEST_P(WebAuthnAlgTest, AcceptsAnAuthenticatorWithoutCounter) {
  SoftAuthenticator auth(GetParam());  // counter stays 0
  const StoredCredential c = Enroll(auth);
  for (int i = 0; i < 2; ++i) {
    Result<uint32_t> n = Verify(c, auth.Get(Challenge('g')));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, 0u);
  }
}

TEST_P(WebAuthnAlgTest, RejectsTamperedSignature) {
  SoftAuthenticator auth(GetParam());
  const StoredCredential c = Enroll(auth);
  Assertion a = auth.Get(Challenge('g'));
  a.signature[a.signature.size() / 2] ^= 0x01;
  ExpectDenied(Verify(c, a).status(), "webauthn: bad signature");
}

TEST_P(WebAuthnAlgTest, RejectsTamperedAuthenticatorData) {
  SoftAuthenticator auth(GetParam());
  const StoredCredential c = Enroll(auth);
  Assertion a = auth.Get(Challenge('g'));
  a.auth_data[36] ^= 0x05;  // the counter's low byte, after signing
  ExpectDenied(Verify(c, a).status(), "webauthn: bad signature");
}

TEST_P(WebAuthnAlgTest, RejectsTamperedClientData) {
  SoftAuthenticator auth(GetParam());
  const StoredCredential c = Enroll(auth);
  Assertion a = auth.Get(Challenge('g'));
  a.client_data.insert(a.client_data.size() - 1, R"(,"extra":1)");  // after signing
  ExpectDenied(Verify(c, a).status(), "webauthn: bad signature");
}

TEST_P(WebAuthnAlgTest, RejectsAssertionByAnotherKey) {
  SoftAuthenticator enrolled(GetParam());
  SoftAuthenticator other(GetParam());
  const StoredCredential c = Enroll(enrolled);
  ExpectDenied(Verify(c, other.Get(Challenge('g'))).status(), "webauthn: bad signature");
}

TEST_P(WebAuthnAlgTest, RejectsPackedAttestationSignedByAnotherKey) {
  SoftAuthenticator auth(GetParam());
  Pkey other = NewKey(GetParam());
  Options o;
  o.fmt = "packed";
  o.attestation_key = other.get();
  const Registration r = auth.Create(Challenge(), o);
  ExpectDenied(VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object).status(),
               "webauthn: bad attestation signature");
}

TEST_P(WebAuthnAlgTest, RejectsTamperedPackedAttestation) {
  SoftAuthenticator auth(GetParam());
  Options o;
  o.fmt = "packed";
  Registration r = auth.Create(Challenge(), o);
  // Flip one bit inside the signed authenticator data (the AAGUID) in the serialised object.
  const size_t at = r.attestation_object.find(r.auth_data);
  ASSERT_NE(at, std::string::npos);
  r.attestation_object[at + 37 + 3] ^= 0x01;
  ExpectDenied(VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object).status(),
               "webauthn: bad attestation signature");
}

INSTANTIATE_TEST_SUITE_P(Algs, WebAuthnAlgTest, testing::Values(kCoseEs256, kCoseEdDsa),
                         [](const testing::TestParamInfo<int>& info) {
                           return info.param == kCoseEs256 ? std::string("ES256")
                                                           : std::string("EdDSA");
                         });

// ---------------------------------------------------------------------------------------------
// Registration failures

class RegistrationTest : public testing::Test {
 protected:
  Status Register(const Options& o, std::string_view expected = {}) {
    const Registration r = auth_.Create(Challenge(), o);
    return VerifyRegistration(Rp(), expected.empty() ? Challenge() : expected, r.client_data,
                              r.attestation_object)
        .status();
  }
  SoftAuthenticator auth_{kCoseEs256};
};

TEST_F(RegistrationTest, RejectsWrongOrigin) {
  Options o;
  o.origin = "https://localhost:8445";
  ExpectDenied(Register(o), "webauthn: origin does not match");
  o.origin = "http://localhost:8444";
  ExpectDenied(Register(o), "webauthn: origin does not match");
}

TEST_F(RegistrationTest, RejectsOtherRpId) {
  Options o;
  o.rp_id = "evil.example";
  ExpectDenied(Register(o), "webauthn: rp id hash does not match");
}

TEST_F(RegistrationTest, RejectsOtherChallenge) {
  ExpectDenied(Register(Options{}, Challenge('x')), "webauthn: challenge does not match");
}

TEST_F(RegistrationTest, RejectsGetType) {
  Options o;
  o.type = "webauthn.get";
  ExpectDenied(Register(o), "webauthn: clientDataJSON type is not the expected ceremony");
}

TEST_F(RegistrationTest, RejectsUserNotVerified) {
  Options o;
  o.flags = kUp | kAt;
  ExpectDenied(Register(o), "webauthn: user not verified");
}

TEST_F(RegistrationTest, RejectsUserNotPresent) {
  Options o;
  o.flags = kUv | kAt;
  ExpectDenied(Register(o), "webauthn: user not present");
}

std::string ExtensionOutputs(std::string_view name, cbor_item_t* value) {
  Cbor map(cbor_new_definite_map(1));
  Put(map.get(), Text(name), value);
  return Serialize(map.get());
}

TEST_F(RegistrationTest, AcceptsCredProtectOutput) {
  // Chromium asks for credProtect on its own for discoverable credentials.
  for (const char* fmt : {"none", "packed"}) {
    Options o;
    o.fmt = fmt;
    o.flags = kUp | kUv | kAt | kEd;
    o.extensions = ExtensionOutputs("credProtect", Int(2));
    EXPECT_TRUE(Register(o).ok()) << fmt << ": " << Register(o).ToString();
  }
}

TEST_F(RegistrationTest, RejectsOtherExtensionOutputs) {
  Options o;
  o.fmt = "packed";
  o.flags = kUp | kUv | kAt | kEd;
  o.extensions = ExtensionOutputs("hmac-secret", cbor_build_bool(true));
  ExpectDenied(Register(o), "webauthn: unexpected extensions");
  o.extensions = ExtensionOutputs("credProtect", Int(9));
  ExpectMalformed(Register(o));
}

TEST_F(RegistrationTest, RejectsExtensionsFlagWithoutOutputs) {
  Options o;
  o.flags = kUp | kUv | kAt | kEd;
  ExpectMalformed(Register(o));
}

TEST_F(RegistrationTest, RejectsOutputsWithoutExtensionsFlag) {
  Options o;
  o.extensions = ExtensionOutputs("credProtect", Int(2));
  ExpectMalformed(Register(o));  // trailing bytes
}

TEST_F(RegistrationTest, RejectsMissingAttestedCredentialData) {
  Options o;
  o.flags = kUp | kUv;
  ExpectMalformed(Register(o));
}

TEST_F(RegistrationTest, RejectsUnsupportedFormat) {
  Options o;
  o.fmt = "fido-u2f";
  ExpectDenied(Register(o), "webauthn: unsupported attestation format");
}

TEST_F(RegistrationTest, RejectsCrossOrigin) {
  const Registration r = auth_.Create(Challenge());
  std::string cd = r.client_data;
  cd.replace(cd.find("false"), 5, "true");
  ExpectDenied(VerifyRegistration(Rp(), Challenge(), cd, r.attestation_object).status(),
               "webauthn: cross-origin request");
}

TEST_F(RegistrationTest, RejectsSelfAttestationNamingAnotherAlgorithm) {
  SoftAuthenticator ed(kCoseEdDsa);
  Options o;
  o.fmt = "packed";
  o.attestation_key = auth_.key();  // an ES256 signature over an EdDSA credential
  const Registration r = ed.Create(Challenge(), o);
  ExpectDenied(VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object).status(),
               "webauthn: attestation algorithm does not match the credential");
}

TEST_F(RegistrationTest, RejectsUnsupportedAlgorithm) {
  Cbor map(cbor_new_definite_map(4));
  Put(map.get(), Int(1), Int(3));     // kty RSA
  Put(map.get(), Int(3), Int(-257));  // RS256
  Put(map.get(), Int(-1), ByteString(std::string(256, '\x01')));
  Put(map.get(), Int(-2), ByteString("\x01\x00\x01"));
  const Registration r = auth_.Create(Challenge(), Options{}, Serialize(map.get()));
  ExpectDenied(VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object).status(),
               "webauthn: unsupported credential algorithm");
}

TEST_F(RegistrationTest, RejectsPointNotOnTheCurve) {
  std::string raw = auth_.public_key();
  raw[63] ^= 0x01;
  const Registration r = auth_.Create(Challenge(), Options{}, CoseKey(kCoseEs256, raw));
  ExpectMalformed(
      VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object).status());
}

TEST_F(RegistrationTest, RejectsNonEmptyNoneStatement) {
  Registration r = auth_.Create(Challenge());
  Cbor stmt(cbor_new_definite_map(1));
  Put(stmt.get(), Text("sig"), ByteString("x"));
  Cbor obj(cbor_new_definite_map(3));
  Put(obj.get(), Text("fmt"), Text("none"));
  Put(obj.get(), Text("attStmt"), stmt.release());
  Put(obj.get(), Text("authData"), ByteString(r.auth_data));
  ExpectMalformed(
      VerifyRegistration(Rp(), Challenge(), r.client_data, Serialize(obj.get())).status());
}

TEST_F(RegistrationTest, RejectsMalformedAttestationObjects) {
  const Registration r = auth_.Create(Challenge());
  const std::string& obj = r.attestation_object;
  const std::vector<std::string> bad = {
      "",
      "\xff",
      "garbage",
      obj.substr(0, obj.size() - 1),           // truncated
      obj + '\0',                              // trailing byte
      "\xa0",                                  // empty map
      "\x80",                                  // an array
      std::string("\x9a\x10\x00\x00\x00", 5),  // declares 2^28 elements: libcbor would take 2 GiB
      std::string("\xba\x08\x00\x00\x00", 5),  // a map declaring 2^27 pairs
      std::string("\x5a\xff\xff\xff\xff", 5),  // a 4 GiB byte string
      std::string(40, '\x81') + '\x00',        // nested too deep
      std::string("\xbf\xff", 2),              // indefinite-length map
      std::string("\xc2\x41\x00", 3),          // tagged
  };
  for (const std::string& b : bad) {
    const auto start = std::chrono::steady_clock::now();
    ExpectMalformed(VerifyRegistration(Rp(), Challenge(), r.client_data, b).status());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  }
}

TEST_F(RegistrationTest, RejectsAttestationObjectWithDuplicateKey) {
  const Registration r = auth_.Create(Challenge());
  Cbor obj(cbor_new_definite_map(4));
  Put(obj.get(), Text("fmt"), Text("none"));
  Put(obj.get(), Text("attStmt"), cbor_new_definite_map(0));
  Put(obj.get(), Text("authData"), ByteString(r.auth_data));
  Put(obj.get(), Text("fmt"), Text("packed"));
  ExpectMalformed(
      VerifyRegistration(Rp(), Challenge(), r.client_data, Serialize(obj.get())).status());
}

TEST_F(RegistrationTest, RejectsTrailingBytesInAuthenticatorData) {
  Registration r = auth_.Create(Challenge());
  Cbor obj(cbor_new_definite_map(3));
  Put(obj.get(), Text("fmt"), Text("none"));
  Put(obj.get(), Text("attStmt"), cbor_new_definite_map(0));
  Put(obj.get(), Text("authData"), ByteString(r.auth_data + std::string(1, '\0')));
  ExpectMalformed(
      VerifyRegistration(Rp(), Challenge(), r.client_data, Serialize(obj.get())).status());
}

TEST_F(RegistrationTest, RejectsOversizedInputs) {
  const Registration r = auth_.Create(Challenge());
  std::string big_cd = r.client_data;
  big_cd.insert(1, R"("pad":")" + std::string(kMaxClientDataJsonBytes, 'a') + R"(",)");
  ExpectMalformed(VerifyRegistration(Rp(), Challenge(), big_cd, r.attestation_object).status());
  ExpectMalformed(VerifyRegistration(Rp(), Challenge(), r.client_data,
                                     std::string(kMaxAttestationObjectBytes + 1, '\xa0'))
                      .status());
  ExpectMalformed(VerifyRegistration(Rp(), "short", r.client_data, r.attestation_object).status());
}

TEST_F(RegistrationTest, RejectsBadRelyingParty) {
  const Registration r = auth_.Create(Challenge());
  ExpectMalformed(VerifyRegistration(RelyingParty{"", kOrigin}, Challenge(), r.client_data,
                                     r.attestation_object)
                      .status());
  ExpectMalformed(VerifyRegistration(RelyingParty{std::string("local\0host", 10), kOrigin},
                                     Challenge(), r.client_data, r.attestation_object)
                      .status());
}

TEST(ClientDataTest, RejectsMalformedClientDataJson) {
  SoftAuthenticator auth(kCoseEs256);
  const Registration r = auth.Create(Challenge());
  const std::string c = Base64UrlEncode(Challenge());
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[]",
      R"({"type":"webauthn.create","challenge":")" + c + "\"}",  // no origin
      R"({"type":"webauthn.create","type":"webauthn.create","challenge":")" + c +
          R"(","origin":"https://localhost:8444"})",  // repeated member
      R"({"type":1,"challenge":")" + c + R"(","origin":"https://localhost:8444"})",
      R"({"type":"webauthn.create","challenge":")" + c +
          R"(","origin":"https://localhost:8444","crossOrigin":"no"})",
      R"({"type":"webauthn.create","challenge":")" + c + R"(","origin":"https://localhost:8444")",
      "{\"type\":\"webauthn.create\",\"challenge\":\"" + c +
          "\",\"origin\":\"https://localhost:8444\xff\"}",  // not UTF-8
  };
  for (const std::string& cd : bad) {
    ExpectMalformed(VerifyRegistration(Rp(), Challenge(), cd, r.attestation_object).status());
  }
}

TEST(ClientDataTest, RejectsChallengeThatIsNotBase64Url) {
  SoftAuthenticator auth(kCoseEs256);
  const Registration r = auth.Create(Challenge());
  std::string cd = r.client_data;
  const std::string c = Base64UrlEncode(Challenge());
  cd.replace(cd.find(c), c.size(), c + "=");
  ExpectDenied(VerifyRegistration(Rp(), Challenge(), cd, r.attestation_object).status(),
               "webauthn: challenge does not match");
}

// ---------------------------------------------------------------------------------------------
// Assertion failures

class AssertionTest : public testing::Test {
 protected:
  void SetUp() override {
    auth_.set_counter(10);
    credential_ = Enroll(auth_);
    auth_.set_counter(11);
  }
  Status Check(const Options& o, std::string_view expected = {}) {
    return Verify(credential_, auth_.Get(Challenge('g'), o), expected).status();
  }
  SoftAuthenticator auth_{kCoseEs256};
  StoredCredential credential_;
};

TEST_F(AssertionTest, Succeeds) { EXPECT_TRUE(Check(Options{}).ok()); }

TEST_F(AssertionTest, RejectsWrongOrigin) {
  Options o;
  o.origin = "https://evil.example";
  ExpectDenied(Check(o), "webauthn: origin does not match");
}

TEST_F(AssertionTest, RejectsOtherRpId) {
  Options o;
  o.rp_id = "localhost.evil.example";
  ExpectDenied(Check(o), "webauthn: rp id hash does not match");
}

TEST_F(AssertionTest, RejectsReplayedChallenge) {
  // The registration ceremony's challenge, replayed in a later login.
  ExpectDenied(Verify(credential_, auth_.Get(Challenge('c')), Challenge('g')).status(),
               "webauthn: challenge does not match");
}

TEST_F(AssertionTest, RejectsCreateType) {
  Options o;
  o.type = "webauthn.create";
  ExpectDenied(Check(o), "webauthn: clientDataJSON type is not the expected ceremony");
}

TEST_F(AssertionTest, RejectsUserNotVerified) {
  Options o;
  o.flags = kUp;
  ExpectDenied(Check(o), "webauthn: user not verified");
}

TEST_F(AssertionTest, RejectsUserNotPresent) {
  Options o;
  o.flags = kUv;
  ExpectDenied(Check(o), "webauthn: user not present");
}

TEST_F(AssertionTest, RejectsAttestedDataOrExtensions) {
  Options o;
  o.flags = kUp | kUv | kAt;
  ExpectMalformed(Check(o));
  o.flags = kUp | kUv | kEd;
  ExpectDenied(Check(o), "webauthn: unexpected extensions");
}

TEST_F(AssertionTest, RejectsSignCounterRegression) {
  auth_.set_counter(9);
  ExpectDenied(Check(Options{}), "webauthn: sign counter did not increase");
}

TEST_F(AssertionTest, RejectsEqualSignCounter) {
  auth_.set_counter(10);
  ExpectDenied(Check(Options{}), "webauthn: sign counter did not increase");
}

TEST_F(AssertionTest, RejectsSignCounterDroppingToZero) {
  auth_.set_counter(0);
  ExpectDenied(Check(Options{}), "webauthn: sign counter did not increase");
}

TEST_F(AssertionTest, RejectsMalformedAuthenticatorData) {
  const Assertion a = auth_.Get(Challenge('g'));
  for (const std::string& ad : {std::string(), a.auth_data.substr(0, 36), a.auth_data + "x",
                                std::string(kMaxAuthenticatorDataBytes + 1, '\0')}) {
    const Status s =
        VerifyAssertion(Rp(), Challenge('g'), credential_, a.client_data, ad, a.signature).status();
    EXPECT_NE(s.code(), StatusCode::kOk);
    EXPECT_TRUE(s.code() == StatusCode::kInvalidArgument ||
                s.code() == StatusCode::kPermissionDenied)
        << s.ToString();
  }
}

TEST_F(AssertionTest, RejectsBadSignatureSizes) {
  const Assertion a = auth_.Get(Challenge('g'));
  for (const std::string& sig : {std::string(), std::string(kMaxSignatureBytes + 1, '\x30')}) {
    ExpectMalformed(
        VerifyAssertion(Rp(), Challenge('g'), credential_, a.client_data, a.auth_data, sig)
            .status());
  }
  // Not DER at all: a signature that cannot verify.
  ExpectDenied(VerifyAssertion(Rp(), Challenge('g'), credential_, a.client_data, a.auth_data,
                               "not a signature")
                   .status(),
               "webauthn: bad signature");
}

TEST_F(AssertionTest, RejectsInvalidStoredCredential) {
  const Assertion a = auth_.Get(Challenge('g'));
  StoredCredential c = credential_;
  c.alg = -257;
  ExpectMalformed(Verify(c, a).status());
  c = credential_;
  c.public_key.pop_back();
  ExpectMalformed(Verify(c, a).status());
  c = credential_;
  c.alg = kCoseEdDsa;  // a 64-byte key is not Ed25519
  ExpectMalformed(Verify(c, a).status());
}

TEST_F(AssertionTest, RejectsCredentialOfAnotherAlgorithm) {
  SoftAuthenticator ed(kCoseEdDsa);
  const StoredCredential c = Enroll(ed);
  ExpectDenied(Verify(c, auth_.Get(Challenge('g'))).status(), "webauthn: bad signature");
}

// ---------------------------------------------------------------------------------------------
// Helpers

TEST(Base64UrlTest, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff\xbf"), "-_-_");
}

TEST(Base64UrlTest, RoundTripsEveryLength) {
  std::string raw;
  for (int i = 0; i < 70; ++i) {
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(raw)), raw);
    raw.push_back(static_cast<char>(i * 37 + 11));
  }
}

TEST(Base64UrlTest, RejectsNonCanonicalInput) {
  for (std::string_view bad :
       {"Zg==", "Zg=", "Zm9v\n", " Zm9v", "Zm+v", "Zm/v", "Z", "Zm9vY", "Zh", "Zm9", "Zm8A!"}) {
    EXPECT_EQ(Base64UrlDecode(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(Base64UrlDecode("Zm8"), "fo");
  EXPECT_EQ(Base64UrlDecode(std::string_view("Zg\0", 3)), std::nullopt);
}

TEST(ChallengeTest, IsThirtyTwoFreshBytes) {
  Result<std::string> a = NewChallenge();
  Result<std::string> b = NewChallenge();
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

}  // namespace
}  // namespace kakunin::auth
