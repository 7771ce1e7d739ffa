#pragma once

// Streaming readers for record files from outside: RFC 4180 CSV and JSON Lines.
// Memory is bounded by the record limit, not by the file. Bytes are returned as read;
// decoding (UTF-8 check, CP932) is the caller's, per field, so an error names a field.

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

namespace kakunin::text {

// Buffered byte source over an istream.
class ByteSource {
 public:
  explicit ByteSource(std::istream& in) : in_(in) {}
  // Next byte, or -1 at end of input (or on a read error: see failed()).
  int Get() {
    if (pos_ == len_ && !Fill()) return -1;
    return static_cast<unsigned char>(buf_[pos_++]);
  }
  int Peek() {
    if (pos_ == len_ && !Fill()) return -1;
    return static_cast<unsigned char>(buf_[pos_]);
  }
  // The byte `k` ahead of the next, if already buffered (no refill), else -1. Used only at
  // the start of input, when the first buffer holds it.
  int PeekAhead(size_t k) {
    if (pos_ == len_ && !Fill()) return -1;
    return pos_ + k < len_ ? static_cast<unsigned char>(buf_[pos_ + k]) : -1;
  }
  // True if reading stopped because of an I/O error rather than end of input.
  bool failed() const { return in_.bad(); }

 private:
  bool Fill();
  std::istream& in_;
  char buf_[1 << 16];
  size_t pos_ = 0;
  size_t len_ = 0;
};

struct CsvRecord {
  size_t line = 0;  // physical line (1-based) on which the record starts
  std::vector<std::string> fields;
  bool malformed = false;  // quoting error or unterminated quote; fields are unreliable
  bool too_long = false;   // over the byte limit; fields are dropped
};

// RFC 4180: fields separated by ',', records by CRLF or LF, fields optionally enclosed in
// '"' with '""' for a quote; a quote inside an unquoted field is malformed. Empty lines
// are skipped. Not thread-safe.
class CsvReader {
 public:
  // `max_record_bytes` bounds one record; `strip_utf8_bom` drops a leading EF BB BF.
  CsvReader(std::istream& in, size_t max_record_bytes, bool strip_utf8_bom);
  // Reads the next record; false at end of input.
  bool Next(CsvRecord* record);
  bool failed() const { return src_.failed(); }

 private:
  void SkipRestOfLine();
  ByteSource src_;
  size_t max_record_bytes_;
  size_t line_ = 1;
  bool at_start_ = true;
  bool strip_bom_;
};

struct Line {
  size_t number = 0;  // 1-based
  std::string text;   // without the line terminator (LF or CRLF)
  bool too_long = false;
};

// Splits input into lines of at most `max_line_bytes`; longer lines are reported with
// too_long and their content dropped. With `strip_bom`, a complete UTF-8 byte order mark at
// the very start is dropped (files saved by Windows tools begin with one; RFC 8259 lets a
// parser ignore it), as CsvReader does. Not thread-safe.
class LineReader {
 public:
  LineReader(std::istream& in, size_t max_line_bytes, bool strip_bom = false)
      : src_(in), max_(max_line_bytes), strip_bom_(strip_bom) {}
  bool Next(Line* line);
  bool failed() const { return src_.failed(); }

 private:
  ByteSource src_;
  size_t max_;
  bool strip_bom_;
  size_t number_ = 0;
};

// Appends `field` to `out` with RFC 4180 quoting when needed.
void AppendCsvField(const std::string& field, std::string* out);

}  // namespace kakunin::text
