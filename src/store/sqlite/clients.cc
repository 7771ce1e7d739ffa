// The client register and node state on SQLite (store/client_store.h).

#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

Result<std::optional<ClientRow>> QueryClient(Db* db, const std::string& spki) {
  return QueryOne<ClientRow>(
      db, kFindClient, [&](Stmt& s) { s.Bind(1, spki); }, ReadClient);
}

Result<std::vector<ClientRow>> QueryClients(Db* db) {
  return QueryAll<ClientRow>(
      db, kListClients, [](Stmt&) {}, ReadClient);
}

Result<std::optional<std::string>> QueryMeta(Db* db, const std::string& key) {
  return QueryOne<std::string>(
      db, kGetMeta, [&](Stmt& s) { s.Bind(1, key); }, [](const Stmt& s) { return s.Text(0); });
}

}  // namespace

Result<std::optional<ClientRow>> SqliteReader::FindClient(const std::string& spki) {
  return QueryClient(db_.get(), spki);
}

Result<std::vector<ClientRow>> SqliteReader::ListClients() { return QueryClients(db_.get()); }

Result<std::optional<std::string>> SqliteReader::GetMeta(const std::string& key) {
  return QueryMeta(db_.get(), key);
}

Status SqliteTxn::InsertClient(const ClientRow& c) {
  KAKUNIN_PREPARE(s, db_, kInsertClient);
  return s.Bind(1, c.spki_sha256)
      .Bind(2, c.kind)
      .Bind(3, c.name)
      .Bind(4, c.municipality_code)
      .Bind(5, c.recipient)
      .Bind(6, c.purposes)
      .Bind(7, c.registered_at)
      .Exec();
}

Result<bool> SqliteTxn::RevokeClient(const std::string& spki, int64_t at) {
  KAKUNIN_PREPARE(s, db_, kRevokeClient);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, spki).Bind(2, at).Exec());
  return db_->Changes() == 1;
}

Result<std::optional<std::string>> SqliteTxn::GetMeta(const std::string& key) {
  return QueryMeta(db_, key);
}

Status SqliteTxn::SetMeta(const std::string& key, const std::string& value) {
  KAKUNIN_PREPARE(s, db_, kSetMeta);
  return s.Bind(1, key).Bind(2, value).Exec();
}

Status SqliteTxn::DeleteMeta(const std::string& key) {
  KAKUNIN_PREPARE(s, db_, kDeleteMeta);
  return s.Bind(1, key).Exec();
}

Result<std::optional<ClientRow>> SqliteTxn::FindClient(const std::string& spki) {
  return QueryClient(db_, spki);
}

Result<bool> SqliteTxn::IsClientKey(const std::string& spki) {
  KAKUNIN_PREPARE(s, db_, kIsClientKey);
  s.Bind(1, spki);
  Status st;
  int64_t n = s.Step(&st) ? s.Int(0) : 0;
  s.Reset();
  if (!st.ok()) return st;
  return n > 0;
}

}  // namespace kakunin::store::sqlite::detail
