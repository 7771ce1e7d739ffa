#pragma once

// Where a large benchmark keeps the log it builds, so that a long build phase can run once (at
// low priority) and the measure phase be repeated on it (issue 11: proofs at 100 M entries, the
// statement in a log of 10 M).
//
//   KAKUNIN_BENCH_DIR=DIR    build into DIR unless it holds a complete log built with the same
//                            parameters, and keep it afterwards. A log is complete once the
//                            marker file DIR/complete exists, written (and synced) last, after
//                            the database itself was synced; an interrupted build has no
//                            marker and is rebuilt from scratch. Without the variable the bench
//                            builds into a fresh temporary directory and removes it (the small
//                            defaults of `make bench`).
//   KAKUNIN_BENCH_PHASE=all|build|measure
//                            build: build (or find complete) and exit; measure: fail (exit 2)
//                            unless DIR holds a complete log; all (the default): both.
//   KAKUNIN_BENCH_EVICT=1    before measuring, drop DIR's database files (only those) from the
//                            page cache with posix_fadvise(DONTNEED), for a cold run that leaves
//                            other processes' cached pages alone (unlike vm/drop_caches).
//                            Dirty pages are not dropped, so the log must have been synced.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace kakunin::bench {

enum class Phase { kAll, kBuild, kMeasure };

// The files a bench writes into its directory; nothing else there is ever removed.
inline const std::vector<std::string>& BenchFiles() {
  static const std::vector<std::string> files = {"complete",        "registry.db",
                                                 "registry.db-wal", "registry.db-shm",
                                                 "registry.db-journal", "audit.key",
                                                 "audit.key.pub",   "complete.tmp"};
  return files;
}

class BenchDir {
 public:
  // `name` names the bench (for the temporary directory), `params` the log's parameters: a
  // complete log built with other parameters is rebuilt. Returns nullopt (after a message) on
  // a bad KAKUNIN_BENCH_PHASE, or for `measure` without a complete log.
  static std::optional<BenchDir> Open(const std::string& name, const std::string& params) {
    namespace fs = std::filesystem;
    BenchDir d;
    d.params_ = params;
    const char* phase = std::getenv("KAKUNIN_BENCH_PHASE");
    const std::string p = phase ? phase : "all";
    if (p == "build") {
      d.phase_ = Phase::kBuild;
    } else if (p == "measure") {
      d.phase_ = Phase::kMeasure;
    } else if (p != "all") {
      std::fprintf(stderr, "KAKUNIN_BENCH_PHASE must be all, build or measure\n");
      return std::nullopt;
    }
    const char* dir = std::getenv("KAKUNIN_BENCH_DIR");
    if (dir == nullptr || *dir == '\0') {
      if (d.phase_ != Phase::kAll) {
        std::fprintf(stderr, "KAKUNIN_BENCH_PHASE needs KAKUNIN_BENCH_DIR\n");
        return std::nullopt;
      }
      d.dir_ = fs::temp_directory_path() / ("kakunin_" + name + "_" + std::to_string(::getpid()));
      d.keep_ = false;
      fs::remove_all(d.dir_);
    } else {
      d.dir_ = dir;
      d.keep_ = true;
    }
    fs::create_directories(d.dir_);
    std::ifstream marker(d.dir_ / "complete");
    std::string first;
    if (marker && std::getline(marker, first) && first == params) {
      d.complete_ = true;
      std::string key;
      while (marker >> key) {
        if (key == "build_s") marker >> d.build_s_;
      }
    }
    if (!d.complete_) {
      if (d.phase_ == Phase::kMeasure) {
        std::fprintf(stderr, "%s holds no complete log for \"%s\": run the build phase first\n",
                     d.dir_.c_str(), params.c_str());
        return std::nullopt;
      }
      for (const auto& f : BenchFiles()) fs::remove(d.dir_ / f);
    }
    return d;
  }

