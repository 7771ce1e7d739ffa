#include "cli/args.h"

#include <algorithm>

namespace kakunin::cli {

std::string Echoable(std::string_view word) {
  bool ok = !word.empty() && word.size() <= 32 && word[0] >= 'a' && word[0] <= 'z';
  int digits = 0;
  for (char c : word) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    digits += c >= '0' && c <= '9';
  }
  // No option has more than a few digits; a word with a resident's code or number run into
  // it (--n777777777712) is not repeated (review finding).
  return ok && digits <= 4 ? std::string(word) : std::string("(not shown)");
}

Result<Args> Args::Parse(const std::vector<std::string>& argv,
                         const std::vector<OptionSpec>& specs) {
  Args a;
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (options_done || arg == "-" || arg.rfind("--", 0) != 0) {
      if (!options_done && arg.size() > 1 && arg[0] == '-' && arg != "-") {
        if (arg == "-h") {
          a.help_ = true;
          continue;
        }
        return Status::InvalidArgument("unknown option -" + Echoable(arg.substr(1)));
      }
      a.positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "help") {
      a.help_ = true;
      continue;
    }
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const OptionSpec& s) { return s.name == name; });
    if (spec == specs.end()) return Status::InvalidArgument("unknown option --" + Echoable(name));
    if (spec->value_name.empty()) {
      if (value) return Status::InvalidArgument("option --" + name + " takes no value");
      a.values_[name] = "";
      continue;
    }
    if (!value) {
      if (i + 1 >= argv.size()) return Status::InvalidArgument("option --" + name + " needs a value");
      value = argv[++i];
    }
    if (a.values_.count(name)) return Status::InvalidArgument("option --" + name + " given twice");
    a.values_[name] = *value;
  }
  return a;
}

std::optional<std::string> Args::Get(std::string_view name) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string FormatOptions(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const auto& s : specs) {
    std::string left = "  --" + s.name;
    if (!s.value_name.empty()) left += " " + s.value_name;
    if (left.size() < 28) left.resize(28, ' ');
    else left += "\n" + std::string(28, ' ');
    out += left + s.help + "\n";
  }
  return out;
}

}  // namespace kakunin::cli
