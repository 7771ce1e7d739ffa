#include "registry/purposes.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "core/bytes.h"
#include "core/file.h"
#include "crypto/sha256.h"
#include "registry/registry.h"

namespace kakunin {
extern const std::string_view kSamplePurposesToml;          // generated
extern const std::string_view kSampleNationalPurposesToml;  // generated
}  // namespace kakunin

namespace kakunin::registry {

std::string_view SamplePurposeCatalogue() { return kSamplePurposesToml; }
std::string_view SampleNationalPurposeCatalogue() { return kSampleNationalPurposesToml; }

namespace {

std::optional<PurposeKind> ParseKind(std::string_view s) {
  if (s == "internal_use") return PurposeKind::kInternalUse;
  if (s == "provision") return PurposeKind::kProvision;
  if (s == "disclosure") return PurposeKind::kDisclosure;
  if (s == "statistics") return PurposeKind::kStatistics;
  if (s == "national") return PurposeKind::kNational;
  return std::nullopt;
}

Result<std::vector<std::string>> Strings(const toml::table& t, const char* key, size_t index) {
  const toml::array* a = t[key].as_array();
  if (a == nullptr || a->empty()) {
    return Status::InvalidArgument("purpose " + std::to_string(index) + ": '" + key +
                                   "' must be a non-empty list of strings");
  }
  std::vector<std::string> out;
  for (const auto& v : *a) {
    auto s = v.value<std::string>();
    if (!s || s->empty() || !v.is_string()) {
      return Status::InvalidArgument("purpose " + std::to_string(index) + ": '" + key +
                                     "' must hold strings");
    }
    out.push_back(*s);
  }
  return out;
}

}  // namespace

std::string_view PurposeKindName(PurposeKind kind) {
  switch (kind) {
    case PurposeKind::kInternalUse: return "internal_use";
    case PurposeKind::kProvision: return "provision";
    case PurposeKind::kDisclosure: return "disclosure";
    case PurposeKind::kStatistics: return "statistics";
    case PurposeKind::kNational: return "national";
  }
  return "";
}

bool Purpose::AllowsField(std::string_view field) const {
  return std::find(fields.begin(), fields.end(), field) != fields.end();
}

bool Purpose::AllowsRecipient(std::string_view recipient) const {
  return std::find(recipients.begin(), recipients.end(), recipient) != recipients.end();
}

std::string_view Purpose::Department() const {
  for (const auto& r : recipients) {
    if (r.size() > 5 && r.compare(0, 5, "dept:") == 0) return r;
  }
  return {};
}

bool Purpose::OpenToOperators() const {
  return (kind == PurposeKind::kInternalUse || kind == PurposeKind::kStatistics) &&
         !Department().empty();
}

bool Purpose::OpenToSystems() const {
  return kind == PurposeKind::kProvision || (kind == PurposeKind::kInternalUse && systems);
}

bool Purpose::OpenToDisclosureDesk() const {
  return kind == PurposeKind::kDisclosure && AllowsRecipient("resident");
}

Result<PurposeCatalogue> PurposeCatalogue::Parse(std::string_view text) {
  if (text.size() > 1 << 20) return Status::InvalidArgument("purposes: file too large");
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& err) {
    return Status::InvalidArgument("purposes: syntax error at line " +
                                   std::to_string(err.source().begin.line));
  }
  for (const auto& [k, v] : root) {
    if (k.str() != "purpose") {
      return Status::InvalidArgument("purposes: unknown key '" + std::string(k.str()) + "'");
    }
  }
  const toml::array* list = root["purpose"].as_array();
  if (list == nullptr || list->empty()) {
    return Status::InvalidArgument("purposes: no [[purpose]] entries");
  }
  PurposeCatalogue c;
  std::set<std::string> ids;
  size_t index = 0;
  for (const auto& node : *list) {
    ++index;
    const toml::table* t = node.as_table();
    if (t == nullptr) return Status::InvalidArgument("purposes: [[purpose]] must be tables");
    static const std::set<std::string> kAllowed = {"id",         "title",  "legal_basis", "kind",
                                                   "recipients", "fields", "systems"};
    for (const auto& [k, v] : *t) {
      if (!kAllowed.count(std::string(k.str()))) {
        return Status::InvalidArgument("purpose " + std::to_string(index) + ": unknown key '" +
                                       std::string(k.str()) + "'");
      }
    }
    Purpose p;
    auto text_field = [&](const char* key, std::string* out) -> Status {
      auto v = (*t)[key].value<std::string>();
      if (!v || v->empty() || !(*t)[key].is_string()) {
        return Status::InvalidArgument("purpose " + std::to_string(index) + ": '" + key +
                                       "' is required");
      }
      *out = *v;
      return Status::Ok();
    };
    KAKUNIN_RETURN_IF_ERROR(text_field("id", &p.id));
    KAKUNIN_RETURN_IF_ERROR(text_field("title", &p.title));
    KAKUNIN_RETURN_IF_ERROR(text_field("legal_basis", &p.legal_basis));
    std::string kind;
    KAKUNIN_RETURN_IF_ERROR(text_field("kind", &kind));
    if (!IsValidPurposeId(p.id)) {
      return Status::InvalidArgument("purpose " + std::to_string(index) + ": bad id");
    }
    if (!ids.insert(p.id).second) {
      return Status::InvalidArgument("purposes: id '" + p.id + "' appears twice");
    }
    auto k = ParseKind(kind);
    if (!k) return Status::InvalidArgument("purpose " + p.id + ": unknown kind");
    p.kind = *k;
    auto recipients = Strings(*t, "recipients", index);
    if (!recipients.ok()) return recipients.status();
    p.recipients = std::move(*recipients);
    auto fields = Strings(*t, "fields", index);
    if (!fields.ok()) return fields.status();
    std::set<std::string> seen;
    for (const auto& f : *fields) {
      if (std::find(std::begin(kProvisionItems), std::end(kProvisionItems), f) ==
          std::end(kProvisionItems)) {
        return Status::InvalidArgument("purpose " + p.id + ": unknown field '" + f + "'");
      }
      // Each item once: an answer names each member once.
      if (!seen.insert(f).second) {
        return Status::InvalidArgument("purpose " + p.id + ": field '" + f + "' appears twice");
      }
    }
    p.fields = std::move(*fields);
    if (t->contains("systems")) {
      auto v = (*t)["systems"].value<bool>();
      if (!v || !(*t)["systems"].is_boolean()) {
        return Status::InvalidArgument("purpose " + p.id + ": 'systems' is true or false");
      }
      // Only an internal use is opened by it: a provision is its recipients' systems' already,
      // and national, disclosure and statistics purposes are never a system's.
      if (*v && p.kind != PurposeKind::kInternalUse) {
        return Status::InvalidArgument("purpose " + p.id +
                                       ": 'systems' is for internal_use purposes only");
      }
      p.systems = *v;
    }
    c.purposes_.push_back(std::move(p));
  }
  return c;
}

Result<PurposeCatalogue> PurposeCatalogue::Load(const std::string& path) {
  // Bounded, and never a FIFO or a directory (found in review).
  auto text = ReadFileAtMost(path, 4 << 20);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("purpose catalogue not found: " + path);
    }
    return Status::InvalidArgument("purpose catalogue: " + text.status().message());
  }
  return Parse(*text);
}

const Purpose* PurposeCatalogue::Find(std::string_view id) const {
  for (const auto& p : purposes_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

std::string CatalogueDigest(const PurposeCatalogue& catalogue) {
  // Length-prefixed fields: no two catalogues give the same text.
  std::string text;
  auto put = [&text](std::string_view v) {
    text += std::to_string(v.size());
    text += ':';
    text += v;
  };
  for (const Purpose& p : catalogue.purposes()) {
    put(p.id);
    put(p.title);
    put(p.legal_basis);
    put(PurposeKindName(p.kind));
    put(std::to_string(p.recipients.size()));
    for (const auto& r : p.recipients) put(r);
    put(std::to_string(p.fields.size()));
    for (const auto& f : p.fields) put(f);
    put(p.systems ? "systems" : "");
  }
  return HexEncode(crypto::Sha256(text));
}

}  // namespace kakunin::registry