  BenchDir(BenchDir&& o) noexcept { *this = std::move(o); }
  BenchDir& operator=(BenchDir&& o) noexcept {
    dir_ = std::move(o.dir_);
    params_ = std::move(o.params_);
    phase_ = o.phase_;
    keep_ = o.keep_;
    complete_ = o.complete_;
    build_s_ = o.build_s_;
    o.dir_.clear();
    return *this;
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  ~BenchDir() {
    if (!keep_ && !dir_.empty()) std::filesystem::remove_all(dir_);
  }

  const std::filesystem::path& dir() const { return dir_; }
  std::string File(const std::string& name) const { return (dir_ / name).string(); }
  Phase phase() const { return phase_; }
  // True if the log was already complete (the build phase is skipped).
  bool complete() const { return complete_; }
  // The build's duration: of this run, or as recorded by the run that built the log.
  double build_s() const { return build_s_; }

  // Syncs the database files, then writes the marker last (via a synced rename).
  bool MarkComplete(double build_s) {
    build_s_ = build_s;
    complete_ = true;
    for (const char* f : {"registry.db", "registry.db-wal", "audit.key"}) {
      if (std::filesystem::exists(dir_ / f) && !SyncFile(File(f))) return false;
    }
    const std::string tmp = File("complete.tmp");
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << params_ << "\nbuild_s " << build_s << "\n";
      if (!out.flush()) return false;
    }
    if (!SyncFile(tmp) || std::rename(tmp.c_str(), File("complete").c_str()) != 0) return false;
    const int d = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    if (d < 0) return false;
    const bool ok = ::fsync(d) == 0;
    ::close(d);
    return ok;
  }

  // KAKUNIN_BENCH_EVICT=1: drops the database files' clean pages from the page cache.
  // Returns whether it did.
  bool EvictIfAsked() const {
    const char* e = std::getenv("KAKUNIN_BENCH_EVICT");
    if (e == nullptr || std::strcmp(e, "1") != 0) return false;
    for (const char* f : {"registry.db", "registry.db-wal"}) {
      const int fd = ::open(File(f).c_str(), O_RDONLY);
      if (fd < 0) continue;
      ::fdatasync(fd);
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      ::close(fd);
    }
    return true;
  }

  // The fraction of registry.db's pages in the page cache (mincore), -1 if unknown: how cold
  // the measure phase starts.
  double ResidentFraction() const {
    const int fd = ::open(File("registry.db").c_str(), O_RDONLY);
    if (fd < 0) return -1;
    const off_t size = ::lseek(fd, 0, SEEK_END);
    double fraction = -1;
    if (size > 0) {
      void* m = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
      if (m != MAP_FAILED) {
        const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
        std::vector<unsigned char> in((static_cast<size_t>(size) + page - 1) / page);
        if (::mincore(m, static_cast<size_t>(size), in.data()) == 0) {
          size_t n = 0;
          for (unsigned char c : in) n += c & 1;
          fraction = static_cast<double>(n) / static_cast<double>(in.size());
        }
        ::munmap(m, static_cast<size_t>(size));
      }
    }
    ::close(fd);
    return fraction;
  }

  // The database's size in bytes (with its WAL).
  uint64_t DatabaseBytes() const {
    uint64_t n = 0;
    for (const char* f : {"registry.db", "registry.db-wal"}) {
      std::error_code ec;
      const auto s = std::filesystem::file_size(dir_ / f, ec);
      if (!ec) n += s;
    }
    return n;
  }

 private:
  BenchDir() = default;

  static bool SyncFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
  }

  std::filesystem::path dir_;
  std::string params_;
  Phase phase_ = Phase::kAll;
  bool keep_ = false;
  bool complete_ = false;
  double build_s_ = 0;
};

// Blocks read from storage by this process so far (getrusage ru_inblock, 512-byte units):
// page-cache misses during a measure phase.
inline long BlocksRead() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_inblock;
}

// The 1-minute load average, as uptime prints it.
inline double LoadAverage() {
  double l[3] = {0, 0, 0};
  return ::getloadavg(l, 3) > 0 ? l[0] : -1;
}

}  // namespace kakunin::bench
