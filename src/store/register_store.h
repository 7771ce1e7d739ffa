#pragma once

// The registers the operating rules require of the staff (docs/operators.md "Registers the
// operating rules require"): the training register (研修の記録, 第1 5(2)), the contractor register
// (委託先と委託作業者の名簿, 第4) and the review register (自己点検・監査・操作履歴の確認の記録,
// 第1 5(1)). Rows name operators by id and companies by name: no resident's personal data. They
// are kept (no retention erase): an entry is never changed or deleted, only followed by a later
// one.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/date.h"
#include "core/status.h"

namespace kakunin::store {

struct TrainingRow {
  int64_t id = 0;                      // assigned by InsertTraining
  std::string held_on;                 // YYYY-MM-DD (JST)
  std::string kind;                    // operator (操作者研修) | manager (管理者研修)
  std::string title;
  int64_t recorded_at = 0;             // µs since epoch
  std::string recorded_by;             // operator id
  std::vector<std::string> attendees;  // operator ids, sorted
};

struct ContractWorkerRow {
  int64_t contract_id = 0;
  std::string operator_id;
  int64_t added_at = 0;  // µs
  std::string added_by;  // operator id
  int64_t removed_at = 0;  // µs; 0 while listed
  std::string removed_by;  // operator id; "" while listed
};

struct ContractRow {
  int64_t id = 0;                   // assigned by InsertContract
  std::string company;              // the contractor (委託先)
  std::string work;                 // the work contracted out
  std::string valid_from;           // YYYY-MM-DD: the contract is in force from…
  std::string valid_to;             // …to this day, both included
  std::string subcontracting;       // prohibited | approved (再委託: prior written approval)
  std::string approved_on;          // YYYY-MM-DD of the written approval; "" unless approved
  std::string pledge_received_on;   // YYYY-MM-DD the 誓約書 arrived; "" if not (yet)
  int64_t recorded_at = 0;          // µs
  std::string recorded_by;          // operator id
  std::string ended_on;             // YYYY-MM-DD: ended early (解除), in force to this day; ""
  int64_t ended_at = 0;             // µs, when the end was recorded; 0: not ended
  std::string ended_by;             // operator id
  std::vector<ContractWorkerRow> workers;  // 委託作業者の名簿, oldest first
};

struct ReviewRow {
  int64_t id = 0;            // assigned by InsertReview
  std::string kind;          // self_inspection | audit | log_review
  std::string period_from;   // YYYY-MM-DD: what the review covered
  std::string period_to;
  std::string conducted_on;  // YYYY-MM-DD
  std::string result;        // no_findings | findings
  std::string summary;       // text without resident data (registry/registers.h refuses it)
  int64_t recorded_at = 0;   // µs
  std::string recorded_by;   // operator id
};

// The store's rule for `EndContract`, the same on both stores: the new last day is before the
// contract's own last day (else nothing ends), and
// - before the contract began (`today` < its first day): not before the day before its first
//   day, a contract cancelled before it began (in force on no day); an earlier one would make
//   the register say it ended before it started (found in review);
// - once it began: not before yesterday (`today` − 1: it stops at once). Found in review: a
//   contract that ran for months could be ended as "cancelled before it began", and the register
//   then said it was in force on no day although its workers had signed in under it.
inline Status CheckContractEnd(const ContractRow& period, const std::string& last_day,
                               const std::string& today) {
  if (!period.ended_on.empty()) return Status::FailedPrecondition("the contract was ended already");
  if (!(last_day < period.valid_to)) {
    return Status::InvalidArgument("last_day must be before the contract's own last day");
  }
  DateParse from = ParseIsoDate(period.valid_from);
  DateParse now = ParseIsoDate(today);
  if (!from.date || !now.date) return Status::InvalidArgument("a date is malformed");
  if (today < period.valid_from) {
    if (last_day < Date::FromDays(from.date->ToDays() - 1).ToIso()) {
      return Status::InvalidArgument(
          "last_day must not be before the day before the contract's first day");
    }
  } else if (last_day < Date::FromDays(now.date->ToDays() - 1).ToIso()) {
    return Status::InvalidArgument(
        "last_day must not be before yesterday: a contract in force ends from now on");
  }
  return Status::Ok();
}

class RegisterReader {
 public:
  virtual ~RegisterReader() = default;
  // Newest first (held_on, then id), at most `limit`, with their attendees.
  virtual Result<std::vector<TrainingRow>> ListTrainings(int limit) = 0;
  // Newest first (by id), at most `limit`, with their workers.
  virtual Result<std::vector<ContractRow>> ListContracts(int limit) = 0;
  // Newest first (conducted_on, then id), at most `limit`.
  virtual Result<std::vector<ReviewRow>> ListReviews(int limit) = 0;
};

class RegisterWriter {
 public:
  virtual ~RegisterWriter() = default;
  // The session and its attendees (each an operator id of the register). Returns the new id.
  virtual Result<int64_t> InsertTraining(const TrainingRow& row) = 0;
  virtual Result<int64_t> InsertContract(const ContractRow& row) = 0;
  // Lists an operator as a worker of a contract. NotFound if there is no such contract;
  // AlreadyExists if they are listed already (or were, and were removed: a removed worker is
  // not listed under that contract again).
  virtual Status InsertContractWorker(const ContractWorkerRow& row) = 0;
  // Takes a worker off a contract's roster (the row stays, marked). NotFound if they are not
  // listed under it; FailedPrecondition if they were removed already.
  virtual Status RemoveContractWorker(int64_t contract_id, const std::string& operator_id,
                                      int64_t at, const std::string& by) = 0;
  // Ends a contract before its last day: `last_day` (YYYY-MM-DD) becomes its last day in force.
  // NotFound: no such contract; FailedPrecondition: ended already; InvalidArgument: `last_day` is
  // not before the contract's own last day, or before the day before its first
  // (CheckContractEnd, with `today` the JST date the end is recorded on).
  virtual Status EndContract(int64_t contract_id, const std::string& last_day,
                             const std::string& today, int64_t at, const std::string& by) = 0;
  virtual Result<int64_t> InsertReview(const ReviewRow& row) = 0;

  // What the operator register's rules ask, read in the transaction that relies on them:
  // whether `operator_id` attended a training of `kind` held between `from` and `to`
  // (YYYY-MM-DD, both included), of a training not recorded by `not_recorded_by` ("": by
  // anyone) nor by the attendee themselves…
  virtual Result<bool> AttendedTraining(const std::string& operator_id, const std::string& kind,
                                        const std::string& from, const std::string& to,
                                        const std::string& not_recorded_by) = 0;
  // …and whether they are a worker, not removed, of a contract in force on `day` (valid_from
  // <= day <= valid_to, and not after ended_on when it was ended); with `day` "", of any
  // contract, in force or not (a contractor's worker until taken off its roster).
  virtual Result<bool> WorksUnderContract(const std::string& operator_id,
                                          const std::string& day) = 0;
};

}  // namespace kakunin::store
