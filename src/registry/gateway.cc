#include "registry/gateway.h"

#include "registry/detail/registry_internal.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

#include "auth/sessions.h"
#include "registry/registers.h"
#include "core/bytes.h"
#include "crypto/sha256.h"
#include "domain/local_gov_code.h"
#include "registry/client_cache.h"
#include "registry/operators.h"
#include "registry/quota.h"
#include "registry/reader_pool.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

bool IsLowerHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A client's name: text, and no resident's code or number in it (it is listed and logged).
bool IsPlainText(std::string_view s, size_t max) {
  return !s.empty() && s.size() <= max && text::CheckText(s) == text::TextCheck::kOk &&
         !HoldsResidentNumber(s) && !HoldsInvisibleFormatting(s);
}

std::vector<std::string> SplitPurposes(const std::string& joined) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < joined.size()) {
    size_t comma = joined.find(',', start);
    if (comma == std::string::npos) comma = joined.size();
    if (comma > start) out.push_back(joined.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Client FromRow(const store::ClientRow& row) {
  Client c;
  c.spki_sha256 = row.spki_sha256;
  c.kind = ParseClientKind(row.kind).value_or(ClientKind::kAgency);
  c.name = row.name;
  c.municipality_code = row.municipality_code;
  c.recipient = row.recipient;
  c.purposes = SplitPurposes(row.purposes);
  if (c.kind == ClientKind::kPrefecture) {
    // Stored as its two-digit code in the municipality column (schema migration 7).
    const std::string& p = row.municipality_code;
    if (p.size() == 2 && p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') {
      c.prefecture = (p[0] - '0') * 10 + (p[1] - '0');
    }
  }
  c.registered_at = row.registered_at;
  c.revoked_at = row.revoked_at;
  return c;
}

audit::AuditEntry EntryFor(const Actor& actor, const char* action, const std::string& purpose,
                           const PurposeCatalogue* catalogue) {
  audit::AuditEntry e;
  e.actor = actor.id;
  e.terminal = actor.terminal;
  e.action = action;
  e.purpose = LoggedPurpose(catalogue, purpose);
  return e;
}

// The rules of Authorize, shared with the re-check inside the recording transaction.
bool OperatorMayRead(const OperatorView& op, const Purpose* p, const std::string& purpose,
                     const std::string& today) {
  // Separation of duties holds for roles granted before it was checked too: an auditor (or
  // anyone holding a role that excludes operating) reads nothing.
  for (const std::string& r : op.roles) {
    if (RolesConflict(r, "operator")) return false;
  }
  return p != nullptr && p->OpenToOperators() && op.active() && op.HasRole("operator") &&
         op.NominatedFor(purpose, today);
}

bool ClientMayRead(const Client& client, const Purpose* p, const std::string& purpose) {
  if (client.kind == ClientKind::kMunicipalCs || client.kind == ClientKind::kPrefecture ||
      client.revoked_at != 0) {
    return false;
  }
  // A statistics purpose gives counts to the prefecture's own operators, never records; a
  // disclosure goes to the resident through the disclosure desk, never to a system. Checked
  // here, not only when the client was registered: an entry written before that rule, or under
  // a catalogue that has changed since, must not open them.
  bool allowed = p != nullptr && p->kind != PurposeKind::kStatistics &&
                 p->kind != PurposeKind::kDisclosure && p->AllowsRecipient(client.recipient);
  if (allowed && client.kind == ClientKind::kAgency) {
    allowed =
        p->OpenToSystems() &&
        std::find(client.purposes.begin(), client.purposes.end(), purpose) != client.purposes.end();
  }
  // The national node reads nothing here: its purpose (住基法 第30条の7) is the prefecture's
  // notification to it, which the link sends with this node's own certificate. Found in review:
  // a `national` client could look up, search by 個人番号 and read the history of anyone
  // under it, a pull the law does not provide for.
  if (client.kind == ClientKind::kNational) allowed = false;
  return allowed;
}

}  // namespace

bool IsHandle(std::string_view s) {
  if (s.size() != 34 || s.substr(0, 2) != "h_") return false;
  return std::all_of(s.begin() + 2, s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string_view ClientKindName(ClientKind kind) {
  switch (kind) {
    case ClientKind::kMunicipalCs:
      return "municipal_cs";
    case ClientKind::kAgency:
      return "agency";
    case ClientKind::kNational:
      return "national";
    case ClientKind::kPrefecture:
      return "prefecture";
  }
  return "agency";
}

std::optional<ClientKind> ParseClientKind(std::string_view name) {
  if (name == "municipal_cs") return ClientKind::kMunicipalCs;
  if (name == "agency") return ClientKind::kAgency;
  if (name == "national") return ClientKind::kNational;
  if (name == "prefecture") return ClientKind::kPrefecture;
  return std::nullopt;
}

Actor Client::ActorAt(const std::string& terminal) const {
  return Actor{"cert:" + spki_sha256, terminal};
}

Gateway::Gateway(Registry* registry, const PurposeCatalogue* catalogue, const Clock* clock,
                 int prefecture)
    : registry_(registry),
      catalogue_(catalogue),
      clock_(clock),
      prefecture_(prefecture),
      clients_(std::make_unique<ClientCache>()),
      unknown_clients_(std::make_unique<auth::RefusalSampler>(
          clock, kUnknownClientSampleSeconds * 1000000, kUnknownClientSampleKeys)) {}

Gateway::~Gateway() = default;

void Gateway::UseStore(store::RegistryStore* store) {
  readers_ = store == nullptr ? nullptr : std::make_unique<ReaderPool>(store);
}

template <typename Fn>
auto Gateway::WithReader(Fn&& fn) const -> decltype(fn(std::declval<store::RegistryReader&>())) {
  if (readers_ == nullptr) {
    return Status::FailedPrecondition("the gateway has no store to read from (UseStore)");
  }
  auto lease = readers_->Acquire();
  if (!lease.ok()) return lease.status();
  return fn(**lease);
}

Status Gateway::Register(const Client& c, const Actor& actor) const {
  if (!IsLowerHex64(c.spki_sha256)) {
    return Status::InvalidArgument("the key fingerprint must be 64 lower-case hex digits");
  }
  if (!IsPlainText(c.name, 200)) return Status::InvalidArgument("a client needs a name");
  store::ClientRow row;
  row.spki_sha256 = c.spki_sha256;
  row.kind = std::string(ClientKindName(c.kind));
  row.name = c.name;
  switch (c.kind) {
    case ClientKind::kMunicipalCs: {
      ErrorCode error;
      const LocalGovEntry* e =
          LookupLocalGovCode(c.municipality_code, LocalGovTable::Builtin(), &error);
      if (e == nullptr || !e->is_municipality() || e->kind == LocalGovKind::kDesignatedCity) {
        return Status::InvalidArgument("a municipal CS needs a valid municipality code");
      }
      // A municipal CS sends to its prefecture's node; the national node takes changes only
      // from prefecture nodes, over the link (住基法第30条の7).
      if (prefecture_ == 0) {
        return Status::InvalidArgument(
            "a municipal CS is registered with its prefecture's node, not the national node");
      }
      if (e->prefecture_number() != prefecture_) {
        return Status::InvalidArgument("the municipality is not in this node's prefecture");
      }
      if (!c.recipient.empty() || !c.purposes.empty()) {
        return Status::InvalidArgument("a municipal CS has no recipient id or purposes");
      }
      row.municipality_code = c.municipality_code;
      break;
    }
    case ClientKind::kAgency: {
      if (!c.municipality_code.empty()) {
        return Status::InvalidArgument("only a municipal CS has a municipality");
      }
      if (!IsPlainText(c.recipient, 200) || c.recipient == "national" ||
          c.recipient.find(',') != std::string::npos) {
        return Status::InvalidArgument("an agency needs a recipient id");
      }
      // An agency is another body ("agency:…") or a department of the prefecture ("dept:…");
      // never "resident" or any other id a purpose may name, so that registering a system
      // under a borrowed recipient id cannot open the resident's own disclosure to it.
      if (!c.recipient.starts_with("agency:") && !c.recipient.starts_with("dept:")) {
        return Status::InvalidArgument("an agency's recipient id starts with agency: or dept:");
      }
      if (c.purposes.empty()) return Status::InvalidArgument("an agency needs its purposes");
      for (const auto& id : c.purposes) {
        const Purpose* p = catalogue_->Find(id);
        if (p == nullptr) return Status::InvalidArgument("a purpose is not in the catalogue");
        if (!p->AllowsRecipient(c.recipient)) {
          return Status::InvalidArgument("a purpose is not open to this recipient");
        }
        if (p->kind == PurposeKind::kNational) {
          return Status::InvalidArgument("an agency cannot take a national purpose");
        }
        // Disclosure (開示, 住基法第30条の32) goes to the resident through the disclosure
        // workflow, never to a registered system.
        if (p->kind == PurposeKind::kDisclosure) {
          return Status::InvalidArgument("an agency cannot take a disclosure purpose");
        }
        // Statistics give the population table to the prefecture's operators, never records
        // to a system (ClientMayRead refuses every read under one).
        if (p->kind == PurposeKind::kStatistics) {
          return Status::InvalidArgument("an agency cannot take a statistics purpose");
        }
        // An internal use is the prefecture's staff's unless its entry opens it to systems.
        if (!p->OpenToSystems()) {
          return Status::InvalidArgument(
              "the purpose is the prefecture's staff's own (internal_use without systems = "
              "true): operators read under it on the console");
        }
        row.purposes += (row.purposes.empty() ? "" : ",") + id;
      }
      row.recipient = c.recipient;
      break;
    }
    case ClientKind::kNational:
      if (!c.municipality_code.empty() || !c.purposes.empty() ||
          (!c.recipient.empty() && c.recipient != "national")) {
        return Status::InvalidArgument("the national node has no municipality or purposes");
      }
      row.recipient = "national";
      break;
    case ClientKind::kPrefecture: {
      // Only a national node takes forwarded changes; a prefecture speaks for one prefecture.
      if (prefecture_ != 0) {
        return Status::InvalidArgument("only a national node registers prefecture nodes");
      }
      if (c.prefecture < 1 || c.prefecture > 47 || !c.municipality_code.empty() ||
          !c.recipient.empty() || !c.purposes.empty()) {
        return Status::InvalidArgument(
            "a prefecture node needs its prefecture code (1..47) and nothing else");
      }
      char code[3];
      std::snprintf(code, sizeof code, "%02d", c.prefecture);
      row.municipality_code = code;
      break;
    }
  }
  row.registered_at = clock_->NowMicros();
  audit::AuditEntry e = EntryFor(actor, "client.register", "", catalogue_);
  e.conditions = "client=" + c.spki_sha256 + " kind=" + row.kind +
                 (row.municipality_code.empty() ? "" : " municipality=" + row.municipality_code) +
                 (row.recipient.empty() ? "" : " recipient=" + row.recipient) +
                 (row.purposes.empty() ? "" : " purposes=" + row.purposes);
  e.outcome = "done";
  return registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    // A person's IC card is never a system's certificate (docs/operators.md).
    auto card = txn.FindCredential(row.spki_sha256);
    if (!card.ok()) return card.status();
    if (*card && (*card)->kind == "certificate") {
      return Status::FailedPrecondition("this key is an operator's IC card");
    }
    Status st = txn.InsertClient(row);
    if (st.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("this key is already registered (revoked keys stay so)");
    }
    KAKUNIN_RETURN_IF_ERROR(st);
    return BumpClientsGeneration(txn);  // every process's ClientCache reads the register again
  });
}

Status Gateway::Revoke(const std::string& spki, const Actor& actor) const {
  if (!IsLowerHex64(spki)) {
    return Status::InvalidArgument("the key fingerprint must be 64 lower-case hex digits");
  }
  audit::AuditEntry e = EntryFor(actor, "client.revoke", "", catalogue_);
  e.conditions = "client=" + spki;
  e.outcome = "done";
  return registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto revoked = txn.RevokeClient(spki, clock_->NowMicros());
    if (!revoked.ok()) return revoked.status();
    if (!*revoked) return Status::NotFound("no such registered client (or already revoked)");
    // The update itself bumped the register's generation (a trigger, schema 10: also for an
    // edit made with SQL), so the next request of this client is refused.
    return Status::Ok();
  });
}

