#pragma once

// Console sessions, kept in memory (a restart signs everyone out). A session starts after the
// password and becomes active after the second factor (WebAuthn or an IC card); without a request
// for the idle-lock time it is locked and needs the second factor again; it ends at its absolute
// lifetime, at logout, or when its operator is suspended or retired. Thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"

namespace kakunin::auth {

enum class SessionStage { kSecondFactor, kActive, kLocked };
std::string_view SessionStageName(SessionStage stage);  // second_factor | active | locked

struct Session {
  std::string token;  // the cookie's value: 32 random bytes, hex
  std::string operator_id;
  SessionStage stage = SessionStage::kSecondFactor;
  std::string csrf_token;  // sent back in x-csrf-token on every POST
  int64_t created_at = 0;
  int64_t last_seen = 0;
  std::string challenge;  // the pending WebAuthn challenge (raw bytes), used once
  int64_t challenge_at = 0;  // when it was issued: it is good for kChallengeMicros
  // The IC card (SubjectPublicKeyInfo SHA-256, hex) the session was made active with, if any:
  // every later request must present it (a copied cookie alone is not the operator).
  std::string card_spki;
  // The card or authenticator that made it active last (its CredentialRow::credential_id): each
  // request checks it is still in force in the register, so a revocation made through another
  // node (the store's register, not this process's sessions) ends the session too.
  std::string credential_id;
  // A mark of the stored password the password step checked (registry::PasswordMark): a request
  // whose operator's stored password no longer has it ends the session, so a password change
  // through another node (the store's register, not this process's sessions) ends it too.
  std::string password_mark;
};

// A WebAuthn challenge is answered within this (the options advertise 60 s; twice that for a
// slow hand), else it is gone (found in review: a 330 s old challenge was accepted).
inline constexpr int64_t kChallengeMicros = int64_t{120} * 1000000;

// 32 random bytes as lower-case hex.
std::string RandomToken();

class SessionStore {
 public:
  // `idle_lock_micros`: at most 5 minutes; `lifetime_micros`: absolute. `clock` must outlive it.
  SessionStore(const Clock* clock, int64_t idle_lock_micros, int64_t lifetime_micros);

  Session Create(const std::string& operator_id, SessionStage stage,
                 const std::string& card_spki = "", const std::string& password_mark = "");
  // The session for `token`, with the idle lock applied; nullopt if unknown or past its lifetime
  // (then erased). With `touch`, the request counts as activity (only for an active session).
  std::optional<Session> Find(const std::string& token, bool touch);
  // Stores the stage of `session` (by token); false if it is gone. The challenge is not touched:
  // it has its own one-step calls below, so a stale copy cannot bring a used challenge back.
  bool Update(const Session& session);
  // The session of `token` made active under new tokens (cookie and CSRF), the old token gone:
  // whoever saw or planted the token before the second factor holds nothing. Its lifetime still
  // counts from when it was created. nullopt if it is gone.
  // `credential_id`: the card or authenticator that passed.
  std::optional<Session> Activate(const std::string& token, const std::string& credential_id);
  // Sets the session's pending WebAuthn challenge; false if the session is gone.
  bool SetChallenge(const std::string& token, const std::string& challenge);
  // Compare-and-delete in one step: returns the pending challenge and clears it, so of parallel
  // verifications only one gets it; "" if there is none (or the session is gone).
  std::string TakeChallenge(const std::string& token);
  void Erase(const std::string& token);
  // Ends every session of an operator (suspended, retired).
  void EraseOperator(const std::string& operator_id);

  int64_t idle_lock_micros() const { return idle_lock_; }

 private:
  const Clock* clock_;
  int64_t idle_lock_;
  int64_t lifetime_;
  std::mutex mu_;
  std::map<std::string, Session> sessions_;
};

}  // namespace kakunin::auth
