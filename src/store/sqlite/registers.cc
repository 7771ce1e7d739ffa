// The staff's registers on SQLite (store/register_store.h): training sessions and attendees,
// contracts and their workers, reviews. Operator ids and company names only.

#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "store/sqlite/detail/rows.h"
#include "store/sqlite/detail/sqlite_store_impl.h"
#include "store/sqlite/schema.h"

namespace kakunin::store::sqlite::detail {
namespace {

TrainingRow ReadTraining(const Stmt& s) {
  TrainingRow r;
  r.id = s.Int(0);
  r.held_on = s.Text(1);
  r.kind = s.Text(2);
  r.title = s.Text(3);
  r.recorded_at = s.Int(4);
  r.recorded_by = s.Text(5);
  return r;
}

ContractRow ReadContract(const Stmt& s) {
  ContractRow r;
  r.id = s.Int(0);
  r.company = s.Text(1);
  r.work = s.Text(2);
  r.valid_from = s.Text(3);
  r.valid_to = s.Text(4);
  r.subcontracting = s.Text(5);
  r.approved_on = s.Text(6);
  r.pledge_received_on = s.Text(7);
  r.recorded_at = s.Int(8);
  r.recorded_by = s.Text(9);
  r.ended_on = s.Text(10);
  r.ended_at = s.Int(11);
  r.ended_by = s.Text(12);
  return r;
}

ContractWorkerRow ReadWorker(const Stmt& s) {
  ContractWorkerRow r;
  r.contract_id = s.Int(0);
  r.operator_id = s.Text(1);
  r.added_at = s.Int(2);
  r.added_by = s.Text(3);
  r.removed_at = s.Int(4);
  r.removed_by = s.Text(5);
  return r;
}

struct ContractPeriod {
  std::string from, to, ended_on;
};

ReviewRow ReadReview(const Stmt& s) {
  ReviewRow r;
  r.id = s.Int(0);
  r.kind = s.Text(1);
  r.period_from = s.Text(2);
  r.period_to = s.Text(3);
  r.conducted_on = s.Text(4);
  r.result = s.Text(5);
  r.summary = s.Text(6);
  r.recorded_at = s.Int(7);
  r.recorded_by = s.Text(8);
  return r;
}

int64_t ReadCount(const Stmt& s) { return s.Int(0); }

template <typename Row>
int64_t OldestId(const std::vector<Row>& rows) {
  int64_t id = INT64_MAX;
  for (const Row& r : rows) id = std::min(id, r.id);
  return id;
}

}  // namespace

Result<std::vector<TrainingRow>> SqliteReader::ListTrainings(int limit) {
  KAKUNIN_ASSIGN_OR_RETURN(
      rows, QueryAll<TrainingRow>(
                db_.get(), kListTrainings, [&](Stmt& s) { s.Bind(1, int64_t{limit}); },
                ReadTraining));
  if (rows.empty()) return rows;
  using Attendee = std::pair<int64_t, std::string>;
  KAKUNIN_ASSIGN_OR_RETURN(
      attendees,
      QueryAll<Attendee>(
          db_.get(), kListTrainingAttendees, [&](Stmt& s) { s.Bind(1, OldestId(rows)); },
          [](const Stmt& s) { return Attendee{s.Int(0), s.Text(1)}; }));
  std::map<int64_t, std::vector<std::string>> by_training;
  for (auto& [id, op] : attendees) by_training[id].push_back(std::move(op));
  for (TrainingRow& r : rows) r.attendees = std::move(by_training[r.id]);
  return rows;
}

Result<std::vector<ContractRow>> SqliteReader::ListContracts(int limit) {
  KAKUNIN_ASSIGN_OR_RETURN(
      rows, QueryAll<ContractRow>(
                db_.get(), kListContracts, [&](Stmt& s) { s.Bind(1, int64_t{limit}); },
                ReadContract));
  KAKUNIN_ASSIGN_OR_RETURN(
      workers, QueryAll<ContractWorkerRow>(
                   db_.get(), kListContractWorkers, [&](Stmt& s) { s.Bind(1, OldestId(rows)); },
                   ReadWorker));
  std::map<int64_t, std::vector<ContractWorkerRow>> by_contract;
  for (auto& w : workers) by_contract[w.contract_id].push_back(std::move(w));
  for (ContractRow& r : rows) r.workers = std::move(by_contract[r.id]);
  return rows;
}

Result<std::vector<ReviewRow>> SqliteReader::ListReviews(int limit) {
  return QueryAll<ReviewRow>(
      db_.get(), kListReviews, [&](Stmt& s) { s.Bind(1, int64_t{limit}); }, ReadReview);
}

Result<int64_t> SqliteTxn::InsertTraining(const TrainingRow& row) {
  {
    KAKUNIN_PREPARE(s, db_, kInsertTraining);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, row.held_on)
                                .Bind(2, row.kind)
                                .Bind(3, row.title)
                                .Bind(4, row.recorded_at)
                                .Bind(5, row.recorded_by)
                                .Exec());
  }
  const int64_t id = db_->LastInsertRowId();
  for (const std::string& op : row.attendees) {
    KAKUNIN_PREPARE(s, db_, kInsertTrainingAttendee);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, id).Bind(2, op).Exec());
  }
  return id;
}