Result<std::vector<Client>> Gateway::List() const {
  return WithReader([&](store::RegistryReader& reader) { return List(reader); });
}

Result<std::vector<Client>> Gateway::List(store::RegistryReader& reader) const {
  auto rows = reader.ListClients();
  if (!rows.ok()) return rows.status();
  std::vector<Client> out;
  for (const auto& r : *rows) out.push_back(FromRow(r));
  return out;
}

Status Gateway::RefuseClient(const Actor& actor, const char* action, const std::string& purpose,
                             Status why, const std::vector<std::string>& asked,
                             const SearchRequest* search) const {
  audit::AuditEntry e = registry_->RefusalEntry(actor, action, purpose, why, asked);
  if (search != nullptr) registry_->DescribeSearch(*search, &e);
  KAKUNIN_RETURN_IF_ERROR(registry_->RecordRefusal(actor, std::move(e)));
  if (quotas_ != nullptr) quotas_->Refused(actor);  // repeated_refusals, in real time
  return why;
}

namespace {
Status ChiefOnly() {
  return Status::PermissionDenied("only a security chief halts or resumes the node")
      .WithReason("not_permitted");
}
}  // namespace

Status Gateway::HaltBy(const OperatorView& chief, const std::string& reason,
                       const std::string& terminal) const {
  if (!chief.active() || !chief.HasRole("security_chief")) return ChiefOnly();
  return registry_->Halt(
      reason, Actor{"operator:" + chief.row.operator_id, terminal},
      [&](store::RegistryTxn& txn) { return StillHoldsOneOf(txn, chief, {"security_chief"}); });
}

