// Residents' requests and the printout register on SQLite (store/disclosure_store.h). Disclosure
// and correction rows hold a resident code and sealed text: nothing here logs a value.

#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

DisclosureRow ReadDisclosure(const Stmt& s) {
  DisclosureRow r;
  r.id = s.Int(0);
  r.purpose = s.Text(1);
  r.resident_code = s.Text(2);
  r.requester = s.Text(3);
  r.identity_document = s.Text(4);
  r.channel = s.Text(5);
  r.received_on = s.Text(6);
  r.due_on = s.Text(7);
  r.registered_at = s.Int(8);
  r.registered_by = s.Text(9);
  r.status = s.Text(10);
  r.decided_at = s.Int(11);
  r.decided_by = s.Text(12);
  r.documents = s.Int(13);
  r.closed_as = s.Text(14);
  r.close_reason = s.Text(15);
  return r;
}

CorrectionRow ReadCorrection(const Stmt& s) {
  CorrectionRow r;
  r.id = s.Int(0);
  r.disclosure_id = s.Int(1);
  r.resident_code = s.Text(2);
  r.municipality_code = s.Text(3);
  r.fields = s.Text(4);
  r.details_sealed = s.Blob(5);
  r.received_at = s.Int(6);
  r.received_by = s.Text(7);
  r.status = s.Text(8);
  r.answered_at = s.Int(9);
  r.answered_by = s.Text(10);
  r.outcome = s.Text(11);
  r.notified_at = s.Int(12);
  r.notified_by = s.Text(13);
  return r;
}

PrintoutRow ReadPrintout(const Stmt& s) {
  PrintoutRow r;
  r.id = s.Int(0);
  r.kind = s.Text(1);
  r.reference = s.Text(2);
  r.printed_at = s.Int(3);
  r.printed_by = s.Text(4);
  r.pages = s.Int(5);
  r.sha256 = s.Text(6);
  r.outcome = s.Text(7);
  r.outcome_method = s.Text(8);
  r.outcome_on = s.Text(9);
  r.outcome_at = s.Int(10);
  r.outcome_by = s.Text(11);
  return r;
}

}  // namespace

Result<std::optional<DisclosureRow>> SqliteReader::FindDisclosure(int64_t id) {
  return QueryOne<DisclosureRow>(
      db_.get(), kFindDisclosure, [&](Stmt& s) { s.Bind(1, id); }, ReadDisclosure);
}

Result<std::optional<std::string>> SqliteReader::DisclosureStatement(int64_t id) {
  return QueryOne<std::string>(
      db_.get(), kDisclosureStatement, [&](Stmt& s) { s.Bind(1, id); },
      [](const Stmt& s) { return s.Text(0); });
}

Result<std::vector<DisclosureRow>> SqliteReader::ListDisclosures(int limit) {
  return QueryAll<DisclosureRow>(
      db_.get(), kListDisclosures, [&](Stmt& s) { s.Bind(1, int64_t{limit}); }, ReadDisclosure);
}

Result<std::optional<CorrectionRow>> SqliteReader::FindCorrection(int64_t id) {
  return QueryOne<CorrectionRow>(
      db_.get(), kFindCorrection, [&](Stmt& s) { s.Bind(1, id); }, ReadCorrection);
}

Result<std::vector<CorrectionRow>> SqliteReader::CorrectionsOfDisclosure(int64_t disclosure_id) {
  return QueryAll<CorrectionRow>(
      db_.get(), kCorrectionsOfDisclosure, [&](Stmt& s) { s.Bind(1, disclosure_id); },
      ReadCorrection);
}

Result<std::vector<CorrectionRow>> SqliteReader::OpenCorrections(
    const std::string& municipality_code, int limit, int64_t after_id) {
  return QueryAll<CorrectionRow>(
      db_.get(), kOpenCorrections,
      [&](Stmt& s) { s.Bind(1, municipality_code).Bind(2, int64_t{limit}).Bind(3, after_id); },
      ReadCorrection);
}

