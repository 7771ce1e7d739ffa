// The PKCS#11 token, signer and wrapped key file against a SoftHSM2 token the test sets up.

#include "crypto/pkcs11.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/pkcs11_signer.h"
#include "audit/signer.h"
#include "core/bytes.h"
#include "crypto/field_cipher.h"
#include "crypto/keys.h"
#include "crypto/wrapped_keys.h"
#include "support/softhsm.h"

namespace kakunin::crypto {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class Pkcs11Test : public testing::Test {
 protected:
  void SetUp() override {
    if (!hsm_.Start()) GTEST_SKIP() << "SoftHSM2 is not installed (scripts/bootstrap)";
    auto pin = ReadPin(hsm_.settings());
    ASSERT_TRUE(pin.ok()) << pin.status().message();
    auto token = Pkcs11Token::Open(hsm_.settings(), *pin);
    ASSERT_TRUE(token.ok()) << token.status().message();
    token_ = std::move(*token);
  }
  testing_support::SoftHsm hsm_;
  std::shared_ptr<Pkcs11Token> token_;
};

TEST_F(Pkcs11Test, PinComesFromAPrivateFileOrAVariableNeverBoth) {
  HsmSettings s = hsm_.settings();
  EXPECT_EQ(*ReadPin(s), "1234");
  ::chmod(s.pin_file.c_str(), 0644);
  EXPECT_EQ(ReadPin(s).status().code(), StatusCode::kPermissionDenied);
  ::chmod(s.pin_file.c_str(), 0600);

  s.pin_env = "KAKUNIN_TEST_PIN";
  EXPECT_EQ(ReadPin(s).status().code(), StatusCode::kInvalidArgument);  // both
  s.pin_file.clear();
  ::unsetenv("KAKUNIN_TEST_PIN");
  EXPECT_EQ(ReadPin(s).status().code(), StatusCode::kNotFound);
  ::setenv("KAKUNIN_TEST_PIN", "4321", 1);
  EXPECT_EQ(*ReadPin(s), "4321");
  ::setenv("KAKUNIN_TEST_PIN", "", 1);
  EXPECT_EQ(ReadPin(s).status().code(), StatusCode::kDataLoss);
  ::unsetenv("KAKUNIN_TEST_PIN");
  s.pin_env.clear();
  EXPECT_EQ(ReadPin(s).status().code(), StatusCode::kInvalidArgument);  // neither
}

TEST_F(Pkcs11Test, WrongPinUnknownTokenAndMissingModuleAreRefusedWithoutThePin) {
  // PKCS#11 login state is per process: while a session is logged in, any PIN "logs in".
  token_.reset();
  auto wrong = Pkcs11Token::Open(hsm_.settings(), "99999");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("PIN"), std::string::npos);
  EXPECT_EQ(wrong.status().message().find("99999"), std::string::npos);

  HsmSettings other = hsm_.settings();
  other.token_label = "no-such-token";
  auto missing = Pkcs11Token::Open(other, "1234");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no-such-token"), std::string::npos);

