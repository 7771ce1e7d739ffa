#include "registry/audit_desk.h"

#include <algorithm>
#include <climits>
#include <map>
#include <set>

#include "audit/key_rotation.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "registry/gateway.h"   // kMaxSupportMeasureDays
#include "registry/registry.h"  // ResidentTarget
#include "registry/state_verify.h"
#include "text/json.h"
#include "text/utf8.h"

namespace kakunin::registry {

AuditDesk::AuditDesk(store::RegistryStore* store, const audit::AuditLog* log,
                     const crypto::FieldCipher* cipher)
    : store_(store), log_(log), cipher_(cipher) {}

Result<audit::VerifyReport> AuditDesk::Verify() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  // Both passes in one snapshot: on a serving node, the records and the tail read after the
  // log's scan are those of later writes (found in review: a live verify named a target row or
  // a map root the scan had not reached; on PostgreSQL 7 runs in 40).
  store::ReadSnapshot snapshot(*reader);
  // One scan of the log: the record-state replay rides on the verifier's (its hasher thread).
  StateReplayObserver replay;
  KAKUNIN_ASSIGN_OR_RETURN(
      report, audit::VerifyLogWith(
                  *reader, log_->signer().public_key(),
                  [&](const std::string& code) { return ResidentTarget(*cipher_, code, true); },
                  audit::VerifierTuning{}, &replay));
  // Then the records the log says were written (registry/state_verify.h).
  KAKUNIN_ASSIGN_OR_RETURN(state, VerifyState(*reader, *cipher_, nullptr, &replay));
  report.state_entries = state.state_entries;
  report.versions = state.versions;
  report.residents = state.residents;
  report.unattested_versions = state.unattested_versions;
  report.unattested_residents = state.unattested_residents;
  for (auto& p : state.problems) {
    if (report.problem_count == 0) report.problem = p;
    if (report.problems.size() < audit::kMaxListedProblems) report.problems.push_back(std::move(p));
    ++report.problem_count;
  }
  report.ok = report.problem_count == 0;
  return report;
}

Status CheckCriteria(const std::vector<std::pair<std::string, std::string>>& criteria) {
  std::string kinds;
  for (std::string_view k : kCriterionKinds) kinds += (kinds.empty() ? "" : ", ") + std::string(k);
  for (size_t i = 0; i < criteria.size(); ++i) {
    const std::string& kind = criteria[i].first;
    if (std::find(std::begin(kCriterionKinds), std::end(kCriterionKinds), kind) ==
        std::end(kCriterionKinds)) {
      // Not echoed: what was typed may be a value in the wrong place.
      return Status::InvalidArgument("unknown criterion kind (the kinds: " + kinds + ")");
    }
    for (size_t j = 0; j < i; ++j) {
      if (criteria[j].first == kind) {
        return Status::InvalidArgument("criterion kind " + kind +
                                       " given twice (a search holds each kind once)");
      }
    }
  }
  return Status::Ok();
}

std::string CanonicalCriteria(std::vector<std::pair<std::string, std::string>> criteria) {
  std::sort(criteria.begin(), criteria.end());
  std::string out;
  auto put = [&](const std::string& s) {
    const auto n = static_cast<uint32_t>(s.size());
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
    out += s;
  };
  for (const auto& [kind, value] : criteria) {
    put(kind);
    put(value);
  }
  return out;
}

std::string ConditionCommitment(const crypto::FieldCipher& cipher,
                                const std::vector<std::pair<std::string, std::string>>& criteria) {
  return cipher.LookupHash("kakunin/conditions/v2:" + CanonicalCriteria(criteria));
}

Status AuditDesk::CheckExtends(const std::string& checkpoint, const char* what) const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  // Signed by this node's key, or before a rotation of it by an earlier one
  // (audit/key_rotation.h): then it still counts, as a note as well as JSON.
  auto cp = audit::ParseLogCheckpoint(*reader, checkpoint, log_->signer().public_key());
  if (!cp.ok()) {
    return Status::DataLoss(std::string(what) + (cp.status().code() == StatusCode::kPermissionDenied
                                                     ? " is not signed by this node's key"
                                                     : " is not a checkpoint"));
  }
  auto root = audit::RootAt(*reader, cp->tree_size);
  if (!root.ok() || *root != cp->root) {
    return Status::DataLoss(std::string("the operation log does not extend ") + what +
                            ": the database was altered, truncated or replaced; nothing was "
                            "changed (run kakunin audit verify)");
  }
  // Signed by this node's key and extended by the committed log: nothing is signed from now on
  // over a log that does not extend it (AuditLog::Trust).
  log_->Trust(cp->tree_size, cp->root);
  return Status::Ok();
}

