#include "registry/disclosure.h"

#include <algorithm>
#include <map>
#include <set>

#include "audit/statement.h"
#include "core/bytes.h"
#include "crypto/sha256.h"
#include "domain/enums.h"
#include "domain/identifiers.h"
#include "domain/local_gov_code.h"
#include "registry/audit_desk.h"
#include "registry/detail/registry_internal.h"
#include "render/pdf.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {
// A printout row's reference to the request it printed: this prefix and the request's id.
constexpr std::string_view kReferencePrefix = "disclosure:";
// …followed, for a correction's result notice, by this and the correction's id.
constexpr std::string_view kCorrectionReference = "/correction:";

constexpr int kListLimit = 200;
constexpr int kReferralLimit = 100;
constexpr size_t kMaxDetailsCodePoints = 2000;

const char* const kRequesters[] = {"self", "legal_representative"};
const char* const kDocuments[] = {"individual_number_card", "driver_license", "passport",
                                  "two_documents"};
const char* const kChannels[] = {"counter", "post", "online"};
const char* const kClosings[] = {"withdrawn", "rejected", "entered_in_error"};
const char* const kRejections[] = {"identity_not_confirmed", "not_entitled", "incomplete"};

template <size_t N>
bool OneOf(const char* const (&set)[N], const std::string& v) {
  return std::find_if(std::begin(set), std::end(set), [&](const char* s) { return v == s; }) !=
         std::end(set);
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size() && !s.empty()) {
    size_t next = s.find(',', at);
    out.push_back(s.substr(at, next == std::string::npos ? std::string::npos : next - at));
    if (next == std::string::npos) break;
    at = next + 1;
  }
  return out;
}

std::string JoinComma(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

Status RequestClosed() {
  return Status::FailedPrecondition(
             "この請求は通知書なしに終了しています（取下げ・却下・登録誤り） / the request was "
             "closed without a notice (withdrawn, rejected or entered in error)")
      .WithReason("request_closed");
}

Status NotNominated() {
  return Status::PermissionDenied("the operator is not nominated for the disclosure desk")
      .WithReason("not_nominated");
}

// The CS's certificate still registered and not revoked, and the node not halted, as this
// transaction sees them.
// How long after the decision a notice may be printed again (a spoiled or lost sheet).
constexpr int64_t kReprintWindow = int64_t{3600} * 1000000;

Status NoSuchRequest() {
  return Status::NotFound("no such disclosure request").WithReason("not_found");
}

// --- the notices' wording and layout ---

// Adds a heading or paragraph to `doc`.
void AddText(render::PdfDocument& doc, render::PdfBlock::Kind kind, std::string text) {
  render::PdfBlock b;
  b.kind = kind;
  b.text = std::move(text);
  doc.blocks.push_back(std::move(b));
}

// The pages of a PDF RenderPdf made (its /Type /Page objects, not the /Type /Pages tree).
int64_t PageCount(const std::string& pdf) {
  int64_t pages = 0;
  for (size_t at = 0; (at = pdf.find("/Type /Page", at)) != std::string::npos; at += 11) {
    if (pdf.compare(at + 11, 1, "s") != 0) ++pages;
  }
  return pages;
}

std::string ItemLabel(std::string_view item) {
  if (item == "resident_code") return "住民票コード";
  if (item == "individual_number") return "個人番号";
  if (item == "name") return "氏名";
  if (item == "name_kana") return "氏名の振り仮名";
  if (item == "former_surname") return "旧氏";
  if (item == "alias") return "通称";
  if (item == "sex") return "性別";
  if (item == "birth_date") return "生年月日";
  if (item == "address") return "住所";
  if (item == "municipality_code") return "市町村コード";
  return std::string(item);
}

std::string ItemValue(std::string_view item, const std::string& value) {
  if (item == "sex") {
    if (auto s = ParseSex(value)) return std::string(SexJapanese(*s));
  }
  if (item == "birth_date") {
    if (auto d = ParseIsoDate(value).date) return d->ToWareki() + "（" + value + "）";
  }
  return value;
}

std::string KindLabel(const std::string& kind) {
  if (auto k = ParseNotificationKind(kind)) return std::string(NotificationKindJapanese(*k));
  return kind;
}

std::string ReasonLabel(const std::string& reason) {
  if (auto r = ParseChangeReason(reason)) return std::string(ChangeReasonJapanese(*r));
  return reason;
}

std::string FunctionLabel(const std::string& f) {
  if (f == "lookup") return "照会（住民票コード）";
  if (f == "search") return "検索";
  if (f == "batch") return "一括提供";
  if (f == "history") return "履歴の照会";
  if (f == "disclosure") return "本人への開示";
  return f;
}

std::string DateTimeOf(int64_t micros) {
  // "2026-12-05T13:20:44.123456+09:00" → "令和8年12月5日 13:20"
  std::string iso = JstIsoTime(micros);
  return JstDate(micros).ToWareki() + " " + iso.substr(11, 5);
}

// The items a version shows, as "label：value" lines (display forms of 外字 preferred).
std::string VersionItems(const std::vector<std::pair<std::string, std::string>>& items) {
  std::map<std::string, std::string> display;
  for (const auto& [k, v] : items) {
    if (k.ends_with("_display")) display[k.substr(0, k.size() - 8)] = v;
  }
  std::string out;
  for (const auto& [k, v] : items) {
    if (k.ends_with("_display") || k == "municipality_name") continue;
    auto d = display.find(k);
    out += (out.empty() ? "" : "\n") + ItemLabel(k) + "：" +
           ItemValue(k, d == display.end() ? v : d->second);
  }
  return out;
}

// Open corrections looked at per referral: every municipality's (a correction follows its
// resident when they move within the prefecture), at most this many at once.
constexpr int kOpenCorrectionsScanned = 10000;

// 支援措置 at the desk: while a measure protects the person, whoever impersonates them by post
// or with copies of documents, or a legal representative (in a case of child abuse usually the
// other party), must not get their record — the new address, the new 住民票コード a code change
// gave them — from this desk. Their record then goes out of it only to the person themself, at
// the counter, on a photo identity document, under the code they hold now (a request naming a
// replaced code follows the chain to the record the change was meant to cut off: found in
// review). The municipality holding the record decides anything else. `person` is the record
// the request leads to; OK when no measure is in force.
Status MeasureAllows(const store::DisclosureRow& row, const std::optional<store::ResidentRow>& person,
                     const std::optional<store::SupportMeasureRow>& measure,
                     const std::string& today) {
  if (!person || !measure || !SupportMeasureInForce(*measure, today)) return Status::Ok();
  if (row.requester != "self") {
    return Status::FailedPrecondition(
               "支援措置の対象者です。法定代理人への通知書はこの窓口では交付しません（住民票の"
               "ある市町村が判断します） / a notice to a legal representative is not issued here "
               "while a support measure protects the person: refer the request to the "
               "municipality holding the record")
        .WithReason("support_measure");
  }
  const bool photo = row.identity_document == "individual_number_card" ||
                     row.identity_document == "driver_license" ||
                     row.identity_document == "passport";
  if (row.channel != "counter" || !photo || person->resident_code != row.resident_code) {
    return Status::FailedPrecondition(
               "支援措置の対象者です。本人への交付は、窓口で顔写真付きの本人確認書類により、現在"
               "の住民票コードで請求されたものに限ります（郵送・電子申請の請求は住民票のある市町"
               "村が判断します） / while a support measure protects the person, their record goes "
               "out of this desk only on a request made at the counter, on a photo identity "
               "document, naming their current resident code; refer any other request to the "
               "municipality holding the record")
        .WithReason("support_measure");
  }
  return Status::Ok();
}

// MeasureAllows for the record the request's code leads to (`person`, through the change
// chain) and its measure, as `source` — a reader or the recording transaction — sees them.
template <typename Source>
Status MeasureAllowsAt(Source& source, const Result<std::optional<store::ResidentRow>>& person,
                       const store::DisclosureRow& row, const std::string& today) {
  if (!person.ok()) return person.status();
  std::optional<store::SupportMeasureRow> m;
  if (*person) {
    KAKUNIN_ASSIGN_OR_RETURN(found, source.SupportMeasureOf((*person)->person_id));
    m = std::move(found);
  }
  return MeasureAllows(row, *person, m, today);
}
Status MeasureAllowsIn(store::RegistryTxn& txn, const store::DisclosureRow& row,
                       const std::string& today) {
  return MeasureAllowsAt(txn, txn.FindByAnyResidentCode(row.resident_code), row, today);
}
Status MeasureAllowsIn(store::RegistryReader& reader, const store::DisclosureRow& row,
                       const std::string& today) {
  return MeasureAllowsAt(reader, reader.FindByResidentCode(row.resident_code), row, today);
}

// Where a correction goes now, and the code it names: the municipality holding the record
// today (the resident moved within the prefecture after the request: the new municipality keeps
// the 住民票 and corrects it), with the person's current code; when the record was removed
// (moved out of the prefecture, died), the municipality that removed it, which keeps the 除票
// (found in review: the one the correction was received for got it back, after the person had
// moved on from there and under a support measure, and the holder of the 除票 could not answer
// it); the one it was received for only when the node keeps no record of them at all.
Result<std::pair<std::string, std::string>> CorrectionHolder(store::RegistryReader& reader,
                                                             const store::CorrectionRow& row) {
  KAKUNIN_ASSIGN_OR_RETURN(resident, reader.FindByResidentCode(row.resident_code));
  if (resident) return std::pair{resident->municipality_code, resident->resident_code};
  return std::pair{row.municipality_code, row.resident_code};
}

}  // namespace

