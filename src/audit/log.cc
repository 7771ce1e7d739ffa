#include "audit/log.h"

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "audit/merkle.h"
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

AuditLog::AuditLog(const Signer* signer, const Clock* clock, LogSettings settings)
    : signer_(signer), clock_(clock), settings_(settings) {}

Result<uint64_t> AuditLog::Append(store::RegistryTxn& txn, AuditEntry entry) const {
  auto size = txn.AuditSize();
  if (!size.ok()) return size.status();
  entry.sequence = static_cast<uint64_t>(*size);
  // Each target once (the target index holds one row per resident and entry).
  std::vector<std::string> unique;
  for (auto& t : entry.targets) {
    if (std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(std::move(t));
  }
  entry.targets = std::move(unique);
  // Times never decrease along the log (a clock stepped back must not reorder it): the
  // verifier relies on it, and retention erases a prefix.
  auto newest = txn.AuditLastTime();
  if (!newest.ok()) return newest.status();
  entry.time = std::max(clock_->NowMicros(), *newest);
  store::AuditRow row;
  row.seq = *size;
  row.time = entry.time;
  row.actor = entry.actor;
  row.action = entry.action;
  row.purpose = entry.purpose;
  row.payload = EncodeEntry(entry);
  row.leaf_hash = LeafHash(*row.payload);
  KAKUNIN_RETURN_IF_ERROR(txn.InsertAuditEntry(row, entry.targets));
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
  const int64_t new_size = *size + 1;
  const int64_t last_size = *last ? (*last)->tree_size : 0;
  const int64_t last_time = *last ? (*last)->time : 0;
  if (new_size - last_size >= settings_.checkpoint_every ||
      entry.time - last_time >= settings_.checkpoint_interval_micros) {
    KAKUNIN_RETURN_IF_ERROR(Sign(txn, new_size));
  }
  return entry.sequence;
}

Status AuditLog::WriteCheckpoint(store::RegistryTxn& txn) const {
  auto size = txn.AuditSize();
  if (!size.ok()) return size.status();
  auto last = txn.LatestCheckpoint();
  if (!last.ok()) return last.status();
  if (*size == 0 || (*last && (*last)->tree_size == *size)) return Status::Ok();
  return Sign(txn, *size);
}

Status AuditLog::Sign(store::RegistryTxn& txn, int64_t size) const {
  StoreSubtrees<store::RegistryTxn> source(txn);
  auto root = RootHash(source, static_cast<uint64_t>(size));
  if (!root.ok()) return root.status();
  store::CheckpointRow c;
  c.tree_size = size;
  c.root = *root;
  c.time = clock_->NowMicros();
  c.key_id = signer_->key_id();
  auto sig = signer_->Sign(CheckpointMessage(size, c.root, c.time));
  if (!sig.ok()) return sig.status();
  c.signature = *sig;
  return txn.InsertCheckpoint(c);
}

Result<InclusionProofDoc> ProveInclusion(store::RegistryReader& reader, int64_t leaf_index,
                                         int64_t tree_size) {
  KAKUNIN_RETURN_IF_ERROR(CheckSize(reader, tree_size));
  if (leaf_index < 0 || leaf_index >= tree_size) {
    return Status::InvalidArgument("the entry is not in a tree of that size");
  }
  StoreSubtrees<store::RegistryReader> source(reader);
  auto path = InclusionProof(source, static_cast<uint64_t>(leaf_index),
                             static_cast<uint64_t>(tree_size));
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
  KAKUNIN_RETURN_IF_ERROR(CheckSize(reader, new_size));
  if (old_size < 1 || old_size > new_size) {
    return Status::InvalidArgument("sizes must satisfy 0 < from <= to");
  }
  StoreSubtrees<store::RegistryReader> source(reader);
  auto path = ConsistencyProof(source, static_cast<uint64_t>(old_size),
                               static_cast<uint64_t>(new_size));
  if (!path.ok()) return path.status();
  return ConsistencyProofDoc{old_size, new_size, std::move(*path)};
}

Result<std::string> RootAt(store::RegistryReader& reader, int64_t tree_size) {
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

Result<VerifyReport> VerifyLog(
    store::RegistryReader& reader, std::string_view public_key,
    const std::function<std::string(const std::string&)>& provided_target) {
  VerifyReport report;
  auto checkpoints = reader.Checkpoints();
  if (!checkpoints.ok()) return checkpoints.status();
  report.checkpoints = static_cast<int64_t>(checkpoints->size());
  // Signatures first: a replaced checkpoint is named before anything else.
  for (const auto& c : *checkpoints) {
    Checkpoint cp{c.tree_size, c.root, c.time, c.key_id, c.signature};
    if (!VerifyCheckpoint(cp, public_key)) {
      report.problem = "checkpoint at tree size " + std::to_string(c.tree_size) +
                       " has a bad signature (replaced or altered)";
      return report;
    }
  }

  // Rebuild the tree from the entries: a stack of perfect subtrees (level, hash).
  struct Perfect {
    uint32_t level;
    std::string hash;
  };
  std::vector<Perfect> stack;
  std::vector<std::unique_ptr<store::NodeCursor>> cursors;  // stored nodes, per level
  size_t next_checkpoint = 0;
  int64_t expected = 0;
  int64_t last_time = INT64_MIN;
  bool seen_payload = false;
  int64_t justified_erasure = 0;  // the greatest erased_before_seq a signed purge entry names
  int64_t first_payload_seq = -1;
  int64_t targets_expected = 0;     // target-index rows the kept entries call for
  int64_t provisions_expected = 0;  // provision records the kept provide entries call for
  Status failure;

  auto root_of_stack = [&]() {
    if (stack.empty()) return crypto::Sha256("");
    std::string h = stack.back().hash;
    for (size_t i = stack.size() - 1; i-- > 0;) h = NodeHash(stack[i].hash, h);
    return h;
  };
  auto compare_node = [&](uint32_t level, int64_t index, const std::string& hash) -> bool {
    while (cursors.size() <= level) {
      auto c = reader.AuditNodes(static_cast<uint32_t>(cursors.size()));
      if (!c.ok()) {
        failure = c.status();
        return false;
      }
      cursors.push_back(std::move(*c));
    }
    int64_t stored_index;
    std::string stored;
    Status st;
    if (!cursors[level]->Next(&stored_index, &stored, &st)) {
      if (!st.ok()) failure = st;
      report.problem = "stored tree node (" + std::to_string(level) + ", " +
                       std::to_string(index) + ") is missing";
      return false;
    }
    if (stored_index != index || stored != hash) {
      report.problem = "stored tree node (" + std::to_string(level) + ", " +
                       std::to_string(index) + ") does not match entries " +
                       std::to_string(index << level) + "…" +
                       std::to_string(((index + 1) << level) - 1);
      return false;
    }
    return true;
  };

  Status st = reader.ForEachAuditEntry(0, [&](const store::AuditRow& row) -> bool {
    if (row.seq != expected) {
      report.problem = "entry " + std::to_string(expected) + " is missing (next is " +
                       std::to_string(row.seq) + ")";
      return false;
    }
    // Times never decrease; payloads are erased only as a prefix (retention), never in the
    // middle, and only as far as a purge entry says.
    if (row.time < last_time) {
      report.problem = "entry " + std::to_string(row.seq) + " is dated before entry " +
                       std::to_string(row.seq - 1);
      return false;
    }
    last_time = row.time;
    std::string leaf;
    if (row.payload) {
      if (!seen_payload) first_payload_seq = row.seq;
      seen_payload = true;
      auto e = DecodeEntryHead(*row.payload);
      if (!e) {
        report.problem = "entry " + std::to_string(row.seq) + " cannot be decoded";
        return false;
      }
      if (static_cast<int64_t>(e->sequence) != row.seq) {
        report.problem = "entry " + std::to_string(row.seq) + " holds entry " +
                         std::to_string(e->sequence) + " (moved or swapped)";
        return false;
      }
      if (e->time != row.time || e->actor != row.actor || e->action != row.action ||
          e->purpose != row.purpose) {
        report.problem = "entry " + std::to_string(row.seq) +
                         ": its searchable columns differ from its content";
        return false;
      }
      leaf = LeafHash(*row.payload);
      if (leaf != row.leaf_hash) {
        report.problem = "entry " + std::to_string(row.seq) + " does not match its leaf hash";
        return false;
      }
      targets_expected += e->target_count;
      if (e->action == "resident.provide") {
        // Its provision records (the disclosure of who received a record reads them) must be
        // exactly what the entry says was provided.
        auto full = DecodeEntry(*row.payload);
        auto rows = reader.ProvisionsOfEntry(row.seq);
        if (!rows.ok()) {
          failure = rows.status();
          return false;
        }
        std::vector<std::string> provided;  // codes asked but not found name no record
        if (full.ok()) {
          for (const auto& t : full->targets) {
            const std::string_view missing = ":missing";
            if (t.size() < missing.size() ||
                t.compare(t.size() - missing.size(), missing.size(), missing) != 0) {
              provided.push_back(t);
            }
          }
        }
        bool match = full.ok() && rows->size() == provided.size();
        for (size_t i = 0; match && i < rows->size(); ++i) {
          const auto& p = (*rows)[i];
          const std::string& t = provided[i];
          const bool named = t.rfind("mac:", 0) == 0
                                 ? (!provided_target || provided_target(p.resident_code) == t)
                                 : t == p.resident_code;
          match = named && p.purpose == full->purpose &&
                  full->conditions.find(" recipient=" + p.recipient + " ") != std::string::npos &&
                  full->conditions.find(" items=" + p.items) != std::string::npos;
        }
        if (!match) {
          report.problem = "entry " + std::to_string(row.seq) +
                           ": its provision records differ from what it says was provided";
          return false;
        }
        provisions_expected += static_cast<int64_t>(rows->size());
      }
      if (e->action == "registry.purge") {
        auto full = DecodeEntry(*row.payload);
        if (full.ok()) {
          size_t at = full->conditions.find("erased_before_seq=");
          if (at != std::string::npos) {
            justified_erasure = std::max<int64_t>(
                justified_erasure, std::strtoll(full->conditions.c_str() + at + 18, nullptr, 10));
          }
        }
      }
    } else {
      if (seen_payload) {
        report.problem = "entry " + std::to_string(row.seq) +
                         " has lost its payload although earlier entries kept theirs";
        return false;
      }
      leaf = row.leaf_hash;
      ++report.erased_payloads;
      if (leaf.size() != kHashSize) {
        report.problem = "entry " + std::to_string(row.seq) + " has no valid leaf hash";
        return false;
      }
    }
    // Push the leaf and merge equal levels, checking each completed node against the store.
    stack.push_back({0, leaf});
    int64_t index = row.seq;
    while (stack.size() >= 2 && stack[stack.size() - 2].level == stack.back().level) {
      Perfect right = std::move(stack.back());
      stack.pop_back();
      Perfect& left = stack.back();
      left.hash = NodeHash(left.hash, right.hash);
      left.level += 1;
      index >>= 1;
      if (!compare_node(left.level, index, left.hash)) return false;
    }
    ++expected;
    // Checkpoints at this size.
    while (next_checkpoint < checkpoints->size() &&
           (*checkpoints)[next_checkpoint].tree_size == expected) {
      if (root_of_stack() != (*checkpoints)[next_checkpoint].root) {
        report.problem = "checkpoint at tree size " + std::to_string(expected) +
                         " does not match the entries (one of entries 0…" +
                         std::to_string(expected - 1) +
                         (next_checkpoint > 0
                              ? ", after the previous checkpoint at " +
                                    std::to_string((*checkpoints)[next_checkpoint - 1].tree_size)
                              : std::string()) +
                         ", was changed)";
        return false;
      }
      ++next_checkpoint;
    }
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  report.entries = expected;
  if (!report.problem.empty()) return report;
  if (report.erased_payloads > justified_erasure) {
    report.problem = "entries " + std::to_string(justified_erasure) + "…" +
                     std::to_string(report.erased_payloads - 1) +
                     " have no payload, but no purge recorded in the log erased them";
    return report;
  }
  if (next_checkpoint < checkpoints->size()) {
    int64_t size = (*checkpoints)[next_checkpoint].tree_size;
    report.problem = size == 0 ? "a checkpoint of size 0 exists"
                               : "the log ends at " + std::to_string(expected) +
                                     " entries but a checkpoint covers " + std::to_string(size) +
                                     " (truncated)";
    return report;
  }
  // No extra or missing rows beside the entries: the target index (audit search --target)
  // and the provision records (the resident's disclosure) match the entries that keep them.
  if (first_payload_seq >= 0) {
    auto targets = reader.CountAuditTargetsFrom(first_payload_seq);
    if (!targets.ok()) return targets.status();
    if (*targets != targets_expected) {
      report.problem = "the target index has " + std::to_string(*targets) + " rows where the "
                       "entries call for " + std::to_string(targets_expected);
      return report;
    }
    auto provisions = reader.CountProvisionsFromEntry(first_payload_seq);
    if (!provisions.ok()) return provisions.status();
    if (*provisions != provisions_expected) {
      report.problem = "there are " + std::to_string(*provisions) + " provision records where "
                       "the log's provide entries call for " + std::to_string(provisions_expected);
      return report;
    }
  }
  // Stored nodes beyond what the entries complete, at any level.
  auto stray = reader.CountStrayAuditNodes(expected);
  if (!stray.ok()) return stray.status();
  if (*stray > 0) {
    report.problem = std::to_string(*stray) + " stored tree node(s) have no entries under them";
    return report;
  }
  // Everything must be under a signature: a tail past the last checkpoint could have been
  // rewritten (after truncating the log and its checkpoints) without a trace.
  const int64_t signed_size = checkpoints->empty() ? 0 : checkpoints->back().tree_size;
  if (expected > signed_size) {
    report.problem = "entries " + std::to_string(signed_size) + "…" +
                     std::to_string(expected - 1) +
                     " are not covered by a signed checkpoint (after a crash, any kakunin "
                     "command signs them; otherwise the log was cut and rewritten)";
    return report;
  }
  report.ok = true;
  return report;
}

}  // namespace kakunin::audit
