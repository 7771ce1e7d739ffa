#include "registry/gaiji.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "audit/log.h"
#include "registry/registers.h"
#include "domain/local_gov_code.h"
#include "text/utf8.h"

namespace kakunin::registry {
namespace {

constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);
constexpr size_t kMaxDescriptionBytes = 400;

// The PUA code points of `s`, in the set.
void CollectPrivateUse(std::string_view s, std::set<char32_t>* out) {
  // Every PUA code point's UTF-8 starts with one of these lead bytes (U+E000–U+F8FF: EE, EF;
  // planes 15–16: F3, F4): the common name without one is passed over without decoding.
  if (s.find_first_of("\xEE\xEF\xF3\xF4") == std::string_view::npos) return;
  size_t pos = 0;
  while (pos < s.size()) {
    auto cp = text::DecodeOne(s, &pos);
    if (!cp) return;  // the field checks already refused invalid UTF-8; nothing more to find
    if (IsPrivateUse(*cp)) out->insert(*cp);
  }
}

GaijiEntry FromRow(const store::GaijiRow& r) {
  GaijiEntry e;
  e.municipality_code = r.municipality_code;
  e.code_point = static_cast<char32_t>(r.code_point);
  e.mj_code = r.mj_code;
  e.image_png = r.image_png;
  e.description = r.description;
  e.registered_at = r.registered_at;
  e.registered_by = r.registered_by;
  return e;
}

}  // namespace

bool HasPrivateUse(std::string_view s) {
  std::set<char32_t> found;
  CollectPrivateUse(s, &found);
  return !found.empty();
}

bool IsPrivateUse(char32_t cp) {
  return (cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xF0000 && cp <= 0xFFFFD) ||
         (cp >= 0x100000 && cp <= 0x10FFFD);
}

