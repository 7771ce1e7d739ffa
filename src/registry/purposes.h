#pragma once

// The purpose catalogue (利用事由): for what the node may use, transfer or provide records, to
// whom, and with which fields (DESIGN §1.4, §7). Kept in the repository as TOML
// (data/purposes/*.toml); a read names one purpose, and the answer carries only its fields.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace kakunin::registry {

enum class PurposeKind { kInternalUse, kProvision, kDisclosure, kStatistics, kNational };

struct Purpose {
  std::string id;
  std::string title;        // Japanese
  std::string legal_basis;  // 住民基本台帳法 別表第五 …, 条例 …
  PurposeKind kind = PurposeKind::kInternalUse;
  std::vector<std::string> recipients;  // recipient ids entitled to it
  std::vector<std::string> fields;      // the items it may return
  // `systems = true`: a registered system may take an internal_use purpose (a department's own
  // system, e.g. the passport office's). Without it an internal_use purpose is the prefecture's
  // staff's alone, read on the console by nominated, trained operators (found in review: the
  // host registered a system for registry.maintenance and read every item, 個人番号 included,
  // past every control on operators). A provision purpose is open to the systems of its
  // recipients; the other kinds to none.
  bool systems = false;

  bool AllowsField(std::string_view field) const;
  bool AllowsRecipient(std::string_view recipient) const;

  // The prefecture's own department that uses records for this purpose (移転先): the first
  // recipient "dept:…", or "" if none.
  std::string_view Department() const;
  // Whether the prefecture's operators may be nominated for it and read under it: only the
  // prefecture's own use — kind internal_use or statistics, with a department among its
  // recipients. Never national forwarding, a provision to another body, or disclosure (used by
  // operators only inside the disclosure workflow). A console read is then a transfer (移転) to
  // that department, and is recorded as such.
  bool OpenToOperators() const;
  // A disclosure to residents themselves (kind disclosure, recipient "resident"): an operator
  // may be nominated for it, and then serves residents' written requests at the disclosure desk
  // (registry/disclosure.h) — never reads it through the resident routes, which stay closed to it.
  bool OpenToDisclosureDesk() const;
  // Whether a registered system (kind agency) may take it and read under it: a provision, or an
  // internal use whose catalogue entry says `systems = true`.
  bool OpenToSystems() const;
};

// Immutable after loading; thread-safe.
class PurposeCatalogue {
 public:
  // Strict: unknown keys, wrong types, duplicate ids, unknown kinds or fields are errors.
  static Result<PurposeCatalogue> Parse(std::string_view toml);
  static Result<PurposeCatalogue> Load(const std::string& path);

  const Purpose* Find(std::string_view id) const;
  const std::vector<Purpose>& purposes() const { return purposes_; }

 private:
  std::vector<Purpose> purposes_;
};

std::string_view PurposeKindName(PurposeKind kind);

// SHA-256 (hex) of what the catalogue says — every purpose's id, title, legal basis, kind,
// recipients, fields and `systems`, in order — not of its file's bytes: a comment or a blank
// line changes nothing. Registry::RecordCatalogue logs a change of it.
std::string CatalogueDigest(const PurposeCatalogue& catalogue);

// The sample catalogue for 山梨県 (data/purposes/yamanashi.toml), compiled in: `kakunin init`
// copies it into a new node, and a node whose configuration names no catalogue uses it.
std::string_view SamplePurposeCatalogue();
// The national node's sample catalogue (data/purposes/national.toml: 別表第一 provisions to
// national bodies), written into a node made by `kakunin init --role national`.
std::string_view SampleNationalPurposeCatalogue();

}  // namespace kakunin::registry
