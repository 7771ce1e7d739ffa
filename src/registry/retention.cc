// Retention: what the law no longer lets the registry keep is erased (or counted, dry run).

#include <algorithm>

#include "registry/registry.h"

namespace kakunin::registry {
namespace {

Date YearsBefore(const Date& d, int years) {
  int y = d.year() - years;
  int day = std::min(d.day(), Date::DaysInMonth(y, d.month()));
  return Date::FromYmd(y, d.month(), day);
}

}  // namespace

Result<store::PurgeCounts> Registry::Purge(const Date& as_of, bool dry_run, const Actor& actor) {
  // An erasure cannot be undone: a date typed wrong must not erase what the law keeps.
  if (!dry_run && as_of > clock_->TodayJst()) {
    return Status::InvalidArgument("a purge cannot be dated after today (preview with --dry-run)");
  }
  const int64_t superseded_before =
      JstMidnightMicros(YearsBefore(as_of, config_.superseded_retention_years));
  const int64_t removed_before =
      JstMidnightMicros(YearsBefore(as_of, config_.removed_retention_years));
  store::PurgeCounts counts;
  const int64_t audit_before = JstMidnightMicros(YearsBefore(as_of, config_.audit_retention_years));
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    // The versions about to go, named in the log (audit/state.h): the verifier must not take
    // them for deleted, and must refuse them if they come back.
    std::vector<audit::StateLeaf> gone;
    if (!dry_run) {
      KAKUNIN_ASSIGN_OR_RETURN(going, txn.PurgeableVersions(superseded_before, removed_before));
      gone.reserve(going.size());
      for (const auto& [vid, pid] : going) {
        gone.push_back(audit::StateLeaf{audit::StateOp::kErased, vid, pid, ""});
      }
    }
    auto r = txn.Purge(superseded_before, removed_before, dry_run);
    if (!r.ok()) return r.status();
    counts = *r;
    // The log keeps every leaf hash, so proofs stay valid after its payloads go.
    auto erased = txn.EraseAuditBefore(audit_before, dry_run);
    if (!erased.ok()) return erased.status();
    counts.audit_payloads = erased->entries;
    counts.provisions = erased->provisions;
    const int64_t erased_before_seq = dry_run ? 0 : erased->before_seq;
    audit::AuditEntry e;
    e.actor = actor.id;
    e.terminal = actor.terminal;
    e.action = dry_run ? "registry.purge.dry_run" : "registry.purge";
    e.conditions = "as_of=" + as_of.ToIso() +
                   " superseded=" + std::to_string(counts.superseded_versions) +
                   " removed=" + std::to_string(counts.removed_residents) +
                   " audit_payloads=" + std::to_string(counts.audit_payloads) +
                   " provisions=" + std::to_string(counts.provisions) +
                   // Signed through the tree: the verifier accepts erased payloads only below it.
                   " erased_before_seq=" + std::to_string(erased_before_seq);
    e.outcome = "done";
    // More erasures than one entry holds go in entries of their own, before the purge's.
    size_t from = 0;
    while (gone.size() - from > audit::kMaxStateLeaves) {
      audit::AuditEntry more;
      more.actor = actor.id;
      more.terminal = actor.terminal;
      more.action = "registry.purge.versions";
      more.result_count = static_cast<int64_t>(audit::kMaxStateLeaves);
      more.outcome = "done";
      more.state.assign(gone.begin() + static_cast<std::ptrdiff_t>(from),
                        gone.begin() + static_cast<std::ptrdiff_t>(from + audit::kMaxStateLeaves));
      from += audit::kMaxStateLeaves;
      KAKUNIN_RETURN_IF_ERROR(log_->Append(txn, std::move(more)).status());
    }
    e.state.assign(gone.begin() + static_cast<std::ptrdiff_t>(from), gone.end());
    return log_->Append(txn, std::move(e)).status();
  });
  if (!st.ok()) return st;
  return counts;
}

}  // namespace kakunin::registry
