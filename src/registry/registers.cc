#include "registry/registers.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "core/date.h"
#include "registry/detail/registry_internal.h"
#include "text/search_key.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

constexpr int kListLimit = 200;
constexpr size_t kMaxAttendees = 200;

constexpr const char* kTrainingRecord = "register.training.record";
constexpr const char* kTrainingList = "register.training.list";
constexpr const char* kContractRecord = "register.contract.record";
constexpr const char* kContractWorker = "register.contract.worker";
constexpr const char* kContractList = "register.contract.list";
constexpr const char* kContractWorkerRemoval = "register.contract.worker_removal";
constexpr const char* kContractEnd = "register.contract.end";
constexpr const char* kReviewRecord = "register.review.record";
constexpr const char* kReviewList = "register.review.list";

Status NotPermitted(const std::string& why) {
  return Status::PermissionDenied(why).WithReason("not_permitted");
}

Status Invalid(const std::string& why) {
  return Status::InvalidArgument(why).WithReason("invalid_request");
}

bool HasAny(const OperatorView& op, const std::vector<std::string>& roles) {
  return std::any_of(roles.begin(), roles.end(), [&](const std::string& r) { return op.HasRole(r); });
}

// A date as the API spells it (YYYY-MM-DD, canonical).
std::optional<Date> IsoDate(const std::string& s) {
  auto d = ParseIsoDate(s).date;
  if (!d || d->ToIso() != s) return std::nullopt;
  return d;
}

std::string RolesText(const std::vector<std::string>& roles) {
  std::string out;
  for (size_t i = 0; i < roles.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == roles.size() ? " or " : ", ") + roles[i];
  }
  return out;
}

const std::vector<std::string> kTrainingWriters = {"security_chief", "security_manager"};
const std::vector<std::string> kTrainingReaders = {"security_chief", "security_manager",
                                                   "auditor"};
const std::vector<std::string> kContractWriters = {"security_chief"};
const std::vector<std::string> kContractReaders = {"security_chief", "security_manager",
                                                   "access_manager", "auditor"};
const std::vector<std::string> kReviewReaders = {"security_chief", "auditor", "security_manager"};
const std::vector<std::string> kLogReaders = {"auditor", "access_manager", "security_manager"};
constexpr const char* kLogRead = "audit.search";

std::vector<std::string> ReviewWriters(const std::string& kind) {
  if (kind == "self_inspection") return {"security_chief"};
  if (kind == "audit") return {"auditor"};
  if (kind == "log_review") return {"auditor", "security_manager", "access_manager"};
  return {};
}

}  // namespace

