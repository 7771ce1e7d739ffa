#pragma once

// Test support: a software WebAuthn authenticator (OpenSSL keys, libcbor encoding) standing in
// for the browser, for the WebAuthn unit tests and the console's integration tests. Link
// libcbor, OpenSSL and GoogleTest.

#include <cbor.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "auth/webauthn.h"

namespace kakunin::auth::soft {

inline constexpr char kRpId[] = "localhost";
inline constexpr char kOrigin[] = "https://localhost:8444";

inline constexpr uint8_t kUp = 0x01;
inline constexpr uint8_t kUv = 0x04;
inline constexpr uint8_t kAt = 0x40;
inline constexpr uint8_t kEd = 0x80;

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

inline std::string Sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                       EVP_sha256(), nullptr),
            1);
  return out;
}

inline std::string Serialize(const cbor_item_t* item) {
  unsigned char* buf = nullptr;
  size_t capacity = 0;
  const size_t n = cbor_serialize_alloc(item, &buf, &capacity);
  std::string out(reinterpret_cast<const char*>(buf), n);
  std::free(buf);
  return out;
}

// Integers in the shortest form (CTAP2 canonical CBOR; libfido2 rejects wider encodings).
inline cbor_item_t* Int(int64_t v) {
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
inline cbor_item_t* ByteString(std::string_view s) {
  return cbor_build_bytestring(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}
inline cbor_item_t* Text(std::string_view s) { return cbor_build_stringn(s.data(), s.size()); }
inline void Put(cbor_item_t* map, cbor_item_t* key, cbor_item_t* value) {
  ASSERT_TRUE(cbor_map_add(map, cbor_pair{cbor_move(key), cbor_move(value)}));
}

inline Pkey NewKey(int alg) {
  return Pkey(alg == kCoseEs256 ? EVP_EC_gen("P-256")
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
}

// ES256: DER ECDSA over SHA-256(message); EdDSA: Ed25519 over message.
inline std::string Sign(EVP_PKEY* key, int alg, std::string_view message) {
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
inline std::string RawPublicKey(EVP_PKEY* key, int alg) {
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

inline std::string CoseKey(int alg, std::string_view raw) {
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
inline std::string SelfSignedCert(EVP_PKEY* key) {
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

inline std::string ClientDataJson(std::string_view type, std::string_view challenge,
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
  // Credential ids are unique in a store: tests that enrol several authenticators name them.
  void set_credential_id(std::string id) { credential_id_ = std::move(id); }

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

}  // namespace kakunin::auth::soft
