#include "audit/pkcs11_signer.h"

#include <utility>

namespace kakunin::audit {
namespace {

class Pkcs11Signer final : public Signer {
 public:
  Pkcs11Signer(std::shared_ptr<crypto::Pkcs11Token> token, std::string label, std::string pub)
      : token_(std::move(token)), label_(std::move(label)), public_(std::move(pub)) {}

  Result<std::string> Sign(std::string_view message) const override {
    auto sig = token_->SignEd25519(label_, message);
    if (!sig.ok()) return sig.status();
    if (!VerifySignature(public_, message, *sig)) {
      return Status::DataLoss("the token's signature does not verify with its public key");
    }
    return sig;
  }
  const std::string& public_key() const override { return public_; }

 private:
  std::shared_ptr<crypto::Pkcs11Token> token_;
  std::string label_;
  std::string public_;
};

}  // namespace

Result<std::unique_ptr<Signer>> OpenPkcs11Signer(std::shared_ptr<crypto::Pkcs11Token> token,
                                                 const std::string& label) {
  auto pub = token->Ed25519PublicKey(label);
  if (!pub.ok()) return pub.status();
  return std::unique_ptr<Signer>(new Pkcs11Signer(std::move(token), label, std::move(*pub)));
}

}  // namespace kakunin::audit
