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
#include "crypto/key_file.h"
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
  // Wrap a plain key file in place: the registry sealed under its keys must still open.
  const std::string path = hsm_.dir() + "/keys";
  ASSERT_TRUE(CreateKeyFile(path).ok());
  auto keys = LoadKeyFile(path);
  ASSERT_TRUE(keys.ok());
  const std::string sealed = FieldCipher(*keys).Seal("123456789012", "row-1");

  ASSERT_TRUE(WrapKeyFile(path, *token_, "kakunin-wrap").ok());
  EXPECT_EQ(*KeyFileKindOf(path), KeyFileKind::kWrapped);
  EXPECT_EQ(WrapKeyFile(path, *token_, "kakunin-wrap").code(), StatusCode::kAlreadyExists);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string text = ReadAll(path);
  EXPECT_EQ(text.find(HexEncode(keys->aead_key)), std::string::npos);
  EXPECT_EQ(text.find(HexEncode(keys->hmac_key)), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  EXPECT_EQ(LoadNodeKeyFile(path, nullptr).status().code(), StatusCode::kFailedPrecondition);
  auto loaded = LoadNodeKeyFile(path, token_.get());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->aead_key, keys->aead_key);
  EXPECT_EQ(loaded->hmac_key, keys->hmac_key);
  EXPECT_EQ(KeyId(*loaded), KeyId(*keys));  // the database still recognises its key file
  EXPECT_EQ(*FieldCipher(*loaded).Open(sealed, "row-1"), "123456789012");

  // Swapped lines, a changed byte, an extra line, a group-readable file: refused.
  const std::string bad = hsm_.dir() + "/bad";
  auto write_bad = [&](const std::string& t) {
    std::ofstream(bad, std::ios::trunc) << t;
    ::chmod(bad.c_str(), 0600);
  };
  size_t h = text.find("\nhmac "), a = text.find("\naead ");
  std::string hmac_hex = text.substr(h + 6, a - h - 6);
  std::string aead_hex = text.substr(a + 6, text.size() - a - 7);
  write_bad(text.substr(0, h) + "\nhmac " + aead_hex + "\naead " + hmac_hex + "\n");
  EXPECT_EQ(LoadNodeKeyFile(bad, token_.get()).status().code(), StatusCode::kDataLoss);
  // The last byte changed (to another value than it had: "00" was one wrapped blob in 256).
  const std::string last = text.substr(text.size() - 3, 2);
  write_bad(text.substr(0, text.size() - 3) + (last == "00" ? "01" : "00") + "\n");
  EXPECT_EQ(LoadNodeKeyFile(bad, token_.get()).status().code(), StatusCode::kDataLoss);
  write_bad(text + "extra\n");
  EXPECT_EQ(LoadNodeKeyFile(bad, token_.get()).status().code(), StatusCode::kDataLoss);
  ::chmod(path.c_str(), 0640);
  EXPECT_EQ(LoadNodeKeyFile(path, token_.get()).status().code(), StatusCode::kPermissionDenied);
  ::chmod(path.c_str(), 0600);

  // Another AES key under the label the file names: the file does not open.
  ASSERT_TRUE(token_->GenerateAesKey("impostor").ok());
  std::string other = text;
  other.replace(other.find("wrap kakunin-wrap"), 17, "wrap impostor");
  write_bad(other);
  EXPECT_EQ(LoadNodeKeyFile(bad, token_.get()).status().code(), StatusCode::kDataLoss);
}

TEST_F(Pkcs11Test, FreshWrappedKeyFileNeedsTheWrappingKey) {
  const std::string path = hsm_.dir() + "/fresh";
  EXPECT_EQ(CreateWrappedKeyFile(path, *token_, "kakunin-wrap").code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(path));
  ASSERT_TRUE(token_->GenerateAesKey("kakunin-wrap").ok());
  ASSERT_TRUE(CreateWrappedKeyFile(path, *token_, "kakunin-wrap").ok());
  auto keys = LoadNodeKeyFile(path, token_.get());
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  EXPECT_EQ(keys->aead_key.size(), kKeySize);
  EXPECT_NE(keys->aead_key, keys->hmac_key);
  EXPECT_TRUE(keys->key_ids);
}