namespace {

// What the code point at `text[i]` is to a number, and its bytes: a digit in any script
// (text::DigitValue: ASCII, full width, Arabic-Indic, mathematical, kanji 〇一二…九), or a
// letter people write for one (O o for 0, I l for 1, full width too), or neither (0 bytes).
// Found in review: 六五一〇一五二〇九七四八, 𝟔𝟓𝟏…, ٦٥١… and O39O536716O passed.
struct DigitLike {
  size_t width = 0;
  bool real = false;  // a digit, not a letter written for one
};
DigitLike DigitAt(std::string_view text, size_t i) {
  size_t pos = i;
  auto cp = text::DecodeOne(text, &pos);
  if (!cp) return {};
  if (text::DigitValue(*cp) >= 0) return {pos - i, true};
  switch (*cp) {
    case 'O': case 'o': case 'I': case 'l':
    case 0xFF2F: case 0xFF4F: case 0xFF29: case 0xFF4C:  // Ｏ ｏ Ｉ ｌ
      return {pos - i, false};
    default:
      return {};
  }
}

// Whether people write `cp` between groups of a number's digits, or could slip it in unseen: a
// space, a hyphen or dash, any punctuation (. , / _ ・ 、 and the like), half- or full-width, ー,
// and the invisible format characters (zero-width spaces and joiners, bidirectional marks, the
// byte-order mark). Found in review: "0390.5367.160", "12,345,678,901" and digits joined by
// U+200B passed as no number.
bool IsNumberSeparator(char32_t cp) {
  if (cp < 0x80) {
    return cp == ' ' || (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') ||
           (cp >= '[' && cp <= '`') || (cp >= '{' && cp <= '~');
  }
  return cp == 0x00A0 || cp == 0x00AD || cp == 0x061C || cp == 0x180E ||
         (cp >= 0x2000 && cp <= 0x206F) ||  // general punctuation: spaces, dashes, ZW*, marks
         cp == 0x2212 ||                    // minus sign
         (cp >= 0x3000 && cp <= 0x3003) ||  // 　 、 。 〃
         cp == 0x30FB || cp == 0x30FC ||    // ・ ー
         cp == 0xFEFF || (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
         (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) || cp == 0xFF70;
}

// The bytes of the code point at `text[i]` if it is a separator (IsNumberSeparator), else 0.
size_t SeparatorWidth(std::string_view text, size_t i) {
  size_t pos = i;
  auto cp = text::DecodeOne(text, &pos);
  return cp && IsNumberSeparator(*cp) ? pos - i : 0;
}

}  // namespace

bool HoldsResidentNumber(std::string_view text) {
  // Groups of digits joined by at most kJoin separators (e.g. "1234 5678 9012", "123-4567-8901",
  // "1234 - 5678 - 9012") are one number; its digits are counted across the groups.
  constexpr size_t kJoin = 3;
  // Letters written for digits count only in a run of mostly real digits (kMinReal of the
  // 11 or 12), so words are not numbers.
  constexpr size_t kMinReal = 7;
  size_t digits = 0;      // of the number being read, letters written for digits included
  size_t real = 0;        // of which real digits
  size_t separators = 0;  // since its last digit
  auto found = [&] { return (digits == 11 || digits == 12) && real >= kMinReal; };
  for (size_t i = 0; i < text.size();) {
    if (DigitLike d = DigitAt(text, i); d.width != 0) {
      ++digits;
      real += d.real ? 1 : 0;
      separators = 0;
      i += d.width;
      continue;
    }
    if (size_t w = SeparatorWidth(text, i); w != 0 && digits != 0 && ++separators <= kJoin) {
      i += w;
      continue;
    }
    if (found()) return true;
    digits = 0;
    real = 0;
    separators = 0;
    ++i;
  }
  return found();
}

bool HoldsInvisibleFormatting(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    auto cp = text::DecodeOne(text, &pos);
    if (!cp) return false;  // not text: CheckText refuses it
    if (*cp == 0x00AD || *cp == 0x061C || *cp == 0x180E || (*cp >= 0x200B && *cp <= 0x200F) ||
        (*cp >= 0x2028 && *cp <= 0x202E) || (*cp >= 0x2060 && *cp <= 0x206F) || *cp == 0xFEFF) {
      return true;
    }
  }
  return false;
}

Status CheckFreeText(const std::string& s, size_t max, bool lines, const char* field) {
  size_t code_points = 0;
  size_t at = 0;
  while (at <= s.size()) {
    size_t nl = lines ? s.find('\n', at) : std::string::npos;
    std::string_view line =
        std::string_view(s).substr(at, nl == std::string::npos ? std::string_view::npos : nl - at);
    size_t n = 0;
    if (text::CheckText(line, &n) != text::TextCheck::kOk) {
      return Invalid(std::string(field) + " must be text (UTF-8, no control characters" +
                     (lines ? " but line breaks)" : ")"));
    }
    code_points += n + 1;
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  if (s.empty() || code_points - 1 > max) {
    return Invalid(std::string(field) + " must hold 1 to " + std::to_string(max) + " characters");
  }
  if (HoldsResidentNumber(s)) {
    return Invalid(std::string(field) +
                   " must not hold an 11- or 12-digit number (a resident code or an individual "
                   "number): the registers keep no resident data");
  }
  if (HoldsInvisibleFormatting(s)) {
    return Invalid(std::string(field) +
                   " must not hold invisible format characters (zero-width or direction marks)");
  }
  return Status::Ok();
}

RegisterDesk::RegisterDesk(Registry* registry, store::RegistryStore* store, const Clock* clock)
    : registry_(registry), store_(store), clock_(clock) {}

Status RegisterDesk::Refuse(const Actor& actor, const char* action, Status why) const {
  KAKUNIN_RETURN_IF_ERROR(registry_->Record(registry_->RefusalEntry(actor, action, "", why, {})));
  return why;
}

Status RegisterDesk::RecordRead(const OperatorView& op, const Actor& actor, const char* action,
                                int64_t count, const std::vector<std::string>& roles) const {
  audit::AuditEntry e = detail::ReadEntry(actor, action, "");
  e.result_count = count;
  e.outcome = "done";
  // A read that cannot be recorded is not answered (DESIGN §5); nor one whose reader lost the
  // right to it while it was on its way (a later review: only the changes checked again).
  Status st = registry_->RecordWith(
      std::move(e), [&](store::RegistryTxn& txn) { return StillHoldsOneOf(txn, op, roles); });
  if (st.code() == StatusCode::kPermissionDenied) return Refuse(actor, action, st);
  return st;
}

Status RegisterDesk::RecordChange(
    const OperatorView& op, const Actor& actor, const char* action, std::vector<std::string> roles,
    const std::function<Status(store::RegistryTxn&, audit::AuditEntry&)>& write) const {
  audit::AuditEntry e = detail::ReadEntry(actor, action, "");
  e.outcome = "done";
  Status st = registry_->RecordCompleted(
      std::move(e), [&](store::RegistryTxn& txn, audit::AuditEntry& entry) -> Status {
        KAKUNIN_RETURN_IF_ERROR(StillHoldsOneOf(txn, op, roles));
        return write(txn, entry);
      });
  if (st.ok()) return st;
  switch (st.code()) {
    case StatusCode::kPermissionDenied:
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kFailedPrecondition:
      return Refuse(actor, action, st);
    case StatusCode::kAlreadyExists:
      return Refuse(actor, action,
                    Status::FailedPrecondition(st.message()).WithReason("conflict"));
    default:
      return st;
  }
}

// --- training ---

Result<int64_t> RegisterDesk::RecordTraining(const OperatorView& op, const Actor& actor,
                                             const TrainingInput& in) const {
  if (!op.active() || !HasAny(op, kTrainingWriters)) {
    return Refuse(actor, kTrainingRecord,
                  NotPermitted("only a security chief or a security manager records training"));
  }
  const Date today = clock_->TodayJst();
  auto held = IsoDate(in.held_on);
  if (!held || *held > today) {
    return Refuse(actor, kTrainingRecord,
                  Invalid("held_on must be a date (YYYY-MM-DD), not in the future"));
  }
  if (in.kind != "operator" && in.kind != "manager") {
    return Refuse(actor, kTrainingRecord, Invalid("kind must be operator or manager"));
  }
  if (Status st = CheckFreeText(in.title, 200, false, "title"); !st.ok()) {
    return Refuse(actor, kTrainingRecord, st);
  }
  std::set<std::string> attendees;
  for (const std::string& a : in.attendees) {
    if (!IsValidOperatorId(a) || !attendees.insert(a).second) {
      return Refuse(actor, kTrainingRecord,
                    Invalid("attendees must be operator ids, each named once"));
    }
  }
  // Nobody records their own attendance (found in review: a security manager holding the
  // operator role recorded a back-dated training of their own).
  if (attendees.count(op.row.operator_id) != 0) {
    return Refuse(actor, kTrainingRecord,
                  NotPermitted("nobody records a training they attended: another manager does"));
  }
  if (attendees.empty() || attendees.size() > kMaxAttendees) {
    return Refuse(actor, kTrainingRecord, Invalid("attendees must name 1 to 200 operators"));
  }
  store::TrainingRow row;
  row.held_on = in.held_on;
  row.kind = in.kind;
  row.title = in.title;
  row.recorded_at = clock_->NowMicros();
  row.recorded_by = op.row.operator_id;
  row.attendees.assign(attendees.begin(), attendees.end());
  int64_t id = 0;
  KAKUNIN_RETURN_IF_ERROR(RecordChange(
      op, actor, kTrainingRecord, kTrainingWriters,
      [&](store::RegistryTxn& txn, audit::AuditEntry& e) -> Status {
        for (const std::string& a : row.attendees) {
          KAKUNIN_ASSIGN_OR_RETURN(found, txn.FindOperator(a));
          if (!found) return Invalid("attendees must be operators of the register");
        }
        KAKUNIN_ASSIGN_OR_RETURN(made, txn.InsertTraining(row));
        id = made;
        e.conditions = "training=" + std::to_string(made) + " kind=" + row.kind;
        e.result_count = static_cast<int64_t>(row.attendees.size());
        return Status::Ok();
      }));
  return id;
}

Result<std::vector<Training>> RegisterDesk::Trainings(const OperatorView& op,
                                                      const Actor& actor) const {
  if (!op.active() || !HasAny(op, kTrainingReaders)) {
    return Refuse(actor, kTrainingList,
                  NotPermitted("only security chiefs, security managers and auditors read the "
                               "training register"));
  }
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->ListTrainings(kListLimit));
  std::vector<Training> out;
  for (store::TrainingRow& r : rows) {
    out.push_back(Training{r.id, r.held_on, r.kind, r.title, std::move(r.attendees),
                           r.recorded_at, r.recorded_by});
  }
  KAKUNIN_RETURN_IF_ERROR(RecordRead(op, actor, kTrainingList, static_cast<int64_t>(out.size()),
                                     kTrainingReaders));
  return out;
}

// --- contracts ---

Result<int64_t> RegisterDesk::RecordContract(const OperatorView& op, const Actor& actor,
                                             const ContractInput& in) const {
  if (!op.active() || !HasAny(op, kContractWriters)) {
    return Refuse(actor, kContractRecord,
                  NotPermitted("only a security chief records contracts"));
  }
  auto invalid = [&](const std::string& why) { return Refuse(actor, kContractRecord, Invalid(why)); };
  if (Status st = CheckFreeText(in.company, 200, false, "company"); !st.ok()) {
    return Refuse(actor, kContractRecord, st);
  }
  if (Status st = CheckFreeText(in.work, 500, false, "work"); !st.ok()) {
    return Refuse(actor, kContractRecord, st);
  }
  auto from = IsoDate(in.from);
  auto to = IsoDate(in.to);
  if (!from || !to || *to < *from) {
    return invalid("from and to must be dates (YYYY-MM-DD), from <= to");
  }
  const Date today = clock_->TodayJst();
  if (in.subcontracting == "approved") {
    auto approved = IsoDate(in.approved_on);
    if (!approved || *approved > today) {
      return invalid(
          "approved_on must be the date of the written approval of subcontracting (YYYY-MM-DD, "
          "not in the future)");
    }
  } else if (in.subcontracting == "prohibited") {
    if (!in.approved_on.empty()) {
      return invalid("approved_on is given only when subcontracting is approved");
    }
  } else {
    return invalid("subcontracting must be prohibited or approved");
  }
  if (!in.pledge_received_on.empty()) {
    auto pledge = IsoDate(in.pledge_received_on);
    if (!pledge || *pledge > today) {
      return invalid("pledge_received_on must be a date (YYYY-MM-DD), not in the future");
    }
  }
  store::ContractRow row;
  row.company = in.company;
  row.work = in.work;
  row.valid_from = in.from;
  row.valid_to = in.to;
  row.subcontracting = in.subcontracting;
  row.approved_on = in.approved_on;
  row.pledge_received_on = in.pledge_received_on;
  row.recorded_at = clock_->NowMicros();
  row.recorded_by = op.row.operator_id;
  int64_t id = 0;
  KAKUNIN_RETURN_IF_ERROR(RecordChange(
      op, actor, kContractRecord, kContractWriters,
      [&](store::RegistryTxn& txn, audit::AuditEntry& e) -> Status {
        KAKUNIN_ASSIGN_OR_RETURN(made, txn.InsertContract(row));
        id = made;
        e.conditions = "contract=" + std::to_string(made) + " subcontracting=" + row.subcontracting +
                       " pledge=" + (row.pledge_received_on.empty() ? "no" : "yes");
        return Status::Ok();
      }));
  return id;
}

Status RegisterDesk::AddWorker(const OperatorView& op, const Actor& actor, int64_t contract_id,
                               const std::string& operator_id) const {
  if (!op.active() || !HasAny(op, kContractWriters)) {
    return Refuse(actor, kContractWorker,
                  NotPermitted("only a security chief lists a contract's workers"));
  }
  if (!IsValidOperatorId(operator_id)) {
    return Refuse(actor, kContractWorker, Invalid("operator_id must be an operator id"));
  }
  return RecordChange(
      op, actor, kContractWorker, kContractWriters,
      [&](store::RegistryTxn& txn, audit::AuditEntry& e) -> Status {
        KAKUNIN_ASSIGN_OR_RETURN(found, txn.FindOperator(operator_id));
        if (!found) return Status::NotFound("no such operator").WithReason("not_found");
        // The prefecture's own staff are nobody's contract workers (found in review: the chief
        // and an operator were listed as a contractor's workers).
        KAKUNIN_ASSIGN_OR_RETURN(roles, txn.OperatorRoles(operator_id));
        for (const std::string& role : roles) {
          if (role != "contractor") {
            return Status::FailedPrecondition(
                       "an operator holding another role is the prefecture's staff, not a "
                       "contractor's worker")
                .WithReason("conflict");
          }
        }
        store::ContractWorkerRow w;
        w.contract_id = contract_id;
        w.operator_id = operator_id;
        w.added_at = clock_->NowMicros();
        w.added_by = op.row.operator_id;
        Status st = txn.InsertContractWorker(w);
        if (st.code() == StatusCode::kNotFound) {
          return Status::NotFound("no such contract").WithReason("not_found");
        }
        KAKUNIN_RETURN_IF_ERROR(st);
        e.conditions = "contract=" + std::to_string(contract_id) + " operator=" + operator_id;
        return Status::Ok();
      });
}

Status RegisterDesk::RemoveWorker(const OperatorView& op, const Actor& actor, int64_t contract_id,
                                  const std::string& operator_id) const {
  if (!op.active() || !HasAny(op, kContractWriters)) {
    return Refuse(actor, kContractWorkerRemoval,
                  NotPermitted("only a security chief takes a worker off a contract's roster"));
  }
  if (!IsValidOperatorId(operator_id)) {
    return Refuse(actor, kContractWorkerRemoval, Invalid("operator_id must be an operator id"));
  }
  return RecordChange(
      op, actor, kContractWorkerRemoval, kContractWriters,
      [&](store::RegistryTxn& txn, audit::AuditEntry& e) -> Status {
        Status st = txn.RemoveContractWorker(contract_id, operator_id, clock_->NowMicros(),
                                             op.row.operator_id);
        if (st.code() == StatusCode::kNotFound) {
          return Status::NotFound("no such worker of that contract").WithReason("not_found");
        }
        if (st.code() == StatusCode::kFailedPrecondition) {
          return Status::FailedPrecondition(st.message()).WithReason("conflict");
        }
        KAKUNIN_RETURN_IF_ERROR(st);
        e.conditions = "contract=" + std::to_string(contract_id) + " operator=" + operator_id;
        return Status::Ok();
      });
}

Status RegisterDesk::EndContract(const OperatorView& op, const Actor& actor, int64_t contract_id,
                                 const std::string& last_day) const {
  if (!op.active() || !HasAny(op, kContractWriters)) {
    return Refuse(actor, kContractEnd, NotPermitted("only a security chief ends a contract"));
  }
  auto day = IsoDate(last_day);
  if (!day) {
    return Refuse(actor, kContractEnd, Invalid("last_day must be a date (YYYY-MM-DD)"));
  }
  return RecordChange(
      op, actor, kContractEnd, kContractWriters,
      [&](store::RegistryTxn& txn, audit::AuditEntry& e) -> Status {
        Status st = txn.EndContract(contract_id, day->ToIso(), clock_->TodayJst().ToIso(),
                                    clock_->NowMicros(), op.row.operator_id);
        if (st.code() == StatusCode::kNotFound) {
          return Status::NotFound("no such contract").WithReason("not_found");
        }
        if (st.code() == StatusCode::kFailedPrecondition) {
          return Status::FailedPrecondition(st.message()).WithReason("conflict");
        }
        if (st.code() == StatusCode::kInvalidArgument) return Invalid(st.message());
        KAKUNIN_RETURN_IF_ERROR(st);
        e.conditions = "contract=" + std::to_string(contract_id) + " last_day=" + day->ToIso();
        return Status::Ok();
      });
}

Result<std::vector<Contract>> RegisterDesk::Contracts(const OperatorView& op,
                                                      const Actor& actor) const {
  if (!op.active() || !HasAny(op, kContractReaders)) {
    return Refuse(actor, kContractList,
                  NotPermitted("only security chiefs, security and access managers and auditors "
                               "read the contractor register"));
  }
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->ListContracts(kListLimit));
  const std::string today = clock_->TodayJst().ToIso();
  std::vector<Contract> out;
  for (store::ContractRow& r : rows) {
    Contract c;
    c.id = r.id;
    c.company = std::move(r.company);
    c.work = std::move(r.work);
    c.from = r.valid_from;
    c.to = r.valid_to;
    c.subcontracting = r.subcontracting;
    c.approved_on = r.approved_on;
    c.pledge_received_on = r.pledge_received_on;
    c.ended_on = r.ended_on;
    c.ended_at = r.ended_at;
    c.ended_by = r.ended_by;
    c.in_force = r.valid_from <= today && today <= r.valid_to &&
                 (r.ended_on.empty() || today <= r.ended_on);
    c.recorded_at = r.recorded_at;
    c.recorded_by = r.recorded_by;
    for (const auto& w : r.workers) {
      c.workers.push_back({w.operator_id, w.added_at, w.added_by, w.removed_at, w.removed_by});
    }
    out.push_back(std::move(c));
  }
  KAKUNIN_RETURN_IF_ERROR(RecordRead(op, actor, kContractList, static_cast<int64_t>(out.size()),
                                     kContractReaders));
  return out;
}

