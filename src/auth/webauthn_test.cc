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

#include "support/webauthn_testing.h"

namespace kakunin::auth {
namespace {

using namespace kakunin::auth::soft;  // NOLINT: the test vocabulary

RelyingParty Rp() { return RelyingParty{kRpId, kOrigin}; }

std::string Challenge(char fill = 'c') { return std::string(32, fill); }

void ExpectDenied(const Status& s, std::string_view message) {
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_EQ(s.message(), message);
}
// Malformed input: kInvalidArgument, and the message names the check that fired (a failure
// from another check would mean the intended one was never reached).
void ExpectMalformed(const Status& s, std::string_view message) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.message(), message);
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
  ExpectMalformed(Register(o), "webauthn: credProtect output is out of range");
}

TEST_F(RegistrationTest, RejectsExtensionsFlagWithoutOutputs) {
  Options o;
  o.flags = kUp | kUv | kAt | kEd;
  ExpectMalformed(Register(o), "webauthn: authenticator extension outputs is not well-formed CBOR");
}

TEST_F(RegistrationTest, RejectsOutputsWithoutExtensionsFlag) {
  Options o;
  o.extensions = ExtensionOutputs("credProtect", Int(2));
  ExpectMalformed(Register(o),
                  "webauthn: authenticator data has trailing bytes");  // trailing bytes
}

TEST_F(RegistrationTest, RejectsMissingAttestedCredentialData) {
  Options o;
  o.flags = kUp | kUv;
  ExpectMalformed(Register(o), "webauthn: no attested credential data");
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
      VerifyRegistration(Rp(), Challenge(), r.client_data, r.attestation_object).status(),
      "webauthn: credential public key is not a valid key");
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
      VerifyRegistration(Rp(), Challenge(), r.client_data, Serialize(obj.get())).status(),
      "webauthn: none attestation statement is not empty");
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
  const std::string cbor = "webauthn: attestation object is not well-formed CBOR";
  const std::vector<std::string> why = {
      cbor,
      cbor,
      cbor,
      cbor,
      cbor,
      "webauthn: attestation object lacks fmt, attStmt or authData",
      "webauthn: attestation object is not a map with text keys",
      cbor,
      cbor,
      cbor,
      cbor,
      cbor,
      cbor,
  };
  ASSERT_EQ(bad.size(), why.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string& b = bad[i];
    const auto start = std::chrono::steady_clock::now();
    ExpectMalformed(VerifyRegistration(Rp(), Challenge(), r.client_data, b).status(), why[i]);
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
      VerifyRegistration(Rp(), Challenge(), r.client_data, Serialize(obj.get())).status(),
      "webauthn: attestation object is not a map with text keys");
}

TEST_F(RegistrationTest, RejectsTrailingBytesInAuthenticatorData) {
  Registration r = auth_.Create(Challenge());
  Cbor obj(cbor_new_definite_map(3));
  Put(obj.get(), Text("fmt"), Text("none"));
  Put(obj.get(), Text("attStmt"), cbor_new_definite_map(0));
  Put(obj.get(), Text("authData"), ByteString(r.auth_data + std::string(1, '\0')));
  ExpectMalformed(
      VerifyRegistration(Rp(), Challenge(), r.client_data, Serialize(obj.get())).status(),
      "webauthn: authenticator data has trailing bytes");
}

TEST_F(RegistrationTest, RejectsOversizedInputs) {
  const Registration r = auth_.Create(Challenge());
  std::string big_cd = r.client_data;
  big_cd.insert(1, R"("pad":")" + std::string(kMaxClientDataJsonBytes, 'a') + R"(",)");
  ExpectMalformed(VerifyRegistration(Rp(), Challenge(), big_cd, r.attestation_object).status(),
                  "webauthn: clientDataJSON is too large");
  ExpectMalformed(VerifyRegistration(Rp(), Challenge(), r.client_data,
                                     std::string(kMaxAttestationObjectBytes + 1, '\xa0'))
                      .status(),
                  "webauthn: attestation object is too large");
  ExpectMalformed(VerifyRegistration(Rp(), "short", r.client_data, r.attestation_object).status(),
                  "webauthn: expected challenge has a bad size");
}

TEST_F(RegistrationTest, RejectsBadRelyingParty) {
  const Registration r = auth_.Create(Challenge());
  ExpectMalformed(VerifyRegistration(RelyingParty{"", kOrigin}, Challenge(), r.client_data,
                                     r.attestation_object)
                      .status(),
                  "webauthn: relying party id or origin is not valid");
  ExpectMalformed(VerifyRegistration(RelyingParty{std::string("local\0host", 10), kOrigin},
                                     Challenge(), r.client_data, r.attestation_object)
                      .status(),
                  "webauthn: relying party id or origin is not valid");
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
  const std::vector<std::string> why = {
      "webauthn: clientDataJSON is not valid JSON",
      "webauthn: clientDataJSON is not valid JSON",
      "webauthn: clientDataJSON is not an object",
      "webauthn: clientDataJSON lacks type, challenge or origin",
      "webauthn: clientDataJSON repeats a member",
      "webauthn: clientDataJSON member is not a well-formed string",
      "webauthn: clientDataJSON crossOrigin is not a boolean",
      "webauthn: clientDataJSON is not valid JSON",
      "webauthn: clientDataJSON member is not a well-formed string",
  };
  ASSERT_EQ(bad.size(), why.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string& cd = bad[i];
    ExpectMalformed(VerifyRegistration(Rp(), Challenge(), cd, r.attestation_object).status(),
                    why[i]);
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
  ExpectMalformed(Check(o), "webauthn: assertion carries attested credential data");
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
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string(), "webauthn: authenticator data is too short"},
      {a.auth_data.substr(0, 36), "webauthn: authenticator data is too short"},
      {a.auth_data + "x", "webauthn: authenticator data has trailing bytes"},
      {std::string(kMaxAuthenticatorDataBytes + 1, '\0'),
       "webauthn: authenticator data is too large"},
  };
  for (const auto& [ad, why] : cases) {
    ExpectMalformed(
        VerifyAssertion(Rp(), Challenge('g'), credential_, a.client_data, ad, a.signature).status(),
        why);
  }
}

TEST_F(AssertionTest, RejectsBadSignatureSizes) {
  const Assertion a = auth_.Get(Challenge('g'));
  for (const std::string& sig : {std::string(), std::string(kMaxSignatureBytes + 1, '\x30')}) {
    ExpectMalformed(
        VerifyAssertion(Rp(), Challenge('g'), credential_, a.client_data, a.auth_data, sig)
            .status(),
        "webauthn: signature size is out of range");
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
  ExpectMalformed(Verify(c, a).status(), "webauthn: stored credential is not valid");
  c = credential_;
  c.public_key.pop_back();
  ExpectMalformed(Verify(c, a).status(), "webauthn: stored credential is not valid");
  c = credential_;
  c.alg = kCoseEdDsa;  // a 64-byte key is not Ed25519
  ExpectMalformed(Verify(c, a).status(), "webauthn: stored credential is not valid");
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
