// Residents' requests and the printout register on PostgreSQL (store/disclosure_store.h), as
// store/sqlite/disclosures.cc. Disclosure and correction rows hold a resident code and sealed
// text: nothing here logs a value.

#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

DisclosureRow ReadDisclosure(const Rows& s, int i) {
  DisclosureRow r;
  r.id = s.Int(i, 0);
  r.purpose = s.Text(i, 1);
  r.resident_code = s.Text(i, 2);
  r.requester = s.Text(i, 3);
  r.identity_document = s.Text(i, 4);
  r.channel = s.Text(i, 5);
  r.received_on = s.Text(i, 6);
  r.due_on = s.Text(i, 7);
  r.registered_at = s.Int(i, 8);
  r.registered_by = s.Text(i, 9);
  r.status = s.Text(i, 10);
  r.decided_at = s.Int(i, 11);
  r.decided_by = s.Text(i, 12);
  r.documents = s.Int(i, 13);
  r.closed_as = s.Text(i, 14);
  r.close_reason = s.Text(i, 15);
  return r;
}

CorrectionRow ReadCorrection(const Rows& s, int i) {
  CorrectionRow r;
  r.id = s.Int(i, 0);
  r.disclosure_id = s.Int(i, 1);
  r.resident_code = s.Text(i, 2);
  r.municipality_code = s.Text(i, 3);
  r.fields = s.Text(i, 4);
  r.details_sealed = s.Blob(i, 5);
  r.received_at = s.Int(i, 6);
  r.received_by = s.Text(i, 7);
  r.status = s.Text(i, 8);
  r.answered_at = s.Int(i, 9);
  r.answered_by = s.Text(i, 10);
  r.outcome = s.Text(i, 11);
  r.notified_at = s.Int(i, 12);
  r.notified_by = s.Text(i, 13);
  return r;
}

PrintoutRow ReadPrintout(const Rows& s, int i) {
  PrintoutRow r;
  r.id = s.Int(i, 0);
  r.kind = s.Text(i, 1);
  r.reference = s.Text(i, 2);
  r.printed_at = s.Int(i, 3);
  r.printed_by = s.Text(i, 4);
  r.pages = s.Int(i, 5);
  r.sha256 = s.Text(i, 6);
  r.outcome = s.Text(i, 7);
  r.outcome_method = s.Text(i, 8);
  r.outcome_on = s.Text(i, 9);
  r.outcome_at = s.Int(i, 10);
  r.outcome_by = s.Text(i, 11);
  return r;
}

}  // namespace

Result<std::optional<DisclosureRow>> PgReader::FindDisclosure(int64_t id) {
  return QueryOne<DisclosureRow>(db_.get(), kFindDisclosure, Params().Int(id), ReadDisclosure);
}

Result<std::optional<std::string>> PgReader::DisclosureStatement(int64_t id) {
  return QueryOne<std::string>(db_.get(), kDisclosureStatement, Params().Int(id),
                               [](const Rows& s, int i) { return s.Text(i, 0); });
}

Result<std::vector<DisclosureRow>> PgReader::ListDisclosures(int limit) {
  return QueryAll<DisclosureRow>(db_.get(), kListDisclosures, Params().Int(int64_t{limit}),
                                 ReadDisclosure);
}

Result<std::optional<CorrectionRow>> PgReader::FindCorrection(int64_t id) {
  return QueryOne<CorrectionRow>(db_.get(), kFindCorrection, Params().Int(id), ReadCorrection);
}

Result<std::vector<CorrectionRow>> PgReader::CorrectionsOfDisclosure(int64_t disclosure_id) {
  return QueryAll<CorrectionRow>(db_.get(), kCorrectionsOfDisclosure,
                                 Params().Int(disclosure_id), ReadCorrection);
}

Result<std::vector<CorrectionRow>> PgReader::OpenCorrections(const std::string& municipality_code,
                                                             int limit, int64_t after_id) {
  return QueryAll<CorrectionRow>(db_.get(), kOpenCorrections,
                                 Params().Text(municipality_code).Int(int64_t{limit}).Int(after_id),
                                 ReadCorrection);
}

Result<std::vector<PrintoutRow>> PgReader::ListPrintouts(int limit) {
  return QueryAll<PrintoutRow>(db_.get(), kListPrintouts, Params().Int(int64_t{limit}),
                               ReadPrintout);
}

Result<std::optional<PrintoutRow>> PgReader::FindPrintout(int64_t id) {
  return QueryOne<PrintoutRow>(db_.get(), kFindPrintout, Params().Int(id), ReadPrintout);
}

Result<int64_t> PgTxn::InsertDisclosure(const DisclosureRow& row) {
  return db_->QueryInt(kInsertDisclosure, Params()
                                              .Text(row.purpose)
                                              .Text(row.resident_code)
                                              .Text(row.requester)
                                              .Text(row.identity_document)
                                              .Text(row.channel)
                                              .Text(row.received_on)
                                              .Text(row.due_on)
                                              .Int(row.registered_at)
                                              .Text(row.registered_by)
                                              .Text(row.status)
                                              .Int(row.decided_at)
                                              .Text(row.decided_by)
                                              .Int(row.documents));
}

Status PgTxn::RecordDisclosureDocument(int64_t id, const std::string& status, int64_t decided_at,
                                       const std::string& decided_by,
                                       const std::string& statement) {
  KAKUNIN_ASSIGN_OR_RETURN(
      changed, db_->Run(kRecordDisclosureDocument, Params()
                                                       .Int(id)
                                                       .Text(status)
                                                       .Int(decided_at)
                                                       .Text(decided_by)
                                                       .Text(statement)));
  if (changed == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, db_->QueryInt(kDisclosureExists, Params().Int(id)));
  if (exists == 0) return Status::NotFound("no such disclosure request");
  return Status::FailedPrecondition("the request was closed without a notice")
      .WithReason("request_closed");
}