std::string CorrectionDetailsAad(int64_t disclosure_id) {
  return "kakunin/correction/v1:" + std::to_string(disclosure_id);
}

DisclosureDesk::DisclosureDesk(Registry* registry, store::RegistryStore* store,
                               const PurposeCatalogue* purposes, const crypto::FieldCipher* cipher,
                               const Clock* clock, const AuditDesk* audit,
                               const audit::AuditLog* log, int prefecture, Options options)
    : registry_(registry),
      store_(store),
      purposes_(purposes),
      cipher_(cipher),
      clock_(clock),
      audit_(audit),
      log_(log),
      prefecture_(prefecture),
      options_(std::move(options)) {
  if (options_.issuer.empty()) {
    const LocalGovEntry* p = LocalGovTable::Builtin().Prefecture(prefecture_);
    options_.issuer = (p != nullptr ? p->prefecture : std::string("都道府県")) + "知事";
  }
}

Status DisclosureDesk::MayServe(const OperatorView& op, const std::string& purpose) const {
  for (const std::string& r : op.roles) {
    if (RolesConflict(r, "operator")) return NotNominated();
  }
  if (!op.active() || !op.HasRole("operator")) return NotNominated();
  const std::string today = clock_->TodayJst().ToIso();
  if (!purpose.empty()) {
    const Purpose* p = IsValidPurposeId(purpose) ? purposes_->Find(purpose) : nullptr;
    if (p == nullptr || !p->OpenToDisclosureDesk() || !op.NominatedFor(purpose, today)) {
      return NotNominated();
    }
    return Status::Ok();
  }
  for (const auto& n : op.nominations) {
    const Purpose* p = purposes_->Find(n.purpose);
    if (p != nullptr && p->OpenToDisclosureDesk() && op.NominatedFor(n.purpose, today)) {
      return Status::Ok();
    }
  }
  return NotNominated();
}

std::function<Status(store::RegistryTxn&)> DisclosureDesk::RecheckOperator(
    const OperatorView& op, const std::string& purpose) const {
  // The session's marks only (CheckSessionStands), not the view loaded at the request's arrival.
  OperatorView session;
  session.row.operator_id = op.row.operator_id;
  session.password_mark = op.password_mark;
  session.session_credential = op.session_credential;
  return [this, id = op.row.operator_id, purpose, session](store::RegistryTxn& txn) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(halted, txn.GetMeta("halted_since"));
    if (halted) return Status::Unavailable("the node is halted").WithReason("halted");
    KAKUNIN_ASSIGN_OR_RETURN(row, txn.FindOperator(id));
    if (!row) return NotNominated();
    KAKUNIN_RETURN_IF_ERROR(CheckSessionStands(txn, session));
    OperatorView now;
    now.row = std::move(*row);
    KAKUNIN_ASSIGN_OR_RETURN(roles, txn.OperatorRoles(id));
    now.roles = std::move(roles);
    KAKUNIN_ASSIGN_OR_RETURN(nominations, txn.Nominations(id));
    now.nominations = std::move(nominations);
    KAKUNIN_RETURN_IF_ERROR(MayServe(now, purpose));
    return CheckTrained(txn, id, clock_->TodayJst(), options_.require_training);
  };
}

Status DisclosureDesk::Refuse(const Actor& actor, const char* action, const std::string& purpose,
                              Status why, const std::string& asked_code) const {
  std::vector<std::string> asked;
  if (!asked_code.empty()) asked.push_back(asked_code);
  KAKUNIN_RETURN_IF_ERROR(registry_->Record(registry_->RefusalEntry(actor, action, purpose, why, asked)));
  return why;
}

Status DisclosureDesk::RecordServed(const OperatorView& op, const Actor& actor,
                                    const char* action, const std::string& purpose,
                                    audit::AuditEntry e, const std::string& asked_code,
                                    std::function<Status(store::RegistryTxn&)> also) const {
  auto recheck = RecheckOperator(op, purpose);
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(recheck(txn));
    return also ? also(txn) : Status::Ok();
  });
  if (!st.ok() && (st.code() == StatusCode::kPermissionDenied || st.reason() == "halted" ||
                   st.reason() == "support_measure")) {
    return Refuse(actor, action, purpose, st, asked_code);
  }
  return st;
}

Result<DisclosureSummary> DisclosureDesk::Summarise(store::RegistryReader& reader,
                                                    const store::DisclosureRow& row,
                                                    bool with_corrections) const {
  DisclosureSummary s;
  s.id = row.id;
  s.purpose = row.purpose;
  s.requester = row.requester;
  s.identity_document = row.identity_document;
  s.channel = row.channel;
  s.received_on = row.received_on;
  s.due_on = row.due_on;
  s.status = row.closed_as.empty() ? row.status : row.closed_as;
  s.close_reason = row.close_reason;
  s.overdue = s.status == "received" && clock_->TodayJst().ToIso() > row.due_on;
  s.registered_at = row.registered_at;
  s.registered_by = row.registered_by;
  s.decided_at = row.decided_at;
  s.decided_by = row.decided_by;
  s.documents = row.documents;
  if (with_corrections) {
    KAKUNIN_ASSIGN_OR_RETURN(corrections, reader.CorrectionsOfDisclosure(row.id));
    for (const auto& c : corrections) {
      CorrectionSummary cs;
      cs.id = c.id;
      cs.fields = SplitComma(c.fields);
      cs.municipality_code = c.municipality_code;
      cs.status = c.status;
      cs.outcome = c.outcome;
      cs.received_at = c.received_at;
      cs.answered_at = c.answered_at;
      cs.notified_at = c.notified_at;
      s.corrections.push_back(std::move(cs));
    }
  }
  return s;
}

