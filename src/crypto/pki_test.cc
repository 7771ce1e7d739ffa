#include "crypto/pki.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"

namespace kakunin::crypto {
namespace {

namespace fs = std::filesystem;

template <auto kFree>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using ExtKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Asn1BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, Deleter<ASN1_BIT_STRING_free>>;

constexpr char kKofu[] = "192015";  // 甲府市 (check digit 5)
constexpr int64_t kDay = 86400;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

X509Ptr LoadCert(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

X509CrlPtr LoadCrl(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return nullptr;
  return X509CrlPtr(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
}

EvpPkeyPtr LoadKey(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return nullptr;
  return EvpPkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// X509_verify_cert of `cert_path` against the CA certificate `ca_pem`, for `purpose`; with a CRL
// and X509_V_FLAG_CRL_CHECK if `crl_path` is given. X509_V_OK, or the verification error.
int Verify(const std::string& ca_pem, const std::string& cert_path, int purpose,
           const std::string& crl_path = "") {
  X509Ptr ca = LoadCert(ca_pem);
  X509Ptr cert = LoadCert(cert_path);
  if (!ca || !cert) return -1;
  StorePtr store(X509_STORE_new());
  if (X509_STORE_add_cert(store.get(), ca.get()) != 1) return -2;
  if (!crl_path.empty()) {
    X509CrlPtr crl = LoadCrl(crl_path);
    if (!crl || X509_STORE_add_crl(store.get(), crl.get()) != 1) return -3;
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) return -4;
  if (X509_STORE_CTX_set_purpose(ctx.get(), purpose) != 1) return -5;
  const int ok = X509_verify_cert(ctx.get());
  const int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (ok == 1) return err == X509_V_OK ? X509_V_OK : -6;
  return err == X509_V_OK ? -7 : err;
}

// The SANs of `cert` of GENERAL_NAME type `type`, as text (IP addresses as raw bytes).
std::vector<std::string> AltNames(X509* cert, int type) {
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::vector<std::string> out;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int got = 0;
    const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &got));
    if (got != type) continue;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
  }
  return out;
}

// The subject CN's bytes and its ASN.1 string type.
std::pair<std::string, int> CommonName(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return {"", -1};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  return {std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                      static_cast<size_t>(ASN1_STRING_length(data))),
          ASN1_STRING_type(data)};
}

std::set<std::string> ExtendedKeyUsages(X509* cert) {
  ExtKeyUsagePtr eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  std::set<std::string> out;
  for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    out.insert(OBJ_nid2sn(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i))));
  }
  return out;
}

// Entries of the CRL's revoked list (OpenSSL keeps no list at all for an empty CRL).
int RevokedCount(X509_CRL* crl) {
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  return revoked == nullptr ? 0 : sk_X509_REVOKED_num(revoked);
}

int64_t CrlNumber(X509_CRL* crl) {
  Asn1IntegerPtr number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr)));
  int64_t value = -1;
  if (!number || ASN1_INTEGER_get_int64(&value, number.get()) != 1) return -1;
  return value;
}

std::string SerialHex(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  unsigned char bytes[16];
  const int n = BN_bn2binpad(bn, bytes, sizeof(bytes));
  BN_free(bn);
  if (n != 16) return "";
  return HexEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

int64_t Asn1ToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

// Runs a shell command; its standard output.
std::string RunShell(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) return "";
  std::string out;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe.get())) out.append(buf, n);
  return out;
}

FixedClock ClockAt(int64_t unix_seconds) { return FixedClock(unix_seconds * 1000000); }

int64_t Now() { return static_cast<int64_t>(::time(nullptr)); }

class PkiTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "kakunin_pki_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    ca_ = root_ + "/ca";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Path(const std::string& name) const { return root_ + "/" + name; }
  std::string CaFile(const std::string& name) const { return ca_ + "/" + name; }

  void CreateCa(int days = 3650) {
    Status st = CreateCertificateAuthority(ca_, "Kakunin Test CA", days);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Issues a municipal-cs certificate for 甲府市 into `name`.pem / `name`.key.
  IssuedCert IssueKofu(const std::string& name) {
    ClientCertRequest req{
        .kind = ClientKind::kMunicipalCs, .name = "甲府市 住基CS", .municipality_code = kKofu};
    Result<IssuedCert> issued =
        IssueClientCertificate(ca_, req, Path(name + ".pem"), Path(name + ".key"));
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    return issued.ok() ? *issued : IssuedCert{};
  }

  // Every file under the root with its contents, to show that a call changed nothing.
  std::map<std::string, std::string> Snapshot() const {
    std::map<std::string, std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(root_)) {
      if (entry.is_regular_file()) out[entry.path().string()] = ReadFile(entry.path().string());
    }
    return out;
  }

  std::string root_;
  std::string ca_;
};

// ---------------------------------------------------------------------------------------------
// Creating a CA.

TEST_F(PkiTest, CreateMakesEveryFileWithItsMode) {
  CreateCa();
  EXPECT_EQ(ModeOf(CaFile("ca.key")), 0600u);
  EXPECT_EQ(ModeOf(CaFile("ca.pem")), 0644u);
  EXPECT_EQ(ModeOf(CaFile("crl.pem")), 0644u);
  EXPECT_EQ(ModeOf(CaFile("ca.state")), 0644u);
  EXPECT_EQ(ModeOf(ca_), 0700u);
  // Nothing else: no temporary file is left behind.
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(ca_)) names.insert(entry.path().filename());
  EXPECT_EQ(names, (std::set<std::string>{"ca.key", "ca.pem", "crl.pem", "ca.state"}));
  EXPECT_EQ(ReadFile(CaFile("ca.state")), "kakunin-ca-state v1\ncrl-number\t1\n");
  EXPECT_TRUE(ReadFile(CaFile("ca.key")).starts_with("-----BEGIN PRIVATE KEY-----\n"));
}

