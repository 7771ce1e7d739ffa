#pragma once

// Row readers shared by the aggregates' files, and the query helpers they all use. Internal to
// store/pg/.

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "store/pg/conn.h"
#include "store/registry_store.h"

namespace kakunin::store::pg::detail {

ResidentRow ReadResident(const Rows& r, int i);
VersionRow ReadVersion(const Rows& r, int i);
AuditRow ReadAudit(const Rows& r, int i);
CheckpointRow ReadCheckpoint(const Rows& r, int i);
ClientRow ReadClient(const Rows& r, int i);
OperatorRow ReadOperator(const Rows& r, int i);
CredentialRow ReadCredential(const Rows& r, int i);
ProvisionRow ReadProvision(const Rows& r, int i);

// A resident's columns as parameters $1..$15 (kInsertResident, kUpdateResident).
Params ResidentParams(const ResidentRow& r);

// Runs `sql` with `p`, reading every row with `read(rows, i)`.
template <typename T, typename Read>
Result<std::vector<T>> QueryAll(Conn* db, const char* sql, const Params& p, Read read) {
  auto rows = db->Query(sql, p);
  if (!rows.ok()) return rows.status();
  std::vector<T> out;
  out.reserve(static_cast<size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) out.push_back(read(*rows, i));
  return out;
}

template <typename T, typename Read>
Result<std::optional<T>> QueryOne(Conn* db, const char* sql, const Params& p, Read read) {
  auto rows = db->Query(sql, p);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<T>();
  return std::optional<T>(read(*rows, 0));
}

// The first column of the first row as bytes/text, if there is a row.
Result<std::optional<std::string>> QueryBytes(Conn* db, const char* sql, const Params& p);

}  // namespace kakunin::store::pg::detail
