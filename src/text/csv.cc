#include "text/csv.h"

namespace kakunin::text {

bool ByteSource::Fill() {
  if (!in_.good()) return false;
  in_.read(buf_, sizeof buf_);
  len_ = static_cast<size_t>(in_.gcount());
  pos_ = 0;
  return len_ > 0;
}

CsvReader::CsvReader(std::istream& in, size_t max_record_bytes, bool strip_utf8_bom)
    : src_(in), max_record_bytes_(max_record_bytes), strip_bom_(strip_utf8_bom) {}

void CsvReader::SkipRestOfLine() {
  int c;
  while ((c = src_.Get()) != -1) {
    if (c == '\n') {
      ++line_;
      return;
    }
  }
}

bool CsvReader::Next(CsvRecord* rec) {
  if (at_start_) {
    at_start_ = false;
    // Only a complete BOM is dropped; anything else stays for the parser to judge.
    if (strip_bom_ && src_.PeekAhead(0) == 0xEF && src_.PeekAhead(1) == 0xBB &&
        src_.PeekAhead(2) == 0xBF) {
      src_.Get();
      src_.Get();
      src_.Get();
    }
  }
  while (true) {
    rec->fields.clear();
    rec->malformed = false;
    rec->too_long = false;
    rec->line = line_;
    int c = src_.Peek();
    if (c == -1) return false;
    // Skip empty lines.
    if (c == '\n') {
      src_.Get();
      ++line_;
      continue;
    }
    if (c == '\r') {
      src_.Get();
      if (src_.Peek() == '\n') {
        src_.Get();
        ++line_;
        continue;
      }
      // A lone CR starts a field; it is kept (and rejected later as a control character).
      rec->fields.emplace_back("\r");
    } else {
      rec->fields.emplace_back();
    }
    size_t bytes = rec->fields.back().size();
    bool in_quotes = false;
    bool quoted_field = false;      // current field began with a quote
    bool after_closing = false;     // saw the closing quote of the current field
    size_t field_len = rec->fields.back().size();  // bytes of the current field so far
    while (true) {
      c = src_.Get();
      if (c == -1) {
        if (in_quotes) rec->malformed = true;
        return true;
      }
      // The record's end (LF or CRLF outside quotes) is not part of it: a record of exactly the
      // limit is not too long because a line ending follows it.
      if (!in_quotes && c == '\n') {
        ++line_;
        return true;
      }
      if (!in_quotes && c == '\r' && src_.Peek() == '\n') {
        src_.Get();
        ++line_;
        return true;
      }
      if (++bytes > max_record_bytes_ && !rec->too_long) {
        rec->too_long = true;
        rec->fields.clear();
      }
      std::string* field = rec->too_long ? nullptr : &rec->fields.back();
      if (in_quotes) {
        if (c == '"') {
          if (src_.Peek() == '"') {
            src_.Get();
            if (field) field->push_back('"');
          } else {
            in_quotes = false;
            after_closing = true;
          }
        } else {
          if (c == '\n') ++line_;
          if (field) field->push_back(static_cast<char>(c));
        }
        continue;
      }
      if (c == ',') {
        if (!rec->too_long) rec->fields.emplace_back();
        field_len = 0;
        quoted_field = false;
        after_closing = false;
        continue;
      }
      if (c == '"') {
        if (field_len == 0 && !quoted_field) {
          in_quotes = true;
          quoted_field = true;
          continue;
        }
        if (rec->too_long) continue;
        rec->malformed = true;
        SkipRestOfLine();
        return true;
      }
      if (after_closing) {
        // Text after a closing quote: "abc"def.
        if (rec->too_long) continue;
        rec->malformed = true;
        SkipRestOfLine();
        return true;
      }
      ++field_len;
      if (field) field->push_back(static_cast<char>(c));
    }
  }
}

bool LineReader::Next(Line* line) {
  line->text.clear();
  line->too_long = false;
  if (number_ == 0 && strip_bom_ && src_.PeekAhead(0) == 0xEF && src_.PeekAhead(1) == 0xBB &&
      src_.PeekAhead(2) == 0xBF) {
    src_.Get();
    src_.Get();
    src_.Get();
  }
  int c = src_.Get();
  if (c == -1) return false;
  line->number = ++number_;
  while (c != -1 && c != '\n') {
    // CRLF ends the line as LF does: its CR is not counted against the limit.
    if (c == '\r' && src_.Peek() == '\n') {
      src_.Get();
      break;
    }
    if (!line->too_long) {
      if (line->text.size() >= max_) {
        line->too_long = true;
        line->text.clear();
      } else {
        line->text.push_back(static_cast<char>(c));
      }
    }
    c = src_.Get();
  }
  if (!line->too_long && !line->text.empty() && line->text.back() == '\r') line->text.pop_back();
  return true;
}

void AppendCsvField(const std::string& field, std::string* out) {
  bool quote = field.find_first_of(",\"\r\n") != std::string::npos;
  if (!quote) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace kakunin::text
