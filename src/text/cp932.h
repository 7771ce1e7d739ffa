#pragma once

// CP932 (windows-31j) decoding for CSV files from municipal systems. Invalid or
// unmapped byte sequences are errors, never replaced: a name with a substituted
// character would be a different name.

#include <optional>
#include <string>
#include <string_view>

namespace kakunin::text {

// Decodes `bytes` to UTF-8; nullopt if any byte sequence is invalid or unmapped.
// Thread-safe (one converter per thread).
std::optional<std::string> DecodeCp932(std::string_view bytes);

// True for bytes that can start a two-byte CP932 character. Trail bytes are
// 0x40..0xFC, so ASCII structure bytes (, " CR LF) never occur inside a character and a
// CSV record can be split before decoding.
inline bool IsCp932LeadByte(unsigned char c) {
  return (c >= 0x81 && c <= 0x9F) || (c >= 0xE0 && c <= 0xFC);
}

}  // namespace kakunin::text
