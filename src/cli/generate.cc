#include "cli/generate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "text/tsv.h"

namespace kakunin {

// Generated from data/generate/*.tsv (see the files for sources).
extern const std::string_view kGen_surnames;
extern const std::string_view kGen_given_names;
extern const std::string_view kGen_yamanashi_towns;
extern const std::string_view kGen_yamanashi_counties;
extern const std::string_view kGen_generic_towns;

namespace {

int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Picks an index with probability proportional to its weight (cumulative table).
class WeightedChoice {
 public:
  void Add(double w) {
    total_ += w;
    cumulative_.push_back(total_);
  }
  size_t Pick(Random& r) const {
    double x = r.UniformDouble() * total_;
    auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), x);
    return std::min(static_cast<size_t>(it - cumulative_.begin()), cumulative_.size() - 1);
  }
  bool empty() const { return cumulative_.empty(); }

 private:
  double total_ = 0;
  std::vector<double> cumulative_;
};

// Population of Japan by five-year age band (0-4 … 95-99, 100+), millions, 2023
// estimates (総務省統計局 人口推計), rounded.
constexpr double kAgeBands[] = {4.1, 4.8, 5.2, 5.5, 6.2, 6.4, 6.6, 7.3, 8.1, 9.6, 9.4,
                                8.1, 7.5, 7.9, 9.3, 7.5, 6.2, 4.2, 2.0, 0.5, 0.09};

// Population of 山梨県's municipalities in thousands (2020 census, rounded), for choosing
// where a generated resident lives.
struct MunicipalityWeight {
  const char* code;
  double thousands;
};
constexpr MunicipalityWeight kYamanashiPopulation[] = {
    {"192015", 187}, {"192023", 47}, {"192040", 30}, {"192058", 34}, {"192066", 22},
    {"192074", 29},  {"192082", 71}, {"192091", 46}, {"192104", 76}, {"192112", 68},
    {"192121", 22},  {"192139", 30}, {"192147", 31}, {"193461", 15}, {"193640", 1},
    {"193658", 11},  {"193666", 7},  {"193682", 14}, {"193844", 20}, {"194221", 1.6},
    {"194239", 4},   {"194247", 9},  {"194255", 5.8}, {"194298", 3}, {"194301", 26},
    {"194425", 0.7}, {"194433", 0.5},
};

struct Name {
  std::string text;
  std::string kana;
};

struct Town {
  std::string name;
  std::string kana;
};

}  // namespace

struct NotificationGenerator::Data {
  std::vector<Name> surnames;
  WeightedChoice surname_choice;
  struct Given {
    Name name;
    int decade;
    double weight;
  };
  std::vector<Given> given[2];  // [0] male, [1] female
  std::map<int, WeightedChoice> given_by_decade[2];  // built on first use
  std::vector<const LocalGovEntry*> municipalities;
  WeightedChoice municipality_choice;
  std::map<std::string, std::vector<Town>> towns;  // by municipality code
  std::map<std::string, std::string> counties;     // 郡 by municipality code
  std::vector<Town> generic_towns;
  WeightedChoice age_choice;
};

Result<std::unique_ptr<NotificationGenerator>> NotificationGenerator::Create(
    const GenerateOptions& options) {
  const LocalGovTable& table = LocalGovTable::Builtin();
  auto data = std::make_unique<Data>();
  for (const LocalGovEntry* e : table.MunicipalitiesOf(options.prefecture)) {
    // Designated cities are represented by their wards.
    if (e->kind != LocalGovKind::kDesignatedCity) data->municipalities.push_back(e);
  }
  if (data->municipalities.empty()) {
    return Status::InvalidArgument("unknown prefecture number (expected 1..47)");
  }
  for (const LocalGovEntry* e : data->municipalities) {
    double w = 0;
    for (const auto& p : kYamanashiPopulation) {
      if (e->code == p.code) w = p.thousands;
    }
    if (w == 0) {
      w = (e->kind == LocalGovKind::kTown) ? 12 : (e->kind == LocalGovKind::kVillage) ? 3 : 60;
    }
    data->municipality_choice.Add(w);
  }
  for (const auto& row : text::ReadTsvRows(kGen_surnames)) {
    if (row.size() < 3) continue;
    data->surnames.push_back({std::string(row[0]), std::string(row[1])});
    data->surname_choice.Add(std::max(1, ToInt(row[2])));
  }
  for (const auto& row : text::ReadTsvRows(kGen_given_names)) {
    if (row.size() < 5) continue;
    int sex = row[0] == "male" ? 0 : 1;
    data->given[sex].push_back(
        {{std::string(row[1]), std::string(row[2])}, ToInt(row[3]), double(std::max(1, ToInt(row[4])))});
  }
  for (const auto& row : text::ReadTsvRows(kGen_yamanashi_towns)) {
    if (row.size() < 3) continue;
    data->towns[std::string(row[0])].push_back({std::string(row[1]), std::string(row[2])});
  }
  for (const auto& row : text::ReadTsvRows(kGen_yamanashi_counties)) {
    if (row.size() < 2) continue;
    data->counties[std::string(row[0])] = std::string(row[1]);
  }
  for (const auto& row : text::ReadTsvRows(kGen_generic_towns)) {
    if (row.size() < 2) continue;
    data->generic_towns.push_back({std::string(row[0]), std::string(row[1])});
  }
  if (data->surnames.empty() || data->given[0].empty() || data->given[1].empty() ||
      data->generic_towns.empty()) {
    return Status::Internal("generator data is missing");
  }
  for (double w : kAgeBands) data->age_choice.Add(w);
  return std::unique_ptr<NotificationGenerator>(
      new NotificationGenerator(options, std::move(data)));
}

