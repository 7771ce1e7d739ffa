#pragma once

// The content of a stored record version as the operation log commits it (issue 11 part 4,
// audit/state.h), and the resident row a version implies.
//
// Version digest = HMAC-SHA-256 under the node's hmac key (FieldCipher::LookupHash, the key of
// number lookups and resident targets) of
//
//   "kakunin/version-state/v1:" ‖ u64 version_id ‖ u64 person_id ‖ str municipality_code ‖
//   u64 sequence ‖ str kind ‖ str reason ‖ str change_date ‖ str resident_code ‖
//   str individual_number (UNSEALED) ‖ str name ‖ opt name_kana ‖ opt former_surname ‖
//   opt alias ‖ str sex ‖ str birth_date ‖ str address ‖ opt new_resident_code ‖
//   u64 applied_at
//
// (str = u32 big-endian length ‖ bytes; opt = 0x00, or 0x01 ‖ str; integers big-endian).
//
// - Keyed: without the key a copy of the log cannot test guesses (a dictionary over names and
//   birth dates fails); with it the verifier recomputes every stored version.
// - Over the unsealed number, not the sealed bytes: sealing is randomised and field-key
//   rotation re-seals rows in place. A re-seal therefore changes no digest and needs no state
//   leaves (its start/finish entries are logged as before), while a sealed value that no longer
//   opens, or opens to another number, is caught.
// - Row ids are inside: a version moved to another person, or renumbered, no longer matches.
// - superseded_at is not: it changes when a later version supersedes this one. The verifier
//   checks it against the log's idea of the current version instead.

#include <string>
#include <vector>

#include "audit/state.h"
#include "core/status.h"
#include "crypto/field_cipher.h"
#include "store/resident_store.h"

namespace kakunin::registry {

// The canonical bytes hashed (exposed for the known-answer test).
std::string CanonicalVersion(const store::VersionRow& v, const std::string& individual_number);
std::string VersionDigest(const crypto::FieldCipher& cipher, const store::VersionRow& v,
                          const std::string& individual_number);

// The state leaf of version `v` (its version_id set), written with `op`.
audit::StateLeaf StateLeafOf(const crypto::FieldCipher& cipher, const store::VersionRow& v,
                             const std::string& individual_number, audit::StateOp op);

// The resident row that version `v` implies when it is the person's current version (both
// writers, Registry::ApplyOne and NationalDesk::ApplyChange, set it so), search keys under the
// current fold table.
store::ResidentRow ResidentOf(const crypto::FieldCipher& cipher, const store::VersionRow& v,
                              const std::string& individual_number);

// The fields of `stored` that differ from `expected` (names only, never values).
std::vector<std::string> DifferingFields(const store::ResidentRow& stored,
                                         const store::ResidentRow& expected, bool with_keys);

}  // namespace kakunin::registry
