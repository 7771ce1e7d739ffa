#include "domain/local_gov_code.h"

#include <algorithm>
#include <set>

#include "domain/check_digit.h"
#include "text/search_key.h"
#include "text/tsv.h"

namespace kakunin {

extern const std::string_view kLocalGovTableTsv;  // generated from data/local_gov_codes.tsv
// generated from data/local_gov_code_history.tsv
extern const std::string_view kLocalGovHistoryTsv;

namespace {

// The search key of a place name, with the variants of the characters municipality names are
// written in that the general 異体字 folding keeps apart — both forms in use, or neither a
// 常用/人名用 form (found in review: 鯵ヶ沢町, 檮原町 and 竜ヶ崎市 were address_mismatch):
// 龍/竜 (龍ケ崎市, 天龍村, 龍郷町, 竜王町), 鰺/鯵 (鰺ヶ沢町), 檮/梼 (梼原町), 竈/竃/釜 (塩竈市,
// customarily 塩釜), 驒/騨 (飛騨市). Only addresses are compared through it, never names of
// people, for whom these are different names.
std::string PlaceKey(std::string_view text) {
  static constexpr std::pair<std::string_view, std::string_view> kFolds[] = {
      {"龍", "竜"}, {"鰺", "鯵"}, {"檮", "梼"}, {"竈", "釜"}, {"竃", "釜"}, {"驒", "騨"}};
  std::string key = text::SearchKey(text);
  for (const auto& [from, to] : kFolds) {
    for (size_t at = key.find(from); at != std::string::npos; at = key.find(from, at)) {
      key.replace(at, from.size(), to);
      at += to.size();
    }
  }
  return key;
}

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

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool ValidCode(std::string_view c) {
  return IsDigits(c, 6) && LocalGovCheckDigit(c.substr(0, 5)) == c[5] - '0';
}

// After the prefecture, for an abolished code: its name, or (a town or village) a 郡 and then
// its name.
bool RestBeginsWithOldName(std::string_view rest, std::string_view name) {
  if (StartsWith(rest, name)) return true;
  if (EndsWith(name, "町") || EndsWith(name, "村")) {
    static constexpr std::string_view kGun = "郡";
    size_t p = rest.find(kGun);
    if (p != std::string_view::npos && p > 0 && p <= 5 * 4) {
      return StartsWith(rest.substr(p + kGun.size()), name);
    }
  }
  return false;
}

// After the prefecture: the municipality part of an address (see AddressBeginsWith).
bool RestBeginsWithMunicipality(const LocalGovEntry& e, std::string_view rest,
                                std::string_view name, std::string_view parent,
                                std::string_view county) {
  if (e.kind == LocalGovKind::kWard) {
    return StartsWith(rest, parent) && StartsWith(rest.substr(parent.size()), name);
  }
  if (StartsWith(rest, name)) return true;
  // Optionally its own 郡 (the contract: 南都留郡富士河口湖町), not any 郡 (review finding:
  // 北巨摩郡富士河口湖町 passed, or any word ending in 郡).
  return !county.empty() && StartsWith(rest, county) &&
         StartsWith(rest.substr(county.size()), name);
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
  static const LocalGovTable* table =
      new LocalGovTable(Parse(kLocalGovTableTsv, kLocalGovHistoryTsv, nullptr, nullptr));
  return *table;
}

LocalGovTable LocalGovTable::Parse(std::string_view tsv, std::string_view history_tsv,
                                   size_t* bad_rows, size_t* bad_history_rows) {
  LocalGovTable t = Parse(tsv, bad_rows);
  size_t bad = 0;
  // Columns: code prefecture name valid_from last_day successors (space-separated).
  for (const auto& cols : text::ReadTsvRows(history_tsv)) {
    if (cols.size() < 6 || !ValidCode(cols[0]) || t.Find(cols[0]) != nullptr) {
      ++bad;
      continue;
    }
    LocalGovHistoryEntry h;
    h.code = std::string(cols[0]);
    h.prefecture = std::string(cols[1]);
    h.name = std::string(cols[2]);
    if (!cols[3].empty()) {
      h.valid_from = ParseIsoDate(cols[3]).date;
      if (!h.valid_from) {
        ++bad;
        continue;
      }
    }
    auto last = ParseIsoDate(cols[4]).date;
    if (!last || (h.valid_from && *last < *h.valid_from)) {
      ++bad;
      continue;
    }
    h.last_day = *last;
    std::string_view rest = cols[5];
    bool ok = true;
    while (!rest.empty()) {
      size_t sp = rest.find(' ');
      std::string_view one = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      if (one.empty()) continue;
      ok = ok && ValidCode(one);
      h.successors.emplace_back(one);
    }
    if (!ok || h.successors.empty()) {
      ++bad;
      continue;
    }
    h.prefecture_key = PlaceKey(h.prefecture);
    h.name_key = PlaceKey(h.name);
    t.history_.push_back(std::move(h));
  }
  std::sort(t.history_.begin(), t.history_.end(),
            [](const auto& a, const auto& b) { return a.code < b.code; });
  // A successor must be known (current or abolished); a row naming an unknown one is dropped
  // rather than sending a caller to a code the table would then refuse.
  std::set<std::string> dangling;
  for (const auto& h : t.history_) {
    for (const auto& s : h.successors) {
      if (t.Find(s) == nullptr && t.FindAbolished(s) == nullptr) dangling.insert(h.code);
    }
  }
  bad += std::erase_if(t.history_, [&](const auto& h) { return dangling.count(h.code) > 0; });
  if (bad_history_rows) *bad_history_rows = bad;
  return t;
}

const LocalGovHistoryEntry* LocalGovTable::FindAbolished(std::string_view code) const {
  auto it = std::lower_bound(
      history_.begin(), history_.end(), code,
      [](const LocalGovHistoryEntry& e, std::string_view c) { return e.code < c; });
  if (it == history_.end() || it->code != code) return nullptr;
  return &*it;
}

std::vector<std::string> LocalGovTable::SuccessorsOn(const LocalGovHistoryEntry& e, Date on) const {
  std::set<std::string> out;
  std::set<std::string> seen;  // guards against a cycle in a hand-edited file
  std::vector<std::string> todo(e.successors.begin(), e.successors.end());
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    if (!seen.insert(c).second) continue;
    const LocalGovHistoryEntry* h = FindAbolished(c);
    if (h != nullptr && h->last_day < on) {
      todo.insert(todo.end(), h->successors.begin(), h->successors.end());
    } else {
      out.insert(c);
    }
  }
  return {out.begin(), out.end()};
}

bool LocalGovTable::SpeaksFor(std::string_view code, std::string_view registered,
                              Date on) const {
  if (code == registered) return true;
  const LocalGovHistoryEntry* h = FindAbolished(registered);
  if (h == nullptr || !(h->last_day < on)) return false;
  const std::vector<std::string> now = SuccessorsOn(*h, on);
  return std::binary_search(now.begin(), now.end(), code);
}

bool LocalGovTable::AddressBeginsWith(const LocalGovHistoryEntry& e,
                                      std::string_view address) const {
  if (StartsWith(address, e.prefecture) &&
      RestBeginsWithOldName(address.substr(e.prefecture.size()), e.name)) {
    return true;
  }
  std::string key = PlaceKey(address);
  std::string_view k = key;
  if (!StartsWith(k, e.prefecture_key)) return false;
  return RestBeginsWithOldName(k.substr(e.prefecture_key.size()), e.name_key);
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
    if (cols.size() > 6 && (e.kind == LocalGovKind::kTown || e.kind == LocalGovKind::kVillage)) {
      e.county = std::string(cols[6]);
    }
    t.entries_.push_back(std::move(e));
  }
  std::sort(t.entries_.begin(), t.entries_.end(),
            [](const auto& a, const auto& b) { return a.code < b.code; });
  for (auto& e : t.entries_) {
    e.prefecture_key = PlaceKey(e.prefecture);
    e.name_key = PlaceKey(e.name);
    if (!e.county.empty()) e.county_key = PlaceKey(e.county);
    if (!e.parent.empty()) {
      if (const LocalGovEntry* p = t.Find(e.parent)) {
        e.parent_name = p->name;
        e.parent_name_key = p->name_key.empty() ? PlaceKey(p->name) : p->name_key;
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
      RestBeginsWithMunicipality(e, address.substr(e.prefecture.size()), e.name, e.parent_name,
                                 e.county)) {
    return true;
  }
  // Folded comparison: width, kana, ヶ/ケ/ヵ, 異体字, spaces.
  std::string key = PlaceKey(address);
  std::string_view k = key;
  if (!StartsWith(k, e.prefecture_key)) return false;
  return RestBeginsWithMunicipality(e, k.substr(e.prefecture_key.size()), e.name_key,
                                    e.parent_name_key, e.county_key);
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

LocalGovLookup LookupLocalGovCodeOn(std::string_view code, const LocalGovTable& table, Date on) {
  LocalGovLookup r;
  ErrorCode error;
  r.current = LookupLocalGovCode(code, table, &error);
  if (r.current != nullptr) return r;
  if (error != ErrorCode::kUnknownValue) {
    r.error = error;
    return r;
  }
  const LocalGovHistoryEntry* h = table.FindAbolished(code);
  if (h == nullptr || (h->valid_from && on < *h->valid_from)) {
    r.error = ErrorCode::kUnknownValue;
  } else if (on > h->last_day) {
    r.error = ErrorCode::kAbolished;
    r.successors = table.SuccessorsOn(*h, on);
  } else {
    r.historic = h;
  }
  return r;
}

}  // namespace kakunin
