#include "audit/log.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>
#include <set>
#include <unordered_map>

#include "audit/key_rotation.h"
#include "audit/merkle.h"
#include "audit/resident_map.h"
#include "audit/verifier.h"
#include "core/bytes.h"
#include "text/json.h"

namespace kakunin::audit {
namespace {

// The stored tree, read through a write transaction or a reader.
template <typename Source>
class StoreSubtrees final : public SubtreeSource {
 public:
  explicit StoreSubtrees(Source& s) : s_(s) {}
  Result<std::string> Subtree(uint32_t level, uint64_t index) override {
    auto h = s_.AuditNode(level, static_cast<int64_t>(index));
    if (!h.ok()) return h.status();
    if (!*h) {
      return Status::NotFound("operation-log node (" + std::to_string(level) + ", " +
                              std::to_string(index) + ") is missing");
    }
    return std::move(**h);
  }

 private:
  Source& s_;
};

// The map nodes a checkpoint's batch of updates touches, kept in memory and written once at
// the end: the upper levels are shared by most keys of a batch, so each is read and written
// once per checkpoint instead of once per key.
class BatchedMapNodes final : public MapNodeSink {
 public:
  explicit BatchedMapNodes(MapNodeSink& inner) : inner_(inner) {}
  Result<std::optional<store::MapNodeRow>> Get(uint32_t depth, const std::string& prefix) override {
    auto it = nodes_.find({depth, prefix});
    if (it != nodes_.end()) return it->second.row;
    KAKUNIN_ASSIGN_OR_RETURN(row, inner_.Get(depth, prefix));
    nodes_.emplace(std::make_pair(depth, prefix), Cached{row, false});
    return row;
  }
  Status Put(uint32_t depth, const std::string& prefix, const store::MapNodeRow& n) override {
    nodes_[{depth, prefix}] = Cached{n, true};
    return Status::Ok();
  }
  Status Flush() {
    for (const auto& [at, c] : nodes_) {
      if (c.dirty) KAKUNIN_RETURN_IF_ERROR(inner_.Put(at.first, at.second, *c.row));
    }
    nodes_.clear();
    return Status::Ok();
  }

 private:
  struct Cached {
    std::optional<store::MapNodeRow> row;
    bool dirty = false;
  };
  MapNodeSink& inner_;
  std::map<std::pair<uint32_t, std::string>, Cached> nodes_;
};

// A version-2 entry's stored target leaves against the count and root its payload commits to
// (the root follows the count in the encoding, audit/entry.h). Decodes the leaves once, into
// `leaves`, for the resident chains; the verifier's cheaper DecodeStoredEntry.
bool V2TargetsMatch(std::string_view payload, const EntryHead& head,
                    const std::optional<std::string>& stored, std::vector<TargetLeaf>* leaves) {
  const size_t at =
      static_cast<size_t>(head.purpose.data() + head.purpose.size() - payload.data()) + 4;
  if (payload.size() < at + kHashSize) return false;
  if (stored) {
    auto decoded = DecodeTargetLeaves(*stored);
    if (!decoded.ok()) return false;
    *leaves = std::move(*decoded);
  }
  return leaves->size() == head.target_count &&
         TargetRoot(*leaves) == payload.substr(at, kHashSize);
}

// Whether leaf i is the first of `leaves` with its resident (found and missing name one):
// a scan for the few targets of most entries, `seen` (filled in order) for a batch.
bool FirstNaming(const std::vector<TargetLeaf>& leaves, size_t i,
                 std::set<std::string_view>* seen) {
  if (leaves.size() > 16) return seen->insert(leaves[i].mac).second;
  for (size_t j = 0; j < i; ++j) {
    if (leaves[j].mac == leaves[i].mac) return false;
  }
  return true;
}

// What the verifier computes of an entry on its own: the leaf hash and the check of the
// stored target leaves against the entry (decoded once, for the chains).
struct Hashed {
  std::string leaf_hash;  // of the payload; empty without one
  bool targets_ok = false;
  std::vector<TargetLeaf> leaves;
};

void HashRow(const store::AuditRow& row, Hashed* h) {
  h->leaf_hash.clear();
  h->targets_ok = false;
  h->leaves.clear();
  if (!row.payload) return;
  h->leaf_hash = LeafHash(*row.payload);
  auto e = DecodeEntryHead(*row.payload);
  if (!e) return;
  h->targets_ok = e->version == kEntryVersion1
                      ? !row.targets.has_value()
                      : V2TargetsMatch(*row.payload, *e, row.targets, &h->leaves);
}

Status CheckSize(store::RegistryReader& reader, int64_t size) {
  auto n = reader.AuditSize();
  if (!n.ok()) return n.status();
  if (size < 0 || size > *n) {
    return Status::InvalidArgument("the log holds " + std::to_string(*n) + " entries");
  }
  return Status::Ok();
}

void AppendHashArray(const std::vector<std::string>& hashes, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i) out->push_back(',');
    out->append("\"" + HexEncode(hashes[i]) + "\"");
  }
  out->push_back(']');
}

