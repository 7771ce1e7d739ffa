#include "audit/checkpoint.h"

#include <sodium.h>

#include <vector>

#include "audit/signer.h"
#include "core/bytes.h"
#include "crypto/sha256.h"
#include "text/json.h"

namespace kakunin::audit {
namespace {

constexpr std::string_view kEmDash = "\xE2\x80\x94";  // U+2014

std::string Base64(std::string_view bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// Strict: canonical padding, nothing ignored.
std::optional<std::string> FromBase64(std::string_view text, size_t max) {
  std::string out(max, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  if (Base64(out) != text) return std::nullopt;  // one spelling per value
  return out;
}

std::optional<int64_t> Decimal(std::string_view s) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace

std::string CheckpointMessage(int64_t tree_size, std::string_view root, int64_t time) {
  return "kakunin operation log v1\n" + std::to_string(tree_size) + "\n" + HexEncode(root) +
         "\n" + std::to_string(time) + "\n";
}

std::string CheckpointNoteText(const Checkpoint& c) {
  std::string out = c.origin + "\n" + std::to_string(c.tree_size) + "\n" + Base64(c.root) +
                    "\ntime " + std::to_string(c.time) + "\n";
  if (!c.map_root.empty()) out += "resident-map " + Base64(c.map_root) + "\n";
  return out;
}

std::string SignedMessage(const Checkpoint& c) {
  return c.origin.empty() ? CheckpointMessage(c.tree_size, c.root, c.time) : CheckpointNoteText(c);
}

bool VerifyCheckpoint(const Checkpoint& c, std::string_view public_key) {
  return c.root.size() == 32 && c.key_id == PublicKeyId(public_key) &&
         (c.origin.empty() || IsValidOrigin(c.origin)) &&
         (c.map_root.empty() || (c.map_root.size() == 32 && !c.origin.empty())) &&
         VerifySignature(public_key, SignedMessage(c), c.signature);
}

bool IsValidOrigin(std::string_view origin) {
  if (origin.empty() || origin.size() > kMaxOriginBytes) return false;
  for (char ch : origin) {
    if (ch <= ' ' || ch >= 0x7F || ch == '+') return false;
  }
  return true;
}

std::string NoteKeyHash(std::string_view key_name, std::string_view public_key) {
  std::string in(key_name);
  in.push_back('\n');
  in.push_back('\x01');  // Ed25519
  in.append(public_key);
  return crypto::Sha256(in).substr(0, 4);
}

std::string CheckpointToNote(const Checkpoint& c, std::string_view public_key) {
  return CheckpointNoteText(c) + "\n" + std::string(kEmDash) + " " + c.origin + " " +
         Base64(NoteKeyHash(c.origin, public_key) + c.signature) + "\n";
}

Result<Checkpoint> CheckpointFromNote(std::string_view note, std::string_view public_key) {
  const Status bad = Status::InvalidArgument("not a checkpoint note");
  if (note.size() > kMaxNoteBytes || note.empty() || note.back() != '\n') return bad;
  for (char ch : note) {
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n') return bad;
  }
  // The text ends at the last blank line; signatures follow.
  size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) return bad;
  std::string_view text = note.substr(0, split + 1);
  std::vector<std::string_view> lines = Lines(text);
  if (lines.size() < 4 || lines.size() > 5) return bad;
  Checkpoint c;
  c.origin = std::string(lines[0]);
  auto size = Decimal(lines[1]);
  auto root = FromBase64(lines[2], 64);
  if (!IsValidOrigin(c.origin) || !size || !root || root->size() != 32 ||
      !lines[3].starts_with("time ")) {
    return bad;
  }
  auto time = Decimal(lines[3].substr(5));
  if (!time) return bad;
  c.tree_size = *size;
  c.root = std::move(*root);
  c.time = *time;
  if (lines.size() == 5) {
    if (!lines[4].starts_with("resident-map ")) return bad;
    auto map = FromBase64(lines[4].substr(13), 64);
    if (!map || map->size() != 32) return bad;
    c.map_root = std::move(*map);
  }
  if (CheckpointNoteText(c) != text) return bad;  // one spelling per checkpoint
  std::vector<std::string_view> sigs = Lines(note.substr(split + 2));
  if (sigs.empty() || sigs.size() > 32) return bad;
  const std::string want = NoteKeyHash(c.origin, public_key);
  bool found = false;
  for (std::string_view line : sigs) {
    if (!line.starts_with(kEmDash) || line.size() < kEmDash.size() + 1 ||
        line[kEmDash.size()] != ' ') {
      return bad;
    }
    std::string_view rest = line.substr(kEmDash.size() + 1);
    size_t space = rest.find(' ');
    if (space == std::string_view::npos || space == 0) return bad;
    std::string_view name = rest.substr(0, space);
    auto sig = FromBase64(rest.substr(space + 1), 8192);
    if (!sig || sig->size() < 5) return bad;
    if (found || name != c.origin || sig->substr(0, 4) != want) continue;  // another key's
    if (sig->size() != 4 + 64) return bad;
    c.signature = sig->substr(4);
    found = true;
  }
  if (!found) return Status::InvalidArgument(std::string(kNoSignatureByThisKey));
  c.key_id = PublicKeyId(public_key);
  return c;
}

Result<Checkpoint> ParseCheckpoint(std::string_view text, std::string_view public_key) {
  size_t i = text.find_first_not_of(" \t\r\n");
  if (i != std::string_view::npos && text[i] == '{') return CheckpointFromJson(text);
  return CheckpointFromNote(text, public_key);
}

std::string CheckpointToJson(const Checkpoint& c) {
  std::string out = "{\"tree_size\":" + std::to_string(c.tree_size) + ",\"root\":\"" +
                    HexEncode(c.root) + "\",\"time\":" + std::to_string(c.time) + ",\"key_id\":";
  text::AppendJsonString(c.key_id, &out);  // from the database: never trusted as JSON
  out += ",\"signature\":\"" + HexEncode(c.signature) + "\"";
  if (!c.origin.empty()) {
    out += ",\"origin\":";
    text::AppendJsonString(c.origin, &out);
    if (!c.map_root.empty()) out += ",\"map_root\":\"" + HexEncode(c.map_root) + "\"";
  }
  return out + "}";
}

Result<Checkpoint> CheckpointFromJson(std::string_view json) {
  auto v = text::ParseJson(json, {.max_bytes = 4096, .max_depth = 2});
  if (!v.ok() || !v->is_object() || v->members().size() < 5 || v->members().size() > 7) {
    return Status::InvalidArgument("not a checkpoint");
  }
  const text::JsonValue* size = v->Find("tree_size");
  const text::JsonValue* root = v->Find("root");
  const text::JsonValue* time = v->Find("time");
  const text::JsonValue* key = v->Find("key_id");
  const text::JsonValue* sig = v->Find("signature");
  const text::JsonValue* origin = v->Find("origin");
  const text::JsonValue* map = v->Find("map_root");
  const size_t expected = 5 + (origin ? 1 : 0) + (map ? 1 : 0);
  if (!size || !root || !time || !key || !sig || !size->AsInt64() || !time->AsInt64() ||
      !root->is_string() || !key->is_string() || !sig->is_string() || *size->AsInt64() < 0 ||
      v->members().size() != expected || (map && !origin) ||
      (origin && (!origin->is_string() || !IsValidOrigin(origin->text()))) ||
      (map && !map->is_string())) {
    return Status::InvalidArgument("not a checkpoint");
  }
  auto r = HexDecode(root->text());
  auto s = HexDecode(sig->text());
  if (!r || r->size() != 32 || !s || s->size() != 64) {
    return Status::InvalidArgument("not a checkpoint");
  }
  Checkpoint c{*size->AsInt64(), *r, *time->AsInt64(), key->text(), *s, "", ""};
  if (origin) c.origin = origin->text();
  if (map) {
    auto m = HexDecode(map->text());
    if (!m || m->size() != 32) return Status::InvalidArgument("not a checkpoint");
    c.map_root = std::move(*m);
  }
  return c;
}

}  // namespace kakunin::audit
