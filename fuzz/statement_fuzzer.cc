// Fuzzes the access statement past its signature (audit/statement.h): audit_v2_fuzzer parses
// statements, but under a fixed key no checkpoint verifies, so CheckStatement stops at the
// note. Here the statement's checkpoint is replaced by one signed with this process's own key,
// over a root and map root taken from the input, so the entry, target, inclusion, chain, map
// membership and absence, code-change linking across parts (one per resident code), and
// consistency checks all run on what the fuzzer makes. Statements of version 1 (one code at the
// top level) and version 2 (parts) are both read.
// Also: ParseCheckpoint (JSON or note) under that key.
//
// Input: selector byte; for statements 32 bytes root ‖ 32 bytes map root ‖ 1 byte earlier
// checkpoint's size delta ‖ the statement JSON. Nothing may crash; a statement that parses must
// re-encode to JSON that parses to the same.

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "audit/checkpoint.h"
#include "audit/log.h"
#include "audit/signer.h"
#include "audit/statement.h"

namespace {

const kakunin::audit::Signer& FuzzSigner() {
  static const kakunin::audit::Signer* signer = [] {
    std::string dir = "/tmp/kakunin_statement_fuzz_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    if (!kakunin::audit::CreateSigningKeyFile(dir + "/k").ok()) std::abort();
    auto s = kakunin::audit::LoadSigningKeyFile(dir + "/k");
    if (!s.ok()) std::abort();
    std::filesystem::remove_all(dir);
    return s->release();
  }();
  return *signer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kakunin::audit;
  if (size == 0) return 0;
  const Signer& signer = FuzzSigner();
  const std::string& key = signer.public_key();
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 1) {
    auto c = ParseCheckpoint(input, key);
    if (c.ok()) {
      (void)VerifyCheckpoint(*c, key);
      auto back = CheckpointFromJson(CheckpointToJson(*c));
      if (!back.ok() || back->tree_size != c->tree_size || back->root != c->root) std::abort();
    }
    return 0;
  }
  if (input.size() < 65) return 0;
  const std::string root = input.substr(0, 32);
  const std::string map_root = input.substr(32, 32);
  const uint8_t delta = static_cast<uint8_t>(input[64]);
  auto s = StatementFromJson(std::string_view(input).substr(65));
  if (!s.ok()) return 0;
  auto again = StatementFromJson(StatementToJson(*s));
  if (!again.ok() || StatementToJson(*again) != StatementToJson(*s)) std::abort();
  // Its checkpoint, re-signed: as large as its entries need (or as the fuzzer says).
  Checkpoint c;
  int64_t last = -1;
  for (const auto& part : s->parts) {
    if (!part.entries.empty()) last = std::max(last, part.entries.back().seq);
  }
  if (last > INT64_MAX - 16) return 0;
  c.tree_size = last + 1 + delta % 8;
  if (c.tree_size <= 0) return 0;
  c.root = root;
  c.time = 1;
  c.key_id = signer.key_id();
  c.origin = DefaultOrigin(signer);
  c.map_root = map_root;
  auto sig = signer.Sign(SignedMessage(c));
  if (!sig.ok()) std::abort();
  c.signature = *sig;
  s->checkpoint_note = CheckpointToNote(c, key);
  auto alone = CheckStatement(*s, key, std::nullopt);
  if (alone.ok && (alone.codes != static_cast<int64_t>(s->parts.size()) || alone.codes < 1)) {
    std::abort();  // the summary must say over how many codes
  }
  // Against an earlier (or, when the delta says so, a newer) checkpoint.
  Checkpoint earlier = c;
  earlier.tree_size = (delta & 0x80) ? c.tree_size + 1 : std::max<int64_t>(1, c.tree_size - delta);
  earlier.map_root.clear();
  sig = signer.Sign(SignedMessage(earlier));
  if (!sig.ok()) std::abort();
  earlier.signature = *sig;
  auto check = CheckStatement(*s, key, earlier);
  if (check.ok && earlier.tree_size > c.tree_size) std::abort();  // a stale statement passed
  return 0;
}
