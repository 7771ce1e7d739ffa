#include "text/cp932.h"

#include <unicode/ucnv.h>
#include <unicode/ucnv_err.h>

#include <memory>

#include "text/utf8.h"

namespace kakunin::text {
namespace {

struct ConverterCloser {
  void operator()(UConverter* c) const { ucnv_close(c); }
};
using ConverterPtr = std::unique_ptr<UConverter, ConverterCloser>;

UConverter* ThreadConverter() {
  thread_local ConverterPtr conv = [] {
    UErrorCode err = U_ZERO_ERROR;
    ConverterPtr c(ucnv_open("windows-31j", &err));
    if (U_FAILURE(err)) return ConverterPtr();
    // Stop at the first invalid or unmapped sequence instead of substituting U+FFFD.
    ucnv_setToUCallBack(c.get(), UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &err);
    if (U_FAILURE(err)) return ConverterPtr();
    return c;
  }();
  return conv.get();
}

}  // namespace

std::optional<std::string> DecodeCp932(std::string_view bytes) {
  // Pure ASCII is identical in both encodings (ICU's windows-31j maps 0x5C to U+005C and
  // 0x7E to U+007E).
  bool ascii = true;
  for (unsigned char c : bytes) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return std::string(bytes);

  UConverter* conv = ThreadConverter();
  if (conv == nullptr) return std::nullopt;
  ucnv_reset(conv);
  // UTF-16 needs at most one unit per input byte.
  std::u16string utf16(bytes.size() + 1, u'\0');
  UChar* target = reinterpret_cast<UChar*>(utf16.data());
  UChar* target_limit = target + utf16.size();
  const char* source = bytes.data();
  UErrorCode err = U_ZERO_ERROR;
  ucnv_toUnicode(conv, &target, target_limit, &source, bytes.data() + bytes.size(), nullptr,
                 /*flush=*/true, &err);
  if (U_FAILURE(err)) return std::nullopt;
  size_t units = static_cast<size_t>(target - reinterpret_cast<UChar*>(utf16.data()));
  // UTF-16 → UTF-8.
  std::string out;
  out.reserve(units * 3);
  for (size_t i = 0; i < units; ++i) {
    char32_t cp = utf16[i];
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < units && utf16[i + 1] >= 0xDC00 &&
        utf16[i + 1] <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (utf16[i + 1] - 0xDC00);
      ++i;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      return std::nullopt;
    }
    AppendUtf8(cp, &out);
  }
  return out;
}

}  // namespace kakunin::text
