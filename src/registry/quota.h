#pragma once

// Read quotas and real-time alerts (docs/quotas.md). One agency once collected 1,395 residents
// with 27,600 searches in under ten seconds, and only the next day's review noticed: here every
// read by a client certificate or an operator is charged to (caller, purpose) — one request
// before any data is read, then the residents its answer carried — and a read over a limit is
// refused (kResourceExhausted, reason quota_exceeded, HTTP 429) and recorded. The review rules
// that can be decided as reads happen (audit::LiveReview) raise an alert at once: an
// "alert.raised" entry in the operation log and a call to the hooks (metrics, the server's log).

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "audit/review.h"
#include "core/clock.h"
#include "core/status.h"
#include "registry/config.h"
#include "registry/purposes.h"
#include "registry/registry.h"

namespace kakunin::registry {

enum class QuotaSubject { kClient, kOperator };
std::string_view QuotaSubjectName(QuotaSubject subject);  // client | operator

// The limiter: counters per (caller, purpose) over a sliding minute (estimated from the current
// and the previous minute, weighted by how much of the previous one is still in the last 60 s)
// and the JST calendar day. Thread-safe. Memory is bounded by `max_keys`: keys whose windows
// have all passed are dropped first, then the one idle longest.
class QuotaTable {
 public:
  struct Verdict {
    bool admitted = true;
    std::string_view limit;  // the limit that refused: requests_per_minute, ...
    int64_t value = 0;       // its value
  };

  explicit QuotaTable(const QuotaConfig& config, size_t max_keys = 65536);

  // Counts one request at `now` (µs) if every limit allows it: a request, and at least one
  // more resident. Nothing is counted when it is refused. An admitted request also counts
  // `reserve` residents at once — the most its answer can hold — so requests running at the
  // same time are admitted against what the ones before them may return, not against a counter
  // that has not moved yet; Charge settles the difference once the answer is known.
  Verdict Admit(const std::string& caller, QuotaSubject subject, const std::string& purpose,
                int64_t now, int64_t reserve = 0);
  // Settles an admitted request that reserved `reserved` residents and returned `residents`:
  // the unused part is given back, only from what is still reserved in the current minute and
  // day (a reservation made in an earlier window stays counted there: stricter, never looser).
  // With nothing reserved, counts `residents` more. An answer may take the residents' counters
  // past their limit (by at most one answer); the next request is then refused.
  void Charge(const std::string& caller, QuotaSubject subject, const std::string& purpose,
              int64_t residents, int64_t now, int64_t reserved = 0);

  size_t size() const;

 private:
  struct Entry {
    QuotaLimits limits;
    int64_t minute = 0;                             // index of the current minute
    int64_t requests = 0, residents = 0;            // in the current minute
    int64_t prev_requests = 0, prev_residents = 0;  // in the minute before it
    int64_t day = 0;                                // JST days since the epoch
    int64_t day_requests = 0, day_residents = 0;
    // Residents reserved in the current minute / day and not yet settled: a refund is taken
    // from these only, so a request reserved in an earlier window never lowers the counts of the
    // requests made in this one.
    int64_t reserved = 0, day_reserved = 0;
    int64_t last_seen = 0;
  };
  Entry& Find(const std::string& caller, QuotaSubject subject, const std::string& purpose,
              int64_t now);
  void MakeRoom(int64_t now);

  const QuotaConfig config_;
  const size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// Where refusals and alerts go besides the operation log (set once, before use; each may be
// empty). Called on the request's thread, outside any lock.
struct QuotaHooks {
  std::function<void(QuotaSubject)> on_refusal;           // kakunin_quota_refusals_total
  std::function<void(const audit::LiveAlert&)> on_alert;  // kakunin_alerts_total, server log
};

// What the Gateway calls (Gateway::UseQuotas). Thread-safe.
class Quotas {
 public:
  // Pointers must outlive this. `registry` records refusals and alerts in the operation log.
  Quotas(const QuotaConfig& config, const Clock* clock, const Registry* registry,
         audit::ReviewSettings review = {}, size_t max_keys = 65536);

  void SetHooks(QuotaHooks hooks) { hooks_ = std::move(hooks); }

  // Before a read (`action` is its log action): charges one request, or refuses with
  // kResourceExhausted (reason quota_exceeded) and records the refusal (which limit, no
  // personal data). A quota refusal also raises the quota_exceeded alert.
  // `reserve`: the most residents the answer can hold (QuotaTable::Admit), settled by Answered.
  Status Admit(const Actor& actor, bool is_operator, const std::string& purpose, const char* action,
               const std::vector<std::string>& asked = {}, int64_t reserve = 0);
  // Admit for a caller that must not write (a server's I/O thread): charges one request and
  // returns true when Admit would admit it; false when Admit would refuse — nothing counted or
  // recorded then: the caller takes the request through Admit, which records the refusal.
  bool AdmitQuietly(const Actor& actor, bool is_operator, const std::string& purpose,
                    int64_t reserve = 1);
  // After an answered read: charges the `found` residents it returned against the `reserved`
  // ones its admission counted; `asked - found` residents asked for by code were not found
  // (probes). Evaluates the real-time rules. (A read admitted and then failed keeps its
  // reservation: it counts as if it had returned all it could.)
  void Answered(const Actor& actor, bool is_operator, const std::string& purpose, bool search,
                int64_t found, int64_t asked, int64_t reserved);
  // A read admitted with `reserved` residents that returned nothing (it failed, or was refused
  // after its admission): the reservation is given back.
  void Release(const Actor& actor, bool is_operator, const std::string& purpose,
               int64_t reserved);
  // Any other refused operation of `actor` (repeated_refusals).
  void Refused(const Actor& actor);

  const QuotaTable& table() const { return table_; }
  const audit::LiveReview& review() const { return review_; }

 private:
  void Raise(const std::vector<audit::LiveAlert>& alerts, const Actor& actor,
             const std::string& purpose);

  const bool enabled_;
  const Clock* clock_;
  const Registry* registry_;
  QuotaTable table_;
  audit::LiveReview review_;
  QuotaHooks hooks_;
};

// Every purpose a [quotas.purpose."…"] table names must be in the catalogue: a typo would
// otherwise leave that purpose at the defaults without a word.
Status CheckQuotaPurposes(const QuotaConfig& config, const PurposeCatalogue& catalogue);

}  // namespace kakunin::registry