TEST_F(PkiTest, CaCertificateIsASelfSignedCa) {
  CreateCa(10);
  X509Ptr ca = LoadCert(CaFile("ca.pem"));
  ASSERT_TRUE(ca);
  EvpPkeyPtr key = LoadKey(CaFile("ca.key"));
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(ca.get(), key.get()), 1);
  EXPECT_EQ(X509_verify(ca.get(), X509_get0_pubkey(ca.get())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_get_issuer_name(ca.get())), 0);
  EXPECT_EQ(CommonName(ca.get()).first, "Kakunin Test CA");
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);

  int critical = -1;
  BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(ca.get(), NID_basic_constraints, &critical, nullptr)));
  ASSERT_TRUE(bc);
  EXPECT_TRUE(bc->ca);
  EXPECT_EQ(critical, 1);
  Asn1BitStringPtr usage(
      static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(ca.get(), NID_key_usage, &critical, nullptr)));
  ASSERT_TRUE(usage);
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_check_ca(ca.get()), 0);

  const int64_t not_before = Asn1ToUnix(X509_get0_notBefore(ca.get()));
  const int64_t not_after = Asn1ToUnix(X509_get0_notAfter(ca.get()));
  EXPECT_NEAR(static_cast<double>(not_before), static_cast<double>(Now() - 300), 5);
  EXPECT_EQ(not_after - not_before, 10 * kDay + 300);
}

TEST_F(PkiTest, FreshCrlIsEmptySignedByTheCaAndNumberOne) {
  CreateCa();
  X509Ptr ca = LoadCert(CaFile("ca.pem"));
  X509CrlPtr crl = LoadCrl(CaFile("crl.pem"));
  ASSERT_TRUE(ca && crl);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())), 0);
  EXPECT_EQ(RevokedCount(crl.get()), 0);
  EXPECT_EQ(CrlNumber(crl.get()), 1);
  ASSERT_NE(X509_CRL_get0_nextUpdate(crl.get()), nullptr);
  EXPECT_EQ(Asn1ToUnix(X509_CRL_get0_nextUpdate(crl.get())) -
                Asn1ToUnix(X509_CRL_get0_lastUpdate(crl.get())),
            kCrlValidityDays * kDay + kNotBeforeSkewSeconds);  // dated back as certificates are
}

TEST_F(PkiTest, SecondCreationIsRefusedAndChangesNothing) {
  CreateCa();
  const auto before = Snapshot();
  Status st = CreateCertificateAuthority(ca_, "Another CA", 365);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists) << st.ToString();
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(ModeOf(CaFile("ca.key")), 0600u);
}

TEST_F(PkiTest, CreationRefusesLeftoversOfAnInterruptedOne) {
  ASSERT_EQ(::mkdir(ca_.c_str(), 0700), 0);
  WriteFile(CaFile("ca.pem"), "left over");
  Status st = CreateCertificateAuthority(ca_, "Kakunin Test CA", 365);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(ReadFile(CaFile("ca.pem")), "left over");
  EXPECT_FALSE(fs::exists(CaFile("ca.key")));
  EXPECT_FALSE(fs::exists(CaFile("crl.pem")));
  EXPECT_FALSE(fs::exists(CaFile("ca.state")));
  EXPECT_EQ(std::distance(fs::directory_iterator(ca_), fs::directory_iterator()), 1);
}

