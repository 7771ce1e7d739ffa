#include "text/search_key.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "text/utf8.h"

namespace kakunin {
extern const std::string_view kVariantFoldsTsv;  // generated from data/variant_folds.tsv
}  // namespace kakunin

namespace kakunin::text {
namespace {

// The 異体字 fold: data/variant_folds.tsv, generated from Unihan by scripts/build-variant-folds
// and compiled in (src/CMakeLists.txt). Lines are "variant<TAB>canonical<TAB>…"; '#' starts a
// comment. Only pairs that name registers treat as "the same name" for finding a person; never
// applied to stored text.
using FoldTable = std::vector<std::pair<char32_t, char32_t>>;

std::optional<char32_t> OnlyCodePoint(std::string_view field) {
  size_t pos = 0;
  auto cp = DecodeOne(field, &pos);
  if (!cp || pos != field.size()) return std::nullopt;
  return cp;
}

FoldTable ParseFolds(std::string_view tsv) {
  FoldTable table;
  while (!tsv.empty()) {
    size_t eol = tsv.find('\n');
    std::string_view line = tsv.substr(0, eol);
    tsv = eol == std::string_view::npos ? std::string_view() : tsv.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    size_t t1 = line.find('\t');
    if (t1 == std::string_view::npos) continue;
    size_t t2 = line.find('\t', t1 + 1);
    auto from = OnlyCodePoint(line.substr(0, t1));
    auto to = OnlyCodePoint(line.substr(t1 + 1, t2 == std::string_view::npos ? t2 : t2 - t1 - 1));
    if (from && to) table.emplace_back(*from, *to);
  }
  std::sort(table.begin(), table.end());
  return table;
}

const FoldTable& Folds() {
  static const FoldTable* table = new FoldTable(ParseFolds(kVariantFoldsTsv));
  return *table;
}

bool IsVariationSelector(char32_t cp) {
  return (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF) ||
         (cp >= 0x180B && cp <= 0x180D);
}

bool IsSkipped(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == 0x3000 || cp == 0x30FB || cp == 0xFF65 ||
         IsVariationSelector(cp);
}

char32_t FoldKana(char32_t cp) {
  // Katakana → hiragana (ァ..ヶ, ヽヾ).
  if (cp >= 0x30A1 && cp <= 0x30F6) cp -= 0x60;
  if (cp == 0x30FD || cp == 0x30FE) cp -= 0x60;
  switch (cp) {  // small → large
    case 0x3041: return 0x3042;
    case 0x3043: return 0x3044;
    case 0x3045: return 0x3046;
    case 0x3047: return 0x3048;
    case 0x3049: return 0x304A;
    case 0x3063: return 0x3064;
    case 0x3083: return 0x3084;
    case 0x3085: return 0x3086;
    case 0x3087: return 0x3088;
    case 0x308E: return 0x308F;
    case 0x3095: return 0x3051;  // ヵ (via ゕ) → け, as ヶ/ケ/ヵ are one in place names
    case 0x3096: return 0x3051;  // ヶ (via ゖ) → け
    default: return cp;
  }
}

const icu::Normalizer2* Nfkc() {
  static const icu::Normalizer2* n = [] {
    UErrorCode err = U_ZERO_ERROR;
    const icu::Normalizer2* p = icu::Normalizer2::getNFKCInstance(err);
    return U_SUCCESS(err) ? p : nullptr;
  }();
  return n;
}

bool IsKanaCodePoint(char32_t cp) {
  return (cp >= 0x3041 && cp <= 0x3096) ||  // hiragana
         (cp >= 0x3099 && cp <= 0x309E) ||  // voiced marks, ゝゞ
         (cp >= 0x30A1 && cp <= 0x30FE) ||  // katakana, ・ ー ヽヾ
         (cp >= 0x31F0 && cp <= 0x31FF) ||  // small katakana extension
         (cp >= 0xFF65 && cp <= 0xFF9F);    // half-width katakana, ･ ｰ ﾞ ﾟ
}

}  // namespace

int DigitValue(char32_t cp) {
  if (cp >= '0' && cp <= '9') return static_cast<int>(cp - '0');
  switch (cp) {
    case 0x3007: case 0x96F6: return 0;  // 〇 零
    case 0x4E00: return 1;               // 一
    case 0x4E8C: return 2;               // 二
    case 0x4E09: return 3;               // 三
    case 0x56DB: return 4;               // 四
    case 0x4E94: return 5;               // 五
    case 0x516D: return 6;               // 六
    case 0x4E03: return 7;               // 七
    case 0x516B: return 8;               // 八
    case 0x4E5D: return 9;               // 九
    default: break;
  }
  if (cp < 0x80 || u_charType(static_cast<UChar32>(cp)) != U_DECIMAL_DIGIT_NUMBER) return -1;
  return u_charDigitValue(static_cast<UChar32>(cp));
}

char32_t FoldVariant(char32_t cp) {
  const FoldTable& folds = Folds();
  auto it = std::lower_bound(folds.begin(), folds.end(), cp,
                             [](const auto& e, char32_t v) { return e.first < v; });
  if (it != folds.end() && it->first == cp) return it->second;
  return cp;
}

size_t VariantFoldCount() { return Folds().size(); }

std::string SearchKeyVersion() {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : kVariantFoldsTsv) {
    h = (h ^ c) * 0x100000001b3ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<size_t>(i)] = kHex[h & 0xF];
  return out;
}

std::string SearchKey(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const icu::Normalizer2* nfkc = Nfkc();
  icu::UnicodeString normalized;
  icu::UnicodeString src = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(),
                                                                          static_cast<int32_t>(s.size())));
  UErrorCode err = U_ZERO_ERROR;
  if (nfkc != nullptr) {
    nfkc->normalize(src, normalized, err);
  }
  const icu::UnicodeString& u = (nfkc != nullptr && U_SUCCESS(err)) ? normalized : src;
  for (int32_t i = 0; i < u.length();) {
    UChar32 c = u.char32At(i);
    i += U16_LENGTH(c);
    char32_t cp = static_cast<char32_t>(c);
    if (cp == 0xFFFD || IsSkipped(cp)) continue;
    cp = FoldKana(cp);
    cp = FoldVariant(cp);
    cp = static_cast<char32_t>(u_foldCase(static_cast<UChar32>(cp), U_FOLD_CASE_DEFAULT));
    AppendUtf8(cp, &out);
  }
  return out;
}

bool IsKanaText(std::string_view s) {
  size_t pos = 0;
  bool any_kana = false;
  while (pos < s.size()) {
    auto cp = DecodeOne(s, &pos);
    if (!cp) return false;
    if (*cp == ' ' || *cp == 0x3000) continue;
    if (!IsKanaCodePoint(*cp)) return false;
    any_kana = true;
  }
  return any_kana;
}

}  // namespace kakunin::text
