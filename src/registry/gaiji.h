#pragma once

// The 外字 register (issue 15, docs/gaiji.md). A municipality's CS writes characters that are not
// in Unicode as Private Use Area code points (U+E000–U+F8FF, planes 15 and 16), each municipality
// its own way: U+E001 may be one character for 甲府市 and another for 甲斐市. The register maps
// (municipality, code point) to an MJ character code (文字情報基盤, "MJ" + 6 digits) and/or an
// image, so a name is displayed and printed as intended and two senders never collide.
//
// Notifications carrying an unregistered code point are applied as before; the code point (never
// the name or the resident) is flagged as pending for the host's administrator to register.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "domain/notification.h"
#include "registry/registry.h"
#include "store/registry_store.h"

namespace kakunin::registry {

// An image is bounded: a glyph at print resolution fits easily.
inline constexpr size_t kMaxGaijiImageBytes = 64 * 1024;

bool IsPrivateUse(char32_t cp);
// Whether `s` holds a PUA code point (the common text without a PUA lead byte is passed over
// without decoding).
bool HasPrivateUse(std::string_view s);
// "MJ" followed by exactly six digits.
bool IsMjCode(std::string_view s);
// Starts with the 8-byte PNG signature and is no larger than kMaxGaijiImageBytes (the bytes are
// stored and served as they are, never decoded here).
bool IsBoundedPng(std::string_view bytes);
// "U+E001" (4 to 6 hex digits, either case) → the code point; InvalidArgument otherwise.
Result<char32_t> ParseCodePoint(std::string_view s);
// U+E001 → "U+E001" (at least 4 upper-case hex digits).
std::string FormatCodePoint(char32_t cp);

struct GaijiEntry {
  std::string municipality_code;
  char32_t code_point = 0;
  std::string mj_code;      // "" if only an image
  std::string image_png;    // "" if only an MJ code
  std::string description;  // optional, for people
  int64_t registered_at = 0;
  std::string registered_by;
};

struct GaijiPending {
  std::string municipality_code;
  char32_t code_point = 0;
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  int64_t count = 0;
};

struct GaijiListing {
  std::vector<GaijiEntry> entries;
  std::vector<GaijiPending> pending;
};

// How a text is shown once its PUA code points are resolved against one municipality's entries:
//   registered with an MJ code     → 〓[MJ012345]
//   registered with an image only  → 〓[U+E001:image]
//   not registered                 → 〓[U+E001]
// 〓 (geta) is the customary stand-in for a character that cannot be printed; every other
// character is kept as it is.
std::string ResolveGaijiText(const std::map<char32_t, GaijiEntry>& entries, std::string_view text);

// The PUA code points in the record's name, kana, former surname, alias and address that are
// not registered for its sender are flagged as pending, in `txn` (the transaction that applied
// it). Called only after a notification was applied.
Status FlagUnregisteredGaiji(store::RegistryTxn& txn, const Notification& n, int64_t now);

// Thread-compatible; the store serialises writes.
class GaijiRegister {
 public:
  // Not owned; all must outlive the register. `prefecture` 0: any municipality.
  GaijiRegister(const Registry* registry, store::RegistryStore* store, const Clock* clock,
                int prefecture);

  // Host administration: records `entry` (municipality, code point, MJ code and/or image,
  // description) and the operation-log entry "gaiji.register" in one transaction, and clears the
  // code point's pending flag. Refuses (InvalidArgument) a code point outside the PUA, an MJ code
  // not "MJ" + 6 digits, an image that is not a bounded PNG, neither MJ code nor image, an unknown
  // municipality; AlreadyExists if the municipality's code point is registered.
  Status Register(const GaijiEntry& entry, const Actor& actor) const;

  // Every entry and every pending code point; no personal data.
  Result<GaijiListing> List() const;

  // `text` as displayed for `municipality` (ResolveGaijiText with its entries).
  Result<std::string> Resolve(const std::string& municipality, std::string_view text) const;
  // The same through a snapshot the caller already holds (a read in progress).
  Result<std::string> Resolve(store::RegistryReader& reader, const std::string& municipality,
                              std::string_view text) const;

 private:
  const Registry* registry_;
  store::RegistryStore* store_;
  const Clock* clock_;
  int prefecture_;
};

}  // namespace kakunin::registry
