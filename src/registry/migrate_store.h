#pragma once

// Moving a stopped node from one store to another (issue 13, kakunin migrate-store): SQLite to
// PostgreSQL and back (or to another SQLite file). The work here is store-neutral: every table
// copied row by row in batches (store/table_copy.h), then checked twice — every table again,
// row for row, in one snapshot of each side, and the registry as the node sees it (the record
// digests of `kakunin stats --digest`, the operation log's size and root). app/ wires the
// stores, opens both nodes, records the `store.migrate` entry and switches the configuration
// only when everything matched.
//
// Nothing personal leaves here: progress and errors name tables, columns and counts, and the
// digests are one-way (registry/record_digest.h). Sealed individual numbers are copied sealed.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/field_cipher.h"
#include "store/registry_store.h"
#include "store/table_copy.h"

namespace kakunin::registry {

// Where `kakunin migrate-store --to` points.
struct StoreLocation {
  std::string kind;  // "sqlite" or "postgresql"
  std::string path;  // sqlite: absolute
  std::string url;   // postgresql
  // For the configuration's [database] table: the path as given (relative to the data
  // directory when it was), or the URL.
  std::string config_value;
};

// Parses --to: "postgresql://…" or "postgres://…" (a libpq URL, checked by the caller's store),
// "sqlite" (registry.db in the data directory), "sqlite:PATH", or a PATH ending in ".db"
// (relative paths resolve against `data_dir`). Anything else is InvalidArgument.
Result<StoreLocation> ParseStoreLocation(const std::string& to, const std::string& data_dir);

// Reports one line of progress, without personal data.
using MigrationProgress = std::function<void(const std::string&)>;

struct TableReport {
  std::string table;
  int64_t rows = 0;
  std::string sha256_hex;  // over the table's rows in key order (both sides equal)
};

struct MigrationReport {
  std::string from_kind, to_kind;
  std::vector<TableReport> tables;
  int64_t rows = 0;
  int64_t log_size = 0;       // the log as copied, before the store.migrate entry
  std::string log_root_hex;   // its root
  int64_t residents = 0;      // active residents, summed over the record digests
  int64_t entry_seq = -1;     // the store.migrate entry's sequence on the target
  std::string config_backup;  // where the old configuration was kept
  int64_t copy_micros = 0, verify_micros = 0;
};

// Hooks for tests: after the copy, before anything is compared (a test alters the target here
// to prove the comparison notices).
struct MigrationHooks {
  std::function<Status()> after_copy;
};

// FailedPrecondition unless `to` holds no row in any table (a new file or an empty database, or
// one holding only an empty schema).
Status CheckTargetEmpty(store::TableStore& to);

// Copies every table of `from` (between BeginRead and EndRead, which the caller holds) into `to`,
// which holds the registry's schema at the same version and no row: tables in dependency order,
// `batch` rows at a time, then the row-id counters, in one transaction. Fills report->tables
// (rows) and report->rows.
Status CopyTables(store::TableStore& from, store::TableStore& to, size_t batch,
                  const MigrationProgress& progress, MigrationReport* report);

// Reads every table of both sides again (each in one snapshot; `from` still inside the caller's
// read) and compares them row for row: the same tables, columns, row counts and SHA-256 over the
// rows in key order, and the counters. Fills report->tables (digests). DataLoss naming the first
// table that differs (and how: count or content), nothing else.
Status CompareTables(store::TableStore& from, store::TableStore& to, size_t batch,
                     const MigrationProgress& progress, MigrationReport* report);

// The registry as the node sees it on both sides: the record digests of every prefecture (the
// same as `kakunin stats --digest`), the operation log's size and root (computed from the
// stored tree on each side). DataLoss naming what differs.
Status CompareRegistries(store::RegistryStore& from, store::RegistryStore& to,
                         const crypto::FieldCipher& cipher, MigrationReport* report);

}  // namespace kakunin::registry
