#include "domain/check_digit.h"

namespace kakunin {
namespace {
int WeightedMod11(std::string_view digits, const int* weights) {
  int sum = 0;
  for (size_t i = 0; i < digits.size(); ++i) sum += (digits[i] - '0') * weights[i];
  return sum % 11;
}
}  // namespace

bool IsDigits(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int LocalGovCheckDigit(std::string_view d) {
  static constexpr int kW[] = {6, 5, 4, 3, 2};
  return (11 - WeightedMod11(d, kW)) % 10;
}

int IndividualNumberCheckDigit(std::string_view d) {
  static constexpr int kW[] = {6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  int r = WeightedMod11(d, kW);
  return r <= 1 ? 0 : 11 - r;
}

int ResidentCodeCheckDigit(std::string_view d) {
  static constexpr int kW[] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  int r = WeightedMod11(d, kW);
  return r <= 1 ? 0 : 11 - r;
}

}  // namespace kakunin
