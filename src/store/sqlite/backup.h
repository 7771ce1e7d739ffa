#pragma once

// Online copies of a SQLite database (sqlite3_backup_*), for `kakunin backup`.

#include <string>

#include "core/status.h"

namespace kakunin::store::sqlite {

// Copies the database at `source` into a new file `dest` (mode 0600; AlreadyExists if it
// exists) with SQLite's online backup API in a single step: the source connection holds one
// read transaction for the whole copy, so the copy is one consistent snapshot while other
// connections keep writing (WAL). On an error `dest` is removed. Thread-safe (own connections).
Status CopyDatabase(const std::string& source, const std::string& dest);

// OK if no other connection has the database at `path` open (a missing file is not in use):
// briefly takes an exclusive lock without waiting. FailedPrecondition while a running node
// (or any other process) holds it open — a restore must not pull the file from under it.
Status CheckNotInUse(const std::string& path);

}  // namespace kakunin::store::sqlite