Result<DisclosureSummary> DisclosureDesk::Receive(const OperatorView& op, const Actor& actor,
                                                  const DisclosureInput& in) const {
  constexpr const char* kAction = "disclosure.receive";
  if (Status st = MayServe(op, in.purpose); !st.ok()) {
    return Refuse(actor, kAction, in.purpose, st, in.resident_code);
  }
  auto invalid = [&](const char* what) -> Status {
    Status why = Status::InvalidArgument(std::string(what)).WithReason("invalid_request");
    return Refuse(actor, kAction, in.purpose, why, in.resident_code);
  };
  ErrorCode code_error;
  if (!ResidentCode::Parse(in.resident_code, registry_->check_options().resident_code_check,
                           &code_error)) {
    return invalid("resident_code must be a valid 住民票コード (11 digits, check digit)");
  }
  if (!OneOf(kRequesters, in.requester)) {
    return invalid("requester must be self or legal_representative");
  }
  if (!OneOf(kDocuments, in.identity_document)) {
    return invalid(
        "identity_document must be individual_number_card, driver_license, passport or "
        "two_documents");
  }
  if (!OneOf(kChannels, in.channel)) return invalid("channel must be counter, post or online");
  const Date today = clock_->TodayJst();
  auto received = ParseIsoDate(in.received_on).date;
  if (!received || *received > today || today.ToDays() - received->ToDays() > 366) {
    return invalid("received_on must be a date (YYYY-MM-DD), today or within the past year");
  }
  store::DisclosureRow row;
  row.purpose = in.purpose;
  row.resident_code = in.resident_code;
  row.requester = in.requester;
  row.identity_document = in.identity_document;
  row.channel = in.channel;
  row.received_on = in.received_on;
  row.due_on = Date::FromDays(received->ToDays() + options_.due_days).ToIso();
  row.registered_at = clock_->NowMicros();
  row.registered_by = op.row.operator_id;
  row.status = "received";

  audit::AuditEntry e = detail::ReadEntry(actor, kAction, in.purpose);
  // Named by the MAC alone: registering a request says nothing of whether the node holds them.
  e.targets.push_back(AskedTarget(*cipher_, in.resident_code));
  e.conditions = "requester=" + in.requester + " document=" + in.identity_document +
                 " channel=" + in.channel;
  e.outcome = "done";
  auto recheck = RecheckOperator(op, in.purpose);
  int64_t id = 0;
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(recheck(txn));
    // One request per person awaits its decision. A second is refused until the first is
    // decided by its notice or closed — each a second clerk's step — so one clerk cannot
    // register requests for someone without end (found in review: 55,000 receives made the
    // person's access statement too large for any notice, for the 7 years they are kept).
    KAKUNIN_ASSIGN_OR_RETURN(open, txn.OpenDisclosureOf(row.resident_code));
    if (open != 0) {
      return Status::FailedPrecondition(
                 "この方の開示請求（開示第" + std::to_string(open) +
                 "号）が決定を待っています。重複して受け付けた場合は登録誤りとして終了して"
                 "ください / a request for this person (" + std::to_string(open) +
                 ") awaits its decision")
          .WithReason("request_open");
    }
    KAKUNIN_ASSIGN_OR_RETURN(new_id, txn.InsertDisclosure(row));
    id = new_id;
    return Status::Ok();
  });
  if (!st.ok()) {
    if (st.code() == StatusCode::kPermissionDenied || st.reason() == "halted" ||
        st.reason() == "request_open") {
      return Refuse(actor, kAction, in.purpose, st, in.resident_code);
    }
    return st;
  }
  row.id = id;
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  return Summarise(*reader, row, false);
}

Result<std::vector<DisclosureSummary>> DisclosureDesk::List(const OperatorView& op,
                                                            const Actor& actor) const {
  constexpr const char* kAction = "disclosure.list";
  if (Status st = MayServe(op, ""); !st.ok()) return Refuse(actor, kAction, "", st);
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->ListDisclosures(kListLimit));
  std::vector<DisclosureSummary> out;
  for (const auto& r : rows) {
    KAKUNIN_ASSIGN_OR_RETURN(s, Summarise(*reader, r, false));
    out.push_back(std::move(s));
  }
  audit::AuditEntry e = detail::ReadEntry(actor, kAction, "");
  e.result_count = static_cast<int64_t>(out.size());
  e.outcome = "done";
  KAKUNIN_RETURN_IF_ERROR(RecordServed(op, actor, kAction, "", std::move(e)));
  return out;
}

Result<store::DisclosureRow> DisclosureDesk::ServedRequest(store::RegistryReader& reader,
                                                           const OperatorView& op,
                                                           const Actor& actor, int64_t id,
                                                           const char* unknown_action,
                                                           const char* refused_action,
                                                           bool name_code) const {
  KAKUNIN_ASSIGN_OR_RETURN(row, reader.FindDisclosure(id));
  // An unknown id and a request of a purpose the operator does not serve look alike.
  if (!row) {
    if (Status st = MayServe(op, ""); !st.ok()) return Refuse(actor, unknown_action, "", st);
    return Refuse(actor, unknown_action, "", NoSuchRequest());
  }
  if (Status st = MayServe(op, row->purpose); !st.ok()) {
    return Refuse(actor, refused_action, row->purpose, st, name_code ? row->resident_code : "");
  }
  return std::move(*row);
}

Status DisclosureDesk::SecondPerson(const store::DisclosureRow& row, const OperatorView& op,
                                    const Actor& actor, const char* action,
                                    const char* what) const {
  if (row.registered_by != op.row.operator_id) return Status::Ok();
  return Refuse(actor, action, row.purpose,
                Status::PermissionDenied("請求を受け付けた職員以外の職員が行います / " +
                                         std::string(what) +
                                         " by another operator than the one who registered "
                                         "the request")
                    .WithReason("two_person_rule"),
                row.resident_code);
}

Result<DisclosureSummary> DisclosureDesk::Get(const OperatorView& op, const Actor& actor,
                                              int64_t id) const {
  constexpr const char* kAction = "disclosure.show";
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(row, ServedRequest(*reader, op, actor, id, kAction, kAction, false));
  KAKUNIN_ASSIGN_OR_RETURN(s, Summarise(*reader, row, true));
  // Found in review: the deciding clerk printed a notice seeing only "self / passport /
  // counter", so one clerk could type anyone's code and have an honest colleague print it. The
  // decider now sees the code the request names, to check it against the written request —
  // while it awaits the decision only (fix review: any clerk could collect every requester's
  // code by walking the numbers).
  if (s.status == "received") s.resident_code = row.resident_code;
  audit::AuditEntry e = detail::ReadEntry(actor, kAction, row.purpose);
  // Named by MAC: the resident's statement shows who looked at their request and its
  // corrections, as it shows who registered and printed it.
  e.targets.push_back(AskedTarget(*cipher_, row.resident_code));
  e.conditions = "disclosure=" + std::to_string(id);
  // A look can be repeated at will: named a few times a day per clerk (RefusalNaming; found in
  // review: one clerk could grow the person's statement past what can be printed).
  registry_->LimitNaming(actor, &e);
  e.result_count = 1;
  e.outcome = "done";
  KAKUNIN_RETURN_IF_ERROR(RecordServed(op, actor, kAction, row.purpose, std::move(e)));
  return s;
}

