#pragma once

// Helpers shared by several of the registry's use-case files (apply, read, provide). Not part
// of the registry's interface: include registry/registry.h instead.

#include <string>
#include <string_view>

#include "audit/log.h"
#include "core/date.h"
#include "core/status.h"
#include "crypto/field_cipher.h"
#include "registry/gateway.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::registry::detail {

// Domain separation for the keyed hashes: a payload MAC can never equal a number MAC.
std::string NumberMac(const crypto::FieldCipher& c, std::string_view number);

// Takes the move-out expected from `sender`, or from a municipality abolished since that
// `sender` stands for on `today` (LocalGovTable::SpeaksFor): the expectation names the code the
// resident was registered under when the 転入 elsewhere came first, and after a merger only the
// successor can send the 転出. Used by the prefecture's apply and the national node's.
Result<bool> TakeExpectedMoveOutFor(store::RegistryTxn& txn, int64_t person_id,
                                    const std::string& sender, Date today);

// What a refused read is (recorded as such): a bad request, a caller without the right, or a
// halt found inside the recording transaction. Anything else is a failure, not a decision.
bool IsRefusal(const Status& st);

// What a municipal CS acting on a resident needs of the node, checked in the transaction that
// records the act: the node not halted (reason halted), the CS still registered and not revoked
// (client_revoked).
Status CsStillServed(store::RegistryTxn& txn, const Client& cs);

// Whether municipal CS `cs` acts for a resident registered under `registered` on `today`: its
// municipality's own residents, and those of codes abolished into it (LocalGovTable::SpeaksFor)
// — while its municipality exists. The CS of a municipality merged away acts for no one (its
// successor's CS does), even if its registration was never revoked.
bool CsActsFor(const Client& cs, std::string_view registered, Date today);

// The operation-log entry of a read, before its targets, conditions and outcome are set.
audit::AuditEntry ReadEntry(const Actor& actor, const char* action, const std::string& purpose);

}  // namespace kakunin::registry::detail
