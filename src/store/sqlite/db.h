#pragma once

// A thin RAII wrapper over the SQLite C API (libraries.md A3): errors as Status, statements
// prepared once and reused, parameters always bound. Nothing outside store/sqlite/ sees a
// SQLite type.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"

namespace kakunin::store::sqlite {

class Db;

// A prepared statement. Not thread-safe; owned by one connection.
class Stmt {
 public:
  Stmt(Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }

  // Binding is 1-based, as in SQLite.
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, std::string_view text);
  Stmt& BindBlob(int i, std::string_view bytes);
  Stmt& BindNull(int i);
  Stmt& BindOptional(int i, const std::optional<std::string>& text);

  // Runs one step: true if a row is available, false when done; *status on error.
  bool Step(Status* status);
  // Runs to completion, expecting no rows.
  Status Exec();
  // Resets for reuse and clears bindings.
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const;
  std::optional<std::string> OptionalText(int col) const;
  std::string Blob(int col) const;
  // The column's bytes in SQLite's buffer: valid until the next Step, Reset or column read of
  // another type (for a loop that copies them where it keeps them, without a string per row).
  std::string_view BlobView(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    return p ? std::string_view(static_cast<const char*>(p),
                                static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }

 private:
  Db* db_;
  sqlite3_stmt* stmt_;
};

// One connection. Not thread-safe: one thread at a time.
class Db {
 public:
  // Opens (creating if `create`) the database at `path` and applies the connection
  // settings every connection needs: WAL, synchronous=FULL, foreign keys, busy timeout.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool create, bool read_only);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Executes SQL without parameters (DDL, PRAGMA, BEGIN/COMMIT).
  Status Exec(std::string_view sql);
  // A statement from this connection's cache, reset and ready to bind. The reference is
  // valid until the connection closes; do not hold two uses of one statement at once.
  Result<Stmt*> Prepare(const char* sql);
  // The same for SQL built at run time from constant fragments (cached by text).
  Result<Stmt*> PrepareText(const std::string& sql);
  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }

  // Maps the connection's last error to a Status, without any bound value in the message.
  Status LastError(std::string_view what) const;
  sqlite3* raw() { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> cache_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> text_cache_;
};

// Runs `BEGIN IMMEDIATE` … `COMMIT`, rolling back in the destructor unless committed.
class Txn {
 public:
  static Result<std::unique_ptr<Txn>> Begin(Db* db);
  ~Txn();
  Status Commit();

 private:
  explicit Txn(Db* db) : db_(db) {}
  Db* db_;
  bool done_ = false;
};

}  // namespace kakunin::store::sqlite
