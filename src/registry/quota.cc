#include "registry/quota.h"

#include <algorithm>
#include <vector>

namespace kakunin::registry {
namespace {

constexpr int64_t kMinute = int64_t{60} * 1000000;

int64_t JstDay(int64_t now) { return JstDate(now).ToDays(); }

// Floor division: the minute index of an instant (negative instants in tests too).
int64_t MinuteOf(int64_t now) {
  return now >= 0 ? now / kMinute : -((-now + kMinute - 1) / kMinute);
}

// Whether `prev` weighted by what of the previous minute is still in the last 60 s, plus `cur`,
// plus `add`, stays within `limit`, in integers: prev * (W - elapsed) + (cur + add) * W <= limit *
// W.
bool WithinSliding(int64_t prev, int64_t cur, int64_t add, int64_t limit, int64_t elapsed) {
  return prev * (kMinute - elapsed) + (cur + add) * kMinute <= limit * kMinute;
}

}  // namespace

std::string_view QuotaSubjectName(QuotaSubject subject) {
  return subject == QuotaSubject::kOperator ? "operator" : "client";
}

QuotaTable::QuotaTable(const QuotaConfig& config, size_t max_keys)
    : config_(config), max_keys_(max_keys == 0 ? 1 : max_keys) {}

size_t QuotaTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void QuotaTable::MakeRoom(int64_t now) {
  // First the keys nothing is left of: their minute and day have both passed.
  const int64_t minute = MinuteOf(now), day = JstDay(now);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.minute < minute - 1 && it->second.day != day) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  if (entries_.size() < max_keys_) return;
  // Then the one idle longest. Keys are registered callers times catalogue purposes, so this
  // only happens with a cap set far below the deployment's size.
  auto oldest = entries_.begin();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.last_seen < oldest->second.last_seen) oldest = it;
  }
  entries_.erase(oldest);
}

QuotaTable::Entry& QuotaTable::Find(const std::string& caller, QuotaSubject subject,
                                    const std::string& purpose, int64_t now) {
  std::string key;
  key.reserve(caller.size() + purpose.size() + 3);
  key += QuotaSubjectName(subject).front();
  key += caller;
  key += '\n';
  key += purpose;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_) MakeRoom(now);
    Entry e;
    e.limits = config_.LimitsFor(subject == QuotaSubject::kOperator, purpose);
    e.minute = MinuteOf(now);
    e.day = JstDay(now);
    it = entries_.emplace(std::move(key), e).first;
  }
  Entry& e = it->second;
  const int64_t minute = MinuteOf(now);
  if (minute > e.minute) {  // a clock stepping back keeps the current window
    // The current minute becomes the previous one only if it is the one just before.
    const bool adjacent = minute == e.minute + 1;
    e.prev_requests = adjacent ? e.requests : 0;
    e.prev_residents = adjacent ? e.residents : 0;
    e.requests = e.residents = 0;
    e.reserved = 0;
    e.minute = minute;
  }
  const int64_t day = JstDay(now);
  if (day > e.day) {
    e.day = day;
    e.day_requests = e.day_residents = 0;
    e.day_reserved = 0;
  }
  if (now > e.last_seen) e.last_seen = now;
  return e;
}

QuotaTable::Verdict QuotaTable::Admit(const std::string& caller, QuotaSubject subject,
                                      const std::string& purpose, int64_t now, int64_t reserve) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Find(caller, subject, purpose, now);
  const int64_t elapsed = std::clamp<int64_t>(now - e.minute * kMinute, 0, kMinute);
  const QuotaLimits& l = e.limits;
  if (!WithinSliding(e.prev_requests, e.requests, 1, l.requests_per_minute, elapsed)) {
    return {false, "requests_per_minute", l.requests_per_minute};
  }
  // A request needs at least one resident left in each window (what it returns is charged
  // after the answer: a search that finds nothing costs no resident).
  if (!WithinSliding(e.prev_residents, e.residents, 1, l.residents_per_minute, elapsed)) {
    return {false, "residents_per_minute", l.residents_per_minute};
  }
  if (e.day_requests + 1 > l.requests_per_day) {
    return {false, "requests_per_day", l.requests_per_day};
  }
  if (e.day_residents + 1 > l.residents_per_day) {
    return {false, "residents_per_day", l.residents_per_day};
  }
  ++e.requests;
  ++e.day_requests;
  if (reserve > 0) {
    e.residents += reserve;
    e.day_residents += reserve;
    e.reserved += reserve;
    e.day_reserved += reserve;
  }
  return {};
}

