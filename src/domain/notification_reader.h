#pragma once

// Reading notifications from outside: every field check of spec/notifications.md, with
// every field error reported at once. JSON (one object) and CSV (header + rows, UTF-8 or
// CP932) share one checker, so both formats answer identically.

#include <cstddef>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/date.h"
#include "core/status.h"
#include "domain/errors.h"
#include "domain/identifiers.h"
#include "domain/local_gov_code.h"
#include "domain/notification.h"
#include "text/csv.h"
#include "text/json.h"

namespace kakunin {

// A notification's JSON text may not exceed this; a CSV record likewise.
inline constexpr size_t kMaxNotificationBytes = 16 * 1024;
// How deep one notification may nest, in a line or inside a request: as text::JsonLimits'
// max_depth counts (the notification's own object at 0).
inline constexpr size_t kMaxNotificationDepth = 8;

// Length limits in code points (the contract's, plus name_kana, which it leaves open:
// we allow what `name` allows).
inline constexpr size_t kMaxNameCodePoints = 200;
inline constexpr size_t kMaxKanaCodePoints = 200;
inline constexpr size_t kMaxFormerSurnameCodePoints = 100;
inline constexpr size_t kMaxAliasCodePoints = 200;
inline constexpr size_t kMaxAddressCodePoints = 300;

// One field as it arrived, before checking.
struct RawValue {
  enum class Kind {
    kNull,    // JSON null, or an empty CSV cell
    kString,  // JSON string or CSV cell
    kNumber,  // JSON number
    kOther,   // JSON true/false/array/object
  };
  Kind kind = Kind::kNull;
  std::string text;        // string bytes, or the number literal
  bool well_formed = true;  // string: valid UTF-8 (after decoding), no lone surrogates
  bool integer_literal = false;  // number: no fraction or exponent
};

struct RawField {
  std::string key;
  RawValue value;
};

struct CheckOptions {
  // The node's current date, for `future_date`.
  Date today = Date::FromYmd(2000, 1, 1);
  ResidentCodeCheck resident_code_check = ResidentCodeCheck::kFull;
  // CSV only: dates may be written in 和暦.
  bool allow_wareki_dates = false;
  // A municipality code is checked against `today` (an abolished one is `abolished`); a bulk
  // import of past records sets this to check it against the record's change_date instead,
  // so a record from before a merger keeps the code (and, for the address rule, the name)
  // of its time.
  bool municipality_on_change_date = false;
  // REQUIRES: non-null. Defaults to the built-in table.
  const LocalGovTable* table = &LocalGovTable::Builtin();
};

struct CheckResult {
  std::optional<Notification> notification;  // set iff errors is empty
  FieldErrors errors;
  // Set when the only error is an `abolished` municipality_code and the notification passes
  // every check as of the code's last day: what it was when its sender may have sent it. The
  // contract acknowledges an identical replay of an applied sequence whatever changed since
  // ("senders retry safely"), so a retry that crossed a merger is a duplicate if, and only if,
  // its sequence was applied with this very payload (Registry::ApplyIn); otherwise the
  // abolition stands.
  std::optional<Notification> replay_candidate;
  bool ok() const { return errors.empty(); }
};

// Whether `key` is one of the contract's field names (an error's `field` is one of them, or
// `record`, or an unknown key the sender wrote).
bool IsNotificationField(std::string_view key);

// Checks fields in arrival order (duplicates and unknown keys included). Errors come in
// arrival order for unknown_field/duplicate_key, then in the contract's field order.
CheckResult CheckNotification(const std::vector<RawField>& fields, const CheckOptions& options);

// One notification as JSON text. A text that is not JSON gets {record, format}; not an
// object {record, type}; over kMaxNotificationBytes {record, too_long}.
CheckResult CheckJsonNotification(std::string_view json, const CheckOptions& options);
// One notification already parsed (e.g. an element of an API request).
CheckResult CheckJsonNotification(const text::JsonValue& value, const CheckOptions& options);

enum class InputFormat { kJsonLines, kCsv };
enum class InputEncoding { kUtf8, kCp932 };

// One input record and its verdict.
struct StreamItem {
  size_t line = 0;  // the physical line the record starts on (1-based)
  CheckResult result;
};

// Reads a whole JSON Lines or CSV stream record by record, with bounded memory.
// JSON Lines: blank lines are skipped; `line` is the line number. CSV: the first record is
// the header (the contract's column names, any order; an unknown or repeated column is
// reported on every row as unknown_field / duplicate_key); `line` is where the row starts
// (the header is line 1). Not thread-safe.
class NotificationStream {
 public:
  // REQUIRES: encoding is kUtf8 unless format is kCsv. `in` outlives the stream.
  NotificationStream(std::istream& in, InputFormat format, InputEncoding encoding,
                     CheckOptions options);
  ~NotificationStream();

  // The next record; false at the end of input or on an error of the input as a whole
  // (unreadable, bad CSV header): see status().
  bool Next(StreamItem* item);
  // OK unless reading stopped because of an I/O error or a bad header.
  const Status& status() const { return status_; }

 private:
  bool NextJsonLine(StreamItem* item);
  bool NextCsvRow(StreamItem* item);
  RawValue DecodeCell(const std::string& cell) const;

  InputFormat format_;
  InputEncoding encoding_;
  CheckOptions options_;
  std::unique_ptr<text::LineReader> lines_;
  std::unique_ptr<text::CsvReader> csv_;
  std::vector<std::string> header_;
  bool header_read_ = false;
  Status status_;
};

}  // namespace kakunin