Result<int64_t> SqliteTxn::InsertContract(const ContractRow& row) {
  KAKUNIN_PREPARE(s, db_, kInsertContract);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, row.company)
                              .Bind(2, row.work)
                              .Bind(3, row.valid_from)
                              .Bind(4, row.valid_to)
                              .Bind(5, row.subcontracting)
                              .Bind(6, row.approved_on)
                              .Bind(7, row.pledge_received_on)
                              .Bind(8, row.recorded_at)
                              .Bind(9, row.recorded_by)
                              .Exec());
  return db_->LastInsertRowId();
}

Status SqliteTxn::InsertContractWorker(const ContractWorkerRow& row) {
  KAKUNIN_ASSIGN_OR_RETURN(exists, QueryInt(db_, kContractExists, row.contract_id));
  if (exists == 0) return Status::NotFound("no such contract");
  KAKUNIN_PREPARE(s, db_, kInsertContractWorker);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, row.contract_id)
                              .Bind(2, row.operator_id)
                              .Bind(3, row.added_at)
                              .Bind(4, row.added_by)
                              .Exec());
  if (db_->Changes() != 1) {
    return Status::AlreadyExists("the operator is listed for this contract already");
  }
  return Status::Ok();
}

Status SqliteTxn::RemoveContractWorker(int64_t contract_id, const std::string& operator_id,
                                       int64_t at, const std::string& by) {
  {
    KAKUNIN_PREPARE(s, db_, kRemoveContractWorker);
    KAKUNIN_RETURN_IF_ERROR(s.Bind(1, contract_id).Bind(2, operator_id).Bind(3, at).Bind(4, by).Exec());
  }
  if (db_->Changes() == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(
      removed, QueryAll<int64_t>(
                   db_, kContractWorkerRemovedAt,
                   [&](Stmt& s) { s.Bind(1, contract_id).Bind(2, operator_id); }, ReadCount));
  if (removed.empty()) return Status::NotFound("the operator is not listed for this contract");
  return Status::FailedPrecondition("the operator was taken off this contract's roster already");
}

Status SqliteTxn::EndContract(int64_t contract_id, const std::string& last_day,
                              const std::string& today, int64_t at,
                              const std::string& by) {
  KAKUNIN_ASSIGN_OR_RETURN(
      period, QueryAll<ContractPeriod>(
                  db_, kGetContractPeriod, [&](Stmt& s) { s.Bind(1, contract_id); },
                  [](const Stmt& s) { return ContractPeriod{s.Text(0), s.Text(1), s.Text(2)}; }));
  if (period.empty()) return Status::NotFound("no such contract");
  ContractRow c;
  c.valid_from = period[0].from;
  c.valid_to = period[0].to;
  c.ended_on = period[0].ended_on;
  KAKUNIN_RETURN_IF_ERROR(CheckContractEnd(c, last_day, today));
  KAKUNIN_PREPARE(s, db_, kEndContract);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, contract_id).Bind(2, last_day).Bind(3, at).Bind(4, by).Exec());
  if (db_->Changes() != 1) return Status::FailedPrecondition("the contract was ended already");
  return Status::Ok();
}

Result<int64_t> SqliteTxn::InsertReview(const ReviewRow& row) {
  KAKUNIN_PREPARE(s, db_, kInsertReview);
  KAKUNIN_RETURN_IF_ERROR(s.Bind(1, row.kind)
                              .Bind(2, row.period_from)
                              .Bind(3, row.period_to)
                              .Bind(4, row.conducted_on)
                              .Bind(5, row.result)
                              .Bind(6, row.summary)
                              .Bind(7, row.recorded_at)
                              .Bind(8, row.recorded_by)
                              .Exec());
  return db_->LastInsertRowId();
}

Result<bool> SqliteTxn::AttendedTraining(const std::string& operator_id, const std::string& kind,
                                         const std::string& from, const std::string& to,
                                         const std::string& not_recorded_by) {
  KAKUNIN_ASSIGN_OR_RETURN(n, QueryAll<int64_t>(
                                  db_, kAttendedTraining,
                                  [&](Stmt& s) {
                                    s.Bind(1, operator_id).Bind(2, kind).Bind(3, from).Bind(4, to);
                                    s.Bind(5, not_recorded_by);
                                  },
                                  ReadCount));
  return !n.empty() && n[0] > 0;
}

Result<bool> SqliteTxn::WorksUnderContract(const std::string& operator_id,
                                           const std::string& day) {
  KAKUNIN_ASSIGN_OR_RETURN(
      n, QueryAll<int64_t>(
             db_, kWorksUnderContract, [&](Stmt& s) { s.Bind(1, operator_id).Bind(2, day); },
             ReadCount));
  return !n.empty() && n[0] > 0;
}

}  // namespace kakunin::store::sqlite::detail
