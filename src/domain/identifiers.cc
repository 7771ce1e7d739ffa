#include "domain/identifiers.h"

#include "domain/check_digit.h"

namespace kakunin {

std::optional<ResidentCode> ResidentCode::Parse(std::string_view s, ResidentCodeCheck check,
                                                ErrorCode* error) {
  if (!IsDigits(s, 11)) {
    *error = ErrorCode::kFormat;
    return std::nullopt;
  }
  if (check == ResidentCodeCheck::kFull && ResidentCodeCheckDigit(s.substr(0, 10)) != s[10] - '0') {
    *error = ErrorCode::kCheckDigit;
    return std::nullopt;
  }
  return ResidentCode(std::string(s));
}

ResidentCode ResidentCode::FromTenDigits(std::string_view d) {
  std::string s(d);
  s.push_back(static_cast<char>('0' + ResidentCodeCheckDigit(d)));
  return ResidentCode(std::move(s));
}

std::optional<IndividualNumber> IndividualNumber::Parse(std::string_view s, ErrorCode* error) {
  if (!IsDigits(s, 12)) {
    *error = ErrorCode::kFormat;
    return std::nullopt;
  }
  if (IndividualNumberCheckDigit(s.substr(0, 11)) != s[11] - '0') {
    *error = ErrorCode::kCheckDigit;
    return std::nullopt;
  }
  return IndividualNumber(std::string(s));
}

IndividualNumber IndividualNumber::FromElevenDigits(std::string_view d) {
  std::string s(d);
  s.push_back(static_cast<char>('0' + IndividualNumberCheckDigit(d)));
  return IndividualNumber(std::move(s));
}

}  // namespace kakunin
