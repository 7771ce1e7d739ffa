#include "audit/key_rotation.h"

#include "audit/log.h"

#include <algorithm>
#include <optional>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "core/bytes.h"
#include "text/json.h"

namespace kakunin::audit {
namespace {

constexpr int kMaxAnnouncements = kMaxSigningKeyAnnouncements;

struct Announcement {
  int64_t seq = 0;
  std::string previous;  // raw public keys
  std::string next;
};

std::optional<std::string> HexKey(const text::JsonValue& v, std::string_view member) {
  const text::JsonValue* m = v.Find(member);
  if (m == nullptr || !m->is_string() || m->text().size() != 64) return std::nullopt;
  for (char c : m->text()) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return HexDecode(m->text());
}

std::string Conditions(std::string_view previous, std::string_view next) {
  return "{\"previous_public_key\":\"" + HexEncode(previous) + "\",\"public_key\":\"" +
         HexEncode(next) + "\",\"key_id\":\"" + PublicKeyId(next) + "\"}";
}

}  // namespace

Status RotateSigningKey(store::RegistryTxn& txn, const Signer& current, const Signer& next,
                        const Clock& clock, const std::string& actor,
                        const std::string& terminal) {
  if (next.public_key() == current.public_key()) {
    return Status::InvalidArgument("the new signing key is the key in use");
  }
  // Prove the new key signs before the log depends on it.
  auto probe = next.Sign("kakunin signing key probe");
  if (!probe.ok()) return probe.status();
  if (!VerifySignature(next.public_key(), "kakunin signing key probe", *probe)) {
    return Status::FailedPrecondition("the new signing key's signature does not verify");
  }
  AuditLog old_log(&current, &clock);
  AuditEntry announce;
  announce.actor = actor;
  announce.terminal = terminal;
  announce.action = std::string(kSigningKeyRotateAction);
  announce.conditions = Conditions(current.public_key(), next.public_key());
  announce.outcome = "done";
  KAKUNIN_RETURN_IF_ERROR(old_log.Append(txn, announce).status());
  KAKUNIN_RETURN_IF_ERROR(old_log.WriteCheckpoint(txn));
  // From here the log is the new key's (AuditLog::Sign checks it).
  KAKUNIN_RETURN_IF_ERROR(txn.SetMeta("log_key_id", next.key_id()));

  AuditLog new_log(&next, &clock);
  AuditEntry activate;
  activate.actor = actor;
  activate.terminal = terminal;
  activate.action = std::string(kSigningKeyActivateAction);
  activate.conditions = "{\"key_id\":\"" + next.key_id() + "\"}";
  activate.outcome = "done";
  KAKUNIN_RETURN_IF_ERROR(new_log.Append(txn, activate).status());
  return new_log.WriteCheckpoint(txn);
}

Result<bool> SignedByEarlierKey(store::RegistryReader& reader, const Checkpoint& c) {
  store::AuditQuery q;
  q.action = std::string(kSigningKeyRotateAction);
  q.limit = kMaxAnnouncements;
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader.SearchAudit(q));
  for (const store::AuditRow& row : rows) {
    if (!row.payload) continue;
    auto entry = DecodeEntry(*row.payload);
    if (!entry.ok()) continue;
    auto json = text::ParseJson(entry->conditions);
    if (!json.ok() || !json->is_object()) continue;
    auto previous = HexKey(*json, "previous_public_key");
    if (previous && VerifyCheckpoint(c, *previous)) return true;
  }
  return false;
}

Result<Checkpoint> ParseLogCheckpoint(store::RegistryReader& reader, std::string_view text,
                                      std::string_view current_key) {
  auto cp = ParseCheckpoint(text, current_key);
  if (cp.ok() && VerifyCheckpoint(*cp, current_key)) return cp;
  // Not a checkpoint at all (a note signed by another key reads as one all the same).
  if (!cp.ok() && cp.status().message() != kNoSignatureByThisKey) return cp.status();
  store::AuditQuery q;
  q.action = std::string(kSigningKeyRotateAction);
  q.limit = kMaxAnnouncements;
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader.SearchAudit(q));
  for (const store::AuditRow& row : rows) {
    if (!row.payload) continue;
    auto entry = DecodeEntry(*row.payload);
    if (!entry.ok()) continue;
    auto json = text::ParseJson(entry->conditions);
    if (!json.ok() || !json->is_object()) continue;
    auto previous = HexKey(*json, "previous_public_key");
    if (!previous) continue;
    auto earlier = ParseCheckpoint(text, *previous);
    if (earlier.ok() && VerifyCheckpoint(*earlier, *previous)) return earlier;
  }
  return Status::PermissionDenied("the checkpoint is not signed by this node's key");
}

