#pragma once

#include <memory>
#include <string>

#include "store/table_copy.h"

namespace kakunin::store::sqlite {

// The tables of the registry database at `path` (store/table_copy.h), for moving a node. The
// file must exist (OpenRegistryStore with create makes a new one with its schema first).
Result<std::unique_ptr<TableStore>> OpenTableStore(const std::string& path);

}  // namespace kakunin::store::sqlite