Result<IssuedNotice> DisclosureDesk::IssueNotice(const OperatorView& op, const Actor& actor,
                                                 int64_t id) const {
  constexpr const char* kAction = "resident.provide";
  std::optional<store::DisclosureRow> row;
  {
    KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
    KAKUNIN_ASSIGN_OR_RETURN(
        served, ServedRequest(*reader, op, actor, id, "disclosure.notice", kAction, true));
    row = std::move(served);
  }
  // Two people (docs/disclosure.md, "Two people for a notice"): whoever typed the code in does
  // not print the record it names, the first notice or a reprint. Otherwise one clerk could
  // register a request for anyone and walk away with their record and individual number.
  KAKUNIN_RETURN_IF_ERROR(SecondPerson(*row, op, actor, kAction, "the notice is printed"));
  if (!row->closed_as.empty()) {
    return Refuse(actor, kAction, row->purpose, RequestClosed(), row->resident_code);
  }
  // A reprint is for a notice spoiled or lost at the desk, within an hour of the decision. Found
  // in review: a notice is made from the record as it is when printed, so a reprint months
  // later gave one clerk, with no new written request, the person's current record and number
  // — a new address under a support measure included. Later, a new request (two people again).
  if (row->documents > 0 && clock_->NowMicros() - row->decided_at > kReprintWindow) {
    return Refuse(actor, kAction, row->purpose,
                  Status::FailedPrecondition(
                      "通知書は交付済みです。再交付は決定から1時間以内に限ります。改めて開示請求を"
                      "受け付けてください / the notice was issued: a reprint only within an hour "
                      "of the decision; register a new request")
                      .WithReason("notice_issued"),
                  row->resident_code);
  }
  // 支援措置 (MeasureAllows): checked here, before the notice is made, and again in the
  // transaction that records it — a measure set meanwhile (found in review: 40–80 ms into the
  // notice) stops it there.
  {
    KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
    Status why = MeasureAllowsIn(*reader, *row, clock_->TodayJst().ToIso());
    if (why.reason() == "support_measure") {
      return Refuse(actor, kAction, row->purpose, why, row->resident_code);
    }
    KAKUNIN_RETURN_IF_ERROR(why);  // the store's error, not a refusal
  }
  const Purpose* purpose = purposes_->Find(row->purpose);
  ProvisionRequest req;
  req.resident_codes = {row->resident_code};
  req.function = "disclosure";
  req.purpose = row->purpose;
  req.provision_kind = purpose->legal_basis;
  // Who received it, as the person will read it in a later notice (found in review: a notice
  // handed to a legal representative was listed as given to 本人).
  req.recipient = row->requester == "legal_representative" ? "legal_representative" : "resident";
  req.items = purpose->fields;
  req.recheck = RecheckOperator(op, row->purpose);

  // The statement first, against a checkpoint that signs the map as of now: it then shows every
  // entry up to this notice (the notice's own provision comes after it, in the next one).
  KAKUNIN_RETURN_IF_ERROR(registry_->Checkpoint());
  KAKUNIN_ASSIGN_OR_RETURN(statement_json, audit_->Statement(row->resident_code, std::nullopt));
  auto statement = audit::StatementFromJson(statement_json);
  if (!statement.ok()) {
    // The node's own statement read back: only too large a one fails here (found in review: a
    // flood of refusals naming the person, each kept 7 years, before refusals were capped).
    // Said so, and recorded, not answered as a malformed request.
    return Refuse(actor, kAction, row->purpose,
                  Status::FailedPrecondition(
                      "the person's access statement (" + std::to_string(statement_json.size()) +
                      " bytes) is larger than a statement can be; the notice was not made")
                      .WithReason("statement_too_large"),
                  row->resident_code);
  }
  int64_t statement_entries = 0;
  std::set<int64_t> seen;
  for (const auto& part : statement->parts) {
    for (const auto& entry : part.entries) {
      if (seen.insert(entry.seq).second) ++statement_entries;
    }
  }
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(pending, registry_->CollectDisclosure(*reader, req));

  // Who the recipients are, in words: the client register names the agencies.
  std::map<std::string, std::string> recipient_names = {
      {"resident", "本人"},
      {"legal_representative", "法定代理人"},
      {"national", "地方公共団体情報システム機構"}};
  {
    KAKUNIN_ASSIGN_OR_RETURN(clients, reader->ListClients());
    for (const auto& c : clients) {
      if (!c.recipient.empty() && c.kind == "agency") recipient_names.emplace(c.recipient, c.name);
    }
  }
  const LocalGovEntry* pref = LocalGovTable::Builtin().Prefecture(prefecture_);
  const std::string pref_name = pref != nullptr ? pref->prefecture : "";

  // --- the document ---
  render::PdfDocument doc;
  const std::string number = "開示第" + std::to_string(id) + "号";
  const std::string today = clock_->TodayJst().ToWareki();
  // A reprint (a sheet spoiled or lost at the desk) says so: it is made from the record as it is
  // now, so it can differ from the first (found in review: same number and date, more rows).
  const bool reprint = row->documents > 0;
  doc.reference = number + (reprint ? "（再交付）" : "") + "\n" + today;
  using Kind = render::PdfBlock::Kind;
  auto paragraph = [&](std::string text) { AddText(doc, Kind::kParagraph, std::move(text)); };
  auto heading = [&](std::string text) { AddText(doc, Kind::kHeading, std::move(text)); };
  std::string addressee = "請求者";
  if (pending.found && !pending.versions.empty()) {
    for (const auto& [k, v] : pending.versions.front().items) {
      if (k == "name") addressee = v;
    }
    for (const auto& [k, v] : pending.versions.front().items) {
      if (k == "name_display") addressee = v;
    }
  }
  // A legal representative asked: the notice goes to them, for the person (住基法 第30条の32
  // 第2項: to the 開示請求者). The register keeps no representative's name (checked on paper).
  if (row->requester == "legal_representative") {
    addressee = (addressee == "請求者" ? std::string() : addressee + "　") + "法定代理人";
  }
  const std::string received = ParseIsoDate(row->received_on).date->ToWareki();
  if (pending.found) {
    doc.title = "本人確認情報開示決定通知書";
    doc.metadata_title = "本人確認情報開示決定通知書";
    doc.footer = number + "　本人確認情報開示決定通知書";
    paragraph(addressee + "　様\n\n" + options_.issuer + "\n\n" + received +
              "付けで請求のあった本人確認情報の開示について、住民基本台帳法第30条の32第2項の規定"
              "により、次のとおり開示します。");
    heading("1　開示する本人確認情報");
    render::PdfBlock kv;
    kv.kind = Kind::kKeyValues;
    std::map<std::string, std::string> display;
    for (const auto& [k, v] : pending.versions.front().items) {
      if (k.ends_with("_display")) display[k.substr(0, k.size() - 8)] = v;
    }
    for (const auto& [k, v] : pending.versions.front().items) {
      if (k.ends_with("_display") || k == "municipality_name") continue;
      auto d = display.find(k);
      kv.key_values.emplace_back(ItemLabel(k), ItemValue(k, d == display.end() ? v : d->second));
    }
    kv.key_values.emplace_back("記録の状態", pending.status == "active"
                                                 ? "住民基本台帳に記録されています"
                                                 : "住民票が消除されています（消除者）");
    doc.blocks.push_back(std::move(kv));

    heading("2　本人確認情報の履歴（保存期間内のもの）");
    render::PdfBlock history;
    history.kind = Kind::kTable;
    history.table.header = {"異動日", "区分", "異動事由", "記録された本人確認情報"};
    history.table.widths = {1.4, 1.1, 1.4, 4.1};
    for (const auto& v : pending.versions) {
      std::string date = v.change_date;
      if (auto d = ParseIsoDate(v.change_date).date) date = d->ToWareki();
      history.table.rows.push_back(
          {date, KindLabel(v.kind), ReasonLabel(v.reason), VersionItems(v.items)});
    }
    doc.blocks.push_back(std::move(history));
  } else {
    doc.title = "本人確認情報不存在通知書";
    doc.metadata_title = "本人確認情報不存在通知書";
    doc.footer = number + "　本人確認情報不存在通知書";
    paragraph(addressee + "　様\n\n" + options_.issuer + "\n\n" + received +
              "付けで請求のあった本人確認情報は、" + pref_name +
              "の都道府県知事保存本人確認情報ファイルに記録されていないため、開示することが"
              "できません。");
    // What was looked for: the code the request named (the node holds nobody under it).
    render::PdfBlock kv;
    kv.kind = Kind::kKeyValues;
    kv.key_values.emplace_back("請求に係る住民票コード", row->resident_code);
    doc.blocks.push_back(std::move(kv));
  }

  if (pending.found) {
    heading("3　本人確認情報の提供状況（過去7年間）");
    // Only what this node provided: the national node's provisions (to 機構's recipients, the
    // state's agencies) are in its own records, disclosed by 機構 (found in review: an empty
    // table here read as "nobody received it").
    paragraph("この欄は、" + pref_name +
              "が提供又は移転した記録です。地方公共団体情報システム機構が国の機関等に提供した記録"
              "は含まれません。その開示は、機構に請求してください。");
    if (pending.provisions.empty()) {
      paragraph("この期間に、" + pref_name +
                "があなたの本人確認情報を提供又は移転した記録はありません。");
    } else {
      render::PdfBlock table;
      table.kind = Kind::kTable;
      table.table.header = {"提供年月日", "機能区分", "利用事由", "提供事務区分",
                            "個人番号", "提供元", "提供先", "提供された本人確認情報"};
      table.table.widths = {1.5, 1.1, 1.8, 1.4, 0.8, 0.8, 1.2, 1.8};
      for (const auto& p : pending.provisions) {
        const Purpose* pp = purposes_->Find(p.purpose);
        std::string items;
        for (const auto& item : SplitComma(p.items)) {
          items += (items.empty() ? "" : "、") + ItemLabel(item);
        }
        std::string source = p.source;
        if (source == "prefecture:" + std::to_string(prefecture_)) source = pref_name;
        auto rn = recipient_names.find(p.recipient);
        std::string recipient = rn != recipient_names.end() ? rn->second : p.recipient;
        if (pp != nullptr && p.recipient.starts_with("dept:")) {
          recipient = pref_name + "（" + std::string(pp->Department()).substr(5) + "）";
        }
        table.table.rows.push_back({DateTimeOf(p.provided_at), FunctionLabel(p.function),
                                    pp != nullptr ? pp->title : p.purpose, p.provision_kind,
                                    p.number_provided ? "あり" : "なし", source, recipient,
                                    items});
      }
      doc.blocks.push_back(std::move(table));
    }
  }

  heading(pending.found ? "4　操作履歴による証明（アクセス証明書）"
                        : "操作履歴による証明（アクセス証明書）");
  paragraph(
      "あなたの住民票コードを対象とした操作（照会・提供・拒否を含む。）の記録は、改ざんを検出できる"
      "操作履歴に記録されています。別途交付する電子ファイル（アクセス証明書）には、その全ての記録と、"
      "記録が漏れなく含まれていることの証明が収められています。証明書のSHA-256値が次の値と一致する"
      "ことを確かめた上で、県が公開する公開鍵だけを用いて、どなたでも検証できます。");
  {
    render::PdfBlock kv;
    kv.kind = Kind::kKeyValues;
    kv.key_values.emplace_back("証明書のSHA-256", HexEncode(crypto::Sha256(statement_json)));
    auto cp = audit::ParseCheckpoint(statement->checkpoint_note, log_->signer().public_key());
    if (cp.ok()) {
      kv.key_values.emplace_back("操作履歴の識別名", cp->origin);
      kv.key_values.emplace_back("証明の基準時点",
                                 DateTimeOf(cp->time) + "（記録件数 " +
                                     std::to_string(cp->tree_size) + " 件）");
      kv.key_values.emplace_back("操作履歴の根ハッシュ", HexEncode(cp->root));
    }
    kv.key_values.emplace_back("あなたに関する記録", std::to_string(statement_entries) + " 件");
    kv.key_values.emplace_back("公開鍵（Ed25519）", HexEncode(log_->signer().public_key()));
    kv.key_values.emplace_back("検証の方法",
                               "kakunin audit check-statement 証明書ファイル --public-key "
                               "公開鍵ファイル");
    doc.blocks.push_back(std::move(kv));
  }
  heading("教示");
  // 行政不服審査法 第18条 (three months; one year from the decision) and 行政事件訴訟法 第14条,
  // 第46条 (six months; one year; the defendant and who represents it): found in review, the
  // court route was missing. The prefecture is the defendant; its governor represents it.
  const std::string defendant = pref_name.empty() ? std::string("都道府県") : pref_name;
  paragraph(
      "1　この決定に不服がある場合は、この決定があったことを知った日の翌日から起算して3か月以内に、" +
      options_.issuer +
      "に対して審査請求をすることができます（なお、この決定があったことを知った日の翌日から"
      "起算して3か月以内であっても、この決定の日の翌日から起算して1年を経過すると、審査請求を"
      "することができなくなります。）。\n"
      "2　この決定については、上記1の審査請求のほか、この決定があったことを知った日の翌日から"
      "起算して6か月以内に、" + defendant + "を被告として（訴訟において" + defendant +
      "を代表する者は" + defendant + "知事となります。）、この決定の取消しの訴えを提起することが"
      "できます（なお、この決定があったことを知った日の翌日から起算して6か月以内であっても、この"
      "決定の日の翌日から起算して1年を経過すると、取消しの訴えを提起することができなくなります。）。"
      "ただし、上記1の審査請求をした場合には、この決定の取消しの訴えは、その審査請求に対する裁決が"
      "あったことを知った日の翌日から起算して6か月以内に提起することができます。" +
      (pending.found
           ? "\n3　開示を受けた本人確認情報の内容に誤りがあると思われるときは、" + options_.issuer +
                 "に対し、書面により訂正等の申出をすることができます。申出は、住民票を備える市町村長"
                 "に通知され、調査の結果は書面でお知らせします。"
           : std::string()));

  KAKUNIN_ASSIGN_OR_RETURN(pdf, render::RenderPdf(doc));
  IssuedNotice out;
  out.kind = pending.found ? "disclosure_notice" : "no_record_notice";
  out.sha256 = HexEncode(crypto::Sha256(pdf));
  out.pages = PageCount(pdf);
  store::PrintoutRow printout;
  printout.kind = out.kind;
  printout.reference = std::string(kReferencePrefix) + std::to_string(id);
  printout.printed_at = clock_->NowMicros();
  printout.printed_by = op.row.operator_id;
  printout.pages = out.pages;
  printout.sha256 = out.sha256;
  const std::string status = pending.found ? "disclosed" : "no_record";
  int64_t printout_id = 0;
  Status st = registry_->RecordDisclosure(
      pending, req, actor, [&](store::RegistryTxn& txn) -> Status {
        KAKUNIN_RETURN_IF_ERROR(MeasureAllowsIn(txn, *row, clock_->TodayJst().ToIso()));
        KAKUNIN_RETURN_IF_ERROR(txn.RecordDisclosureDocument(id, status, printout.printed_at,
                                                             op.row.operator_id, statement_json));
        KAKUNIN_ASSIGN_OR_RETURN(pid, txn.InsertPrintout(printout));
        printout_id = pid;
        return Status::Ok();
      });
  if (!st.ok()) {
    if (st.reason() == "request_closed") {
      // Closed while the notice was being made: refused as above, said in the desk's words.
      return Refuse(actor, kAction, row->purpose, RequestClosed(), row->resident_code);
    }
    if (st.code() == StatusCode::kPermissionDenied || st.reason() == "halted" ||
        st.reason() == "support_measure") {
      return Refuse(actor, kAction, row->purpose, st, row->resident_code);
    }
    return st;
  }
  out.printout_id = printout_id;
  out.pdf = std::move(pdf);
  return out;
}

