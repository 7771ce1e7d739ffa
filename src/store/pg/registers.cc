// The staff's registers on PostgreSQL (store/register_store.h), as store/sqlite/registers.cc.
// Operator ids and company names only.

#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "store/pg/detail/pg_store_impl.h"
#include "store/pg/detail/rows.h"
#include "store/pg/schema.h"

namespace kakunin::store::pg::detail {
namespace {

TrainingRow ReadTraining(const Rows& s, int i) {
  TrainingRow r;
  r.id = s.Int(i, 0);
  r.held_on = s.Text(i, 1);
  r.kind = s.Text(i, 2);
  r.title = s.Text(i, 3);
  r.recorded_at = s.Int(i, 4);
  r.recorded_by = s.Text(i, 5);
  return r;
}

ContractRow ReadContract(const Rows& s, int i) {
  ContractRow r;
  r.id = s.Int(i, 0);
  r.company = s.Text(i, 1);
  r.work = s.Text(i, 2);
  r.valid_from = s.Text(i, 3);
  r.valid_to = s.Text(i, 4);
  r.subcontracting = s.Text(i, 5);
  r.approved_on = s.Text(i, 6);
  r.pledge_received_on = s.Text(i, 7);
  r.recorded_at = s.Int(i, 8);
  r.recorded_by = s.Text(i, 9);
  r.ended_on = s.Text(i, 10);
  r.ended_at = s.Int(i, 11);
  r.ended_by = s.Text(i, 12);
  return r;
}

ContractWorkerRow ReadWorker(const Rows& s, int i) {
  ContractWorkerRow r;
  r.contract_id = s.Int(i, 0);
  r.operator_id = s.Text(i, 1);
  r.added_at = s.Int(i, 2);
  r.added_by = s.Text(i, 3);
  r.removed_at = s.Int(i, 4);
  r.removed_by = s.Text(i, 5);
  return r;
}

struct ContractPeriod {
  std::string from, to, ended_on;
};

ReviewRow ReadReview(const Rows& s, int i) {
  ReviewRow r;
  r.id = s.Int(i, 0);
  r.kind = s.Text(i, 1);
  r.period_from = s.Text(i, 2);
  r.period_to = s.Text(i, 3);
  r.conducted_on = s.Text(i, 4);
  r.result = s.Text(i, 5);
  r.summary = s.Text(i, 6);
  r.recorded_at = s.Int(i, 7);
  r.recorded_by = s.Text(i, 8);
  return r;
}

template <typename Row>
int64_t OldestId(const std::vector<Row>& rows) {
  int64_t id = INT64_MAX;
  for (const Row& r : rows) id = std::min(id, r.id);
  return id;
}

}  // namespace

Result<std::vector<TrainingRow>> PgReader::ListTrainings(int limit) {
  KAKUNIN_ASSIGN_OR_RETURN(rows, QueryAll<TrainingRow>(db_.get(), kListTrainings,
                                                       Params().Int(int64_t{limit}), ReadTraining));
  if (rows.empty()) return rows;
  using Attendee = std::pair<int64_t, std::string>;
  KAKUNIN_ASSIGN_OR_RETURN(
      attendees, QueryAll<Attendee>(db_.get(), kListTrainingAttendees,
                                    Params().Int(OldestId(rows)), [](const Rows& s, int i) {
                                      return Attendee{s.Int(i, 0), s.Text(i, 1)};
                                    }));
  std::map<int64_t, std::vector<std::string>> by_training;
  for (auto& [id, op] : attendees) by_training[id].push_back(std::move(op));
  for (TrainingRow& r : rows) r.attendees = std::move(by_training[r.id]);
  return rows;
}

Result<std::vector<ContractRow>> PgReader::ListContracts(int limit) {
  KAKUNIN_ASSIGN_OR_RETURN(rows, QueryAll<ContractRow>(db_.get(), kListContracts,
                                                       Params().Int(int64_t{limit}), ReadContract));
  if (rows.empty()) return rows;
  KAKUNIN_ASSIGN_OR_RETURN(workers,
                           QueryAll<ContractWorkerRow>(db_.get(), kListContractWorkers,
                                                       Params().Int(OldestId(rows)), ReadWorker));
  std::map<int64_t, std::vector<ContractWorkerRow>> by_contract;
  for (auto& w : workers) by_contract[w.contract_id].push_back(std::move(w));
  for (ContractRow& r : rows) r.workers = std::move(by_contract[r.id]);
  return rows;
}

Result<std::vector<ReviewRow>> PgReader::ListReviews(int limit) {
  return QueryAll<ReviewRow>(db_.get(), kListReviews, Params().Int(int64_t{limit}), ReadReview);
}

Result<int64_t> PgTxn::InsertTraining(const TrainingRow& row) {
  KAKUNIN_ASSIGN_OR_RETURN(id, db_->QueryInt(kInsertTraining, Params()
                                                                  .Text(row.held_on)
                                                                  .Text(row.kind)
                                                                  .Text(row.title)
                                                                  .Int(row.recorded_at)
                                                                  .Text(row.recorded_by)));
  for (const std::string& op : row.attendees) {
    KAKUNIN_RETURN_IF_ERROR(
        db_->Run(kInsertTrainingAttendee, Params().Int(id).Text(op)).status());
  }
  return id;
}

Result<int64_t> PgTxn::InsertContract(const ContractRow& row) {
  return db_->QueryInt(kInsertContract, Params()
                                            .Text(row.company)
                                            .Text(row.work)
                                            .Text(row.valid_from)
                                            .Text(row.valid_to)
                                            .Text(row.subcontracting)
                                            .Text(row.approved_on)
                                            .Text(row.pledge_received_on)
                                            .Int(row.recorded_at)
                                            .Text(row.recorded_by));
}

Status PgTxn::InsertContractWorker(const ContractWorkerRow& row) {
  KAKUNIN_ASSIGN_OR_RETURN(exists, db_->QueryInt(kContractExists, Params().Int(row.contract_id)));
  if (exists == 0) return Status::NotFound("no such contract");
  KAKUNIN_ASSIGN_OR_RETURN(changed, db_->Run(kInsertContractWorker, Params()
                                                                        .Int(row.contract_id)
                                                                        .Text(row.operator_id)
                                                                        .Int(row.added_at)
                                                                        .Text(row.added_by)));
  if (changed != 1) {
    return Status::AlreadyExists("the operator is listed for this contract already");
  }
  return Status::Ok();
}

Status PgTxn::RemoveContractWorker(int64_t contract_id, const std::string& operator_id,
                                   int64_t at, const std::string& by) {
  KAKUNIN_ASSIGN_OR_RETURN(
      changed, db_->Run(kRemoveContractWorker,
                        Params().Int(contract_id).Text(operator_id).Int(at).Text(by)));
  if (changed == 1) return Status::Ok();
  KAKUNIN_ASSIGN_OR_RETURN(
      removed, QueryAll<int64_t>(db_, kContractWorkerRemovedAt,
                                 Params().Int(contract_id).Text(operator_id),
                                 [](const Rows& s, int i) { return s.Int(i, 0); }));
  if (removed.empty()) return Status::NotFound("the operator is not listed for this contract");
  return Status::FailedPrecondition("the operator was taken off this contract's roster already");
}

Status PgTxn::EndContract(int64_t contract_id, const std::string& last_day,
                              const std::string& today, int64_t at,
                          const std::string& by) {
  KAKUNIN_ASSIGN_OR_RETURN(
      period, QueryAll<ContractPeriod>(db_, kGetContractPeriod, Params().Int(contract_id),
                                       [](const Rows& s, int i) {
                                         return ContractPeriod{s.Text(i, 0), s.Text(i, 1),
                                                               s.Text(i, 2)};
                                       }));
  if (period.empty()) return Status::NotFound("no such contract");
  ContractRow c;
  c.valid_from = period[0].from;
  c.valid_to = period[0].to;
  c.ended_on = period[0].ended_on;
  KAKUNIN_RETURN_IF_ERROR(CheckContractEnd(c, last_day, today));
  KAKUNIN_ASSIGN_OR_RETURN(changed,
                           db_->Run(kEndContract, Params().Int(contract_id).Text(last_day).Int(at).Text(by)));
  if (changed != 1) return Status::FailedPrecondition("the contract was ended already");
  return Status::Ok();
}

Result<int64_t> PgTxn::InsertReview(const ReviewRow& row) {
  return db_->QueryInt(kInsertReview, Params()
                                          .Text(row.kind)
                                          .Text(row.period_from)
                                          .Text(row.period_to)
                                          .Text(row.conducted_on)
                                          .Text(row.result)
                                          .Text(row.summary)
                                          .Int(row.recorded_at)
                                          .Text(row.recorded_by));
}

Result<bool> PgTxn::AttendedTraining(const std::string& operator_id, const std::string& kind,
                                     const std::string& from, const std::string& to,
                                     const std::string& not_recorded_by) {
  KAKUNIN_ASSIGN_OR_RETURN(n, db_->QueryInt(kAttendedTraining, Params()
                                                                   .Text(operator_id)
                                                                   .Text(kind)
                                                                   .Text(from)
                                                                   .Text(to)
                                                                   .Text(not_recorded_by)));
  return n > 0;
}

Result<bool> PgTxn::WorksUnderContract(const std::string& operator_id, const std::string& day) {
  KAKUNIN_ASSIGN_OR_RETURN(
      n, db_->QueryInt(kWorksUnderContract, Params().Text(operator_id).Text(day)));
  return n > 0;
}

}  // namespace kakunin::store::pg::detail
