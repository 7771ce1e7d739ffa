// Fuzzes the WebAuthn verifiers with browser-supplied bytes: the attestationObject (CBOR, the
// COSE key inside authenticatorData), both clientDataJSONs, the assertion's authenticatorData
// and signature. Nothing may crash or take long; an accepted registration must yield a
// credential of a supported algorithm, and an accepted assertion a greater counter.
//
// Input: five fields, each a 2-byte big-endian length and its bytes, then the rest:
//   challenge, create clientDataJSON, attestationObject, get clientDataJSON, authenticatorData,
//   signature (the rest).
// The assertion is checked against the registered credential when registration succeeds
// (so seeds made by one software authenticator reach the signature check), else against a
// fixed credential.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/webauthn.h"

namespace {

std::string_view Take(std::string_view* in) {
  if (in->size() < 2) {
    std::string_view all = *in;
    in->remove_prefix(in->size());
    return all;
  }
  size_t n =
      static_cast<size_t>(static_cast<uint8_t>((*in)[0])) << 8 | static_cast<uint8_t>((*in)[1]);
  in->remove_prefix(2);
  if (n > in->size()) n = in->size();
  std::string_view field = in->substr(0, n);
  in->remove_prefix(n);
  return field;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kakunin::auth;
  static const RelyingParty rp{"localhost", "https://localhost:8444"};
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view challenge = Take(&in);
  const std::string_view create_client_data = Take(&in);
  const std::string_view attestation_object = Take(&in);
  const std::string_view get_client_data = Take(&in);
  const std::string_view auth_data = Take(&in);
  const std::string_view signature = in;

  StoredCredential credential;
  credential.credential_id = "fixed";
  credential.alg = (size % 2 == 0) ? kCoseEs256 : kCoseEdDsa;
  credential.public_key = std::string(credential.alg == kCoseEs256 ? 64 : 32, '\x07');
  credential.sign_count = 3;

  auto registered = VerifyRegistration(rp, challenge, create_client_data, attestation_object);
  // kInternal here would mean libfido2 and our own parser read the same bytes differently.
  if (registered.status().code() == kakunin::StatusCode::kInternal) std::abort();
  if (registered.ok()) {
    const StoredCredential& c = *registered;
    if (c.credential_id.empty() || c.credential_id.size() > kMaxCredentialIdBytes) std::abort();
    if (!((c.alg == kCoseEs256 && c.public_key.size() == 64) ||
          (c.alg == kCoseEdDsa && c.public_key.size() == 32))) {
      std::abort();
    }
    credential = c;
  }

  auto count = VerifyAssertion(rp, challenge, credential, get_client_data, auth_data, signature);
  if (count.status().code() == kakunin::StatusCode::kInternal) std::abort();
  if (count.ok() && (credential.sign_count != 0 || *count != 0) &&
      *count <= credential.sign_count) {
    std::abort();
  }

  // The codec on its own: decode(encode(x)) == x, and a decoded text re-encodes to itself.
  const std::string encoded = Base64UrlEncode(challenge);
  if (Base64UrlDecode(encoded) != std::string(challenge)) std::abort();
  if (auto decoded = Base64UrlDecode(get_client_data);
      decoded.has_value() && Base64UrlEncode(*decoded) != get_client_data) {
    std::abort();
  }
  return 0;
}
