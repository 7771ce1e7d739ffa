#include "store/sqlite/db.h"

namespace kakunin::store::sqlite {

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view text) {
  sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindBlob(int i, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Stmt& Stmt::BindOptional(int i, const std::optional<std::string>& text) {
  return text ? Bind(i, *text) : BindNull(i);
}

bool Stmt::Step(Status* status) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) *status = db_->LastError("step");
  return false;
}

Status Stmt::Exec() {
  Status st;
  while (Step(&st)) {
  }
  Reset();
  return st;
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::optional<std::string> Stmt::OptionalText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}

std::string Stmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool create, bool read_only) {
  sqlite3* raw = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create) flags |= SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX;  // one thread per connection, by contract
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Db> db(new Db(raw));
  if (rc != SQLITE_OK) {
    return db->LastError("open database");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);
  // The registry's data is the kind that must survive a power cut: WAL with a full sync
  // at every commit (DESIGN §5).
  if (!read_only) {
    KAKUNIN_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  }
  KAKUNIN_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  KAKUNIN_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  // What retention erases is overwritten with zeros in the pages written, not left in free
  // space (Debian's SQLite is built with this on; other builds are not): the registry's purge
  // relies on it (RegistryStore::ScrubErased, registry_test's PurgedRecordsLeaveNoBytes…).
  KAKUNIN_RETURN_IF_ERROR(db->Exec("PRAGMA secure_delete=ON"));
  KAKUNIN_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-65536"));  // 64 MiB per connection
  // Savepoint journals stay in memory: one savepoint per notification must not cost a file.
  KAKUNIN_RETURN_IF_ERROR(db->Exec("PRAGMA temp_store=MEMORY"));
  return db;
}

Db::~Db() {
  cache_.clear();
  text_cache_.clear();
  sqlite3_close_v2(db_);
}

Status Db::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return LastError("exec");
  return Status::Ok();
}

Result<Stmt*> Db::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return LastError("prepare");
  auto owned = std::make_unique<Stmt>(this, stmt);
  Stmt* p = owned.get();
  cache_.emplace(sql, std::move(owned));
  return p;
}

Result<Stmt*> Db::PrepareText(const std::string& sql) {
  auto it = text_cache_.find(sql);
  if (it != text_cache_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return LastError("prepare");
  auto owned = std::make_unique<Stmt>(this, stmt);
  Stmt* p = owned.get();
  text_cache_.emplace(sql, std::move(owned));
  return p;
}

Status Db::LastError(std::string_view what) const {
  int code = sqlite3_extended_errcode(db_);
  // sqlite3_errmsg never contains bound values; it may name a table or constraint.
  std::string msg = std::string(what) + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
  switch (code & 0xFF) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::DataLoss("database is damaged (" + msg + ")");
    case SQLITE_CANTOPEN:
      return Status::NotFound("cannot open database (" + msg + ")");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(msg);
    case SQLITE_CONSTRAINT:
      return Status::AlreadyExists(msg);
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return Status::IoError(msg);
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Status::PermissionDenied(msg);
    default:
      return Status::Internal(msg);
  }
}

Result<std::unique_ptr<Txn>> Txn::Begin(Db* db) {
  KAKUNIN_RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
  return std::unique_ptr<Txn>(new Txn(db));
}

Txn::~Txn() {
  if (!done_) (void)db_->Exec("ROLLBACK");
}

Status Txn::Commit() {
  Status st = db_->Exec("COMMIT");
  if (st.ok()) done_ = true;
  return st;
}

}  // namespace kakunin::store::sqlite
