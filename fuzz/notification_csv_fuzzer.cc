// Fuzzes the CSV reader in both encodings (the first byte picks UTF-8 or CP932), through
// the same stream the CLI uses: quoting, CP932 decoding, 和暦 dates and the field checks.

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "domain/notification_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kakunin;
  if (size == 0) return 0;
  CheckOptions options;
  options.today = Date::FromYmd(2026, 11, 21);
  InputEncoding encoding = (data[0] & 1) ? InputEncoding::kCp932 : InputEncoding::kUtf8;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  NotificationStream stream(in, InputFormat::kCsv, encoding, options);
  StreamItem item;
  size_t last_line = 0;
  while (stream.Next(&item)) {
    if (item.result.ok() != item.result.notification.has_value()) std::abort();
    if (item.line <= last_line) std::abort();  // lines only move forward
    last_line = item.line;
  }
  return 0;
}
