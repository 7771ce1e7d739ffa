#include "registry/gateway.h"

#include <algorithm>

#include "domain/local_gov_code.h"
#include "registry/operators.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

bool IsLowerHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsPlainText(std::string_view s, size_t max) {
  return !s.empty() && s.size() <= max && text::CheckText(s) == text::TextCheck::kOk;
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
  c.registered_at = row.registered_at;
  c.revoked_at = row.revoked_at;
  return c;
}

audit::AuditEntry EntryFor(const Actor& actor, const char* action, const std::string& purpose) {
  audit::AuditEntry e;
  e.actor = actor.id;
  e.terminal = actor.terminal;
  e.action = action;
  e.purpose = IsValidPurposeId(purpose) ? purpose : (purpose.empty() ? "" : "(invalid)");
  return e;
}

}  // namespace

std::string_view ClientKindName(ClientKind kind) {
  switch (kind) {
    case ClientKind::kMunicipalCs:
      return "municipal_cs";
    case ClientKind::kAgency:
      return "agency";
    case ClientKind::kNational:
      return "national";
  }
  return "agency";
}

std::optional<ClientKind> ParseClientKind(std::string_view name) {
  if (name == "municipal_cs") return ClientKind::kMunicipalCs;
  if (name == "agency") return ClientKind::kAgency;
  if (name == "national") return ClientKind::kNational;
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
      prefecture_(prefecture) {}

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
      if (prefecture_ != 0 && e->prefecture_number() != prefecture_) {
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
  }
  row.registered_at = clock_->NowMicros();
  audit::AuditEntry e = EntryFor(actor, "client.register", "");
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
    return st;
  });
}

Status Gateway::Revoke(const std::string& spki, const Actor& actor) const {
  if (!IsLowerHex64(spki)) {
    return Status::InvalidArgument("the key fingerprint must be 64 lower-case hex digits");
  }
  audit::AuditEntry e = EntryFor(actor, "client.revoke", "");
  e.conditions = "client=" + spki;
  e.outcome = "done";
  return registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    auto revoked = txn.RevokeClient(spki, clock_->NowMicros());
    if (!revoked.ok()) return revoked.status();
    if (!*revoked) return Status::NotFound("no such registered client (or already revoked)");
    return Status::Ok();
  });
}

Result<std::vector<Client>> Gateway::List(store::RegistryReader& reader) const {
  auto rows = reader.ListClients();
  if (!rows.ok()) return rows.status();
  std::vector<Client> out;
  for (const auto& r : *rows) out.push_back(FromRow(r));
  return out;
}

Status Gateway::RefuseClient(const Actor& actor, const char* action, const std::string& purpose,
                             Status why) const {
  audit::AuditEntry e = EntryFor(actor, action, purpose);
  e.outcome = "refused:" + std::string(why.reason().empty() ? why.message() : why.reason());
  KAKUNIN_RETURN_IF_ERROR(registry_->Record(std::move(e)));
  return why;
}

Result<Client> Gateway::Authenticate(store::RegistryReader& reader, const std::string& spki,
                                     const std::string& terminal) const {
  const Actor actor{"cert:" + (IsLowerHex64(spki) ? spki : std::string("(none)")), terminal};
  auto row = reader.FindClient(spki);
  if (!row.ok()) return row.status();
  if (!*row) {
    return RefuseClient(actor, "client.refused", "",
                        Status::PermissionDenied("the client certificate is not registered")
                            .WithReason("client_not_registered"));
  }
  if ((*row)->revoked_at != 0) {
    return RefuseClient(actor, "client.refused", "",
                        Status::PermissionDenied("the client certificate was revoked")
                            .WithReason("client_revoked"));
  }
  return FromRow(**row);
}

Status Gateway::CheckRunning(store::RegistryReader& reader) const {
  auto since = registry_->HaltedSince(reader);
  if (!since.ok()) return since.status();
  if (*since) return Status::Unavailable("the node is halted").WithReason("halted");
  return Status::Ok();
}

