#include "audit/statement.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstring>
#include <map>
#include <set>
#include <unordered_set>

#include "audit/entry.h"
#include "audit/key_rotation.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/signer.h"
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

constexpr size_t kMaxKeySteps = 1024;

// The (previous, next) public keys an announcement's conditions name (audit/key_rotation.h).
std::optional<std::pair<std::string, std::string>> AnnouncedKeys(std::string_view conditions) {
  auto json = text::ParseJson(conditions, {.max_bytes = 4096, .max_depth = 2});
  if (!json.ok() || !json->is_object()) return std::nullopt;
  auto key = [&](const char* member) -> std::optional<std::string> {
    const text::JsonValue* m = json->Find(member);
    if (!m || !m->is_string() || m->text().size() != 64) return std::nullopt;
    auto raw = HexDecode(m->text());
    if (!raw || raw->size() != 32) return std::nullopt;
    return raw;
  };
  auto previous = key("previous_public_key");
  auto next = key("public_key");
  if (!previous || !next) return std::nullopt;
  return std::make_pair(std::move(*previous), std::move(*next));
}

// Whether `e` changed a resident code, naming the old and the new: a notification applied
// (registry::Registry::ApplyOne: conditions "<municipality>#<seq> <reason>"), or a forwarded
// change the national node made current or merged two rows with (NationalDesk: conditions end
// with the reason; both record the chain old -> new).
bool IsCodeChange(const AuditEntry& e) {
  constexpr std::string_view kReason = " resident_code_changed";
  const std::string_view c = e.conditions;
  const bool applied =
      (e.action == "notification.apply" && e.outcome == "done") ||
      (e.action == "link.apply" && (e.outcome == "current" || e.outcome == "conflict:merged"));
  return applied && e.target_count == 2 && c.size() > kReason.size() &&
         c.substr(c.size() - kReason.size()) == kReason;
}

}  // namespace

