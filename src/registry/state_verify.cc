#include "registry/state_verify.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "audit/entry.h"
#include "audit/merkle.h"
#include "crypto/sha256.h"
#include "registry/registry.h"
#include "registry/state_digest.h"
#include "text/search_key.h"

namespace kakunin::registry {

// An entry of an older edition (or of this one before its state leaves) that wrote versions.
// A link.apply that wrote nothing (a conflicting change set aside, result count 0) is no such
// entry: counting it would excuse every record written behind the log's back from then on.
//
// Nor is a support measure's link.apply (review finding): it stores a measure, not a record, so
// it counts one row and carries no state leaf — taken for an old write, one routine 支援措置 set by
// a CS switched the check of inserted rows off on the national node. The link carried measures
// only after entries carried state, so no older edition's entry names one.
bool WritesWithoutState(std::string_view action, const audit::AuditEntry* e) {
  if (action == "link.apply") {
    return e && e->result_count > 0 && e->conditions.find(" support_measure.") == std::string::npos;
  }
  if (action == "notification.apply") return e && e->outcome == "done";
  if (action == "registry.import") return e && e->result_count > 0;
  return false;
}

namespace {

using audit::StateOp;

// What the log says about one version, and about one person's current version.
struct Expect {
  std::string digest;
  int64_t seq = 0;
  int64_t person_id = 0;
  bool seen = false;
};
struct Current {
  int64_t version_id = 0;
  int64_t seq = 0;
  bool seen = false;
};

// Whether a baseline entry's conditions ("part=N/M …") say it is the last part.
bool CompleteBaseline(const std::string& conditions) {
  const size_t at = conditions.find("part=");
  if (at == std::string::npos) return false;
  const size_t slash = conditions.find('/', at);
  return slash != std::string::npos &&
         std::strtoll(conditions.c_str() + at + 5, nullptr, 10) ==
             std::strtoll(conditions.c_str() + slash + 1, nullptr, 10);
}

class Replay {
 public:
  std::unordered_map<int64_t, Expect> expect;     // by version id
  std::unordered_map<int64_t, int64_t> erased;    // version id -> the erasing entry
  std::unordered_map<int64_t, Current> current;   // by person id
  std::unordered_map<int64_t, int64_t> erased_persons;  // person id -> the erasing entry
  // Version id -> the version whose write superseded it (when that is in the log): its
  // superseded_at is that version's applied_at, from which retention counts.
  struct Successor {
    int64_t version_id = 0;
    int64_t seq = 0;
  };
  std::unordered_map<int64_t, Successor> superseded_by;
  // Named by entries appended during the walk, or by entries that fail their leaf hash.
  std::unordered_set<int64_t> touched_versions, touched_persons;
  bool legacy = false;
  bool baseline_pending = false;
  int64_t state_entries = 0;
  int64_t end = 0;  // the log size replayed

  // Replays entries from `end` on; with `late`, only notes which rows they touch.
  Status Run(store::RegistryReader& reader, bool late) {
    return reader.ScanAuditEntries(end, [&](const store::AuditRowView& row) {
      Step(row, late, std::nullopt);
      return true;
    });
  }

  // One entry, the next after `end`. `intact`: whether its payload gives its leaf hash, when
  // the caller already knows (the log verifier's scan); computed here otherwise.
  void Step(const store::AuditRowView& row, bool late, std::optional<bool> intact_known) {
    end = row.seq + 1;
    if (!row.has_payload || row.payload.empty()) {
      legacy = true;  // erased by retention: what it wrote cannot be known any more
      return;
    }
    const auto version = static_cast<uint8_t>(row.payload[0]);
    if (version != audit::kEntryVersion3) {
      // Most entries are reads: their head says enough.
      auto head = audit::DecodeEntryHead(row.payload);
      if (!head) return;
      if (head->action == kStateBaselineAction && !late) {
        // A baseline with nothing to re-commit (every stored version's leaf is in a kept
        // entry): it still closes what the purge before it erased.
        auto e = audit::DecodeEntry(row.payload);
        const bool intact = intact_known ? *intact_known
                                         : audit::LeafHash(row.payload) == row.leaf_hash;
        if (e.ok() && intact && CompleteBaseline(e->conditions)) legacy = false;
        return;
      }
      if (head->action != "notification.apply" && head->action != "registry.import" &&
          head->action != "link.apply") {
        return;
      }
      auto e = audit::DecodeEntry(row.payload);
      if (e.ok() && WritesWithoutState(e->action, &*e)) legacy = true;
      return;
    }
    auto e = audit::DecodeEntry(row.payload);
    if (!e.ok()) return;  // named by the log's verifier
    ++state_entries;
    // An entry that no longer gives its leaf hash is named by the log's verifier; what it
    // says about records is not taken, and the rows it names are not judged (one change,
    // one finding).
    const bool intact = intact_known ? *intact_known
                                     : audit::LeafHash(row.payload) == row.leaf_hash;
    // The last part of a baseline: everything stored was re-committed, so what older writes
    // left without leaves is covered from here on.
    if (e->action == kStateBaselineAction && !late && intact && CompleteBaseline(e->conditions)) {
      baseline_pending = true;
    }
    for (const audit::StateLeaf& l : e->state) {
      if (late || !intact) {
        touched_versions.insert(l.version_id);
        touched_persons.insert(l.person_id);
        continue;
      }
      Apply(l, row.seq);
    }
    if (baseline_pending) {
      legacy = false;
      baseline_pending = false;
    }
  }