Status Gateway::ResumeBy(const OperatorView& chief, const std::string& terminal) const {
  if (!chief.active() || !chief.HasRole("security_chief")) return ChiefOnly();
  return registry_->Resume(
      Actor{"operator:" + chief.row.operator_id, terminal},
      [&](store::RegistryTxn& txn) { return StillHoldsOneOf(txn, chief, {"security_chief"}); });
}

Status Gateway::RefuseUnknownClient(const Actor& actor, const std::string& purpose, Status why,
                                    const std::vector<std::string>& asked) const {
  // The repeated_refusals alert sees every one, in real time.
  if (quotas_ != nullptr) quotas_->Refused(actor);
  audit::AuditEntry e = registry_->RefusalEntry(actor, "client.refused", purpose, why, asked);
  // A refusal that names whom it went after (a revoked system asking for residents) is always
  // recorded: the person's statement shows it. RefusalNaming bounds those (a few a day per
  // resident, 1,000 residents a day per certificate); past it, and for everything that names
  // nobody, the refusals are sampled.
  if (!e.targets.empty()) {
    KAKUNIN_RETURN_IF_ERROR(registry_->Record(std::move(e)));
    return why;
  }
  auto counts = unknown_clients_->Note(actor.id, std::string(why.reason()));
  if (!counts) return why;  // held back: counted in this certificate's next entry
  auth::RefusalSampler::AppendCounts(*counts, &e.conditions);
  KAKUNIN_RETURN_IF_ERROR(registry_->Record(std::move(e)));
  return why;
}

Status Gateway::WriteHeldRefusals(bool everything) const {
  std::vector<audit::AuditEntry> entries;
  for (auto& [key, counts] : unknown_clients_->TakeHeld(everything)) {
    audit::AuditEntry e = registry_->RefusalEntry(
        Actor{key.empty() ? "cert:(several)" : key, "(held back)"}, "client.refused", "",
        Status::PermissionDenied("held back").WithReason("sampled"), {});
    auth::RefusalSampler::AppendCounts(counts, &e.conditions, /*even_one=*/true);
    entries.push_back(std::move(e));
  }
  KAKUNIN_RETURN_IF_ERROR(registry_->RecordAll(std::move(entries)));
  return registry_->WriteHeldRefusals(everything);
}

Result<Client> Gateway::Authenticate(const std::string& spki, const std::string& terminal,
                                     const std::vector<std::string>& asked,
                                     const std::string& purpose) const {
  return WithReader([&](store::RegistryReader& reader) {
    return AuthenticateIn(reader, spki, terminal, asked, purpose);
  });
}

Result<std::optional<Client>> Gateway::AuthenticateQuietly(const std::string& spki) const {
  if (!IsLowerHex64(spki)) return std::optional<Client>();
  return WithReader([&](store::RegistryReader& reader) -> Result<std::optional<Client>> {
    KAKUNIN_ASSIGN_OR_RETURN(client, ActiveClient(reader, spki));
    if (client == nullptr) return std::optional<Client>();
    return std::optional<Client>(*client);
  });
}

Result<std::shared_ptr<const Client>> Gateway::ActiveClient(store::RegistryReader& reader,
                                                            const std::string& spki) const {
  // The generation first, then the row (ClientCache::Put).
  KAKUNIN_ASSIGN_OR_RETURN(generation, reader.GetMeta(kClientsGenerationKey));
  const std::string gen = generation.value_or("");
  if (auto hit = clients_->Find(spki, gen)) return hit;
  KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindClient(spki));
  if (!row || row->revoked_at != 0) return std::shared_ptr<const Client>();
  auto client = std::make_shared<const Client>(FromRow(*row));
  clients_->Put(spki, gen, client);
  return client;
}

