#pragma once

// Options shared by the commands that read notification files (validate, and later
// ingest), and the contract's per-record result line.

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
void AppendResultLine(const char* key, size_t number, const CheckResult& result, bool duplicate,
                      std::string* out);

}  // namespace kakunin::cli