Result<std::string> DisclosureDesk::Statement(const OperatorView& op, const Actor& actor,
                                              int64_t id) const {
  constexpr const char* kAction = "disclosure.statement";
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(row, ServedRequest(*reader, op, actor, id, kAction, kAction, true));
  // Two people, as for the notice: the statement is the person's provision history (who
  // received their record, when, under which purpose), so the clerk who typed the code in does
  // not take it away either.
  KAKUNIN_RETURN_IF_ERROR(SecondPerson(row, op, actor, kAction, "the statement is handed over"));
  // It goes with the notice, so not where the notice would not (MeasureAllows): a measure set
  // after the notice stops the statement too (found in review).
  {
    Status why = MeasureAllowsIn(*reader, row, clock_->TodayJst().ToIso());
    if (why.reason() == "support_measure") {
      return Refuse(actor, kAction, row.purpose, why, row.resident_code);
    }
    KAKUNIN_RETURN_IF_ERROR(why);  // the store's error, not a refusal
  }
  KAKUNIN_ASSIGN_OR_RETURN(statement, reader->DisclosureStatement(id));
  if (!statement || statement->empty()) {
    return Refuse(actor, kAction, row.purpose,
                  Status::FailedPrecondition("no notice was printed for this request yet")
                      .WithReason("conflict"),
                  row.resident_code);
  }
  audit::AuditEntry e = detail::ReadEntry(actor, kAction, row.purpose);
  e.targets.push_back(AskedTarget(*cipher_, row.resident_code));
  e.conditions = "disclosure=" + std::to_string(id);
  // Fetched again at will: named a few times a day per clerk, as a look at the request is
  // (found in review: one clerk could grow the person's statement past what can be printed).
  registry_->LimitNaming(actor, &e);
  e.result_count = 1;
  e.outcome = "done";
  KAKUNIN_RETURN_IF_ERROR(RecordServed(
      op, actor, kAction, row.purpose, std::move(e), row.resident_code,
      [&](store::RegistryTxn& txn) {
        return MeasureAllowsIn(txn, row, clock_->TodayJst().ToIso());
      }));
  return std::move(*statement);
}