void QuotaTable::Charge(const std::string& caller, QuotaSubject subject, const std::string& purpose,
                        int64_t residents, int64_t now, int64_t reserved) {
  if (residents <= 0 && reserved <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Find(caller, subject, purpose, now);
  const int64_t extra = std::max<int64_t>(0, residents - reserved);
  const int64_t unused = std::max<int64_t>(0, reserved - residents);
  // In each window (the minute, the day): this request's reservation leaves the outstanding
  // ones, and what it did not use is given back from the part still in that window.
  auto settle = [&](int64_t& counted, int64_t& outstanding) {
    const int64_t part = std::min(reserved, outstanding);
    outstanding -= part;
    counted += extra - std::min(unused, part);
  };
  settle(e.residents, e.reserved);
  settle(e.day_residents, e.day_reserved);
}

Quotas::Quotas(const QuotaConfig& config, const Clock* clock, const Registry* registry,
               audit::ReviewSettings review, size_t max_keys)
    : enabled_(config.enabled),
      clock_(clock),
      registry_(registry),
      table_(config, max_keys),
      review_(review, int64_t{config.alert_interval_minutes} * kMinute) {}

Status Quotas::Admit(const Actor& actor, bool is_operator, const std::string& purpose,
                     const char* action, const std::vector<std::string>& asked, int64_t reserve) {
  if (!enabled_) return Status::Ok();
  const QuotaSubject subject = is_operator ? QuotaSubject::kOperator : QuotaSubject::kClient;
  const int64_t now = clock_->NowMicros();
  const QuotaTable::Verdict v = table_.Admit(actor.id, subject, purpose, now, reserve);
  if (v.admitted) return Status::Ok();
  // The refusal is an operation like any other: recorded, without personal data (which limit
  // and its value only; the request's criteria are not echoed).
  Status why = Status::ResourceExhausted("the caller's read quota for this purpose is used up (" +
                                         std::string(v.limit) + ")")
                   .WithReason("quota_exceeded");
  Status recorded;
  if (registry_ != nullptr) {
    // The codes asked for are named (not whether they exist), as for every refused read.
    audit::AuditEntry e = registry_->RefusalEntry(actor, action, purpose, why, asked);
    e.conditions = "quota=" + std::string(v.limit) + " limit=" + std::to_string(v.value) +
                   " subject=" + std::string(QuotaSubjectName(subject)) +
                   (e.conditions.empty() ? "" : " " + e.conditions);  // targets_withheld
    recorded = registry_->RecordRefusal(actor, std::move(e));
  }
  if (hooks_.on_refusal) hooks_.on_refusal(subject);
  Raise(review_.OnRefusal(actor.id, now, /*quota=*/true), actor, purpose);
  if (!recorded.ok()) return recorded;  // a refusal that cannot be recorded is still refused
  return why;
}

bool Quotas::AdmitQuietly(const Actor& actor, bool is_operator, const std::string& purpose,
                          int64_t reserve) {
  if (!enabled_) return true;
  const QuotaSubject subject = is_operator ? QuotaSubject::kOperator : QuotaSubject::kClient;
  return table_.Admit(actor.id, subject, purpose, clock_->NowMicros(), reserve).admitted;
}

void Quotas::Answered(const Actor& actor, bool is_operator, const std::string& purpose, bool search,
                      int64_t found, int64_t asked, int64_t reserved) {
  const QuotaSubject subject = is_operator ? QuotaSubject::kOperator : QuotaSubject::kClient;
  const int64_t now = clock_->NowMicros();
  if (enabled_) table_.Charge(actor.id, subject, purpose, found, now, reserved);
  Raise(review_.OnRead(actor.id, now, search, asked > found ? asked - found : 0), actor, purpose);
}

void Quotas::Release(const Actor& actor, bool is_operator, const std::string& purpose,
                     int64_t reserved) {
  if (!enabled_ || reserved <= 0) return;
  const QuotaSubject subject = is_operator ? QuotaSubject::kOperator : QuotaSubject::kClient;
  table_.Charge(actor.id, subject, purpose, 0, clock_->NowMicros(), reserved);
}

void Quotas::Refused(const Actor& actor) {
  Raise(review_.OnRefusal(actor.id, clock_->NowMicros()), actor, "");
}

void Quotas::Raise(const std::vector<audit::LiveAlert>& alerts, const Actor& actor,
                   const std::string& purpose) {
  for (const audit::LiveAlert& a : alerts) {
    if (registry_ != nullptr) {
      audit::AuditEntry e;
      e.actor = a.actor;  // the actor the alert is about, so a reviewer finds it under them
      e.terminal = actor.terminal;
      e.action = "alert.raised";
      e.purpose = LoggedPurpose(registry_->purposes(), purpose);
      e.conditions = "rule=" + a.rule + " count=" + std::to_string(a.count) +
                     (a.threshold > 0 ? " threshold=" + std::to_string(a.threshold) : "");
      e.outcome = "done";
      // An alert that cannot be written to the log still reaches the hooks (metrics, the
      // server's log), and the read it is about was recorded on its own.
      (void)registry_->Record(std::move(e));
    }
    if (hooks_.on_alert) hooks_.on_alert(a);
  }
}

Status CheckQuotaPurposes(const QuotaConfig& config, const PurposeCatalogue& catalogue) {
  for (const auto& [id, limits] : config.purposes) {
    if (catalogue.Find(id) == nullptr) {
      return Status::InvalidArgument("config: [quotas.purpose.\"" + id +
                                     "\"] names a purpose that is not in the catalogue");
    }
  }
  return Status::Ok();
}

}  // namespace kakunin::registry
