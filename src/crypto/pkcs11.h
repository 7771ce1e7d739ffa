#pragma once

// Keys in hardware (docs/keys.md): a PKCS#11 token reached through p11-kit, holding the
// checkpoint signing key (Ed25519, CKM_EDDSA) and an AES key that wraps the node's field keys
// (AES-GCM, CKM_AES_GCM). Private and secret keys are created on the token as sensitive and
// not extractable, so no process — this one included — can read them; the token only signs
// and decrypts. Tested with SoftHSM2 2.6; a real HSM differs only in its module path.
//
// The PIN is never in the configuration: it comes from a file readable by its owner only, or
// from an environment variable (for a service manager's credential store).

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"

namespace kakunin::crypto {

// Where the token is and how to log in. Labels name the objects on the token (CKA_LABEL).
struct HsmSettings {
  std::string module;       // the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so
  std::string token_label;  // the token's label (softhsm2-util --init-token --label …)
  std::string pin_file;     // a file holding the user PIN, mode 0600 (or 0400)
  std::string pin_env;      // or the name of an environment variable holding it
  // The Ed25519 pair that signs checkpoints; "": the signing key stays in its file.
  std::string signing_key_label;
  // The AES key that wraps the field keys (`kakunin keys wrap-field-keys`); a wrapped key file
  // names its own wrapping key, so this matters only when wrapping.
  std::string wrap_key_label = "kakunin-wrap";
};

// The PIN from `pin_file` (no group or other access; one line, at most 255 bytes, its final
// newline dropped) or else from the variable `pin_env`. Exactly one of them must be set.
// Errors: InvalidArgument if neither or both are named; PermissionDenied for a file others can
// read; NotFound for a missing file or an unset variable; DataLoss for an empty or oversize PIN.
// Messages name the file or variable, never the PIN.
Result<std::string> ReadPin(const HsmSettings& settings);

// A logged-in session on one token. Thread-safe: one session, serialised by a mutex (a
// PKCS#11 session may not run two operations at once; signing a checkpoint is rare).
class Pkcs11Token {
 public:
  // Loads `settings.module` with p11-kit, finds the token labelled `settings.token_label`,
  // opens a read-write session and logs in as the user with `pin`.
  // Errors: FailedPrecondition (module will not load, no such token, wrong PIN), naming the
  // module and token but not the PIN.
  static Result<std::unique_ptr<Pkcs11Token>> Open(const HsmSettings& settings,
                                                    std::string_view pin);
  ~Pkcs11Token();
  Pkcs11Token(const Pkcs11Token&) = delete;
  Pkcs11Token& operator=(const Pkcs11Token&) = delete;

  // Whether a key object with this label exists (of any class).
  Result<bool> HasKey(std::string_view label);

  // Generates an Ed25519 key pair on the token under `label` (private: sensitive, not
  // extractable, sign only). Returns the raw 32-byte public key.
  // Errors: AlreadyExists if an object with `label` exists (keys are never replaced).
  Result<std::string> GenerateEd25519(std::string_view label);
  // The raw 32-byte public key of the Ed25519 pair labelled `label`; NotFound if none.
  Result<std::string> Ed25519PublicKey(std::string_view label);
  // A 64-byte Ed25519 signature (pure EdDSA, RFC 8032) by the private key labelled `label`.
  Result<std::string> SignEd25519(std::string_view label, std::string_view message);

  // Generates an AES-256 key on the token under `label` (sensitive, not extractable, encrypt
  // and decrypt only). Errors: AlreadyExists if `label` is taken.
  Status GenerateAesKey(std::string_view label);
  // AES-256-GCM under the key labelled `label`, with a fresh 12-byte IV from the token:
  // IV ‖ ciphertext ‖ 16-byte tag. `aad` is authenticated, not stored.
  Result<std::string> Wrap(std::string_view label, std::string_view secret, std::string_view aad);
  // The inverse; DataLoss if the blob does not authenticate under that key and `aad`.
  Result<std::string> Unwrap(std::string_view label, std::string_view blob, std::string_view aad);

  // The token's label, manufacturer and model, for `kakunin keys status`.
  std::string Description() const { return description_; }

 private:
  struct Module;
  Pkcs11Token(std::unique_ptr<Module> module, unsigned long session, std::string description);
  // Both REQUIRE mu_ held. `object_class` ~0UL: any class.
  Result<unsigned long> FindKey(std::string_view label, unsigned long object_class);
  Result<std::string> PublicKeyLocked(std::string_view label);

  std::unique_ptr<Module> module_;
  unsigned long session_;
  std::string description_;
  std::mutex mu_;
};

}  // namespace kakunin::crypto
