#pragma once

// The national node's receiving route (registry/national.h has the wire format): POST
// /v1/link/changes from a registered prefecture node.

#include "http/server.h"
#include "registry/gateway.h"
#include "registry/national.h"

namespace kakunin::api {

// 200 {"acknowledged","applied","duplicates","conflicts"}; 409 {"error":"sequence_gap",
// "acknowledged"} or {"error":"sequence_conflict","sequence","acknowledged"} (registry/national.h)
// (nothing applied); problems otherwise: not_permitted (not a prefecture node, or this node is
// not national), sender_mismatch (a change of another prefecture: nothing applied), halted,
// invalid_request (names a member, never a value). Every refusal of a registered prefecture
// node is recorded ("link.receive", "refused:<reason>"), an unreadable body's too.
http::Response ServeLinkChanges(const http::Request& request, const registry::Gateway& gateway,
                                const registry::NationalDesk* desk,
                                const registry::Client& client);

}  // namespace kakunin::api