Result<DisclosureSummary> DisclosureDesk::Close(const OperatorView& op, const Actor& actor,
                                                int64_t id, const std::string& outcome,
                                                const std::string& reason) const {
  constexpr const char* kAction = "disclosure.close";
  std::optional<store::DisclosureRow> row;
  {
    KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
    KAKUNIN_ASSIGN_OR_RETURN(served, ServedRequest(*reader, op, actor, id, kAction, kAction, true));
    row = std::move(served);
  }
  auto invalid = [&](const char* what) -> Status {
    Status why = Status::InvalidArgument(what).WithReason("invalid_request");
    return Refuse(actor, kAction, row->purpose, why, row->resident_code);
  };
  if (!OneOf(kClosings, outcome)) {
    return invalid("outcome must be withdrawn, rejected or entered_in_error");
  }
  if (outcome == "rejected" ? !OneOf(kRejections, reason) : !reason.empty()) {
    return invalid(
        "reason must be identity_not_confirmed, not_entitled or incomplete for a rejection, and "
        "absent otherwise");
  }
  // Two people, as for the notice: the clerk who took a request in does not make it disappear.
  KAKUNIN_RETURN_IF_ERROR(SecondPerson(*row, op, actor, kAction, "the request is closed"));
  const Status decided =
      Status::FailedPrecondition("the request is already decided or closed")
          .WithReason("already_decided");
  if (row->status != "received" || row->documents != 0 || !row->closed_as.empty()) {
    return Refuse(actor, kAction, row->purpose, decided, row->resident_code);
  }
  const int64_t at = clock_->NowMicros();
  audit::AuditEntry e = detail::ReadEntry(actor, kAction, row->purpose);
  // Named by MAC, as when it was registered: the person's statement shows how their request
  // ended, and whoever tries to end it.
  e.targets.push_back(AskedTarget(*cipher_, row->resident_code));
  e.conditions = "disclosure=" + std::to_string(id) + " outcome=" + outcome +
                 (reason.empty() ? "" : " reason=" + reason);
  e.outcome = "done";
  Status st = RecordServed(op, actor, kAction, row->purpose, std::move(e), row->resident_code,
                           [&](store::RegistryTxn& txn) -> Status {
                             return txn.CloseDisclosure(id, outcome, reason, at,
                                                        op.row.operator_id);
                           });
  if (st.reason() == "already_decided") {
    // A notice (or another closing) came first, between the read and this transaction.
    return Refuse(actor, kAction, row->purpose, decided, row->resident_code);
  }
  KAKUNIN_RETURN_IF_ERROR(st);
  row->closed_as = outcome;
  row->close_reason = reason;
  row->decided_at = at;
  row->decided_by = op.row.operator_id;
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  return Summarise(*reader, *row, false);
}

Result<int64_t> DisclosureDesk::ReceiveCorrection(const OperatorView& op, const Actor& actor,
                                                  int64_t disclosure_id,
                                                  const std::vector<std::string>& fields,
                                                  const std::string& details) const {
  constexpr const char* kAction = "correction.receive";
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(
      row, ServedRequest(*reader, op, actor, disclosure_id, kAction, kAction, true));
  auto invalid = [&](const std::string& what) -> Status {
    Status why = Status::InvalidArgument(what).WithReason("invalid_request");
    return Refuse(actor, kAction, row.purpose, why, row.resident_code);
  };
  if (row.status != "disclosed") {
    Status why = Status::FailedPrecondition(
                     "a correction follows a disclosure: print the notice of a record first")
                     .WithReason("conflict");
    return Refuse(actor, kAction, row.purpose, why, row.resident_code);
  }
  const Purpose* purpose = purposes_->Find(row.purpose);
  if (fields.empty() || fields.size() > std::size(kProvisionItems)) {
    return invalid("fields must name 1 or more of the disclosed items");
  }
  std::set<std::string> unique;
  for (const auto& f : fields) {
    if (purpose == nullptr || !purpose->AllowsField(f) || !unique.insert(f).second) {
      return invalid("fields must name disclosed items, each once");
    }
  }
  size_t code_points = 0;
  size_t at = 0;
  while (at <= details.size()) {
    size_t nl = details.find('\n', at);
    std::string_view line = std::string_view(details).substr(
        at, nl == std::string::npos ? std::string_view::npos : nl - at);
    size_t n = 0;
    if (text::CheckText(line, &n) != text::TextCheck::kOk) {
      return invalid("details must be text (UTF-8, no control characters but line breaks)");
    }
    code_points += n + 1;
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  if (details.empty() || code_points - 1 > kMaxDetailsCodePoints) {
    return invalid("details must hold 1 to 2000 characters");
  }
  // One open correction per request: the municipality answers it before the next is taken (the
  // items of one request go in one correction). Found in review: one clerk could file them
  // without end, each a referral to the municipality and an entry naming the person. Checked in
  // the transaction that inserts it (found in review: 8 filed at once gave 3 open ones).
  auto correction_open = [](int64_t open) {
    return Status::FailedPrecondition("この請求の訂正等の申出（第" + std::to_string(open) +
                                      "号）が市町村長の回答を待っています / a correction "
                                      "request of this request awaits the municipality's answer")
        .WithReason("correction_open");
  };
  {
    KAKUNIN_ASSIGN_OR_RETURN(earlier, reader->CorrectionsOfDisclosure(disclosure_id));
    for (const auto& c : earlier) {
      if (c.status != "open") continue;
      return Refuse(actor, kAction, row.purpose, correction_open(c.id), row.resident_code);
    }
  }
  KAKUNIN_ASSIGN_OR_RETURN(resident, reader->FindByResidentCode(row.resident_code));
  if (!resident) {
    Status why = Status::FailedPrecondition("the record is no longer kept").WithReason("conflict");
    return Refuse(actor, kAction, row.purpose, why, row.resident_code);
  }
  // 支援措置, as for the notice (MeasureAllows): a correction a legal representative files after
  // a measure was set goes to the municipality that now protects the person, and has the
  // prefecture write back to the representative about it (found in review).
  {
    KAKUNIN_ASSIGN_OR_RETURN(m, reader->SupportMeasureOf(resident->person_id));
    if (Status why = MeasureAllows(row, resident, m, clock_->TodayJst().ToIso()); !why.ok()) {
      return Refuse(actor, kAction, row.purpose, why, row.resident_code);
    }
  }
  store::CorrectionRow c;
  c.disclosure_id = disclosure_id;
  c.resident_code = resident->resident_code;
  c.municipality_code = resident->municipality_code;
  c.fields = JoinComma(fields);
  c.details_sealed = cipher_->Seal(details, CorrectionDetailsAad(disclosure_id));
  c.received_at = clock_->NowMicros();
  c.received_by = op.row.operator_id;
  c.status = "open";

  audit::AuditEntry e = detail::ReadEntry(actor, kAction, row.purpose);
  e.targets.push_back(ResidentTarget(*cipher_, resident->resident_code, true));
  e.conditions = "disclosure=" + std::to_string(disclosure_id) + " fields=" + c.fields;
  e.outcome = "done";
  auto recheck = RecheckOperator(op, row.purpose);
  int64_t id = 0;
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(recheck(txn));
    KAKUNIN_RETURN_IF_ERROR(MeasureAllowsIn(txn, row, clock_->TodayJst().ToIso()));
    KAKUNIN_ASSIGN_OR_RETURN(open, txn.OpenCorrectionOf(disclosure_id));
    if (open != 0) return correction_open(open);
    KAKUNIN_ASSIGN_OR_RETURN(new_id, txn.InsertCorrection(c));
    id = new_id;
    return Status::Ok();
  });
  if (!st.ok()) {
    if (st.code() == StatusCode::kPermissionDenied || st.reason() == "halted" ||
        st.reason() == "support_measure" || st.reason() == "correction_open") {
      return Refuse(actor, kAction, row.purpose, st, row.resident_code);
    }
    return st;
  }
  return id;
}

