#pragma once

// Deterministic, realistic, fictitious `entry` notifications for demos, tests and
// benchmarks: common surnames and given names with their kana, an age and sex
// distribution shaped like Japan's, addresses in the real municipalities of a prefecture
// (with 町名 and 番地), unique valid resident codes and individual numbers, and gap-free
// sequences per municipality. The same options always give the same records.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/date.h"
#include "core/random.h"
#include "core/status.h"
#include "domain/local_gov_code.h"
#include "domain/notification.h"

namespace kakunin {

struct GenerateOptions {
  uint64_t seed = 1;
  int prefecture = 19;  // JIS X 0401 number; 19 = 山梨県
  // The day the records are "as of": no date lies after it.
  Date today = Date::FromYmd(2026, 4, 1);
};

// Not thread-safe.
class NotificationGenerator {
 public:
  // Fails if the prefecture is unknown.
  static Result<std::unique_ptr<NotificationGenerator>> Create(const GenerateOptions& options);
  ~NotificationGenerator();

  // The next resident's entry notification. At most 10^10 per generator (resident codes
  // are unique within one generator and seed).
  Notification Next();

 private:
  struct Data;
  NotificationGenerator(const GenerateOptions& options, std::unique_ptr<Data> data);
  GenerateOptions options_;
  std::unique_ptr<Data> data_;
  SeededRandom random_;
  FeistelPermutation code_perm_;
  FeistelPermutation number_perm_;
  uint64_t index_ = 0;
  std::map<std::string, uint64_t> sequences_;
};

}  // namespace kakunin