Result<Client> Gateway::AuthenticateIn(store::RegistryReader& reader, const std::string& spki,
                                       const std::string& terminal,
                                       const std::vector<std::string>& asked,
                                       const std::string& purpose) const {
  if (IsLowerHex64(spki)) {
    KAKUNIN_ASSIGN_OR_RETURN(active, ActiveClient(reader, spki));
    if (active != nullptr) return *active;
  }
  // Not registered, revoked or malformed: read again for the reason, and record the refusal.
  const Actor actor{"cert:" + (IsLowerHex64(spki) ? spki : std::string("(none)")), terminal};
  auto row = reader.FindClient(spki);
  if (!row.ok()) return row.status();
  if (!*row) {
    // Never registered: its codes are not named (any certificate of the CA could otherwise
    // write entries into a chosen resident's statement).
    return RefuseUnknownClient(actor, purpose,
                               Status::PermissionDenied("the client certificate is not registered")
                                   .WithReason("client_not_registered"));
  }
  if ((*row)->revoked_at != 0) {
    // Only the codes the node holds are named (second fix review: a thousand made-up codes used
    // up the certificate's naming for the day, and its attempt on a real resident then left no
    // trace in that person's statement). Made-up codes name nobody and are sampled.
    std::vector<std::string> held;
    for (const std::string& code : asked) {
      auto found = reader.FindByResidentCode(code);
      if (!found.ok()) return found.status();
      if (*found) held.push_back(code);
    }
    return RefuseUnknownClient(actor, purpose,
                               Status::PermissionDenied("the client certificate was revoked")
                                   .WithReason("client_revoked"),
                               held);
  }
  return FromRow(**row);
}

Result<std::optional<int64_t>> Gateway::HaltedSince() const {
  return WithReader([&](store::RegistryReader& reader) { return registry_->HaltedSince(reader); });
}

Status Gateway::CheckRunning() const {
  auto since = HaltedSince();
  if (!since.ok()) return since.status();
  if (*since) return Status::Unavailable("the node is halted").WithReason("halted");
  return Status::Ok();
}

Status Gateway::CheckRunningFor(const Caller& caller, const char* action,
                                const std::vector<std::string>& asked,
                                const std::string& purpose) const {
  Status st = CheckRunning();
  if (st.code() == StatusCode::kUnavailable && st.reason() == "halted") {
    return RefuseClient(caller.actor, action, purpose, std::move(st), asked);
  }
  return st;
}

Status Gateway::MayNotify(const Client& client, const std::string& terminal) const {
  const Actor actor = client.ActorAt(terminal);
  if (client.kind != ClientKind::kMunicipalCs) {
    return RefuseClient(actor, "notification.refused", "",
                        Status::PermissionDenied("only a municipal CS sends notifications")
                            .WithReason("not_permitted"));
  }
  // Whatever its register holds, the national node applies no municipality's notification:
  // its records change only through the prefectures' forwarded changes.
  if (prefecture_ == 0) {
    return RefuseClient(actor, "notification.refused", "",
                        Status::PermissionDenied("the national node takes changes only from "
                                                 "prefecture nodes")
                            .WithReason("not_permitted"));
  }
  return Status::Ok();
}

Result<std::vector<ApplyResult>> Gateway::Notify(const Client& client,
                                                 const std::vector<const text::JsonValue*>& items,
                                                 const std::string& terminal) const {
  KAKUNIN_RETURN_IF_ERROR(MayNotify(client, terminal));
  const Actor actor = client.ActorAt(terminal);
  if (items.empty() || items.size() > kMaxNotificationsPerRequest) {
    return Status::InvalidArgument("notifications must hold 1 to 1000 notifications");
  }
  // The sender binding comes before any other check: a CS that speaks for another
  // municipality is refused whole, whatever else is wrong with its request. A code that names
  // no municipality of today — empty, malformed, a wrong check digit, not in the table,
  // abolished, a prefecture's code (190004) — is the contract's per-record error (missing,
  // format, check_digit, unknown_value, abolished with its successors), answered in the
  // results; that notification is refused all the same.
  // (The table holds only today's codes, each six digits with a valid check digit.)
  const LocalGovTable& table = LocalGovTable::Builtin();
  for (const text::JsonValue* item : items) {
    if (!item->is_object()) continue;  // a per-record error below
    for (const auto& [key, value] : item->members()) {
      const LocalGovEntry* named = nullptr;
      // A municipality of another prefecture is no sender of this node at all: the contract's
      // per-record outside_prefecture (Registry::ApplyOne), not a mismatch with the
      // certificate (review: the API answered 403 sender_mismatch where ingest and the
      // contract say outside_prefecture). Either way nothing of it is applied.
      if (key == "municipality_code" && value.is_string() &&
          value.text() != client.municipality_code &&
          (named = table.Find(value.text())) != nullptr && named->is_municipality() &&
          named->prefecture_number() == prefecture_) {
        return RefuseClient(
            actor, "notification.refused", "",
            Status::PermissionDenied("a notification names another municipality than the "
                                     "client certificate's")
                .WithReason("sender_mismatch"));
      }
    }
  }
  const CheckOptions options = registry_->check_options();
  std::vector<PreparedNotification> batch;
  batch.reserve(items.size());
  for (const text::JsonValue* item : items) {
    batch.push_back(registry_->Prepare(CheckJsonNotification(*item, options)));
    // A retry under a code abolished since is answered as a duplicate only to the CS of that
    // code (otherwise its abolition is the answer).
    if (PreparedNotification& p = batch.back();
        p.check.replay_candidate &&
        p.check.replay_candidate->municipality_code != client.municipality_code) {
      p.check.replay_candidate.reset();
      p.replay_mac.clear();
    }
    // Whatever the code table says tomorrow: a notification that passed its field checks is
    // applied as its municipality's (registry Apply trusts it), so it must be the certificate's.
    const CheckResult& checked = batch.back().check;
    const LocalGovEntry* named =
        checked.ok() ? table.Find(checked.notification->municipality_code) : nullptr;
    if (checked.ok() && checked.notification->municipality_code != client.municipality_code &&
        (named == nullptr || named->prefecture_number() == prefecture_)) {
      return RefuseClient(
          actor, "notification.refused", "",
          Status::PermissionDenied("a notification names another municipality than the "
                                   "client certificate's")
              .WithReason("sender_mismatch"));
    }
  }
  // The certificate as the applying transaction sees the register (and the node not halted): a
  // CS revoked while its batch waited for the writer applies nothing (found in review).
  auto applied = registry_->Apply(batch, actor, [&client](store::RegistryTxn& txn) {
    return detail::CsStillServed(txn, client);
  });
  if (!applied.ok() && (applied.status().reason() == "client_revoked" ||
                        applied.status().reason() == "halted")) {
    return RefuseClient(actor, "notification.refused", "", applied.status());
  }
  return applied;
}

