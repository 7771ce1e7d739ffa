#include "audit/statement.h"

#include <algorithm>
#include <map>

#include "audit/entry.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/targets.h"
#include "core/bytes.h"
#include "text/json.h"

namespace kakunin::audit {
namespace {

constexpr char kFormat[] = "kakunin-access-statement";

void HexArray(const std::vector<std::string>& hashes, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i) out->push_back(',');
    out->append("\"" + HexEncode(hashes[i]) + "\"");
  }
  out->push_back(']');
}

std::optional<std::string> Hex(const text::JsonValue* v, size_t max) {
  if (!v || !v->is_string() || v->text().size() > 2 * max) return std::nullopt;
  return HexDecode(v->text());
}

std::optional<std::vector<std::string>> Hashes(const text::JsonValue* v, size_t max_items) {
  if (!v || !v->is_array() || v->items().size() > max_items) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : v->items()) {
    auto h = Hex(&item, 32);
    if (!h || h->size() != 32) return std::nullopt;
    out.push_back(std::move(*h));
  }
  return out;
}

std::optional<int64_t> Int(const text::JsonValue* v) {
  if (!v) return std::nullopt;
  auto i = v->AsInt64();
  if (!i || *i < 0) return std::nullopt;
  return *i;
}

}  // namespace

Result<Statement> BuildStatement(store::RegistryReader& reader, std::string_view public_key,
                                 std::string_view key, std::optional<int64_t> old_size) {
  if (key.size() != kMapKeySize) return Status::InvalidArgument("a resident key is 32 bytes");
  KAKUNIN_ASSIGN_OR_RETURN(cps, reader.Checkpoints());
  // The newest checkpoint that signs the map (the stored map is as of it).
  auto signs_map = std::find_if(cps.rbegin(), cps.rend(),
                                [](const store::CheckpointRow& c) { return !c.map_root.empty(); });
  if (signs_map == cps.rend()) {
    return Status::FailedPrecondition("no checkpoint signs a resident map yet");
  }
  const Checkpoint cp = CheckpointOf(*signs_map);
  Statement s;
  s.checkpoint_note = CheckpointToNote(cp, public_key);
  s.resident_key = std::string(key);
  // The entries naming the key, by any status, in log order, up to the checkpoint.
  std::map<int64_t, store::AuditRow> rows;
  for (auto status : {TargetStatus::kNone, TargetStatus::kFound, TargetStatus::kMissing}) {
    store::AuditQuery q;
    q.target = TargetName(TargetLeaf{std::string(key), status, ""});
    q.limit = static_cast<int>(kMaxStatementEntries);
    KAKUNIN_ASSIGN_OR_RETURN(some, reader.SearchAudit(q));
    for (auto& r : some) {
      if (r.seq < cp.tree_size) rows.emplace(r.seq, std::move(r));
    }
  }
  if (rows.empty()) return Status::NotFound("no entry names this resident");
  for (const auto& [seq, row] : rows) {
    KAKUNIN_ASSIGN_OR_RETURN(e, DecodeStoredEntry(row));
    if (e.version == kEntryVersion1) continue;  // the map covers version-2 (and 3) entries only
    auto leaves = DecodeTargetLeaves(row.targets.value_or(std::string()));
    if (!leaves.ok()) return leaves.status();
    size_t at = leaves->size();
    for (size_t i = 0; i < leaves->size() && at == leaves->size(); ++i) {
      if ((*leaves)[i].mac == key) at = i;
    }
    if (at == leaves->size()) continue;
    StatementEntry se;
    se.seq = seq;
    se.payload = *row.payload;
    se.target_index = static_cast<uint32_t>(at);
    se.target_leaf = EncodeTargetLeaves({(*leaves)[at]});
    se.target_path = TargetPath(*leaves, at);
    KAKUNIN_ASSIGN_OR_RETURN(inc, ProveInclusion(reader, seq, cp.tree_size));
    se.inclusion = std::move(inc.path);
    s.entries.push_back(std::move(se));
  }
  ReaderMapNodes nodes(reader);
  KAKUNIN_ASSIGN_OR_RETURN(proof, ProveMapKey(nodes, key));
  s.map_proof = std::move(proof);
  if (old_size) {
    KAKUNIN_ASSIGN_OR_RETURN(con, ProveConsistency(reader, *old_size, cp.tree_size));
    s.consistency_old_size = *old_size;
    s.consistency_path = std::move(con.path);
  }
  return s;
}

