#pragma once

// The project's shipped data files (data/*.tsv): UTF-8, LF, comment lines starting with '#',
// one header line, then rows of tab-separated columns. Trusted input compiled into the binary;
// callers still check every row they use.

#include <string_view>
#include <vector>

namespace kakunin::text {

// The rows after the header, each split at tabs (views into `tsv`). Empty lines and comment
// lines are skipped.
std::vector<std::vector<std::string_view>> ReadTsvRows(std::string_view tsv);

}  // namespace kakunin::text
