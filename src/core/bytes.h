#pragma once

// Byte helpers: hex encoding and constant-time comparison.

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

}  // namespace kakunin