Result<std::vector<bool>> CheckCheckpointSignatures(
    store::RegistryReader& reader, const std::vector<store::CheckpointRow>& checkpoints,
    std::string_view trusted_key, const std::function<void(std::string)>& add) {
  store::AuditQuery q;
  q.action = std::string(kSigningKeyRotateAction);
  q.limit = kMaxAnnouncements;
  auto rows = reader.SearchAudit(q);
  if (!rows.ok()) return rows.status();
  return CheckCheckpointSignatures(*rows, checkpoints, trusted_key, add);
}

std::vector<bool> CheckCheckpointSignatures(const std::vector<store::AuditRow>& rows,
                                            const std::vector<store::CheckpointRow>& checkpoints,
                                            std::string_view trusted_key,
                                            const std::function<void(std::string)>& add) {
  std::vector<Announcement> chain;
  for (const store::AuditRow& row : rows) {
    const std::string where = "the signing-key announcement at entry " + std::to_string(row.seq);
    if (!row.payload) {
      add(where + " was erased: checkpoints after it cannot be checked");
      continue;
    }
    auto entry = DecodeEntry(*row.payload);
    if (!entry.ok()) continue;  // named by the entry check
    auto json = text::ParseJson(entry->conditions);
    std::optional<std::string> previous, next;
    if (json.ok() && json->is_object()) {
      previous = HexKey(*json, "previous_public_key");
      next = HexKey(*json, "public_key");
    }
    if (!previous || !next) {
      add(where + " is malformed");
      continue;
    }
    chain.push_back({row.seq, std::move(*previous), std::move(*next)});
  }
  std::sort(chain.begin(), chain.end(),
            [](const Announcement& a, const Announcement& b) { return a.seq < b.seq; });

  // The first key: the trusted one, unless an announcement introduced it — then the chain's
  // start, and the trusted key must sign a checkpoint of its own.
  std::string current(trusted_key);
  bool trusted_must_sign = false;
  for (const Announcement& a : chain) {
    if (a.next == trusted_key) {
      current = chain.front().previous;
      trusted_must_sign = true;
      break;
    }
  }
  bool trusted_signed = false;
  size_t next_announcement = 0;
  std::vector<bool> bad(checkpoints.size(), false);
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    const store::CheckpointRow& c = checkpoints[i];
    const std::string size = std::to_string(c.tree_size);
    const Checkpoint cp = CheckpointOf(c);
    if (c.key_id != PublicKeyId(current)) {
      bad[i] = true;
      add("checkpoint at tree size " + size + " is signed by key " + c.key_id +
          ", which no announcement introduced (the key in force is " + PublicKeyId(current) +
          ")");
    } else if (!VerifyCheckpoint(cp, current)) {
      bad[i] = true;
      add("checkpoint at tree size " + size + " has a bad signature (replaced or altered)");
    } else if (current == trusted_key) {
      trusted_signed = true;
    }
    // Announcements this checkpoint covers take effect after it: it was signed by the old key.
    while (next_announcement < chain.size() && chain[next_announcement].seq < c.tree_size) {
      const Announcement& a = chain[next_announcement++];
      if (a.previous != current) {
        add("the signing-key announcement at entry " + std::to_string(a.seq) +
            " names a previous key (" + PublicKeyId(a.previous) + ") that was not in force (" +
            PublicKeyId(current) + ")");
      }
      current = a.next;
    }
  }
  if (trusted_must_sign && !trusted_signed) {
    add("no checkpoint is signed by the given key " + PublicKeyId(trusted_key) +
        ": the announcements that lead to it are not proven");
  }
  return bad;
}

}  // namespace kakunin::audit
