#pragma once

// Raw access to a registry database's tables, table by table and row by row, for one purpose:
// moving a stopped node from one store to another (registry/migrate_store.h, kakunin
// migrate-store). It bypasses every repository rule, so nothing else may use it. Rows hold
// personal data (sealed individual numbers stay sealed: the bytes are copied as stored); never
// log them. Messages name tables, columns and counts only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::store {

// One stored value as both stores hold them (SQLite STRICT: INTEGER, TEXT, BLOB; PostgreSQL:
// int8, text, bytea).
// An SQL identifier (table or column name) in double quotes, inner quotes doubled: the same in
// SQLite and PostgreSQL, for the names the copy reads from the schema itself.
inline std::string QuoteIdentifier(const std::string& id) {
  std::string out = "\"";
  for (char c : id) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// "a", "b", … for a column list.
inline std::string ColumnList(const std::vector<std::string>& columns) {
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i) out += (i ? ", " : "") + QuoteIdentifier(columns[i]);
  return out;
}

struct Cell {
  enum class Kind : uint8_t { kNull = 0, kInt = 1, kText = 2, kBlob = 3 };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  std::string s;  // text or bytes
};
using TableRow = std::vector<Cell>;

struct TableShape {
  std::string name;
  std::vector<std::string> columns;     // in the table's own order
  std::vector<Cell::Kind> types;        // declared type of each column (kInt, kText or kBlob)
  std::vector<std::string> key;         // primary key columns: the order rows are read in
  std::vector<std::string> references;  // tables its foreign keys point at (loaded first)
};

class TableStore {
 public:
  virtual ~TableStore() = default;
  virtual const char* kind() const = 0;  // "sqlite" or "postgresql"

  // Every table of the registry, sorted by name, without the store's own bookkeeping (SQLite's
  // sqlite_* tables; schema_migrations, whose version SchemaVersion reports).
  virtual Result<std::vector<TableShape>> Tables() = 0;
  virtual Result<int64_t> SchemaVersion() = 0;
  // (Whether a running node uses the database is checked before it is opened here:
  // store/sqlite/backup.h CheckNotInUse, store/pg/copy.h CheckNoOtherSessions.)

  // Reading. Between BeginRead and EndRead every Scan sees one snapshot, and on SQLite no other
  // connection can commit a write (the database's write lock is held).
  virtual Status BeginRead() = 0;
  virtual Status EndRead() = 0;
  // Every row of `table` (its columns as given, which may be ordered differently from the
  // store's), in primary key order, at most `batch` rows per call of `fn`.
  virtual Status Scan(const TableShape& table, size_t batch,
                      const std::function<Status(const std::vector<TableRow>&)>& fn) = 0;
  virtual Result<int64_t> CountRows(const std::string& table) = 0;
  // Row-id counters that must survive a move (SQLite's AUTOINCREMENT sqlite_sequence; the
  // PostgreSQL identity sequences), by table: the last id handed out (0: none yet).
  virtual Result<std::map<std::string, int64_t>> Counters() = 0;

  // Writing: everything from BeginLoad to CommitLoad is one transaction.
  virtual Status BeginLoad() = 0;
  // Creates a table the target's schema lacks but the source has (the import's progress
  // table, created on first use), with the source's columns, types and key.
  virtual Status CreateTable(const TableShape& table) = 0;
  virtual Status StartTable(const TableShape& table) = 0;
  virtual Status LoadRows(const std::vector<TableRow>& rows) = 0;
  virtual Status EndTable() = 0;
  // Sets the counters after the rows are in (never below the largest id loaded).
  virtual Status SetCounters(const std::map<std::string, int64_t>& counters) = 0;
  virtual Status CommitLoad() = 0;
};

}  // namespace kakunin::store