 private:
  void Apply(const audit::StateLeaf& l, int64_t seq) {
    switch (l.op) {
      case StateOp::kWritten: {
        auto c = current.find(l.person_id);
        if (c != current.end() && c->second.version_id != l.version_id) {
          superseded_by[c->second.version_id] = Successor{l.version_id, seq};
        }
        current[l.person_id] = Current{l.version_id, seq};
      }
        [[fallthrough]];
      case StateOp::kHistory:
        expect[l.version_id] = Expect{l.digest, seq, l.person_id};
        erased.erase(l.version_id);
        erased_persons.erase(l.person_id);
        break;
      case StateOp::kErased: {
        expect.erase(l.version_id);
        superseded_by.erase(l.version_id);
        erased[l.version_id] = seq;
        auto c = current.find(l.person_id);
        if (c != current.end() && c->second.version_id == l.version_id) {
          // The person's last version went: retention erased the removed resident's row too.
          current.erase(c);
          erased_persons[l.person_id] = seq;
        }
        break;
      }
    }
  }
};

// A resident row's content, hashed (kept only for current versions while versions are walked).
std::string Fingerprint(const store::ResidentRow& r, bool with_keys) {
  crypto::Sha256Hasher h;
  auto str = [&](std::string_view s) {
    h.Update(std::to_string(s.size()) + ":");
    h.Update(s);
  };
  str(std::to_string(r.person_id));
  str(r.resident_code);
  str(r.status == store::ResidentStatus::kActive ? "active" : "removed");
  str(r.municipality_code);
  str(std::to_string(r.version_id));
  str(r.name);
  str(r.name_kana ? "1" + *r.name_kana : "0");
  str(r.sex);
  str(r.birth_date);
  str(r.address);
  str(r.number_mac);
  if (with_keys) {
    str(r.name_key);
    str(r.kana_key);
    str(r.address_key);
  }
  str(std::to_string(r.updated_at));
  str(std::to_string(r.removed_at));
  return h.Finish();
}

std::string Entry(int64_t seq) { return "entry " + std::to_string(seq); }
std::string Version(int64_t id) { return "version " + std::to_string(id); }
std::string Person(int64_t id) { return "resident row " + std::to_string(id); }

}  // namespace

struct StateReplayObserver::Impl {
  Replay replay;
};

StateReplayObserver::StateReplayObserver() : impl_(std::make_unique<Impl>()) {}
StateReplayObserver::~StateReplayObserver() = default;

void StateReplayObserver::Observe(const store::AuditRowView& row, bool intact) {
  // The verifier reads in sequence order; VerifyState reads on from where it stopped.
  if (row.seq < impl_->replay.end) return;
  impl_->replay.Step(row, /*late=*/false, intact);
}

Result<StateReport> VerifyState(store::RegistryReader& reader, const crypto::FieldCipher& cipher,
                                std::vector<audit::StateLeaf>* baseline) {
  return VerifyState(reader, cipher, baseline, nullptr);
}

Result<StateReport> VerifyState(store::RegistryReader& reader, const crypto::FieldCipher& cipher,
                                std::vector<audit::StateLeaf>* baseline,
                                StateReplayObserver* replayed) {
  StateReport report;
  Replay local;
  Replay& replay = replayed ? replayed->impl_->replay : local;
  // What the observer did not see (all of it without one; entries appended since, with one).
  KAKUNIN_RETURN_IF_ERROR(replay.Run(reader, /*late=*/false));
  report.log_size = replay.end;
  // Search keys are compared only under the fold table they were made with (a node rekeys at
  // start when the table changed: until then they are legitimately older).
  KAKUNIN_ASSIGN_OR_RETURN(key_version, reader.GetMeta("search_key_version"));
  const bool with_keys = key_version && *key_version == text::SearchKeyVersion();

  // (0 versions / 1 residents, row id, version id, person id, text)
  std::vector<std::tuple<int, int64_t, int64_t, int64_t, std::string>> problems;
  auto version_problem = [&](int64_t vid, int64_t pid, std::string text) {
    problems.emplace_back(0, vid, vid, pid, std::move(text));
  };
  auto resident_problem = [&](int64_t pid, int64_t vid, std::string text) {
    problems.emplace_back(1, pid, vid, pid, std::move(text));
  };

  std::unordered_map<int64_t, std::string> fingerprints;  // current version id -> resident
  // superseded_at of each version the log says another superseded, and applied_at of each
  // version that superseded one: compared after the walk (found in review: superseded_at, from
  // which retention counts, was moved by hand to the epoch — the version was purged at once —
  // or to the far future, and verify said nothing).
  std::unordered_set<int64_t> successors;
  for (const auto& [old_id, next] : replay.superseded_by) successors.insert(next.version_id);
  std::unordered_map<int64_t, std::pair<int64_t, int64_t>> marked;  // vid -> (superseded_at, pid)
  std::unordered_map<int64_t, int64_t> applied;                     // vid -> applied_at
  Status st = reader.ForEachVersion([&](const store::VersionRow& v) -> Status {
    ++report.versions;
    if (replay.superseded_by.count(v.version_id)) {
      marked.emplace(v.version_id, std::pair{v.superseded_at, v.person_id});
    }
    if (successors.count(v.version_id)) applied.emplace(v.version_id, v.applied_at);
    auto it = replay.expect.find(v.version_id);
    if (baseline) {
      auto number =
          cipher.Open(v.sealed_number, NumberAssociatedData(v.municipality_code, v.sequence));
      if (number.ok()) {
        baseline->push_back(StateLeafOf(
            cipher, v, *number,
            v.superseded_at == 0 ? audit::StateOp::kWritten : audit::StateOp::kHistory));
        report.baseline_written_by.push_back(it == replay.expect.end() ? -1 : it->second.seq);
      }  // else named below
    }
    if (it == replay.expect.end()) {
      auto er = replay.erased.find(v.version_id);
      if (er != replay.erased.end()) {
        version_problem(v.version_id, v.person_id,
                        Version(v.version_id) + " is stored although " + Entry(er->second) +
                            " erased it (re-inserted)");
      } else if (replay.legacy) {
        ++report.unattested_versions;
      } else {
        version_problem(v.version_id, v.person_id,
                        Version(v.version_id) + " was written by no entry (inserted)");
      }
      return Status::Ok();
    }
    Expect& x = it->second;
    x.seen = true;
    auto number =
        cipher.Open(v.sealed_number, NumberAssociatedData(v.municipality_code, v.sequence));
    bool matches = false;
    if (!number.ok()) {
      version_problem(v.version_id, v.person_id,
                      Version(v.version_id) + ": its sealed number does not open (" +
                          Entry(x.seq) + " wrote it)");
    } else if (v.person_id != x.person_id) {
      version_problem(v.version_id, v.person_id,
                      Version(v.version_id) + " belongs to " + Person(v.person_id) + ", but " +
                          Entry(x.seq) + " wrote it for " + Person(x.person_id) + " (moved)");
    } else if (VersionDigest(cipher, v, *number) != x.digest) {
      version_problem(v.version_id, v.person_id,
                      Version(v.version_id) + " does not match what " + Entry(x.seq) +
                          " wrote (changed)");
    } else {
      matches = true;
    }
    auto cur = replay.current.find(x.person_id);
    const bool is_current = cur != replay.current.end() && cur->second.version_id == v.version_id;
    if (is_current && v.superseded_at != 0) {
      version_problem(v.version_id, v.person_id,
                      Version(v.version_id) + " is marked superseded, but no entry superseded "
                                              "it (the current version of " +
                          Person(x.person_id) + ")");
    } else if (!is_current && v.superseded_at == 0) {
      version_problem(v.version_id, v.person_id,
                      Version(v.version_id) + " is marked current, but the log says " +
                          (cur == replay.current.end()
                               ? Person(x.person_id) + " has no current version"
                               : Version(cur->second.version_id) + " (" +
                                     Entry(cur->second.seq) + ") is current"));
    }
    if (is_current && matches) {
      fingerprints.emplace(v.version_id, Fingerprint(ResidentOf(cipher, v, *number), with_keys));
    }
    return Status::Ok();
  });
  KAKUNIN_RETURN_IF_ERROR(st);
  for (const auto& [vid, x] : replay.expect) {
    if (!x.seen) {
      version_problem(vid, x.person_id,
                      Version(vid) + " (written by " + Entry(x.seq) + ") is missing (deleted)");
    }
  }

  for (const auto& [old_id, next] : replay.superseded_by) {
    auto m = marked.find(old_id);
    auto a = applied.find(next.version_id);
    if (m == marked.end() || a == applied.end()) continue;  // missing: named above
    const auto [superseded_at, pid] = m->second;
    // 0: marked current, named above.
    if (superseded_at == 0 || superseded_at == a->second) continue;
    version_problem(old_id, pid,
                    Version(old_id) + " says it was superseded at another time than " +
                        Version(next.version_id) + " (" + Entry(next.seq) +
                        ") superseded it (superseded_at changed: retention counts from it)");
  }

  st = reader.ForEachResident([&](const store::ResidentRow& r) -> Status {
    ++report.residents;
    auto c = replay.current.find(r.person_id);
    if (c == replay.current.end()) {
      auto er = replay.erased_persons.find(r.person_id);
      if (er != replay.erased_persons.end()) {
        resident_problem(r.person_id, r.version_id,
                         Person(r.person_id) + " is stored although " + Entry(er->second) +
                             " erased it");
      } else if (replay.legacy) {
        ++report.unattested_residents;
      } else {
        resident_problem(r.person_id, r.version_id,
                         Person(r.person_id) + " was written by no entry");
      }
      return Status::Ok();
    }
    c->second.seen = true;
    if (r.version_id != c->second.version_id) {
      resident_problem(r.person_id, r.version_id,
                       Person(r.person_id) + " points at " + Version(r.version_id) +
                           ", but its current version is " + Version(c->second.version_id) +
                           " (" + Entry(c->second.seq) + ")");
      return Status::Ok();
    }
    auto fp = fingerprints.find(r.version_id);
    if (fp == fingerprints.end()) return Status::Ok();  // its version is named above
    if (Fingerprint(r, with_keys) == fp->second) return Status::Ok();
    // Which fields (names only): from the version again.
    std::string fields;
    KAKUNIN_ASSIGN_OR_RETURN(v, reader.Version(r.version_id));
    if (v) {
      auto number =
          cipher.Open(v->sealed_number, NumberAssociatedData(v->municipality_code, v->sequence));
      if (number.ok()) {
        for (const auto& f : DifferingFields(r, ResidentOf(cipher, *v, *number), with_keys)) {
          fields += (fields.empty() ? "" : ", ") + f;
        }
      }
    }
    resident_problem(r.person_id, r.version_id,
                     Person(r.person_id) + " differs from its current " + Version(r.version_id) +
                         " (" + Entry(c->second.seq) + ")" +
                         (fields.empty() ? std::string() : ": " + fields));
    return Status::Ok();
  });
  KAKUNIN_RETURN_IF_ERROR(st);
  for (const auto& [pid, c] : replay.current) {
    if (!c.seen) {
      resident_problem(pid, c.version_id,
                       Person(pid) + " (current " + Version(c.version_id) + ", " +
                           Entry(c.seq) + ") is missing (deleted)");
    }
  }

  // Entries appended while the rows were walked: what they touched is not judged.
  KAKUNIN_RETURN_IF_ERROR(replay.Run(reader, /*late=*/true));
  std::sort(problems.begin(), problems.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  for (auto& [kind, id, vid, pid, text] : problems) {
    (void)kind, (void)id;
    if (replay.touched_versions.count(vid) || replay.touched_persons.count(pid)) continue;
    report.problems.push_back(std::move(text));
  }
  report.state_entries = replay.state_entries;
  report.legacy = replay.legacy;
  return report;
}

}  // namespace kakunin::registry
