#include "audit/checkpoint.h"

#include "audit/signer.h"
#include "core/bytes.h"
#include "text/json.h"

namespace kakunin::audit {

std::string CheckpointMessage(int64_t tree_size, std::string_view root, int64_t time) {
  return "kakunin operation log v1\n" + std::to_string(tree_size) + "\n" + HexEncode(root) +
         "\n" + std::to_string(time) + "\n";
}

bool VerifyCheckpoint(const Checkpoint& c, std::string_view public_key) {
  return c.root.size() == 32 && c.key_id == PublicKeyId(public_key) &&
         VerifySignature(public_key, CheckpointMessage(c.tree_size, c.root, c.time), c.signature);
}

std::string CheckpointToJson(const Checkpoint& c) {
  std::string out = "{\"tree_size\":" + std::to_string(c.tree_size) + ",\"root\":\"" +
                    HexEncode(c.root) + "\",\"time\":" + std::to_string(c.time) + ",\"key_id\":";
  text::AppendJsonString(c.key_id, &out);  // from the database: never trusted as JSON
  return out + ",\"signature\":\"" + HexEncode(c.signature) + "\"}";
}

Result<Checkpoint> CheckpointFromJson(std::string_view json) {
  auto v = text::ParseJson(json, {.max_bytes = 4096, .max_depth = 2});
  if (!v.ok() || !v->is_object() || v->members().size() != 5) {
    return Status::InvalidArgument("not a checkpoint");
  }
  const text::JsonValue* size = v->Find("tree_size");
  const text::JsonValue* root = v->Find("root");
  const text::JsonValue* time = v->Find("time");
  const text::JsonValue* key = v->Find("key_id");
  const text::JsonValue* sig = v->Find("signature");
  if (!size || !root || !time || !key || !sig || !size->AsInt64() || !time->AsInt64() ||
      !root->is_string() || !key->is_string() || !sig->is_string() || *size->AsInt64() < 0) {
    return Status::InvalidArgument("not a checkpoint");
  }
  auto r = HexDecode(root->text());
  auto s = HexDecode(sig->text());
  if (!r || r->size() != 32 || !s || s->size() != 64) {
    return Status::InvalidArgument("not a checkpoint");
  }
  return Checkpoint{*size->AsInt64(), *r, *time->AsInt64(), key->text(), *s};
}

}  // namespace kakunin::audit
