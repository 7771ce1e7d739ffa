#include "text/search_key.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <utility>

#include "text/utf8.h"

namespace kakunin::text {
namespace {

// Variant (異体字, old-form) ideographs folded to the form most registries index by.
// Sorted by the first element for binary search. Only pairs that name registers treat as
// "the same name" for finding a person; never applied to stored text.
constexpr std::array<std::pair<char32_t, char32_t>, 36> kVariants = {{
    {0x51A8, 0x5BCC},  // 冨 → 富
    {0x570B, 0x56FD},  // 國 → 国
    {0x5713, 0x5186},  // 圓 → 円
    {0x589E, 0x5897},  // 增 → 増
    {0x58FD, 0x5BFF},  // 壽 → 寿
    {0x5BE6, 0x5B9F},  // 實 → 実
    {0x5D5C, 0x5D0E},  // 嵜 → 崎
    {0x5D8B, 0x5CF6},  // 嶋 → 島
    {0x5D8C, 0x5CF6},  // 嶌 → 島
    {0x5EE3, 0x5E83},  // 廣 → 広
    {0x5FB7, 0x5FB3},  // 德 → 徳
    {0x60E0, 0x6075},  // 惠 → 恵
    {0x689D, 0x6761},  // 條 → 条
    {0x69D7, 0x6A4B},  // 槗 → 橋
    {0x6AFB, 0x685C},  // 櫻 → 桜
    {0x6DFA, 0x6D45},  // 淺 → 浅
    {0x6F81, 0x6E0B},  // 澁 → 渋
    {0x6FA4, 0x6CA2},  // 澤 → 沢
    {0x6FF1, 0x6D5C},  // 濱 → 浜
    {0x6FF5, 0x6D5C},  // 濵 → 浜
    {0x771E, 0x771F},  // 眞 → 真
    {0x7A57, 0x7A42},  // 穗 → 穂
    {0x7E23, 0x770C},  // 縣 → 県
    {0x8207, 0x4E0E},  // 與 → 与
    {0x85CF, 0x8535},  // 藏 → 蔵
    {0x8C50, 0x8C4A},  // 豐 → 豊
    {0x9089, 0x8FBA},  // 邉 → 辺
    {0x908A, 0x8FBA},  // 邊 → 辺
    {0x9435, 0x9244},  // 鐵 → 鉄
    {0x95DC, 0x95A2},  // 關 → 関
    {0x975C, 0x9759},  // 靜 → 静
    {0x9AD9, 0x9AD8},  // 髙 → 高
    {0x9ED1, 0x9ED2},  // 黑 → 黒
    {0x9F4A, 0x658E},  // 齊 → 斎
    {0x9F4B, 0x658E},  // 齋 → 斎
    {0xFA11, 0x5D0E},  // 﨑 → 崎
}};

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

char32_t FoldVariant(char32_t cp) {
  auto it = std::lower_bound(kVariants.begin(), kVariants.end(), cp,
                             [](const auto& e, char32_t v) { return e.first < v; });
  if (it != kVariants.end() && it->first == cp) return it->second;
  return cp;
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
