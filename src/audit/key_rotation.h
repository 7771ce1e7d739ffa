#pragma once

// Rotation of the checkpoint signing key (docs/keys.md). A new key is announced by an entry of
// the log itself — action "key.signing.rotate", conditions
//   {"previous_public_key":"<hex>","public_key":"<hex>","key_id":"<id>"}
// (public data only) — covered by a checkpoint signed with the OLD key; then an entry
// "key.signing.activate" is appended and signed with the NEW key, and every later checkpoint is
// signed with it. The verifier accepts a change of key only through such an announcement.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/log.h"
#include "audit/signer.h"
#include "core/clock.h"
#include "core/status.h"
#include "store/registry_store.h"

namespace kakunin::audit {

inline constexpr std::string_view kSigningKeyRotateAction = "key.signing.rotate";
inline constexpr std::string_view kSigningKeyActivateAction = "key.signing.activate";

// Inside `txn`: appends the announcement of `next` and a checkpoint signed by `current` (the
// log's signer today), then the activation entry and a checkpoint signed by `next`, and sets
// the meta `log_key_id` to `next`'s key id. The caller commits and from then on signs with
// `next` (the node's configuration must name it). InvalidArgument if `next` is `current`.
Status RotateSigningKey(store::RegistryTxn& txn, const Signer& current, const Signer& next,
                        const Clock& clock, const std::string& actor,
                        const std::string& terminal);

// Whether `c` is signed by a key the log announced a successor for (an earlier signing key):
// a checkpoint kept outside the database (audit.head) before a rotation still counts.
Result<bool> SignedByEarlierKey(store::RegistryReader& reader, const Checkpoint& c);

// `text` (JSON or a C2SP note) read as a checkpoint of this log: signed by `current_key`, or by
// an earlier signing key the log announced a successor for. A note names its signer by key
// hash, so it is read with each of those keys in turn. InvalidArgument if it is not a
// checkpoint; PermissionDenied if no such key signed it.
Result<Checkpoint> ParseLogCheckpoint(store::RegistryReader& reader, std::string_view text,
                                      std::string_view current_key);

// The verifier's checkpoint-signature step (VerifyLog). `trusted_key` is the key the caller
// trusts: the log's first key, or any key a valid announcement introduced (the current one,
// from <signing key>.pub) — then the announcements before it name the earlier keys, and at
// least one checkpoint must be signed by `trusted_key` itself. Each checkpoint is checked with
// the key in force at its tree size; returns, per checkpoint, whether its signature is bad.
// Names through `add`: a checkpoint signed by a key no announcement introduced, a bad
// signature, an announcement that cannot be read or does not follow from the key in force.
Result<std::vector<bool>> CheckCheckpointSignatures(
    store::RegistryReader& reader, const std::vector<store::CheckpointRow>& checkpoints,
    std::string_view trusted_key, const std::function<void(std::string)>& add);
// The same from the announcement entries already read — every entry whose stored action is
// kSigningKeyRotateAction, in sequence order, at most kMaxSigningKeyAnnouncements — as the
// verifier collects them on its one scan of the log.
std::vector<bool> CheckCheckpointSignatures(const std::vector<store::AuditRow>& announcements,
                                            const std::vector<store::CheckpointRow>& checkpoints,
                                            std::string_view trusted_key,
                                            const std::function<void(std::string)>& add);
// Far more than a node rotates in its life; the search is bounded all the same.
inline constexpr int kMaxSigningKeyAnnouncements = 10000;

}  // namespace kakunin::audit
