#include "audit/review.h"

#include <map>
#include <set>

#include "audit/entry.h"
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

}  // namespace

Result<std::vector<Finding>> Review(store::RegistryReader& reader, int64_t from_time,
                                    int64_t to_time, const ReviewSettings& settings) {
  std::vector<Finding> out;
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> off_hours, searches,
      refusals;
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
    auto e = DecodeEntry(*row.payload);
    if (!e.ok()) {
      failure = Status::DataLoss("entry " + std::to_string(row.seq) +
                                 " cannot be decoded (run kakunin audit verify)");
      return false;
    }
    const Date date = JstDate(row.time);
    const std::string day = date.ToIso();
    const int minute = static_cast<int>((row.time - JstMidnightMicros(date)) / kMicrosPerMinute);
    const int64_t days = date.ToDays();
    const int weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
    const auto key = std::make_pair(e->actor, day);
    if (IsRead(e->action)) {
      bool weekend = weekday == 0 || weekday == 6;
      if (weekend || minute < settings.office_start_minute ||
          minute >= settings.office_end_minute) {
        off_hours[key].push_back(row.seq);
      }
      if (e->outcome.find("removed") != std::string::npos ||
          e->conditions.find("\"include_removed\":true") != std::string::npos) {
        out.push_back({"removed_resident", e->actor, day,
                       "a removed resident's record was read", {row.seq}});
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
    if (e->outcome.rfind("refused", 0) == 0) refusals[key].push_back(row.seq);
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
    if (static_cast<int>(seqs.size()) >= settings.max_refusals_per_day) {
      out.push_back({"repeated_refusals", k.first, k.second,
                     std::to_string(seqs.size()) + " refused operations in one day", seqs});
    }
  }
  return out;
}

}  // namespace kakunin::audit
