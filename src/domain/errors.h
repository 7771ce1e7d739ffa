#pragma once

// The contract's error codes (spec/notifications.md, "Checks and error codes").

#include <string>
#include <string_view>
#include <vector>

namespace kakunin {

enum class ErrorCode {
  // Field checks (no state).
  kMissing,
  kUnknownField,
  kDuplicateKey,
  kType,
  kFormat,
  kCheckDigit,
  kUnknownValue,
  kInvalidDate,
  kFutureDate,
  kDateOrder,
  kKindMismatch,
  kInvalidText,
  kTooLong,
  kNotApplicable,
  kAddressMismatch,
  // State checks (need the registry; field "record").
  kOutsidePrefecture,
  kSequenceGap,
  kSequenceConflict,
  kNotFound,
  kAlreadyRegistered,
  kRemoved,
  kWrongMunicipality,
  kNumberInUse,
  kCodeInUse,
  kIdentityMismatch,
  kDeceased,
  // A field check, appended last so existing numeric values stay put: a municipality code
  // the table knows but that is not valid on the check date (FieldError::successors).
  kAbolished,
};

// The wire name, e.g. "check_digit".
std::string_view ErrorCodeName(ErrorCode code);

// One error of one notification: the field it concerns ("record" for the notification
// as a whole) and its code. Never carries the offending value.
struct FieldError {
  std::string field;
  ErrorCode code;
  // kAbolished only: the codes that took the municipality over (public codes, not personal
  // data), as the contract's `"successors": [codes]`.
  std::vector<std::string> successors = {};
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

// Appends `,"successors":["221384"]` for an error that carries successors, else nothing; the
// writers of error objects call it after the code so every other error stays byte-identical.
void AppendSuccessorsJson(const FieldError& e, std::string* out);

using FieldErrors = std::vector<FieldError>;

inline constexpr std::string_view kRecordField = "record";

}  // namespace kakunin