  other = hsm_.settings();
  other.module = hsm_.dir() + "/no-such-module.so";
  EXPECT_EQ(Pkcs11Token::Open(other, "1234").status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(Pkcs11Test, Ed25519KeyOnTheTokenSignsWhatLibsodiumVerifies) {
  auto pub = token_->GenerateEd25519("sign-1");
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  ASSERT_EQ(pub->size(), 32u);
  EXPECT_EQ(*token_->Ed25519PublicKey("sign-1"), *pub);
  EXPECT_EQ(token_->GenerateEd25519("sign-1").status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(*token_->HasKey("sign-1"));
  EXPECT_FALSE(*token_->HasKey("sign-2"));

  auto signer = audit::OpenPkcs11Signer(token_, "sign-1");
  ASSERT_TRUE(signer.ok()) << signer.status().message();
  auto sig = (*signer)->Sign("kakunin operation log v1\n1\n...\n");
  ASSERT_TRUE(sig.ok()) << sig.status().message();
  EXPECT_TRUE(audit::VerifySignature(*pub, "kakunin operation log v1\n1\n...\n", *sig));
  EXPECT_FALSE(audit::VerifySignature(*pub, "kakunin operation log v1\n2\n...\n", *sig));
  EXPECT_EQ((*signer)->key_id(), audit::PublicKeyId(*pub));
  EXPECT_EQ(audit::OpenPkcs11Signer(token_, "sign-2").status().code(), StatusCode::kNotFound);
}

TEST_F(Pkcs11Test, AesWrapOpensOnlyWithTheSameKeyAndAssociatedData) {
  ASSERT_TRUE(token_->GenerateAesKey("wrap-1").ok());
  ASSERT_TRUE(token_->GenerateAesKey("wrap-2").ok());
  EXPECT_EQ(token_->GenerateAesKey("wrap-1").code(), StatusCode::kAlreadyExists);
  const std::string secret(32, '\x5a');
  auto blob = token_->Wrap("wrap-1", secret, "role a");
  ASSERT_TRUE(blob.ok()) << blob.status().message();
  EXPECT_EQ(blob->size(), 12u + 32u + 16u);
  EXPECT_EQ(blob->find(secret), std::string::npos);
  EXPECT_EQ(*token_->Unwrap("wrap-1", *blob, "role a"), secret);
  EXPECT_EQ(token_->Unwrap("wrap-1", *blob, "role b").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(token_->Unwrap("wrap-2", *blob, "role a").status().code(), StatusCode::kDataLoss);
  std::string changed = *blob;
  changed[20] ^= 1;
  EXPECT_EQ(token_->Unwrap("wrap-1", changed, "role a").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(token_->Unwrap("wrap-1", blob->substr(0, 20), "role a").status().code(),
            StatusCode::kDataLoss);
}

TEST_F(Pkcs11Test, WrappedKeyFileHoldsNoKeyAndOpensOnlyWithItsToken) {
  ASSERT_TRUE(token_->GenerateAesKey("kakunin-wrap").ok());
  // Import a plain key file's keys: the registry sealed under them must still open.
  const std::string plain = hsm_.dir() + "/keys";
  ASSERT_TRUE(CreateKeyFile(plain).ok());
  auto keys = LoadKeyFile(plain);
  ASSERT_TRUE(keys.ok());
  const std::string sealed = FieldCipher(*keys).Seal("123456789012", "row-1");

  const std::string wrapped = hsm_.dir() + "/keys.wrapped";
  ASSERT_TRUE(WriteWrappedKeyFile(wrapped, *keys, *token_, "kakunin-wrap").ok());
  EXPECT_TRUE(IsWrappedKeyFile(wrapped));
  EXPECT_FALSE(IsWrappedKeyFile(plain));
  struct stat st;
  ASSERT_EQ(::stat(wrapped.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string text = ReadAll(wrapped);
  EXPECT_EQ(text.find(HexEncode(keys->aead_key)), std::string::npos);
  EXPECT_EQ(text.find(HexEncode(keys->hmac_key)), std::string::npos);
  EXPECT_EQ(WriteWrappedKeyFile(wrapped, *keys, *token_, "kakunin-wrap").code(),
            StatusCode::kAlreadyExists);

  auto loaded = LoadWrappedKeyFile(wrapped, *token_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->aead_key, keys->aead_key);
  EXPECT_EQ(loaded->hmac_key, keys->hmac_key);
  EXPECT_EQ(*FieldCipher(*loaded).Open(sealed, "row-1"), "123456789012");

  // Swapped lines, a changed byte, a group-readable file: refused.
  std::string swapped = text;
  size_t a = swapped.find("\naead "), h = swapped.find("\nhmac ");
  std::string aead_hex = swapped.substr(a + 6, h - a - 6);
  std::string hmac_hex = swapped.substr(h + 6, swapped.size() - h - 7);
  swapped = swapped.substr(0, a) + "\naead " + hmac_hex + "\nhmac " + aead_hex + "\n";
  const std::string bad = hsm_.dir() + "/bad";
  std::ofstream(bad) << swapped;
  ::chmod(bad.c_str(), 0600);
  EXPECT_EQ(LoadWrappedKeyFile(bad, *token_).status().code(), StatusCode::kDataLoss);
  std::ofstream(bad, std::ios::trunc) << text.substr(0, text.size() - 3) << "00\n";
  EXPECT_EQ(LoadWrappedKeyFile(bad, *token_).status().code(), StatusCode::kDataLoss);
  std::ofstream(bad, std::ios::trunc) << text << "extra\n";
  EXPECT_EQ(LoadWrappedKeyFile(bad, *token_).status().code(), StatusCode::kDataLoss);
  ::chmod(wrapped.c_str(), 0640);
  EXPECT_EQ(LoadWrappedKeyFile(wrapped, *token_).status().code(), StatusCode::kPermissionDenied);
  ::chmod(wrapped.c_str(), 0600);

  // The same label on another token is another key: the file does not open there.
  ASSERT_TRUE(token_->GenerateAesKey("impostor").ok());
  std::string other = text;
  other.replace(other.find("wrap kakunin-wrap"), 17, "wrap impostor");
  std::ofstream(bad, std::ios::trunc) << other;
  EXPECT_EQ(LoadWrappedKeyFile(bad, *token_).status().code(), StatusCode::kDataLoss);
}

TEST_F(Pkcs11Test, FreshWrappedKeyFileNeedsTheWrappingKey) {
  const std::string path = hsm_.dir() + "/fresh";
  EXPECT_EQ(CreateWrappedKeyFile(path, *token_, "kakunin-wrap").code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(path));
  ASSERT_TRUE(token_->GenerateAesKey("kakunin-wrap").ok());
  ASSERT_TRUE(CreateWrappedKeyFile(path, *token_, "kakunin-wrap").ok());
  auto keys = LoadWrappedKeyFile(path, *token_);
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  EXPECT_EQ(keys->aead_key.size(), kKeySize);
  EXPECT_NE(keys->aead_key, keys->hmac_key);
}

}  // namespace
}  // namespace kakunin::crypto
