#include "domain/notification_reader.h"

#include <algorithm>
#include <array>

#include "domain/check_digit.h"
#include "text/cp932.h"
#include "text/search_key.h"
#include "text/utf8.h"

namespace kakunin {
namespace {

enum FieldIndex : int {
  kMunicipalityCode,
  kSequence,
  kKind,
  kReason,
  kChangeDate,
  kResidentCode,
  kIndividualNumber,
  kName,
  kNameKana,
  kFormerSurname,
  kAlias,
  kSex,
  kBirthDate,
  kAddress,
  kNewResidentCode,
  kFieldCount,
};

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "municipality_code", "sequence",   "kind",           "reason",    "change_date",
    "resident_code",     "individual_number", "name",     "name_kana", "former_surname",
    "alias",             "sex",        "birth_date",     "address",   "new_resident_code",
};

// An unknown key is named in its error as sent (the contract: every error names its field) only
// when it is shaped like a field name: a lowercase ASCII letter, then letters, '_' or '-', at most
// 40 characters ("shoe_size", "municipalityCode", "extra-field"). Anything else is "(unnamed)":
// a key is where a value lands when a CSV has no header row or an export is keyed by a value,
// and such a value must not be echoed to a terminal, a job's log or an API client. Digits are
// never echoed, whatever their grouping ("651-015-209-748", "92/01/20", "S48.5.19": numbers,
// codes and dates), nor a key beginning with a capital ("Fujii_Aki", "FUJII": a romanized name
// reads like a capitalised key) — nor text in another script, a control or bidi character.
// The contract's own fields are all of this shape, so a misspelt one is still named. (The
// operation log never names an unknown key: Registry::Apply.) Found in review: the earlier rule
// (any printable ASCII without a run of four digits) echoed grouped numbers, dates and
// romanized names; the one before it ([a-z][a-z0-9_]*) did not name "municipalityCode".
std::string Nameable(std::string_view key) {
  bool ok = !key.empty() && key.size() <= 40 && key[0] >= 'a' && key[0] <= 'z';
  for (char c : key) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-');
  }
  return ok ? std::string(key) : std::string("(unnamed)");
}

int FindField(std::string_view key) {
  for (int i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == key) return i;
  }
  return -1;
}

}  // namespace

bool IsNotificationField(std::string_view key) { return FindField(key) >= 0; }

namespace {

// Field-by-field checking of one notification.
class Checker {
 public:
  explicit Checker(const CheckOptions& options) : opt_(options) {}

