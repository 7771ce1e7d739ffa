#include "core/file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace kakunin {

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

bool FileDescriptor::Close() { return ::close(std::exchange(fd_, -1)) == 0; }

Result<FileDescriptor> LockFile(const std::string& path, bool wait) {
  FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return ErrnoError("cannot open", path);
  while (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Status::FailedPrecondition("locked: " + path).WithReason("locked");
    return ErrnoError("cannot lock", path);
  }
  return fd;
}

Status ErrnoError(std::string_view what, const std::string& path) {
  const int err = errno;
  return Status::IoError(std::string(what) + " " + path + ": " + std::strerror(err));
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError(std::string("write failed: ") + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open directory", dir);
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot sync directory", dir);
  return Status::Ok();
}

Status CheckRegularFile(const std::string& path, std::string_view what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("cannot read " + std::string(what) + " " + path + ": " +
                            std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::FailedPrecondition(std::string(what) + " " + path + " is not a regular file");
  }
  return Status::Ok();
}

Result<std::string> ReadFileAtMost(const std::string& path, size_t limit) {
  // Opened without waiting (a FIFO with no writer would block the open for ever: found in
  // review), then read as usual.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return Status::NotFound("cannot open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("stat", path);
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + " is a directory");
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
    return Status::InvalidArgument(path + " is not a file");
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return ErrnoError("fcntl", path);
  }
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > limit) {
    return Status::InvalidArgument(path + " is too large");
  }
  std::string out;
  out.resize(limit + 1);
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read", path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > limit) return Status::InvalidArgument(path + " is too large");
  out.resize(got);
  return out;
}

}  // namespace kakunin