TEST_F(PkiTest, CreationValidatesItsArguments) {
  EXPECT_EQ(CreateCertificateAuthority(ca_, "", 365).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCertificateAuthority(ca_, "CA\nX", 365).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCertificateAuthority(ca_, "CA", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCertificateAuthority(ca_, "CA", kMaxValidityDays + 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(ca_));
  Status st = CreateCertificateAuthority(Path("missing/ca"), "CA", 365);
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
}

// ---------------------------------------------------------------------------------------------
// Client certificates.

TEST_F(PkiTest, ClientCertificateVerifiesAsAnSslClient) {
  CreateCa();
  const int64_t before = Now();
  IssuedCert issued = IssueKofu("kofu");
  ASSERT_FALSE(issued.serial_hex.empty());
  EXPECT_EQ(issued.cert_path, Path("kofu.pem"));
  EXPECT_EQ(issued.key_path, Path("kofu.key"));
  EXPECT_EQ(ModeOf(issued.key_path), 0600u);
  EXPECT_EQ(ModeOf(issued.cert_path), 0644u);

  EXPECT_EQ(Verify(CaFile("ca.pem"), issued.cert_path, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(Verify(CaFile("ca.pem"), issued.cert_path, X509_PURPOSE_SSL_CLIENT, CaFile("crl.pem")),
            X509_V_OK);
  // clientAuth only: it is no server certificate.
  EXPECT_EQ(Verify(CaFile("ca.pem"), issued.cert_path, X509_PURPOSE_SSL_SERVER),
            X509_V_ERR_INVALID_PURPOSE);

  X509Ptr cert = LoadCert(issued.cert_path);
  ASSERT_TRUE(cert);
  EXPECT_EQ(ExtendedKeyUsages(cert.get()), std::set<std::string>{"clientAuth"});
  EXPECT_EQ(AltNames(cert.get(), GEN_URI),
            std::vector<std::string>{"urn:kakunin:municipal-cs:192015"});
  EXPECT_EQ(CommonName(cert.get()),
            std::make_pair(std::string("甲府市 住基CS"), static_cast<int>(V_ASN1_UTF8STRING)));
  EXPECT_EQ(X509_check_ca(cert.get()), 0);

  // A random 128-bit serial, reported as 32 hex digits.
  EXPECT_EQ(issued.serial_hex.size(), 32u);
  EXPECT_EQ(SerialHex(cert.get()), issued.serial_hex);
  // Valid from five minutes ago.
  const int64_t not_before = Asn1ToUnix(X509_get0_notBefore(cert.get()));
  EXPECT_GE(not_before, before - kNotBeforeSkewSeconds);
  EXPECT_LE(not_before, Now() - kNotBeforeSkewSeconds);
  EXPECT_EQ(Asn1ToUnix(X509_get0_notAfter(cert.get())) - not_before, 365 * kDay + 300);

  // The key on disk is a P-256 key matching the certificate.
  EvpPkeyPtr key = LoadKey(issued.key_path);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  char group[64] = {};
  size_t group_len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group, sizeof(group), &group_len), 1);
  EXPECT_STREQ(group, "prime256v1");
}

TEST_F(PkiTest, EachCertificateHasItsOwnKeyAndSerial) {
  CreateCa();
  IssuedCert a = IssueKofu("a");
  IssuedCert b = IssueKofu("b");
  EXPECT_NE(a.serial_hex, b.serial_hex);
  EXPECT_NE(a.spki_sha256_hex, b.spki_sha256_hex);
}

TEST_F(PkiTest, AgencyAndOtherKindsGetANameSlugOrTheSerialInTheirUri) {
  CreateCa();
  struct Case {
    ClientKind kind;
    std::string name;
    std::string uri;  // empty: urn:kakunin:<kind>:<serial>
  };
  const std::vector<Case> cases = {
      {ClientKind::kAgency, "Yamanashi Pref. Police (山梨県警察)",
       "urn:kakunin:agency:yamanashi-pref-police"},
      {ClientKind::kAgency, "教育委員会", ""},
      {ClientKind::kNational, "J-LIS National Server",
       "urn:kakunin:national:j-lis-national-server"},
      {ClientKind::kOperator, "藤井 明", ""},
  };
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string base = Path("client" + std::to_string(i++));
    Result<IssuedCert> issued = IssueClientCertificate(
        ca_, ClientCertRequest{.kind = c.kind, .name = c.name}, base + ".pem", base + ".key");
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();
    X509Ptr cert = LoadCert(issued->cert_path);
    ASSERT_TRUE(cert);
    const std::string expected =
        c.uri.empty()
            ? "urn:kakunin:" + std::string(ClientKindName(c.kind)) + ":" + issued->serial_hex
            : c.uri;
    EXPECT_EQ(AltNames(cert.get(), GEN_URI), std::vector<std::string>{expected});
    EXPECT_EQ(CommonName(cert.get()).first, c.name);
    EXPECT_EQ(Verify(CaFile("ca.pem"), issued->cert_path, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  }
}

TEST_F(PkiTest, IssuedCertificatesAreRecordedInTheState) {
  CreateCa();
  IssuedCert kofu = IssueKofu("kofu");
  Result<IssuedCert> agency = IssueClientCertificate(
      ca_, ClientCertRequest{.kind = ClientKind::kAgency, .name = "教育委員会", .days = 30},
      Path("agency.pem"), Path("agency.key"));
  ASSERT_TRUE(agency.ok());
  Result<IssuedCert> server =
      IssueServerCertificate(ca_, {"localhost"}, {"127.0.0.1"}, 90, Path("s.pem"), Path("s.key"));
  ASSERT_TRUE(server.ok());

  Result<std::vector<CertificateRecord>> records = ListCertificates(ca_);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 3u);
  const CertificateRecord& r0 = (*records)[0];
  EXPECT_EQ(r0.serial_hex, kofu.serial_hex);
  EXPECT_EQ(r0.kind, ClientKind::kMunicipalCs);
  EXPECT_EQ(r0.name, "甲府市 住基CS");
  EXPECT_EQ(r0.municipality_code, kKofu);
  EXPECT_EQ(r0.spki_sha256_hex, kofu.spki_sha256_hex);
  X509Ptr cert = LoadCert(kofu.cert_path);
  EXPECT_EQ(r0.not_after, Asn1ToUnix(X509_get0_notAfter(cert.get())));
  EXPECT_FALSE(r0.revoked_at.has_value());
  EXPECT_EQ((*records)[1].kind, ClientKind::kAgency);
  EXPECT_EQ((*records)[1].municipality_code, "");
  EXPECT_EQ((*records)[2].kind, std::nullopt);
  EXPECT_EQ((*records)[2].name, "localhost,127.0.0.1");

  // The documented text format, line by line.
  std::istringstream state(ReadFile(CaFile("ca.state")));
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(state, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "kakunin-ca-state v1");
  EXPECT_EQ(lines[1], "crl-number\t1");
  char not_after[32];
  time_t t = static_cast<time_t>(r0.not_after);
  struct tm tm {};
  gmtime_r(&t, &tm);
  std::strftime(not_after, sizeof(not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
  EXPECT_EQ(lines[2], "cert\t" + kofu.serial_hex + "\tmunicipal-cs\t192015\t" +
                          kofu.spki_sha256_hex + "\t" + not_after + "\t-\t甲府市 住基CS");
  EXPECT_TRUE(lines[3].starts_with("cert\t" + agency->serial_hex + "\tagency\t-\t")) << lines[3];
  EXPECT_TRUE(lines[4].starts_with("cert\t" + server->serial_hex + "\tserver\t-\t")) << lines[4];
  EXPECT_TRUE(lines[4].ends_with("\t-\tlocalhost,127.0.0.1")) << lines[4];
}

// ---------------------------------------------------------------------------------------------
// Server certificates.

TEST_F(PkiTest, ServerCertificateVerifiesAsAnSslServerWithItsNames) {
  CreateCa();
  Result<IssuedCert> issued =
      IssueServerCertificate(ca_, {"localhost", "Node.Example.JP"}, {"127.0.0.1", "::1"}, 30,
                             Path("server.pem"), Path("server.key"));
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_EQ(ModeOf(issued->key_path), 0600u);
  EXPECT_EQ(Verify(CaFile("ca.pem"), issued->cert_path, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(Verify(CaFile("ca.pem"), issued->cert_path, X509_PURPOSE_SSL_CLIENT),
            X509_V_ERR_INVALID_PURPOSE);

  X509Ptr cert = LoadCert(issued->cert_path);
  ASSERT_TRUE(cert);
  EXPECT_EQ(ExtendedKeyUsages(cert.get()), std::set<std::string>{"serverAuth"});
  EXPECT_EQ(AltNames(cert.get(), GEN_DNS),
            (std::vector<std::string>{"localhost", "node.example.jp"}));
  EXPECT_EQ(
      AltNames(cert.get(), GEN_IPADD),
      (std::vector<std::string>{std::string("\x7f\0\0\x01", 4), std::string(15, '\0') + "\x01"}));
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "node.example.jp", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "other.example.jp", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.2", 0), 0);
  EXPECT_EQ(CommonName(cert.get()).first, "localhost");
}

TEST_F(PkiTest, ServerCertificateWithOnlyAnAddress) {
  CreateCa();
  Result<IssuedCert> issued =
      IssueServerCertificate(ca_, {}, {"127.0.0.1"}, 30, Path("s.pem"), Path("s.key"));
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  X509Ptr cert = LoadCert(issued->cert_path);
  EXPECT_EQ(CommonName(cert.get()).first, "127.0.0.1");
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
}

// ---------------------------------------------------------------------------------------------
// SPKI SHA-256.

TEST_F(PkiTest, SpkiSha256MatchesIndependentComputations) {
  CreateCa();
  IssuedCert issued = IssueKofu("kofu");
  ASSERT_FALSE(issued.cert_path.empty());

  // i2d_PUBKEY (re-encoded from the key) and SHA-256 here.
  X509Ptr cert = LoadCert(issued.cert_path);
  ASSERT_TRUE(cert);
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(X509_get0_pubkey(cert.get()), &der);
  ASSERT_GT(len, 0);
  unsigned char digest[32];
  unsigned int digest_len = 0;
  ASSERT_EQ(EVP_Digest(der, static_cast<size_t>(len), digest, &digest_len, EVP_sha256(), nullptr),
            1);
  OPENSSL_free(der);
  const std::string expected =
      HexEncode(std::string_view(reinterpret_cast<char*>(digest), digest_len));
  EXPECT_EQ(issued.spki_sha256_hex, expected);

  // The openssl command-line tool.
  const std::string cli =
      RunShell("openssl x509 -in '" + issued.cert_path +
               "' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -r");
  EXPECT_EQ(cli.substr(0, 64), expected) << cli;

  Result<std::string> from_file = CertificateSpkiSha256File(issued.cert_path);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ(*from_file, expected);
  Result<std::string> from_pem = CertificateSpkiSha256(ReadFile(issued.cert_path));
  ASSERT_TRUE(from_pem.ok());
  EXPECT_EQ(*from_pem, expected);
  // The private key's public half gives the same value.
  EXPECT_EQ(RunShell("openssl pkey -in '" + issued.key_path +
                     "' -pubout -outform der | openssl dgst -sha256 -r")
                .substr(0, 64),
            expected);
}

TEST_F(PkiTest, SpkiSha256RefusesWhatIsNoCertificate) {
  EXPECT_EQ(CertificateSpkiSha256("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateSpkiSha256("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateSpkiSha256File(Path("absent.pem")).status().code(), StatusCode::kNotFound);
  CreateCa();
  // A key is not a certificate.
  EXPECT_EQ(CertificateSpkiSha256File(CaFile("ca.key")).status().code(),
            StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Revocation.

TEST_F(PkiTest, RevokedCertificateFailsWithTheCrlWhileOthersStillVerify) {
  CreateCa();
  IssuedCert revoked = IssueKofu("revoked");
  IssuedCert kept = IssueKofu("kept");
  const std::string ca = CaFile("ca.pem");
  const std::string crl = CaFile("crl.pem");
  ASSERT_EQ(Verify(ca, revoked.cert_path, X509_PURPOSE_SSL_CLIENT, crl), X509_V_OK);
  X509CrlPtr before = LoadCrl(crl);
  ASSERT_TRUE(before);

  const int64_t when = Now();
  Status st = RevokeCertificate(ca_, revoked.serial_hex);
  ASSERT_TRUE(st.ok()) << st.ToString();

  EXPECT_EQ(Verify(ca, revoked.cert_path, X509_PURPOSE_SSL_CLIENT, crl), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(Verify(ca, kept.cert_path, X509_PURPOSE_SSL_CLIENT, crl), X509_V_OK);
  // Without the CRL nothing can tell.
  EXPECT_EQ(Verify(ca, revoked.cert_path, X509_PURPOSE_SSL_CLIENT), X509_V_OK);

  X509CrlPtr after = LoadCrl(crl);
  ASSERT_TRUE(after);
  EXPECT_GT(CrlNumber(after.get()), CrlNumber(before.get()));
  EXPECT_EQ(CrlNumber(after.get()), 2);
  EXPECT_EQ(ModeOf(crl), 0644u);
  ASSERT_EQ(RevokedCount(after.get()), 1);
  ASSERT_NE(X509_CRL_get0_nextUpdate(after.get()), nullptr);
  EXPECT_GT(Asn1ToUnix(X509_CRL_get0_nextUpdate(after.get())), Now());

  Result<std::vector<CertificateRecord>> records = ListCertificates(ca_);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  ASSERT_TRUE((*records)[0].revoked_at.has_value());
  EXPECT_GE(*(*records)[0].revoked_at, when);
  EXPECT_FALSE((*records)[1].revoked_at.has_value());
}

TEST_F(PkiTest, RevocationIsIdempotentAndAcceptsTheSerialAsOpensslPrintsIt) {
  CreateCa();
  IssuedCert issued = IssueKofu("kofu");
  // `openssl x509 -serial` prints upper case, without leading zeros.
  std::string serial = RunShell("openssl x509 -in '" + issued.cert_path + "' -noout -serial");
  ASSERT_TRUE(serial.starts_with("serial=")) << serial;
  serial = serial.substr(7);
  while (!serial.empty() && (serial.back() == '\n' || serial.back() == '\r')) serial.pop_back();

  FixedClock first = ClockAt(Now() - 20);
  ASSERT_TRUE(RevokeCertificate(ca_, serial, first).ok());
  FixedClock second = ClockAt(Now() - 10);
  Status again = RevokeCertificate(ca_, issued.serial_hex, second);
  ASSERT_TRUE(again.ok()) << again.ToString();

  Result<std::vector<CertificateRecord>> records = ListCertificates(ca_);
  ASSERT_TRUE(records.ok());
  // The first revocation time stays.
  EXPECT_EQ((*records)[0].revoked_at, std::optional<int64_t>(first.NowMicros() / 1000000));
  X509CrlPtr crl = LoadCrl(CaFile("crl.pem"));
  EXPECT_EQ(CrlNumber(crl.get()), 3);
  EXPECT_EQ(ReadFile(CaFile("ca.state")).find("crl-number\t3\n"), 20u);
  EXPECT_EQ(Verify(CaFile("ca.pem"), issued.cert_path, X509_PURPOSE_SSL_CLIENT, CaFile("crl.pem")),
            X509_V_ERR_CERT_REVOKED);
}

TEST_F(PkiTest, RevocationRefusesUnknownAndMalformedSerials) {
  CreateCa();
  IssueKofu("kofu");
  const auto before = Snapshot();
  EXPECT_EQ(RevokeCertificate(ca_, std::string(32, '0')).code(), StatusCode::kNotFound);
  EXPECT_EQ(RevokeCertificate(ca_, "0123456789abcdef0123456789abcdef").code(),
            StatusCode::kNotFound);
  EXPECT_EQ(RevokeCertificate(ca_, "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RevokeCertificate(ca_, "xyz").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RevokeCertificate(ca_, "1" + std::string(32, '0')).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(RevokeCertificate(Path("nowhere"), std::string(32, '1')).code(), StatusCode::kNotFound);
}

TEST_F(PkiTest, RenewCrlRaisesTheNumberAndKeepsRevocations) {
  CreateCa();
  IssuedCert issued = IssueKofu("kofu");
  ASSERT_TRUE(RevokeCertificate(ca_, issued.serial_hex).ok());
  FixedClock later = ClockAt(Now() + 20 * kDay);
  Status st = RenewCrl(ca_, later);
  ASSERT_TRUE(st.ok()) << st.ToString();
  X509CrlPtr crl = LoadCrl(CaFile("crl.pem"));
  ASSERT_TRUE(crl);
  EXPECT_EQ(CrlNumber(crl.get()), 3);
  EXPECT_EQ(RevokedCount(crl.get()), 1);
  EXPECT_EQ(Asn1ToUnix(X509_CRL_get0_nextUpdate(crl.get())),
            later.NowMicros() / 1000000 + kCrlValidityDays * kDay);
}

TEST_F(PkiTest, AnExpiredCrlFailsVerification) {
  CreateCa();
  IssuedCert issued = IssueKofu("kofu");
  ASSERT_TRUE(RenewCrl(ca_, ClockAt(Now() - (kCrlValidityDays + 1) * kDay)).ok());
  EXPECT_EQ(Verify(CaFile("ca.pem"), issued.cert_path, X509_PURPOSE_SSL_CLIENT, CaFile("crl.pem")),
            X509_V_ERR_CRL_HAS_EXPIRED);
}

// ---------------------------------------------------------------------------------------------
// What must not verify.

TEST_F(PkiTest, CertificateOfAnotherCaDoesNotVerify) {
  CreateCa();
  const std::string other = Path("other-ca");
  ASSERT_TRUE(CreateCertificateAuthority(other, "Kakunin Test CA", 3650).ok());
  Result<IssuedCert> foreign = IssueClientCertificate(
      other,
      ClientCertRequest{
          .kind = ClientKind::kMunicipalCs, .name = "甲府市 住基CS", .municipality_code = kKofu},
      Path("foreign.pem"), Path("foreign.key"));
  ASSERT_TRUE(foreign.ok()) << foreign.status().ToString();
  // Same issuer name, another key: refused.
  EXPECT_THAT(Verify(CaFile("ca.pem"), foreign->cert_path, X509_PURPOSE_SSL_CLIENT),
              testing::AnyOf(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                             X509_V_ERR_CERT_SIGNATURE_FAILURE));
  EXPECT_EQ(Verify(other + "/ca.pem", foreign->cert_path, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
}

TEST_F(PkiTest, ExpiredCertificateFailsWithCertHasExpired) {
  CreateCa();
  FixedClock long_ago = ClockAt(Now() - 400 * kDay);
  Result<IssuedCert> expired = IssueClientCertificate(
      ca_, ClientCertRequest{.kind = ClientKind::kAgency, .name = "Old Agency", .days = 30},
      Path("old.pem"), Path("old.key"), long_ago);
  ASSERT_TRUE(expired.ok()) << expired.status().ToString();
  EXPECT_EQ(Verify(CaFile("ca.pem"), expired->cert_path, X509_PURPOSE_SSL_CLIENT),
            X509_V_ERR_CERT_HAS_EXPIRED);
  IssuedCert fresh = IssueKofu("fresh");
  EXPECT_EQ(Verify(CaFile("ca.pem"), fresh.cert_path, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
}

TEST_F(PkiTest, CertificateMayNotOutliveTheCa) {
  CreateCa(30);
  const auto before = Snapshot();
  Result<IssuedCert> issued = IssueClientCertificate(
      ca_, ClientCertRequest{.kind = ClientKind::kAgency, .name = "Agency", .days = 31},
      Path("a.pem"), Path("a.key"));
  EXPECT_EQ(issued.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Snapshot(), before);
  // An expired CA issues nothing.
  issued = IssueClientCertificate(
      ca_, ClientCertRequest{.kind = ClientKind::kAgency, .name = "Agency", .days = 1},
      Path("a.pem"), Path("a.key"), ClockAt(Now() + 31 * kDay));
  EXPECT_EQ(issued.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Snapshot(), before);
}

// ---------------------------------------------------------------------------------------------
// Malformed input.

TEST_F(PkiTest, BadRequestsAreRefusedAndWriteNothing) {
  CreateCa();
  const auto before = Snapshot();
  struct Case {
    const char* what;
    ClientCertRequest req;
  };
  const std::vector<Case> cases = {
      {"five digits", {ClientKind::kMunicipalCs, "CS", "19201", 365}},
      {"seven digits", {ClientKind::kMunicipalCs, "CS", "1920150", 365}},
      {"letter", {ClientKind::kMunicipalCs, "CS", "19201a", 365}},
      {"check digit", {ClientKind::kMunicipalCs, "CS", "192016", 365}},
      {"prefecture 48", {ClientKind::kMunicipalCs, "CS", "482013", 365}},
      {"prefecture code", {ClientKind::kMunicipalCs, "CS", "190004", 365}},
      {"no code", {ClientKind::kMunicipalCs, "CS", "", 365}},
      {"code for an agency", {ClientKind::kAgency, "Agency", kKofu, 365}},
      {"empty name", {ClientKind::kAgency, "", "", 365}},
      {"tab in name", {ClientKind::kAgency, "A\tB", "", 365}},
      {"newline in name", {ClientKind::kOperator, "A\nB", "", 365}},
      {"invalid UTF-8", {ClientKind::kAgency, "\xe7\x94", "", 365}},
      {"overlong UTF-8", {ClientKind::kAgency, "\xc0\xaf", "", 365}},
      {"surrogate", {ClientKind::kAgency, "\xed\xa0\x80", "", 365}},
      {"65 characters", {ClientKind::kAgency, std::string(65, 'a'), "", 365}},
      {"65 kanji",
       {ClientKind::kAgency,
        [] {
          std::string s;
          for (int i = 0; i < 65; ++i) s += "県";
          return s;
        }(),
        "", 365}},
      {"trailing space", {ClientKind::kAgency, "Agency ", "", 365}},
      {"zero days", {ClientKind::kAgency, "Agency", "", 0}},
      {"negative days", {ClientKind::kAgency, "Agency", "", -1}},
      {"unknown kind", {static_cast<ClientKind>(42), "Agency", "", 365}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Result<IssuedCert> issued = IssueClientCertificate(ca_, c.req, Path("c.pem"), Path("c.key"));
    EXPECT_EQ(issued.status().code(), StatusCode::kInvalidArgument) << issued.status().ToString();
    // The message never echoes the name or the code.
    EXPECT_EQ(issued.status().message().find("19201"), std::string::npos);
    EXPECT_EQ(Snapshot(), before);
  }
  // Exactly 64 characters is fine.
  std::string kanji64;
  for (int i = 0; i < 64; ++i) kanji64 += "県";
  EXPECT_TRUE(IssueClientCertificate(ca_, {ClientKind::kAgency, kanji64, "", 365}, Path("c.pem"),
                                     Path("c.key"))
                  .ok());
}

TEST_F(PkiTest, BadServerNamesAreRefused) {
  CreateCa();
  const auto before = Snapshot();
  struct Case {
    std::vector<std::string> dns;
    std::vector<std::string> ips;
    int days;
  };
  const std::vector<Case> cases = {
      {{}, {}, 30},
      {{""}, {}, 30},
      {{"*.example.jp"}, {}, 30},
      {{"bad_name"}, {}, 30},
      {{"-bad.example"}, {}, 30},
      {{"a..b"}, {}, 30},
      {{"localhost,DNS:evil"}, {}, 30},
      {{std::string(64, 'a') + ".jp"}, {}, 30},
      {{}, {"256.0.0.1"}, 30},
      {{}, {"127.0.0.1 "}, 30},
      {{}, {"localhost"}, 30},
      {{"localhost"}, {}, 0},
  };
  for (const Case& c : cases) {
    Result<IssuedCert> issued =
        IssueServerCertificate(ca_, c.dns, c.ips, c.days, Path("s.pem"), Path("s.key"));
    EXPECT_EQ(issued.status().code(), StatusCode::kInvalidArgument)
        << (c.dns.empty() ? "" : c.dns[0]) << (c.ips.empty() ? "" : c.ips[0]);
  }
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(PkiTest, ExistingKeyOrCertificateIsNeverOverwritten) {
  CreateCa();
  WriteFile(Path("taken.key"), "precious");
  Result<IssuedCert> issued = IssueClientCertificate(ca_, {ClientKind::kAgency, "Agency", "", 365},
                                                     Path("new.pem"), Path("taken.key"));
  EXPECT_EQ(issued.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(Path("taken.key")), "precious");
  EXPECT_FALSE(fs::exists(Path("new.pem")));

  WriteFile(Path("taken.pem"), "precious");
  issued = IssueServerCertificate(ca_, {"localhost"}, {}, 30, Path("taken.pem"), Path("new.key"));
  EXPECT_EQ(issued.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(Path("taken.pem")), "precious");
  EXPECT_FALSE(fs::exists(Path("new.key")));

  issued = IssueClientCertificate(ca_, {ClientKind::kAgency, "Agency", "", 365}, Path("same"),
                                  Path("same"));
  EXPECT_EQ(issued.status().code(), StatusCode::kInvalidArgument);

  Result<std::vector<CertificateRecord>> records = ListCertificates(ca_);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

// The key and the certificate path name the same file through a symlink, so the certificate
// cannot be put in place after the key was: the key is removed and the record taken back.
TEST_F(PkiTest, FailureToPlaceTheFilesTakesTheRecordBack) {
  CreateCa();
  ASSERT_EQ(::mkdir(Path("out").c_str(), 0700), 0);
  ASSERT_EQ(::symlink(Path("out").c_str(), Path("alias").c_str()), 0);
  const std::string before = ReadFile(CaFile("ca.state"));
  Result<IssuedCert> issued = IssueClientCertificate(ca_, {ClientKind::kAgency, "Agency", "", 365},
                                                     Path("out/c"), Path("alias/c"));
  EXPECT_EQ(issued.status().code(), StatusCode::kAlreadyExists) << issued.status().ToString();
  EXPECT_FALSE(fs::exists(Path("out/c")));
  EXPECT_TRUE(fs::is_empty(Path("out")));  // no temporary file either
  EXPECT_EQ(ReadFile(CaFile("ca.state")), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(ca_), fs::directory_iterator()), 4);
}

TEST_F(PkiTest, MissingCaDirectoryOrFileIsNotFound) {
  ClientCertRequest req{ClientKind::kAgency, "Agency", "", 365};
  Result<IssuedCert> issued =
      IssueClientCertificate(Path("nowhere"), req, Path("c.pem"), Path("c.key"));
  EXPECT_EQ(issued.status().code(), StatusCode::kNotFound) << issued.status().ToString();
  EXPECT_EQ(ListCertificates(Path("nowhere")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(RenewCrl(Path("nowhere")).code(), StatusCode::kNotFound);

  CreateCa();
  // The target directory does not exist.
  issued = IssueClientCertificate(ca_, req, Path("no/c.pem"), Path("no/c.key"));
  EXPECT_EQ(issued.status().code(), StatusCode::kNotFound) << issued.status().ToString();
  ASSERT_TRUE(ListCertificates(ca_).ok());
  EXPECT_TRUE(ListCertificates(ca_)->empty());

  ASSERT_EQ(::unlink(CaFile("ca.key").c_str()), 0);
  issued = IssueClientCertificate(ca_, req, Path("c.pem"), Path("c.key"));
  EXPECT_EQ(issued.status().code(), StatusCode::kNotFound) << issued.status().ToString();
  EXPECT_FALSE(fs::exists(Path("c.key")));
}

TEST_F(PkiTest, CaKeyReadableByOthersIsRefused) {
  CreateCa();
  ASSERT_EQ(::chmod(CaFile("ca.key").c_str(), 0640), 0);
  Result<IssuedCert> issued = IssueClientCertificate(ca_, {ClientKind::kAgency, "Agency", "", 365},
                                                     Path("c.pem"), Path("c.key"));
  EXPECT_EQ(issued.status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(fs::exists(Path("c.key")));
}

TEST_F(PkiTest, CaKeyOfAnotherCaIsDataLoss) {
  CreateCa();
  ASSERT_TRUE(CreateCertificateAuthority(Path("other"), "Other", 365).ok());
  fs::copy_file(Path("other/ca.key"), CaFile("ca.key"), fs::copy_options::overwrite_existing);
  Result<IssuedCert> issued = IssueClientCertificate(ca_, {ClientKind::kAgency, "Agency", "", 365},
                                                     Path("c.pem"), Path("c.key"));
  EXPECT_EQ(issued.status().code(), StatusCode::kDataLoss) << issued.status().ToString();
}

TEST_F(PkiTest, CorruptedStateIsDataLossAndNothingIsWritten) {
  CreateCa();
  IssuedCert issued = IssueKofu("kofu");
  const std::string good = ReadFile(CaFile("ca.state"));
  const std::string cert_line = good.substr(good.find("cert\t"));
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? s : s.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"header", replace("kakunin-ca-state v1", "kakunin-ca-state v2")},
      {"no final newline", good.substr(0, good.size() - 1)},
      {"crl number zero", replace("crl-number\t1", "crl-number\t0")},
      {"crl number leading zero", replace("crl-number\t1", "crl-number\t01")},
      {"crl number text", replace("crl-number\t1", "crl-number\tone")},
      {"crl number space", replace("crl-number\t1", "crl-number 1")},
      {"crl number huge", replace("crl-number\t1", "crl-number\t99999999999999999999")},
      {"serial upper case", replace(issued.serial_hex,
                                    [&] {
                                      std::string s = issued.serial_hex;
                                      for (char& c : s) c = static_cast<char>(std::toupper(c));
                                      return s == issued.serial_hex ? "X" + s.substr(1) : s;
                                    }())},
      {"serial short", replace(issued.serial_hex, issued.serial_hex.substr(1))},
      {"kind", replace("\tmunicipal-cs\t", "\tmunicipal\t")},
      {"municipality", replace("\t192015\t", "\t192016\t")},
      {"spki", replace(issued.spki_sha256_hex, issued.spki_sha256_hex.substr(2))},
      {"not-after", replace("Z\t-\t", "\t-\t")},
      {"revoked-at", replace("Z\t-\t", "Z\tyesterday\t")},
      {"empty name", replace("\t甲府市 住基CS\n", "\t\n")},
      {"extra field", replace("\t甲府市 住基CS\n", "\t甲府市\t住基CS\n")},
      {"blank line", good + "\n"},
      {"duplicate serial", good + cert_line},
      {"comment", good + "# comment\n"},
      {"truncated", good.substr(0, good.size() - 20)},
  };
  for (const auto& [what, contents] : cases) {
    SCOPED_TRACE(what);
    WriteFile(CaFile("ca.state"), contents);
    const auto before = Snapshot();
    Result<std::vector<CertificateRecord>> listed = ListCertificates(ca_);
    EXPECT_EQ(listed.status().code(), StatusCode::kDataLoss) << listed.status().ToString();
    // Names no contents, only where.
    EXPECT_EQ(listed.status().message().find("甲府"), std::string::npos);
    EXPECT_NE(listed.status().message().find("line"), std::string::npos);
    Result<IssuedCert> issued2 = IssueClientCertificate(
        ca_, {ClientKind::kAgency, "Agency", "", 365}, Path("c.pem"), Path("c.key"));
    EXPECT_EQ(issued2.status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(RevokeCertificate(ca_, issued.serial_hex).code(), StatusCode::kDataLoss);
    EXPECT_EQ(RenewCrl(ca_).code(), StatusCode::kDataLoss);
    EXPECT_EQ(Snapshot(), before);
  }
  WriteFile(CaFile("ca.state"), good);
  EXPECT_TRUE(ListCertificates(ca_).ok());
}

TEST_F(PkiTest, CorruptedCaCertificateIsDataLoss) {
  CreateCa();
  WriteFile(CaFile("ca.pem"), "not a certificate");
  Result<IssuedCert> issued = IssueClientCertificate(ca_, {ClientKind::kAgency, "Agency", "", 365},
                                                     Path("c.pem"), Path("c.key"));
  EXPECT_EQ(issued.status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(fs::exists(Path("c.key")));
}

// ---------------------------------------------------------------------------------------------
// Concurrency: the directory lock serialises writers, so no issuance is lost.

TEST_F(PkiTest, ConcurrentIssuanceLosesNoRecord) {
  CreateCa();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string base = Path("c" + std::to_string(t) + "_" + std::to_string(i));
        if (!IssueClientCertificate(ca_, {ClientKind::kOperator, "Operator", "", 30}, base + ".pem",
                                    base + ".key")
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  Result<std::vector<CertificateRecord>> records = ListCertificates(ca_);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(ClientKindTest, NamesRoundTrip) {
  for (ClientKind kind : {ClientKind::kMunicipalCs, ClientKind::kAgency, ClientKind::kNational,
                          ClientKind::kOperator}) {
    EXPECT_EQ(ParseClientKind(ClientKindName(kind)), kind);
  }
  EXPECT_EQ(ClientKindName(ClientKind::kMunicipalCs), "municipal-cs");
  EXPECT_EQ(ParseClientKind("server"), std::nullopt);
  EXPECT_EQ(ParseClientKind("Agency"), std::nullopt);
}

}  // namespace
}  // namespace kakunin::crypto