// --- reviews ---

Result<int64_t> RegisterDesk::RecordReview(const OperatorView& op, const Actor& actor,
                                           const ReviewInput& in) const {
  const std::vector<std::string> writers = ReviewWriters(in.kind);
  if (!op.active() || !HasAny(op, {"security_chief", "auditor", "security_manager",
                                   "access_manager"})) {
    return Refuse(actor, kReviewRecord,
                  NotPermitted("only security chiefs, auditors and security or access managers "
                               "record reviews"));
  }
  if (writers.empty()) {
    return Refuse(actor, kReviewRecord,
                  Invalid("kind must be self_inspection, audit or log_review"));
  }
  if (!HasAny(op, writers)) {
    return Refuse(actor, kReviewRecord,
                  NotPermitted("a " + in.kind + " is recorded by a " + RolesText(writers)));
  }
  auto invalid = [&](const std::string& why) { return Refuse(actor, kReviewRecord, Invalid(why)); };
  const Date today = clock_->TodayJst();
  auto from = IsoDate(in.period_from);
  auto to = IsoDate(in.period_to);
  auto conducted = IsoDate(in.conducted_on);
  if (!from || !to || *to < *from) {
    return invalid("period_from and period_to must be dates (YYYY-MM-DD), from <= to");
  }
  if (!conducted || *conducted < *to || *conducted > today) {
    return invalid(
        "conducted_on must be a date (YYYY-MM-DD) not before period_to and not in the future");
  }
  if (in.result != "no_findings" && in.result != "findings") {
    return invalid("result must be no_findings or findings");
  }
  if (Status st = CheckFreeText(in.summary, 2000, true, "summary"); !st.ok()) {
    return Refuse(actor, kReviewRecord, st);
  }
  store::ReviewRow row;
  row.kind = in.kind;
  row.period_from = in.period_from;
  row.period_to = in.period_to;
  row.conducted_on = in.conducted_on;
  row.result = in.result;
  row.summary = in.summary;
  row.recorded_at = clock_->NowMicros();
  row.recorded_by = op.row.operator_id;
  int64_t id = 0;
  KAKUNIN_RETURN_IF_ERROR(RecordChange(
      op, actor, kReviewRecord, writers,
      [&](store::RegistryTxn& txn, audit::AuditEntry& e) -> Status {
        KAKUNIN_ASSIGN_OR_RETURN(made, txn.InsertReview(row));
        id = made;
        e.conditions =
            "review=" + std::to_string(made) + " kind=" + row.kind + " result=" + row.result;
        return Status::Ok();
      }));
  return id;
}

