#pragma once

// `kakunin config check`: every problem of a kakunin.toml at once — syntax, unknown keys, wrong
// types and ranges, missing or unreadable files, permissions, ports — so that an administrator
// fixes them in one round instead of one restart per typo. ParseNodeConfig (config.h) stays the
// one authority on keys and types: each key is checked by parsing a document that holds it alone
// over a valid base, so the checker cannot drift from the parser.

#include <string>
#include <vector>

namespace kakunin::app {

// The problems of the configuration `config_file`, whose relative paths resolve against
// `data_dir`; empty when there are none. Each is one line without personal data, naming the key
// or file and, where there is one, the fix.
std::vector<std::string> CheckNodeConfigFile(const std::string& config_file,
                                             const std::string& data_dir);

}  // namespace kakunin::app
