// Repositories added to the SQLite store after the PostgreSQL store was written (the media
// register, field-key re-sealing). Until they are ported, a node on PostgreSQL refuses these
// operations with a clear error instead of doing something different from SQLite.

#include "store/pg/detail/pg_store_impl.h"

namespace kakunin::store::pg::detail {
namespace {
Status NotYet(const char* what) {
  return Status::FailedPrecondition(std::string(what) + " is not available on PostgreSQL yet");
}
}  // namespace

Result<std::vector<MediaRow>> PgReader::ListMedia() { return NotYet("the media register"); }
Result<int64_t> PgTxn::InsertMedia(const MediaRow&) { return NotYet("the media register"); }
Status PgTxn::FinishMedia(int64_t, const std::string&, int64_t, const std::string&) {
  return NotYet("the media register");
}
Result<std::vector<SealedNumberRow>> PgTxn::SealedNumbersNotUnder(const std::string&, int64_t,
                                                                  int) {
  return NotYet("field-key re-sealing");
}
Result<bool> PgTxn::ReplaceSealedNumber(int64_t, const std::string&, const std::string&) {
  return NotYet("field-key re-sealing");
}
Result<int64_t> PgTxn::CountSealedNotUnder(const std::string&) {
  return NotYet("field-key re-sealing");
}

}  // namespace kakunin::store::pg::detail
