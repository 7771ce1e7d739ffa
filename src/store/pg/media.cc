// The media register on PostgreSQL (store/media_store.h), as store/sqlite/media.cc.

#include <optional>
#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {

Result<std::vector<MediaRow>> PgReader::ListMedia() {
  return QueryAll<MediaRow>(db_.get(), kListMedia, Params(), [](const Rows& s, int i) {
    MediaRow r;
    r.id = s.Int(i, 0);
    r.kind = s.Text(i, 1);
    r.label = s.Text(i, 2);
    r.location = s.Text(i, 3);
    r.created_at = s.Int(i, 4);
    r.created_by = s.Text(i, 5);
    r.status = s.Text(i, 6);
    r.bytes = s.Int(i, 7);
    r.digest = s.Text(i, 8);
    return r;
  });
}

Result<std::vector<MediaEventRow>> PgReader::ListMediaEvents() {
  return QueryAll<MediaEventRow>(db_.get(), kListMediaEvents, Params(),
                                 [](const Rows& s, int i) {
                                   MediaEventRow r;
                                   r.id = s.Int(i, 0);
                                   r.media_id = s.Int(i, 1);
                                   r.at = s.Int(i, 2);
                                   r.event = s.Text(i, 3);
                                   r.note = s.Text(i, 4);
                                   r.recorded_by = s.Text(i, 5);
                                   return r;
                                 });
}

Result<int64_t> PgTxn::InsertMedia(const MediaRow& row) {
  return db_->QueryInt(kInsertMedia, Params()
                                         .Text(row.kind)
                                         .Text(row.label)
                                         .Text(row.location)
                                         .Int(row.created_at)
                                         .Text(row.created_by)
                                         .Text(row.status)
                                         .Int(row.bytes)
                                         .Text(row.digest));
}

Status PgTxn::FinishMedia(int64_t id, const std::string& status, int64_t bytes,
                          const std::string& digest) {
  KAKUNIN_ASSIGN_OR_RETURN(
      changed, db_->Run(kFinishMedia, Params().Int(id).Text(status).Int(bytes).Text(digest)));
  if (changed != 1) return Status::NotFound("no such medium in the register");
  return Status::Ok();
}

Result<std::optional<MediumState>> PgTxn::GetMediumState(int64_t id) {
  return QueryOne<MediumState>(db_, kGetMediumState, Params().Int(id), [](const Rows& s, int i) {
    return MediumState{s.Text(i, 0), s.Text(i, 1)};
  });
}

Result<int64_t> PgTxn::InsertMediaEvent(const MediaEventRow& row) {
  return db_->QueryInt(kInsertMediaEvent, Params()
                                              .Int(row.media_id)
                                              .Int(row.at)
                                              .Text(row.event)
                                              .Text(row.note)
                                              .Text(row.recorded_by));
}

}  // namespace kakunin::store::pg::detail