  CheckResult Run(const std::vector<RawField>& fields) {
    std::vector<std::string_view> reported;  // keys already reported as duplicate
    std::vector<std::string_view> unknown;   // unknown keys seen (each reported once)
    for (const RawField& f : fields) {
      int idx = FindField(f.key);
      if (idx < 0) {
        // An unknown key is unknown_field once; given twice it is also a duplicate_key (the
        // contract: "the same key twice in one object"), reported once per key as for the
        // others.
        if (std::find(unknown.begin(), unknown.end(), f.key) == unknown.end()) {
          out_.errors.push_back({Nameable(f.key), ErrorCode::kUnknownField});
          unknown.push_back(f.key);
        } else if (std::find(reported.begin(), reported.end(), f.key) == reported.end()) {
          out_.errors.push_back({Nameable(f.key), ErrorCode::kDuplicateKey});
          reported.push_back(f.key);
        }
        continue;
      }
      if (present_[idx] != nullptr) {
        if (std::find(reported.begin(), reported.end(), f.key) == reported.end()) {
          out_.errors.push_back({f.key, ErrorCode::kDuplicateKey});
          reported.push_back(f.key);
        }
        continue;
      }
      present_[idx] = &f.value;
    }

    Notification n;
    // municipality_code
    const LocalGovEntry* sender = nullptr;
    const LocalGovHistoryEntry* old_sender = nullptr;  // abolished, valid on the check date
    if (auto s = Text(kMunicipalityCode, true, 0)) {
      // The check date: today, or (bulk import) the record's change_date when it is a date
      // the other checks will accept; otherwise an abolished code is taken as of its time,
      // since the record is refused for its change_date anyway.
      Date on = opt_.today;
      if (opt_.municipality_on_change_date) {
        if (auto d = PeekChangeDate()) {
          on = *d;
        } else if (const LocalGovHistoryEntry* h = opt_.table->FindAbolished(*s)) {
          on = h->last_day;
        }
      }
      LocalGovLookup l = LookupLocalGovCodeOn(*s, *opt_.table, on);
      if (l.error) {
        out_.errors.push_back(
            {std::string(kFieldNames[kMunicipalityCode]), *l.error, std::move(l.successors)});
      } else if (l.historic != nullptr) {
        old_sender = l.historic;
        n.municipality_code = old_sender->code;
      } else if (!l.current->is_municipality()) {
        Error(kMunicipalityCode, ErrorCode::kUnknownValue);
      } else {
        sender = l.current;
        n.municipality_code = sender->code;
      }
    }
    CheckSequence(&n.sequence);
    std::optional<NotificationKind> kind;
    if (auto s = Text(kKind, true, 0)) {
      kind = ParseNotificationKind(*s);
      if (!kind) Error(kKind, ErrorCode::kUnknownValue);
    }
    std::optional<ChangeReason> reason;
    if (auto s = Text(kReason, true, 0)) {
      reason = ParseChangeReason(*s);
      if (!reason) {
        Error(kReason, ErrorCode::kUnknownValue);
      } else if (kind && KindOf(*reason) != *kind) {
        Error(kReason, ErrorCode::kKindMismatch);
      }
    }
    auto change_date = DateField(kChangeDate);
    std::optional<ResidentCode> resident_code;
    if (auto s = Text(kResidentCode, true, 0)) {
      ErrorCode e;
      resident_code = ResidentCode::Parse(*s, opt_.resident_code_check, &e);
      if (!resident_code) Error(kResidentCode, e);
    }
    std::optional<IndividualNumber> number;
    if (auto s = Text(kIndividualNumber, true, 0)) {
      ErrorCode e;
      number = IndividualNumber::Parse(*s, &e);
      if (!number) Error(kIndividualNumber, e);
    }
    auto name = Text(kName, true, kMaxNameCodePoints);
    auto kana = Text(kNameKana, false, kMaxKanaCodePoints);
    if (kana && !text::IsKanaText(*kana)) {
      Error(kNameKana, ErrorCode::kInvalidText);
      kana.reset();
    }
    auto former = Text(kFormerSurname, false, kMaxFormerSurnameCodePoints);
    auto alias = Text(kAlias, false, kMaxAliasCodePoints);
    std::optional<Sex> sex;
    if (auto s = Text(kSex, true, 0)) {
      sex = ParseSex(*s);
      if (!sex) Error(kSex, ErrorCode::kUnknownValue);
    }
    std::optional<Date> future_birth;
    auto birth_date = DateField(kBirthDate, &future_birth);
    // Every field error at once: a birth date in the future is a date all the same, and a
    // change_date before it is out of order too (found in review: only future_date was said).
    if (const auto& born = birth_date ? birth_date : future_birth;
        change_date && born && *change_date < *born) {
      Error(kChangeDate, ErrorCode::kDateOrder);
    }
    auto address = Text(kAddress, true, kMaxAddressCodePoints);
    if (address && sender && !opt_.table->AddressBeginsWith(*sender, *address)) {
      Error(kAddress, ErrorCode::kAddressMismatch);
    }
    // A record from before a merger: the old municipality's name.
    if (address && old_sender && !opt_.table->AddressBeginsWith(*old_sender, *address)) {
      Error(kAddress, ErrorCode::kAddressMismatch);
    }
    // new_resident_code: required for resident_code_changed, forbidden otherwise.
    bool needs_new_code = reason && *reason == ChangeReason::kResidentCodeChanged;
    bool has_new_code = !IsEmpty(present_[kNewResidentCode]);
    if (reason && !needs_new_code && has_new_code) {
      Error(kNewResidentCode, ErrorCode::kNotApplicable);
    } else if (needs_new_code || has_new_code) {
      if (auto s = Text(kNewResidentCode, needs_new_code, 0)) {
        ErrorCode e;
        n.new_resident_code = ResidentCode::Parse(*s, opt_.resident_code_check, &e);
        if (!n.new_resident_code) Error(kNewResidentCode, e);
      }
    }

    if (!out_.errors.empty()) return std::move(out_);
    n.kind = *kind;
    n.reason = *reason;
    n.change_date = *change_date;
    n.resident_code = *resident_code;
    n.individual_number = *number;
    n.name = std::string(*name);
    if (kana) n.name_kana = std::string(*kana);
    if (former) n.former_surname = std::string(*former);
    if (alias) n.alias = std::string(*alias);
    n.sex = *sex;
    n.birth_date = *birth_date;
    n.address = std::string(*address);
    out_.notification = std::move(n);
    return std::move(out_);
  }