namespace {

// Every resident code of the person holding `code` — the code given, every earlier one and
// every later one — oldest first, as Registry::ProvisionsOf finds them: the person by current
// or replaced code (the change chain), then the codes of their versions (a code change's
// version holds the old code and the new). Just `code` for a code no stored person has held
// (never registered, or the record is past retention).
Result<std::vector<std::string>> CodeChain(store::RegistryReader& reader, const std::string& code) {
  std::vector<std::string> codes;
  auto add = [&](const std::string& c) {
    if (!c.empty() && std::find(codes.begin(), codes.end(), c) == codes.end()) codes.push_back(c);
  };
  KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindByResidentCode(code));
  if (row) {
    KAKUNIN_ASSIGN_OR_RETURN(versions, reader.History(row->person_id));  // newest first
    for (auto v = versions.rbegin(); v != versions.rend(); ++v) {
      add(v->resident_code);
      if (v->new_resident_code) add(*v->new_resident_code);
    }
    add(row->resident_code);
  }
  add(code);
  if (codes.size() > audit::kMaxStatementParts) {
    return Status::FailedPrecondition("the resident has held more codes than a statement covers");
  }
  return codes;
}

Result<std::optional<audit::Checkpoint>> Latest(store::RegistryReader& reader) {
  KAKUNIN_ASSIGN_OR_RETURN(cps, reader.Checkpoints());
  if (cps.empty()) return std::optional<audit::Checkpoint>();
  const auto& c = cps.back();
  return std::optional<audit::Checkpoint>(audit::CheckpointOf(c));
}
}  // namespace

std::string AuditDesk::CheckpointNote(const audit::Checkpoint& c) const {
  return audit::CheckpointToNote(c, log_->signer().public_key());
}

Result<std::optional<audit::Checkpoint>> AuditDesk::LatestCheckpoint() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  return Latest(*reader);
}

Result<audit::InclusionProofDoc> AuditDesk::ProveInclusion(int64_t leaf_index,
                                                           std::optional<int64_t> tree_size) const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  if (!tree_size) {
    KAKUNIN_ASSIGN_OR_RETURN(latest, Latest(*reader));
    if (!latest) return Status::NotFound("the log has no checkpoint yet");
    tree_size = latest->tree_size;
  }
  return audit::ProveInclusion(*reader, leaf_index, *tree_size);
}

Result<audit::ConsistencyProofDoc> AuditDesk::ProveConsistency(int64_t old_size,
                                                               int64_t new_size) const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  return audit::ProveConsistency(*reader, old_size, new_size);
}

std::string AuditDesk::TargetOf(const std::string& resident_code, bool found) const {
  return ResidentTarget(*cipher_, resident_code, found);
}

std::string AuditDesk::AskedTargetOf(const std::string& resident_code) const {
  return AskedTarget(*cipher_, resident_code);
}

LogRecord AuditDesk::ForReview(LogRecord record) const {
  if (!record.entry || record.entry->version != audit::kEntryVersion1) return record;
  audit::AuditEntry& e = *record.entry;
  auto digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  bool changed = false;
  for (std::string& t : e.targets) {
    if (t.starts_with("mac:")) continue;
    const size_t colon = t.find(':');
    const std::string_view code = std::string_view(t).substr(0, colon);
    const std::string_view status =
        colon == std::string::npos ? std::string_view() : std::string_view(t).substr(colon + 1);
    if (!digits(code) || code.size() < 10) continue;  // not a resident code: nobody's
    if (code.size() != 11) {
      t = "(withheld)";
    } else if (status == "found" || status == "missing") {
      t = ResidentTarget(*cipher_, code, status == "found");
    } else {
      t = AskedTarget(*cipher_, code);
    }
    changed = true;
  }
  // Search values (JSON: kind to value) keep their kinds; other conditions lose their numbers.
  auto json = text::ParseJson(e.conditions, {.max_bytes = 65536, .max_depth = 4});
  if (json.ok() && json->is_object()) {
    std::string out = "{";
    for (const auto& [key, value] : json->members()) {
      if (out.size() > 1) out += ",";
      text::AppendJsonString(key, &out);
      out += ":\"(withheld)\"";
    }
    out += "}";
    if (out != e.conditions) changed = true;
    e.conditions = std::move(out);
  } else {
    std::string out;
    for (size_t i = 0; i < e.conditions.size();) {
      size_t j = i;
      while (j < e.conditions.size() && e.conditions[j] >= '0' && e.conditions[j] <= '9') ++j;
      if (j - i >= 10) {
        out += "(withheld)";
        changed = true;
        i = j;
      } else if (j > i) {
        out.append(e.conditions, i, j - i);
        i = j;
      } else {
        out += e.conditions[i++];
      }
    }
    e.conditions = std::move(out);
  }
  record.withheld = changed;
  return record;
}

