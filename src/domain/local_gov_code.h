#pragma once

// 全国地方公共団体コード (JIS X 0402) and the table of every prefecture, municipality and
// designated-city ward, shipped as data/local_gov_codes.tsv (which states its source)
// and compiled into the binary.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/date.h"
#include "domain/errors.h"

namespace kakunin {

enum class LocalGovKind {
  kPrefecture,
  kCity,            // 市
  kSpecialWard,     // 東京都の特別区
  kDesignatedCity,  // 政令指定都市
  kWard,            // 政令指定都市の区
  kTown,            // 町
  kVillage,         // 村
};

std::string_view LocalGovKindName(LocalGovKind k);

struct LocalGovEntry {
  std::string code;  // 6 digits
  LocalGovKind kind;
  std::string prefecture;  // 山梨県
  std::string name;        // 甲府市; for a ward only the ward (中央区)
  std::string kana;        // コウフシ
  std::string parent;      // a ward's designated city code, else empty
  // Search keys (text::SearchKey) for the address rule.
  std::string prefecture_key;
  std::string name_key;
  std::string parent_name;      // a ward's city name (札幌市), else empty
  std::string parent_name_key;
  // A town's or village's 郡 (南都留郡), which an address may name before it; empty for the rest
  // and for the island towns of 東京都, which have none.
  std::string county;
  std::string county_key;

  bool is_municipality() const { return kind != LocalGovKind::kPrefecture; }
  // The two-digit prefecture code, as a number (山梨県 = 19).
  int prefecture_number() const { return (code[0] - '0') * 10 + (code[1] - '0'); }
  // 山梨県甲府市, 北海道札幌市中央区.
  std::string FullName() const;
};

// A code that no longer exists (data/local_gov_code_history.tsv, which states its source).
struct LocalGovHistoryEntry {
  std::string code;
  std::string prefecture;          // 静岡県
  std::string name;                // the name it carried; a ward with its city: 浜松市中区
  std::optional<Date> valid_from;  // 施行日, when known
  Date last_day = Date::FromYmd(1, 1, 1);  // 廃止日 as the last valid day
  std::vector<std::string> successors;     // direct successors (may be abolished in turn)
  std::string prefecture_key;              // search keys for the address rule
  std::string name_key;

  std::string FullName() const { return prefecture + name; }
};

// The code table. Immutable after construction; thread-safe.
class LocalGovTable {
 public:
  // The table compiled into the binary (built once, on first use).
  static const LocalGovTable& Builtin();
  // Parses a table in the data file's format; for tests. Bad rows are skipped and counted.
  static LocalGovTable Parse(std::string_view tsv, size_t* bad_rows = nullptr);
  // The same with the history of abolished codes (the history file's format). A history row
  // whose code is also current, or with a bad code, date or successor, is skipped and counted.
  static LocalGovTable Parse(std::string_view tsv, std::string_view history_tsv, size_t* bad_rows,
                             size_t* bad_history_rows);

  // nullptr if the code is not in the table.
  const LocalGovEntry* Find(std::string_view code) const;
  // The prefecture entry for a prefecture number (1..47), or nullptr.
  const LocalGovEntry* Prefecture(int number) const;
  // Every municipality (and ward) of a prefecture, in code order.
  std::vector<const LocalGovEntry*> MunicipalitiesOf(int prefecture_number) const;
  std::span<const LocalGovEntry> entries() const { return entries_; }

  // An abolished code, or nullptr.
  const LocalGovHistoryEntry* FindAbolished(std::string_view code) const;
  std::span<const LocalGovHistoryEntry> history() const { return history_; }
  // The codes that stand for `e` on `on` (after its last day): its successors, each followed
  // through later abolitions to the codes valid on `on`; sorted, without repeats.
  std::vector<std::string> SuccessorsOn(const LocalGovHistoryEntry& e, Date on) const;
  // Whether `code` speaks for the municipality `registered` on `on`: the same code, or
  // `registered` was abolished (a merger, a ward reorganised) and `code` is one of the codes
  // that stand for it then (SuccessorsOn). A resident registered under an abolished code is
  // the successor's to amend or remove; a split's successors each may, and the contract's
  // address rule then keeps the record within the sender.
  bool SpeaksFor(std::string_view code, std::string_view registered, Date on) const;
  // The address rule for a record from before `e` was abolished: the old municipality's
  // prefecture and name (folded as above; a town or village may be preceded by its 郡).
  bool AddressBeginsWith(const LocalGovHistoryEntry& e, std::string_view address) const;

  // The contract's address rule: `address` begins with the sender's prefecture, then
  // (for a town or village) optionally its 郡, then the municipality; for a ward, the
  // city and then the ward. Variants are folded (ヶ/ケ/ヵ, 﨑/崎, width, spaces).
  // REQUIRES: `address` is valid UTF-8; `sender` is a municipality entry of this table.
  bool AddressBeginsWith(const LocalGovEntry& sender, std::string_view address) const;

 private:
  std::vector<LocalGovEntry> entries_;         // sorted by code
  std::vector<LocalGovHistoryEntry> history_;  // sorted by code
};

// Validates a 全国地方公共団体コード against format, check digit and (optionally) the table.
// Sets *error to kFormat, kCheckDigit or kUnknownValue.
const LocalGovEntry* LookupLocalGovCode(std::string_view code, const LocalGovTable& table,
                                        ErrorCode* error);

// The same on a date: a current code is valid on any date (the table does not carry the
// 施行日 of current codes); an abolished code is valid from its 施行日 to its last day,
// kAbolished (with `successors`) after it, kUnknownValue before it.
struct LocalGovLookup {
  const LocalGovEntry* current = nullptr;          // a code of the current table
  const LocalGovHistoryEntry* historic = nullptr;  // an abolished code valid on the date
  std::optional<ErrorCode> error;                  // set iff neither is
  std::vector<std::string> successors;             // for kAbolished
};
LocalGovLookup LookupLocalGovCodeOn(std::string_view code, const LocalGovTable& table, Date on);

}  // namespace kakunin
