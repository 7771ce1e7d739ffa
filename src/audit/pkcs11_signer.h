#pragma once

// The checkpoint signing key on a PKCS#11 token (docs/keys.md): the Signer seam's second
// implementation. The private key never leaves the token; this object holds only its label.

#include <memory>
#include <string>

#include "audit/signer.h"
#include "core/status.h"
#include "crypto/pkcs11.h"

namespace kakunin::audit {

// A Signer for the Ed25519 pair labelled `label` on `token`. Reads the public key once; each
// signature is checked against it before it is returned, so a token that signs with another
// key (or returns garbage) fails the checkpoint instead of writing one no verifier accepts.
// Errors: NotFound if the token holds no such pair; DataLoss if it is not an Ed25519 key.
Result<std::unique_ptr<Signer>> OpenPkcs11Signer(std::shared_ptr<crypto::Pkcs11Token> token,
                                                 const std::string& label);

}  // namespace kakunin::audit
