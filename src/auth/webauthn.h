#pragma once

// Server-side WebAuthn (operators' biometric second factor), verified with libfido2 and libcbor.
//
// The browser runs navigator.credentials.create (registration) and .get (assertion); the caller
// base64url-decodes what the browser sends and passes the raw bytes here. These functions do
// the relying party's checks that libfido2 leaves to us (clientDataJSON type, one-time
// challenge, exact origin, the sign counter) and let libfido2 check the rest (RP id hash,
// flags, signatures).
//
// Policy: user verification is REQUIRED (UP and UV set: the biometric); only ES256 (-7) and
// EdDSA (-8) credentials; attestation formats "none" and "packed" (self attestation, or x5c
// whose chain is NOT validated: attestation is accepted but not trusted); no extensions are
// requested, and the only extension output accepted is credProtect at registration (Chromium
// adds it by itself for discoverable credentials).
//
// Errors: kPermissionDenied when a check fails, with a message naming the check
// ("webauthn: origin does not match"); kInvalidArgument for malformed or oversized input.
// Messages never contain input bytes. Every input is untrusted: no input crashes, and CBOR is
// checked for shape (depth, lengths against the bytes present) before libcbor allocates.
//
// Thread safety: all functions are thread-safe (no shared mutable state).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace kakunin::auth {

// COSE algorithm identifiers this module accepts.
inline constexpr int kCoseEs256 = -7;
inline constexpr int kCoseEdDsa = -8;

// Size limits on inputs; larger inputs are kInvalidArgument.
inline constexpr size_t kMaxClientDataJsonBytes = 16 * 1024;
inline constexpr size_t kMaxAttestationObjectBytes = 16 * 1024;
inline constexpr size_t kMaxAuthenticatorDataBytes = 16 * 1024;
inline constexpr size_t kMaxSignatureBytes = 512;
// WebAuthn §6.5.1: credentialIdLength is at most 1023.
inline constexpr size_t kMaxCredentialIdBytes = 1023;
// Expected challenges are between these sizes (NewChallenge makes 32 bytes).
inline constexpr size_t kMinChallengeBytes = 16;
inline constexpr size_t kMaxChallengeBytes = 64;

struct RelyingParty {
  // RP id, e.g. "localhost". REQUIRES: non-empty, no NUL byte.
  std::string id;
  // The exact expected origin, e.g. "https://localhost:8444" (compared byte for byte).
  std::string origin;
};

// What to store after a registration, and to pass back for each assertion.
struct StoredCredential {
  std::string credential_id;  // raw bytes
  int alg = 0;                // kCoseEs256 or kCoseEdDsa
  std::string public_key;     // raw: ES256 64 bytes x||y, EdDSA 32 bytes
  uint32_t sign_count = 0;    // 0: the authenticator keeps no counter

  bool operator==(const StoredCredential&) const = default;
};

// Verifies navigator.credentials.create output: `client_data_json` and `attestation_object`
// are the raw (base64url-decoded) bytes; `expected_challenge` the raw challenge this server
// issued for this ceremony (the caller makes it single-use).
// Checks: clientData type "webauthn.create", challenge (constant time), origin exact, no
// crossOrigin; rpIdHash == SHA-256(rp.id); UP and UV set; attested credential data present
// and no extension output but credProtect; algorithm ES256 or EdDSA with a valid public key; fmt
// "none" (key extracted, nothing to verify) or "packed" (signature verified). Returns the
// credential to store.
[[nodiscard]] Result<StoredCredential> VerifyRegistration(const RelyingParty& rp,
                                                          std::string_view expected_challenge,
                                                          std::string_view client_data_json,
                                                          std::string_view attestation_object);

// Verifies navigator.credentials.get output against `credential` (looked up by the caller
// from the credential id the browser returned). Checks: clientData type "webauthn.get",
// challenge, origin, no crossOrigin; rpIdHash; UP and UV; no attested data or extensions; the
// signature over authenticatorData || SHA-256(clientDataJSON) with the stored key; then the
// sign counter (WebAuthn §7.2 step 21): if either the stored or the new count is non-zero, the
// new one must be greater, otherwise the authenticator may have been cloned.
// Returns the new sign count, to store.
[[nodiscard]] Result<uint32_t> VerifyAssertion(const RelyingParty& rp,
                                               std::string_view expected_challenge,
                                               const StoredCredential& credential,
                                               std::string_view client_data_json,
                                               std::string_view authenticator_data,
                                               std::string_view signature);

// 32 random bytes from OpenSSL's CSPRNG, for a challenge. kInternal if the system cannot
// supply randomness.
[[nodiscard]] Result<std::string> NewChallenge();

// base64url (RFC 4648 §5) without padding.
std::string Base64UrlEncode(std::string_view raw);
// Strict: the alphabet A-Z a-z 0-9 - _ only, no padding, no whitespace, a length that
// encodes whole bytes (not 1 mod 4), and zero unused trailing bits (so each byte string has
// exactly one encoding). nullopt otherwise.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace kakunin::auth
