#include "registry/field_key_rotation.h"

#include <charconv>
#include <optional>
#include <utility>

#include "audit/entry.h"
#include "core/bytes.h"
#include "registry/disclosure.h"  // CorrectionDetailsAad

namespace kakunin::registry {
namespace {

constexpr char kDone[] = "done";

std::optional<int64_t> ParseInt(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

FieldKeyRotation::FieldKeyRotation(store::RegistryStore* store, const crypto::FieldCipher* cipher,
                                   const audit::AuditLog* log, Actor actor)
    : store_(store), cipher_(cipher), log_(log), actor_(std::move(actor)) {}

Result<FieldKeyRotationProgress> FieldKeyRotation::Step(int batch_size) {
  const std::string prefix = cipher_->CurrentPrefix();
  // The key id in hex (the prefix without its version byte); a v1 node has none.
  const std::string target = prefix.size() > 1 ? HexEncode(prefix.substr(1)) : "v1";
  FieldKeyRotationProgress progress;
  {
    // Finished before and nothing sealed under an older key since: done, counted on a reader
    // (a full count of the versions; in a write it would hold every writer that long, at each
    // start and SIGHUP while an older key stays in the file: found in review).
    KAKUNIN_ASSIGN_OR_RETURN(known_target, store_->GetMeta(kFieldKeyRotationTargetMeta));
    KAKUNIN_ASSIGN_OR_RETURN(known_progress, store_->GetMeta(kFieldKeyRotationProgressMeta));
    if (known_target && *known_target == target && known_progress && *known_progress == kDone) {
      KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
      KAKUNIN_ASSIGN_OR_RETURN(n, reader->CountSealedNotUnder(prefix));
      if (n == 0) {
        progress.done = true;
        return progress;
      }
    }
  }
  Status st = store_->Write([&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(known_target, txn.GetMeta(kFieldKeyRotationTargetMeta));
    KAKUNIN_ASSIGN_OR_RETURN(known_progress, txn.GetMeta(kFieldKeyRotationProgressMeta));
    int64_t after = 0;
    auto entry = [&](const char* action, std::string conditions) {
      audit::AuditEntry e;
      e.actor = actor_.id;
      e.terminal = actor_.terminal;
      e.action = action;
      e.conditions = std::move(conditions);
      e.outcome = "done";
      return e;
    };
    const bool same_target = known_target && *known_target == target && known_progress;
    // Done stays done only while nothing is sealed under an older key: a node that had not
    // taken the new key (no SIGHUP) sealed on under the old one after a `keys reseal` finished,
    // and those values were never re-sealed (found in review: retire-field-keys then refused
    // for ever, its advice — reseal — doing nothing). Counted once per run, not per batch.
    std::optional<int64_t> since_done;
    if (same_target && *known_progress == kDone) {
      KAKUNIN_ASSIGN_OR_RETURN(n, txn.CountSealedNotUnder(prefix));
      if (n == 0) {
        progress.done = true;
        return Status::Ok();
      }
      since_done = n;
    }
    if (same_target && !since_done) {
      auto v = ParseInt(*known_progress);
      if (!v) return Status::DataLoss("the field-key rotation's progress is malformed");
      after = *v;
    } else {
      // A rotation to this key starts here (or a previous one to another key is superseded, or
      // one done finds values sealed under an older key since: it starts again).
      int64_t remaining = 0;
      if (since_done) {
        remaining = *since_done;
      } else {
        KAKUNIN_ASSIGN_OR_RETURN(n, txn.CountSealedNotUnder(prefix));
        remaining = n;
      }
      progress.remaining = remaining;
      KAKUNIN_RETURN_IF_ERROR(log_->Append(txn, entry(kFieldKeyRotateStartAction,
                                                      "{\"key_id\":\"" + target +
                                                          "\",\"values\":" +
                                                          std::to_string(remaining) + "}"))
                                  .status());
      KAKUNIN_RETURN_IF_ERROR(txn.SetMeta(kFieldKeyRotationTargetMeta, target));
    }
    KAKUNIN_ASSIGN_OR_RETURN(rows, txn.SealedNumbersNotUnder(prefix, after, batch_size));
    for (const store::SealedNumberRow& row : rows) {
      const std::string ad = NumberAssociatedData(row.municipality_code, row.sequence);
      auto plain = cipher_->Open(row.sealed_number, ad);
      // A value no key of the file opens (an older key removed too early, or damage) stops the
      // job there, the batch undone: it must never be logged as finished over such a value.
      if (!plain.ok()) {
        return Status::DataLoss("the sealed number of version " + std::to_string(row.version_id) +
                                " opens under no key of the key file; field-key rotation stopped");
      }
      const std::string sealed = cipher_->Seal(*plain, ad);
      KAKUNIN_ASSIGN_OR_RETURN(replaced,
                               txn.ReplaceSealedNumber(row.version_id, row.sealed_number, sealed));
      if (replaced) ++progress.resealed;
      after = row.version_id;
    }
    if (!rows.empty()) {
      return txn.SetMeta(kFieldKeyRotationProgressMeta, std::to_string(after));
    }
    // The numbers are done; then the correction requests' sealed texts (store/disclosure_store.h),
    // a batch per step. Without them, retiring the older key would leave a municipality unable
    // to open what a resident asked to have corrected.
    KAKUNIN_ASSIGN_OR_RETURN(corrections, txn.CorrectionsSealedNotUnder(prefix, batch_size));
    for (const store::CorrectionRow& c : corrections) {
      const std::string ad = CorrectionDetailsAad(c.disclosure_id);
      auto plain = cipher_->Open(c.details_sealed, ad);
      if (!plain.ok()) {
        return Status::DataLoss("the sealed text of correction request " + std::to_string(c.id) +
                                " opens under no key of the key file; field-key rotation stopped");
      }
      KAKUNIN_ASSIGN_OR_RETURN(
          replaced, txn.ReplaceCorrectionDetails(c.id, c.details_sealed, cipher_->Seal(*plain, ad)));
      if (replaced) ++progress.resealed;
    }
    if (!corrections.empty()) return Status::Ok();
    // Nothing after `after`: done, unless something is left before it (a value that failed to
    // open, or one skipped by a concurrent change) — then round again from the start.
    KAKUNIN_ASSIGN_OR_RETURN(left, txn.CountSealedNotUnder(prefix));
    progress.remaining = left;
    if (left > 0) return txn.SetMeta(kFieldKeyRotationProgressMeta, "0");
    KAKUNIN_RETURN_IF_ERROR(
        log_->Append(txn, entry(kFieldKeyRotateFinishAction, "{\"key_id\":\"" + target + "\"}"))
            .status());
    progress.done = true;
    return txn.SetMeta(kFieldKeyRotationProgressMeta, kDone);
  });
  if (!st.ok()) return st;
  return progress;
}

Result<FieldKeyRotationProgress> FieldKeyRotation::Run(const std::function<bool()>& stop,
                                                       int batch_size) {
  FieldKeyRotationProgress total;
  while (!stop || !stop()) {
    auto p = Step(batch_size);
    if (!p.ok()) return p.status();
    total.resealed += p->resealed;
    if (p->remaining >= 0) total.remaining = p->remaining;
    if (p->done) {
      total.done = true;
      break;
    }
  }
  return total;
}

}  // namespace kakunin::registry
