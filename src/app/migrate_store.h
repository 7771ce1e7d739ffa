#pragma once

// kakunin migrate-store (issue 13): moves a stopped node's registry to another store and only
// then points its configuration there. The store-neutral work is registry/migrate_store.h; this
// file wires the stores, opens both sides as nodes, records the move and switches kakunin.toml.

#include <string>

#include "registry/migrate_store.h"

namespace kakunin::app {

// Moves the node in `data_dir` to `to` (registry::ParseStoreLocation):
//  1. refuses if the node is running (SQLite: the locks its connections hold; PostgreSQL: other
//     sessions on its database), if `to` is where the node already is, if `to` is not new (a
//     SQLite file that exists) or not empty (a PostgreSQL database with rows), or a bad URL;
//  2. opens the node (keys, audit.head), creates the registry's schema in the target, holds the
//     source's write lock, copies every table in batches (COPY into PostgreSQL);
//  3. checks every table again row for row, opens the target as the node (the same key file, and
//     its log must extend audit.head), compares the record digests and the log's size and root,
//     and verifies the whole log on the target;
//  4. records `store.migrate` on the target (the source's log never holds it), verifies again,
//     writes the new [database] into kakunin.toml atomically (the old one kept as
//     kakunin.toml.bak, or .bak.N if that exists) and signs a checkpoint (audit.head).
// On any failure after the target was created the configuration is untouched and the target's
// meta table says why (`migrate.failed`). The source is never changed.
Result<registry::MigrationReport> MigrateNodeStore(const std::string& data_dir,
                                                   const std::string& to,
                                                   const registry::MigrationProgress& progress,
                                                   const registry::MigrationHooks& hooks);

// The configuration text `toml` with its database (a top-level `database = …` and any
// [database] table) replaced by `to`'s. Exposed for tests.
std::string WithDatabase(const std::string& toml, const registry::StoreLocation& to);

}  // namespace kakunin::app
