#pragma once

// Search keys for names, kana and addresses. Stored names are never normalised
// (spec/notifications.md); these keys exist only to find them. The fold:
//   1. NFKC (ICU): half-width katakana → full width, full-width Latin and digits → ASCII,
//      U+3000 → space, compatibility ideographs to their unified forms;
//   2. spaces, tabs, ・ and variation selectors (incl. IVS) removed;
//   3. katakana → hiragana, small kana → large (ぁ→あ, っ→つ), ヶ/ケ/ヵ → け;
//   4. the 異体字 fold of data/variant_folds.tsv, built from Unihan by
//      scripts/build-variant-folds (髙→高, 﨑→崎, 𠮷→吉, 邊/邉→辺, 齋→斎, 齊→斉, 濵/濱→浜, …):
//      each variant to its 常用/人名用 form; two characters the law lists separately
//      (斉/斎, 竜/龍) stay apart;
//   5. Latin letters case-folded.
// So ﾔﾏﾀﾞ ﾀﾛｳ, やまだたろう and ヤマダ　タロウ have the same key, and so do 髙橋 and 高橋.

#include <cstddef>
#include <string>
#include <string_view>

namespace kakunin::text {

// REQUIRES: `s` is valid UTF-8 (invalid sequences are skipped). Thread-safe.
std::string SearchKey(std::string_view s);

// The 異体字 fold alone, for one code point (returns `cp` when not in the table).
char32_t FoldVariant(char32_t cp);

// The digit `cp` is written for: any Unicode decimal digit (ASCII, full width, Arabic-Indic,
// mathematical, …) and the kanji numerals 〇一二三四五六七八九 and 零; -1 for anything else.
// For telling a number written in any script, not for parsing one.
int DigitValue(char32_t cp);

// The number of pairs in the compiled-in fold table (for tests and the metrics page).
size_t VariantFoldCount();

// Identifies the fold: 16 hex digits (FNV-1a of the compiled-in table). Search keys are stored
// beside the records they index, so a store that kept this beside them can tell that keys made
// by an older fold must be recomputed (from the stored names, which never change).
std::string SearchKeyVersion();

// True iff `s` is non-empty, valid UTF-8 and consists only of kana (hiragana, katakana,
// full or half width, including ー, ゝゞヽヾ, ・, voiced-sound marks) and spaces
// (U+0020, U+3000): what the contract allows in `name_kana`.
bool IsKanaText(std::string_view s);

}  // namespace kakunin::text