NotificationGenerator::NotificationGenerator(const GenerateOptions& options,
                                             std::unique_ptr<Data> data)
    : options_(options),
      data_(std::move(data)),
      random_(options.seed),
      code_perm_(options.seed ^ 0x5245534944454e54ULL, 34),
      number_perm_(options.seed ^ 0x4e554d4245520000ULL, 38) {}

NotificationGenerator::~NotificationGenerator() = default;

Notification NotificationGenerator::Next() {
  Random& r = random_;
  const uint64_t i = index_++;
  Notification n;

  // Identifiers: bijections of the index, so unique without remembering them.
  char digits[16];
  std::snprintf(digits, sizeof digits, "%010llu",
                static_cast<unsigned long long>(code_perm_.ApplyWithin(i, 10000000000ULL)));
  n.resident_code = ResidentCode::FromTenDigits(digits);
  std::snprintf(digits, sizeof digits, "%011llu",
                static_cast<unsigned long long>(number_perm_.ApplyWithin(i, 100000000000ULL)));
  n.individual_number = IndividualNumber::FromElevenDigits(digits);

  // Sex and age.
  n.sex = r.UniformDouble() < 0.486 ? Sex::kMale : Sex::kFemale;
  size_t band = data_->age_choice.Pick(r);
  int64_t age_days = static_cast<int64_t>((band * 5 + r.UniformDouble() * (band == 20 ? 8 : 5)) *
                                          365.2425);
  const int64_t today = options_.today.ToDays();
  n.birth_date = Date::FromDays(today - age_days);

  // Name: surname + given name of the birth decade, written as registers do (full-width
  // space between).
  const Name& surname = data_->surnames[data_->surname_choice.Pick(r)];
  const auto& pool = data_->given[n.sex == Sex::kMale ? 0 : 1];
  int decade = n.birth_date.year() / 10 * 10;
  WeightedChoice& given_choice = data_->given_by_decade[n.sex == Sex::kMale ? 0 : 1][decade];
  if (given_choice.empty()) {
    // Names were fashionable in a decade and fade on either side.
    for (const auto& g : pool) {
      double distance = std::abs(g.decade - decade) / 10.0;
      given_choice.Add(g.weight * std::exp(-distance * distance));
    }
  }
  const Name& given = pool[given_choice.Pick(r)].name;
  n.name = surname.text + "　" + given.text;
  n.name_kana = surname.kana + "　" + given.kana;
  if (n.sex == Sex::kFemale && age_days > 25 * 365 && r.Uniform(100) < 2) {
    // 旧氏 recorded for a few married women.
    n.former_surname = data_->surnames[data_->surname_choice.Pick(r)].text;
  }

  // Where: a municipality weighted by population, a 町名 and a 番地.
  const LocalGovEntry* m = data_->municipalities[data_->municipality_choice.Pick(r)];
  n.municipality_code = m->code;
  std::string address = m->prefecture;
  if (auto c = data_->counties.find(m->code); c != data_->counties.end() && r.Uniform(2) == 0) {
    address += c->second;
  }
  address += m->parent_name + m->name;
  auto towns = data_->towns.find(m->code);
  const Town& town = towns != data_->towns.end()
                         ? towns->second[r.Uniform(towns->second.size())]
                         : data_->generic_towns[r.Uniform(data_->generic_towns.size())];
  address += town.name;
  bool urban = m->kind == LocalGovKind::kCity || m->kind == LocalGovKind::kWard ||
               m->kind == LocalGovKind::kSpecialWard;
  if (urban && !town.name.empty() && r.Uniform(2) == 0) {
    address += std::to_string(1 + r.Uniform(5)) + "丁目" + std::to_string(1 + r.Uniform(30)) +
               "番" + std::to_string(1 + r.Uniform(25)) + "号";
  } else {
    address += std::to_string(1 + r.Uniform(3000)) + "番地";
    if (r.Uniform(3) == 0) address += std::to_string(1 + r.Uniform(20));
  }
  n.address = std::move(address);

  // Why they were entered: born here, or moved in at some point of their life.
  n.kind = NotificationKind::kEntry;
  uint64_t roll = r.Uniform(100);
  if (age_days < 365 || roll < 25) {
    n.reason = ChangeReason::kBirth;
    n.change_date = n.birth_date;
  } else {
    n.reason = roll < 93   ? ChangeReason::kMovedIn
               : roll < 97 ? ChangeReason::kMovedInFromAbroad
               : roll < 99 ? ChangeReason::kExOfficioEntry
                           : ChangeReason::kOtherEntry;
    int64_t earliest = std::max(n.birth_date.ToDays(), today - 40 * 365);
    n.change_date = Date::FromDays(earliest + static_cast<int64_t>(r.Uniform(
                                                  static_cast<uint64_t>(today - earliest + 1))));
  }
  n.sequence = ++sequences_[n.municipality_code];
  return n;
}

}  // namespace kakunin
