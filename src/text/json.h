#pragma once

// A strict JSON (RFC 8259) reader and a small writer, for input from outside.
//
// Why not nlohmann: the notification contract reports errors per field — a duplicate key,
// bad UTF-8 or an unpaired "\ud800" escape inside one string value is an error *of that
// field*, not of the document — and nlohmann rejects such documents whole (or, for
// duplicate keys, silently keeps the last value). This reader keeps every member in
// order, duplicates included, marks strings that are not well-formed instead of failing,
// and enforces depth and size limits. It never throws.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace kakunin::text {

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }

  bool bool_value() const { return bool_; }
  // String: the decoded bytes. Number: the literal as written.
  const std::string& text() const { return text_; }
  // String only: false if the raw bytes were not UTF-8 or an escape was an unpaired
  // surrogate; text() then holds the bytes with such escapes dropped.
  bool well_formed() const { return well_formed_; }
  // Number only: written without fraction or exponent.
  bool is_integer_literal() const { return integer_literal_; }
  // Number only: the value if it is an integer literal within int64; nullopt otherwise.
  std::optional<int64_t> AsInt64() const;

  const std::vector<JsonValue>& items() const { return items_; }
  // Members in document order; a key may occur more than once.
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }
  // The first member named `key`, or nullptr.
  const JsonValue* Find(std::string_view key) const;
  // How many bytes of the parsed input the value spans (0 for a value not from ParseJson): a
  // notification inside a request is held to the contract's size limit as sent.
  size_t source_bytes() const { return source_bytes_; }

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  bool well_formed_ = true;
  bool integer_literal_ = false;
  size_t source_bytes_ = 0;
  std::string text_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
};

struct JsonLimits {
  size_t max_bytes = size_t{1} << 20;
  size_t max_depth = 32;
  // Values (of any kind, nested ones included) in the document; 0: no limit beyond max_bytes.
  // A parsed value takes far more memory than its two bytes of text ("0,"): a large document
  // of tiny values would otherwise cost ~50× its size (review: 3 GB for a 64 MiB statement).
  size_t max_values = 0;
};

// Parses exactly one JSON value (surrounding whitespace allowed). Errors are
// kInvalidArgument with a message giving the byte offset, never the content. Object keys
// must be well-formed UTF-8 (a bad key is a syntax error).
Result<JsonValue> ParseJson(std::string_view input, const JsonLimits& limits = {});

// Appends `s` as a JSON string literal. Non-ASCII UTF-8 is written as is (names
// round-trip byte for byte); ", \ and control characters are escaped.
// REQUIRES: `s` is valid UTF-8.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace kakunin::text
