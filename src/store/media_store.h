#pragma once

// The media register (媒体の管理簿, the operating rules' 第2 3): every copy of the registry or of
// its operation log that leaves the node on a medium — today the backups — with where it went,
// who made it and its digest. No personal data: kinds, paths, sizes, digests and actor ids.

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::store {

struct MediaRow {
  int64_t id = 0;               // assigned by InsertMedia
  std::string kind;             // "backup"
  std::string label;            // the backup id
  std::string location;         // the directory written to, as given
  int64_t created_at = 0;       // µs since epoch
  std::string created_by;       // the actor id
  std::string status;           // "writing" | "complete" | "failed"
  int64_t bytes = 0;            // size of what was written (0 until complete)
  std::string digest;           // hex SHA-256 of the signed manifest ("" until complete)
};

class MediaReader {
 public:
  virtual ~MediaReader() = default;
  // Every medium, oldest first.
  virtual Result<std::vector<MediaRow>> ListMedia() = 0;
};

class MediaWriter {
 public:
  virtual ~MediaWriter() = default;
  // Returns the new row's id.
  virtual Result<int64_t> InsertMedia(const MediaRow& row) = 0;
  // Sets status, bytes and digest of row `id`; NotFound if there is none.
  virtual Status FinishMedia(int64_t id, const std::string& status, int64_t bytes,
                             const std::string& digest) = 0;
};

}  // namespace kakunin::store
