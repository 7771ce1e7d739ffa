// The client register and node state on PostgreSQL (store/client_store.h).

#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

Result<std::optional<ClientRow>> QueryClient(Conn* db, const std::string& spki) {
  return QueryOne<ClientRow>(db, kFindClient, Params().Text(spki), ReadClient);
}

Result<std::optional<std::string>> QueryMeta(Conn* db, const std::string& key) {
  return QueryBytes(db, kGetMeta, Params().Text(key));
}

}  // namespace

Result<std::optional<ClientRow>> PgReader::FindClient(const std::string& spki) {
  return QueryClient(db_.get(), spki);
}

Result<std::vector<ClientRow>> PgReader::ListClients() {
  return QueryAll<ClientRow>(db_.get(), kListClients, Params(), ReadClient);
}

Result<std::optional<std::string>> PgReader::GetMeta(const std::string& key) {
  return QueryMeta(db_.get(), key);
}

Status PgTxn::InsertClient(const ClientRow& c) {
  // ON CONFLICT DO NOTHING: a taken key is reported without aborting the transaction.
  auto n = db_->Run(kInsertClient, Params()
                                       .Text(c.spki_sha256)
                                       .Text(c.kind)
                                       .Text(c.name)
                                       .Text(c.municipality_code)
                                       .Text(c.recipient)
                                       .Text(c.purposes)
                                       .Int(c.registered_at));
  if (!n.ok()) return n.status();
  if (*n == 0) return Status::AlreadyExists("client already registered");
  return Status::Ok();
}

Result<bool> PgTxn::RevokeClient(const std::string& spki, int64_t at) {
  auto n = db_->Run(kRevokeClient, Params().Text(spki).Int(at));
  if (!n.ok()) return n.status();
  return *n == 1;
}

Result<std::optional<std::string>> PgTxn::GetMeta(const std::string& key) {
  return QueryMeta(db_, key);
}

Status PgTxn::SetMeta(const std::string& key, const std::string& value) {
  return db_->Run(kSetMeta, Params().Text(key).Text(value)).status();
}

Status PgTxn::DeleteMeta(const std::string& key) {
  return db_->Run(kDeleteMeta, Params().Text(key)).status();
}

Result<std::optional<ClientRow>> PgTxn::FindClient(const std::string& spki) {
  return QueryClient(db_, spki);
}

Result<bool> PgTxn::IsClientKey(const std::string& spki) {
  auto n = db_->QueryInt(kIsClientKey, Params().Text(spki));
  if (!n.ok()) return n.status();
  return *n > 0;
}

}  // namespace kakunin::store::pg::detail
