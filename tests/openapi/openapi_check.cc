#include "openapi/openapi_check.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "text/json.h"
#include "text/utf8.h"

namespace kakunin::testing {

using text::JsonValue;

struct OpenApiChecker::Impl {
  JsonValue doc;
  mutable std::mutex mu;
  mutable std::map<std::string, std::shared_ptr<const std::regex>, std::less<>> regexes;

  // The node at a local reference ("#" or "#/a/b~1c"), or nullptr.
  const JsonValue* Resolve(std::string_view ref) const;
  // The compiled pattern (cached). std::regex throws; nothing escapes from here.
  std::shared_ptr<const std::regex> Regex(const std::string& pattern) const;
};

namespace {

constexpr size_t kMaxSchemaDepth = 200;
const text::JsonLimits kDocumentLimits{size_t{16} << 20, 128};
const text::JsonLimits kBodyLimits{size_t{64} << 20, 128};

// ---------------------------------------------------------------- JSON pointers and messages

std::string EscapeToken(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Child(const std::string& pointer, std::string_view key) {
  return pointer + "/" + EscapeToken(key);
}

std::string Child(const std::string& pointer, size_t index) {
  return pointer + "/" + std::to_string(index);
}

std::string Show(const std::string& pointer) { return pointer.empty() ? "(root)" : pointer; }

// The document is at fault.
Status DocError(const std::string& location, const std::string& message) {
  return Status::FailedPrecondition("openapi document " + location + ": " + message);
}

// The instance does not conform.
Status Mismatch(const std::string& pointer, const std::string& message,
                const std::string& location) {
  return Status::InvalidArgument(Show(pointer) + ": " + message + " (schema " + location + ")");
}

// `s` with "prefix: " before its message; OK stays OK.
Status Prefixed(const std::string& prefix, Status s) {
  if (s.ok()) return s;
  return Status(s.code(), prefix + ": " + s.message());
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

bool IsBool(const JsonValue& v) { return v.type() == JsonValue::Type::kBool; }

bool IsSchemaShaped(const JsonValue& v) { return v.is_object() || IsBool(v); }

std::string TypeOf(const JsonValue& v) {
  switch (v.type()) {
    case JsonValue::Type::kNull:
      return "null";
    case JsonValue::Type::kBool:
      return "boolean";
    case JsonValue::Type::kNumber:
      return v.is_integer_literal() ? "integer" : "number";
    case JsonValue::Type::kString:
      return "string";
    case JsonValue::Type::kArray:
      return "array";
    case JsonValue::Type::kObject:
      return "object";
  }
  return "?";
}

bool HasType(const JsonValue& v, std::string_view type) {
  switch (v.type()) {
    case JsonValue::Type::kNull:
      return type == "null";
    case JsonValue::Type::kBool:
      return type == "boolean";
    case JsonValue::Type::kNumber:
      return type == "number" || (type == "integer" && v.is_integer_literal());
    case JsonValue::Type::kString:
      return type == "string";
    case JsonValue::Type::kArray:
      return type == "array";
    case JsonValue::Type::kObject:
      return type == "object";
  }
  return false;
}

// <0, 0, >0. Exact for integer literals within int64; long double otherwise.
int CompareNumbers(const JsonValue& a, const JsonValue& b) {
  std::optional<int64_t> ia = a.AsInt64();
  std::optional<int64_t> ib = b.AsInt64();
  if (ia && ib) return *ia < *ib ? -1 : (*ia > *ib ? 1 : 0);
  long double da = std::strtold(a.text().c_str(), nullptr);
  long double db = std::strtold(b.text().c_str(), nullptr);
  return da < db ? -1 : (da > db ? 1 : 0);
}

// Structural equality; numbers by value. Objects are compared as sets of members (duplicate
// keys were rejected before).
bool JsonEqual(const JsonValue& a, const JsonValue& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case JsonValue::Type::kNull:
      return true;
    case JsonValue::Type::kBool:
      return a.bool_value() == b.bool_value();
    case JsonValue::Type::kNumber:
      return CompareNumbers(a, b) == 0;
    case JsonValue::Type::kString:
      return a.text() == b.text();
    case JsonValue::Type::kArray:
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i) {
        if (!JsonEqual(a.items()[i], b.items()[i])) return false;
      }
      return true;
    case JsonValue::Type::kObject:
      if (a.members().size() != b.members().size()) return false;
      for (const auto& [key, value] : a.members()) {
        const JsonValue* other = b.Find(key);
        if (other == nullptr || !JsonEqual(value, *other)) return false;
      }
      return true;
  }
  return false;
}

// Duplicate keys and strings that are not well-formed UTF-8, anywhere in `v`.
Status CheckJsonText(const JsonValue& v, const std::string& pointer) {
  if (v.is_string() && !v.well_formed()) {
    return Status::InvalidArgument(Show(pointer) + ": string is not well-formed UTF-8");
  }
  if (v.is_array()) {
    for (size_t i = 0; i < v.items().size(); ++i) {
      KAKUNIN_RETURN_IF_ERROR(CheckJsonText(v.items()[i], Child(pointer, i)));
    }
  }
  if (v.is_object()) {
    std::set<std::string_view> seen;
    for (const auto& [key, value] : v.members()) {
      if (!seen.insert(key).second) {
        return Status::InvalidArgument(Show(Child(pointer, key)) + ": duplicate key");
      }
      KAKUNIN_RETURN_IF_ERROR(CheckJsonText(value, Child(pointer, key)));
    }
  }
  return Status::Ok();
}

bool IsJsonMediaType(std::string_view media_type) {
  return media_type == "application/json" ||
         (media_type.size() > 5 && media_type.substr(media_type.size() - 5) == "+json");
}

std::optional<int64_t> NonNegativeInteger(const JsonValue& v) {
  std::optional<int64_t> n = v.AsInt64();
  if (!n || *n < 0) return std::nullopt;
  return n;
}

// ---------------------------------------------------------------- schema keywords

const std::set<std::string_view>& SchemaKeywords() {
  static const std::set<std::string_view> kKeywords = {
      "$ref",      "type",    "properties", "required",    "additionalProperties",
      "items",     "enum",    "const",      "pattern",     "minLength",
      "maxLength", "minimum", "maximum",    "minItems",    "maxItems",
      "allOf",     "anyOf",   "oneOf",      "description", "title",
      "examples",  "format",  "default",    "$comment",
  };
  return kKeywords;
}

const std::set<std::string_view>& TypeNames() {
  static const std::set<std::string_view> kTypes = {"string", "integer", "number", "boolean",
                                                    "array",  "object",  "null"};
  return kTypes;
}

// Checks one schema object's keywords and the shape of their values (not the subschemas'
// contents: the caller recurses, or validation visits them).
Status CheckSchemaNode(const OpenApiChecker::Impl& impl, const JsonValue& s,
                       const std::string& loc) {
  if (IsBool(s)) return Status::Ok();
  if (!s.is_object()) return DocError(loc, "a schema must be an object or a boolean");
  for (const auto& [key, value] : s.members()) {
    const std::string at = Child(loc, key);
    if (SchemaKeywords().count(key) == 0) {
      return DocError(loc, "unsupported schema keyword '" + key + "'");
    }
    if (key == "$ref") {
      if (!value.is_string() || value.text().rfind("#/components/schemas/", 0) != 0) {
        return DocError(at, "keyword $ref must be a string \"#/components/schemas/...\"");
      }
      if (impl.Resolve(value.text()) == nullptr) {
        return DocError(at, "keyword $ref does not resolve: " + value.text());
      }
    } else if (key == "type") {
      if (value.is_string()) {
        if (TypeNames().count(value.text()) == 0) {
          return DocError(at, "keyword type: unknown type '" + value.text() + "'");
        }
      } else if (value.is_array() && !value.items().empty()) {
        std::set<std::string_view> seen;
        for (const JsonValue& t : value.items()) {
          if (!t.is_string() || TypeNames().count(t.text()) == 0 || !seen.insert(t.text()).second) {
            return DocError(at, "keyword type: expected distinct known type names");
          }
        }
      } else {
        return DocError(at, "keyword type must be a type name or a non-empty array of them");
      }
    } else if (key == "properties") {
      if (!value.is_object()) return DocError(at, "keyword properties must be an object");
    } else if (key == "required") {
      if (!value.is_array()) return DocError(at, "keyword required must be an array");
      std::set<std::string_view> seen;
      for (const JsonValue& name : value.items()) {
        if (!name.is_string() || !seen.insert(name.text()).second) {
          return DocError(at, "keyword required must hold distinct strings");
        }
      }
    } else if (key == "additionalProperties" || key == "items") {
      if (!IsSchemaShaped(value)) {
        return DocError(at, "keyword " + key + " must be a schema (object or boolean)");
      }
    } else if (key == "enum") {
      if (!value.is_array() || value.items().empty()) {
        return DocError(at, "keyword enum must be a non-empty array");
      }
    } else if (key == "pattern") {
      if (!value.is_string()) return DocError(at, "keyword pattern must be a string");
      if (impl.Regex(value.text()) == nullptr) {
        return DocError(at, "keyword pattern does not compile as an ECMAScript regex");
      }
    } else if (key == "minLength" || key == "maxLength" || key == "minItems" || key == "maxItems") {
      if (!value.is_number() || !NonNegativeInteger(value)) {
        return DocError(at, "keyword " + key + " must be a non-negative integer");
      }
    } else if (key == "minimum" || key == "maximum") {
      if (!value.is_number()) return DocError(at, "keyword " + key + " must be a number");
    } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
      if (!value.is_array() || value.items().empty()) {
        return DocError(at, "keyword " + key + " must be a non-empty array of schemas");
      }
      for (const JsonValue& sub : value.items()) {
        if (!IsSchemaShaped(sub)) {
          return DocError(at, "keyword " + key + " must be a non-empty array of schemas");
        }
      }
    } else if (key == "description" || key == "title" || key == "format" || key == "$comment") {
      if (!value.is_string()) return DocError(at, "annotation " + key + " must be a string");
    } else if (key == "examples") {
      if (!value.is_array()) return DocError(at, "annotation examples must be an array");
    }
    // const, default: any value.
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- validation

class Validator {
 public:
  explicit Validator(const OpenApiChecker::Impl& impl) : impl_(impl) {}

  // Ok, kInvalidArgument (the instance does not conform) or kFailedPrecondition (the document
  // is at fault; never turned into a mere mismatch by anyOf/oneOf).
  Status Validate(const JsonValue& s, const std::string& loc, const JsonValue& v,
                  const std::string& ptr, size_t depth) const {
    if (depth > kMaxSchemaDepth) return DocError(loc, "schema nesting too deep ($ref cycle?)");
    KAKUNIN_RETURN_IF_ERROR(CheckSchemaNode(impl_, s, loc));
    if (IsBool(s)) {
      if (s.bool_value()) return Status::Ok();
      return Mismatch(ptr, "not allowed (the schema is false)", loc);
    }
    if (const JsonValue* ref = s.Find("$ref")) {
      KAKUNIN_RETURN_IF_ERROR(
          Validate(*impl_.Resolve(ref->text()), ref->text(), v, ptr, depth + 1));
    }
    KAKUNIN_RETURN_IF_ERROR(CheckType(s, loc, v, ptr));
    if (const JsonValue* e = s.Find("enum")) {
      bool found = std::any_of(e->items().begin(), e->items().end(),
                               [&](const JsonValue& x) { return JsonEqual(x, v); });
      if (!found) return Mismatch(ptr, "value not in enum", Child(loc, "enum"));
    }
    if (const JsonValue* c = s.Find("const")) {
      if (!JsonEqual(*c, v)) return Mismatch(ptr, "value is not the const", Child(loc, "const"));
    }
    if (v.is_string()) KAKUNIN_RETURN_IF_ERROR(CheckString(s, loc, v, ptr));
    if (v.is_number()) KAKUNIN_RETURN_IF_ERROR(CheckNumber(s, loc, v, ptr));
    if (v.is_array()) KAKUNIN_RETURN_IF_ERROR(CheckArray(s, loc, v, ptr, depth));
    if (v.is_object()) KAKUNIN_RETURN_IF_ERROR(CheckObject(s, loc, v, ptr, depth));
    return CheckCombinators(s, loc, v, ptr, depth);
  }

 private:
  Status CheckType(const JsonValue& s, const std::string& loc, const JsonValue& v,
                   const std::string& ptr) const {
    const JsonValue* t = s.Find("type");
    if (t == nullptr) return Status::Ok();
    if (t->is_string()) {
      if (HasType(v, t->text())) return Status::Ok();
      return Mismatch(ptr, "expected " + t->text() + ", got " + TypeOf(v), Child(loc, "type"));
    }
    std::vector<std::string> names;
    for (const JsonValue& name : t->items()) {
      if (HasType(v, name.text())) return Status::Ok();
      names.push_back(name.text());
    }
    return Mismatch(ptr, "expected one of [" + Join(names, ", ") + "], got " + TypeOf(v),
                    Child(loc, "type"));
  }

  Status CheckString(const JsonValue& s, const std::string& loc, const JsonValue& v,
                     const std::string& ptr) const {
    const size_t length = text::CodePointCount(v.text());
    if (const JsonValue* m = s.Find("minLength")) {
      if (length < static_cast<size_t>(*m->AsInt64())) {
        return Mismatch(ptr, "shorter than minLength " + m->text(), Child(loc, "minLength"));
      }
    }
    if (const JsonValue* m = s.Find("maxLength")) {
      if (length > static_cast<size_t>(*m->AsInt64())) {
        return Mismatch(ptr, "longer than maxLength " + m->text(), Child(loc, "maxLength"));
      }
    }
    if (const JsonValue* p = s.Find("pattern")) {
      std::shared_ptr<const std::regex> re = impl_.Regex(p->text());
      bool matched = false;
      try {
        matched = std::regex_search(v.text(), *re);
      } catch (const std::exception&) {
        return DocError(Child(loc, "pattern"), "the regex engine gave up on a value");
      }
      if (!matched) {
        return Mismatch(ptr, "does not match pattern " + p->text(), Child(loc, "pattern"));
      }
    }
    return Status::Ok();
  }

  Status CheckNumber(const JsonValue& s, const std::string& loc, const JsonValue& v,
                     const std::string& ptr) const {
    if (const JsonValue* m = s.Find("minimum")) {
      if (CompareNumbers(v, *m) < 0) {
        return Mismatch(ptr, "less than minimum " + m->text(), Child(loc, "minimum"));
      }
    }
    if (const JsonValue* m = s.Find("maximum")) {
      if (CompareNumbers(v, *m) > 0) {
        return Mismatch(ptr, "greater than maximum " + m->text(), Child(loc, "maximum"));
      }
    }
    return Status::Ok();
  }

  Status CheckArray(const JsonValue& s, const std::string& loc, const JsonValue& v,
                    const std::string& ptr, size_t depth) const {
    const size_t n = v.items().size();
    if (const JsonValue* m = s.Find("minItems")) {
      if (n < static_cast<size_t>(*m->AsInt64())) {
        return Mismatch(ptr, "fewer items than minItems " + m->text(), Child(loc, "minItems"));
      }
    }
    if (const JsonValue* m = s.Find("maxItems")) {
      if (n > static_cast<size_t>(*m->AsInt64())) {
        return Mismatch(ptr, "more items than maxItems " + m->text(), Child(loc, "maxItems"));
      }
    }
    if (const JsonValue* items = s.Find("items")) {
      for (size_t i = 0; i < n; ++i) {
        KAKUNIN_RETURN_IF_ERROR(
            Validate(*items, Child(loc, "items"), v.items()[i], Child(ptr, i), depth + 1));
      }
    }
    return Status::Ok();
  }

  Status CheckObject(const JsonValue& s, const std::string& loc, const JsonValue& v,
                     const std::string& ptr, size_t depth) const {
    if (const JsonValue* required = s.Find("required")) {
      for (const JsonValue& name : required->items()) {
        if (v.Find(name.text()) == nullptr) {
          return Mismatch(ptr, "missing required member '" + name.text() + "'",
                          Child(loc, "required"));
        }
      }
    }
    const JsonValue* properties = s.Find("properties");
    const JsonValue* additional = s.Find("additionalProperties");
    for (const auto& [key, value] : v.members()) {
      const JsonValue* property = properties != nullptr ? properties->Find(key) : nullptr;
      if (property != nullptr) {
        KAKUNIN_RETURN_IF_ERROR(Validate(*property, Child(Child(loc, "properties"), key), value,
                                         Child(ptr, key), depth + 1));
      } else if (additional != nullptr) {
        if (IsBool(*additional) && !additional->bool_value()) {
          return Mismatch(Child(ptr, key), "unexpected member (additionalProperties is false)",
                          Child(loc, "additionalProperties"));
        }
        KAKUNIN_RETURN_IF_ERROR(Validate(*additional, Child(loc, "additionalProperties"), value,
                                         Child(ptr, key), depth + 1));
      }
    }
    return Status::Ok();
  }

  Status CheckCombinators(const JsonValue& s, const std::string& loc, const JsonValue& v,
                          const std::string& ptr, size_t depth) const {
    if (const JsonValue* all = s.Find("allOf")) {
      for (size_t i = 0; i < all->items().size(); ++i) {
        KAKUNIN_RETURN_IF_ERROR(
            Validate(all->items()[i], Child(Child(loc, "allOf"), i), v, ptr, depth + 1));
      }
    }
    for (std::string_view keyword : {"anyOf", "oneOf"}) {
      const JsonValue* alternatives = s.Find(keyword);
      if (alternatives == nullptr) continue;
      const std::string at = Child(loc, keyword);
      std::vector<std::string> failures;
      std::vector<std::string> matches;
      for (size_t i = 0; i < alternatives->items().size(); ++i) {
        Status st = Validate(alternatives->items()[i], Child(at, i), v, ptr, depth + 1);
        if (st.code() == StatusCode::kFailedPrecondition) return st;
        if (st.ok()) {
          matches.push_back(std::to_string(i));
          if (keyword == "anyOf") break;
        } else {
          failures.push_back("[" + std::to_string(i) + "] " + st.message());
        }
      }
      if (matches.empty()) {
        return Mismatch(ptr,
                        "matches none of the " + std::string(keyword) +
                            " alternatives: " + Join(failures, "; "),
                        at);
      }
      if (keyword == "oneOf" && matches.size() > 1) {
        return Mismatch(
            ptr, "matches more than one oneOf alternative (" + Join(matches, ", ") + ")", at);
      }
    }
    return Status::Ok();
  }

  const OpenApiChecker::Impl& impl_;
};

// ---------------------------------------------------------------- the document's structure

const std::set<std::string_view>& Methods() {
  static const std::set<std::string_view> kMethods = {"get",     "put",  "post",  "delete",
                                                      "options", "head", "patch", "trace"};
  return kMethods;
}

constexpr std::string_view kUnknownPath = "x-kakunin-unknown-path-responses";
constexpr std::string_view kUnknownMethod = "x-kakunin-unknown-method-responses";

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);  // the leading '/'
  for (;;) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool IsTemplate(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

struct PathMatch {
  std::string key;
  const JsonValue* item = nullptr;
  std::vector<bool> literal;  // per segment
};

// The best matching path item, or nullopt. REQUIRES: path starts with '/'.
std::optional<PathMatch> MatchPath(const JsonValue& paths, std::string_view path) {
  const std::vector<std::string_view> actual = Segments(path);
  std::optional<PathMatch> best;
  for (const auto& [key, item] : paths.members()) {
    if (key.empty() || key.front() != '/') continue;
    const std::vector<std::string_view> wanted = Segments(key);
    if (wanted.size() != actual.size()) continue;
    PathMatch m{key, &item, {}};
    bool ok = true;
    for (size_t i = 0; i < wanted.size() && ok; ++i) {
      if (IsTemplate(wanted[i])) {
        ok = !actual[i].empty();
        m.literal.push_back(false);
      } else {
        ok = wanted[i] == actual[i];
        m.literal.push_back(true);
      }
    }
    if (!ok) continue;
    // Lexicographic on the flags: at the first difference, the literal segment wins.
    if (!best || m.literal > best->literal) best = std::move(m);
  }
  return best;
}

// Follows a Reference Object ({"$ref": "#/components/<kind>/..."}) if `v` is one.
Result<const JsonValue*> Deref(const OpenApiChecker::Impl& impl, const JsonValue& v,
                               const std::string& loc, std::string_view kind) {
  if (!v.is_object()) return DocError(loc, "expected an object");
  const JsonValue* ref = v.Find("$ref");
  if (ref == nullptr) return &v;
  for (const auto& [key, value] : v.members()) {
    if (key != "$ref" && key != "summary" && key != "description") {
      return DocError(loc, "a Reference Object may not have member '" + key + "'");
    }
  }
  const std::string prefix = "#/components/" + std::string(kind) + "/";
  if (!ref->is_string() || ref->text().rfind(prefix, 0) != 0) {
    return DocError(Child(loc, "$ref"), "must be a string \"" + prefix + "...\"");
  }
  const JsonValue* target = impl.Resolve(ref->text());
  if (target == nullptr) return DocError(Child(loc, "$ref"), "does not resolve: " + ref->text());
  if (!target->is_object() || target->Find("$ref") != nullptr) {
    return DocError(Child(loc, "$ref"),
                    "must point at a " + std::string(kind) + " object, not at another reference");
  }
  return target;
}

class DocumentWalker {
 public:
  explicit DocumentWalker(const OpenApiChecker::Impl& impl) : impl_(impl), doc_(impl.doc) {}

  Status Walk() {
    KAKUNIN_RETURN_IF_ERROR(OnlyKeys(
        doc_, "#", {"openapi", "info", "servers", "paths", "components", "security", "tags"}));
    KAKUNIN_RETURN_IF_ERROR(Info());
    KAKUNIN_RETURN_IF_ERROR(Tags());
    KAKUNIN_RETURN_IF_ERROR(Servers());
    KAKUNIN_RETURN_IF_ERROR(Components());
    if (const JsonValue* security = doc_.Find("security")) {
      KAKUNIN_RETURN_IF_ERROR(Security(*security, "#/security"));
    }
    KAKUNIN_RETURN_IF_ERROR(Paths());
    for (std::string_view extension : {kUnknownPath, kUnknownMethod}) {
      if (const JsonValue* r = doc_.Find(extension)) {
        KAKUNIN_RETURN_IF_ERROR(Responses(*r, Child("#", extension)));
      }
    }
    return Status::Ok();
  }

 private:
  // Members other than `allowed` and x-* extensions are errors: a typo must not pass.
  static Status OnlyKeys(const JsonValue& v, const std::string& loc,
                         std::initializer_list<std::string_view> allowed) {
    if (!v.is_object()) return DocError(loc, "expected an object");
    for (const auto& [key, value] : v.members()) {
      if (key.rfind("x-", 0) == 0) continue;
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return DocError(loc, "unsupported member '" + key + "'");
      }
    }
    return Status::Ok();
  }

  static Status StringMember(const JsonValue& v, const std::string& loc, std::string_view key,
                             bool required) {
    const JsonValue* m = v.Find(key);
    if (m == nullptr) {
      return required ? DocError(loc, "missing member '" + std::string(key) + "'") : Status::Ok();
    }
    if (!m->is_string()) return DocError(Child(loc, key), "expected a string");
    return Status::Ok();
  }

  static Status BoolMember(const JsonValue& v, const std::string& loc, std::string_view key) {
    const JsonValue* m = v.Find(key);
    if (m != nullptr && !IsBool(*m)) return DocError(Child(loc, key), "expected a boolean");
    return Status::Ok();
  }

  Status Info() {
    const JsonValue* info = doc_.Find("info");
    if (info == nullptr) return DocError("#", "missing member 'info'");
    const std::string loc = "#/info";
    KAKUNIN_RETURN_IF_ERROR(OnlyKeys(
        *info, loc,
        {"title", "summary", "description", "termsOfService", "contact", "license", "version"}));
    KAKUNIN_RETURN_IF_ERROR(StringMember(*info, loc, "title", true));
    KAKUNIN_RETURN_IF_ERROR(StringMember(*info, loc, "version", true));
    KAKUNIN_RETURN_IF_ERROR(StringMember(*info, loc, "summary", false));
    return StringMember(*info, loc, "description", false);
  }

  Status Tags() {
    const JsonValue* tags = doc_.Find("tags");
    if (tags == nullptr) return Status::Ok();
    if (!tags->is_array()) return DocError("#/tags", "expected an array");
    for (size_t i = 0; i < tags->items().size(); ++i) {
      const JsonValue& tag = tags->items()[i];
      const std::string loc = Child("#/tags", i);
      KAKUNIN_RETURN_IF_ERROR(OnlyKeys(tag, loc, {"name", "description"}));
      KAKUNIN_RETURN_IF_ERROR(StringMember(tag, loc, "name", true));
      KAKUNIN_RETURN_IF_ERROR(StringMember(tag, loc, "description", false));
      if (!tag_names_.insert(tag.Find("name")->text()).second) {
        return DocError(loc, "tag declared twice");
      }
    }
    return Status::Ok();
  }

  Status Servers() {
    const JsonValue* servers = doc_.Find("servers");
    if (servers == nullptr) return Status::Ok();
    if (!servers->is_array()) return DocError("#/servers", "expected an array");
    for (size_t i = 0; i < servers->items().size(); ++i) {
      const std::string loc = Child("#/servers", i);
      KAKUNIN_RETURN_IF_ERROR(OnlyKeys(servers->items()[i], loc, {"url", "description"}));
      KAKUNIN_RETURN_IF_ERROR(StringMember(servers->items()[i], loc, "url", true));
    }
    return Status::Ok();
  }

  Status Components() {
    const JsonValue* components = doc_.Find("components");
    if (components == nullptr) return Status::Ok();
    const std::string loc = "#/components";
    KAKUNIN_RETURN_IF_ERROR(OnlyKeys(
        *components, loc,
        {"schemas", "responses", "parameters", "requestBodies", "headers", "securitySchemes"}));
    static const std::regex kName("^[A-Za-z0-9._-]+$");
    for (const auto& [kind, map] : components->members()) {
      if (kind.rfind("x-", 0) == 0) continue;
      const std::string kind_loc = Child(loc, kind);
      if (!map.is_object()) return DocError(kind_loc, "expected an object");
      for (const auto& [name, value] : map.members()) {
        const std::string at = Child(kind_loc, name);
        if (!std::regex_match(name, kName)) return DocError(at, "bad component name");
        if (kind == "schemas") {
          KAKUNIN_RETURN_IF_ERROR(Schema(value, at));
        } else if (kind == "responses") {
          KAKUNIN_RETURN_IF_ERROR(Response(value, at));
        } else if (kind == "parameters") {
          KAKUNIN_RETURN_IF_ERROR(Parameter(value, at));
        } else if (kind == "requestBodies") {
          KAKUNIN_RETURN_IF_ERROR(RequestBody(value, at));
        } else if (kind == "headers") {
          KAKUNIN_RETURN_IF_ERROR(Header(value, at));
        } else if (kind == "securitySchemes") {
          KAKUNIN_RETURN_IF_ERROR(OnlyKeys(value, at, {"type", "description"}));
          const JsonValue* type = value.Find("type");
          if (type == nullptr || !type->is_string() || type->text() != "mutualTLS") {
            return DocError(at, "only security schemes of type mutualTLS are supported");
          }
          KAKUNIN_RETURN_IF_ERROR(StringMember(value, at, "description", false));
          scheme_names_.insert(name);
        }
      }
    }
    return Status::Ok();
  }

  Status Security(const JsonValue& security, const std::string& loc) {
    if (!security.is_array()) return DocError(loc, "expected an array");
    for (size_t i = 0; i < security.items().size(); ++i) {
      const JsonValue& requirement = security.items()[i];
      const std::string at = Child(loc, i);
      if (!requirement.is_object()) return DocError(at, "expected an object");
      for (const auto& [name, scopes] : requirement.members()) {
        if (scheme_names_.count(name) == 0) {
          return DocError(at, "security scheme '" + name + "' is not declared");
        }
        if (!scopes.is_array() || !scopes.items().empty()) {
          return DocError(Child(at, name), "expected [] (mutualTLS has no scopes)");
        }
      }
    }
    return Status::Ok();
  }

  Status Paths() {
    const JsonValue* paths = doc_.Find("paths");
    const std::string loc = "#/paths";
    std::map<std::string, std::string> shapes;  // template with {} for parameters -> key
    for (const auto& [key, item] : paths->members()) {
      const std::string at = Child(loc, key);
      if (key.empty() || key.front() != '/') return DocError(at, "a path must start with '/'");
      std::string shape;
      std::set<std::string> names;
      for (std::string_view segment : Segments(key)) {
        shape += '/';
        if (IsTemplate(segment)) {
          std::string name(segment.substr(1, segment.size() - 2));
          if (name.find_first_of("{}") != std::string::npos || !names.insert(name).second) {
            return DocError(at, "bad or repeated path parameter");
          }
          shape += "{}";
        } else if (segment.find_first_of("{}") != std::string_view::npos) {
          return DocError(at, "a path template must take a whole segment");
        } else {
          shape += segment;
        }
      }
      auto [it, inserted] = shapes.emplace(shape, key);
      if (!inserted) return DocError(at, "ambiguous with path " + it->second);
      KAKUNIN_RETURN_IF_ERROR(PathItem(item, at, names));
    }
    return Status::Ok();
  }

  Status PathItem(const JsonValue& item, const std::string& loc,
                  const std::set<std::string>& template_names) {
    KAKUNIN_RETURN_IF_ERROR(OnlyKeys(item, loc,
                                     {"summary", "description", "parameters", "get", "put", "post",
                                      "delete", "options", "head", "patch", "trace"}));
    std::set<std::string> item_path_params;
    if (const JsonValue* params = item.Find("parameters")) {
      KAKUNIN_RETURN_IF_ERROR(Parameters(*params, Child(loc, "parameters"), &item_path_params));
    }
    bool any = false;
    for (const auto& [method, op] : item.members()) {
      if (Methods().count(method) == 0) continue;
      any = true;
      std::set<std::string> path_params = item_path_params;
      KAKUNIN_RETURN_IF_ERROR(Operation(op, Child(loc, method), &path_params));
      if (path_params != template_names) {
        return DocError(Child(loc, method),
                        "the path parameters declared do not match the path template");
      }
    }
    if (!any) return DocError(loc, "a path item without operations");
    return Status::Ok();
  }

  Status Operation(const JsonValue& op, const std::string& loc, std::set<std::string>* params) {
    KAKUNIN_RETURN_IF_ERROR(OnlyKeys(op, loc,
                                     {"tags", "summary", "description", "operationId", "parameters",
                                      "requestBody", "responses", "security", "deprecated"}));
    KAKUNIN_RETURN_IF_ERROR(StringMember(op, loc, "summary", false));
    KAKUNIN_RETURN_IF_ERROR(StringMember(op, loc, "description", false));
    KAKUNIN_RETURN_IF_ERROR(BoolMember(op, loc, "deprecated"));
    if (const JsonValue* id = op.Find("operationId")) {
      if (!id->is_string() || !operation_ids_.insert(id->text()).second) {
        return DocError(Child(loc, "operationId"), "must be a unique string");
      }
    }
    if (const JsonValue* tags = op.Find("tags")) {
      if (!tags->is_array()) return DocError(Child(loc, "tags"), "expected an array");
      for (const JsonValue& tag : tags->items()) {
        if (!tag.is_string() || tag_names_.count(tag.text()) == 0) {
          return DocError(Child(loc, "tags"), "an operation's tags must be declared in #/tags");
        }
      }
    }
    if (const JsonValue* p = op.Find("parameters")) {
      KAKUNIN_RETURN_IF_ERROR(Parameters(*p, Child(loc, "parameters"), params));
    }
    if (const JsonValue* body = op.Find("requestBody")) {
      KAKUNIN_RETURN_IF_ERROR(RequestBody(*body, Child(loc, "requestBody")));
    }
    if (const JsonValue* security = op.Find("security")) {
      KAKUNIN_RETURN_IF_ERROR(Security(*security, Child(loc, "security")));
    }
    const JsonValue* responses = op.Find("responses");
    if (responses == nullptr) return DocError(loc, "missing member 'responses'");
    return Responses(*responses, Child(loc, "responses"));
  }

  // Collects the names of path parameters into *path_params.
  Status Parameters(const JsonValue& list, const std::string& loc,
                    std::set<std::string>* path_params) {
    if (!list.is_array()) return DocError(loc, "expected an array");
    std::set<std::pair<std::string, std::string>> seen;
    for (size_t i = 0; i < list.items().size(); ++i) {
      const std::string at = Child(loc, i);
      Result<const JsonValue*> p = Deref(impl_, list.items()[i], at, "parameters");
      if (!p.ok()) return p.status();
      KAKUNIN_RETURN_IF_ERROR(Parameter(**p, at));
      const std::string& name = (*p)->Find("name")->text();
      const std::string& in = (*p)->Find("in")->text();
      if (!seen.emplace(name, in).second) return DocError(at, "parameter declared twice");
      if (in == "path") path_params->insert(name);
    }
    return Status::Ok();
  }

  Status Parameter(const JsonValue& v, const std::string& loc) {
    Result<const JsonValue*> target = Deref(impl_, v, loc, "parameters");
    if (!target.ok()) return target.status();
    const JsonValue& p = **target;
    KAKUNIN_RETURN_IF_ERROR(
        OnlyKeys(p, loc, {"name", "in", "description", "required", "deprecated", "schema"}));
    KAKUNIN_RETURN_IF_ERROR(StringMember(p, loc, "name", true));
    KAKUNIN_RETURN_IF_ERROR(StringMember(p, loc, "in", true));
    KAKUNIN_RETURN_IF_ERROR(StringMember(p, loc, "description", false));
    KAKUNIN_RETURN_IF_ERROR(BoolMember(p, loc, "required"));
    KAKUNIN_RETURN_IF_ERROR(BoolMember(p, loc, "deprecated"));
    const std::string& in = p.Find("in")->text();
    if (in != "path" && in != "query" && in != "header" && in != "cookie") {
      return DocError(Child(loc, "in"), "must be path, query, header or cookie");
    }
    const JsonValue* required = p.Find("required");
    if (in == "path" && (required == nullptr || !required->bool_value())) {
      return DocError(loc, "a path parameter must be required");
    }
    const JsonValue* schema = p.Find("schema");
    if (schema == nullptr) return DocError(loc, "missing member 'schema'");
    return Schema(*schema, Child(loc, "schema"));
  }

  Status RequestBody(const JsonValue& v, const std::string& loc) {
    Result<const JsonValue*> target = Deref(impl_, v, loc, "requestBodies");
    if (!target.ok()) return target.status();
    const JsonValue& body = **target;
    KAKUNIN_RETURN_IF_ERROR(OnlyKeys(body, loc, {"description", "content", "required"}));
    KAKUNIN_RETURN_IF_ERROR(StringMember(body, loc, "description", false));
    KAKUNIN_RETURN_IF_ERROR(BoolMember(body, loc, "required"));
    const JsonValue* content = body.Find("content");
    if (content == nullptr) return DocError(loc, "missing member 'content'");
    return Content(*content, Child(loc, "content"));
  }

  Status Responses(const JsonValue& v, const std::string& loc) {
    if (!v.is_object() || v.members().empty()) {
      return DocError(loc, "expected a non-empty object of responses");
    }
    static const std::regex kStatus("^[1-5][0-9][0-9]$");
    for (const auto& [status, response] : v.members()) {
      if (status.rfind("x-", 0) == 0) continue;
      if (status != "default" && !std::regex_match(status, kStatus)) {
        return DocError(Child(loc, status), "a response key must be a status code or default");
      }
      KAKUNIN_RETURN_IF_ERROR(Response(response, Child(loc, status)));
    }
    return Status::Ok();
  }

  Status Response(const JsonValue& v, const std::string& loc) {
    Result<const JsonValue*> target = Deref(impl_, v, loc, "responses");
    if (!target.ok()) return target.status();
    const JsonValue& r = **target;
    KAKUNIN_RETURN_IF_ERROR(OnlyKeys(r, loc, {"description", "headers", "content"}));
    KAKUNIN_RETURN_IF_ERROR(StringMember(r, loc, "description", true));
    if (const JsonValue* headers = r.Find("headers")) {
      if (!headers->is_object()) return DocError(Child(loc, "headers"), "expected an object");
      for (const auto& [name, header] : headers->members()) {
        KAKUNIN_RETURN_IF_ERROR(Header(header, Child(Child(loc, "headers"), name)));
      }
    }
    if (const JsonValue* content = r.Find("content")) {
      KAKUNIN_RETURN_IF_ERROR(Content(*content, Child(loc, "content")));
    }
    return Status::Ok();
  }

  Status Header(const JsonValue& v, const std::string& loc) {
    Result<const JsonValue*> target = Deref(impl_, v, loc, "headers");
    if (!target.ok()) return target.status();
    const JsonValue& h = **target;
    KAKUNIN_RETURN_IF_ERROR(OnlyKeys(h, loc, {"description", "required", "deprecated", "schema"}));
    KAKUNIN_RETURN_IF_ERROR(StringMember(h, loc, "description", false));
    KAKUNIN_RETURN_IF_ERROR(BoolMember(h, loc, "required"));
    KAKUNIN_RETURN_IF_ERROR(BoolMember(h, loc, "deprecated"));
    const JsonValue* schema = h.Find("schema");
    if (schema == nullptr) return DocError(loc, "missing member 'schema'");
    return Schema(*schema, Child(loc, "schema"));
  }

  Status Content(const JsonValue& v, const std::string& loc) {
    if (!v.is_object() || v.members().empty()) {
      return DocError(loc, "expected a non-empty object of media types");
    }
    for (const auto& [media_type, media] : v.members()) {
      const std::string at = Child(loc, media_type);
      if (media_type != Lower(media_type) || media_type.find(';') != std::string::npos ||
          media_type.find('/') == std::string::npos) {
        return DocError(at, "a media type key must be lower-case type/subtype");
      }
      KAKUNIN_RETURN_IF_ERROR(OnlyKeys(media, at, {"schema"}));
      const JsonValue* schema = media.Find("schema");
      if (schema == nullptr) {
        if (IsJsonMediaType(media_type)) return DocError(at, "a JSON media type needs a schema");
        continue;
      }
      KAKUNIN_RETURN_IF_ERROR(Schema(*schema, Child(at, "schema")));
    }
    return Status::Ok();
  }

  // Recursively: supported keywords only, well-formed values, resolvable references.
  Status Schema(const JsonValue& s, const std::string& loc) {
    KAKUNIN_RETURN_IF_ERROR(CheckSchemaNode(impl_, s, loc));
    if (IsBool(s)) return Status::Ok();
    const JsonValue* properties = s.Find("properties");
    if (properties != nullptr) {
      for (const auto& [name, sub] : properties->members()) {
        KAKUNIN_RETURN_IF_ERROR(Schema(sub, Child(Child(loc, "properties"), name)));
      }
    }
    const JsonValue* additional = s.Find("additionalProperties");
    if (additional != nullptr) {
      KAKUNIN_RETURN_IF_ERROR(Schema(*additional, Child(loc, "additionalProperties")));
      // A required member that no property declares could never be present.
      const JsonValue* required = s.Find("required");
      if (required != nullptr && IsBool(*additional) && !additional->bool_value()) {
        for (const JsonValue& name : required->items()) {
          if (properties == nullptr || properties->Find(name.text()) == nullptr) {
            return DocError(Child(loc, "required"),
                            "required member '" + name.text() + "' is not among properties");
          }
        }
      }
    }
    if (const JsonValue* items = s.Find("items")) {
      KAKUNIN_RETURN_IF_ERROR(Schema(*items, Child(loc, "items")));
    }
    for (std::string_view keyword : {"allOf", "anyOf", "oneOf"}) {
      if (const JsonValue* list = s.Find(keyword)) {
        for (size_t i = 0; i < list->items().size(); ++i) {
          KAKUNIN_RETURN_IF_ERROR(Schema(list->items()[i], Child(Child(loc, keyword), i)));
        }
      }
    }
    return Status::Ok();
  }

  const OpenApiChecker::Impl& impl_;
  const JsonValue& doc_;
  std::set<std::string> tag_names_;
  std::set<std::string> scheme_names_;
  std::set<std::string> operation_ids_;
};

// A text body against a non-JSON media type's schema: only a string type and annotations.
Status CheckTextSchema(const JsonValue& schema, const std::string& loc) {
  if (IsBool(schema) && schema.bool_value()) return Status::Ok();
  if (!schema.is_object()) return DocError(loc, "a text body's schema must be an object");
  for (const auto& [key, value] : schema.members()) {
    if (key == "description" || key == "title" || key == "examples" || key == "$comment" ||
        key == "format") {
      continue;
    }
    if (key == "type" && value.is_string() && value.text() == "string") continue;
    return DocError(loc, "keyword '" + key + "' is not supported for a non-JSON media type");
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------- Impl

const JsonValue* OpenApiChecker::Impl::Resolve(std::string_view ref) const {
  if (ref.empty() || ref.front() != '#') return nullptr;
  ref.remove_prefix(1);
  const JsonValue* node = &doc;
  if (ref.empty()) return node;
  if (ref.front() != '/') return nullptr;
  ref.remove_prefix(1);
  for (;;) {
    size_t slash = ref.find('/');
    std::string_view raw = ref.substr(0, slash);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else if (raw[i] == '~') {
        return nullptr;
      } else {
        token += raw[i];
      }
    }
    if (node->is_object()) {
      node = node->Find(token);
    } else if (node->is_array()) {
      if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos ||
          token.size() > 9) {
        return nullptr;
      }
      size_t index = static_cast<size_t>(std::stoul(token));
      node = index < node->items().size() ? &node->items()[index] : nullptr;
    } else {
      node = nullptr;
    }
    if (node == nullptr || slash == std::string_view::npos) return node;
    ref.remove_prefix(slash + 1);
  }
}

std::shared_ptr<const std::regex> OpenApiChecker::Impl::Regex(const std::string& pattern) const {
  std::lock_guard<std::mutex> lock(mu);
  auto it = regexes.find(pattern);
  if (it != regexes.end()) return it->second;
  std::shared_ptr<const std::regex> re;
  try {
    re = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::exception&) {
    return nullptr;
  }
  regexes.emplace(pattern, re);
  return re;
}

// ---------------------------------------------------------------- OpenApiChecker

Result<OpenApiChecker> OpenApiChecker::Load(std::string_view document_json) {
  Result<JsonValue> doc = text::ParseJson(document_json, kDocumentLimits);
  if (!doc.ok()) return Status::InvalidArgument("openapi document: " + doc.status().message());
  Status well_formed = CheckJsonText(*doc, "");
  if (!well_formed.ok()) {
    return Status::InvalidArgument("openapi document: " + well_formed.message());
  }
  if (!doc->is_object()) return Status::InvalidArgument("openapi document: not an object");
  const JsonValue* version = doc->Find("openapi");
  if (version == nullptr || !version->is_string() || version->text() != "3.1.0") {
    return Status::InvalidArgument("openapi document: \"openapi\" must be \"3.1.0\"");
  }
  const JsonValue* paths = doc->Find("paths");
  if (paths == nullptr || !paths->is_object()) {
    return Status::InvalidArgument("openapi document: \"paths\" must be an object");
  }
  auto impl = std::make_shared<Impl>();
  impl->doc = std::move(*doc);
  return OpenApiChecker(std::move(impl));
}

Status OpenApiChecker::CheckDocument() const { return DocumentWalker(*impl_).Walk(); }

Status OpenApiChecker::CheckResponse(std::string_view method, std::string_view path, int status,
                                     std::string_view content_type, std::string_view body) const {
  const std::string what = Upper(method) + " " + std::string(path) + " " + std::to_string(status);
  if (path.empty() || path.front() != '/' || path.find('?') != std::string_view::npos) {
    return Status::InvalidArgument(what + ": the path must start with '/' and have no query");
  }
  const JsonValue& doc = impl_->doc;
  const JsonValue* responses = nullptr;
  std::string loc;
  std::optional<PathMatch> match = MatchPath(*doc.Find("paths"), path);
  if (!match) {
    responses = doc.Find(kUnknownPath);
    loc = Child("#", kUnknownPath);
    if (responses == nullptr) return Status::InvalidArgument(what + ": no path item matches");
  } else {
    const std::string lower = Lower(method);
    const JsonValue* op = Methods().count(lower) != 0 && match->item->is_object()
                              ? match->item->Find(lower)
                              : nullptr;
    if (op == nullptr) {
      responses = doc.Find(kUnknownMethod);
      loc = Child("#", kUnknownMethod);
      if (responses == nullptr) {
        return Status::InvalidArgument(what + ": path item " + match->key +
                                       " has no operation for the method");
      }
    } else {
      loc = Child(Child(Child("#/paths", match->key), lower), "responses");
      responses = op->is_object() ? op->Find("responses") : nullptr;
      if (responses == nullptr) return Prefixed(what, DocError(loc, "missing"));
    }
  }
  if (!responses->is_object()) return Prefixed(what, DocError(loc, "expected an object"));

  const JsonValue* response = responses->Find(std::to_string(status));
  if (response != nullptr) {
    loc = Child(loc, std::to_string(status));
  } else if ((response = responses->Find("default")) != nullptr) {
    loc = Child(loc, "default");
  } else {
    std::vector<std::string> declared;
    for (const auto& [key, value] : responses->members()) declared.push_back(key);
    return Status::InvalidArgument(
        what + ": status not declared (declared: " + Join(declared, ", ") + ")");
  }
  Result<const JsonValue*> resolved = Deref(*impl_, *response, loc, "responses");
  if (!resolved.ok()) return Prefixed(what, resolved.status());
  if (const JsonValue* ref = response->Find("$ref")) loc = ref->text();

  const JsonValue* content = (*resolved)->Find("content");
  if (content == nullptr) {
    if (!body.empty()) {
      return Status::InvalidArgument(what + ": the response declares no content, but has a body");
    }
    return Status::Ok();
  }
  if (!content->is_object()) return Prefixed(what, DocError(loc, "content must be an object"));
  size_t semicolon = content_type.find(';');
  const std::string media_type = Lower(Trim(content_type.substr(0, semicolon)));
  const JsonValue* media = content->Find(media_type);
  if (media == nullptr) {
    std::vector<std::string> declared;
    for (const auto& [key, value] : content->members()) declared.push_back(key);
    return Status::InvalidArgument(what + ": content type '" + media_type +
                                   "' not declared (declared: " + Join(declared, ", ") + ")");
  }
  loc = Child(Child(loc, "content"), media_type);
  const JsonValue* schema = media->is_object() ? media->Find("schema") : nullptr;
  loc = Child(loc, "schema");

  if (media_type == "application/pdf") {
    // A document, not text: its magic number is what can be checked here (the tests read the
    // text back with pdftotext).
    if (body.substr(0, 5) != "%PDF-") {
      return Status::InvalidArgument(what + ": the body is not a PDF");
    }
    return Status::Ok();
  }
  if (!IsJsonMediaType(media_type)) {
    if (!text::IsValidUtf8(body)) {
      return Status::InvalidArgument(what + ": the body is not well-formed UTF-8");
    }
    if (schema != nullptr) return Prefixed(what, CheckTextSchema(*schema, loc));
    return Status::Ok();
  }
  Result<JsonValue> parsed = text::ParseJson(body, kBodyLimits);
  if (!parsed.ok()) {
    return Status::InvalidArgument(what + ": the body is not JSON: " + parsed.status().message());
  }
  KAKUNIN_RETURN_IF_ERROR(Prefixed(what, CheckJsonText(*parsed, "")));
  if (schema == nullptr) {
    return Prefixed(what, DocError(loc, "a JSON media type needs a schema"));
  }
  return Prefixed(what, Validator(*impl_).Validate(*schema, loc, *parsed, "", 0));
}

Status OpenApiChecker::CheckJson(std::string_view schema_ref, std::string_view json) const {
  const JsonValue* schema = impl_->Resolve(schema_ref);
  if (schema == nullptr) {
    return DocError(std::string(schema_ref), "does not resolve");
  }
  Result<JsonValue> parsed = text::ParseJson(json, kBodyLimits);
  if (!parsed.ok()) return Status::InvalidArgument("not JSON: " + parsed.status().message());
  KAKUNIN_RETURN_IF_ERROR(CheckJsonText(*parsed, ""));
  return Validator(*impl_).Validate(*schema, std::string(schema_ref), *parsed, "", 0);
}

}  // namespace kakunin::testing