Status PgTxn::CloseDisclosure(int64_t id, const std::string& closed_as,
                              const std::string& close_reason, int64_t decided_at,
                              const std::string& decided_by) {
  KAKUNIN_ASSIGN_OR_RETURN(changed, db_->Run(kCloseDisclosure, Params()
                                                                   .Int(id)
                                                                   .Text(closed_as)
                                                                   .Text(close_reason)
                                                                   .Int(decided_at)
                                                                   .Text(decided_by)));
  if (changed == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, db_->QueryInt(kDisclosureExists, Params().Int(id)));
  if (exists == 0) return Status::NotFound("no such disclosure request");
  return Status::FailedPrecondition("the request is already decided or closed")
      .WithReason("already_decided");
}

Result<int64_t> PgTxn::InsertCorrection(const CorrectionRow& row) {
  return db_->QueryInt(kInsertCorrection, Params()
                                              .Int(row.disclosure_id)
                                              .Text(row.resident_code)
                                              .Text(row.municipality_code)
                                              .Text(row.fields)
                                              .Bytes(row.details_sealed)
                                              .Int(row.received_at)
                                              .Text(row.received_by)
                                              .Text(row.status)
                                              .Int(row.answered_at)
                                              .Text(row.answered_by)
                                              .Text(row.outcome));
}

Status PgTxn::AnswerCorrection(int64_t id, const std::string& outcome, int64_t answered_at,
                               const std::string& answered_by) {
  KAKUNIN_ASSIGN_OR_RETURN(
      changed, db_->Run(kAnswerCorrection,
                        Params().Int(id).Text(outcome).Int(answered_at).Text(answered_by)));
  if (changed == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, db_->QueryInt(kCorrectionExists, Params().Int(id)));
  if (exists == 0) return Status::NotFound("no such correction request");
  return Status::FailedPrecondition("the correction request is already answered")
      .WithReason("already_answered");
}

Result<int64_t> PgTxn::OpenCorrectionOf(int64_t disclosure_id) {
  return db_->QueryInt(kOpenCorrectionOf, Params().Int(disclosure_id));
}

Result<int64_t> PgTxn::OpenDisclosureOf(const std::string& resident_code) {
  return db_->QueryInt(kOpenDisclosureOf, Params().Text(resident_code));
}

Status PgTxn::NoteCorrectionNotified(int64_t disclosure_id, int64_t id, int64_t at,
                                     const std::string& by) {
  KAKUNIN_ASSIGN_OR_RETURN(
      changed,
      db_->Run(kNoteCorrectionNotified, Params().Int(disclosure_id).Int(id).Int(at).Text(by)));
  if (changed == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, db_->QueryInt(kCorrectionOfDisclosureExists,
                                                 Params().Int(disclosure_id).Int(id)));
  if (exists == 0) return Status::NotFound("no such correction request");
  return Status::FailedPrecondition("the municipality has not answered the correction request yet")
      .WithReason("not_answered");
}

Result<int64_t> PgTxn::InsertPrintout(const PrintoutRow& row) {
  return db_->QueryInt(kInsertPrintout, Params()
                                            .Text(row.kind)
                                            .Text(row.reference)
                                            .Int(row.printed_at)
                                            .Text(row.printed_by)
                                            .Int(row.pages)
                                            .Text(row.sha256));
}

Status PgTxn::SetPrintoutOutcome(int64_t id, const std::string& outcome,
                                 const std::string& method, const std::string& on, int64_t at,
                                 const std::string& by) {
  KAKUNIN_ASSIGN_OR_RETURN(
      changed, db_->Run(kSetPrintoutOutcome,
                        Params().Int(id).Text(outcome).Text(method).Text(on).Int(at).Text(by)));
  if (changed == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(exists, db_->QueryInt(kPrintoutExists, Params().Int(id)));
  if (exists == 0) return Status::NotFound("no such printout");
  return Status::FailedPrecondition("what became of the printout is already recorded")
      .WithReason("already_recorded");
}

Result<int64_t> PgTxn::EraseDisclosuresBefore(int64_t before, bool dry_run) {
  if (dry_run) return db_->QueryInt(kCountDisclosuresBefore, Params().Int(before));
  int64_t erased = 0;
  // Corrections first: they reference the disclosures erased next.
  for (const char* sql : {kEraseCorrectionsBefore, kEraseDisclosuresBefore, kErasePrintoutsBefore}) {
    KAKUNIN_ASSIGN_OR_RETURN(n, db_->Run(sql, Params().Int(before)));
    erased += n;
  }
  return erased;
}

Result<std::vector<CorrectionRow>> PgTxn::CorrectionsSealedNotUnder(
    const std::string& current_prefix, int limit) {
  return QueryAll<CorrectionRow>(db_, kCorrectionsSealedNotUnder,
                                 Params().Bytes(current_prefix).Int(int64_t{limit}),
                                 ReadCorrection);
}

Result<bool> PgTxn::ReplaceCorrectionDetails(int64_t id, const std::string& old_sealed,
                                             const std::string& new_sealed) {
  KAKUNIN_ASSIGN_OR_RETURN(changed, db_->Run(kReplaceCorrectionDetails,
                                             Params().Bytes(new_sealed).Int(id).Bytes(old_sealed)));
  return changed == 1;
}

}  // namespace kakunin::store::pg::detail
