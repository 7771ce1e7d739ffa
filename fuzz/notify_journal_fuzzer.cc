// Fuzzes the municipal client's journal reader (notify/journal.h): the journal is a file on
// the CS's disk that a crash can cut short and an operator can edit, so reading it back is
// reading outside input. The input is written as the journal, then opened. Nothing may crash;
// a journal that opens must take one more record and open again with that record acknowledged
// (its cut-off last line, if any, repaired).

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "notify/journal.h"

namespace {

const std::string& JournalPath() {
  static const std::string* path = [] {
    // tmpfs when there is one: the journal fsyncs on every open.
    const std::string base =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    auto* p = new std::string(base + "/kakunin_journal_fuzz_" + std::to_string(::getpid()));
    std::atexit([] { ::unlink(JournalPath().c_str()); });
    return p;
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kakunin::notify::Journal;
  using kakunin::notify::JournalEntry;
  const std::string& path = JournalPath();
  {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) std::abort();
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::write(fd, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    ::close(fd);
  }
  const JournalEntry extra{1, "192015", 987654321, std::string(64, 'a')};
  // A fixed journal key (the seeds' headers carry its id, fc3e92f75dc830a1): the reader is the
  // same whatever the key, and another key's header is only refused earlier.
  const std::string key(32, '\x01');
  {
    auto j = Journal::Open(path, key);
    if (!j.ok()) return 0;
    (void)j->Acknowledged("192015", 1, std::string(64, '0'));
    // The record appended must be new to the journal (else a second hash under one sequence
    // is rightly refused on the next open).
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (text.find(" 192015 987654321 ") != std::string_view::npos) return 0;
    if (!j->Append({extra}).ok()) return 0;
  }
  auto again = Journal::Open(path, key);
  if (!again.ok() || !again->Acknowledged(extra.municipality, extra.sequence, extra.hash)) {
    std::abort();
  }
  return 0;
}
