#pragma once

// Record-state verification (issue 11 part 4): the operation log says, per version-3 entry,
// which record versions the operation wrote or erased and a keyed digest of each
// (audit/state.h, registry/state_digest.h). This replays those leaves in log order and then
// recomputes the stored records — every version (active, superseded, history, of removed
// residents) and every resident row — naming each one that no longer matches what the log says
// was written: a field edited in place, a version deleted, moved to another person, re-inserted
// after retention erased it or never written by any operation, a resident pointed at another
// version, a superseded version made current again. Problems name row ids and entry sequences,
// never personal data.
//
// Versions (and resident rows) written before this edition, or by entries whose payload
// retention erased, have no leaf to check against: when the log holds such writes after its
// last complete baseline (kStateBaselineAction), they are counted as unattested, not reported.
//
// On a node that is being written while it runs, the rows an entry appended after the replay
// touches are re-replayed and not judged (they changed under the walk).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/entry.h"
#include "audit/state.h"
#include "audit/verifier.h"
#include "core/status.h"
#include "crypto/field_cipher.h"
#include "store/registry_store.h"

namespace kakunin::registry {

// Whether entry `e` (of action `action`) wrote records without state leaves: an entry of an older
// edition. When the log holds one after its last baseline, rows without a leaf are counted as
// unattested, not reported.
bool WritesWithoutState(std::string_view action, const audit::AuditEntry* e);

struct StateReport {
  int64_t state_entries = 0;      // version-3 entries replayed
  int64_t versions = 0;           // stored versions recomputed
  int64_t residents = 0;          // stored resident rows recomputed
  int64_t unattested_versions = 0;   // no leaf, and the log holds writes without leaves
  int64_t unattested_residents = 0;
  bool legacy = false;  // the log holds writes without state leaves (older edition, erased)
  int64_t log_size = 0;  // the entries replayed before the rows were walked
  std::vector<std::string> problems;  // in version order, then resident order
  // With a baseline: for each of its leaves, the entry whose leaf the log holds for that version
  // (-1: none, unattested), so a purge re-commits only the versions whose entry it erases.
  std::vector<int64_t> baseline_written_by;
};

// The log side of VerifyState (the replay of every entry's state leaves), fed by the log
// verifier's own scan (audit::VerifyLogWith's observer) so `audit verify` reads the log once.
// Runs on the verifier's hasher thread; hand it to VerifyState after VerifyLogWith returned.
class StateReplayObserver final : public audit::EntryObserver {
 public:
  StateReplayObserver();
  ~StateReplayObserver() override;
  void Observe(const store::AuditRowView& row, bool intact) override;

 private:
  friend Result<StateReport> VerifyState(store::RegistryReader&,
                                                const crypto::FieldCipher&,
                                                std::vector<audit::StateLeaf>*,
                                                StateReplayObserver*);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// With `baseline`: also every stored version's state leaf as it is now (written if it is its
// person's current version, history otherwise), for a baseline (registry/retention.cc).
Result<StateReport> VerifyState(store::RegistryReader& reader, const crypto::FieldCipher& cipher,
                                std::vector<audit::StateLeaf>* baseline = nullptr);
// The same after `replayed` saw the log (a prefix of it) through the log verifier: only the
// entries it did not see are read again.
Result<StateReport> VerifyState(store::RegistryReader& reader, const crypto::FieldCipher& cipher,
                                std::vector<audit::StateLeaf>* baseline,
                                StateReplayObserver* replayed);

// The action of the entries that re-commit every stored version (audit/state.h leaves), written
// by a purge that erases log payloads: what those entries wrote stays checkable, and records
// written before the log had state leaves become covered. Conditions "part=<i>/<n>".
inline constexpr char kStateBaselineAction[] = "registry.state_baseline";

}  // namespace kakunin::registry
