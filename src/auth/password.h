#pragma once

// Operators' passwords: argon2id through libsodium (libraries.md A5), a policy, and a hash to
// verify against when the operator id is unknown, so that timing does not tell whether it exists.

#include <string>
#include <string_view>

#include "core/status.h"

namespace kakunin::auth {

// 12 to 128 characters of valid UTF-8 without control characters, not containing the operator
// id. kInvalidArgument names the rule broken (never the password).
Status CheckPasswordPolicy(std::string_view password, std::string_view operator_id);

// argon2id, opslimit 2, memlimit 19 MiB (~25 ms here): "$argon2id$v=19$m=19456,t=2,p=1$…".
Result<std::string> HashPassword(std::string_view password);

// Constant-time in the password; false for any malformed hash.
bool VerifyPassword(const std::string& hash, std::string_view password);

// The hash of a random password, made once: VerifyPassword against it costs what a real
// verification costs.
const std::string& DummyPasswordHash();

}  // namespace kakunin::auth
