// The media register on SQLite (store/media_store.h).

#include <optional>
#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {

Result<std::vector<MediaRow>> SqliteReader::ListMedia() {
  return QueryAll<MediaRow>(
      db_.get(), kListMedia, [](Stmt&) {},
      [](const Stmt& s) {
        MediaRow r;
        r.id = s.Int(0);
        r.kind = s.Text(1);
        r.label = s.Text(2);
        r.location = s.Text(3);
        r.created_at = s.Int(4);
        r.created_by = s.Text(5);
        r.status = s.Text(6);
        r.bytes = s.Int(7);
        r.digest = s.Text(8);
        return r;
      });
}

Result<std::vector<MediaEventRow>> SqliteReader::ListMediaEvents() {
  return QueryAll<MediaEventRow>(
      db_.get(), kListMediaEvents, [](Stmt&) {},
      [](const Stmt& s) {
        MediaEventRow r;
        r.id = s.Int(0);
        r.media_id = s.Int(1);
        r.at = s.Int(2);
        r.event = s.Text(3);
        r.note = s.Text(4);
        r.recorded_by = s.Text(5);
        return r;
      });
}

Result<int64_t> SqliteTxn::InsertMedia(const MediaRow& row) {
  KAKUNIN_PREPARE(s, db_, kInsertMedia);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, row.kind)
                              .Bind(2, row.label)
                              .Bind(3, row.location)
                              .Bind(4, row.created_at)
                              .Bind(5, row.created_by)
                              .Bind(6, row.status)
                              .Bind(7, row.bytes)
                              .Bind(8, row.digest)
                              .Exec());
  return db_->LastInsertRowId();
}

Status SqliteTxn::FinishMedia(int64_t id, const std::string& status, int64_t bytes,
                              const std::string& digest) {
  KAKUNIN_PREPARE(s, db_, kFinishMedia);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, id).Bind(2, status).Bind(3, bytes).Bind(4, digest).Exec());
  if (db_->Changes() != 1) return Status::NotFound("no such medium in the register");
  return Status::Ok();
}

Result<std::optional<MediumState>> SqliteTxn::GetMediumState(int64_t id) {
  return QueryOne<MediumState>(
      db_, kGetMediumState, [&](Stmt& s) { s.Bind(1, id); },
      [](const Stmt& s) { return MediumState{s.Text(0), s.Text(1)}; });
}

Result<int64_t> SqliteTxn::InsertMediaEvent(const MediaEventRow& row) {
  KAKUNIN_PREPARE(s, db_, kInsertMediaEvent);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, row.media_id)
                              .Bind(2, row.at)
                              .Bind(3, row.event)
                              .Bind(4, row.note)
                              .Bind(5, row.recorded_by)
                              .Exec());
  return db_->LastInsertRowId();
}

}  // namespace kakunin::store::sqlite::detail