Result<IssuedNotice> DisclosureDesk::IssueCorrectionNotice(const OperatorView& op,
                                                           const Actor& actor,
                                                           int64_t disclosure_id,
                                                           int64_t correction_id) const {
  constexpr const char* kAction = "correction.notice";
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(
      row, ServedRequest(*reader, op, actor, disclosure_id, kAction, kAction, true));
  KAKUNIN_ASSIGN_OR_RETURN(correction, reader->FindCorrection(correction_id));
  // Another request's correction is not there for this one: the same answer as none.
  if (!correction || correction->disclosure_id != disclosure_id) {
    return Refuse(actor, kAction, row.purpose,
                  Status::NotFound("no such correction request").WithReason("not_found"),
                  row.resident_code);
  }
  auto not_answered = [] {
    return Status::FailedPrecondition(
               "市町村長からの調査結果の回答がまだありません / the municipality has not answered "
               "the correction request yet")
        .WithReason("not_answered");
  };
  if (correction->status != "answered") {
    return Refuse(actor, kAction, row.purpose, not_answered(), row.resident_code);
  }
  if (Status why = MeasureAllowsIn(*reader, row, clock_->TodayJst().ToIso()); !why.ok()) {
    if (why.reason() == "support_measure") {
      return Refuse(actor, kAction, row.purpose, why, row.resident_code);
    }
    return why;  // the store's error, not a refusal
  }

  // --- the document: nothing of the record, only the request and its outcome ---
  render::PdfDocument doc;
  const std::string number = "開示第" + std::to_string(disclosure_id) + "号の訂正等の申出第" +
                             std::to_string(correction_id) + "号";
  const std::string today = clock_->TodayJst().ToWareki();
  doc.reference = number + "\n" + today;
  doc.title = "訂正等の申出に係る調査結果通知書";
  doc.metadata_title = doc.title;
  doc.footer = number + "　調査結果通知書";
  using Kind = render::PdfBlock::Kind;
  auto paragraph = [&](std::string text) { AddText(doc, Kind::kParagraph, std::move(text)); };
  const std::string addressee =
      row.requester == "legal_representative" ? "申出者（法定代理人）" : "申出者";
  paragraph(addressee + "　様\n\n" + options_.issuer + "\n\n" +
            JstDate(correction->received_at).ToWareki() +
            "付けで申出のあった本人確認情報の訂正等について、住民票を備える市町村長に通知して"
            "調査を求めたところ、次のとおり回答がありましたので通知します。");
  std::string items;
  for (const auto& f : SplitComma(correction->fields)) {
    items += (items.empty() ? "" : "、") + ItemLabel(f);
  }
  const bool corrected = correction->outcome == "corrected";
  render::PdfBlock kv;
  kv.kind = Kind::kKeyValues;
  kv.key_values.emplace_back("申出のあった事項", items);
  kv.key_values.emplace_back("開示請求", "開示第" + std::to_string(disclosure_id) + "号（" +
                                             ParseIsoDate(row.received_on).date->ToWareki() +
                                             "受付）");
  kv.key_values.emplace_back("市町村長からの回答日", JstDate(correction->answered_at).ToWareki());
  kv.key_values.emplace_back(
      "調査の結果",
      corrected ? "住民票の記載が修正されました（訂正）"
                : "住民票の記載に誤りは認められませんでした（訂正なし）");
  doc.blocks.push_back(std::move(kv));
  paragraph(
      corrected
          ? "住民票の修正は、市町村長からの通知により、本人確認情報にも反映されます。修正後の本人"
            "確認情報を確認したいときは、改めて開示請求をすることができます。"
          : "住民票の記載事項に誤りがあると考えるときは、住民票を備える市町村長に、その旨を申し"
            "出ることができます（住民基本台帳法第14条第2項）。");
  paragraph(
      "この通知書には、あなたの本人確認情報の内容は記載していません。この通知書の作成も操作履歴に"
      "記録され、あなたのアクセス証明書に含まれます。");

  KAKUNIN_ASSIGN_OR_RETURN(pdf, render::RenderPdf(doc));
  IssuedNotice out;
  out.kind = "correction_result_notice";
  out.sha256 = HexEncode(crypto::Sha256(pdf));
  out.pages = PageCount(pdf);
  store::PrintoutRow printout;
  printout.kind = out.kind;
  printout.reference = std::string(kReferencePrefix) + std::to_string(disclosure_id) +
                       std::string(kCorrectionReference) + std::to_string(correction_id);
  printout.printed_at = clock_->NowMicros();
  printout.printed_by = op.row.operator_id;
  printout.pages = out.pages;
  printout.sha256 = out.sha256;

  audit::AuditEntry e = detail::ReadEntry(actor, kAction, row.purpose);
  e.targets.push_back(ResidentTarget(*cipher_, correction->resident_code, true));
  e.conditions = "disclosure=" + std::to_string(disclosure_id) +
                 " correction=" + std::to_string(correction_id) +
                 " outcome=" + correction->outcome;
  // The first print names the person (their statement shows the letter went out); a reprint,
  // which one clerk can repeat at will, a few times a day per clerk (RefusalNaming; found in
  // review: a loop of reprints would grow their statement past what can be printed).
  if (correction->notified_at != 0) registry_->LimitNaming(actor, &e);
  e.outcome = "done";
  int64_t printout_id = 0;
  Status st = RecordServed(
      op, actor, kAction, row.purpose, std::move(e), row.resident_code,
      [&](store::RegistryTxn& txn) -> Status {
        KAKUNIN_RETURN_IF_ERROR(MeasureAllowsIn(txn, row, clock_->TodayJst().ToIso()));
        KAKUNIN_RETURN_IF_ERROR(txn.NoteCorrectionNotified(disclosure_id, correction_id,
                                                           printout.printed_at,
                                                           op.row.operator_id));
        KAKUNIN_ASSIGN_OR_RETURN(pid, txn.InsertPrintout(printout));
        printout_id = pid;
        return Status::Ok();
      });
  KAKUNIN_RETURN_IF_ERROR(st);
  out.printout_id = printout_id;
  out.pdf = std::move(pdf);
  return out;
}

namespace {
Printout FromRow(const store::PrintoutRow& r) {
  return Printout{r.id,      r.kind,           r.reference,  r.printed_at, r.printed_by,
                  r.pages,   r.sha256,         r.outcome,    r.outcome_method,
                  r.outcome_on, r.outcome_at,  r.outcome_by};
}

constexpr const char* kPrintoutOutcomes[] = {"handed_over", "mailed", "destroyed"};
constexpr const char* kDestructionMethods[] = {"shredded", "dissolved"};
}  // namespace

