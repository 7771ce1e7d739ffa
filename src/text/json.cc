#include "text/json.h"

#include <charconv>

#include "text/utf8.h"

namespace kakunin::text {

std::optional<int64_t> JsonValue::AsInt64() const {
  if (type_ != Type::kNumber || !integer_literal_) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), v);
  if (ec != std::errc() || ptr != text_.data() + text_.size()) return std::nullopt;
  return v;
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& [k, v] : members_) {
    if (k == key) return &v;
  }
  return nullptr;
}

class JsonParser {
 public:
  JsonParser(std::string_view in, const JsonLimits& limits) : in_(in), limits_(limits) {}


  Result<JsonValue> Parse() {
    if (in_.size() > limits_.max_bytes) return Status::InvalidArgument("json: document too large");
    JsonValue v;
    SkipWs();
    if (!ParseValue(&v, 0)) return Error();
    SkipWs();
    if (pos_ != in_.size()) {
      error_ = "trailing characters";
      return Error();
    }
    return v;
  }

 private:
  Status Error() const {
    return Status::InvalidArgument("json: " + std::string(error_) + " at byte " +
                                   std::to_string(pos_));
  }

  void SkipWs() {
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  bool Consume(std::string_view lit) {
    if (in_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }

  bool ParseValue(JsonValue* v, size_t depth) {
    const size_t start = pos_;
    if (!ParseValueAt(v, depth)) return false;
    v->source_bytes_ = pos_ - start;
    return true;
  }

  bool ParseValueAt(JsonValue* v, size_t depth) {
    if (depth > limits_.max_depth) {
      error_ = "nesting too deep";
      return false;
    }
    if (limits_.max_values != 0 && ++values_ > limits_.max_values) {
      error_ = "too many values";
      return false;
    }
    if (pos_ >= in_.size()) {
      error_ = "unexpected end";
      return false;
    }
    char c = in_[pos_];
    switch (c) {
      case '{': return ParseObject(v, depth);
      case '[': return ParseArray(v, depth);
      case '"':
        v->type_ = JsonValue::Type::kString;
        return ParseString(&v->text_, &v->well_formed_);
      case 't':
        if (Consume("true")) {
          v->type_ = JsonValue::Type::kBool;
          v->bool_ = true;
          return true;
        }
        break;
      case 'f':
        if (Consume("false")) {
          v->type_ = JsonValue::Type::kBool;
          return true;
        }
        break;
      case 'n':
        if (Consume("null")) {
          v->type_ = JsonValue::Type::kNull;
          return true;
        }
        break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(v);
    }
    error_ = "unexpected character";
    return false;
  }

  bool ParseObject(JsonValue* v, size_t depth) {
    v->type_ = JsonValue::Type::kObject;
    ++pos_;  // {
    SkipWs();
    if (pos_ < in_.size() && in_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipWs();
      if (pos_ >= in_.size() || in_[pos_] != '"') {
        error_ = "expected a key";
        return false;
      }
      std::string key;
      bool key_ok = true;
      if (!ParseString(&key, &key_ok)) return false;
      if (!key_ok) {
        error_ = "malformed key";
        return false;
      }
      SkipWs();
      if (pos_ >= in_.size() || in_[pos_] != ':') {
        error_ = "expected ':'";
        return false;
      }
      ++pos_;
      SkipWs();
      JsonValue member;
      if (!ParseValue(&member, depth + 1)) return false;
      v->members_.emplace_back(std::move(key), std::move(member));
      SkipWs();
      if (pos_ >= in_.size()) {
        error_ = "unexpected end";
        return false;
      }
      if (in_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (in_[pos_] == '}') {
        ++pos_;
        return true;
      }
      error_ = "expected ',' or '}'";
      return false;
    }
  }

  bool ParseArray(JsonValue* v, size_t depth) {
    v->type_ = JsonValue::Type::kArray;
    ++pos_;  // [
    SkipWs();
    if (pos_ < in_.size() && in_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipWs();
      JsonValue item;
      if (!ParseValue(&item, depth + 1)) return false;
      v->items_.push_back(std::move(item));
      SkipWs();
      if (pos_ >= in_.size()) {
        error_ = "unexpected end";
        return false;
      }
      if (in_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (in_[pos_] == ']') {
        ++pos_;
        return true;
      }
      error_ = "expected ',' or ']'";
      return false;
    }
  }

  bool ParseHex4(uint32_t* out) {
    if (pos_ + 4 > in_.size()) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = in_[pos_ + i];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return false;
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  // Parses a string at pos_ (on the opening quote). Structural errors fail the parse;
  // content errors (bad UTF-8, unpaired surrogate escapes) only clear *well_formed.
  bool ParseString(std::string* out, bool* well_formed) {
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= in_.size()) {
        error_ = "unterminated string";
        return false;
      }
      unsigned char c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) {
        error_ = "control character in string";
        return false;
      }
      if (c == '\\') {
        ++pos_;
        if (pos_ >= in_.size()) {
          error_ = "unterminated string";
          return false;
        }
        char e = in_[pos_++];
        switch (e) {
          case '"': out->push_back('"'); break;
          case '\\': out->push_back('\\'); break;
          case '/': out->push_back('/'); break;
          case 'b': out->push_back('\b'); break;
          case 'f': out->push_back('\f'); break;
          case 'n': out->push_back('\n'); break;
          case 'r': out->push_back('\r'); break;
          case 't': out->push_back('\t'); break;
          case 'u': {
            uint32_t u;
            if (!ParseHex4(&u)) {
              error_ = "bad \\u escape";
              return false;
            }
            if (u >= 0xD800 && u <= 0xDBFF) {
              // A high surrogate must be followed by an escaped low surrogate.
              uint32_t lo;
              size_t save = pos_;
              if (in_.substr(pos_, 2) == "\\u") {
                pos_ += 2;
                if (!ParseHex4(&lo)) {
                  error_ = "bad \\u escape";
                  return false;
                }
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                  AppendUtf8(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00), out);
                  break;
                }
                pos_ = save;  // not a pair: reparse the next escape on its own
              }
              *well_formed = false;
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
              *well_formed = false;
            } else {
              AppendUtf8(u, out);
            }
            break;
          }
          default:
            error_ = "bad escape";
            return false;
        }
        continue;
      }
      if (c < 0x80) {
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      size_t p = pos_;
      if (DecodeOne(in_, &p)) {
        out->append(in_.substr(pos_, p - pos_));
        pos_ = p;
      } else {
        // Keep going to the closing quote; the value is marked, not the document.
        *well_formed = false;
        out->push_back(static_cast<char>(c));
        ++pos_;
      }
    }
  }

  bool ParseNumber(JsonValue* v) {
    size_t start = pos_;
    bool integer = true;
    if (in_[pos_] == '-') ++pos_;
    auto digits = [&] {
      size_t s = pos_;
      while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
      return pos_ - s;
    };
    if (pos_ < in_.size() && in_[pos_] == '0') {
      ++pos_;
    } else if (digits() == 0) {
      error_ = "bad number";
      return false;
    }
    if (pos_ < in_.size() && in_[pos_] == '.') {
      ++pos_;
      integer = false;
      if (digits() == 0) {
        error_ = "bad number";
        return false;
      }
    }
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      integer = false;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      if (digits() == 0) {
        error_ = "bad number";
        return false;
      }
    }
    // Long enough that a number out of every range reaches the field check that says so (a
    // notification's `sequence` of 100 digits is `format` on that field, not a broken record:
    // found in review); the document's own size limit bounds it further.
    if (pos_ - start > 1024) {
      error_ = "number too long";
      return false;
    }
    v->type_ = JsonValue::Type::kNumber;
    v->integer_literal_ = integer;
    v->text_.assign(in_.substr(start, pos_ - start));
    return true;
  }

  std::string_view in_;
  JsonLimits limits_;
  size_t pos_ = 0;
  size_t values_ = 0;
  const char* error_ = "syntax error";
};

Result<JsonValue> ParseJson(std::string_view input, const JsonLimits& limits) {
  return JsonParser(input, limits).Parse();
}

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

}  // namespace kakunin::text
