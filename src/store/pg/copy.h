#pragma once

#include <memory>
#include <string>

#include "store/table_copy.h"

namespace kakunin::store::pg {

// The tables of the registry database at `url` (its current schema), for moving a node
// (store/table_copy.h). Rows are loaded with COPY, read through a cursor a batch at a time.
Result<std::unique_ptr<TableStore>> OpenTableStore(const std::string& url);

// InvalidArgument unless `url` parses as a libpq connection URL or key=value string. The message
// never repeats the URL (it may hold a password).
Status CheckUrl(const std::string& url);

// FailedPrecondition if another session is connected to the database at `url` (a running node:
// its writer and readers stay connected). Unavailable if the server cannot be reached.
Status CheckNoOtherSessions(const std::string& url);

}  // namespace kakunin::store::pg
