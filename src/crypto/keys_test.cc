#include "crypto/keys.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.h"
#include "crypto/key_file.h"

namespace kakunin::crypto {
namespace {

constexpr std::string_view kAeadHex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr std::string_view kHmacHex =
    "f0e1d2c3b4a5968778695a4b3c2d1e0fffeeddccbbaa99887766554433221100";

std::string ValidFile() {
  return "kakunin-keys v1\naead " + std::string(kAeadHex) + "\nhmac " + std::string(kHmacHex) +
         "\n";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class KeysTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "kakunin_keys_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/node.keys";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `contents` to path_ with `mode`, as an operator or a damaged disk might.
  void WriteKeyFile(std::string_view contents, mode_t mode = 0600) {
    std::filesystem::remove(path_);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    ASSERT_EQ(::close(fd), 0);
    ASSERT_EQ(::chmod(path_.c_str(), mode), 0);  // whatever the umask
  }

  std::string dir_;
  std::string path_;
};

TEST_F(KeysTest, CreateThenLoadGivesTheSameKeys) {
  ASSERT_TRUE(CreateKeyFile(path_).ok());
  Result<NodeKeys> first = LoadKeyFile(path_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->aead_key.size(), kKeySize);
  EXPECT_EQ(first->hmac_key.size(), kKeySize);
  EXPECT_NE(first->aead_key, first->hmac_key);
  Result<NodeKeys> second = LoadKeyFile(path_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->aead_key, second->aead_key);
  EXPECT_EQ(first->hmac_key, second->hmac_key);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

// Key commands run at once (two operators, a script and a person) each read the file and
// write it back: without a lock one's new key could be lost, with every value sealed under it
// (found in review). Each added key is kept.
TEST_F(KeysTest, FieldKeysAddedAtOnceAreAllKept) {
  ASSERT_TRUE(CreateKeyFile(path_).ok());
  constexpr int kAdders = 6;  // 7 keys in all, under the file's limit of 8
  std::vector<std::string> added(kAdders);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAdders; ++i) {
    threads.emplace_back([&, i] {
      auto id = AddFieldKey(path_, nullptr);
      if (id.ok()) added[i] = *id;
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0;
  for (const auto& id : added) ok += !id.empty();
  auto keys = LoadNodeKeyFile(path_, nullptr);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(ok, kAdders) << "an adder failed (a temporary file left by another?)";
  EXPECT_EQ(static_cast<int>(keys->previous_aead_keys.size()), ok);
}

// Retiring removes the older keys only if the current key is still the one the caller counted
// the values against (found in review: a key added meanwhile became current, and the key every
// value was sealed under went as an older one).
TEST_F(KeysTest, OlderKeysAreRetiredOnlyUnderTheCurrentKeyTheyWereCountedAgainst) {
  ASSERT_TRUE(CreateKeyFile(path_).ok());
  auto counted = AddFieldKey(path_, nullptr);  // the key the values were re-sealed under
  ASSERT_TRUE(counted.ok());
  auto added = AddFieldKey(path_, nullptr);  // added by another command meanwhile
  ASSERT_TRUE(added.ok());
  const std::string before = ReadFile(path_);
  auto id = HexDecode(*counted);
  ASSERT_TRUE(id.has_value());
  auto refused = RetireOldFieldKeys(path_, nullptr, *id);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(path_), before);
  auto now_current = HexDecode(*added);
  ASSERT_TRUE(now_current.has_value());
  auto retired = RetireOldFieldKeys(path_, nullptr, *now_current);
  ASSERT_TRUE(retired.ok()) << retired.status().ToString();
  EXPECT_EQ(*retired, 2);
}

// Found in review: a key file replaced (a key retired, the keys wrapped) was renamed over, and
// its blocks, retired keys and all, were freed as they were. The old file is overwritten with
// zeros before it goes: read through a descriptor held on it from before, it holds zeros.
TEST_F(KeysTest, AReplacedKeyFileIsOverwrittenBeforeItGoes) {
  ASSERT_TRUE(CreateKeyFile(path_).ok());
  const int held = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(held, &st), 0);
  ASSERT_GT(st.st_size, 0);
  auto added = AddFieldKey(path_, nullptr);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  std::string old(static_cast<size_t>(st.st_size), 'x');
  ASSERT_EQ(::pread(held, old.data(), old.size(), 0), static_cast<ssize_t>(old.size()));
  ::close(held);
  EXPECT_EQ(old, std::string(old.size(), '\0'));
  EXPECT_FALSE(std::filesystem::exists(path_ + ".old"));
  auto loaded = LoadNodeKeyFile(path_, nullptr);  // the new one is whole
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->previous_aead_keys.size(), 1u);
  // A file with another name is not zeroed, only unlinked: an administrator's hard-linked
  // copy, or `.old` left naming the live file by a replacement interrupted between its link and
  // its rename (found in review: the next replacement zeroed the live keys first).
  const std::string copy = path_ + ".copy";
  ASSERT_EQ(::link(path_.c_str(), copy.c_str()), 0);
  ASSERT_EQ(::link(path_.c_str(), (path_ + ".old").c_str()), 0);
  ASSERT_TRUE(AddFieldKey(path_, nullptr).ok());
  auto kept = LoadNodeKeyFile(copy, nullptr);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->previous_aead_keys.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".old"));
  EXPECT_TRUE(LoadNodeKeyFile(path_, nullptr).ok());
}

