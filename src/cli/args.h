#pragma once

// A small, strict command-line parser: every option must be declared, values are
// checked by the command, and unknown options are usage errors (exit 2).

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace kakunin::cli {

// A word the user typed, as an error message may repeat it: shown only when it looks like a
// command, subcommand or option name ([a-z][a-z0-9-]*, at most 32); otherwise "(not shown)" —
// messages reach the journal, and a mistyped argument may be a resident code or a name.
std::string Echoable(std::string_view word);

struct OptionSpec {
  std::string name;        // without dashes: "format"
  std::string value_name;  // empty for a flag: "jsonl|csv"
  std::string help;
};

class Args {
 public:
  // Parses `argv` (after the command name) against `specs`. "--name value",
  // "--name=value" and "--flag" are accepted; "-" and words not starting with "--" are
  // positional; "--" ends options. "--help"/"-h" is always recognised.
  static Result<Args> Parse(const std::vector<std::string>& argv,
                            const std::vector<OptionSpec>& specs);

  bool help() const { return help_; }
  bool Has(std::string_view name) const { return values_.count(std::string(name)) > 0; }
  std::optional<std::string> Get(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  bool help_ = false;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

class NodeAccess;  // cli/node.h

// Where a command writes, and how it reaches a node's data directory; injected so tests run
// commands in-process. `nodes` is app/'s (app/main.cc); commands that need no node ignore it.
struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  const NodeAccess* nodes = nullptr;
};

// Exit statuses shared by every command (the contract's, for validate and ingest).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitUsage = 2;

// Formats the options of a command for --help.
std::string FormatOptions(const std::vector<OptionSpec>& specs);

}  // namespace kakunin::cli
