#pragma once

// kakunin stats --digest: the per-prefecture digest of the current records
// (registry/record_digest.h), to compare two nodes without personal data.

#include "cli/args.h"
#include "cli/node.h"

namespace kakunin::cli {

// Prints one line per prefecture with an active resident,
//   prefecture 19 residents 1234 digest <64 hex>
// ("digest withheld" below registry::kMinResidentsForDigest residents), or with `json`
//   {"prefectures":[{"prefecture":19,"residents":1234,"digest":"<hex>"|null},…]}
int PrintStatsDigest(Node& node, bool json, Io& io);

}  // namespace kakunin::cli
