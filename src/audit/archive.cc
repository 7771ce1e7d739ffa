#include "audit/archive.h"

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "core/bytes.h"
#include "text/csv.h"
#include "text/json.h"

namespace kakunin::audit {
namespace {

constexpr char kFormat[] = "kakunin-audit-archive";

std::optional<std::string> Hash(const text::JsonValue* v) {
  if (!v || !v->is_string()) return std::nullopt;
  auto h = HexDecode(v->text());
  if (!h || h->size() != kHashSize) return std::nullopt;
  return h;
}

}  // namespace

Result<ArchiveSummary> ExportArchive(store::RegistryReader& reader, std::string_view public_key,
                                     int64_t from_time, int64_t to_time, std::ostream& out,
                                     const ArchiveLimits& limits) {
  auto cps = reader.Checkpoints();
  if (!cps.ok()) return cps.status();
  if (cps->empty()) return Status::FailedPrecondition("the log has no checkpoint yet");
  const store::CheckpointRow& c = cps->back();
  auto size = reader.AuditSize();
  if (!size.ok()) return size.status();
  if (c.tree_size != *size) {
    return Status::FailedPrecondition("the latest checkpoint does not cover the whole log");
  }
  // The entries in the period (the log is in time order).
  ArchiveSummary s;
  s.tree_size = c.tree_size;
  s.from_seq = -1;
  Status st = reader.ForEachAuditEntry(0, [&](const store::AuditRow& row) {
    if (row.time >= to_time) return false;
    if (row.time >= from_time) {
      if (s.from_seq < 0) s.from_seq = row.seq;
      s.to_seq = row.seq + 1;
    }
    return true;
  });
  if (!st.ok()) return st;
  if (s.from_seq < 0) return Status::NotFound("no entries in that period");

  out << "{\"format\":\"" << kFormat << "\",\"version\":1,\"public_key\":\""
      << HexEncode(public_key) << "\",\"checkpoint\":"
      << CheckpointToJson(CheckpointOf(c))
      << ",\"from_seq\":" << s.from_seq << ",\"to_seq\":" << s.to_seq << "}\n";
  Status failure;
  st = reader.ForEachAuditEntry(s.from_seq, [&](const store::AuditRow& row) {
    if (row.seq >= s.to_seq) return false;
    auto proof = ProveInclusion(reader, row.seq, c.tree_size);
    if (!proof.ok()) {
      failure = proof.status();
      return false;
    }
    std::string line = "{\"seq\":" + std::to_string(row.seq) + ",\"time\":" +
                       std::to_string(row.time) + ",\"payload\":" +
                       (row.payload ? "\"" + HexEncode(*row.payload) + "\"" : "null") +
                       ",\"leaf_hash\":\"" + HexEncode(row.leaf_hash) + "\",\"proof\":[";
    for (size_t i = 0; i < proof->path.size(); ++i) {
      line += (i ? ",\"" : "\"") + HexEncode(proof->path[i]) + "\"";
    }
    line += "]}";
    // The media register records a finished export as a good copy: one its reader would refuse
    // must not be written at all.
    if (line.size() > limits.max_line_bytes) {
      failure = Status::FailedPrecondition(
          "operation-log entry " + std::to_string(row.seq) + " is too large for an archive (" +
          std::to_string(line.size()) + " bytes as a line, at most " +
          std::to_string(limits.max_line_bytes) + ")");
      return false;
    }
    out << line << "\n";
    return static_cast<bool>(out);
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  if (!out) return Status::IoError("cannot write the archive");
  return s;
}

Result<ArchiveCheck> CheckArchive(std::istream& in,
                                  const std::optional<std::string>& trusted_public_key,
                                  const ArchiveLimits& limits) {
  ArchiveCheck r;
  text::LineReader lines(in, limits.max_line_bytes);
  text::Line line;
  if (!lines.Next(&line) || line.too_long) {
    r.problem = "not an archive (no header)";
    return r;
  }
  auto header = text::ParseJson(line.text, {.max_bytes = 1 << 16, .max_depth = 3});
  if (!header.ok() || !header->is_object() || !header->Find("format") ||
      header->Find("format")->text() != kFormat || !header->Find("version") ||
      header->Find("version")->AsInt64() != 1) {
    r.problem = "not an archive (bad header)";
    return r;
  }
  const text::JsonValue* pk = header->Find("public_key");
  auto public_key = pk && pk->is_string() ? HexDecode(pk->text()) : std::nullopt;
  const text::JsonValue* cpv = header->Find("checkpoint");
  const text::JsonValue* from = header->Find("from_seq");
  const text::JsonValue* to = header->Find("to_seq");
  if (!public_key || public_key->size() != 32 || !cpv || !cpv->is_object() || !from ||
      !from->AsInt64() || !to || !to->AsInt64()) {
    r.problem = "not an archive (bad header)";
    return r;
  }
  if (trusted_public_key && *trusted_public_key != *public_key) {
    r.problem = "the archive was signed with another key than the one given";
    return r;
  }
  // Re-encode the checkpoint object to parse it strictly.
  std::string cp_json = "{";
  for (const auto& [k, v] : cpv->members()) {
    if (cp_json.size() > 1) cp_json += ",";
    text::AppendJsonString(k, &cp_json);
    cp_json += ":";
    if (v.is_string()) {
      text::AppendJsonString(v.text(), &cp_json);
    } else {
      cp_json += v.text();
    }
  }
  cp_json += "}";
  auto cp = CheckpointFromJson(cp_json);
  if (!cp.ok() || !VerifyCheckpoint(*cp, *public_key)) {
    r.problem = "the archive's checkpoint does not verify";
    return r;
  }
  int64_t expected = *from->AsInt64();
  const int64_t end = *to->AsInt64();
  bool seen_payload = false;
  while (lines.Next(&line)) {
    const std::string where = "archive line " + std::to_string(line.number);
    // Before the blank-line check: a line too long comes back with its text dropped, and was
    // once skipped as blank, reported only as the entry it held missing.
    if (line.too_long) {
      r.problem = where + " is longer than any entry of an archive can be (at most " +
                  std::to_string(limits.max_line_bytes) + " bytes)";
      return r;
    }
    if (line.text.empty()) continue;
    // Few values, whatever the line's length: a line of megabytes is one long payload string,
    // never megabytes of tiny values (each costs far more parsed than as text).
    auto v = text::ParseJson(line.text, {.max_bytes = limits.max_line_bytes,
                                         .max_depth = 3,
                                         .max_values = 16 + kMaxArchiveProofHashes});
    if (!v.ok() || !v->is_object() || !v->Find("seq") || !v->Find("seq")->AsInt64()) {
      r.problem = where + " is malformed";
      return r;
    }
    int64_t seq = *v->Find("seq")->AsInt64();
    if (seq != expected) {
      r.problem = "entry " + std::to_string(expected) + " is missing from the archive";
      return r;
    }
    auto leaf = Hash(v->Find("leaf_hash"));
    const text::JsonValue* payload = v->Find("payload");
    const text::JsonValue* proof = v->Find("proof");
    if (!leaf || !payload || !proof || !proof->is_array() ||
        proof->items().size() > kMaxArchiveProofHashes) {
      r.problem = where + " is malformed";
      return r;
    }
    if (payload->is_null()) {
      // Retention erases only a prefix of the log.
      if (seen_payload) {
        r.problem = "entry " + std::to_string(seq) + " has lost its payload in the archive";
        return r;
      }
      ++r.erased;
    } else {
      seen_payload = true;
      auto bytes = payload->is_string() ? HexDecode(payload->text()) : std::nullopt;
      auto entry = bytes ? DecodeEntry(*bytes) : Result<AuditEntry>(Status::DataLoss("x"));
      if (!entry.ok() || static_cast<int64_t>(entry->sequence) != seq ||
          LeafHash(*bytes) != *leaf) {
        r.problem = "entry " + std::to_string(seq) + " does not match its leaf hash";
        return r;
      }
    }
    std::vector<std::string> path;
    for (const auto& item : proof->items()) {
      auto h = Hash(&item);
      if (!h) {
        r.problem = where + " is malformed";
        return r;
      }
      path.push_back(*h);
    }
    if (!VerifyInclusion(*leaf, static_cast<uint64_t>(seq), static_cast<uint64_t>(cp->tree_size),
                         path, cp->root)) {
      r.problem = "entry " + std::to_string(seq) + " is not in the signed tree";
      return r;
    }
    ++expected;
    ++r.entries;
  }
  if (expected != end) {
    r.problem = "the archive ends at entry " + std::to_string(expected) + ", its header says " +
                std::to_string(end);
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace kakunin::audit
