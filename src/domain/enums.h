#pragma once

// The contract's enumerations: kind (記載/消除/記載の修正), reason (異動事由) and sex.

#include <optional>
#include <span>
#include <string_view>

namespace kakunin {

enum class NotificationKind { kEntry, kRemoval, kAmendment };

enum class ChangeReason {
  // entry 記載
  kMovedIn,
  kMovedInFromAbroad,
  kBirth,
  kExOfficioEntry,
  kOtherEntry,
  // removal 消除
  kMovedOut,
  kMovedAbroad,
  kDeath,
  kExOfficioRemoval,
  kOtherRemoval,
  // amendment 記載の修正
  kMovedWithin,
  kNameChanged,
  kExOfficioAmendment,
  kResidentCodeChanged,
  kIndividualNumberChanged,
  kOtherAmendment,
};

enum class Sex { kMale, kFemale };

std::optional<NotificationKind> ParseNotificationKind(std::string_view s);
std::string_view NotificationKindName(NotificationKind k);  // "entry"
std::string_view NotificationKindJapanese(NotificationKind k);  // "記載"

std::optional<ChangeReason> ParseChangeReason(std::string_view s);
std::string_view ChangeReasonName(ChangeReason r);      // "moved_in"
std::string_view ChangeReasonJapanese(ChangeReason r);  // "転入"
// The kind a reason belongs to.
NotificationKind KindOf(ChangeReason r);
// Every reason, in the contract's order.
std::span<const ChangeReason> AllChangeReasons();

std::optional<Sex> ParseSex(std::string_view s);
std::string_view SexName(Sex s);  // "male"
std::string_view SexJapanese(Sex s);  // "男"

}  // namespace kakunin
