#pragma once

#include <memory>
#include <string>

#include "store/registry_store.h"

namespace kakunin::store::pg {

// Opens the registry database at `url`, a libpq connection URL or key=value string (a multi-host
// URL with target_session_attrs=read-write follows a failover). With `create`, migrations bring
// the schema up to date (all pending ones in one transaction, one node at a time); without it, a
// database without the registry's schema is kNotFound and nothing is written. An unreachable server
// is kUnavailable.
Result<std::unique_ptr<RegistryStore>> OpenRegistryStore(const std::string& url, bool create);

// The schema version this build writes (the same numbers as the SQLite store's).
int LatestSchemaVersion();

}  // namespace kakunin::store::pg
