#include "domain/errors.h"

namespace kakunin {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMissing: return "missing";
    case ErrorCode::kUnknownField: return "unknown_field";
    case ErrorCode::kDuplicateKey: return "duplicate_key";
    case ErrorCode::kType: return "type";
    case ErrorCode::kFormat: return "format";
    case ErrorCode::kCheckDigit: return "check_digit";
    case ErrorCode::kUnknownValue: return "unknown_value";
    case ErrorCode::kInvalidDate: return "invalid_date";
    case ErrorCode::kFutureDate: return "future_date";
    case ErrorCode::kDateOrder: return "date_order";
    case ErrorCode::kKindMismatch: return "kind_mismatch";
    case ErrorCode::kInvalidText: return "invalid_text";
    case ErrorCode::kTooLong: return "too_long";
    case ErrorCode::kNotApplicable: return "not_applicable";
    case ErrorCode::kAddressMismatch: return "address_mismatch";
    case ErrorCode::kOutsidePrefecture: return "outside_prefecture";
    case ErrorCode::kSequenceGap: return "sequence_gap";
    case ErrorCode::kSequenceConflict: return "sequence_conflict";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyRegistered: return "already_registered";
    case ErrorCode::kRemoved: return "removed";
    case ErrorCode::kWrongMunicipality: return "wrong_municipality";
    case ErrorCode::kNumberInUse: return "number_in_use";
    case ErrorCode::kCodeInUse: return "code_in_use";
    case ErrorCode::kIdentityMismatch: return "identity_mismatch";
    case ErrorCode::kDeceased: return "deceased";
    case ErrorCode::kAbolished: return "abolished";
  }
  return "";
}

void AppendSuccessorsJson(const FieldError& e, std::string* out) {
  if (e.successors.empty()) return;
  out->append(",\"successors\":[");
  for (size_t i = 0; i < e.successors.size(); ++i) {
    if (i > 0) out->push_back(',');
    // Codes are six digits (checked when the table is built): nothing to escape.
    out->push_back('"');
    out->append(e.successors[i]);
    out->push_back('"');
  }
  out->push_back(']');
}

}  // namespace kakunin