Result<std::vector<ApplyResult>> Gateway::Notify(const Client& client,
                                                 const std::vector<const text::JsonValue*>& items,
                                                 const std::string& terminal) const {
  const Actor actor = client.ActorAt(terminal);
  if (client.kind != ClientKind::kMunicipalCs) {
    return RefuseClient(actor, "notification.refused", "",
                        Status::PermissionDenied("only a municipal CS sends notifications")
                            .WithReason("not_permitted"));
  }
  if (items.empty() || items.size() > kMaxNotificationsPerRequest) {
    return Status::InvalidArgument("notifications must hold 1 to 1000 notifications");
  }
  // The sender binding comes before any other check: a CS that speaks for another
  // municipality is refused whole, whatever else is wrong with its request.
  for (const text::JsonValue* item : items) {
    if (!item->is_object()) continue;  // a per-record error below
    for (const auto& [key, value] : item->members()) {
      if (key == "municipality_code" && value.is_string() &&
          value.text() != client.municipality_code) {
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
  }
  return registry_->Apply(batch, actor);
}

Caller Caller::ForClient(const Client& client, const std::string& terminal) {
  Caller c;
  c.actor = client.ActorAt(terminal);
  c.recipient = client.recipient;
  c.client = &client;
  return c;
}

Caller Caller::ForOperator(const OperatorView& op, const std::string& terminal) {
  Caller c;
  c.actor = Actor{"operator:" + op.row.operator_id, terminal};
  c.recipient = "operator:" + op.row.operator_id;
  c.op = &op;
  return c;
}

Result<const Purpose*> Gateway::Authorize(const Caller& caller, const std::string& purpose,
                                          const char* action) const {
  const Purpose* p = IsValidPurposeId(purpose) ? catalogue_->Find(purpose) : nullptr;
  if (caller.op != nullptr) {
    // Operators read only for purposes they are nominated for, today.
    const OperatorView& op = *caller.op;
    if (p == nullptr || !op.active() || !op.HasRole("operator") ||
        !op.NominatedFor(purpose, clock_->TodayJst().ToIso())) {
      return RefuseClient(caller.actor, action, purpose,
                          Status::PermissionDenied("the operator is not nominated for the purpose")
                              .WithReason("not_nominated"));
    }
    return p;
  }
  const Client& client = *caller.client;
  if (client.kind == ClientKind::kMunicipalCs) {
    return RefuseClient(caller.actor, action, purpose,
                        Status::PermissionDenied("a municipal CS does not read residents")
                            .WithReason("not_permitted"));
  }
  bool allowed = p != nullptr && p->AllowsRecipient(client.recipient);
  if (allowed && client.kind == ClientKind::kAgency) {
    allowed = p->kind != PurposeKind::kNational &&
              std::find(client.purposes.begin(), client.purposes.end(), purpose) !=
                  client.purposes.end();
  }
  if (allowed && client.kind == ClientKind::kNational) allowed = p->kind == PurposeKind::kNational;
  if (!allowed) {
    return RefuseClient(caller.actor, action, purpose,
                        Status::PermissionDenied("the purpose is not permitted to this client")
                            .WithReason("purpose_not_permitted"));
  }
  return p;
}

ProvisionRequest Gateway::RequestFor(const Caller& caller, const Purpose& purpose,
                                     const char* function) const {
  ProvisionRequest req;
  req.function = function;
  req.purpose = purpose.id;
  req.provision_kind = purpose.legal_basis;
  req.recipient = caller.recipient;
  req.items = purpose.fields;
  req.by_nominated_operator = caller.op != nullptr;
  return req;
}

Result<ProvidedRecord> Gateway::Lookup(store::RegistryReader& reader, const Caller& caller,
                                       const std::string& resident_code,
                                       const std::string& purpose) const {
  auto p = Authorize(caller, purpose, "resident.provide");
  if (!p.ok()) return p.status();
  ProvisionRequest req = RequestFor(caller, **p, "lookup");
  req.resident_codes = {resident_code};
  auto out = registry_->Provide(reader, req, caller.actor);
  if (!out.ok()) return out.status();
  return std::move((*out)[0]);
}

Result<std::optional<std::vector<ProvidedVersion>>> Gateway::History(
    store::RegistryReader& reader, const Caller& caller, const std::string& resident_code,
    const std::string& purpose) const {
  auto p = Authorize(caller, purpose, "resident.provide");
  if (!p.ok()) return p.status();
  ProvisionRequest req = RequestFor(caller, **p, "history");
  req.resident_codes = {resident_code};
  return registry_->ProvideHistory(reader, req, caller.actor);
}

Result<SearchProvision> Gateway::Search(store::RegistryReader& reader, const Caller& caller,
                                        const SearchRequest& request,
                                        const std::string& purpose) const {
  auto p = Authorize(caller, purpose, "resident.search");
  if (!p.ok()) return p.status();
  SearchRequest r = request;
  r.include_removed = false;
  auto found = registry_->Search(reader, r, caller.actor, purpose);
  if (!found.ok()) return found.status();
  SearchProvision out;
  out.truncated = found->cut;
  if (found->rows.empty()) return out;
  ProvisionRequest req = RequestFor(caller, **p, "search");
  for (const auto& row : found->rows) req.resident_codes.push_back(row.resident_code);
  auto provided = registry_->Provide(reader, req, caller.actor);
  if (!provided.ok()) return provided.status();
  for (auto& rec : *provided) {
    if (rec.found) out.records.push_back(std::move(rec));
  }
  return out;
}

Result<std::vector<ProvidedRecord>> Gateway::Batch(store::RegistryReader& reader,
                                                   const Caller& caller,
                                                   const std::vector<std::string>& codes,
                                                   const std::string& purpose) const {
  auto p = Authorize(caller, purpose, "resident.provide");
  if (!p.ok()) return p.status();
  if (codes.empty() || codes.size() > kMaxCodesPerProvision) {
    return Status::InvalidArgument("resident_codes must hold 1 to 1000 codes");
  }
  ProvisionRequest req = RequestFor(caller, **p, "batch");
  req.resident_codes = codes;
  return registry_->Provide(reader, req, caller.actor);
}

}  // namespace kakunin::registry
