#include "domain/local_gov_code.h"

#include <algorithm>

#include "domain/check_digit.h"
#include "text/search_key.h"
#include "text/tsv.h"

namespace kakunin {

extern const std::string_view kLocalGovTableTsv;  // generated from data/local_gov_codes.tsv

namespace {

std::optional<LocalGovKind> ParseKind(std::string_view s) {
  if (s == "prefecture") return LocalGovKind::kPrefecture;
  if (s == "city") return LocalGovKind::kCity;
  if (s == "special_ward") return LocalGovKind::kSpecialWard;
  if (s == "designated_city") return LocalGovKind::kDesignatedCity;
  if (s == "ward") return LocalGovKind::kWard;
  if (s == "town") return LocalGovKind::kTown;
  if (s == "village") return LocalGovKind::kVillage;
  return std::nullopt;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// After the prefecture: the municipality part of an address (see AddressBeginsWith).
bool RestBeginsWithMunicipality(const LocalGovEntry& e, std::string_view rest,
                                std::string_view name, std::string_view parent) {
  if (e.kind == LocalGovKind::kWard) {
    return StartsWith(rest, parent) && StartsWith(rest.substr(parent.size()), name);
  }
  if (StartsWith(rest, name)) return true;
  if (e.kind == LocalGovKind::kTown || e.kind == LocalGovKind::kVillage) {
    // Optionally a 郡 of one to five characters: 南都留郡富士河口湖町.
    static constexpr std::string_view kGun = "郡";
    size_t p = rest.find(kGun);
    if (p != std::string_view::npos && p > 0 && p <= 5 * 4) {
      return StartsWith(rest.substr(p + kGun.size()), name);
    }
  }
  return false;
}

}  // namespace

std::string_view LocalGovKindName(LocalGovKind k) {
  switch (k) {
    case LocalGovKind::kPrefecture: return "prefecture";
    case LocalGovKind::kCity: return "city";
    case LocalGovKind::kSpecialWard: return "special_ward";
    case LocalGovKind::kDesignatedCity: return "designated_city";
    case LocalGovKind::kWard: return "ward";
    case LocalGovKind::kTown: return "town";
    case LocalGovKind::kVillage: return "village";
  }
  return "";
}

std::string LocalGovEntry::FullName() const {
  if (kind == LocalGovKind::kPrefecture) return prefecture;
  return prefecture + parent_name + name;
}

const LocalGovTable& LocalGovTable::Builtin() {
  static const LocalGovTable* table = new LocalGovTable(Parse(kLocalGovTableTsv));
  return *table;
}

LocalGovTable LocalGovTable::Parse(std::string_view tsv, size_t* bad_rows) {
  LocalGovTable t;
  size_t bad = 0;
  // Columns: code kind prefecture name kana parent.
  for (const auto& cols : text::ReadTsvRows(tsv)) {
    if (cols.size() < 5) {
      ++bad;
      continue;
    }
    auto kind = ParseKind(cols[1]);
    if (!IsDigits(cols[0], 6) || !kind ||
        LocalGovCheckDigit(cols[0].substr(0, 5)) != cols[0][5] - '0') {
      ++bad;
      continue;
    }
    LocalGovEntry e;
    e.code = std::string(cols[0]);
    e.kind = *kind;
    e.prefecture = std::string(cols[2]);
    e.name = std::string(cols[3]);
    e.kana = std::string(cols[4]);
    if (cols.size() > 5) e.parent = std::string(cols[5]);
    t.entries_.push_back(std::move(e));
  }
  std::sort(t.entries_.begin(), t.entries_.end(),
            [](const auto& a, const auto& b) { return a.code < b.code; });
  for (auto& e : t.entries_) {
    e.prefecture_key = text::SearchKey(e.prefecture);
    e.name_key = text::SearchKey(e.name);
    if (!e.parent.empty()) {
      if (const LocalGovEntry* p = t.Find(e.parent)) {
        e.parent_name = p->name;
        e.parent_name_key = p->name_key.empty() ? text::SearchKey(p->name) : p->name_key;
      }
    }
  }
  if (bad_rows) *bad_rows = bad;
  return t;
}

const LocalGovEntry* LocalGovTable::Find(std::string_view code) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), code,
                             [](const LocalGovEntry& e, std::string_view c) { return e.code < c; });
  if (it == entries_.end() || it->code != code) return nullptr;
  return &*it;
}

const LocalGovEntry* LocalGovTable::Prefecture(int number) const {
  for (const auto& e : entries_) {
    if (e.kind == LocalGovKind::kPrefecture && e.prefecture_number() == number) return &e;
  }
  return nullptr;
}

std::vector<const LocalGovEntry*> LocalGovTable::MunicipalitiesOf(int prefecture_number) const {
  std::vector<const LocalGovEntry*> out;
  for (const auto& e : entries_) {
    if (e.is_municipality() && e.prefecture_number() == prefecture_number) out.push_back(&e);
  }
  return out;
}

bool LocalGovTable::AddressBeginsWith(const LocalGovEntry& e, std::string_view address) const {
  // Fast path: the address spells the names exactly as the table does.
  if (StartsWith(address, e.prefecture) &&
      RestBeginsWithMunicipality(e, address.substr(e.prefecture.size()), e.name, e.parent_name)) {
    return true;
  }
  // Folded comparison: width, kana, ヶ/ケ/ヵ, 異体字, spaces.
  std::string key = text::SearchKey(address);
  std::string_view k = key;
  if (!StartsWith(k, e.prefecture_key)) return false;
  return RestBeginsWithMunicipality(e, k.substr(e.prefecture_key.size()), e.name_key,
                                    e.parent_name_key);
}

const LocalGovEntry* LookupLocalGovCode(std::string_view code, const LocalGovTable& table,
                                        ErrorCode* error) {
  if (!IsDigits(code, 6)) {
    *error = ErrorCode::kFormat;
    return nullptr;
  }
  if (LocalGovCheckDigit(code.substr(0, 5)) != code[5] - '0') {
    *error = ErrorCode::kCheckDigit;
    return nullptr;
  }
  const LocalGovEntry* e = table.Find(code);
  if (e == nullptr) {
    *error = ErrorCode::kUnknownValue;
    return nullptr;
  }
  return e;
}

}  // namespace kakunin