Result<std::vector<std::string>> HashArray(const text::JsonValue* v) {
  if (!v || !v->is_array() || v->items().size() > 128) {
    return Status::InvalidArgument("not a proof");
  }
  std::vector<std::string> out;
  for (const auto& item : v->items()) {
    auto h = item.is_string() ? HexDecode(item.text()) : std::nullopt;
    if (!h || h->size() != kHashSize) return Status::InvalidArgument("not a proof");
    out.push_back(*h);
  }
  return out;
}

}  // namespace

std::string DefaultOrigin(const Signer& signer) { return "kakunin/" + signer.key_id(); }

Checkpoint CheckpointOf(const store::CheckpointRow& c) {
  return Checkpoint{c.tree_size, c.root, c.time, c.key_id, c.signature, c.origin, c.map_root};
}

Result<AuditEntry> DecodeStoredEntry(const store::AuditRow& row) {
  if (!row.payload) return Status::NotFound("the entry's payload was erased");
  KAKUNIN_ASSIGN_OR_RETURN(e, DecodeEntry(*row.payload));
  if (e.version == kEntryVersion1) return e;
  auto leaves = DecodeTargetLeaves(row.targets.value_or(std::string()));
  if (!leaves.ok() || leaves->size() != e.target_count || TargetRoot(*leaves) != e.target_root) {
    return Status::DataLoss("entry " + std::to_string(row.seq) +
                            ": its stored targets do not match it");
  }
  e.targets.clear();
  e.targets.reserve(leaves->size());
  for (const auto& l : *leaves) e.targets.push_back(TargetName(l));
  return e;
}

AuditLog::AuditLog(const Signer* signer, const Clock* clock, LogSettings settings)
    : signer_(signer),
      clock_(clock),
      settings_(settings),
      origin_(settings_.origin.empty() ? DefaultOrigin(*signer) : settings_.origin) {}

