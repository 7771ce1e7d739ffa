#include "store/sqlite/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "core/file.h"

namespace kakunin::store::sqlite {

namespace {
struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;

Result<DbPtr> OpenRaw(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    return Status::IoError("cannot open the database for copying (" +
                           std::string(sqlite3_errstr(rc)) + ")");
  }
  sqlite3_busy_timeout(db.get(), 10000);
  return db;
}

Status Copy(const std::string& source, const std::string& dest) {
  KAKUNIN_ASSIGN_OR_RETURN(src, OpenRaw(source, SQLITE_OPEN_READONLY));
  KAKUNIN_ASSIGN_OR_RETURN(dst, OpenRaw(dest, SQLITE_OPEN_READWRITE));
  sqlite3_backup* b = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
  if (b == nullptr) {
    return Status::IoError(std::string("cannot start the copy: ") + sqlite3_errmsg(dst.get()));
  }
  // -1: every page in one step, under one read transaction on the source. Copying in smaller
  // steps would let a writer on another connection restart the copy again and again.
  int rc = sqlite3_backup_step(b, -1);
  int finish = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    return Status::IoError(std::string("the copy did not finish: ") + sqlite3_errstr(rc));
  }
  if (finish != SQLITE_OK) {
    return Status::IoError(std::string("the copy did not finish: ") + sqlite3_errstr(finish));
  }
  // A self-contained file: no -wal beside it to lose.
  char* err = nullptr;
  rc = sqlite3_exec(dst.get(), "PRAGMA journal_mode=DELETE", nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return Status::IoError("cannot finish the copy's journal");
  return Status::Ok();
}
}  // namespace

Status CopyDatabase(const std::string& source, const std::string& dest) {
  {
    // Created here, exclusively and owner-only, before SQLite opens it: the copy holds
    // personal data from its first page.
    FileDescriptor fd(::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
      if (errno == EEXIST) return Status::AlreadyExists("the copy's file already exists: " + dest);
      return ErrnoError("cannot create", dest);
    }
    if (!fd.Close()) return ErrnoError("cannot create", dest);
  }
  Status st = Copy(source, dest);
  if (!st.ok()) {
    ::unlink(dest.c_str());
    ::unlink((dest + "-journal").c_str());
  }
  return st;
}

Status CheckNotInUse(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return Status::Ok();
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return Status::Ok();  // not openable: not in use either
  // In WAL mode every open connection keeps a lock that an exclusive-mode transaction cannot
  // get past: no waiting, so a running node is reported at once.
  rc = sqlite3_exec(db.get(), "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;", nullptr,
                    nullptr, nullptr);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    return Status::FailedPrecondition(
        "the node's database is in use (is the node running? stop it first, e.g. systemctl stop "
        "kakunin); nothing was changed");
  }
  // Any other answer (a damaged file, not a database at all) means no one is using it: the
  // restore is about to replace it, which is what a damaged node needs.
  return Status::Ok();
}

}  // namespace kakunin::store::sqlite
