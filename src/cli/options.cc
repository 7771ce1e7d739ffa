#include "cli/options.h"

#include <ostream>

#include "core/clock.h"
#include "text/json.h"

namespace kakunin::cli {

std::vector<OptionSpec> InputOptionSpecs() {
  return {
      {"format", "jsonl|csv", "入力形式 / input format (default: csv for *.csv, else jsonl)"},
      {"encoding", "utf-8|cp932", "文字コード (CSVのみ cp932 可) / encoding; cp932 for CSV only"},
      {"today", "YYYY-MM-DD", "基準日 / the date used for future_date (default: today, JST)"},
      {"resident-code-check", "full|format",
       "住民票コードの検査 / resident-code check digit or format only (default: full)"},
      {"past-records", "",
       "過去の記録の一括取込 / past records: each municipality code (and the address's "
       "municipality) is checked as of the record's change_date, so codes abolished since are "
       "accepted"},
  };
}

std::optional<InputOptions> ParseInputOptions(const Args& args, const char* command, Io& io) {
  auto usage = [&](const std::string& msg) {
    io.err << "kakunin " << command << ": " << msg << "\n"
           << "詳しくは / see: kakunin " << command << " --help\n";
    return std::nullopt;
  };
  InputOptions o;
  if (args.positional().size() != 1) return usage("give exactly one input FILE, or - for stdin");
  o.path = args.positional()[0];
  bool csv_name = o.path.size() > 4 && o.path.compare(o.path.size() - 4, 4, ".csv") == 0;
  std::string format = args.Get("format").value_or(csv_name ? "csv" : "jsonl");
  if (format == "jsonl") {
    o.format = InputFormat::kJsonLines;
  } else if (format == "csv") {
    o.format = InputFormat::kCsv;
  } else {
    return usage("--format must be jsonl or csv");
  }
  std::string encoding = args.Get("encoding").value_or("utf-8");
  if (encoding == "utf-8" || encoding == "utf8") {
    o.encoding = InputEncoding::kUtf8;
  } else if (encoding == "cp932" || encoding == "windows-31j") {
    if (o.format != InputFormat::kCsv) return usage("--encoding cp932 is for CSV only");
    o.encoding = InputEncoding::kCp932;
  } else {
    return usage("--encoding must be utf-8 or cp932");
  }
  if (auto today = args.Get("today")) {
    DateParse p = ParseIsoDate(*today);
    if (!p.date) return usage("--today must be a date YYYY-MM-DD");
    o.check.today = *p.date;
  } else {
    o.check.today = SystemClock().TodayJst();
  }
  std::string rc = args.Get("resident-code-check").value_or("full");
  if (rc == "full") {
    o.check.resident_code_check = ResidentCodeCheck::kFull;
  } else if (rc == "format") {
    o.check.resident_code_check = ResidentCodeCheck::kFormatOnly;
  } else {
    return usage("--resident-code-check must be full or format");
  }
  o.check.municipality_on_change_date = args.Has("past-records");
  return o;
}

void EncodingHint::See(const FieldErrors& errors) {
  for (const FieldError& e : errors) {
    if (e.code == ErrorCode::kInvalidText) {
      ++unreadable_;
      return;
    }
  }
}

void EncodingHint::Print(const InputOptions& input, bool encoding_given, const char* command,
                         Io& io) const {
  if (unreadable_ == 0 || encoding_given || input.format != InputFormat::kCsv ||
      input.encoding != InputEncoding::kUtf8) {
    return;
  }
  // invalid_text is also a control character or non-kana in name_kana (found in review: the
  // hint called a valid UTF-8 file unreadable), so it says what may be the cause, not what is.
  io.err << "kakunin " << command << ": " << unreadable_
         << " 件の記録に使えない文字 (invalid_text) があります。UTF-8 として読めないためなら、"
            "CP932 (Shift_JIS) のファイルには --encoding cp932 を付けてください / "
         << unreadable_
         << " record(s) hold text the contract does not allow (invalid_text); if that is because "
            "the file is CP932 (Shift_JIS), not UTF-8, add --encoding cp932\n";
}

void ValidationSummary::Add(const CheckResult& result) {
  ++total_;
  if (result.ok()) {
    ++accepted_;
    const Notification& n = *result.notification;
    ++by_municipality_[n.municipality_code];
    ++by_reason_[std::string(ChangeReasonJapanese(n.reason)) + " (" +
                 std::string(ChangeReasonName(n.reason)) + ")"];
    return;
  }
  for (const FieldError& e : result.errors) {
    ++by_error_[e.field + ": " + std::string(ErrorCodeName(e.code))];
  }
}

std::string ValidationSummary::Format(const LocalGovTable& table) const {
  auto line = [](const std::string& label, size_t n) {
    // Terminal columns: ASCII takes one, Japanese text two.
    size_t width = 0;
    for (unsigned char c : label) {
      if (c < 0x80) ++width;
      else if ((c & 0xC0) != 0x80) width += 2;
    }
    std::string count = std::to_string(n);
    size_t pad = width < 40 ? 40 - width : 1;
    if (count.size() < 8) pad += 8 - count.size();
    return "  " + label + std::string(pad, ' ') + count + "\n";
  };
  std::string out;
  out += "検査件数 / records checked: " + std::to_string(total_) + "\n";
  out += "受理 / accepted: " + std::to_string(accepted_) + "\n";
  out += "不受理 / rejected: " + std::to_string(total_ - accepted_) + "\n";
  if (!by_error_.empty()) {
    out += "\nエラー（項目: コード）/ errors (field: code):\n";
    for (const auto& [k, n] : by_error_) out += line(k, n);
  }
  if (!by_reason_.empty()) {
    out += "\n異動事由 / change reasons:\n";
    for (const auto& [k, n] : by_reason_) out += line(k, n);
  }
  if (!by_municipality_.empty()) {
    out += "\n通知元市区町村 / senders:\n";
    for (const auto& [code, n] : by_municipality_) {
      const LocalGovEntry* e = table.Find(code);
      out += line(code + " " + (e ? e->FullName() : std::string("?")), n);
    }
  }
  return out;
}

void AppendResultLine(const char* key, size_t number, const CheckResult& result, bool duplicate,
                      std::string* out) {
  out->append("{\"");
  out->append(key);
  out->append("\":");
  out->append(std::to_string(number));
  if (result.ok()) {
    out->append(duplicate ? ",\"ok\":true,\"duplicate\":true}\n" : ",\"ok\":true}\n");
    return;
  }
  out->append(",\"ok\":false,\"errors\":[");
  bool first = true;
  for (const FieldError& e : result.errors) {
    if (!first) out->push_back(',');
    first = false;
    out->append("{\"field\":");
    text::AppendJsonString(e.field, out);
    out->append(",\"code\":\"");
    out->append(ErrorCodeName(e.code));
    out->push_back('"');
    AppendSuccessorsJson(e, out);
    out->push_back('}');
  }
  out->append("]}\n");
}

}  // namespace kakunin::cli
