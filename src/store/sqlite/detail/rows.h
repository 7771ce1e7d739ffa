#pragma once

// Row readers and binders shared by the aggregates' files, and the query helpers they all
// use. Internal to store/sqlite/.

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "store/registry_store.h"
#include "store/sqlite/db.h"

// Prepares `sql` on `db` as the Stmt& `var`, from the connection's statement cache; returns
// the error from the enclosing function if it cannot be prepared.
#define KAKUNIN_PREPARE(var, db, sql)         \
  auto var##_r = (db)->Prepare(sql);          \
  if (!var##_r.ok()) return var##_r.status(); \
  Stmt& var = **var##_r

namespace kakunin::store::sqlite::detail {

ResidentRow ReadResident(const Stmt& s);
VersionRow ReadVersion(const Stmt& s);
AuditRow ReadAudit(const Stmt& s);
CheckpointRow ReadCheckpoint(const Stmt& s);
ClientRow ReadClient(const Stmt& s);
OperatorRow ReadOperator(const Stmt& s);
CredentialRow ReadCredential(const Stmt& s);

// Binds a resident's columns to parameters 1..15 (kInsertResident, kUpdateResident).
void BindResident(Stmt& s, const ResidentRow& r);

// Runs `sql` with `bind`, reading every row with `read`.
template <typename T, typename Bind, typename Read>
Result<std::vector<T>> QueryAll(Db* db, const char* sql, Bind bind, Read read) {
  KAKUNIN_PREPARE(s, db, sql);
  bind(s);
  Status st;
  std::vector<T> out;
  while (s.Step(&st)) out.push_back(read(s));
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

template <typename T, typename Bind, typename Read>
Result<std::optional<T>> QueryOne(Db* db, const char* sql, Bind bind, Read read) {
  auto all = QueryAll<T>(db, sql, bind, read);
  if (!all.ok()) return all.status();
  if (all->empty()) return std::optional<T>();
  return std::optional<T>(std::move(all->front()));
}

// The first column of the first row (0 if none); with `arg` bound to ?1.
Result<int64_t> QueryInt(Db* db, const char* sql);
Result<int64_t> QueryInt(Db* db, const char* sql, int64_t arg);
// …with `bind` binding the parameters.
Result<int64_t> QueryInt(Db* db, const char* sql, const std::function<void(Stmt&)>& bind);

}  // namespace kakunin::store::sqlite::detail
