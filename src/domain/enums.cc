#include "domain/enums.h"

#include <array>

namespace kakunin {
namespace {

struct ReasonInfo {
  ChangeReason reason;
  NotificationKind kind;
  std::string_view name;
  std::string_view japanese;
};

constexpr std::array<ReasonInfo, 16> kReasons = {{
    {ChangeReason::kMovedIn, NotificationKind::kEntry, "moved_in", "転入"},
    {ChangeReason::kMovedInFromAbroad, NotificationKind::kEntry, "moved_in_from_abroad",
     "国外からの転入"},
    {ChangeReason::kBirth, NotificationKind::kEntry, "birth", "出生"},
    {ChangeReason::kExOfficioEntry, NotificationKind::kEntry, "ex_officio_entry", "職権記載"},
    {ChangeReason::kOtherEntry, NotificationKind::kEntry, "other_entry", "その他の記載"},
    {ChangeReason::kMovedOut, NotificationKind::kRemoval, "moved_out", "転出"},
    {ChangeReason::kMovedAbroad, NotificationKind::kRemoval, "moved_abroad", "国外転出"},
    {ChangeReason::kDeath, NotificationKind::kRemoval, "death", "死亡"},
    {ChangeReason::kExOfficioRemoval, NotificationKind::kRemoval, "ex_officio_removal",
     "職権消除"},
    {ChangeReason::kOtherRemoval, NotificationKind::kRemoval, "other_removal", "その他の消除"},
    {ChangeReason::kMovedWithin, NotificationKind::kAmendment, "moved_within", "転居"},
    {ChangeReason::kNameChanged, NotificationKind::kAmendment, "name_changed", "氏名の変更"},
    {ChangeReason::kExOfficioAmendment, NotificationKind::kAmendment, "ex_officio_amendment",
     "職権修正"},
    {ChangeReason::kResidentCodeChanged, NotificationKind::kAmendment, "resident_code_changed",
     "住民票コードの変更"},
    {ChangeReason::kIndividualNumberChanged, NotificationKind::kAmendment,
     "individual_number_changed", "個人番号の変更"},
    {ChangeReason::kOtherAmendment, NotificationKind::kAmendment, "other_amendment",
     "その他の修正"},
}};

constexpr std::array<ChangeReason, 16> kAllReasons = [] {
  std::array<ChangeReason, 16> a{};
  for (size_t i = 0; i < kReasons.size(); ++i) a[i] = kReasons[i].reason;
  return a;
}();

const ReasonInfo& Info(ChangeReason r) { return kReasons[static_cast<size_t>(r)]; }

}  // namespace

std::optional<NotificationKind> ParseNotificationKind(std::string_view s) {
  if (s == "entry") return NotificationKind::kEntry;
  if (s == "removal") return NotificationKind::kRemoval;
  if (s == "amendment") return NotificationKind::kAmendment;
  return std::nullopt;
}

std::string_view NotificationKindName(NotificationKind k) {
  switch (k) {
    case NotificationKind::kEntry: return "entry";
    case NotificationKind::kRemoval: return "removal";
    case NotificationKind::kAmendment: return "amendment";
  }
  return "";
}

std::string_view NotificationKindJapanese(NotificationKind k) {
  switch (k) {
    case NotificationKind::kEntry: return "記載";
    case NotificationKind::kRemoval: return "消除";
    case NotificationKind::kAmendment: return "記載の修正";
  }
  return "";
}

std::optional<ChangeReason> ParseChangeReason(std::string_view s) {
  for (const auto& r : kReasons) {
    if (r.name == s) return r.reason;
  }
  return std::nullopt;
}

std::string_view ChangeReasonName(ChangeReason r) { return Info(r).name; }
std::string_view ChangeReasonJapanese(ChangeReason r) { return Info(r).japanese; }
NotificationKind KindOf(ChangeReason r) { return Info(r).kind; }
std::span<const ChangeReason> AllChangeReasons() { return kAllReasons; }

std::optional<Sex> ParseSex(std::string_view s) {
  if (s == "male") return Sex::kMale;
  if (s == "female") return Sex::kFemale;
  return std::nullopt;
}

std::string_view SexName(Sex s) { return s == Sex::kMale ? "male" : "female"; }
std::string_view SexJapanese(Sex s) { return s == Sex::kMale ? "男" : "女"; }

}  // namespace kakunin
