#pragma once

// Check digits of the three identifiers (spec/notifications.md, "Check digits").
// Each function takes the digits *without* the check digit and returns the check digit
// (0..9). REQUIRES: the argument has the stated length and only ASCII digits.

#include <string_view>

namespace kakunin {

// 全国地方公共団体コード: 5 digits weighted 6,5,4,3,2; r = Σ mod 11; (11 − r) mod 10.
int LocalGovCheckDigit(std::string_view five_digits);

// 個人番号: 11 digits weighted 6,5,4,3,2,7,6,5,4,3,2; r = Σ mod 11; 0 if r ≤ 1 else 11 − r
// (総務省令第85号 第5条).
int IndividualNumberCheckDigit(std::string_view eleven_digits);

// 住民票コード: 10 digits weighted 5,4,3,2,7,6,5,4,3,2; 0 if r ≤ 1 else 11 − r. The official
// formula (平成14年総務省告示第436号) could not be read; this is the contract's stand-in,
// kept behind this one function (and switchable to format-only, see ResidentCodeCheck).
int ResidentCodeCheckDigit(std::string_view ten_digits);

// True iff `s` is exactly `n` ASCII digits.
bool IsDigits(std::string_view s, size_t n);

}  // namespace kakunin