TEST_F(KeysTest, FileHasTheDocumentedFormat) {
  ASSERT_TRUE(CreateKeyFile(path_).ok());
  Result<NodeKeys> keys = LoadKeyFile(path_);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(ReadFile(path_), "kakunin-keys v1\naead " + HexEncode(keys->aead_key) + "\nhmac " +
                                 HexEncode(keys->hmac_key) + "\n");
}

TEST_F(KeysTest, EachFileGetsFreshKeys) {
  const std::string other = dir_ + "/other.keys";
  ASSERT_TRUE(CreateKeyFile(path_).ok());
  ASSERT_TRUE(CreateKeyFile(other).ok());
  Result<NodeKeys> a = LoadKeyFile(path_);
  Result<NodeKeys> b = LoadKeyFile(other);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->aead_key, b->aead_key);
  EXPECT_NE(a->hmac_key, b->hmac_key);
}

TEST_F(KeysTest, CreateNeverOverwrites) {
  ASSERT_TRUE(CreateKeyFile(path_).ok());
  const std::string before = ReadFile(path_);
  Status second = CreateKeyFile(path_);
  EXPECT_EQ(second.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(path_), before);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(KeysTest, CreateRefusesWhenATemporaryFileIsLeft) {
  std::ofstream(path_ + ".tmp") << "left by a crash";
  EXPECT_EQ(CreateKeyFile(path_).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(path_));
  EXPECT_EQ(ReadFile(path_ + ".tmp"), "left by a crash");
}

TEST_F(KeysTest, CreateInAMissingDirectoryIsAnIoError) {
  EXPECT_EQ(CreateKeyFile(dir_ + "/missing/node.keys").code(), StatusCode::kIoError);
}

TEST_F(KeysTest, CreatedFileIsOwnerOnly) {
  const mode_t old_umask = ::umask(0);  // the mode must not depend on the caller's umask
  Status created = CreateKeyFile(path_);
  ::umask(old_umask);
  ASSERT_TRUE(created.ok());
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(KeysTest, LoadMissingFileIsNotFound) {
  Result<NodeKeys> keys = LoadKeyFile(path_);
  EXPECT_EQ(keys.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(keys.status().message(), "key file not found: " + path_);
}

TEST_F(KeysTest, LoadsAHandWrittenFileWithOrWithoutTheFinalNewline) {
  for (std::string contents : {ValidFile(), ValidFile().substr(0, ValidFile().size() - 1)}) {
    WriteKeyFile(contents);
    Result<NodeKeys> keys = LoadKeyFile(path_);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    EXPECT_EQ(HexEncode(keys->aead_key), kAeadHex);
    EXPECT_EQ(HexEncode(keys->hmac_key), kHmacHex);
  }
}

TEST_F(KeysTest, AnyCorruptionIsDataLoss) {
  const std::string aead = "aead " + std::string(kAeadHex);
  const std::string hmac = "hmac " + std::string(kHmacHex);
  std::string non_hex = ValidFile();
  non_hex[30] = 'g';
  std::string upper_case = ValidFile();
  upper_case[30] = 'A';
  const struct {
    const char* name;
    std::string contents;
  } cases[] = {
      {"empty file", ""},
      {"bad header", "kakunin-keys v2\n" + aead + "\n" + hmac + "\n"},
      {"header with trailing space", "kakunin-keys v1 \n" + aead + "\n" + hmac + "\n"},
      {"short hex", "kakunin-keys v1\n" + aead.substr(0, aead.size() - 2) + "\n" + hmac + "\n"},
      {"long hex", "kakunin-keys v1\n" + aead + "00\n" + hmac + "\n"},
      {"non-hex character", non_hex},
      {"upper-case hex", upper_case},
      {"extra line", ValidFile() + "note: backup copy\n"},
      {"blank line at the end", ValidFile() + "\n"},
      {"swapped lines", "kakunin-keys v1\n" + hmac + "\n" + aead + "\n"},
      {"missing hmac line", "kakunin-keys v1\n" + aead + "\n"},
      {"truncated file", ValidFile().substr(0, 100)},
      {"CRLF line ends", "kakunin-keys v1\r\n" + aead + "\r\n" + hmac + "\r\n"},
      {"two spaces after label", "kakunin-keys v1\naead  " + std::string(kAeadHex) + "\n" + hmac},
      {"over 4 KiB", ValidFile() + std::string(5000, '#')},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    WriteKeyFile(c.contents);
    Result<NodeKeys> keys = LoadKeyFile(path_);
    EXPECT_EQ(keys.status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(keys.status().message(), "key file is malformed");
  }
}

TEST_F(KeysTest, FileOpenToGroupOrOthersIsRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0601, 0610}) {
    SCOPED_TRACE(mode);
    WriteKeyFile(ValidFile(), mode);
    Result<NodeKeys> keys = LoadKeyFile(path_);
    EXPECT_EQ(keys.status().code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(keys.status().message(),
              "key file must not be readable by group or others (chmod 600)");
  }
  WriteKeyFile(ValidFile(), 0400);
  EXPECT_TRUE(LoadKeyFile(path_).ok());
}

TEST_F(KeysTest, DirectoryIsNotAKeyFile) {
  ASSERT_TRUE(std::filesystem::create_directory(path_));
  EXPECT_EQ(LoadKeyFile(path_).status().code(), StatusCode::kFailedPrecondition);
}

TEST(KeyIdTest, IsTheDocumentedHmacPrefix) {
  NodeKeys keys{.aead_key = std::string(kKeySize, 'a'), .hmac_key = std::string(kKeySize, 'h')};
  constexpr std::string_view kLabel = "kakunin key id v1";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  ASSERT_NE(
      HMAC(EVP_sha256(), keys.hmac_key.data(), static_cast<int>(keys.hmac_key.size()),
           reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size(), mac, &mac_size),
      nullptr);
  const std::string expected =
      HexEncode(std::string_view(reinterpret_cast<const char*>(mac), mac_size)).substr(0, 16);
  EXPECT_EQ(KeyId(keys), expected);
}

TEST(KeyIdTest, IsStableAndTellsKeysApart) {
  NodeKeys keys{.aead_key = std::string(kKeySize, 'a'), .hmac_key = std::string(kKeySize, 'h')};
  NodeKeys same{.aead_key = std::string(kKeySize, 'a'), .hmac_key = std::string(kKeySize, 'h')};
  NodeKeys other{.aead_key = std::string(kKeySize, 'a'), .hmac_key = std::string(kKeySize, 'i')};
  const std::string id = KeyId(keys);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id, KeyId(keys));
  EXPECT_EQ(id, KeyId(same));
  EXPECT_NE(id, KeyId(other));
}

}  // namespace
}  // namespace kakunin::crypto