Result<Printout> DisclosureDesk::RecordPrintoutOutcome(const OperatorView& op, const Actor& actor,
                                                       int64_t id, const std::string& outcome,
                                                       const std::string& method,
                                                       const std::string& on) const {
  constexpr const char* kAction = "printout.outcome";
  if (!op.active() || !op.HasRole("security_manager")) {
    return Refuse(actor, kAction, "",
                  Status::PermissionDenied("only security managers keep the printout register")
                      .WithReason("not_permitted"));
  }
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(row, reader->FindPrintout(id));
  if (!row) {
    return Refuse(actor, kAction, "", Status::NotFound("no such printout").WithReason("not_found"));
  }
  // The request it printed: its purpose for the entry, and the person to name.
  std::optional<store::DisclosureRow> request;
  if (row->reference.starts_with(kReferencePrefix)) {
    std::string_view id_part = std::string_view(row->reference).substr(kReferencePrefix.size());
    id_part = id_part.substr(0, id_part.find('/'));  // a correction's result: its request
    if (auto n = ParseRowId(id_part)) {
      KAKUNIN_ASSIGN_OR_RETURN(found, reader->FindDisclosure(*n));
      request = std::move(found);
    }
  }
  const std::string purpose = request ? request->purpose : "";
  const std::string code = request ? request->resident_code : "";
  auto invalid = [&](const char* what) -> Status {
    return Refuse(actor, kAction, purpose,
                  Status::InvalidArgument(what).WithReason("invalid_request"), code);
  };
  // Once: whatever the second record says (checked again in the transaction that writes it).
  if (!row->outcome.empty()) {
    return Refuse(actor, kAction, purpose,
                  Status::FailedPrecondition("what became of the printout is already recorded")
                      .WithReason("already_recorded"),
                  code);
  }
  // Not by whoever printed it: a keeper who also serves the desk does not account for their own
  // print (found in review: print a notice, then mark it destroyed).
  if (row->printed_by == op.row.operator_id) {
    return Refuse(actor, kAction, purpose,
                  Status::PermissionDenied(
                      "帳票を印刷した職員以外の職員が記録します / recorded by another operator "
                      "than the one who printed it")
                      .WithReason("two_person_rule"),
                  code);
  }
  if (!OneOf(kPrintoutOutcomes, outcome)) {
    return invalid("outcome must be handed_over, mailed or destroyed");
  }
  if (outcome == "destroyed" ? !OneOf(kDestructionMethods, method) : !method.empty()) {
    return invalid("method must be shredded or dissolved for destroyed, and absent otherwise");
  }
  const std::optional<Date> day = ParseIsoDate(on).date;
  const std::string printed_on = JstDate(row->printed_at).ToIso();
  if (!day || on < printed_on || on > clock_->TodayJst().ToIso()) {
    return invalid("on must be a date (YYYY-MM-DD) from the day it was printed to today");
  }
  const int64_t at = clock_->NowMicros();
  audit::AuditEntry e = detail::ReadEntry(actor, kAction, purpose);
  if (!code.empty()) e.targets.push_back(AskedTarget(*cipher_, code));
  e.conditions = "printout=" + std::to_string(id) + " outcome=" + outcome +
                 (method.empty() ? "" : " method=" + method) + " on=" + on;
  e.outcome = "done";
  const std::string by = op.row.operator_id;
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    // The keeper as the recording transaction sees them (a role withdrawn meanwhile).
    KAKUNIN_RETURN_IF_ERROR(StillHoldsOneOf(txn, op, {"security_manager"}));
    return txn.SetPrintoutOutcome(id, outcome, method, on, at, by);
  });
  if (st.code() == StatusCode::kPermissionDenied || st.reason() == "already_recorded") {
    return Refuse(actor, kAction, purpose, st, code);
  }
  KAKUNIN_RETURN_IF_ERROR(st);
  row->outcome = outcome;
  row->outcome_method = method;
  row->outcome_on = on;
  row->outcome_at = at;
  row->outcome_by = by;
  return FromRow(*row);
}

Result<std::vector<Printout>> DisclosureDesk::Printouts(const OperatorView& op,
                                                        const Actor& actor) const {
  constexpr const char* kAction = "printout.list";
  const bool allowed = op.active() && (op.HasRole("security_manager") || op.HasRole("auditor"));
  if (!allowed) {
    return Refuse(actor, kAction, "",
                  Status::PermissionDenied("only security managers and auditors read the "
                                           "printout register")
                      .WithReason("not_permitted"));
  }
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->ListPrintouts(kListLimit));
  std::vector<Printout> out;
  for (const store::PrintoutRow& r : rows) out.push_back(FromRow(r));
  audit::AuditEntry e = detail::ReadEntry(actor, kAction, "");
  e.result_count = static_cast<int64_t>(out.size());
  e.outcome = "done";
  // The reader as the recording transaction sees them (a suspension or a role withdrawn while
  // the request was on its way refuses it: review finding).
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) {
    return StillHoldsOneOf(txn, op, {"security_manager", "auditor"});
  });
  if (st.code() == StatusCode::kPermissionDenied) return Refuse(actor, kAction, "", st);
  KAKUNIN_RETURN_IF_ERROR(st);
  return out;
}

Result<std::vector<CorrectionReferral>> DisclosureDesk::Corrections(
    const Client& cs, const std::string& terminal) const {
  constexpr const char* kAction = "correction.refer";
  const Actor actor = cs.ActorAt(terminal);
  if (cs.kind != ClientKind::kMunicipalCs || cs.revoked_at != 0) {
    return Refuse(actor, kAction, "",
                  Status::PermissionDenied("only a municipality's CS receives corrections")
                      .WithReason("not_permitted"));
  }
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  std::vector<CorrectionReferral> out;
  const Date today = clock_->TodayJst();
  audit::AuditEntry e = detail::ReadEntry(actor, kAction, "");
  // Every open correction, page by page, until this CS's first kReferralLimit: the municipality
  // holding the person now decides (they may have moved since), so the filter is here. A fixed
  // window of the oldest 10,000 let other municipalities' unanswered corrections hide every new
  // one from a CS for good (found in review).
  int64_t after = 0;
  for (bool more = true; more && out.size() < static_cast<size_t>(kReferralLimit);) {
    KAKUNIN_ASSIGN_OR_RETURN(page, reader->OpenCorrections("", kOpenCorrectionsScanned, after));
    more = page.size() == static_cast<size_t>(kOpenCorrectionsScanned);
    if (!page.empty()) after = page.back().id;
    for (const auto& r : page) {
      if (out.size() >= static_cast<size_t>(kReferralLimit)) break;
      KAKUNIN_ASSIGN_OR_RETURN(holder, CorrectionHolder(*reader, r));
      if (!detail::CsActsFor(cs, holder.first, today)) continue;
      CorrectionReferral c;
      c.id = r.id;
      c.resident_code = holder.second;
      c.fields = SplitComma(r.fields);
      KAKUNIN_ASSIGN_OR_RETURN(
          details, cipher_->Open(r.details_sealed, CorrectionDetailsAad(r.disclosure_id)));
      c.details = std::move(details);
      c.received_on = JstDate(r.received_at).ToIso();
      e.targets.push_back(ResidentTarget(*cipher_, holder.second, true));
      out.push_back(std::move(c));
    }
  }
  e.result_count = static_cast<int64_t>(out.size());
  e.outcome = "done";
  // As for an answer and any provision: a halted node, or a certificate revoked a moment ago,
  // hands out nothing — checked in the transaction that records the referral.
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) {
    return detail::CsStillServed(txn, cs);
  });
  if (!st.ok()) {
    if (st.code() == StatusCode::kPermissionDenied || st.reason() == "halted") {
      return Refuse(actor, kAction, "", st);
    }
    return st;
  }
  return out;
}

Status DisclosureDesk::AnswerCorrection(const Client& cs, const std::string& terminal, int64_t id,
                                        const std::string& outcome) const {
  constexpr const char* kAction = "correction.answer";
  const Actor actor = cs.ActorAt(terminal);
  if (cs.kind != ClientKind::kMunicipalCs || cs.revoked_at != 0) {
    return Refuse(actor, kAction, "",
                  Status::PermissionDenied("only a municipality's CS answers corrections")
                      .WithReason("not_permitted"));
  }
  if (outcome != "corrected" && outcome != "not_corrected") {
    return Refuse(actor, kAction, "",
                  Status::InvalidArgument("outcome must be corrected or not_corrected")
                      .WithReason("invalid_request"));
  }
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(row, reader->FindCorrection(id));
  std::pair<std::string, std::string> holder;
  if (row) {
    KAKUNIN_ASSIGN_OR_RETURN(h, CorrectionHolder(*reader, *row));
    holder = std::move(h);
  }
  // Another municipality's correction is not there for this CS: the same answer as none.
  if (!row || !detail::CsActsFor(cs, holder.first, clock_->TodayJst())) {
    return Refuse(actor, kAction, "",
                  Status::NotFound("no such correction for this municipality")
                      .WithReason("not_found"));
  }
  audit::AuditEntry e = detail::ReadEntry(actor, kAction, "");
  e.targets.push_back(ResidentTarget(*cipher_, holder.second, true));
  e.conditions = "correction=" + std::to_string(id) + " outcome=" + outcome;
  e.outcome = "done";
  const int64_t now = clock_->NowMicros();
  Status st = registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    KAKUNIN_RETURN_IF_ERROR(detail::CsStillServed(txn, cs));
    return txn.AnswerCorrection(id, outcome, now, actor.id);
  });
  if (!st.ok() && (st.code() == StatusCode::kPermissionDenied ||
                   st.code() == StatusCode::kFailedPrecondition || st.reason() == "halted")) {
    return Refuse(actor, kAction, "", st);
  }
  return st;
}

}  // namespace kakunin::registry