Result<std::vector<PrintoutRow>> SqliteReader::ListPrintouts(int limit) {
  return QueryAll<PrintoutRow>(
      db_.get(), kListPrintouts, [&](Stmt& s) { s.Bind(1, int64_t{limit}); }, ReadPrintout);
}

Result<std::optional<PrintoutRow>> SqliteReader::FindPrintout(int64_t id) {
  return QueryOne<PrintoutRow>(
      db_.get(), kFindPrintout, [&](Stmt& s) { s.Bind(1, id); }, ReadPrintout);
}

Result<int64_t> SqliteTxn::InsertDisclosure(const DisclosureRow& row) {
  KAKUNIN_PREPARE(s, db_, kInsertDisclosure);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, row.purpose)
                              .Bind(2, row.resident_code)
                              .Bind(3, row.requester)
                              .Bind(4, row.identity_document)
                              .Bind(5, row.channel)
                              .Bind(6, row.received_on)
                              .Bind(7, row.due_on)
                              .Bind(8, row.registered_at)
                              .Bind(9, row.registered_by)
                              .Bind(10, row.status)
                              .Bind(11, row.decided_at)
                              .Bind(12, row.decided_by)
                              .Bind(13, row.documents)
                              .Exec());
  return db_->LastInsertRowId();
}

Status SqliteTxn::RecordDisclosureDocument(int64_t id, const std::string& status,
                                           int64_t decided_at, const std::string& decided_by,
                                           const std::string& statement) {
  KAKUNIN_PREPARE(s, db_, kRecordDisclosureDocument);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, id)
                              .Bind(2, status)
                              .Bind(3, decided_at)
                              .Bind(4, decided_by)
                              .Bind(5, statement)
                              .Exec());
  if (db_->Changes() == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, QueryInt(db_, kDisclosureExists, id));
  if (exists == 0) return Status::NotFound("no such disclosure request");
  return Status::FailedPrecondition("the request was closed without a notice")
      .WithReason("request_closed");
}

Status SqliteTxn::CloseDisclosure(int64_t id, const std::string& closed_as,
                                  const std::string& close_reason, int64_t decided_at,
                                  const std::string& decided_by) {
  KAKUNIN_PREPARE(s, db_, kCloseDisclosure);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, id)
                              .Bind(2, closed_as)
                              .Bind(3, close_reason)
                              .Bind(4, decided_at)
                              .Bind(5, decided_by)
                              .Exec());
  if (db_->Changes() == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, QueryInt(db_, kDisclosureExists, id));
  if (exists == 0) return Status::NotFound("no such disclosure request");
  return Status::FailedPrecondition("the request is already decided or closed")
      .WithReason("already_decided");
}

Result<int64_t> SqliteTxn::InsertCorrection(const CorrectionRow& row) {
  KAKUNIN_PREPARE(s, db_, kInsertCorrection);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, row.disclosure_id)
                              .Bind(2, row.resident_code)
                              .Bind(3, row.municipality_code)
                              .Bind(4, row.fields)
                              .BindBlob(5, row.details_sealed)
                              .Bind(6, row.received_at)
                              .Bind(7, row.received_by)
                              .Bind(8, row.status)
                              .Bind(9, row.answered_at)
                              .Bind(10, row.answered_by)
                              .Bind(11, row.outcome)
                              .Exec());
  return db_->LastInsertRowId();
}

Status SqliteTxn::AnswerCorrection(int64_t id, const std::string& outcome, int64_t answered_at,
                                   const std::string& answered_by) {
  KAKUNIN_PREPARE(s, db_, kAnswerCorrection);
  KAKUNIN_RETURN_IF_ERROR(
      s.Bind(1, id).Bind(2, outcome).Bind(3, answered_at).Bind(4, answered_by).Exec());
  if (db_->Changes() == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, QueryInt(db_, kCorrectionExists, id));
  if (exists == 0) return Status::NotFound("no such correction request");
  return Status::FailedPrecondition("the correction request is already answered")
      .WithReason("already_answered");
}

