#include "notify/config.h"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/file.h"

namespace kakunin::notify {
namespace {

constexpr size_t kMaxConfigBytes = 64 * 1024;

Status Bad(const std::string& msg) { return Status::InvalidArgument("notify config: " + msg); }

}  // namespace

Result<NotifyConfig> ParseNotifyConfig(std::string_view text, const std::string& base_dir) {
  if (text.size() > kMaxConfigBytes) return Bad("file too large");
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& err) {
    // Position only: the parser's description can quote the file, and a CS pointing --config at
    // a notification file by mistake must not see a resident's data echoed.
    return Bad("syntax error at line " + std::to_string(err.source().begin.line) + ", column " +
               std::to_string(err.source().begin.column) + " (is this the notify configuration?)");
  }
  static const std::set<std::string> kKeys = {
      "url",     "ca_file",         "cert_file",          "key_file",
      "journal", "format",          "encoding",           "batch_size",
      "retries", "timeout_seconds", "resident_code_check"};
  for (const auto& [k, v] : t) {
    if (!kKeys.count(std::string(k.str()))) {
      return Bad("unknown key '" + std::string(k.str()) + "'");
    }
  }
  auto str = [&](const char* key, bool required, std::string* out) -> Status {
    auto n = t[key];
    if (!n) return required ? Bad(std::string("'") + key + "' is required") : Status::Ok();
    if (!n.is_string() || n.value<std::string>()->empty() ||
        n.value<std::string>()->size() > 4096) {
      return Bad(std::string("'") + key + "' must be a non-empty string");
    }
    *out = *n.value<std::string>();
    return Status::Ok();
  };
  auto path = [&](const char* key, std::string* out) -> Status {
    KAKUNIN_RETURN_IF_ERROR(str(key, true, out));
    std::filesystem::path p(*out);
    if (p.is_relative() && !base_dir.empty()) *out = (std::filesystem::path(base_dir) / p).string();
    return Status::Ok();
  };
  auto integer = [&](const char* key, int lo, int hi, int* out) -> Status {
    auto n = t[key];
    if (!n) return Status::Ok();
    if (!n.is_integer()) return Bad(std::string("'") + key + "' must be an integer");
    int64_t v = *n.value<int64_t>();
    if (v < lo || v > hi) {
      return Bad(std::string("'") + key + "' must be " + std::to_string(lo) + ".." +
                 std::to_string(hi));
    }
    *out = static_cast<int>(v);
    return Status::Ok();
  };
  NotifyConfig c;
  std::string url;
  KAKUNIN_RETURN_IF_ERROR(str("url", true, &url));
  auto parsed = ParseHttpsUrl(url);
  if (!parsed.ok()) return Bad(parsed.status().message());
  c.url = *parsed;
  KAKUNIN_RETURN_IF_ERROR(path("ca_file", &c.ca_file));
  KAKUNIN_RETURN_IF_ERROR(path("cert_file", &c.cert_file));
  KAKUNIN_RETURN_IF_ERROR(path("key_file", &c.key_file));
  KAKUNIN_RETURN_IF_ERROR(path("journal", &c.journal));
  std::string format = "jsonl", encoding = "utf-8";
  KAKUNIN_RETURN_IF_ERROR(str("format", false, &format));
  KAKUNIN_RETURN_IF_ERROR(str("encoding", false, &encoding));
  if (format == "jsonl") {
    c.format = InputFormat::kJsonLines;
  } else if (format == "csv") {
    c.format = InputFormat::kCsv;
  } else {
    return Bad("'format' must be \"jsonl\" or \"csv\"");
  }
  if (encoding == "utf-8") {
    c.encoding = InputEncoding::kUtf8;
  } else if (encoding == "cp932") {
    c.encoding = InputEncoding::kCp932;
  } else {
    return Bad("'encoding' must be \"utf-8\" or \"cp932\"");
  }
  if (c.encoding == InputEncoding::kCp932 && c.format != InputFormat::kCsv) {
    return Bad("'encoding' = \"cp932\" needs 'format' = \"csv\" (JSON Lines are UTF-8)");
  }
  std::string rc = "full";
  KAKUNIN_RETURN_IF_ERROR(str("resident_code_check", false, &rc));
  if (rc == "full") {
    c.resident_code_check = ResidentCodeCheck::kFull;
  } else if (rc == "format") {
    c.resident_code_check = ResidentCodeCheck::kFormatOnly;
  } else {
    return Bad("'resident_code_check' must be \"full\" or \"format\"");
  }
  KAKUNIN_RETURN_IF_ERROR(integer("batch_size", 1, kMaxBatchSize, &c.batch_size));
  KAKUNIN_RETURN_IF_ERROR(integer("retries", 1, 100, &c.retries));
  KAKUNIN_RETURN_IF_ERROR(integer("timeout_seconds", 1, 600, &c.timeout_seconds));
  return c;
}

Result<NotifyConfig> LoadNotifyConfig(const std::string& path) {
  // Bounded, and never a FIFO or a directory (found in review: a FIFO blocked for ever).
  auto text = ReadFileAtMost(path, 1 << 20);
  if (!text.ok()) {
    return Status::InvalidArgument("cannot read the notify config " + path + " (" +
                                   text.status().message() + ")");
  }
  std::string base = std::filesystem::path(path).parent_path().string();
  return ParseNotifyConfig(*text, base);
}

}  // namespace kakunin::notify
