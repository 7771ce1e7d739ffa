#pragma once

// The 外字 register aggregate (issue 15): which MJ character (or image) a municipality means by
// a code point of the Private Use Area, and the code points seen in its notifications that are
// not registered yet. The PUA is per sender, so every row is keyed by (municipality, code
// point). No personal data: never a name or a resident code, only the code point and sender.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::store {

// A registered 外字: a municipality's PUA code point and what it stands for.
struct GaijiRow {
  std::string municipality_code;
  int64_t code_point = 0;
  std::string mj_code;        // "MJ" + 6 digits, or "" when only an image is registered
  std::string image_png;      // PNG bytes, or "" when only an MJ code is registered
  std::string description;    // for people
  int64_t registered_at = 0;  // µs since epoch
  std::string registered_by;  // the actor id
};

// A code point seen in an applied notification of `municipality_code` and not registered.
struct GaijiPendingRow {
  std::string municipality_code;
  int64_t code_point = 0;
  int64_t first_seen = 0;  // µs since epoch
  int64_t last_seen = 0;
  int64_t count = 0;  // notifications that carried it
};

class GaijiReader {
 public:
  virtual ~GaijiReader() = default;
  // Every entry, by municipality then code point.
  virtual Result<std::vector<GaijiRow>> ListGaiji() = 0;
  virtual Result<std::vector<GaijiPendingRow>> ListGaijiPending() = 0;
  // One municipality's entries (for display).
  virtual Result<std::vector<GaijiRow>> GaijiOf(const std::string& municipality) = 0;
};

class GaijiWriter {
 public:
  virtual ~GaijiWriter() = default;
  // AlreadyExists if the municipality's code point is registered.
  virtual Status InsertGaiji(const GaijiRow& row) = 0;
  // The municipality's registered code points, as of this transaction.
  virtual Result<std::vector<int64_t>> RegisteredGaijiCodePoints(
      const std::string& municipality) = 0;
  // Adds one sighting: a new row (count 1, first_seen = at) or count + 1, last_seen = at.
  virtual Status FlagGaijiPending(const std::string& municipality, int64_t code_point,
                                  int64_t at) = 0;
  // Once registered, a code point is no longer pending.
  virtual Status ClearGaijiPending(const std::string& municipality, int64_t code_point) = 0;
};

}  // namespace kakunin::store
