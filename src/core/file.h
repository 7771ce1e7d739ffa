#pragma once

// Small POSIX file helpers shared by the modules that write secrets and certificates
// atomically (crypto/keys, crypto/pki): an owned descriptor, full writes, directory sync.

#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"

namespace kakunin {

// Owns a file descriptor. The destructor closes it and ignores errors; a written file is
// closed with Close(), whose error matters. Movable, not copyable.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) : fd_(fd) {}
  ~FileDescriptor();
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const { return fd_; }
  // Closes now; false if close(2) failed (which may mean written data was lost).
  bool Close();

 private:
  int fd_;
};

// kIoError "<what> <path>: <reason>" for the system call that just failed (reads errno).
// Paths are fine in messages; file contents never are.
Status ErrnoError(std::string_view what, const std::string& path);

// Writes all of `data` (retrying short writes and EINTR).
Status WriteAll(int fd, std::string_view data);

// fsync(2) on a directory, so a rename into it is durable.
Status SyncDirectory(const std::string& dir);

// An exclusive flock(2) on `path` (created 0600 if missing), held while the returned descriptor
// is open (and dropped with the process, whichever way it ends). `wait`: until it is free;
// otherwise FailedPrecondition with reason "locked" at once.
Result<FileDescriptor> LockFile(const std::string& path, bool wait);

// OK when `path` names a regular file (following symlinks), without opening it: a FIFO would
// block the open for ever (found in review: with the stop signals already blocked, only
// SIGKILL ended the process). FailedPrecondition "<what> <path> is not a regular file", or
// NotFound "cannot read <what> <path>: <reason>".
Status CheckRegularFile(const std::string& path, std::string_view what);

// The whole of a regular file of at most `limit` bytes; reads no more than limit + 1 bytes, so
// /dev/zero or a huge file is refused at once (found in review: a statement checker read a
// 6 GB file whole before it compared the size, and /dev/zero as a key ran out of memory).
// A device is read the same way, bounded; a FIFO or socket is refused (it could block for
// ever). NotFound when it cannot be opened, InvalidArgument "<path> is too large" (or a
// directory, or not a file) otherwise.
Result<std::string> ReadFileAtMost(const std::string& path, size_t limit);

}  // namespace kakunin
