#include "audit/review.h"

#include <charconv>
#include <map>
#include <set>
#include <string_view>

#include "audit/entry.h"
#include "audit/log.h"
#include "core/clock.h"

namespace kakunin::audit {
namespace {

constexpr int64_t kMicrosPerMinute = int64_t{60} * 1000000;

bool IsRead(const std::string& action) {
  return action == "resident.show" || action == "resident.search" ||
         action == "resident.history" || action == "resident.provide" ||
         action == "resident.provisions";
}

// A search is followed up when the same actor then looks at, provides or discloses one of the
// residents it found.
bool IsFollowUp(const std::string& action) {
  return action == "resident.show" || action == "resident.history" ||
         action == "resident.provide" || action == "resident.provisions";
}

// Whether `time` is outside office hours (a weekend, or before/after them on a weekday), JST.
bool OffHours(int64_t time, const ReviewSettings& settings) {
  const Date date = JstDate(time);
  const int minute = static_cast<int>((time - JstMidnightMicros(date)) / kMicrosPerMinute);
  const int64_t days = date.ToDays();
  const int weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  return weekday == 0 || weekday == 6 || minute < settings.office_start_minute ||
         minute >= settings.office_end_minute;
}

}  // namespace

LiveReview::LiveReview(ReviewSettings settings, int64_t alert_interval_micros, size_t max_actors)
    : settings_(settings),
      interval_(alert_interval_micros),
      max_actors_(max_actors == 0 ? 1 : max_actors) {}

size_t LiveReview::tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return actors_.size();
}

LiveReview::Day& LiveReview::Track(const std::string& actor, int64_t time) {
  const int64_t day = JstDate(time).ToDays();
  auto it = actors_.find(actor);
  if (it == actors_.end()) {
    if (actors_.size() >= max_actors_) {
      // Forget the actor idle longest. Actors are registered clients and operators, far fewer
      // than the cap in any real deployment.
      auto oldest = actors_.begin();
      for (auto j = actors_.begin(); j != actors_.end(); ++j) {
        if (j->second.last_seen < oldest->second.last_seen) oldest = j;
      }
      actors_.erase(oldest);
    }
    it = actors_.emplace(actor, Day{}).first;
    it->second.day = day;
  }
  Day& d = it->second;
  if (d.day != day) {  // a new day: the counters start again (alerts keep their interval)
    d.day = day;
    d.searches = d.refusals = d.not_found = 0;
  }
  d.last_seen = time;
  return d;
}

void LiveReview::Fire(Day& d, const std::string& actor, std::string_view rule, int64_t time,
                      int64_t count, int64_t threshold, std::vector<LiveAlert>* out) {
  auto it = d.last_alert.find(rule);
  if (it != d.last_alert.end() && time - it->second < interval_) return;
  d.last_alert[std::string(rule)] = time;
  out->push_back({std::string(rule), actor, time, count, threshold});
}

std::vector<LiveAlert> LiveReview::OnRead(const std::string& actor, int64_t time, bool search,
                                          int64_t not_found) {
  std::vector<LiveAlert> out;
  std::lock_guard<std::mutex> lock(mu_);
  Day& d = Track(actor, time);
  if (OffHours(time, settings_)) Fire(d, actor, "off_hours", time, 1, 0, &out);
  if (search && ++d.searches > settings_.max_searches_per_day) {
    Fire(d, actor, "many_searches", time, d.searches, settings_.max_searches_per_day, &out);
  }
  if (not_found > 0) {
    d.not_found += not_found;
    if (d.not_found > settings_.max_not_found_per_day) {
      Fire(d, actor, "many_not_found", time, d.not_found, settings_.max_not_found_per_day, &out);
    }
  }
  return out;
}

std::vector<LiveAlert> LiveReview::OnRefusal(const std::string& actor, int64_t time, bool quota) {
  std::vector<LiveAlert> out;
  std::lock_guard<std::mutex> lock(mu_);
  Day& d = Track(actor, time);
  if (quota) Fire(d, actor, "quota_exceeded", time, 1, 0, &out);
  if (++d.refusals >= settings_.max_refusals_per_day) {
    Fire(d, actor, "repeated_refusals", time, d.refusals, settings_.max_refusals_per_day, &out);
  }
  return out;
}

namespace {

// How many refusals an entry's conditions say it stands for: N of a "count=N" word, else 1.
int64_t SampledCount(std::string_view conditions) {
  for (size_t at = 0; (at = conditions.find("count=", at)) != std::string_view::npos; at += 6) {
    if (at != 0 && conditions[at - 1] != ' ') continue;  // e.g. "targets_withheld_count="
    int64_t n = 0;
    const char* begin = conditions.data() + at + 6;
    const char* end = conditions.data() + conditions.size();
    auto [ptr, ec] = std::from_chars(begin, end, n);
    if (ec == std::errc() && ptr != begin && (ptr == end || *ptr == ' ') && n >= 1) return n;
  }
  return 1;
}

}  // namespace