Result<std::vector<LogRecord>> AuditDesk::Search(const LogQuery& query, int* codes_searched) const {
  // Text filters are UTF-8 on both stores (found in review: PostgreSQL failed the query on a
  // byte SQLite compared as no match). Not echoed: a value in the wrong place.
  for (const std::optional<std::string>* f : {&query.actor, &query.action, &query.purpose,
                                              &query.target}) {
    if (*f && !text::IsValidUtf8(**f)) {
      return Status::InvalidArgument("a search filter is not UTF-8 text");
    }
  }
  store::AuditQuery q;
  q.from_time = query.from_time;
  q.to_time = query.to_time;
  q.actor = query.actor;
  q.action = query.action;
  q.purpose = query.purpose;
  q.from_seq = query.from_seq;
  q.limit = query.limit;
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  std::vector<store::AuditRow> rows;
  // A suspicion is tested by the commitment, which only a full decode shows: the other
  // filters narrow the rows, then the commitment picks (the limit counts matches).
  std::string commitment;
  KAKUNIN_RETURN_IF_ERROR(CheckCriteria(query.criteria));
  if (!query.criteria.empty()) {
    commitment = ConditionCommitment(*cipher_, query.criteria);
    q.limit = INT_MAX;
    if (!q.action) q.action = "resident.search";  // the only entries with criteria
  }
  if (!query.target) {
    KAKUNIN_ASSIGN_OR_RETURN(all, reader->SearchAudit(q));
    rows = std::move(all);
  } else {
    // A code is named in clear only by the notifications that wrote it (version 1); reads name
    // it by its keyed MAC, found or not (ResidentTarget), refusals without saying which
    // (AskedTarget). Entries naming it any way, in log order — it and every other code of the
    // same person (CodeChain), as statements do.
    store::ReadSnapshot snapshot(*reader);
    KAKUNIN_ASSIGN_OR_RETURN(codes, CodeChain(*reader, *query.target));
    if (codes_searched) *codes_searched = static_cast<int>(codes.size());
    std::map<int64_t, store::AuditRow> by_seq;
    for (const std::string& code : codes) {
      for (const std::string& t :
           {code, ResidentTarget(*cipher_, code, true), ResidentTarget(*cipher_, code, false),
            AskedTarget(*cipher_, code)}) {
        q.target = t;
        KAKUNIN_ASSIGN_OR_RETURN(some, reader->SearchAudit(q));
        for (auto& row : some) by_seq.emplace(row.seq, std::move(row));
      }
    }
    for (auto& [seq, row] : by_seq) {
      if (commitment.empty() && static_cast<int>(rows.size()) >= query.limit) break;
      rows.push_back(std::move(row));
    }
  }
  if (!commitment.empty()) {
    std::vector<store::AuditRow> hits;
    for (auto& row : rows) {
      if (static_cast<int>(hits.size()) >= query.limit) break;
      if (!row.payload) continue;
      auto e = audit::DecodeEntry(*row.payload);
      if (e.ok() && e->commitment == commitment) hits.push_back(std::move(row));
    }
    rows = std::move(hits);
  }
  std::vector<LogRecord> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    LogRecord r;
    r.seq = row.seq;
    r.time = row.time;
    r.leaf_hash = row.leaf_hash;
    r.erased = !row.payload.has_value();
    if (row.payload) {
      auto e = audit::DecodeStoredEntry(row);
      if (e.ok()) r.entry = std::move(*e);
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::string> AuditDesk::Statement(const std::string& resident_code,
                                         const std::optional<std::string>& earlier) const {
  std::optional<int64_t> old_size;
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  if (earlier) {
    // This node's key, or an earlier one the log announced a successor for: a checkpoint the
    // resident kept from before a rotation of the signing key is still one of this node's.
    auto cp = audit::ParseLogCheckpoint(*reader, *earlier, log_->signer().public_key());
    if (!cp.ok()) return Status::InvalidArgument("the earlier checkpoint is not one of this node's");
    // A statement is written only from a log that extends it (found in review: one was written
    // against a fork, and only check-statement said so): the node says it first, as verify does.
    auto root = audit::RootAt(*reader, cp->tree_size);
    if (!root.ok() || *root != cp->root) {
      return Status::DataLoss(
          "the operation log does not extend the earlier checkpoint: the database was altered, "
          "truncated or replaced, or the checkpoint is of another history (run kakunin audit "
          "verify); no statement was written");
    }
    old_size = cp->tree_size;
  }
  // The code chain and the statement from one snapshot (BuildStatement's nests in it).
  store::ReadSnapshot snapshot(*reader);
  // One part per code the person has held, whichever was asked for: the log names each code by
  // its own keyed MAC, so a statement of one code would leave out what was done under the others.
  KAKUNIN_ASSIGN_OR_RETURN(codes, CodeChain(*reader, resident_code));
  std::vector<std::string> keys;
  for (const std::string& code : codes) {
    KAKUNIN_ASSIGN_OR_RETURN(leaf, audit::ParseTargetName(ResidentTarget(*cipher_, code, true)));
    keys.push_back(std::move(leaf.mac));
  }
  KAKUNIN_ASSIGN_OR_RETURN(
      s, audit::BuildStatement(*reader, log_->signer().public_key(), keys, old_size));
  // Checked as the resident will check it before anyone sees it: the entries are found through
  // the target index, which the log's verification counts but cannot vouch for row by row, so a
  // row moved to another key in the database made a statement that left an entry out, and its
  // digest went on the resident's notice (found in review).
  audit::StatementCheck check = audit::CheckStatement(s, log_->signer().public_key(), std::nullopt);
  if (!check.ok) {
    return Status::DataLoss("the access statement the node built does not check (" +
                            check.problem +
                            "): the log's index was changed in the database; nothing was "
                            "issued (run kakunin audit verify)");
  }
  return audit::StatementToJson(s);
}

Result<int64_t> AuditDesk::NewestEntryTime() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(size, reader->AuditSize());
  int64_t time = 0;
  if (size == 0) return time;
  KAKUNIN_RETURN_IF_ERROR(reader->ForEachAuditEntry(size - 1, [&](store::AuditRow& row) {
    time = row.time;
    return false;
  }));
  return time;
}

Result<std::vector<audit::Finding>> AuditDesk::Review(int64_t from_time, int64_t to_time) const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(measures, reader->ListSupportMeasures());
  audit::ProtectedTargets protected_targets;
  for (const auto& m : measures) {
    // A measure is ended only while in force, so the day it ended is never after its last day.
    audit::ProtectedPeriod period{m.since,
                                  m.ended_at != 0 ? JstDate(m.ended_at).ToIso() : m.valid_until};
    // Under every code the person held: a read before a code change named the old one.
    KAKUNIN_ASSIGN_OR_RETURN(codes, CodeChain(*reader, m.resident_code));
    for (const auto& code : codes) protected_targets[AskedTargetOf(code)].push_back(period);
  }
  // …and as the log says they were set and ended, so that a measure deleted or shortened in the
  // table behind the registry's back does not take the findings of the reads it covered with it
  // (found in review). A measure lasts at most kMaxSupportMeasureDays: its set entries are
  // read from that long before the period on.
  const int64_t reach = int64_t{kMaxSupportMeasureDays + 1} * 24 * 3600 * 1000000;
  const int64_t since = from_time > reach ? from_time - reach : 0;
  std::vector<std::pair<int64_t, audit::AuditEntry>> changes;  // (seq, entry)
  for (const char* action : {"support_measure.set", "support_measure.end"}) {
    store::AuditQuery q;
    q.from_time = since;
    q.to_time = to_time;
    q.action = action;
    q.limit = 1000000;
    KAKUNIN_ASSIGN_OR_RETURN(rows, reader->SearchAudit(q));
    for (const store::AuditRow& row : rows) {
      if (!row.payload) continue;  // erased by retention
      auto e = audit::DecodeStoredEntry(row);  // its targets from the stored leaves
      if (!e.ok() || e->outcome != "done" || e->targets.empty()) continue;
      changes.emplace_back(row.seq, std::move(*e));
    }
  }
  std::sort(changes.begin(), changes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::map<std::string, audit::ProtectedPeriod> open;  // by target, the period in force
  for (const auto& [seq, e] : changes) {
    // "mac:<hex>:found" names the resident as a read's target does, without ":found".
    std::string key = e.targets[0];
    if (const size_t f = key.rfind(":found"); f != std::string::npos && f + 6 == key.size()) {
      key.resize(f);
    }
    const std::string day = JstDate(e.time).ToIso();
    auto it = open.find(key);
    if (it != open.end() && it->second.to < day) {  // lapsed before this change
      protected_targets[key].push_back(it->second);
      open.erase(it);
      it = open.end();
    }
    if (e.action == "support_measure.end") {
      if (it != open.end()) {
        it->second.to = day;
        protected_targets[key].push_back(it->second);
        open.erase(it);
      }
      continue;
    }
    const size_t at = e.conditions.find("valid_until=");
    if (at == std::string::npos) continue;
    const std::string until = e.conditions.substr(at + 12, 10);
    if (it == open.end()) {
      open.emplace(key, audit::ProtectedPeriod{day, until});
    } else {
      it->second.to = until;  // an extension keeps the day it began
    }
  }
  for (auto& [key, period] : open) protected_targets[key].push_back(period);
  return audit::Review(*reader, from_time, to_time, {}, protected_targets);
}

Result<audit::ArchiveSummary> AuditDesk::Export(int64_t from_time, int64_t to_time,
                                                std::ostream& out) const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  return audit::ExportArchive(*reader, log_->signer().public_key(), from_time, to_time, out);
}

