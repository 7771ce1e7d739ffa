#pragma once

// Options shared by the commands that read notification files (validate, and later
// ingest), and the contract's per-record result line.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "domain/notification_reader.h"

namespace kakunin::cli {

struct InputOptions {
  std::string path;  // "-" for standard input
  InputFormat format = InputFormat::kJsonLines;
  InputEncoding encoding = InputEncoding::kUtf8;
  CheckOptions check;
};

// --format, --encoding, --today, --resident-code-check.
std::vector<OptionSpec> InputOptionSpecs();

// Reads the shared options and the one positional FILE|-. On a usage error prints it
// (for `command`) to io.err and returns nullopt. The format defaults to csv for a *.csv
// file, jsonl otherwise; --today defaults to today's date in Japan.
std::optional<InputOptions> ParseInputOptions(const Args& args, const char* command, Io& io);

// Appends one result line of the contract: {"<key>":N,"ok":true[,"duplicate":true]} or
// {"<key>":N,"ok":false,"errors":[{"field":…,"code":…},…]} and a newline.
// Counts records whose text could not be read, and afterwards suggests --encoding cp932 when a
// CSV file read as UTF-8 had any: municipal systems often write Shift_JIS (CP932), and every
// record of such a file would otherwise be refused with nothing to say why.
class EncodingHint {
 public:
  void See(const FieldErrors& errors);
  // Prints the hint to io.err (no personal data: a count and the option) when it applies.
  void Print(const InputOptions& input, bool encoding_given, const char* command, Io& io) const;

 private:
  int64_t unreadable_ = 0;
};

// Counts for `validate --summary`: what a person wants to know about a file, without
// any personal data (municipality names come from the public code table).
class ValidationSummary {
 public:
  void Add(const CheckResult& result);
  // Bilingual text, Japanese first.
  std::string Format(const LocalGovTable& table) const;

 private:
  size_t total_ = 0;
  size_t accepted_ = 0;
  std::map<std::string, size_t> by_error_;         // "field: code"
  std::map<std::string, size_t> by_municipality_;  // accepted, by sender
  std::map<std::string, size_t> by_reason_;        // accepted, by 異動事由
};

void AppendResultLine(const char* key, size_t number, const CheckResult& result, bool duplicate,
                      std::string* out);

}  // namespace kakunin::cli
