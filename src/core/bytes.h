#pragma once

// Byte helpers: hex encoding, constant-time comparison, row ids.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kakunin {

// Lower-case hex of `bytes`.
std::string HexEncode(std::string_view bytes);
// Strict: even length, [0-9a-fA-F] only; nullopt otherwise.
std::optional<std::string> HexDecode(std::string_view hex);
// Compares without an early exit, for secrets.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// A row id as a path segment or a reference spells it: 1 to 18 ASCII digits (no sign, no
// space); nullopt otherwise.
std::optional<int64_t> ParseRowId(std::string_view digits);

}  // namespace kakunin