Caller Caller::ForClient(const Client& client, const std::string& terminal) {
  Caller c;
  c.actor = client.ActorAt(terminal);
  c.recipient = client.recipient;
  c.binding = c.actor.id;
  c.client = &client;
  return c;
}

Caller Caller::ForOperator(const OperatorView& op, const std::string& terminal,
                           const std::string& session) {
  Caller c;
  c.actor = Actor{"operator:" + op.row.operator_id, terminal};
  // The provision record names the department the purpose transfers to, not the operator (the
  // operator is the actor of the log entry): see Gateway::RequestFor.
  c.binding = c.actor.id + "/session:" + HexEncode(crypto::Sha256(session));
  c.op = &op;
  return c;
}

Result<const Purpose*> Gateway::Authorize(const Caller& caller, const std::string& purpose,
                                          const char* action,
                                          const std::vector<std::string>& asked,
                                          size_t reserve, const SearchRequest* search) const {
  const Purpose* p = IsValidPurposeId(purpose) ? catalogue_->Find(purpose) : nullptr;
  if (caller.op != nullptr) {
    // Operators read only for purposes they are nominated for, today.
    // Only for the prefecture's own use (never national, another body's, or disclosure).
    if (!OperatorMayRead(*caller.op, p, purpose, clock_->TodayJst().ToIso())) {
      return RefuseClient(caller.actor, action, purpose,
                          Status::PermissionDenied("the operator is not nominated for the purpose")
                              .WithReason("not_nominated"),
                          asked, search);
    }
    // "統計の作成（個人を識別しない集計）": the population table (Population), no record of anyone.
    if (p->kind == PurposeKind::kStatistics) {
      return RefuseClient(caller.actor, action, purpose,
                          Status::PermissionDenied("a statistics purpose gives the population "
                                                   "table, not records")
                              .WithReason("statistics_only"),
                          asked, search);
    }
    return Admit(caller, p, action, asked, reserve);
  }
  const Client& client = *caller.client;
  if (client.kind == ClientKind::kMunicipalCs || client.kind == ClientKind::kPrefecture) {
    return RefuseClient(caller.actor, action, purpose,
                        Status::PermissionDenied(client.kind == ClientKind::kPrefecture
                                                     ? "a prefecture node does not read residents"
                                                     : "a municipal CS does not read residents")
                            .WithReason("not_permitted"),
                        asked, search);
  }
  if (!ClientMayRead(client, p, purpose)) {
    return RefuseClient(caller.actor, action, purpose,
                        Status::PermissionDenied("the purpose is not permitted to this client")
                            .WithReason("purpose_not_permitted"),
                        asked, search);
  }
  return Admit(caller, p, action, asked, reserve);
}

Status Gateway::RecordInvalidRequest(const Caller& caller, const char* action,
                                     const std::string& purpose) const {
  const Status why = Status::InvalidArgument("the request is malformed").WithReason("invalid_request");
  KAKUNIN_RETURN_IF_ERROR(registry_->RecordRefusal(
      caller.actor, registry_->RefusalEntry(caller.actor, action, purpose, why, {})));
  if (quotas_ != nullptr) quotas_->Refused(caller.actor);  // repeated_refusals, in real time
  return Status::Ok();
}

Status Gateway::RefuseLinkChanges(const Client& client, const std::string& terminal) const {
  return RefuseClient(client.ActorAt(terminal), "link.receive", "",
                      Status::PermissionDenied("only a prefecture node sends forwarded changes, "
                                               "and only to the national node")
                          .WithReason("not_permitted"));
}

Result<PopulationTable> Gateway::Population(const Caller& caller,
                                            const std::string& purpose) const {
  constexpr const char* kAction = "resident.statistics";
  const Purpose* p = IsValidPurposeId(purpose) ? catalogue_->Find(purpose) : nullptr;
  if (caller.op == nullptr) {
    return RefuseClient(caller.actor, kAction, purpose,
                        Status::PermissionDenied("the population table is for the prefecture's "
                                                 "statistics operators")
                            .WithReason("not_permitted"));
  }
  if (!OperatorMayRead(*caller.op, p, purpose, clock_->TodayJst().ToIso())) {
    return RefuseClient(caller.actor, kAction, purpose,
                        Status::PermissionDenied("the operator is not nominated for the purpose")
                            .WithReason("not_nominated"));
  }
  if (p->kind != PurposeKind::kStatistics) {
    return RefuseClient(caller.actor, kAction, purpose,
                        Status::PermissionDenied("the population table is for a statistics purpose")
                            .WithReason("purpose_not_permitted"));
  }
  PopulationTable t;
  t.purpose = purpose;
  t.by_municipality = p->AllowsField("municipality_code");
  t.by_sex = p->AllowsField("sex");
  t.by_age = p->AllowsField("birth_date");
  KAKUNIN_RETURN_IF_ERROR(Admit(caller, p, kAction).status());
  const Date today = clock_->TodayJst();
  t.as_of = today.ToIso();
  KAKUNIN_ASSIGN_OR_RETURN(
      rows, WithReader([&](store::RegistryReader& reader) { return reader.Population(today); }));
  // The dimensions the purpose's fields do not hold are summed over.
  std::map<std::tuple<std::string, std::string, int>, int64_t> merged;
  for (const store::PopulationRow& r : rows) {
    merged[{t.by_municipality ? r.municipality_code : std::string(),
            t.by_sex ? r.sex : std::string(), t.by_age ? r.age_band : -1}] += r.count;
    t.total += r.count;
  }
  for (const auto& [key, count] : merged) {
    t.cells.push_back(PopulationCell{std::get<0>(key), std::get<1>(key), std::get<2>(key), count});
  }
  audit::AuditEntry e = EntryFor(caller.actor, kAction, purpose, catalogue_);
  std::string by;
  for (std::string_view d : t.Dimensions()) {
    if (!by.empty()) by += ",";
    by += d;
  }
  e.conditions = "table=population as_of=" + t.as_of + " by=" + (by.empty() ? "-" : by);
  e.result_count = t.total;
  e.outcome = "done";
  // Recorded, with the operator's rights as the recording transaction sees them, before it is
  // answered.
  Status recorded = registry_->RecordWith(
      std::move(e), [&](store::RegistryTxn& txn) { return Recheck(txn, caller, purpose); });
  if (!recorded.ok()) {
    if (recorded.code() == StatusCode::kPermissionDenied ||
        recorded.code() == StatusCode::kUnavailable) {
      return RefuseClient(caller.actor, kAction, purpose, recorded);
    }
    return recorded;
  }
  return t;
}