std::string StatementToJson(const Statement& s) {
  std::string out = std::string("{\"format\":\"") + kFormat + "\",\"version\":1,\"checkpoint\":";
  text::AppendJsonString(s.checkpoint_note, &out);
  out += ",\"resident_key\":\"" + HexEncode(s.resident_key) + "\",\"map_proof\":{\"depth\":" +
         std::to_string(s.map_proof.depth) + ",\"bitmap\":\"" + HexEncode(s.map_proof.bitmap) +
         "\",\"siblings\":";
  HexArray(s.map_proof.siblings, &out);
  out += "},\"entries\":[";
  for (size_t i = 0; i < s.entries.size(); ++i) {
    const StatementEntry& e = s.entries[i];
    if (i) out += ",";
    out += "{\"seq\":" + std::to_string(e.seq) + ",\"payload\":\"" + HexEncode(e.payload) +
           "\",\"target_index\":" + std::to_string(e.target_index) + ",\"target_leaf\":\"" +
           HexEncode(e.target_leaf) + "\",\"target_path\":";
    HexArray(e.target_path, &out);
    out += ",\"inclusion\":";
    HexArray(e.inclusion, &out);
    out += "}";
  }
  out += "]";
  if (s.consistency_old_size) {
    out += ",\"consistency\":{\"old_size\":" + std::to_string(*s.consistency_old_size) +
           ",\"path\":";
    HexArray(s.consistency_path, &out);
    out += "}";
  }
  return out + "}";
}

Result<Statement> StatementFromJson(std::string_view json) {
  const Status bad = Status::InvalidArgument("not an access statement");
  auto v = text::ParseJson(json, {.max_bytes = kMaxStatementBytes, .max_depth = 5});
  if (!v.ok() || !v->is_object()) return bad;
  const auto* format = v->Find("format");
  const auto* version = v->Find("version");
  const auto* note = v->Find("checkpoint");
  const auto* con = v->Find("consistency");
  if (!format || format->text() != kFormat || !version || version->AsInt64() != 1 || !note ||
      !note->is_string() || note->text().size() > kMaxNoteBytes ||
      v->members().size() != (con ? 7u : 6u)) {
    return bad;
  }
  Statement s;
  s.checkpoint_note = note->text();
  auto key = Hex(v->Find("resident_key"), kMapKeySize);
  if (!key || key->size() != kMapKeySize) return bad;
  s.resident_key = std::move(*key);
  const auto* mp = v->Find("map_proof");
  if (!mp || !mp->is_object() || mp->members().size() != 3) return bad;
  auto depth = Int(mp->Find("depth"));
  auto bitmap = Hex(mp->Find("bitmap"), kMapKeySize);
  auto siblings = Hashes(mp->Find("siblings"), 8 * kMapKeySize);
  if (!depth || *depth > 8 * static_cast<int64_t>(kMapKeySize) || !bitmap || !siblings) return bad;
  s.map_proof = MapProof{static_cast<uint32_t>(*depth), std::move(*bitmap), std::move(*siblings)};
  const auto* entries = v->Find("entries");
  if (!entries || !entries->is_array() || entries->items().size() > kMaxStatementEntries) {
    return bad;
  }
  for (const auto& item : entries->items()) {
    if (!item.is_object() || item.members().size() != 6) return bad;
    StatementEntry e;
    auto seq = Int(item.Find("seq"));
    auto payload = Hex(item.Find("payload"), 1 << 20);
    auto index = Int(item.Find("target_index"));
    auto leaf = Hex(item.Find("target_leaf"), kTargetMacSize + 2 + 32);
    auto path = Hashes(item.Find("target_path"), 64);
    auto inclusion = Hashes(item.Find("inclusion"), 64);
    if (!seq || !payload || !index || *index > UINT32_MAX || !leaf || !path || !inclusion) {
      return bad;
    }
    e.seq = *seq;
    e.payload = std::move(*payload);
    e.target_index = static_cast<uint32_t>(*index);
    e.target_leaf = std::move(*leaf);
    e.target_path = std::move(*path);
    e.inclusion = std::move(*inclusion);
    s.entries.push_back(std::move(e));
  }
  if (con) {
    if (!con->is_object() || con->members().size() != 2) return bad;
    auto old_size = Int(con->Find("old_size"));
    auto path = Hashes(con->Find("path"), 128);
    if (!old_size || !path) return bad;
    s.consistency_old_size = *old_size;
    s.consistency_path = std::move(*path);
  }
  return s;
}

