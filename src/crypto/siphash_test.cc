#include "crypto/siphash.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <string>

namespace kakunin::crypto {
namespace {

// The key 00 01 … 0f of the paper's appendix A, read little-endian.
constexpr SipKey kPaperKey{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

std::string Bytes(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(i));
  return s;
}

// SipHash-2-4 of `data` through OpenSSL's own implementation (EVP_MAC "SIPHASH", 8 bytes).
uint64_t OpenSslSipHash(const SipKey& key, const std::string& data) {
  unsigned char k[16];
  for (int i = 0; i < 8; ++i) {
    k[i] = static_cast<unsigned char>(key.k0 >> (8 * i));
    k[8 + i] = static_cast<unsigned char>(key.k1 >> (8 * i));
  }
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  size_t size = 8;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                         OSSL_PARAM_construct_end()};
  unsigned char out[8];
  size_t out_len = 0;
  const bool ok = EVP_MAC_init(ctx, k, sizeof k, params) == 1 &&
                  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()),
                                 data.size()) == 1 &&
                  EVP_MAC_final(ctx, out, &out_len, sizeof out) == 1 && out_len == 8;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  EXPECT_TRUE(ok);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | out[i];
  return v;
}

// The paper's test vectors: the empty message and the 15 bytes 00 … 0e (appendix A).
TEST(SipHashTest, PaperKnownAnswers) {
  EXPECT_EQ(SipHash24(kPaperKey, ""), 0x726fdb47dd0e0e31ull);
  EXPECT_EQ(SipHash24(kPaperKey, Bytes(15)), 0xa129ca6149be45e5ull);
}

// Every length around the 8-byte blocks, against OpenSSL, under two keys.
TEST(SipHashTest, AgreesWithOpenSsl) {
  for (const SipKey& key : {kPaperKey, SipKey{0x0123456789abcdefull, 0xfedcba9876543210ull}}) {
    for (size_t n = 0; n <= 80; ++n) {
      std::string data = Bytes(n);
      for (char& c : data) c = static_cast<char>(c * 37 + 11);
      EXPECT_EQ(SipHash24(key, data), OpenSslSipHash(key, data)) << n;
    }
  }
}

TEST(MultisetDigestTest, OrderDoesNotCountButEveryElementDoes) {
  auto made = MultisetDigest::Random();
  ASSERT_TRUE(made.ok());
  MultisetDigest a = made->Keyed(), b = made->Keyed(), c = made->Keyed();
  for (const char* e : {"mac:01:found#1", "mac:02", "mac:03:missing"}) a.Add(e);
  for (const char* e : {"mac:03:missing", "mac:01:found#1", "mac:02"}) b.Add(e);
  EXPECT_TRUE(a.SameAs(b));
  EXPECT_EQ(a.count(), 3);
  // One element changed, one repeated in place of another, one left out.
  for (const char* e : {"mac:01:found#1", "mac:02", "mac:03:found"}) c.Add(e);
  EXPECT_FALSE(a.SameAs(c));
  MultisetDigest d = made->Keyed(), e = made->Keyed();
  for (const char* x : {"mac:02", "mac:02", "mac:03:missing"}) d.Add(x);
  EXPECT_FALSE(a.SameAs(d));
  e.Add("mac:02");
  e.Add("mac:03:missing");
  EXPECT_FALSE(a.SameAs(e));
  // Merged halves are the whole.
  MultisetDigest f = made->Keyed(), g = made->Keyed();
  f.Add("mac:03:missing");
  g.Add("mac:02");
  g.Add("mac:01:found#1");
  f.Merge(g);
  EXPECT_TRUE(a.SameAs(f));
  // Under other keys the same elements give another digest.
  auto other = MultisetDigest::Random();
  ASSERT_TRUE(other.ok());
  MultisetDigest h = *other;
  for (const char* x : {"mac:01:found#1", "mac:02", "mac:03:missing"}) h.Add(x);
  EXPECT_FALSE(a.SameAs(h));
}

}  // namespace
}  // namespace kakunin::crypto