namespace {

// The kept entries naming `key` by any status, with sequence in [from, to), in log order.
Result<std::map<int64_t, store::AuditRow>> NamingRows(store::RegistryReader& reader,
                                                      std::string_view key, int64_t from,
                                                      int64_t to) {
  std::map<int64_t, store::AuditRow> rows;
  for (auto status : {TargetStatus::kNone, TargetStatus::kFound, TargetStatus::kMissing}) {
    store::AuditQuery q;
    q.target = TargetName(TargetLeaf{std::string(key), status, ""});
    q.limit = static_cast<int>(kMaxStatementEntries);
    KAKUNIN_ASSIGN_OR_RETURN(some, reader.SearchAudit(q));
    for (auto& r : some) {
      if (r.seq >= from && r.seq < to && r.payload) rows.emplace(r.seq, std::move(r));
    }
  }
  return rows;
}

// Whether `row` is a version-2 entry whose stored targets name `key`; the first such index.
std::optional<size_t> TargetIndexOf(const store::AuditRow& row, std::string_view key,
                                    std::vector<TargetLeaf>* leaves_out) {
  if (!row.payload || row.payload->empty() ||
      static_cast<uint8_t>((*row.payload)[0]) == kEntryVersion1) {
    return std::nullopt;  // the map covers version-2 (and 3) entries only
  }
  auto leaves = DecodeTargetLeaves(row.targets.value_or(std::string()));
  if (!leaves.ok()) return std::nullopt;
  for (size_t i = 0; i < leaves->size(); ++i) {
    if ((*leaves)[i].mac == key) {
      if (leaves_out) *leaves_out = std::move(*leaves);
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::pair<int64_t, std::string>> ResidentChain(store::RegistryReader& reader,
                                                      std::string_view key, int64_t from,
                                                      int64_t to) {
  KAKUNIN_ASSIGN_OR_RETURN(rows, NamingRows(reader, key, from, to));
  int64_t count = 0;
  std::string head = MapEmpty();
  for (const auto& [seq, row] : rows) {
    if (!TargetIndexOf(row, key, nullptr)) continue;
    head = NextResidentHead(head, static_cast<uint64_t>(seq), row.leaf_hash);
    ++count;
  }
  return std::make_pair(count, head);
}

Result<Statement> BuildStatement(store::RegistryReader& reader, std::string_view public_key,
                                 const std::vector<std::string>& keys,
                                 std::optional<int64_t> old_size) {
  if (keys.empty() || keys.size() > kMaxStatementParts) {
    return Status::InvalidArgument("a statement covers 1 to " + std::to_string(kMaxStatementParts) +
                                   " resident keys");
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].size() != kMapKeySize) return Status::InvalidArgument("a resident key is 32 bytes");
    if (std::find(keys.begin(), keys.begin() + i, keys[i]) != keys.begin() + i) {
      return Status::InvalidArgument("a resident key is given twice");
    }
  }
  // One snapshot for the whole statement: the checkpoint, the map it signs and every proof are
  // read from the same state even while appends and map updates commit, and a thousand proofs
  // cost one read transaction.
  store::ReadSnapshot snapshot(reader);
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
  size_t total = 0;
  ReaderMapNodes nodes(reader);
  for (const std::string& key : keys) {
    StatementPart part;
    part.resident_key = key;
    // The entries naming the key, by any status, in log order, up to the checkpoint.
    KAKUNIN_ASSIGN_OR_RETURN(rows, NamingRows(reader, key, 0, cp.tree_size));
    for (const auto& [seq, row] : rows) {
      KAKUNIN_ASSIGN_OR_RETURN(e, DecodeStoredEntry(row));
      if (e.version == kEntryVersion1) continue;  // the map covers version-2 (and 3) entries only
      std::vector<TargetLeaf> leaves;
      auto at = TargetIndexOf(row, key, &leaves);
      if (!at) continue;
      if (++total > kMaxStatementEntries) {
        return Status::ResourceExhausted("the statement would hold more than " +
                                         std::to_string(kMaxStatementEntries) + " entries");
      }
      StatementEntry se;
      se.seq = seq;
      se.payload = *row.payload;
      se.target_index = static_cast<uint32_t>(*at);
      se.target_leaf = EncodeTargetLeaves({leaves[*at]});
      se.target_path = TargetPath(leaves, *at);
      KAKUNIN_ASSIGN_OR_RETURN(inc, ProveInclusion(reader, seq, cp.tree_size));
      se.inclusion = std::move(inc.path);
      part.entries.push_back(std::move(se));
    }
    auto proof = ProveMapKey(nodes, key);
    if (proof.ok()) {
      part.map_proof = std::move(*proof);
    } else if (proof.status().code() == StatusCode::kNotFound && part.entries.empty()) {
      // Never named (or not since retention): the map proves that it holds no chain for k. The
      // key at k's place has its value as of the checkpoint — its head row if it has not moved
      // since, else its chain recomputed up to the checkpoint.
      auto value_of = [&](const std::string& other) -> Result<std::string> {
        KAKUNIN_ASSIGN_OR_RETURN(h, reader.ResidentHead(other));
        if (h && h->last_seq < cp.tree_size) return MapValue(h->count, h->head);
        KAKUNIN_ASSIGN_OR_RETURN(chain, ResidentChain(reader, other, 0, cp.tree_size));
        return MapValue(chain.first, chain.second);
      };
      KAKUNIN_ASSIGN_OR_RETURN(absence, ProveMapAbsence(nodes, key, value_of));
      part.absence = std::move(absence);
    } else {
      return proof.status();
    }
    s.parts.push_back(std::move(part));
  }
  if (old_size) {
    KAKUNIN_ASSIGN_OR_RETURN(con, ProveConsistency(reader, *old_size, cp.tree_size));
    s.consistency_old_size = *old_size;
    s.consistency_path = std::move(con.path);
  }
  // The signing-key announcements, each under the first checkpoint that the key it replaces
  // signed over it, for a resident who holds an earlier key. One erased by retention ends the
  // history there (the keys before it are then past retention too).
  static_assert(kSigningKeyRotateAction == store::kKeyAnnouncementAction);
  KAKUNIN_ASSIGN_OR_RETURN(rows_announced,
                           reader.KeyAnnouncements(static_cast<int>(kMaxKeySteps)));
  for (const store::AuditRow& row : rows_announced) {
    if (!row.payload || row.seq >= cp.tree_size) continue;
    auto e = DecodeEntry(*row.payload);
    if (!e.ok()) continue;
    auto keys = AnnouncedKeys(e->conditions);
    if (!keys) continue;
    const std::string previous_id = PublicKeyId(keys->first);
    auto by_previous = std::find_if(cps.begin(), cps.end(), [&](const store::CheckpointRow& c) {
      return c.tree_size > row.seq && c.key_id == previous_id &&
             VerifyCheckpoint(CheckpointOf(c), keys->first);
    });
    if (by_previous == cps.end()) continue;
    const Checkpoint pc = CheckpointOf(*by_previous);
    KeyStep step;
    step.checkpoint =
        pc.origin.empty() ? CheckpointToJson(pc) : CheckpointToNote(pc, keys->first);
    step.seq = row.seq;
    step.payload = *row.payload;
    KAKUNIN_ASSIGN_OR_RETURN(inc, ProveInclusion(reader, row.seq, pc.tree_size));
    step.inclusion = std::move(inc.path);
    s.key_history.push_back(std::move(step));
  }
  return s;
}

Result<ChainRestartPlan> PlanChainRestarts(store::RegistryReader& reader,
                                           int64_t erase_before_time) {
  ChainRestartPlan plan;
  KAKUNIN_ASSIGN_OR_RETURN(size, reader.AuditSize());
  plan.before_seq = size;
  plan.size = size;
  // Where the last purge stopped: the entries before it were erased and their chains restarted
  // then (each purge entry names it, "erased_before_seq=N"), so the scan starts there.
  int64_t from = 0;
  store::AuditQuery purges;
  purges.action = "registry.purge";
  purges.limit = INT_MAX;
  KAKUNIN_ASSIGN_OR_RETURN(purge_rows, reader.SearchAudit(purges));
  for (const store::AuditRow& row : purge_rows) {
    if (!row.payload) continue;
    auto e = DecodeEntry(*row.payload);
    if (!e.ok()) continue;
    const std::string_view c = e->conditions;
    const size_t at = c.rfind("erased_before_seq=");
    if (at == std::string_view::npos) continue;
    int64_t n = 0;
    const char* begin = c.data() + at + std::strlen("erased_before_seq=");
    auto [end, ec] = std::from_chars(begin, c.data() + c.size(), n);
    if (ec == std::errc() && (end == c.data() + c.size() || *end == ' ')) {
      from = std::max(from, std::min(n, size));
    }
  }
  plan.from = from;
  // The residents named in the prefix about to be erased. Times never decrease along the log.
  std::set<std::string> keys;
  Status st;
  KAKUNIN_RETURN_IF_ERROR(reader.ForEachAuditEntry(from, [&](const store::AuditRow& row) {
    if (row.time >= erase_before_time) {
      plan.before_seq = row.seq;
      return false;
    }
    if (row.payload && row.targets && !row.payload->empty() &&
        static_cast<uint8_t>((*row.payload)[0]) != kEntryVersion1) {
      auto l = DecodeTargetLeaves(*row.targets);
      if (!l.ok()) {
        st = Status::DataLoss("entry " + std::to_string(row.seq) + ": its targets do not decode");
        return false;
      }
      for (const auto& leaf : *l) keys.insert(leaf.mac);
    }
    return true;
  }));
  KAKUNIN_RETURN_IF_ERROR(st);
  plan.restarts.reserve(keys.size());
  for (const std::string& key : keys) {
    KAKUNIN_ASSIGN_OR_RETURN(seen, reader.ResidentHead(key));
    ChainRestart r;
    if (seen) {
      r.seen = *seen;
    } else {
      r.seen.key = key;
      r.had_head = false;
    }
    KAKUNIN_ASSIGN_OR_RETURN(chain, ResidentChain(reader, key, plan.before_seq, size));
    r.count = chain.first;
    r.head = std::move(chain.second);
    plan.restarts.push_back(std::move(r));
  }
  return plan;
}

Status ApplyChainRestarts(store::RegistryTxn& txn, const ChainRestartPlan& plan,
                          int64_t erased_before_seq, int64_t at_seq) {
  // The same prefix; or nothing new to erase (a purge dated before the last one), when the
  // store's boundary falls in what the last purge already erased.
  const bool nothing_new = plan.before_seq == plan.from && erased_before_seq <= plan.from;
  if (erased_before_seq != plan.before_seq && !nothing_new) {
    return Status::Unavailable("the log's erasable prefix moved during the purge");
  }
  // Entries since the plan that name one of its residents (a read, a change): the chain the
  // plan computed misses them. Appends store no heads (audit/log.h), so look at the entries.
  std::unordered_set<std::string_view> planned;
  for (const ChainRestart& r : plan.restarts) planned.insert(r.seen.key);
  bool named = false;
  Status undecodable;
  KAKUNIN_RETURN_IF_ERROR(txn.ForEachAuditTargets(
      plan.size, [&](int64_t seq, const std::string&, const std::string& targets) -> bool {
        if (seq >= at_seq && at_seq > 0) return false;
        auto leaves = DecodeTargetLeaves(targets);
        if (!leaves.ok()) {
          undecodable = Status::DataLoss("entry " + std::to_string(seq) +
                                         ": its stored targets cannot be decoded");
          return false;
        }
        for (const TargetLeaf& l : *leaves) {
          if (planned.contains(l.mac)) {
            named = true;
            return false;
          }
        }
        return true;
      }));
  KAKUNIN_RETURN_IF_ERROR(undecodable);
  if (named) return Status::Unavailable("a resident's chain moved during the purge");
  for (const ChainRestart& r : plan.restarts) {
    KAKUNIN_ASSIGN_OR_RETURN(now, txn.ResidentHead(r.seen.key));
    const bool moved = r.had_head ? (!now || now->count != r.seen.count ||
                                     now->head != r.seen.head || now->last_seq != r.seen.last_seq)
                                  : now.has_value();
    if (moved) {
      return Status::Unavailable("a resident's chain moved during the purge");
    }
    store::ResidentHeadRow row;
    row.key = r.seen.key;
    row.count = r.count;
    row.head = r.head;
    row.last_seq = at_seq;
    KAKUNIN_RETURN_IF_ERROR(txn.PutResidentHead(row));
  }
  return Status::Ok();
}

namespace {

void AppendPart(const StatementPart& p, std::string* out) {
  const MapProof& path = p.absence ? p.absence->path : p.map_proof;
  *out += "{\"resident_key\":\"" + HexEncode(p.resident_key) + "\",\"" +
          (p.absence ? "absence_proof" : "map_proof") +
          "\":{\"depth\":" + std::to_string(path.depth) + ",\"bitmap\":\"" +
          HexEncode(path.bitmap) + "\",\"siblings\":";
  HexArray(path.siblings, out);
  if (p.absence && !p.absence->other_key.empty()) {
    *out += ",\"other_key\":\"" + HexEncode(p.absence->other_key) + "\",\"other_value\":\"" +
            HexEncode(p.absence->other_value) + "\"";
  }
  *out += "},\"entries\":[";
  for (size_t i = 0; i < p.entries.size(); ++i) {
    const StatementEntry& e = p.entries[i];
    if (i) *out += ",";
    *out += "{\"seq\":" + std::to_string(e.seq) + ",\"payload\":\"" + HexEncode(e.payload) +
            "\",\"target_index\":" + std::to_string(e.target_index) + ",\"target_leaf\":\"" +
            HexEncode(e.target_leaf) + "\",\"target_path\":";
    HexArray(e.target_path, out);
    *out += ",\"inclusion\":";
    HexArray(e.inclusion, out);
    *out += "}";
  }
  *out += "]}";
}

// The members after the resident codes' (the same in versions 1 and 2): the consistency proof
// and the key history, each when there is one.
void AppendTail(const Statement& s, std::string* out) {
  if (s.consistency_old_size) {
    *out +=
        ",\"consistency\":{\"old_size\":" + std::to_string(*s.consistency_old_size) + ",\"path\":";
    HexArray(s.consistency_path, out);
    *out += "}";
  }
  if (!s.key_history.empty()) {
    *out += ",\"key_history\":[";
    for (size_t i = 0; i < s.key_history.size(); ++i) {
      const KeyStep& k = s.key_history[i];
      if (i) *out += ",";
      *out += "{\"checkpoint\":";
      text::AppendJsonString(k.checkpoint, out);
      *out += ",\"seq\":" + std::to_string(k.seq) + ",\"payload\":\"" + HexEncode(k.payload) +
              "\",\"inclusion\":";
      HexArray(k.inclusion, out);
      *out += "}";
    }
    *out += "]";
  }
}

// One code's members (resident_key, map_proof or absence_proof, entries) of `obj`: a part of a
// version-2 statement, or a version-1 statement itself; the caller checks the member count.
// `entries_left` bounds the entries over all parts.
bool ReadPart(const text::JsonValue& obj, StatementPart* out, size_t* entries_left) {
  StatementPart s;
  auto key = Hex(obj.Find("resident_key"), kMapKeySize);
  if (!key || key->size() != kMapKeySize) return false;
  s.resident_key = std::move(*key);
  // Exactly one of the two map proofs.
  const auto* present = obj.Find("map_proof");
  const auto* absent = obj.Find("absence_proof");
  if ((present != nullptr) == (absent != nullptr)) return false;
  const auto* mp = present ? present : absent;
  if (!mp->is_object()) return false;
  const auto* other_key = mp->Find("other_key");
  const auto* other_value = mp->Find("other_value");
  if ((other_key != nullptr) != (other_value != nullptr) || (present && other_key) ||
      mp->members().size() != (other_key ? 5u : 3u)) {
    return false;
  }
  auto depth = Int(mp->Find("depth"));
  auto bitmap = Hex(mp->Find("bitmap"), kMapKeySize);
  auto siblings = Hashes(mp->Find("siblings"), 8 * kMapKeySize);
  if (!depth || *depth > 8 * static_cast<int64_t>(kMapKeySize) || !bitmap || !siblings) {
    return false;
  }
  MapProof path{static_cast<uint32_t>(*depth), std::move(*bitmap), std::move(*siblings)};
  if (present) {
    s.map_proof = std::move(path);
  } else {
    MapAbsenceProof a;
    a.path = std::move(path);
    if (other_key) {
      auto k = Hex(other_key, kMapKeySize);
      auto val = Hex(other_value, 32);
      if (!k || k->size() != kMapKeySize || !val || val->size() != 32) return false;
      a.other_key = std::move(*k);
      a.other_value = std::move(*val);
    }
    s.absence = std::move(a);
  }
  const auto* entries = obj.Find("entries");
  if (!entries || !entries->is_array() || entries->items().size() > *entries_left ||
      (absent && !entries->items().empty())) {
    return false;
  }
  *entries_left -= entries->items().size();
  for (const auto& item : entries->items()) {
    if (!item.is_object() || item.members().size() != 6) return false;
    StatementEntry e;
    auto seq = Int(item.Find("seq"));
    auto payload = Hex(item.Find("payload"), 1 << 20);
    auto index = Int(item.Find("target_index"));
    auto leaf = Hex(item.Find("target_leaf"), kTargetMacSize + 2 + 32);
    auto target_path = Hashes(item.Find("target_path"), 64);
    auto inclusion = Hashes(item.Find("inclusion"), 64);
    if (!seq || !payload || !index || *index > UINT32_MAX || !leaf || !target_path || !inclusion) {
      return false;
    }
    e.seq = *seq;
    e.payload = std::move(*payload);
    e.target_index = static_cast<uint32_t>(*index);
    e.target_leaf = std::move(*leaf);
    e.target_path = std::move(*target_path);
    e.inclusion = std::move(*inclusion);
    s.entries.push_back(std::move(e));
  }
  *out = std::move(s);
  return true;
}

}  // namespace

std::string StatementToJson(const Statement& s) {
  std::string out = std::string("{\"format\":\"") + kFormat + "\",\"version\":2,\"checkpoint\":";
  text::AppendJsonString(s.checkpoint_note, &out);
  out += ",\"parts\":[";
  for (size_t i = 0; i < s.parts.size(); ++i) {
    if (i) out += ",";
    AppendPart(s.parts[i], &out);
  }
  out += "]";
  AppendTail(s, &out);
  return out + "}";
}

namespace {

// What the node wrote as version 1 (one code, its members at the top level), for
// IsCanonicalStatementJson: the same members as AppendPart writes, in the same order.
std::string StatementToJsonVersion1(const Statement& s) {
  std::string part;
  AppendPart(s.parts.front(), &part);
  // AppendPart writes {"resident_key":…,"entries":[…]}: its members go at the top level.
  std::string out = std::string("{\"format\":\"") + kFormat + "\",\"version\":1,\"checkpoint\":";
  text::AppendJsonString(s.checkpoint_note, &out);
  out += "," + part.substr(1, part.size() - 2);
  AppendTail(s, &out);
  return out + "}";
}

}  // namespace

bool IsCanonicalStatementJson(std::string_view text, const Statement& s) {
  if (s.parts.empty()) return false;
  if (s.version == 1 && s.parts.size() != 1) return false;
  const std::string canonical = s.version == 1 ? StatementToJsonVersion1(s) : StatementToJson(s);
  if (text.size() == canonical.size() + 1 && text.back() == '\n') text.remove_suffix(1);
  return text == canonical;
}

Result<Statement> StatementFromJson(std::string_view json) {
  const Status bad = Status::InvalidArgument("not an access statement");
  // Depth: statement, parts, part, entries, entry, path, hash.
  auto v = text::ParseJson(
      json, {.max_bytes = kMaxStatementBytes, .max_depth = 7, .max_values = kMaxStatementValues});
  if (!v.ok() || !v->is_object()) return bad;
  const auto* format = v->Find("format");
  const auto* version = v->Find("version");
  const auto* note = v->Find("checkpoint");
  const auto* con = v->Find("consistency");
  const auto* keys = v->Find("key_history");
  const int64_t version_number = version ? version->AsInt64().value_or(0) : 0;
  if (!format || format->text() != kFormat || (version_number != 1 && version_number != 2) ||
      !note || !note->is_string() || note->text().size() > kMaxNoteBytes) {
    return bad;
  }
  const size_t optional = (con ? 1 : 0) + (keys ? 1 : 0);
  Statement s;
  s.version = static_cast<int>(version_number);
  s.checkpoint_note = note->text();
  size_t entries_left = kMaxStatementEntries;
  if (version_number == 1) {
    // One code, its members at the top level.
    if (v->members().size() != 6u + optional) return bad;
    StatementPart part;
    if (!ReadPart(*v, &part, &entries_left)) return bad;
    s.parts.push_back(std::move(part));
  } else {
    const auto* parts = v->Find("parts");
    if (v->members().size() != 4u + optional || !parts || !parts->is_array() ||
        parts->items().empty() || parts->items().size() > kMaxStatementParts) {
      return bad;
    }
    for (const auto& item : parts->items()) {
      StatementPart part;
      if (!item.is_object() || item.members().size() != 3 ||
          !ReadPart(item, &part, &entries_left)) {
        return bad;
      }
      s.parts.push_back(std::move(part));
    }
  }
  if (con) {
    if (!con->is_object() || con->members().size() != 2) return bad;
    auto old_size = Int(con->Find("old_size"));
    auto path = Hashes(con->Find("path"), 128);
    if (!old_size || !path) return bad;
    s.consistency_old_size = *old_size;
    s.consistency_path = std::move(*path);
  }
  if (keys) {
    if (!keys->is_array() || keys->items().empty() || keys->items().size() > kMaxKeySteps) {
      return bad;
    }
    for (const auto& item : keys->items()) {
      if (!item.is_object() || item.members().size() != 4) return bad;
      const auto* cp_text = item.Find("checkpoint");
      auto seq = Int(item.Find("seq"));
      auto payload = Hex(item.Find("payload"), 1 << 16);
      auto inclusion = Hashes(item.Find("inclusion"), 64);
      if (!cp_text || !cp_text->is_string() || cp_text->text().size() > kMaxNoteBytes || !seq ||
          !payload || !inclusion) {
        return bad;
      }
      s.key_history.push_back(
          KeyStep{cp_text->text(), *seq, std::move(*payload), std::move(*inclusion)});
    }
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
  // From the key given to the key that signs the statement, through the announcements: each
  // one signed into the log under the key it replaces. Announcements before the key given
  // (another key's) are passed over; after it, each must follow from the one before.
  std::string trusted(public_key);
  // Whether an announcement stands on its own: in the log its replaced key signed.
  auto in_replaced_log = [](const KeyStep& k, std::string_view replaced) {
    auto pc = ParseCheckpoint(k.checkpoint, replaced);
    return pc.ok() && VerifyCheckpoint(*pc, replaced) && k.seq < pc->tree_size &&
           VerifyInclusion(LeafHash(k.payload), static_cast<uint64_t>(k.seq),
                           static_cast<uint64_t>(pc->tree_size), k.inclusion, pc->root);
  };
  std::vector<std::pair<std::string, std::string>> announced;  // (previous, next), in order
  r.node_keys.push_back(trusted);
  for (const KeyStep& k : s.key_history) {
    const std::string at = "the signing-key announcement at entry " + std::to_string(k.seq);
    auto e = DecodeEntry(k.payload);
    if (!e.ok() || e->action != kSigningKeyRotateAction ||
        static_cast<int64_t>(e->sequence) != k.seq) {
      return fail(at + " does not decode");
    }
    auto keys = AnnouncedKeys(e->conditions);
    if (!keys) return fail(at + " is malformed");
    announced.push_back(*keys);
    if (keys->first != trusted) {
      if (r.keys_followed > 0) return fail(at + " does not follow from the key before it");
      continue;
    }
    if (auto pc = ParseCheckpoint(k.checkpoint, trusted);
        !pc.ok() || !VerifyCheckpoint(*pc, trusted)) {
      return fail(at + ": its checkpoint is not signed by the key it replaces");
    }
    if (!in_replaced_log(k, trusted)) {
      return fail(at + " is not in the log the key it replaces signed");
    }
    trusted = keys->second;
    r.node_keys.push_back(trusted);
    ++r.keys_followed;
  }
  // The keys before the key given, from the announcements that lead to it (newest first): a
  // checkpoint the resident kept from before a rotation is signed by one of them, and a
  // verifier holding the node's current key (docs/keys.md: given to verifiers from then on)
  // must still be able to use it. Found in review: check-statement --public-key NEW
  // --checkpoint <kept before the rotation> answered "the earlier checkpoint is not signed by
  // this key", so only the destroyed key's holders could check a statement against it. What
  // binds that checkpoint to the log the key given signs is the consistency proof below, whoever
  // signed it; its signature shows only that the node issued it, and the announcement (in the
  // log its replaced key signed) that the key was the node's.
  std::string before = std::string(public_key);
  for (size_t i = s.key_history.size(); i-- > 0;) {
    const auto& [previous, next] = announced[i];
    if (next != before || !in_replaced_log(s.key_history[i], previous)) continue;
    before = previous;
    r.node_keys.push_back(before);
  }
  auto cp = CheckpointFromNote(s.checkpoint_note, trusted);
  if (!cp.ok()) return fail("the checkpoint is not a note signed by this key");
  if (!VerifyCheckpoint(*cp, trusted)) return fail("the checkpoint's signature does not verify");
  r.signing_key = trusted;
  if (cp->map_root.size() != 32) return fail("the checkpoint signs no resident map");
  r.tree_size = cp->tree_size;
  r.signed_at = cp->time;
  if (s.parts.empty() || s.parts.size() > kMaxStatementParts) {
    return fail("the statement has no resident code, or too many");
  }
  // Each entry shown, by sequence: the target indices at which parts show it, and whether it
  // changed a resident code (then both codes' parts must show it).
  struct Shown {
    std::set<uint32_t> indices;
    bool code_change = false;
  };
  std::map<int64_t, Shown> shown;
  std::set<std::string> keys_seen;
  for (size_t p = 0; p < s.parts.size(); ++p) {
    const StatementPart& part = s.parts[p];
    // Which part, when there are several: by its place only (the key says nothing to a reader).
    const std::string in = s.parts.size() == 1 ? std::string()
                                               : " (code " + std::to_string(p + 1) + " of " +
                                                     std::to_string(s.parts.size()) + ")";
    if (part.resident_key.size() != kMapKeySize) return fail("the resident key is malformed" + in);
    if (!keys_seen.insert(part.resident_key).second) {
      return fail("a resident code is shown twice" + in);
    }
    std::string head = MapEmpty();
    int64_t last_seq = -1;
    for (const StatementEntry& e : part.entries) {
      const std::string at = "entry " + std::to_string(e.seq) + in;
      if (e.seq <= last_seq) return fail(at + " is out of order or repeated");
      last_seq = e.seq;
      if (e.seq >= cp->tree_size) return fail(at + " is beyond the signed checkpoint");
      auto entry = DecodeEntry(e.payload);
      if (!entry.ok() || entry->version == kEntryVersion1) return fail(at + " does not decode");
      if (static_cast<int64_t>(entry->sequence) != e.seq) return fail(at + " holds another entry");
      auto leaves = DecodeTargetLeaves(e.target_leaf);
      if (!leaves.ok() || leaves->size() != 1) return fail(at + ": its target leaf is malformed");
      if ((*leaves)[0].mac != part.resident_key) return fail(at + " names another resident");
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
      Shown& sh = shown[e.seq];
      if (!sh.indices.insert(e.target_index).second) {
        return fail(at + " names the same target twice");
      }
      sh.code_change = IsCodeChange(*entry);
    }
    if (part.absence) {
      if (!part.entries.empty()) return fail("a statement of absence lists entries" + in);
      if (!VerifyMapAbsence(part.resident_key, *part.absence, cp->map_root)) {
        return fail(
            "the signed resident map does not show that no entry names this resident "
            "(the resident has entries, or the proof is altered)" +
            in);
      }
    } else if (!VerifyMapProof(part.resident_key,
                               MapLeaf(part.resident_key,
                                       MapValue(static_cast<int64_t>(part.entries.size()), head)),
                               part.map_proof, cp->map_root)) {
      return fail(
          "the entries are not what the signed resident map holds for this resident (one "
          "left out, added or altered)" +
          in);
    }
  }
  // A code change names the old code and the new: both are the person's, so both parts must be
  // here. Each part is complete (its map proof), so a part left out shows as a change with one
  // side only.
  for (const auto& [seq, sh] : shown) {
    if (sh.code_change && sh.indices.size() != 2) {
      return fail("entry " + std::to_string(seq) +
                  " changed the resident code, but the statement lacks the part of the other "
                  "code (a code of the resident left out)");
    }
  }
  r.entries = static_cast<int64_t>(shown.size());
  r.codes = static_cast<int64_t>(s.parts.size());
  if (earlier) {
    if (std::none_of(r.node_keys.begin(), r.node_keys.end(),
                     [&](const std::string& key) { return VerifyCheckpoint(*earlier, key); })) {
      return fail("the earlier checkpoint (tree of " + std::to_string(earlier->tree_size) +
                  " entries) is signed neither by the key given nor by a key the statement's "
                  "signing-key announcements lead to from it");
    }
    if (earlier->tree_size > cp->tree_size) {
      // The resident holds a newer checkpoint: this statement stops short of it, so entries
      // after its own checkpoint could be missing. Ask for a statement as new as it.
      return fail("the statement is older than the checkpoint given (" +
                  std::to_string(cp->tree_size) + " < " + std::to_string(earlier->tree_size) +
                  " entries): it cannot show the entries since; ask for a new statement");
    }
    if (earlier->tree_size == cp->tree_size) {
      // The same checkpoint, or a fork at the same size.
      if (earlier->root != cp->root) {
        return fail("the log does not extend the earlier checkpoint (a forked or rewritten log)");
      }
    } else {
      if (!s.consistency_old_size || *s.consistency_old_size != earlier->tree_size) {
        return fail("the statement has no consistency proof from the earlier checkpoint");
      }
      if (earlier->tree_size == 0 ||
          !VerifyConsistency(static_cast<uint64_t>(earlier->tree_size),
                             static_cast<uint64_t>(cp->tree_size), earlier->root, cp->root,
                             s.consistency_path)) {
        return fail("the log does not extend the earlier checkpoint (a forked or rewritten log)");
      }
    }
  }
  r.ok = true;
  return r;
}

}  // namespace kakunin::audit