Status Gateway::Recheck(store::RegistryTxn& txn, const Caller& caller,
                        const std::string& purpose) const {
  KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta("halted_since"));
  if (halted) return Status::Unavailable("the node is halted").WithReason("halted");
  const Purpose* p = IsValidPurposeId(purpose) ? catalogue_->Find(purpose) : nullptr;
  if (caller.op != nullptr) {
    const std::string& id = caller.op->row.operator_id;
    KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
    OperatorView now;
    if (row) {
      now.row = std::move(*row);
      KAKUNIN_ASSIGN_OR_RETURN(roles, txn.OperatorRoles(id));
      now.roles = std::move(roles);
      KAKUNIN_ASSIGN_OR_RETURN(nominations, txn.Nominations(id));
      now.nominations = std::move(nominations);
    }
    const Date today = clock_->TodayJst();
    if (!row || !OperatorMayRead(now, p, purpose, today.ToIso())) {
      return Status::PermissionDenied("the operator is no longer entitled to the purpose")
          .WithReason("not_nominated");
    }
    // The session's card or authenticator revoked, or its password changed, since the console
    // checked them at the request's arrival: nothing is recorded as read, nor answered.
    KAKUNIN_RETURN_IF_ERROR(CheckSessionStands(txn, *caller.op));
    // A contractor's worker reads nothing, whatever roles a register made before the rule
    // (OperatorDesk::ApproveRole) gave them.
    KAKUNIN_ASSIGN_OR_RETURN(contract_worker, txn.WorksUnderContract(id, ""));
    if (contract_worker) {
      return Status::PermissionDenied("a contractor's worker reads no resident data")
          .WithReason("not_nominated");
    }
    return CheckTrained(txn, id, today, require_training_);
  }
  // The cached entry when the transaction sees the generation it was loaded under: then no
  // change of the register has been made since (not even earlier in this batch).
  KAKUNIN_ASSIGN_OR_RETURN(generation, txn.GetMeta(kClientsGenerationKey));
  if (auto cached = clients_->Find(caller.client->spki_sha256, generation.value_or(""))) {
    if (!ClientMayRead(*cached, p, purpose)) {
      return Status::PermissionDenied("the purpose is not permitted to this client")
          .WithReason("purpose_not_permitted");
    }
    return Status::Ok();
  }
  KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindClient(caller.client->spki_sha256));
  if (!row) {
    return Status::PermissionDenied("the client certificate is not registered")
        .WithReason("client_not_registered");
  }
  if (row->revoked_at != 0) {
    return Status::PermissionDenied("the client certificate was revoked")
        .WithReason("client_revoked");
  }
  if (!ClientMayRead(FromRow(*row), p, purpose)) {
    return Status::PermissionDenied("the purpose is not permitted to this client")
        .WithReason("purpose_not_permitted");
  }
  return Status::Ok();
}

std::function<Status(store::RegistryTxn&)> Gateway::RecheckFor(const Caller& caller,
                                                               const std::string& purpose) const {
  // Runs synchronously inside the call that made it: the caller outlives it.
  return
      [this, &caller, purpose](store::RegistryTxn& txn) { return Recheck(txn, caller, purpose); };
}

ProvisionRequest Gateway::RequestFor(const Caller& caller, const Purpose& purpose,
                                     const char* function) const {
  ProvisionRequest req;
  req.function = function;
  req.purpose = purpose.id;
  req.provision_kind = purpose.legal_basis;
  // An operator reads on behalf of the department the purpose serves: the record says 移転 to
  // that department (the operator is the log entry's actor).
  req.recipient = caller.op != nullptr ? std::string(purpose.Department()) : caller.recipient;
  req.items = purpose.fields;
  req.by_nominated_operator = caller.op != nullptr;
  req.recheck = RecheckFor(caller, purpose.id);
  return req;
}

std::string Gateway::IssueHandle(const Caller& caller, const std::string& purpose,
                                 const std::string& resident_code) const {
  const std::string handle = "h_" + auth::RandomToken().substr(0, 32);  // 128 bits
  const int64_t now = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(handles_mu_);
  // This caller's own first: what has expired or gone, then, past its share, its oldest.
  std::deque<std::string>& mine = caller_handles_[caller.binding];
  while (!mine.empty()) {
    auto it = handles_.find(mine.front());
    const bool live = it != handles_.end() && it->second.expires_at > now &&
                      it->second.binding == caller.binding;
    if (live && mine.size() < max_handles_per_caller_) break;
    if (live) handles_.erase(it);  // its oldest, past its share
    mine.pop_front();
  }
  // Bounded: expired handles go first, then the oldest.
  while (!handle_order_.empty()) {
    auto it = handles_.find(handle_order_.front());
    const bool expired = it == handles_.end() || it->second.expires_at <= now;
    if (!expired && handles_.size() < max_handles_) break;
    if (it != handles_.end()) handles_.erase(it);
    handle_order_.pop_front();
  }
  // A caller's own evictions leave their ids in the global order until they reach its front:
  // dropped here once they outnumber the live ones (found in review: bounded only by quotas).
  if (handle_order_.size() > 2 * max_handles_) {
    std::deque<std::string> live;
    for (std::string& h : handle_order_) {
      if (handles_.count(h) != 0) live.push_back(std::move(h));
    }
    handle_order_.swap(live);
  }
  handles_[handle] =
      HandleEntry{caller.binding, purpose, resident_code, now + kHandleLifetimeMicros};
  handle_order_.push_back(handle);
  mine.push_back(handle);
  // Callers with nothing left are forgotten (the table stays as large as the callers searching).
  // A caller's newest handle gone means all of its are (issue order is expiry order, and the
  // global bound takes the oldest first).
  if (caller_handles_.size() > 1024) {
    for (auto it = caller_handles_.begin(); it != caller_handles_.end();) {
      auto e = it->second.empty() ? handles_.end() : handles_.find(it->second.back());
      const bool any = e != handles_.end() && e->second.expires_at > now;
      it = any ? std::next(it) : caller_handles_.erase(it);
    }
  }
  return handle;
}