Result<int64_t> SqliteTxn::OpenCorrectionOf(int64_t disclosure_id) {
  return QueryInt(db_, kOpenCorrectionOf, [&](Stmt& s) { s.Bind(1, disclosure_id); });
}

Result<int64_t> SqliteTxn::OpenDisclosureOf(const std::string& resident_code) {
  return QueryInt(db_, kOpenDisclosureOf, [&](Stmt& s) { s.Bind(1, resident_code); });
}

Status SqliteTxn::NoteCorrectionNotified(int64_t disclosure_id, int64_t id, int64_t at,
                                         const std::string& by) {
  KAKUNIN_PREPARE(s, db_, kNoteCorrectionNotified);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, disclosure_id).Bind(2, id).Bind(3, at).Bind(4, by).Exec());
  if (db_->Changes() == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, QueryInt(db_, kCorrectionOfDisclosureExists, [&](Stmt& s) {
                             s.Bind(1, disclosure_id).Bind(2, id);
                           }));
  if (exists == 0) return Status::NotFound("no such correction request");
  return Status::FailedPrecondition("the municipality has not answered the correction request yet")
      .WithReason("not_answered");
}

Result<int64_t> SqliteTxn::InsertPrintout(const PrintoutRow& row) {
  KAKUNIN_PREPARE(s, db_, kInsertPrintout);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, row.kind)
                              .Bind(2, row.reference)
                              .Bind(3, row.printed_at)
                              .Bind(4, row.printed_by)
                              .Bind(5, row.pages)
                              .Bind(6, row.sha256)
                              .Exec());
  return db_->LastInsertRowId();
}

Status SqliteTxn::SetPrintoutOutcome(int64_t id, const std::string& outcome,
                                     const std::string& method, const std::string& on, int64_t at,
                                     const std::string& by) {
  KAKUNIN_PREPARE(s, db_, kSetPrintoutOutcome);
  KAKUNIN_RETURN_IF_ERROR(
      s.Bind(1, id).Bind(2, outcome).Bind(3, method).Bind(4, on).Bind(5, at).Bind(6, by).Exec());
  if (db_->Changes() == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, QueryInt(db_, kPrintoutExists, id));
  if (exists == 0) return Status::NotFound("no such printout");
  return Status::FailedPrecondition("what became of the printout is already recorded")
      .WithReason("already_recorded");
}

Result<int64_t> SqliteTxn::EraseDisclosuresBefore(int64_t before, bool dry_run) {
  if (dry_run) return QueryInt(db_, kCountDisclosuresBefore, before);
  int64_t erased = 0;
  // Corrections first: they reference the disclosures erased next.
  for (const char* sql : {kEraseCorrectionsBefore, kEraseDisclosuresBefore, kErasePrintoutsBefore}) {
    KAKUNIN_PREPARE(s, db_, sql);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, before).Exec());
    erased += db_->Changes();
  }
  return erased;
}

Result<std::vector<CorrectionRow>> SqliteTxn::CorrectionsSealedNotUnder(
    const std::string& current_prefix, int limit) {
  return QueryAll<CorrectionRow>(
      db_, kCorrectionsSealedNotUnder,
      [&](Stmt& s) {
        s.Bind(1, static_cast<int64_t>(current_prefix.size()))
            .BindBlob(2, current_prefix)
            .Bind(3, int64_t{limit});
      },
      ReadCorrection);
}

Result<bool> SqliteTxn::ReplaceCorrectionDetails(int64_t id, const std::string& old_sealed,
                                                 const std::string& new_sealed) {
  KAKUNIN_PREPARE(s, db_, kReplaceCorrectionDetails);
  KAKUNIN_RETURN_IF_ERROR(s.BindBlob(1, new_sealed).Bind(2, id).BindBlob(3, old_sealed).Exec());
  return db_->Changes() == 1;
}

}  // namespace kakunin::store::sqlite::detail