bool IsMjCode(std::string_view s) {
  return s.size() == 8 && s.substr(0, 2) == "MJ" &&
         std::all_of(s.begin() + 2, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsBoundedPng(std::string_view bytes) {
  return bytes.size() > kPngSignature.size() && bytes.size() <= kMaxGaijiImageBytes &&
         bytes.substr(0, kPngSignature.size()) == kPngSignature;
}

Result<char32_t> ParseCodePoint(std::string_view s) {
  if (s.size() < 6 || s.size() > 8 || (s.substr(0, 2) != "U+" && s.substr(0, 2) != "u+")) {
    return Status::InvalidArgument("a code point is written U+XXXX (4 to 6 hex digits)");
  }
  char32_t v = 0;
  for (char c : s.substr(2)) {
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (d < 0) return Status::InvalidArgument("a code point is written U+XXXX (hex digits)");
    v = v * 16 + static_cast<char32_t>(d);
  }
  if (v > 0x10FFFF) return Status::InvalidArgument("a code point is at most U+10FFFF");
  return v;
}

std::string FormatCodePoint(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

std::string ResolveGaijiText(const std::map<char32_t, GaijiEntry>& entries, std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    auto cp = text::DecodeOne(text, &pos);
    if (!cp) {
      if (pos == start) ++pos;  // never stall on a broken byte; keep it as it was
      out.append(text.substr(start, pos - start));
      continue;
    }
    if (!IsPrivateUse(*cp)) {
      out.append(text.substr(start, pos - start));
      continue;
    }
    auto it = entries.find(*cp);
    out += "〓[";
    if (it == entries.end()) {
      out += FormatCodePoint(*cp);
    } else if (!it->second.mj_code.empty()) {
      out += it->second.mj_code;
    } else {
      out += FormatCodePoint(*cp) + ":image";
    }
    out += "]";
  }
  return out;
}

Status FlagUnregisteredGaiji(store::RegistryTxn& txn, const Notification& n, int64_t now) {
  std::set<char32_t> seen;
  CollectPrivateUse(n.name, &seen);
  for (const auto* field : {&n.name_kana, &n.former_surname, &n.alias}) {
    if (*field) CollectPrivateUse(**field, &seen);
  }
  CollectPrivateUse(n.address, &seen);
  if (seen.empty()) return Status::Ok();  // the common case costs no query
  KAKUNIN_ASSIGN_OR_RETURN(registered, txn.RegisteredGaijiCodePoints(n.municipality_code));
  for (char32_t cp : seen) {
    if (std::find(registered.begin(), registered.end(), static_cast<int64_t>(cp)) !=
        registered.end()) {
      continue;
    }
    KAKUNIN_RETURN_IF_ERROR(txn.FlagGaijiPending(n.municipality_code, cp, now));
  }
  return Status::Ok();
}

GaijiRegister::GaijiRegister(const Registry* registry, store::RegistryStore* store,
                             const Clock* clock, int prefecture)
    : registry_(registry), store_(store), clock_(clock), prefecture_(prefecture) {}

Status GaijiRegister::Register(const GaijiEntry& entry, const Actor& actor) const {
  ErrorCode error;
  const LocalGovEntry* gov =
      LookupLocalGovCode(entry.municipality_code, LocalGovTable::Builtin(), &error);
  if (gov == nullptr || !gov->is_municipality() || gov->kind == LocalGovKind::kDesignatedCity) {
    return Status::InvalidArgument("a valid municipality code is needed");
  }
  if (prefecture_ != 0 && gov->prefecture_number() != prefecture_) {
    return Status::InvalidArgument("the municipality is not in this node's prefecture");
  }
  if (!IsPrivateUse(entry.code_point)) {
    return Status::InvalidArgument(
        "only a Private Use Area code point (U+E000–U+F8FF, planes 15–16) is a 外字");
  }
  if (entry.mj_code.empty() && entry.image_png.empty()) {
    return Status::InvalidArgument("give an MJ character code or an image");
  }
  if (!entry.mj_code.empty() && !IsMjCode(entry.mj_code)) {
    return Status::InvalidArgument("an MJ character code is MJ and six digits (MJ012345)");
  }
  if (!entry.image_png.empty() && !IsBoundedPng(entry.image_png)) {
    return Status::InvalidArgument("the image must be a PNG file of at most 64 KiB");
  }
  if (entry.description.size() > kMaxDescriptionBytes ||
      text::CheckText(entry.description) != text::TextCheck::kOk) {
    return Status::InvalidArgument("the description must be plain text of at most 400 bytes");
  }
  // Describes a character, never the person whose name holds it (found in review: a resident
  // code was accepted, and `gaiji list` printed it).
  if (HoldsResidentNumber(entry.description)) {
    return Status::InvalidArgument(
        "the description may not hold a 住民票コード or 個人番号: describe the character");
  }
  store::GaijiRow row;
  row.municipality_code = entry.municipality_code;
  row.code_point = entry.code_point;
  row.mj_code = entry.mj_code;
  row.image_png = entry.image_png;
  row.description = entry.description;
  row.registered_at = clock_->NowMicros();
  row.registered_by = actor.id;

  audit::AuditEntry e;
  e.actor = actor.id;
  e.terminal = actor.terminal;
  e.action = "gaiji.register";
  // The description is free text: it stays out of the log.
  e.conditions =
      "municipality=" + row.municipality_code + " code_point=" + FormatCodePoint(entry.code_point) +
      (row.mj_code.empty() ? "" : " mj=" + row.mj_code) +
      (row.image_png.empty() ? "" : " image_bytes=" + std::to_string(row.image_png.size()));
  e.outcome = "done";
  return registry_->RecordWith(std::move(e), [&](store::RegistryTxn& txn) -> Status {
    Status st = txn.InsertGaiji(row);
    if (st.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("this municipality's code point is already registered");
    }
    KAKUNIN_RETURN_IF_ERROR(st);
    return txn.ClearGaijiPending(row.municipality_code, row.code_point);
  });
}

Result<GaijiListing> GaijiRegister::List() const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader->ListGaiji());
  KAKUNIN_ASSIGN_OR_RETURN(pending, reader->ListGaijiPending());
  GaijiListing out;
  for (const auto& r : rows) out.entries.push_back(FromRow(r));
  for (const auto& p : pending) {
    out.pending.push_back({p.municipality_code, static_cast<char32_t>(p.code_point), p.first_seen,
                           p.last_seen, p.count});
  }
  return out;
}

Result<std::string> GaijiRegister::Resolve(const std::string& municipality,
                                           std::string_view text) const {
  KAKUNIN_ASSIGN_OR_RETURN(reader, store_->OpenReader());
  return Resolve(*reader, municipality, text);
}

Result<std::string> GaijiRegister::Resolve(store::RegistryReader& reader,
                                           const std::string& municipality,
                                           std::string_view text) const {
  KAKUNIN_ASSIGN_OR_RETURN(rows, reader.GaijiOf(municipality));
  std::map<char32_t, GaijiEntry> entries;
  for (const auto& r : rows) entries.emplace(static_cast<char32_t>(r.code_point), FromRow(r));
  return ResolveGaijiText(entries, text);
}

}  // namespace kakunin::registry