Result<std::string> Gateway::Resolve(const Caller& caller, const std::string& code_or_handle,
                                     const std::string& purpose) const {
  if (!IsHandle(code_or_handle)) return code_or_handle;
  {
    std::lock_guard<std::mutex> lock(handles_mu_);
    auto it = handles_.find(code_or_handle);
    if (it != handles_.end() && it->second.expires_at > clock_->NowMicros() &&
        it->second.binding == caller.binding && it->second.purpose == purpose) {
      return it->second.resident_code;
    }
  }
  // Another caller's, another purpose's, expired or made up: as if there were no such resident.
  audit::AuditEntry e = EntryFor(caller.actor, "resident.provide", purpose, catalogue_);
  e.outcome = "refused:unknown_handle";
  KAKUNIN_RETURN_IF_ERROR(registry_->Record(std::move(e)));
  return Status::NotFound("no such handle for this caller and purpose").WithReason("not_found");
}

Result<ProvidedRecord> Gateway::Lookup(const Caller& caller, const std::string& resident_code,
                                       const std::string& purpose) const {
  return WithReader([&](store::RegistryReader& reader) {
    return LookupIn(reader, caller, resident_code, purpose);
  });
}

Result<ProvidedRecord> Gateway::LookupIn(store::RegistryReader& reader, const Caller& caller,
                                         const std::string& resident_code,
                                         const std::string& purpose) const {
  auto p = Authorize(caller, purpose, "resident.provide", {resident_code}, 1);
  if (!p.ok()) return p.status();
  auto code = Resolve(caller, resident_code, purpose);
  if (!code.ok()) return Released(caller, purpose, 1, code.status());
  ProvisionRequest req = RequestFor(caller, **p, "lookup");
  req.resident_codes = {*code};
  auto out = registry_->Provide(reader, req, caller.actor);
  if (!out.ok()) return Released(caller, purpose, 1, out.status());
  Answered(caller, purpose, false, (*out)[0].found ? 1 : 0, 1, 1);
  return std::move((*out)[0]);
}

void Gateway::LookupAsync(const Caller& caller, const std::string& resident_code,
                          const std::string& purpose, LookupDone done) const {
  // The caller as the request loaded it, kept until the recording transaction re-checks it.
  struct Owned {
    Caller caller;
    std::optional<Client> client;
    std::optional<OperatorView> op;
  };
  auto owned = std::make_shared<Owned>();
  owned->caller = caller;
  if (caller.client != nullptr) {
    owned->client = *caller.client;
    owned->caller.client = &*owned->client;
  }
  if (caller.op != nullptr) {
    owned->op = *caller.op;
    owned->caller.op = &*owned->op;
  }
  Status early = WithReader([&](store::RegistryReader& reader) -> Status {
    auto p = Authorize(owned->caller, purpose, "resident.provide", {resident_code}, 1);
    if (!p.ok()) return p.status();
    auto resolved = Resolve(owned->caller, resident_code, purpose);
    if (!resolved.ok()) return Released(owned->caller, purpose, 1, resolved.status());
    std::string code = std::move(*resolved);
    ProvisionRequest req = RequestFor(owned->caller, **p, "lookup");
    req.recheck = [this, owned, purpose](store::RegistryTxn& txn) {
      return Recheck(txn, owned->caller, purpose);
    };
    req.resident_codes = {std::move(code)};
    registry_->ProvideAsync(reader, std::move(req), owned->caller.actor,
                            [this, owned, purpose, done](Result<std::vector<ProvidedRecord>> out) {
                              if (!out.ok()) {
                                return done(Released(owned->caller, purpose, 1, out.status()));
                              }
                              Answered(owned->caller, purpose, false, (*out)[0].found ? 1 : 0, 1, 1);
                              done(std::move((*out)[0]));
                            });
    return Status::Ok();
  });
  if (!early.ok()) done(std::move(early));
}

bool Gateway::LookupWithoutBlocking(const std::string& spki, const std::string& terminal,
                                    const std::string& resident_code, const std::string& purpose,
                                    LookupDone done) const {
  // Anything that may have to record something before the read goes the other way.
  if (readers_ == nullptr || !registry_->has_write_queue() || !IsLowerHex64(spki) ||
      IsHandle(resident_code)) {
    return false;
  }
  auto lease = readers_->Acquire();
  if (!lease.ok()) return false;
  store::RegistryReader& reader = **lease;
  auto client = ActiveClient(reader, spki);
  if (!client.ok() || *client == nullptr) return false;
  auto halted = registry_->HaltedSince(reader);
  if (!halted.ok() || *halted) return false;
  const Purpose* p = IsValidPurposeId(purpose) ? catalogue_->Find(purpose) : nullptr;
  if (!ClientMayRead(**client, p, purpose)) return false;
  // The caller, kept until the recording transaction has checked it again.
  struct Owned {
    std::shared_ptr<const Client> client;
    Caller caller;
  };
  auto owned = std::make_shared<Owned>();
  owned->client = std::move(*client);
  owned->caller = Caller::ForClient(*owned->client, terminal);
  // Last: from here on the request is taken (a quota charged is a request served).
  if (quotas_ != nullptr && !quotas_->AdmitQuietly(owned->caller.actor, false, purpose)) {
    return false;
  }
  ProvisionRequest req = RequestFor(owned->caller, *p, "lookup");
  req.recheck = [this, owned, purpose](store::RegistryTxn& txn) {
    return Recheck(txn, owned->caller, purpose);
  };
  req.resident_codes = {resident_code};
  registry_->ProvideAsync(
      reader, std::move(req), owned->caller.actor,
      [this, owned, purpose, done = std::move(done)](Result<std::vector<ProvidedRecord>> out) {
        if (!out.ok()) return done(Released(owned->caller, purpose, 1, out.status()));
        Answered(owned->caller, purpose, false, (*out)[0].found ? 1 : 0, 1, 1);
        done(std::move((*out)[0]));
      },
      /*may_lead=*/false);
  return true;
}