Result<std::vector<Finding>> Review(store::RegistryReader& reader, int64_t from_time,
                                    int64_t to_time, const ReviewSettings& settings,
                                    const ProtectedTargets& protected_targets) {
  std::vector<Finding> out;
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> off_hours, searches,
      refusals;
  // Refusals an entry stands for: one, or the "count=N" of a sampled one (a system's nameless
  // refusals past twenty a minute are counted into its next entry, Registry::SampleRefusal).
  std::map<std::pair<std::string, std::string>, int64_t> refused;
  struct OpenSearch {
    int64_t seq;
    std::string actor, day;
    std::set<std::string> targets;
  };
  std::vector<OpenSearch> open_searches;
  Status failure;
  Status st = reader.ForEachAuditEntry(0, [&](const store::AuditRow& row) {
    if (row.time >= to_time) return false;
    if (row.time < from_time || !row.payload) return true;
    auto e = DecodeStoredEntry(row);
    if (!e.ok()) {
      failure = Status::DataLoss("entry " + std::to_string(row.seq) +
                                 " cannot be decoded (run kakunin audit verify)");
      return false;
    }
    const Date date = JstDate(row.time);
    const std::string day = date.ToIso();
    const auto key = std::make_pair(e->actor, day);
    if (IsRead(e->action)) {
      // One definition of office hours for the review and the real-time alerts.
      if (OffHours(row.time, settings)) off_hours[key].push_back(row.seq);
      if (e->outcome.find("removed") != std::string::npos ||
          e->conditions.find("\"include_removed\":true") != std::string::npos) {
        out.push_back({"removed_resident", e->actor, day,
                       "a removed resident's record was read", {row.seq}});
      }
      // A provision (lookups, histories, search hits and batches each write one) that gave out
      // a protected resident on a day of their measure.
      if (!protected_targets.empty() && e->action == "resident.provide" &&
          e->outcome.rfind("done", 0) == 0) {
        bool flagged = false;
        for (const auto& t : e->targets) {
          // "mac:<hex>:found" as a read names a resident it gave out.
          const size_t end = t.rfind(":found");
          if (flagged || end == std::string::npos || end + 6 != t.size()) continue;
          auto it = protected_targets.find(t.substr(0, end));
          if (it == protected_targets.end()) continue;
          for (const auto& p : it->second) {
            if (day < p.from || day > p.to) continue;
            out.push_back({"support_measure", e->actor, day,
                           "the record of a resident under a support measure (支援措置) was read",
                           {row.seq}});
            flagged = true;
            break;
          }
        }
      }
    }
    if (e->action == "resident.search") {
      searches[key].push_back(row.seq);
      if (!e->targets.empty()) {
        open_searches.push_back(
            {row.seq, e->actor, day, std::set<std::string>(e->targets.begin(), e->targets.end())});
      }
    }
    if (IsFollowUp(e->action)) {
      for (auto& s : open_searches) {
        if (s.actor != e->actor) continue;
        for (const auto& t : e->targets) {
          if (s.targets.count(t)) {
            s.targets.clear();  // followed up
            break;
          }
        }
      }
    }
    if (e->outcome.rfind("refused", 0) == 0) {
      refusals[key].push_back(row.seq);
      refused[key] += SampledCount(e->conditions);
    }
    // A disclosure request ended without a notice: one clerk (not the one who took it in) can
    // do it, and the resident gets no notice that would show it (found in review), so the log
    // review looks at each one against the written withdrawal or the decision.
    if (e->action == "disclosure.close" && e->outcome == "done") {
      out.push_back({"disclosure_closed", e->actor, day,
                     "a disclosure request was closed without a notice (" +
                         e->conditions.substr(e->conditions.find("outcome=") == std::string::npos
                                                  ? e->conditions.size()
                                                  : e->conditions.find("outcome=")) +
                         "): check it against the written withdrawal or the decision",
                     {row.seq}});
    }
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  for (auto& [k, seqs] : off_hours) {
    out.push_back({"off_hours", k.first, k.second,
                   std::to_string(seqs.size()) + " reads outside office hours", seqs});
  }
  for (auto& [k, seqs] : searches) {
    if (static_cast<int>(seqs.size()) > settings.max_searches_per_day) {
      out.push_back({"many_searches", k.first, k.second,
                     std::to_string(seqs.size()) + " searches in one day (threshold " +
                         std::to_string(settings.max_searches_per_day) + ")",
                     seqs});
    }
  }
  for (const auto& s : open_searches) {
    if (!s.targets.empty()) {
      out.push_back({"search_without_follow_up", s.actor, s.day,
                     "a search that found residents was followed by no view, provision or "
                     "disclosure of any of them",
                     {s.seq}});
    }
  }
  for (auto& [k, seqs] : refusals) {
    const int64_t n = refused[k];
    if (n >= settings.max_refusals_per_day) {
      out.push_back({"repeated_refusals", k.first, k.second,
                     std::to_string(n) + " refused operations in one day", seqs});
    }
  }
  return out;
}

}  // namespace kakunin::audit
