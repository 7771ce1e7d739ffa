// Field-key rotation's reads and writes of sealed individual numbers (registry/
// field_key_rotation.h). Only the sealed blob and what its associated data is made of are read:
// no other personal field.

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"

namespace kakunin::store::sqlite::detail {
namespace {

// substr() of a BLOB is a BLOB of bytes: compared with the bound prefix, byte for byte.
constexpr char kSealedNotUnder[] =
    "SELECT version_id, municipality_code, sequence, sealed_number FROM versions "
    "WHERE version_id > ? AND substr(sealed_number, 1, ?) != ? ORDER BY version_id LIMIT ?";
constexpr char kReplaceSealed[] =
    "UPDATE versions SET sealed_number = ? WHERE version_id = ? AND sealed_number = ?";
// Sealed individual numbers and sealed correction texts (store/disclosure_store.h): an older key
// may be retired only when neither holds a value under it.
constexpr char kCountSealedNotUnder[] =
    "SELECT (SELECT count(*) FROM versions WHERE substr(sealed_number, 1, ?1) != ?2) + "
    "(SELECT count(*) FROM corrections WHERE substr(details_sealed, 1, ?1) != ?2)";

}  // namespace

Result<std::vector<SealedNumberRow>> SqliteTxn::SealedNumbersNotUnder(
    const std::string& current_prefix, int64_t after_version_id, int limit) {
  KAKUNIN_PREPARE(s, db_, kSealedNotUnder);
  s.Bind(1, after_version_id)
      .Bind(2, static_cast<int64_t>(current_prefix.size()))
      .BindBlob(3, current_prefix)
      .Bind(4, static_cast<int64_t>(limit));
  std::vector<SealedNumberRow> out;
  Status st;
  while (s.Step(&st)) {
    out.push_back(SealedNumberRow{s.Int(0), s.Text(1), s.Int(2), s.Blob(3)});
  }
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

Result<bool> SqliteTxn::ReplaceSealedNumber(int64_t version_id, const std::string& old_sealed,
                                            const std::string& new_sealed) {
  KAKUNIN_PREPARE(s, db_, kReplaceSealed);
  s.BindBlob(1, new_sealed).Bind(2, version_id).BindBlob(3, old_sealed);
  KAKUNIN_RETURN_IF_ERROR(s.Exec());
  return db_->Changes() == 1;
}

// For the reader and the transaction alike.
static Result<int64_t> CountSealedNotUnderIn(Db* db, const std::string& current_prefix) {
  KAKUNIN_PREPARE(s, db, kCountSealedNotUnder);
  s.Bind(1, static_cast<int64_t>(current_prefix.size())).BindBlob(2, current_prefix);
  Status st;
  int64_t n = s.Step(&st) ? s.Int(0) : 0;
  s.Reset();
  if (!st.ok()) return st;
  return n;
}

Result<int64_t> SqliteReader::CountSealedNotUnder(const std::string& current_prefix) {
  return CountSealedNotUnderIn(db_.get(), current_prefix);
}

Result<int64_t> SqliteTxn::CountSealedNotUnder(const std::string& current_prefix) {
  return CountSealedNotUnderIn(db_, current_prefix);
}

}  // namespace kakunin::store::sqlite::detail
