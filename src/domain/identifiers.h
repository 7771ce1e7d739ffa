#pragma once

// Identifier value types that can only exist valid. Their text is personal data: never
// put it in a log line, a metric or an error message.

#include <optional>
#include <string>
#include <string_view>

#include "domain/errors.h"

namespace kakunin {

// How strictly 住民票コード check digits are enforced (a node setting): the contract's
// formula is a stand-in for an unpublished one, so a deployment can fall back to format
// only.
enum class ResidentCodeCheck { kFull, kFormatOnly };

// 住民票コード: 11 digits, the last a check digit.
class ResidentCode {
 public:
  // kFormat unless 11 ASCII digits; kCheckDigit if the check digit does not match.
  static std::optional<ResidentCode> Parse(std::string_view s, ResidentCodeCheck check,
                                           ErrorCode* error);
  // Appends the check digit to 10 digits. REQUIRES: IsDigits(ten_digits, 10).
  static ResidentCode FromTenDigits(std::string_view ten_digits);
  const std::string& str() const { return s_; }
  friend bool operator==(const ResidentCode&, const ResidentCode&) = default;
  friend auto operator<=>(const ResidentCode&, const ResidentCode&) = default;

 private:
  explicit ResidentCode(std::string s) : s_(std::move(s)) {}
  std::string s_;
};

// 個人番号: 12 digits, the last a check digit.
class IndividualNumber {
 public:
  static std::optional<IndividualNumber> Parse(std::string_view s, ErrorCode* error);
  // REQUIRES: IsDigits(eleven_digits, 11).
  static IndividualNumber FromElevenDigits(std::string_view eleven_digits);
  const std::string& str() const { return s_; }
  friend bool operator==(const IndividualNumber&, const IndividualNumber&) = default;

 private:
  explicit IndividualNumber(std::string s) : s_(std::move(s)) {}
  std::string s_;
};

}  // namespace kakunin
