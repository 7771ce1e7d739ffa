#include "crypto/field_cipher.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <string>

#include "core/random.h"

namespace kakunin::crypto {
namespace {

constexpr std::string_view kNumber = "123456789018";  // 12 digits, like a 個人番号
constexpr std::string_view kRowId = "record 42";

std::string RandomBytes(SeededRandom& random, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(random.Uniform(256));
  return out;
}

NodeKeys RandomKeys(uint64_t seed) {
  SeededRandom random(seed);
  NodeKeys keys;
  keys.aead_key = RandomBytes(random, kKeySize);
  keys.hmac_key = RandomBytes(random, kKeySize);
  return keys;
}

TEST(FieldCipherTest, RoundTrips) {
  FieldCipher cipher(RandomKeys(1));
  for (std::string_view plaintext : {std::string_view(), std::string_view(""), kNumber,
                                     std::string_view("山梨県甲府市丸の内一丁目6番1号")}) {
    std::string sealed = cipher.Seal(plaintext, kRowId);
    EXPECT_EQ(sealed.size(), plaintext.size() + kSealOverhead);
    EXPECT_EQ(sealed[0], '\x01');
    Result<std::string> opened = cipher.Open(sealed, kRowId);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST(FieldCipherTest, EmptyAssociatedDataWorks) {
  FieldCipher cipher(RandomKeys(1));
  Result<std::string> opened = cipher.Open(cipher.Seal(kNumber, ""), "");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, kNumber);
}

TEST(FieldCipherTest, SealingTwiceGivesDifferentBlobs) {
  FieldCipher cipher(RandomKeys(1));
  std::string a = cipher.Seal(kNumber, kRowId);
  std::string b = cipher.Seal(kNumber, kRowId);
  EXPECT_NE(a, b);
  EXPECT_NE(a.substr(1, 24), b.substr(1, 24));  // the nonces
  EXPECT_EQ(cipher.Open(a, kRowId).value(), kNumber);
  EXPECT_EQ(cipher.Open(b, kRowId).value(), kNumber);
}

TEST(FieldCipherTest, EveryChangedByteFailsAuthentication) {
  FieldCipher cipher(RandomKeys(1));
  const std::string sealed = cipher.Seal(kNumber, kRowId);
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string tampered = sealed;
      tampered[i] = static_cast<char>(tampered[i] ^ flip);
      Result<std::string> opened = cipher.Open(tampered, kRowId);
      EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss) << "byte " << i;
      EXPECT_EQ(opened.status().message(), "sealed field failed authentication");
    }
  }
}

TEST(FieldCipherTest, TruncatedOrExtendedBlobFails) {
  FieldCipher cipher(RandomKeys(1));
  const std::string sealed = cipher.Seal(kNumber, kRowId);
  for (size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_EQ(cipher.Open(sealed.substr(0, n), kRowId).status().code(), StatusCode::kDataLoss)
        << "length " << n;
  }
  EXPECT_EQ(cipher.Open(sealed + '\0', kRowId).status().code(), StatusCode::kDataLoss);
}

TEST(FieldCipherTest, BlobMovedToAnotherRowFails) {
  FieldCipher cipher(RandomKeys(1));
  const std::string sealed = cipher.Seal(kNumber, "record 42");
  EXPECT_EQ(cipher.Open(sealed, "record 43").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(cipher.Open(sealed, "").status().code(), StatusCode::kDataLoss);
}

TEST(FieldCipherTest, OtherKeysFail) {
  const std::string sealed = FieldCipher(RandomKeys(1)).Seal(kNumber, kRowId);
  EXPECT_EQ(FieldCipher(RandomKeys(2)).Open(sealed, kRowId).status().code(), StatusCode::kDataLoss);
  // Same aead key, other hmac key: the hmac key plays no part in sealing.
  NodeKeys keys = RandomKeys(1);
  keys.hmac_key = RandomKeys(2).hmac_key;
  EXPECT_TRUE(FieldCipher(keys).Open(sealed, kRowId).ok());
}

TEST(FieldCipherTest, CipherOutlivesTheKeysItWasBuiltFrom) {
  auto keys = std::make_unique<NodeKeys>(RandomKeys(1));
  FieldCipher cipher(*keys);
  const std::string sealed = cipher.Seal(kNumber, kRowId);
  keys.reset();
  EXPECT_EQ(cipher.Open(sealed, kRowId).value(), kNumber);
  EXPECT_EQ(FieldCipher(RandomKeys(1)).Open(sealed, kRowId).value(), kNumber);
}

TEST(FieldCipherTest, LookupHashIsDeterministicAndKeyed) {
  FieldCipher cipher(RandomKeys(1));
  const std::string hash = cipher.LookupHash(kNumber);
  EXPECT_EQ(hash.size(), kLookupHashSize);
  EXPECT_EQ(hash, cipher.LookupHash(kNumber));
  EXPECT_EQ(hash, FieldCipher(RandomKeys(1)).LookupHash(kNumber));
  EXPECT_NE(hash, cipher.LookupHash("123456789026"));
  EXPECT_NE(hash, cipher.LookupHash(""));
  EXPECT_NE(hash, FieldCipher(RandomKeys(2)).LookupHash(kNumber));
  // The aead key plays no part in the hash.
  NodeKeys keys = RandomKeys(1);
  keys.aead_key = RandomKeys(2).aead_key;
  EXPECT_EQ(hash, FieldCipher(keys).LookupHash(kNumber));
}

TEST(FieldCipherTest, LookupHashMatchesOpenSslHmacSha256) {
  SeededRandom random(4231);
  for (int round = 0; round < 20; ++round) {
    NodeKeys keys;
    keys.aead_key = RandomBytes(random, kKeySize);
    keys.hmac_key = RandomBytes(random, kKeySize);
    const std::string value = RandomBytes(random, random.Uniform(200));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_size = 0;
    ASSERT_NE(
        HMAC(EVP_sha256(), keys.hmac_key.data(), static_cast<int>(keys.hmac_key.size()),
             reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &mac_size),
        nullptr);
    EXPECT_EQ(FieldCipher(keys).LookupHash(value),
              std::string(reinterpret_cast<const char*>(mac), mac_size))
        << "round " << round;
  }
}

TEST(FieldCipherDeathTest, WrongKeySizeAborts) {
  NodeKeys keys = RandomKeys(1);
  keys.aead_key.pop_back();
  EXPECT_DEATH(FieldCipher{keys}, "two keys of 32 bytes");
}

}  // namespace
}  // namespace kakunin::crypto
