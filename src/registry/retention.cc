// Retention: what the law no longer lets the registry keep is erased (or counted, dry run).

#include <algorithm>

#include "audit/statement.h"
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
  // The residents' chains through the erased prefix restart after it (audit/statement.h),
  // planned on a snapshot and applied only if nothing moved in between (else planned again).
  audit::ChainRestartPlan restarts;
  auto plan = [&]() -> Status {
    if (dry_run) return Status::Ok();
    KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
    KAKUNIN_ASSIGN_OR_RETURN(p, audit::PlanChainRestarts(*reader, audit_before));
    restarts = std::move(p);
    return Status::Ok();
  };
  KAKUNIN_RETURN_IF_ERROR(plan());
  auto write = [&](store::RegistryTxn& txn) -> Status {
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
    auto seq = log_->Append(txn, std::move(e));
    if (!seq.ok() || dry_run) return seq.status();
    return audit::ApplyChainRestarts(txn, restarts, erased_before_seq, static_cast<int64_t>(*seq));
  };
  Status st = store_->Write(write);
  for (int again = 0; again < 2 && st.code() == StatusCode::kUnavailable; ++again) {
    KAKUNIN_RETURN_IF_ERROR(plan());
    st = store_->Write(write);
  }
  if (!st.ok()) return st;
  return counts;
}

}  // namespace kakunin::registry