Result<std::optional<std::vector<ProvidedVersion>>> Gateway::History(
    const Caller& caller, const std::string& resident_code, const std::string& purpose) const {
  return WithReader([&](store::RegistryReader& reader) {
    return HistoryIn(reader, caller, resident_code, purpose);
  });
}

Result<std::optional<std::vector<ProvidedVersion>>> Gateway::HistoryIn(
    store::RegistryReader& reader, const Caller& caller, const std::string& resident_code,
    const std::string& purpose) const {
  auto p = Authorize(caller, purpose, "resident.provide", {resident_code}, 1);
  if (!p.ok()) return p.status();
  auto code = Resolve(caller, resident_code, purpose);
  if (!code.ok()) return Released(caller, purpose, 1, code.status());
  ProvisionRequest req = RequestFor(caller, **p, "history");
  req.resident_codes = {*code};
  auto out = registry_->ProvideHistory(reader, req, caller.actor);
  if (!out.ok()) return Released(caller, purpose, 1, out.status());
  Answered(caller, purpose, false, out->has_value() ? 1 : 0, 1, 1);
  return out;
}

Result<SearchProvision> Gateway::Search(const Caller& caller, const SearchRequest& request,
                                        const std::string& purpose) const {
  return WithReader(
      [&](store::RegistryReader& reader) { return SearchIn(reader, caller, request, purpose); });
}

Result<SearchProvision> Gateway::SearchIn(store::RegistryReader& reader, const Caller& caller,
                                          const SearchRequest& request,
                                          const std::string& purpose) const {
  // Its limit is the most it can return (a bad limit reserves nothing: it is refused below).
  const size_t most =
      request.limit >= 1 && request.limit <= 1000 ? static_cast<size_t>(request.limit) : 0;
  auto p = Authorize(caller, purpose, "resident.search", {}, most, &request);
  if (!p.ok()) return p.status();
  SearchRequest r = request;
  r.include_removed = false;
  // The criteria are checked against the purpose's fields there (criterion_not_permitted). The
  // search and the provision of its hits are recorded in one transaction, after the caller's
  // rights are checked again there: a right withdrawn while the search ran refuses both, and the
  // log never says done for a search whose records were not given (found in review: recorded
  // apart, a search stayed done, and its residents charged, when the provision was refused).
  std::vector<ProvidedRecord> provided;
  auto found = registry_->SearchAndProvide(reader, r, caller.actor,
                                           RequestFor(caller, **p, "search"), &provided);
  if (!found.ok()) return Released(caller, purpose, most, found.status());
  Answered(caller, purpose, true, found->rows.size(), found->rows.size(), most);
  SearchProvision out;
  out.truncated = found->cut;
  for (auto& rec : provided) {
    if (!rec.found) continue;
    out.handles.push_back(IssueHandle(caller, purpose, rec.resident_code));
    out.records.push_back(std::move(rec));
  }
  return out;
}

Result<std::vector<ProvidedRecord>> Gateway::Batch(const Caller& caller,
                                                   const std::vector<std::string>& codes,
                                                   const std::string& purpose) const {
  return WithReader(
      [&](store::RegistryReader& reader) { return BatchIn(reader, caller, codes, purpose); });
}

Result<std::vector<ProvidedRecord>> Gateway::BatchIn(store::RegistryReader& reader,
                                                     const Caller& caller,
                                                     const std::vector<std::string>& codes,
                                                     const std::string& purpose) const {
  const bool sized = codes.size() <= kMaxCodesPerProvision;
  auto p = Authorize(caller, purpose, "resident.provide", sized ? codes : std::vector<std::string>(),
                     sized ? codes.size() : 0);
  if (!p.ok()) return p.status();
  if (codes.empty() || codes.size() > kMaxCodesPerProvision) {
    return Status::InvalidArgument("resident_codes must hold 1 to 1000 codes");
  }
  ProvisionRequest req = RequestFor(caller, **p, "batch");
  req.resident_codes = codes;
  auto out = registry_->Provide(reader, req, caller.actor);
  if (!out.ok()) return Released(caller, purpose, codes.size(), out.status());
  if (out.ok()) {
    Answered(caller, purpose, false,
             std::count_if(out->begin(), out->end(), [](const auto& r) { return r.found; }),
             codes.size(), codes.size());
  }
  return out;
}

Result<const Purpose*> Gateway::Admit(const Caller& caller, const Purpose* purpose,
                                      const char* action, const std::vector<std::string>& asked,
                                      size_t reserve) const {
  if (quotas_ != nullptr) {
    KAKUNIN_RETURN_IF_ERROR(quotas_->Admit(caller.actor, caller.op != nullptr, purpose->id, action,
                                           asked, static_cast<int64_t>(reserve)));
  }
  return purpose;
}

Status Gateway::Released(const Caller& caller, const std::string& purpose, size_t reserved,
                         Status why) const {
  if (quotas_ != nullptr) {
    quotas_->Release(caller.actor, caller.op != nullptr, purpose, static_cast<int64_t>(reserved));
  }
  return why;
}

void Gateway::Answered(const Caller& caller, const std::string& purpose, bool search, size_t found,
                       size_t asked, size_t reserved) const {
  if (quotas_ == nullptr) return;
  quotas_->Answered(caller.actor, caller.op != nullptr, purpose, search,
                    static_cast<int64_t>(found), static_cast<int64_t>(asked),
                    static_cast<int64_t>(reserved));
}

}  // namespace kakunin::registry
