#pragma once

// UTF-8 checks for text from outside (DESIGN §5, spec/notifications.md "Text fields").

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kakunin::text {

// Decodes one code point at s[*pos] and advances *pos. Strict (RFC 3629): rejects
// overlong forms, surrogates (U+D800..U+DFFF, "CESU" encodings), values above U+10FFFF
// and truncated sequences. Returns nullopt (and leaves *pos) on error.
std::optional<char32_t> DecodeOne(std::string_view s, size_t* pos);

// Appends the UTF-8 encoding of `cp`. REQUIRES: cp is a Unicode scalar value.
void AppendUtf8(char32_t cp, std::string* out);

// True iff `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

// Number of code points; REQUIRES: IsValidUtf8(s).
size_t CodePointCount(std::string_view s);

// The contract's forbidden characters: C0 and C1 controls (U+0000..U+001F,
// U+007F..U+009F), bidirectional overrides and isolates (U+202A..U+202E,
// U+2066..U+2069).
bool IsForbiddenCodePoint(char32_t cp);

enum class TextCheck {
  kOk,
  kInvalid,  // bad UTF-8 or a forbidden character
};

// Checks a text field: well-formed UTF-8 with no forbidden code point. On success
// `*code_points` (if given) receives the length in code points.
TextCheck CheckText(std::string_view s, size_t* code_points = nullptr);

}  // namespace kakunin::text
