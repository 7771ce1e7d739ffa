#include "text/tsv.h"

namespace kakunin::text {

std::vector<std::vector<std::string_view>> ReadTsvRows(std::string_view tsv) {
  std::vector<std::vector<std::string_view>> rows;
  bool header_seen = false;
  size_t start = 0;
  while (start < tsv.size()) {
    size_t end = tsv.find('\n', start);
    if (end == std::string_view::npos) end = tsv.size();
    std::string_view line = tsv.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    if (!header_seen) {
      header_seen = true;
      continue;
    }
    std::vector<std::string_view> cols;
    size_t s = 0;
    while (true) {
      size_t p = line.find('\t', s);
      cols.push_back(line.substr(s, p == std::string_view::npos ? std::string_view::npos : p - s));
      if (p == std::string_view::npos) break;
      s = p + 1;
    }
    rows.push_back(std::move(cols));
  }
  return rows;
}

}  // namespace kakunin::text