// A search filter as `audit.search` records it: kept when it is made of the characters of an
// actor, an action or a time ([A-Za-z0-9:._@+-], at most 100) and holds no run of eight or more
// decimal digits (a birth date written compactly, a code, a number); otherwise "(withheld)".
std::string LoggedFilter(std::string_view v) {
  if (v.size() > 100) return "(withheld)";
  size_t digits = 0;
  for (char c : v) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == ':' || c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
    if (!ok) return "(withheld)";
    digits = c >= '0' && c <= '9' ? digits + 1 : 0;
    if (digits >= 8) return "(withheld)";
  }
  return std::string(v);
}


std::string LogRecordJson(const LogRecord& row) {
  // The time as people in Japan read it, and the exact µs for machines.
  std::string out = "{\"seq\":" + std::to_string(row.seq) + ",\"time\":\"" + JstIsoTime(row.time) +
                    "\",\"time_us\":" + std::to_string(row.time);
  if (row.erased) {
    return out + ",\"erased\":true,\"leaf_hash\":\"" + HexEncode(row.leaf_hash) + "\"}";
  }
  if (!row.entry) return out + ",\"malformed\":true}";
  const audit::AuditEntry* e = &*row.entry;
  auto field = [&](const char* k, const std::string& v) {
    out += ",\"";
    out += k;
    out += "\":";
    text::AppendJsonString(text::IsValidUtf8(v) ? v : std::string("(invalid)"), &out);
  };
  field("actor", e->actor);
  field("terminal", e->terminal);
  field("action", e->action);
  auto strings = [&](const char* k, const std::vector<std::string>& values) {
    out += ",\"";
    out += k;
    out += "\":[";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) out += ",";
      text::AppendJsonString(text::IsValidUtf8(values[i]) ? values[i] : std::string("(invalid)"),
                             &out);
    }
    out += "]";
  };
  field("purpose", e->purpose);
  strings("targets", e->targets);
  field("conditions", e->conditions);
  if (row.withheld) out += ",\"withheld\":true";
  if (e->version != audit::kEntryVersion1) {
    // Version 2 or 3 (3: with state leaves, the record versions written; their count only).
    // The criteria by kind; their values are only a keyed commitment (never shown).
    out += ",\"version\":" + std::to_string(e->version);
    if (e->version == audit::kEntryVersion3) {
      out += ",\"state_leaves\":" + std::to_string(e->state.size());
    }
    strings("criteria", e->criteria);
    if (!e->commitment.empty()) out += ",\"committed\":true";
  }
  out += ",\"result_count\":" + std::to_string(e->result_count);
  field("outcome", e->outcome);
  return out + "}";
}

}  // namespace kakunin::registry
