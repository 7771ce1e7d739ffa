#pragma once

// A 本人確認情報 update notification that passed every field check of the contract
// (spec/notifications.md). Instances are only built by the reader
// (notification_reader.h) or by code that already holds valid parts.

#include <cstdint>
#include <optional>
#include <string>

#include "core/date.h"
#include "domain/enums.h"
#include "domain/identifiers.h"

namespace kakunin {

struct Notification {
  std::string municipality_code;  // a municipality in the code table
  uint64_t sequence = 0;           // 1 .. 2^53-1
  NotificationKind kind = NotificationKind::kEntry;
  ChangeReason reason = ChangeReason::kMovedIn;  // KindOf(reason) == kind
  Date change_date = Date::FromYmd(1873, 1, 1);
  ResidentCode resident_code = ResidentCode::FromTenDigits("0000000000");
  IndividualNumber individual_number = IndividualNumber::FromElevenDigits("00000000000");
  std::string name;  // verbatim, never normalised
  std::optional<std::string> name_kana;
  std::optional<std::string> former_surname;
  std::optional<std::string> alias;
  Sex sex = Sex::kMale;
  Date birth_date = Date::FromYmd(1873, 1, 1);
  std::string address;
  std::optional<ResidentCode> new_resident_code;  // iff reason == kResidentCodeChanged

  friend bool operator==(const Notification&, const Notification&) = default;
};

// The largest sequence number: 2^53 − 1 (exact in every JSON implementation).
inline constexpr uint64_t kMaxSequence = (uint64_t{1} << 53) - 1;

// Canonical JSON: the contract's fields in the contract's order, absent optionals
// omitted, text written verbatim (UTF-8, not \u-escaped). Equal notifications give equal
// bytes, so this is also the payload compared for idempotent replays.
std::string ToCanonicalJson(const Notification& n);

// The CSV header of the contract's columns, and one notification as a CSV row (UTF-8,
// ISO dates), both without the line terminator.
std::string CsvHeader();
std::string ToCsvRow(const Notification& n);

}  // namespace kakunin
