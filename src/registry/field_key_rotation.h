#pragma once

// Field-key rotation's background job (docs/keys.md): once the node holds a new field key
// (crypto/key_file.h AddFieldKey), every value sealed under an older key — the individual numbers,
// then the correction requests' texts (registry/disclosure.h) — is re-sealed under it,
// in small batches, each one short transaction of its own — so the node keeps serving between
// batches, and new writes (sealed under the new key by then) are never held up for long.
//
// Resumable: the progress (the key being rotated to, the last version re-sealed) is kept in the
// meta table in the same transaction as each batch, so after a crash the job continues where
// it stopped. The operation log records the start (with how many values were under an older
// key) and the finish (how many were re-sealed): key ids and counts only, no key bytes, no
// personal data. When it is done the older keys are unused; the key file keeps them (wrapped,
// if it is) until an administrator removes them (`kakunin keys retire-field-keys`).

#include <cstdint>
#include <functional>
#include <string>

#include "audit/log.h"
#include "core/clock.h"
#include "core/status.h"
#include "crypto/field_cipher.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::registry {

inline constexpr char kFieldKeyRotateStartAction[] = "field_key.rotate.start";
inline constexpr char kFieldKeyRotateFinishAction[] = "field_key.rotate.finish";

struct FieldKeyRotationProgress {
  bool done = false;        // nothing is sealed under an older key (and the finish is logged)
  int64_t resealed = 0;     // by this call
  int64_t remaining = -1;   // values under an older key, where counted (start, finish), else -1
};

// Not thread-safe: one job per node (the serving node's, or `kakunin keys reseal`'s). Runs beside
// any number of readers and writers of the registry.
class FieldKeyRotation {
 public:
  // All must outlive the job. `cipher` holds the current key and the older ones.
  FieldKeyRotation(store::RegistryStore* store, const crypto::FieldCipher* cipher,
                   const audit::AuditLog* log, Actor actor);

  // Re-seals at most `batch_size` values in one transaction. The first step of a rotation logs
  // its start; the step that finds nothing left logs its finish. Once finished, a step does
  // nothing and says done.
  Result<FieldKeyRotationProgress> Step(int batch_size = 256);

  // Steps until done or until `stop()` is true (checked between batches).
  Result<FieldKeyRotationProgress> Run(const std::function<bool()>& stop, int batch_size = 256);

 private:
  store::RegistryStore* store_;
  const crypto::FieldCipher* cipher_;
  const audit::AuditLog* log_;
  Actor actor_;
};

// Meta keys of the job, for `kakunin keys status`: the key id (hex) being rotated to, and the
// last version re-sealed, or "done".
inline constexpr char kFieldKeyRotationTargetMeta[] = "field_key_rotation_target";
inline constexpr char kFieldKeyRotationProgressMeta[] = "field_key_rotation_progress";

}  // namespace kakunin::registry
