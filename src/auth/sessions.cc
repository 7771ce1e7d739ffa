#include "auth/sessions.h"

#include <sodium.h>

#include <algorithm>

#include "core/bytes.h"

namespace kakunin::auth {

std::string_view SessionStageName(SessionStage stage) {
  switch (stage) {
    case SessionStage::kSecondFactor:
      return "second_factor";
    case SessionStage::kActive:
      return "active";
    case SessionStage::kLocked:
      return "locked";
  }
  return "locked";
}

std::string RandomToken() {
  unsigned char raw[32];
  if (sodium_init() < 0) std::abort();  // no randomness: nothing safe to do
  randombytes_buf(raw, sizeof raw);
  return HexEncode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

SessionStore::SessionStore(const Clock* clock, int64_t idle_lock_micros, int64_t lifetime_micros)
    : clock_(clock),
      idle_lock_(std::clamp<int64_t>(idle_lock_micros, 1000000, int64_t{300} * 1000000)),
      lifetime_(lifetime_micros) {}

Session SessionStore::Create(const std::string& operator_id, SessionStage stage,
                             const std::string& card_spki, const std::string& password_mark) {
  Session s;
  s.card_spki = card_spki;
  s.password_mark = password_mark;
  if (stage == SessionStage::kActive) s.credential_id = card_spki;
  s.token = RandomToken();
  s.operator_id = operator_id;
  s.stage = stage;
  s.csrf_token = RandomToken();
  s.created_at = s.last_seen = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(mu_);
  sessions_[s.token] = s;
  return s;
}

std::optional<Session> SessionStore::Find(const std::string& token, bool touch) {
  const int64_t now = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return std::nullopt;
  Session& s = it->second;
  // A session that has only passed the password step lives as long as an idle screen stays
  // unlocked, not the whole lifetime (found in review: one lived 8 hours, its challenge good
  // throughout).
  if (now - s.created_at > lifetime_ ||
      (s.stage == SessionStage::kSecondFactor && now - s.created_at > idle_lock_)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  if (s.stage == SessionStage::kActive && now - s.last_seen > idle_lock_) {
    s.stage = SessionStage::kLocked;
  }
  if (touch && s.stage == SessionStage::kActive) s.last_seen = now;
  return s;
}

std::optional<Session> SessionStore::Activate(const std::string& token,
                                              const std::string& credential_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return std::nullopt;
  Session s = std::move(it->second);
  sessions_.erase(it);
  s.token = RandomToken();
  s.csrf_token = RandomToken();
  s.stage = SessionStage::kActive;
  s.credential_id = credential_id;
  s.challenge.clear();
  s.last_seen = clock_->NowMicros();
  sessions_[s.token] = s;
  return s;
}

bool SessionStore::Update(const Session& session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session.token);
  if (it == sessions_.end()) return false;
  it->second.stage = session.stage;
  if (session.stage == SessionStage::kActive) it->second.last_seen = clock_->NowMicros();
  return true;
}

bool SessionStore::SetChallenge(const std::string& token, const std::string& challenge) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return false;
  it->second.challenge = challenge;
  it->second.challenge_at = clock_->NowMicros();
  return true;
}

std::string SessionStore::TakeChallenge(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return "";
  std::string out;
  out.swap(it->second.challenge);
  if (clock_->NowMicros() - it->second.challenge_at > kChallengeMicros) return "";
  return out;
}

void SessionStore::Erase(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(token);
}

void SessionStore::EraseOperator(const std::string& operator_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.operator_id == operator_id ? sessions_.erase(it) : std::next(it);
  }
}

}  // namespace kakunin::auth