Result<std::vector<Review>> RegisterDesk::Reviews(const OperatorView& op,
                                                  const Actor& actor) const {
  if (!op.active() || !HasAny(op, kReviewReaders)) {
    return Refuse(actor, kReviewList,
                  NotPermitted("only security chiefs, auditors and security managers read the "
                               "review register"));
  }
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->ListReviews(kListLimit));
  std::vector<Review> out;
  for (store::ReviewRow& r : rows) {
    out.push_back(Review{r.id, r.kind, r.period_from, r.period_to, r.conducted_on, r.result,
                         std::move(r.summary), r.recorded_at, r.recorded_by});
  }
  KAKUNIN_RETURN_IF_ERROR(RecordRead(op, actor, kReviewList, static_cast<int64_t>(out.size()),
                                     kReviewReaders));
  return out;
}

Result<LogPage> RegisterDesk::ReadLog(const OperatorView& op, const Actor& actor,
                                      const AuditDesk& audit, const LogReadInput& in) const {
  if (!op.active() || !HasAny(op, kLogReaders)) {
    return Refuse(actor, kLogRead,
                  NotPermitted("only auditors, access managers and security managers read the "
                               "operation log"));
  }
  LogQuery q;
  auto day = [](const std::optional<std::string>& v, std::optional<int64_t>* out) {
    if (!v) return true;
    auto d = ParseIsoDate(*v).date;
    if (!d) return false;
    *out = JstMidnightMicros(*d);
    return true;
  };
  if (!day(in.from, &q.from_time) || !day(in.to, &q.to_time)) {
    return Refuse(actor, kLogRead, Invalid("from and to must be dates (YYYY-MM-DD)"));
  }
  if (in.limit < 1 || in.limit > 1000) {
    return Refuse(actor, kLogRead, Invalid("limit must be 1 to 1000"));
  }
  for (const auto* f : {&in.actor, &in.action}) {
    if (*f && ((*f)->empty() || LoggedFilter(**f) != **f)) {
      return Refuse(actor, kLogRead, Invalid("actor and action are ids ([A-Za-z0-9:._@+-])"));
    }
  }
  const bool whole_log = HasAny(op, {"auditor", "access_manager"});
  const std::string my_id = op.row.operator_id;
  std::string unit_member;  // a security manager's: the operator of their unit named
  if (!whole_log) {
    const std::string prefix = "operator:";
    if (!in.actor || !in.actor->starts_with(prefix)) {
      return Refuse(actor, kLogRead,
                    Invalid("a security manager reviews the log of their unit: name an "
                            "operator of it as actor (operator:ID)"));
    }
    unit_member = in.actor->substr(prefix.size());
  }
  if (in.after && (*in.after < 0 || *in.after >= INT64_MAX)) {
    return Refuse(actor, kLogRead, Invalid("after must be an entry's sequence number"));
  }
  q.actor = in.actor;
  q.action = in.action;
  // Found in review: a day with more than 1,000 matching entries could not be read past them.
  if (in.after) q.from_seq = *in.after + 1;
  q.limit = in.limit + 1;  // one more tells whether the limit cut the answer
  KAKUNIN_ASSIGN_OR_RETURN(rows, audit.Search(q));
  LogPage page;
  page.truncated = static_cast<int>(rows.size()) > in.limit;
  if (page.truncated) rows.resize(static_cast<size_t>(in.limit));
  audit::AuditEntry e = detail::ReadEntry(actor, kLogRead, "");
  e.conditions = "actor=" + LoggedFilter(in.actor.value_or("")) +
                 " action=" + LoggedFilter(in.action.value_or("")) + " purpose=" +
                 " from=" + LoggedFilter(in.from.value_or("")) +
                 " to=" + LoggedFilter(in.to.value_or("")) +
                 (in.after ? " after=" + std::to_string(*in.after) : std::string());
  e.result_count = static_cast<int64_t>(rows.size());
  e.outcome = "done";
  // The reader's rights, and a security manager's unit, as the recording transaction sees them.
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(StillHoldsOneOf(txn, op, kLogReaders));
    if (unit_member.empty()) return Status::Ok();
    KAKUNIN_ASSIGN_OR_RETURN(me, txn.FindOperator(my_id));
    KAKUNIN_ASSIGN_OR_RETURN(them, txn.FindOperator(unit_member));
    if (!me || !them || me->unit.empty() || me->unit != them->unit) {
      return NotPermitted("a security manager reviews the log of their own unit only");
    }
    return Status::Ok();
  });
  if (st.code() == StatusCode::kPermissionDenied) return Refuse(actor, kLogRead, st);
  KAKUNIN_RETURN_IF_ERROR(st);
  for (auto& r : rows) {
    LogRecord record = audit.ForReview(std::move(r));
    // No resident, not even by keyed MAC: the same MAC in two entries links them, and a reviewer
    // who also holds a role that reads (or is refused) a code they typed would see its MAC in
    // their own entry and find every entry about that person (found in review). Testing a
    // suspicion about a resident stays the host's `kakunin audit search --target`; here each
    // target shows only whether the person was found.
    if (record.entry) {
      for (std::string& t : record.entry->targets) {
        if (!t.starts_with("mac:")) continue;
        const size_t status = t.find(':', 4);
        t = "resident" + (status == std::string::npos ? std::string() : t.substr(status));
      }
    }
    page.records.push_back(std::move(record));
  }
  return page;
}

}  // namespace kakunin::registry
