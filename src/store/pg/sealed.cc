// Field-key rotation's reads and writes of sealed individual numbers on PostgreSQL (registry/
// field_key_rotation.h), as store/sqlite/sealed.cc. Only the sealed bytes and what their
// associated data is made of are read: no other personal field.

#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"

namespace kakunin::store::pg::detail {
namespace {

// substr() of a bytea is a bytea: compared with the bound prefix ($2, bytea) byte for byte. The
// prefix's length comes from the prefix itself (length(bytea) is an int4, what substr takes).
constexpr char kSealedNotUnder[] =
    "SELECT version_id, municipality_code, sequence, sealed_number FROM versions "
    "WHERE version_id > $1 AND substr(sealed_number, 1, length($2)) <> $2 "
    "ORDER BY version_id LIMIT $3";
constexpr char kReplaceSealed[] =
    "UPDATE versions SET sealed_number = $1 WHERE version_id = $2 AND sealed_number = $3";
// Sealed individual numbers and sealed correction texts (store/disclosure_store.h): an older key
// may be retired only when neither holds a value under it.
constexpr char kCountSealedNotUnder[] =
    "SELECT (SELECT count(*) FROM versions WHERE substr(sealed_number, 1, length($1)) <> $1) + "
    "(SELECT count(*) FROM corrections WHERE substr(details_sealed, 1, length($1)) <> $1)";

}  // namespace

Result<std::vector<SealedNumberRow>> PgTxn::SealedNumbersNotUnder(const std::string& current_prefix,
                                                                  int64_t after_version_id,
                                                                  int limit) {
  return QueryAll<SealedNumberRow>(
      db_, kSealedNotUnder,
      Params().Int(after_version_id).Bytes(current_prefix).Int(int64_t{limit}),
      [](const Rows& s, int i) {
        return SealedNumberRow{s.Int(i, 0), s.Text(i, 1), s.Int(i, 2), s.Blob(i, 3)};
      });
}

Result<bool> PgTxn::ReplaceSealedNumber(int64_t version_id, const std::string& old_sealed,
                                        const std::string& new_sealed) {
  KAKUNIN_ASSIGN_OR_RETURN(
      changed,
      db_->Run(kReplaceSealed, Params().Bytes(new_sealed).Int(version_id).Bytes(old_sealed)));
  return changed == 1;
}

Result<int64_t> PgReader::CountSealedNotUnder(const std::string& current_prefix) {
  return db_->QueryInt(kCountSealedNotUnder, Params().Bytes(current_prefix));
}

Result<int64_t> PgTxn::CountSealedNotUnder(const std::string& current_prefix) {
  return db_->QueryInt(kCountSealedNotUnder, Params().Bytes(current_prefix));
}

}  // namespace kakunin::store::pg::detail