StatementCheck CheckStatement(const Statement& s, std::string_view public_key,
                              const std::optional<Checkpoint>& earlier) {
  StatementCheck r;
  auto fail = [&](std::string why) {
    r.problem = std::move(why);
    return r;
  };
  auto cp = CheckpointFromNote(s.checkpoint_note, public_key);
  if (!cp.ok()) return fail("the checkpoint is not a note signed by this key");
  if (!VerifyCheckpoint(*cp, public_key)) return fail("the checkpoint's signature does not verify");
  if (cp->map_root.size() != 32) return fail("the checkpoint signs no resident map");
  r.tree_size = cp->tree_size;
  if (s.resident_key.size() != kMapKeySize) return fail("the resident key is malformed");
  std::string head = MapEmpty();
  int64_t last_seq = -1;
  for (const StatementEntry& e : s.entries) {
    const std::string at = "entry " + std::to_string(e.seq);
    if (e.seq <= last_seq) return fail(at + " is out of order or repeated");
    last_seq = e.seq;
    if (e.seq >= cp->tree_size) return fail(at + " is beyond the signed checkpoint");
    auto entry = DecodeEntry(e.payload);
    if (!entry.ok() || entry->version == kEntryVersion1) return fail(at + " does not decode");
    if (static_cast<int64_t>(entry->sequence) != e.seq) return fail(at + " holds another entry");
    auto leaves = DecodeTargetLeaves(e.target_leaf);
    if (!leaves.ok() || leaves->size() != 1) return fail(at + ": its target leaf is malformed");
    if ((*leaves)[0].mac != s.resident_key) return fail(at + " names another resident");
    if (e.target_index >= entry->target_count ||
        !VerifyInclusion(TargetLeafHash((*leaves)[0]), e.target_index, entry->target_count,
                         e.target_path, entry->target_root)) {
      return fail(at + ": the resident is not among its targets");
    }
    const std::string leaf_hash = LeafHash(e.payload);
    if (!VerifyInclusion(leaf_hash, static_cast<uint64_t>(e.seq),
                         static_cast<uint64_t>(cp->tree_size), e.inclusion, cp->root)) {
      return fail(at + " is not in the signed log (altered, or from another log)");
    }
    head = NextResidentHead(head, static_cast<uint64_t>(e.seq), leaf_hash);
  }
  r.entries = static_cast<int64_t>(s.entries.size());
  const std::string leaf = MapLeaf(s.resident_key, MapValue(r.entries, head));
  if (!VerifyMapProof(s.resident_key, leaf, s.map_proof, cp->map_root)) {
    return fail("the entries are not what the signed resident map holds for this resident (one "
                "left out, added or altered)");
  }
  if (earlier) {
    if (!VerifyCheckpoint(*earlier, public_key)) {
      return fail("the earlier checkpoint is not signed by this key");
    }
    if (!s.consistency_old_size || *s.consistency_old_size != earlier->tree_size) {
      return fail("the statement has no consistency proof from the earlier checkpoint");
    }
    if (earlier->tree_size > cp->tree_size ||
        (earlier->tree_size == cp->tree_size ? earlier->root != cp->root
                                             : earlier->tree_size == 0 ||
                                                   !VerifyConsistency(
                                                       static_cast<uint64_t>(earlier->tree_size),
                                                       static_cast<uint64_t>(cp->tree_size),
                                                       earlier->root, cp->root,
                                                       s.consistency_path))) {
      return fail("the log does not extend the earlier checkpoint (a forked or rewritten log)");
    }
  }
  r.ok = true;
  return r;
}

}  // namespace kakunin::audit
