#pragma once

#include <memory>
#include <string>

#include "store/registry_store.h"

namespace kakunin::store::sqlite {

// Opens the registry database at `path`. With `create`, a missing file is created;
// migrations bring the schema up to date (each in its own transaction). Without it, a
// missing file is kNotFound and a file that is not a Kakunin database is kDataLoss, and
// nothing is written.
Result<std::unique_ptr<RegistryStore>> OpenRegistryStore(const std::string& path, bool create);

// The schema version this build writes.
int LatestSchemaVersion();

}  // namespace kakunin::store::sqlite