// Field-key rotation in the key file: a new current key, the old ones kept (wrapped) until
// retired; a value sealed under any key still opens, new values carry the new key's id.
TEST_F(Pkcs11Test, AddingAndRetiringFieldKeysInAWrappedFile) {
  ASSERT_TRUE(token_->GenerateAesKey("kakunin-wrap").ok());
  const std::string path = hsm_.dir() + "/keys";
  ASSERT_TRUE(CreateKeyFile(path).ok());
  auto v1 = LoadNodeKeyFile(path, nullptr);
  ASSERT_TRUE(v1.ok());
  EXPECT_FALSE(v1->key_ids);
  const std::string old_blob = FieldCipher(*v1).Seal("123456789012", "ad");
  EXPECT_EQ(old_blob[0], '\x01');
  ASSERT_TRUE(WrapKeyFile(path, *token_, "kakunin-wrap").ok());

  auto id = AddFieldKey(path, token_.get());
  ASSERT_TRUE(id.ok()) << id.status().message();
  auto both = LoadNodeKeyFile(path, token_.get());
  ASSERT_TRUE(both.ok()) << both.status().message();
  ASSERT_EQ(both->previous_aead_keys.size(), 1u);
  EXPECT_EQ(both->previous_aead_keys[0], v1->aead_key);
  EXPECT_EQ(both->hmac_key, v1->hmac_key);
  EXPECT_EQ(HexEncode(FieldKeyId(both->aead_key)), *id);
  FieldCipher cipher(*both);
  EXPECT_EQ(*cipher.Open(old_blob, "ad"), "123456789012");
  EXPECT_FALSE(cipher.SealedUnderCurrentKey(old_blob));
  const std::string new_blob = cipher.Seal("123456789012", "ad");
  EXPECT_EQ(new_blob[0], '\x02');
  EXPECT_EQ(new_blob.size(), 12 + kSealOverheadWithKeyId);
  EXPECT_EQ(new_blob.substr(1, kKeyIdSize), FieldKeyId(both->aead_key));
  EXPECT_TRUE(cipher.SealedUnderCurrentKey(new_blob));

  EXPECT_EQ(*RetireOldFieldKeys(path, token_.get()), 1);
  auto after = LoadNodeKeyFile(path, token_.get());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->previous_aead_keys.empty());
  FieldCipher retired(*after);
  EXPECT_EQ(*retired.Open(new_blob, "ad"), "123456789012");
  EXPECT_EQ(retired.Open(old_blob, "ad").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(*RetireOldFieldKeys(path, token_.get()), 0);
}

// A serving node's SIGHUP: the cipher takes the key file's keys in place, but never another
// lookup key (the index of numbers is made with it).
TEST(FieldCipherReloadTest, TakesTheNewFieldKeysButNotAnotherLookupKey) {
  NodeKeys first;
  first.aead_key = std::string(kKeySize, 'a');
  first.hmac_key = std::string(kKeySize, 'h');
  FieldCipher cipher(first);
  const std::string before = cipher.Seal("123456789012", "ad");
  EXPECT_EQ(cipher.key_count(), 1u);

  NodeKeys rotated;
  rotated.previous_aead_keys = {first.aead_key};
  rotated.aead_key = std::string(kKeySize, 'b');
  rotated.hmac_key = first.hmac_key;
  rotated.key_ids = true;
  ASSERT_TRUE(cipher.Reload(rotated).ok());
  EXPECT_EQ(cipher.key_count(), 2u);
  EXPECT_EQ(*cipher.Open(before, "ad"), "123456789012");
  const std::string after = cipher.Seal("123456789012", "ad");
  EXPECT_EQ(after.substr(1, kKeyIdSize), FieldKeyId(rotated.aead_key));
  EXPECT_TRUE(cipher.SealedUnderCurrentKey(after));
  EXPECT_FALSE(cipher.SealedUnderCurrentKey(before));

  NodeKeys other = rotated;
  other.hmac_key = std::string(kKeySize, 'x');
  EXPECT_EQ(cipher.Reload(other).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*cipher.Open(after, "ad"), "123456789012");  // unchanged
  EXPECT_EQ(cipher.LookupHash("x"), FieldCipher(first).LookupHash("x"));
}

}  // namespace
}  // namespace kakunin::crypto
