#pragma once

// A digest of a node's current records per prefecture, to compare two nodes without personal
// data (kakunin stats --digest): equal on a prefecture node and on the national node once they
// hold the same current records.
//
// It depends on nothing node-local — no key, version id or time of application — only on the
// record content: per active resident, the current record (store::CurrentRecordRow: the latest
// version from the municipality the resident is registered in) is written canonically
// (resident code, municipality, individual number, name, kana, 旧氏, 通称, sex, birth date,
// address; each field length-prefixed) and hashed with SHA-256 under a fixed domain-separation
// prefix; the prefecture's digest is SHA-256 over its prefix, those record hashes in
// resident-code order, and the count.
//
// What it reveals: a one-way hash over complete records. Inverting it means guessing every
// record of the prefecture in full, 住民票コード and 個人番号 included — for two or more records,
// far beyond any search. A single record is another matter: someone who knows a person's codes
// and all but one field (say, the new address) could confirm guesses one by one. So a prefecture
// with fewer than kMinResidentsForDigest active residents gets its count only, never a digest.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/field_cipher.h"
#include "store/registry_store.h"

namespace kakunin::registry {

inline constexpr int64_t kMinResidentsForDigest = 2;

struct PrefectureDigest {
  int prefecture = 0;  // JIS X 0401, 1..47
  int64_t residents = 0;
  std::optional<std::string> digest_hex;  // withheld below kMinResidentsForDigest
};

// The canonical content of one current record and its hash (hex), exposed for tests.
std::string CanonicalRecord(const std::string& resident_code, const store::VersionRow& version,
                            const std::string& individual_number);

// Every prefecture with an active resident, in prefecture order. `cipher` opens the sealed
// individual numbers (node-local, but what it opens is not).
Result<std::vector<PrefectureDigest>> CurrentRecordDigests(store::RegistryReader& reader,
                                                           const crypto::FieldCipher& cipher);

}  // namespace kakunin::registry
