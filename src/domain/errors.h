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
};

// The wire name, e.g. "check_digit".
std::string_view ErrorCodeName(ErrorCode code);

// One error of one notification: the field it concerns ("record" for the notification
// as a whole) and its code. Never carries the offending value.
struct FieldError {
  std::string field;
  ErrorCode code;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

using FieldErrors = std::vector<FieldError>;

inline constexpr std::string_view kRecordField = "record";

}  // namespace kakunin