 private:
  void Error(int idx, ErrorCode code) {
    out_.errors.push_back({std::string(kFieldNames[idx]), code});
  }

  static bool IsEmpty(const RawValue* v) {
    // A string that failed to decode is not empty: it is bad text.
    return v == nullptr || v->kind == RawValue::Kind::kNull ||
           (v->kind == RawValue::Kind::kString && v->text.empty() && v->well_formed);
  }

  // Nothing a reader sees: spaces of every width, invisible format characters and
  // variation selectors, and the fillers that render as nothing (found reviewing the first
  // version, which knew U+0020 and U+3000 only: U+00A0, U+2003, U+200B, U+3164, U+2800 and a
  // space with a variation selector were each applied as a name).
  static bool IsBlankCodePoint(char32_t cp) {
    return cp == 0x20 || cp == 0xA0 || cp == 0xAD || cp == 0x34F || cp == 0x115F ||
           cp == 0x1160 || cp == 0x1680 || (cp >= 0x180B && cp <= 0x180E) ||
           (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
           (cp >= 0x205F && cp <= 0x206F) || cp == 0x2800 || cp == 0x3000 || cp == 0x3164 ||
           (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || cp == 0xFFA0 ||
           (cp >= 0xE0100 && cp <= 0xE01EF);
  }
  static bool IsBlank(std::string_view s) {
    for (size_t pos = 0; pos < s.size();) {
      auto cp = text::DecodeOne(s, &pos);
      if (!cp || !IsBlankCodePoint(*cp)) return false;
    }
    return true;
  }

  // A text field: present (else `missing` when required), a string, well-formed text
  // without forbidden characters, at most `max_cp` code points (0: no limit here).
  std::optional<std::string_view> Text(int idx, bool required, size_t max_cp) {
    const RawValue* v = present_[idx];
    // A free-text field (a name, the address: those with a length limit) of spaces only is
    // empty too (found in review: a name of one ideographic space was applied as the name).
    // Only text the contract allows can be blank: a value of bidirectional overrides alone is
    // invalid_text, as anywhere in a text (found in review: "\u202e" was `missing` as a name and
    // dropped silently as an optional field).
    const bool blank = max_cp != 0 && v != nullptr && v->kind == RawValue::Kind::kString &&
                       v->well_formed && IsBlank(v->text) &&
                       text::CheckText(v->text, nullptr) == text::TextCheck::kOk;
    if (IsEmpty(v) || blank) {
      if (required) Error(idx, ErrorCode::kMissing);
      return std::nullopt;
    }
    if (v->kind != RawValue::Kind::kString) {
      Error(idx, ErrorCode::kType);
      return std::nullopt;
    }
    size_t cps = 0;
    if (!v->well_formed || text::CheckText(v->text, &cps) != text::TextCheck::kOk) {
      Error(idx, ErrorCode::kInvalidText);
      return std::nullopt;
    }
    if (max_cp != 0 && cps > max_cp) {
      Error(idx, ErrorCode::kTooLong);
      return std::nullopt;
    }
    return std::string_view(v->text);
  }

  void CheckSequence(uint64_t* out) {
    const RawValue* v = present_[kSequence];
    if (v == nullptr || v->kind == RawValue::Kind::kNull) {
      Error(kSequence, ErrorCode::kMissing);
      return;
    }
    if (v->kind == RawValue::Kind::kString && !v->well_formed) {
      // Bytes that are not text (a CSV cell CP932 cannot decode, bad UTF-8): invalid_text, as
      // in every other field — not "missing" (it is not empty) nor "type" (CSV has no types).
      Error(kSequence, ErrorCode::kInvalidText);
      return;
    }
    if (v->kind != RawValue::Kind::kNumber) {
      Error(kSequence, v->kind == RawValue::Kind::kString && v->text.empty() ? ErrorCode::kMissing
                                                                           : ErrorCode::kType);
      return;
    }
    const std::string& t = v->text;
    // An integer literal of at most 16 digits without sign: 1 .. 2^53-1.
    if (!v->integer_literal || t.empty() || t.size() > 16 || t[0] == '-' ||
        !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      Error(kSequence, ErrorCode::kFormat);
      return;
    }
    uint64_t value = 0;
    for (char c : t) value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value < 1 || value > kMaxSequence) {
      Error(kSequence, ErrorCode::kFormat);
      return;
    }
    *out = value;
  }

  // change_date as DateField would accept it, without reporting anything (that is left to
  // DateField in its turn); nullopt if it would not be accepted.
  std::optional<Date> PeekChangeDate() const {
    const RawValue* v = present_[kChangeDate];
    if (IsEmpty(v) || v->kind != RawValue::Kind::kString || !v->well_formed) return std::nullopt;
    DateParse p = opt_.allow_wareki_dates ? ParseIsoOrWarekiDate(v->text) : ParseIsoDate(v->text);
    if (!p.date || *p.date < GregorianAdoption() || *p.date > opt_.today) return std::nullopt;
    return p.date;
  }

  // The field's date if it passes; `future` (if given) also gets a real calendar date that
  // fails only for being after the node's date, which date_order still compares.
  std::optional<Date> DateField(int idx, std::optional<Date>* future = nullptr) {
    auto s = Text(idx, true, 0);
    if (!s) return std::nullopt;
    DateParse p = opt_.allow_wareki_dates ? ParseIsoOrWarekiDate(*s) : ParseIsoDate(*s);
    if (!p.date) {
      Error(idx, p.error == DateError::kFormat ? ErrorCode::kFormat : ErrorCode::kInvalidDate);
      return std::nullopt;
    }
    if (*p.date < GregorianAdoption()) {
      Error(idx, ErrorCode::kInvalidDate);
      return std::nullopt;
    }
    if (*p.date > opt_.today) {
      Error(idx, ErrorCode::kFutureDate);
      if (future != nullptr) *future = p.date;
      return std::nullopt;
    }
    return p.date;
  }

  const CheckOptions& opt_;
  std::array<const RawValue*, kFieldCount> present_{};
  CheckResult out_;
};

CheckResult RecordError(ErrorCode code) {
  CheckResult r;
  r.errors.push_back({std::string(kRecordField), code});
  return r;
}

}  // namespace

CheckResult CheckNotification(const std::vector<RawField>& fields, const CheckOptions& options) {
  CheckResult r = Checker(options).Run(fields);
  if (r.errors.size() != 1 || r.errors[0].code != ErrorCode::kAbolished ||
      r.errors[0].field != kFieldNames[kMunicipalityCode]) {
    return r;
  }
  // The only fault is that the sender's code was abolished: checked again as of its last day.
  for (const RawField& f : fields) {
    if (f.key != kFieldNames[kMunicipalityCode] || f.value.kind != RawValue::Kind::kString) {
      continue;
    }
    const LocalGovHistoryEntry* h = options.table->FindAbolished(f.value.text);
    if (h == nullptr) break;
    CheckOptions then = options;
    then.today = std::min(options.today, h->last_day);
    then.municipality_on_change_date = false;
    CheckResult as_then = Checker(then).Run(fields);
    if (as_then.ok()) r.replay_candidate = std::move(as_then.notification);
    break;
  }
  return r;
}

namespace {

// The depth of the deepest value in `v`, `v` itself at 0, as ParseJson's max_depth counts it
// (a scalar or {} 0, {"a":1} 1, {"a":{"b":1}} 2); past `limit`, limit + 1.
size_t DepthOf(const text::JsonValue& v, size_t limit) {
  if (v.items().empty() && v.members().empty()) return 0;
  if (limit == 0) return 1;
  size_t deepest = 0;
  for (const auto& item : v.items()) deepest = std::max(deepest, DepthOf(item, limit - 1));
  for (const auto& [key, member] : v.members()) {
    deepest = std::max(deepest, DepthOf(member, limit - 1));
  }
  return deepest + 1;
}

}  // namespace

CheckResult CheckJsonNotification(const text::JsonValue& value, const CheckOptions& options) {
  // One inside a request (the API) is held to the limits as sent, as a line is (the CLI): its
  // size, and how deep it nests (a line nested deeper than kMaxNotificationDepth is no
  // notification: record/format; found in review: inside a request it refused the whole batch).
  if (value.source_bytes() > kMaxNotificationBytes) return RecordError(ErrorCode::kTooLong);
  if (DepthOf(value, kMaxNotificationDepth) > kMaxNotificationDepth) {
    return RecordError(ErrorCode::kFormat);
  }
  if (!value.is_object()) return RecordError(ErrorCode::kType);
  std::vector<RawField> fields;
  fields.reserve(value.members().size());
  for (const auto& [key, v] : value.members()) {
    RawField f;
    f.key = key;
    switch (v.type()) {
      case text::JsonValue::Type::kNull: f.value.kind = RawValue::Kind::kNull; break;
      case text::JsonValue::Type::kString:
        f.value.kind = RawValue::Kind::kString;
        f.value.text = v.text();
        f.value.well_formed = v.well_formed();
        break;
      case text::JsonValue::Type::kNumber:
        f.value.kind = RawValue::Kind::kNumber;
        f.value.text = v.text();
        f.value.integer_literal = v.is_integer_literal();
        break;
      default: f.value.kind = RawValue::Kind::kOther; break;
    }
    fields.push_back(std::move(f));
  }
  return CheckNotification(fields, options);
}

CheckResult CheckJsonNotification(std::string_view json, const CheckOptions& options) {
  if (json.size() > kMaxNotificationBytes) return RecordError(ErrorCode::kTooLong);
  text::JsonLimits limits;
  limits.max_bytes = kMaxNotificationBytes;
  limits.max_depth = kMaxNotificationDepth;
  Result<text::JsonValue> v = text::ParseJson(json, limits);
  if (!v.ok()) return RecordError(ErrorCode::kFormat);
  return CheckJsonNotification(*v, options);
}

NotificationStream::NotificationStream(std::istream& in, InputFormat format,
                                       InputEncoding encoding, CheckOptions options)
    : format_(format), encoding_(encoding), options_(options) {
  if (format_ == InputFormat::kCsv) {
    options_.allow_wareki_dates = true;
    csv_ = std::make_unique<text::CsvReader>(in, kMaxNotificationBytes,
                                             encoding_ == InputEncoding::kUtf8);
  } else {
    lines_ = std::make_unique<text::LineReader>(in, kMaxNotificationBytes, /*strip_bom=*/true);
  }
}

NotificationStream::~NotificationStream() = default;

bool NotificationStream::Next(StreamItem* item) {
  if (!status_.ok()) return false;
  return format_ == InputFormat::kCsv ? NextCsvRow(item) : NextJsonLine(item);
}

bool NotificationStream::NextJsonLine(StreamItem* item) {
  text::Line line;
  while (lines_->Next(&line)) {
    if (lines_->failed()) break;  // a read error cut this line short: never apply a part
    item->line = line.number;
    if (line.too_long) {
      item->result = RecordError(ErrorCode::kTooLong);
      return true;
    }
    bool blank = std::all_of(line.text.begin(), line.text.end(),
                             [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
    if (blank) continue;
    item->result = CheckJsonNotification(line.text, options_);
    return true;
  }
  if (lines_->failed()) status_ = Status::IoError("read error");
  return false;
}

RawValue NotificationStream::DecodeCell(const std::string& cell) const {
  RawValue v;
  if (cell.empty()) return v;  // kNull: an empty cell is an absent field
  v.kind = RawValue::Kind::kString;
  if (encoding_ == InputEncoding::kCp932) {
    auto decoded = text::DecodeCp932(cell);
    if (decoded) {
      v.text = std::move(*decoded);
    } else {
      v.well_formed = false;
    }
  } else {
    v.text = cell;
    v.well_formed = text::IsValidUtf8(cell);
  }
  return v;
}

bool NotificationStream::NextCsvRow(StreamItem* item) {
  text::CsvRecord rec;
  if (!header_read_) {
    header_read_ = true;
    if (!csv_->Next(&rec)) {
      if (csv_->failed()) status_ = Status::IoError("read error");
      return false;  // empty input: no records
    }
    if (rec.malformed || rec.too_long) {
      status_ = Status::InvalidArgument("CSV header on line 1 is malformed");
      return false;
    }
    for (const std::string& cell : rec.fields) {
      RawValue v = DecodeCell(cell);
      if (!v.well_formed || !text::IsValidUtf8(v.text)) {
        status_ = Status::InvalidArgument("CSV header is not valid text in the given encoding");
        return false;
      }
      // A control character in a column name: most likely line endings of CR alone (old Mac
      // exports), which would make the whole file one header row and give no result at all.
      if (std::any_of(v.text.begin(), v.text.end(), [](char ch) {
            return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F;
          })) {
        status_ = Status::InvalidArgument(
            "CSV header on line 1 holds a control character (lines ending in CR alone? use "
            "CRLF or LF)");
        header_.clear();
        return false;
      }
      header_.push_back(v.text);
    }
    if (std::none_of(header_.begin(), header_.end(),
                     [](const std::string& h) { return FindField(h) >= 0; })) {
      // Most likely a file without a header row: its first record must not be taken for
      // column names (and echoed back as such).
      status_ = Status::InvalidArgument(
          "the first CSV row has none of the contract's column names: a header row is required");
      header_.clear();
      return false;
    }
  }
  if (!csv_->Next(&rec) || csv_->failed()) {
    // A read error may have cut the last record short: it is not returned.
    if (csv_->failed()) status_ = Status::IoError("read error");
    return false;
  }
  item->line = rec.line;
  if (rec.too_long) {
    item->result = RecordError(ErrorCode::kTooLong);
    return true;
  }
  if (rec.malformed || rec.fields.size() != header_.size()) {
    item->result = RecordError(ErrorCode::kFormat);
    return true;
  }
  std::vector<RawField> fields(header_.size());
  for (size_t i = 0; i < header_.size(); ++i) {
    fields[i].key = header_[i];
    fields[i].value = DecodeCell(rec.fields[i]);
    if (header_[i] == "sequence" && fields[i].value.kind == RawValue::Kind::kString &&
        fields[i].value.well_formed) {
      // CSV has no types: a sequence cell is a number if it is plain digits, and a
      // malformed number (`format`) otherwise.
      RawValue& v = fields[i].value;
      v.kind = RawValue::Kind::kNumber;
      v.integer_literal = std::all_of(v.text.begin(), v.text.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
    }
  }
  item->result = CheckNotification(fields, options_);
  return true;
}

}  // namespace kakunin
