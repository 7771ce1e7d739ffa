#include "text/utf8.h"

namespace kakunin::text {

std::optional<char32_t> DecodeOne(std::string_view s, size_t* pos) {
  size_t i = *pos;
  if (i >= s.size()) return std::nullopt;
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c0 = b(i);
  if (c0 < 0x80) {
    *pos = i + 1;
    return c0;
  }
  size_t n;
  char32_t cp;
  char32_t min;
  if ((c0 & 0xE0) == 0xC0) {
    n = 2; cp = c0 & 0x1F; min = 0x80;
  } else if ((c0 & 0xF0) == 0xE0) {
    n = 3; cp = c0 & 0x0F; min = 0x800;
  } else if ((c0 & 0xF8) == 0xF0) {
    n = 4; cp = c0 & 0x07; min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (i + n > s.size()) return std::nullopt;
  for (size_t k = 1; k < n; ++k) {
    unsigned char c = b(i + k);
    if ((c & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  *pos = i + n;
  return cp;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsValidUtf8(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    // ASCII fast path.
    if (static_cast<unsigned char>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    if (!DecodeOne(s, &pos)) return false;
  }
  return true;
}

size_t CodePointCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsForbiddenCodePoint(char32_t cp) {
  return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

TextCheck CheckText(std::string_view s, size_t* code_points) {
  size_t pos = 0, n = 0;
  while (pos < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[pos]);
    if (c < 0x80) {
      if (c <= 0x1F || c == 0x7F) return TextCheck::kInvalid;
      ++pos;
    } else {
      auto cp = DecodeOne(s, &pos);
      if (!cp || IsForbiddenCodePoint(*cp)) return TextCheck::kInvalid;
    }
    ++n;
  }
  if (code_points) *code_points = n;
  return TextCheck::kOk;
}

}  // namespace kakunin::text