Result<uint64_t> AuditLog::Append(store::RegistryTxn& txn, AuditEntry entry,
                                  int64_t* time) const {
  // The one read of the log an append makes (besides the Merkle tree's left siblings).
  KAKUNIN_ASSIGN_OR_RETURN(tail, txn.AuditTail());
  entry.sequence = static_cast<uint64_t>(tail.size);
  // Each target once (the target index holds one row per resident and entry).
  std::vector<std::string> unique;
  for (auto& t : entry.targets) {
    if (std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(std::move(t));
  }
  entry.targets = std::move(unique);
  // Version 2: the targets become leaves under a root in the entry; the search index keeps
  // their canonical names. Nothing but a keyed MAC is accepted as a target.
  entry.version = kEntryVersion;
  // Version 3 when the operation changed stored records (audit/state.h).
  if (!entry.state.empty()) entry.version = kEntryVersion3;
  if (entry.state.size() > kMaxStateLeaves) return Status::InvalidArgument("too many state leaves");
  std::vector<TargetLeaf> leaves;
  leaves.reserve(entry.targets.size());
  for (auto& t : entry.targets) {
    KAKUNIN_ASSIGN_OR_RETURN(leaf, ParseTargetName(t));
    t = TargetName(leaf);
    leaves.push_back(std::move(leaf));
  }
  if (leaves.size() > kMaxTargets) return Status::InvalidArgument("too many targets");
  entry.target_count = static_cast<uint32_t>(leaves.size());
  entry.target_root = TargetRoot(leaves);
  // Times never decrease along the log (a clock stepped back must not reorder it): the
  // verifier relies on it, and retention erases a prefix.
  entry.time = std::max(clock_->NowMicros(), tail.last_time);
  if (time != nullptr) *time = entry.time;
  store::AuditRow row;
  row.seq = tail.size;
  row.time = entry.time;
  row.actor = entry.actor;
  row.action = entry.action;
  row.purpose = entry.purpose;
  row.payload = EncodeEntry(entry);
  if (row.payload->size() > kMaxEntryBytes) {
    return Status::InvalidArgument("operation-log entry too large (" +
                                   std::to_string(row.payload->size()) + " bytes, at most " +
                                   std::to_string(kMaxEntryBytes) + ")");
  }
  row.leaf_hash = LeafHash(*row.payload);
  if (!leaves.empty()) row.targets = EncodeTargetLeaves(leaves);
  KAKUNIN_RETURN_IF_ERROR(txn.InsertAuditEntry(row, entry.targets));
  // The residents' chains (audit/resident_map.h) are not stepped here: the entry's stored
  // target leaves are all they need, and Sign steps every chain a batch of entries moved, once
  // per resident, when a checkpoint signs the map.
  StoreSubtrees<store::RegistryTxn> source(txn);
  auto nodes = NodesCompletedBy(entry.sequence, row.leaf_hash, source);
  if (!nodes.ok()) return nodes.status();
  for (const SubtreeNode& n : *nodes) {
    if (n.level == 0) continue;  // the leaf hash is kept with the entry
    KAKUNIN_RETURN_IF_ERROR(txn.PutAuditNode(n.level, static_cast<int64_t>(n.index), n.hash));
  }
  // A checkpoint every N entries or T seconds.
  auto last = txn.LatestCheckpoint();
  if (!last.ok()) return last.status();
  const int64_t new_size = tail.size + 1;
  const int64_t last_size = *last ? (*last)->tree_size : 0;
  const int64_t last_time = *last ? (*last)->time : 0;
  if (new_size - last_size >= settings_.checkpoint_every ||
      entry.time - last_time >= settings_.checkpoint_interval_micros) {
    KAKUNIN_RETURN_IF_ERROR(Sign(txn, new_size, settings_.map_every_checkpoint));
  }
  return entry.sequence;
}

Status AuditLog::WriteCheckpoint(store::RegistryTxn& txn) const {
  auto size = txn.AuditSize();
  if (!size.ok()) return size.status();
  auto last = txn.LatestCheckpoint();
  if (!last.ok()) return last.status();
  if (*size == 0 || (*last && (*last)->tree_size == *size && !(*last)->map_root.empty())) {
    return Status::Ok();
  }
  return Sign(txn, *size, /*with_map=*/true);
}

void AuditLog::Trust(int64_t size, const std::string& root) const {
  std::lock_guard<std::mutex> lock(trust_mu_);
  if (size > trusted_size_) {
    trusted_size_ = size;
    trusted_root_ = root;
  }
}

int64_t AuditLog::TrustedSize() const {
  std::lock_guard<std::mutex> lock(trust_mu_);
  return trusted_size_;
}

Status AuditLog::Sign(store::RegistryTxn& txn, int64_t size, bool with_map) const {
  // Only with the key the log is signed with now: a process still holding a key that a rotation
  // (in another process) retired signs nothing more with it. Found in review: a node serving
  // through `keys rotate-signing-key` signed on with the retired key, under no announcement,
  // and the log never verified again.
  KAKUNIN_ASSIGN_OR_RETURN(log_key, txn.GetMeta("log_key_id"));
  if (log_key && *log_key != signer_->key_id()) {
    return Status::FailedPrecondition(
        "the operation log's signing key was rotated since this process started: restart it");
  }
  StoreSubtrees<store::RegistryTxn> source(txn);
  int64_t trusted_size = 0;
  std::string trusted_root;
  {
    std::lock_guard<std::mutex> lock(trust_mu_);
    trusted_size = trusted_size_;
    trusted_root = trusted_root_;
  }
  if (trusted_size > 0) {
    bool extends = size >= trusted_size;
    if (extends) {
      auto at = RootHash(source, static_cast<uint64_t>(trusted_size));
      if (!at.ok()) return at.status();
      extends = *at == trusted_root;
    }
    if (!extends) {
      return Status::DataLoss("the operation log no longer extends the checkpoint this node "
                              "signed at tree size " +
                              std::to_string(trusted_size) +
                              ": entries were cut, changed or removed in the database; nothing "
                              "more is signed (run kakunin audit verify)")
          .WithReason("log_not_extended");
    }
  }
  auto root = RootHash(source, static_cast<uint64_t>(size));
  if (!root.ok()) return root.status();
  store::CheckpointRow c;
  c.tree_size = size;
  c.root = *root;
  c.time = clock_->NowMicros();
  c.key_id = signer_->key_id();
  c.origin = origin_;
  // The resident map: the keys whose chains moved since the last checkpoint that signed a
  // map (all of them after an older version's checkpoints), then its root.
  if (with_map) {
    KAKUNIN_ASSIGN_OR_RETURN(map_root, UpdateResidentMap(txn));
    c.map_root = std::move(map_root);
  }
  auto sig = signer_->Sign(SignedMessage(CheckpointOf(c)));
  if (!sig.ok()) return sig.status();
  c.signature = *sig;
  return txn.InsertCheckpoint(c);
}

Result<std::string> AuditLog::UpdateResidentMap(store::RegistryTxn& txn) const {
  // The entries since the last checkpoint that signed a map (all of them after an older
  // version's checkpoints) step their residents' chains, in log order, in memory; then each
  // resident moved is written once: its head, and its leaf in the map. A head already past an
  // entry (written per entry by the first release of version 2) is not stepped again.
  KAKUNIN_ASSIGN_OR_RETURN(from, txn.LatestMapCheckpointSize());
  std::unordered_map<std::string, std::optional<store::ResidentHeadRow>> moved;
  // Heads written since by someone else than this function: a purge's chain restarts
  // (audit/statement.h), marked with the purge entry's sequence; their map leaves change too.
  KAKUNIN_ASSIGN_OR_RETURN(restarted, txn.ResidentHeadsFrom(from));
  for (store::ResidentHeadRow& h : restarted) {
    std::string key = h.key;
    moved.emplace(std::move(key), std::move(h));
  }
  Status failure;
  KAKUNIN_RETURN_IF_ERROR(txn.ForEachAuditTargets(
      from, [&](int64_t seq, const std::string& leaf_hash, const std::string& targets) -> bool {
        auto leaves = DecodeTargetLeaves(targets);
        if (!leaves.ok()) {
          failure = Status::DataLoss("entry " + std::to_string(seq) +
                                     ": its stored targets cannot be decoded");
          return false;
        }
        std::set<std::string_view> named;
        for (const TargetLeaf& l : *leaves) {
          if (!named.insert(l.mac).second) continue;  // found and missing: one chain step
          auto it = moved.find(l.mac);
          if (it == moved.end()) {
            auto prev = txn.ResidentHead(l.mac);
            if (!prev.ok()) {
              failure = prev.status();
              return false;
            }
            it = moved.emplace(l.mac, std::move(*prev)).first;
          }
          auto& h = it->second;
          if (h && h->last_seq >= seq) continue;
          if (!h) h = store::ResidentHeadRow{l.mac, 0, MapEmpty(), 0};
          h->count += 1;
          h->head = NextResidentHead(h->head, static_cast<uint64_t>(seq), leaf_hash);
          h->last_seq = seq;
        }
        return true;
      }));
  KAKUNIN_RETURN_IF_ERROR(failure);
  // In key order: neighbouring keys share the upper map nodes the batch keeps in memory.
  std::vector<const store::ResidentHeadRow*> order;
  order.reserve(moved.size());
  for (const auto& [key, h] : moved) {
    if (h) order.push_back(&*h);
  }
  std::sort(order.begin(), order.end(),
            [](const auto* a, const auto* b) { return a->key < b->key; });
  TxnMapNodes stored(txn);
  BatchedMapNodes nodes(stored);
  for (const store::ResidentHeadRow* h : order) {
    KAKUNIN_RETURN_IF_ERROR(txn.PutResidentHead(*h));
    auto r = MapUpdate(nodes, h->key, MapLeaf(h->key, MapValue(h->count, h->head)));
    if (!r.ok()) return r.status();
  }
  KAKUNIN_ASSIGN_OR_RETURN(root, MapRoot(nodes));
  KAKUNIN_RETURN_IF_ERROR(nodes.Flush());
  return root;
}

Result<InclusionProofDoc> ProveInclusion(store::RegistryReader& reader, int64_t leaf_index,
                                         int64_t tree_size) {
  store::ReadSnapshot snapshot(reader);  // ~30 node reads, one read transaction
  KAKUNIN_RETURN_IF_ERROR(CheckSize(reader, tree_size));
  if (leaf_index < 0 || leaf_index >= tree_size) {
    return Status::InvalidArgument("the entry is not in a tree of that size");
  }
  StoreSubtrees<store::RegistryReader> source(reader);
  auto path =
      InclusionProof(source, static_cast<uint64_t>(leaf_index), static_cast<uint64_t>(tree_size));
  if (!path.ok()) return path.status();
  auto leaf = source.Subtree(0, static_cast<uint64_t>(leaf_index));
  if (!leaf.ok()) return leaf.status();
  // Never prove a leaf hash that the entry's content no longer gives.
  std::optional<std::string> payload;
  Status st = reader.ForEachAuditEntry(leaf_index, [&](const store::AuditRow& row) {
    payload = row.payload;
    return false;
  });
  if (!st.ok()) return st;
  if (payload && LeafHash(*payload) != *leaf) {
    return Status::DataLoss("entry " + std::to_string(leaf_index) +
                            " does not match its leaf hash (run kakunin audit verify)");
  }
  return InclusionProofDoc{leaf_index, tree_size, *leaf, std::move(*path)};
}

Result<ConsistencyProofDoc> ProveConsistency(store::RegistryReader& reader, int64_t old_size,
                                             int64_t new_size) {
  store::ReadSnapshot snapshot(reader);  // ~30 node reads, one read transaction
  KAKUNIN_RETURN_IF_ERROR(CheckSize(reader, new_size));
  if (old_size < 1 || old_size > new_size) {
    return Status::InvalidArgument("sizes must satisfy 0 < from <= to");
  }
  StoreSubtrees<store::RegistryReader> source(reader);
  auto path =
      ConsistencyProof(source, static_cast<uint64_t>(old_size), static_cast<uint64_t>(new_size));
  if (!path.ok()) return path.status();
  return ConsistencyProofDoc{old_size, new_size, std::move(*path)};
}

Result<std::string> RootAt(store::RegistryReader& reader, int64_t tree_size) {
  store::ReadSnapshot snapshot(reader);  // ~30 node reads, one read transaction
  KAKUNIN_RETURN_IF_ERROR(CheckSize(reader, tree_size));
  StoreSubtrees<store::RegistryReader> source(reader);
  return RootHash(source, static_cast<uint64_t>(tree_size));
}

std::string InclusionProofToJson(const InclusionProofDoc& p) {
  std::string out = "{\"kind\":\"inclusion\",\"leaf_index\":" + std::to_string(p.leaf_index) +
                    ",\"tree_size\":" + std::to_string(p.tree_size) + ",\"leaf_hash\":\"" +
                    HexEncode(p.leaf_hash) + "\",\"path\":";
  AppendHashArray(p.path, &out);
  return out + "}";
}

std::string ConsistencyProofToJson(const ConsistencyProofDoc& p) {
  std::string out = "{\"kind\":\"consistency\",\"old_size\":" + std::to_string(p.old_size) +
                    ",\"new_size\":" + std::to_string(p.new_size) + ",\"path\":";
  AppendHashArray(p.path, &out);
  return out + "}";
}

Result<InclusionProofDoc> InclusionProofFromJson(std::string_view json) {
  auto v = text::ParseJson(json, {.max_bytes = 16384, .max_depth = 3});
  if (!v.ok() || !v->is_object()) return Status::InvalidArgument("not a proof");
  const auto* kind = v->Find("kind");
  const auto* index = v->Find("leaf_index");
  const auto* size = v->Find("tree_size");
  const auto* leaf = v->Find("leaf_hash");
  if (!kind || kind->text() != "inclusion" || !index || !index->AsInt64() || !size ||
      !size->AsInt64() || !leaf || !leaf->is_string() || v->members().size() != 5) {
    return Status::InvalidArgument("not an inclusion proof");
  }
  auto leaf_hash = HexDecode(leaf->text());
  if (!leaf_hash || leaf_hash->size() != kHashSize) {
    return Status::InvalidArgument("not an inclusion proof");
  }
  auto path = HashArray(v->Find("path"));
  if (!path.ok()) return path.status();
  return InclusionProofDoc{*index->AsInt64(), *size->AsInt64(), *leaf_hash, std::move(*path)};
}

Result<ConsistencyProofDoc> ConsistencyProofFromJson(std::string_view json) {
  auto v = text::ParseJson(json, {.max_bytes = 16384, .max_depth = 3});
  if (!v.ok() || !v->is_object()) return Status::InvalidArgument("not a proof");
  const auto* kind = v->Find("kind");
  const auto* from = v->Find("old_size");
  const auto* to = v->Find("new_size");
  if (!kind || kind->text() != "consistency" || !from || !from->AsInt64() || !to ||
      !to->AsInt64() || v->members().size() != 4) {
    return Status::InvalidArgument("not a consistency proof");
  }
  auto path = HashArray(v->Find("path"));
  if (!path.ok()) return path.status();
  return ConsistencyProofDoc{*from->AsInt64(), *to->AsInt64(), std::move(*path)};
}

// The one-thread verifier, kept as the reference the pipelined one (audit/verifier.h) is
// tested against.
Result<VerifyReport> VerifyLogReference(
    store::RegistryReader& reader, std::string_view public_key,
    const std::function<std::string(const std::string&)>& provided_target) {
  VerifyReport report;
  auto add = [&](std::string problem) {
    if (report.problem_count == 0) report.problem = problem;
    if (report.problems.size() < kMaxListedProblems) report.problems.push_back(std::move(problem));
    ++report.problem_count;
  };
  auto checkpoints = reader.Checkpoints();
  if (!checkpoints.ok()) return checkpoints.status();
  report.checkpoints = static_cast<int64_t>(checkpoints->size());
  auto keyed = crypto::MultisetDigest::Random();
  if (!keyed.ok()) return keyed.status();
  detail::TargetIndexDigest target_index(keyed->Keyed());
  // Signatures first: a replaced checkpoint is named before anything else (and its root is
  // not compared: what it claims is worthless). Each with the key in force at its size, which
  // changes only through an announcement in the log (audit/key_rotation.h).
  auto signatures = CheckCheckpointSignatures(reader, *checkpoints, public_key, add);
  if (!signatures.ok()) return signatures.status();
  const std::vector<bool> bad_signature = std::move(*signatures);

  // Rebuild the tree from the entries: a stack of perfect subtrees. Each carries two hashes:
  // `computed` from the entries alone (nullopt under an entry that is missing or not itself)
  // and `stored`, as the database holds it. Where they first part, the problem is named; above
  // it the stored hash is checked against what is stored beneath it, so one changed entry or
  // node is named once and not again at every node and checkpoint above it.
  struct Perfect {
    uint32_t level = 0;
    std::optional<std::string> computed;
    std::optional<std::string> stored;
    bool named = false;  // a difference beneath (or here) has been named
  };
  std::vector<Perfect> stack;
  // Stored nodes, read level by level in index order, with one node of look-ahead.
  struct Level {
    std::unique_ptr<store::NodeCursor> cursor;
    bool has = false, ended = false;
    int64_t index = 0;
    std::string hash;
  };
  std::vector<Level> levels;
  size_t next_checkpoint = 0;
  int64_t expected = 0;
  int64_t last_time = INT64_MIN;
  bool seen_payload = false;
  int64_t justified_erasure = 0;    // the greatest erased_before_seq a signed purge entry names
  int64_t justifying_purge = -1;    // the purge entry that named it
  int64_t first_counted_seq = -1;   // the first entry whose index rows are accounted for
  int64_t targets_expected = 0;     // target-index rows the kept entries call for
  int64_t provisions_expected = 0;  // provision records the kept provide entries call for
  std::string provision_source;     // every provision record names this node as its source
  Status failure;

  // The resident map: each resident's chain recomputed over the version-2 entries, checked
  // against the newest checkpoint that signs a map (older ones were checked when they were
  // newest); after retention, once the purge that erased the prefix is under it
  // (detail::MapCheckableAfterRetention). Not checkable when an entry cannot be read.
  std::unordered_map<std::string, std::pair<int64_t, std::string>> heads;
  size_t last_map_checkpoint = checkpoints->size();
  for (size_t i = 0; i < checkpoints->size(); ++i) {
    if (!(*checkpoints)[i].map_root.empty()) last_map_checkpoint = i;
  }
  bool map_checkable = true;
  auto stored_node = [&](uint32_t level, int64_t index) -> std::optional<std::string> {
    while (levels.size() <= level) {
      auto c = reader.AuditNodes(static_cast<uint32_t>(levels.size()));
      if (!c.ok()) {
        failure = c.status();
        return std::nullopt;
      }
      levels.push_back(Level{std::move(*c), false, false, 0, std::string()});
    }
    Level& l = levels[level];
    for (;;) {
      if (!l.has && !l.ended) {
        Status st;
        l.has = l.cursor->Next(&l.index, &l.hash, &st);
        l.ended = !l.has;
        if (!st.ok()) failure = st;
      }
      if (!l.has || l.index > index) return std::nullopt;
      l.has = false;
      if (l.index == index) return std::move(l.hash);
    }
  };
  // Rows beside the entries for sequences [from, to): what an entry we cannot read has.
  auto rows_between = [&](int64_t from, int64_t to) -> bool {
    auto t_from = reader.CountAuditTargetsFrom(from);
    auto t_to = reader.CountAuditTargetsFrom(to);
    auto p_from = reader.CountProvisionsFromEntry(from);
    auto p_to = reader.CountProvisionsFromEntry(to);
    for (const Status& st : {t_from.status(), t_to.status(), p_from.status(), p_to.status()}) {
      if (!st.ok()) {
        failure = st;
        return false;
      }
    }
    if (first_counted_seq < 0) first_counted_seq = from;
    targets_expected += *t_from - *t_to;
    provisions_expected += *p_from - *p_to;
    return true;
  };
  auto root_of_stack = [&](bool stored) -> std::optional<std::string> {
    if (stack.empty()) return crypto::Sha256("");
    std::optional<std::string> h = stored ? stack.back().stored : stack.back().computed;
    for (size_t i = stack.size() - 1; h && i-- > 0;) {
      const auto& left = stored ? stack[i].stored : stack[i].computed;
      if (!left) return std::nullopt;
      h = NodeHash(*left, *h);
    }
    return h;
  };
  // Pushes leaf `seq` and merges equal levels, checking each completed node against the
  // store, then every checkpoint of the new size.
  auto add_leaf = [&](int64_t seq, Perfect leaf) {
    stack.push_back(std::move(leaf));
    int64_t index = seq;
    while (stack.size() >= 2 && stack[stack.size() - 2].level == stack.back().level) {
      Perfect right = std::move(stack.back());
      stack.pop_back();
      Perfect& left = stack.back();
      const uint32_t level = left.level + 1;
      index >>= 1;
      std::optional<std::string> computed;
      if (left.computed && right.computed) computed = NodeHash(*left.computed, *right.computed);
      std::optional<std::string> stored = stored_node(level, index);
      // Only where the stored tree and the entries part (rare) is the hash of what is stored
      // beneath needed, and a name for the node: the common path hashes each node once.
      auto beneath = [&]() -> std::optional<std::string> {
        if (left.stored && right.stored) return NodeHash(*left.stored, *right.stored);
        return std::nullopt;
      };
      auto where = [&] {
        return "stored tree node (" + std::to_string(level) + ", " + std::to_string(index) + ")";
      };
      bool named = left.named || right.named;
      if (!stored) {
        add(where() + " is missing");
        auto b = beneath();
        stored = b ? b : computed;
        named = true;
      } else if (stored != computed) {
        // Explained by a difference named beneath if the node agrees with what is stored
        // under it (or nothing under it can be read).
        auto b = beneath();
        if (!(named && (!b || *b == *stored))) {
          add(where() + " does not match entries " + std::to_string(index << level) + "…" +
              std::to_string(((index + 1) << level) - 1));
        }
        named = true;
      }
      left = Perfect{level, std::move(computed), std::move(stored), named};
    }
    expected = seq + 1;
    while (next_checkpoint < checkpoints->size() &&
           (*checkpoints)[next_checkpoint].tree_size == expected) {
      const auto& cp = (*checkpoints)[next_checkpoint];
      auto computed = root_of_stack(false);
      auto stored = root_of_stack(true);
      // Either the entries or the stored tree must give the signed root: if only one does,
      // the difference was named beneath. If neither can be computed, an entry is missing
      // (named).
      const bool matches = (computed && *computed == cp.root) || (stored && *stored == cp.root);
      if (!bad_signature[next_checkpoint] && !matches && (computed || stored)) {
        add("checkpoint at tree size " + std::to_string(expected) +
            " does not match the entries (one of entries 0…" + std::to_string(expected - 1) +
            (next_checkpoint > 0 ? ", after the previous checkpoint at " +
                                       std::to_string((*checkpoints)[next_checkpoint - 1].tree_size)
                                 : std::string()) +
            ", was changed)");
      }
      if (next_checkpoint == last_map_checkpoint && !bad_signature[next_checkpoint] &&
          map_checkable && report.problem_count == 0 &&
          detail::MapCheckableAfterRetention(report.erased_payloads, justified_erasure,
                                             justifying_purge, expected)) {
        // The resident map it signs, from the chains recomputed over the entries (after
        // retention: the kept ones, and the chain of none for residents left without entries).
        std::vector<std::pair<std::string, std::string>> leaves;
        leaves.reserve(heads.size());
        for (const auto& [key, h] : heads) {
          leaves.emplace_back(key, MapLeaf(key, MapValue(h.first, h.second)));
        }
        std::sort(leaves.begin(), leaves.end());
        std::string root;
        std::vector<std::pair<std::string, std::string>> all_leaves;  // with the chains of none
        if (report.erased_payloads > 0) {
          auto emptied = reader.ResidentKeysWithoutEntries();
          if (!emptied.ok()) {
            failure = emptied.status();
            return;
          }
          all_leaves = MapLeavesAfterRetention(leaves, *emptied);
          root = MapRootOf(all_leaves);
        } else {
          root = MapRootOf(leaves);
        }
        if (root != cp.map_root) {
          add("checkpoint at tree size " + std::to_string(expected) +
              " signs a resident map that the entries do not give (access statements would "
              "not show every entry)");
        } else {
          // The stored map, from which statements are proved, must be that map (it changes
          // only when a checkpoint signs it), and the stored chains the entries'.
          const int64_t before = report.problem_count;
          Status st = detail::CheckStoredMap(
              reader, report.erased_payloads > 0 ? all_leaves : leaves, cp.map_root, add);
          if (st.ok() && report.problem_count == before) {
            st = detail::CheckResidentHeads(reader, leaves, expected, report.erased_payloads > 0,
                                            add);
          }
          if (!st.ok()) failure = st;
        }
      }
      ++next_checkpoint;
    }
  };

  // More missing entries than this in one gap are named, and the tree is not rebuilt past it.
  constexpr int64_t kMaxGap = int64_t{1} << 20;
  auto process = [&](const store::AuditRow& row, Hashed& pre) -> bool {
    auto entry = [&] { return "entry " + std::to_string(row.seq); };  // named only on a problem
    if (row.seq < expected) {
      add(entry() + " is out of place (after entry " + std::to_string(expected - 1) + ")");
      return true;
    }
    if (row.seq > expected) {
      add(row.seq == expected + 1
              ? "entry " + std::to_string(expected) + " is missing (next is " +
                    std::to_string(row.seq) + ")"
              : "entries " + std::to_string(expected) + "…" + std::to_string(row.seq - 1) +
                    " are missing (next is " + std::to_string(row.seq) + ")");
      if (row.seq - expected > kMaxGap) {
        add("the log is not checked past entry " + std::to_string(expected) +
            " (too many entries missing)");
        return false;
      }
      if (!rows_between(expected, row.seq)) return false;
      for (int64_t s = expected; s < row.seq && failure.ok(); ++s) {
        add_leaf(s, Perfect{0, std::nullopt, std::nullopt, true});
      }
      if (!failure.ok()) return false;
    }
    // Times never decrease (each entry against the one before it, so one bad time is named
    // once); payloads are erased only as a prefix (retention), never in the middle, and only
    // as far as a purge entry says.
    if (row.time < last_time) {
      add(entry() + " is dated before entry " + std::to_string(row.seq - 1));
    }
    last_time = row.time;
    Perfect leaf;
    leaf.stored = row.leaf_hash;
    if (row.payload) {
      if (first_counted_seq < 0) first_counted_seq = row.seq;
      seen_payload = true;
      auto e = DecodeEntryHead(*row.payload);
      if (!e || static_cast<int64_t>(e->sequence) != row.seq) {
        add(!e ? entry() + " cannot be decoded"
               : entry() + " holds entry " + std::to_string(e->sequence) + " (moved or swapped)");
        leaf.named = true;
        // A row that holds another entry carries that entry's leaf hash too: nothing of it is
        // this entry's (the node above is then taken as stored, checked by the checkpoints).
        if (e) leaf.stored.reset();
        // Not this entry's content: its index and provision rows are taken as they are.
        if (!rows_between(row.seq, row.seq + 1)) return false;
      } else {
        if (e->time != row.time || e->actor != row.actor || e->action != row.action ||
            e->purpose != row.purpose) {
          add(entry() + ": its searchable columns differ from its content");
        }
        leaf.computed = std::move(pre.leaf_hash);
        if (*leaf.computed != row.leaf_hash) {
          add(entry() + " does not match its leaf hash");
          leaf.named = true;
        }
        targets_expected += e->target_count;
        const std::vector<TargetLeaf>& leaves = pre.leaves;
        if (!pre.targets_ok) {
          // Version 2 commits to its targets by their root: a target added, removed, altered
          // or moved to another entry shows here.
          add(entry() + ": its stored targets do not match the entry");
          map_checkable = false;
        } else {
          if (e->version != kEntryVersion1) {
            // The target-index rows it calls for: each distinct (mac, status) once.
            std::vector<std::string> records;
            std::vector<std::string_view> views;
            for (const TargetLeaf& l : leaves) {
              records.push_back(l.mac + static_cast<char>(l.status));
            }
            for (const std::string& rec : records) views.push_back(rec);
            detail::AddTargetIndexRows(views, row.seq, &target_index.expected);
            target_index.Take(row.seq);
          }
          std::set<std::string_view> seen;
          for (size_t i = 0; i < leaves.size(); ++i) {
            if (!FirstNaming(leaves, i, &seen)) continue;  // found and missing: one chain step
            auto [it, fresh] = heads.try_emplace(leaves[i].mac);
            auto& h = it->second;
            if (fresh) h.second = MapEmpty();
            h.first += 1;
            h.second = NextResidentHead(h.second, static_cast<uint64_t>(row.seq), *leaf.computed);
          }
        }
        if (e->action == "resident.provide") {
          // Its provision records (the disclosure of who received a record reads them) must
          // be exactly what the entry says was provided.
          auto full = DecodeStoredEntry(row);
          auto rows = reader.ProvisionsOfEntry(row.seq);
          if (!rows.ok()) {
            failure = rows.status();
            return false;
          }
          // Codes asked for but not found are named ":missing" and have no record; a
          // refused read wrote none (the codes it asked for are named, not found or missing).
          std::vector<std::string> provided;
          if (full.ok() && !full->outcome.starts_with("refused:")) {
            for (const auto& t : full->targets) {
              if (!std::string_view(t).ends_with(":missing")) provided.push_back(t);
            }
          }
          // A MAC target names a record's resident code through `provided_target` (the
          // registry's keyed MAC); without it, MAC targets are matched by position only.
          auto names = [&](const std::string& target, const std::string& code) {
            return target.rfind("mac:", 0) == 0
                       ? (!provided_target || provided_target(code) == target)
                       : target == code;
          };
          std::string differs;
          if (!full.ok()) {
            differs = "the entry does not decode";
          } else if (rows->size() != provided.size()) {
            differs = std::to_string(rows->size()) + " record(s) for " +
                      std::to_string(provided.size()) + " resident(s) provided";
          }
          for (size_t i = 0; differs.empty() && i < rows->size(); ++i) {
            const auto& p = (*rows)[i];
            const char* what = !names(provided[i], p.resident_code) ? "resident code"
                               : p.purpose != full->purpose         ? "purpose"
                               : detail::ProvisionFieldDiffers(*full, row.time, p, &provision_source);
            if (what) differs = "record " + std::to_string(i + 1) + ": " + what;
          }
          if (!differs.empty()) {
            add(entry() + ": its provision records differ from what it says was provided (" +
                differs + ")");
          }
          provisions_expected += static_cast<int64_t>(rows->size());
        }
        if (e->action == "registry.purge") {
          auto full = DecodeEntry(*row.payload);
          if (full.ok()) {
            size_t at = full->conditions.find("erased_before_seq=");
            if (at != std::string::npos) {
              const int64_t before = std::strtoll(full->conditions.c_str() + at + 18, nullptr, 10);
              std::string early =
                  detail::ErasureBeforeItsTime(*checkpoints, row.seq, row.time, before);
              if (!early.empty()) {
                add(std::move(early));  // and the erasure stays unjustified (named below)
              } else if (before > justified_erasure) {
                justified_erasure = before;
                justifying_purge = row.seq;
              }
            }
          }
        }
      }
    } else {
      if (seen_payload) {
        add(entry() + " has lost its payload although earlier entries kept theirs");
      } else {
        ++report.erased_payloads;  // the map's check then waits for the purge (above)
      }
      if (row.leaf_hash.size() != kHashSize) {
        add(entry() + " has no valid leaf hash");
        leaf.named = true;
      } else {
        leaf.computed = row.leaf_hash;  // all that is left of it; the tree vouches for it
      }
    }
    add_leaf(row.seq, std::move(leaf));
    return failure.ok();
  };
  // One thread: a second one hashing batches of entries (tried) cost this thread more in
  // moving rows between them than it saved in hashing.
  Hashed pre;
  Status st = reader.ForEachAuditEntry(0, [&](store::AuditRow& row) -> bool {
    HashRow(row, &pre);
    return process(row, pre);
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  report.entries = expected;
  KAKUNIN_RETURN_IF_ERROR(
      detail::CheckScanTail(reader, *checkpoints,
                            {expected, report.erased_payloads, justified_erasure, next_checkpoint,
                             first_counted_seq, targets_expected, provisions_expected,
                             &target_index},
                            add));
  report.ok = report.problem_count == 0;
  return report;
}

}  // namespace kakunin::audit
