#include "registry/record_digest.h"

#include <map>
#include <string_view>

#include "core/bytes.h"
#include "crypto/sha256.h"
#include "registry/registry.h"

namespace kakunin::registry {
namespace {

constexpr std::string_view kRecordDomain = "kakunin/stats-digest/v1/record";
constexpr std::string_view kPrefectureDomain = "kakunin/stats-digest/v1/prefecture";

void Field(std::string_view name, const std::optional<std::string>& value, std::string* out) {
  out->append(name);
  if (!value) {
    out->append("=-;");
    return;
  }
  out->append(":" + std::to_string(value->size()) + ":");
  out->append(*value);
  out->append(";");
}

}  // namespace

std::string CanonicalRecord(const std::string& resident_code, const store::VersionRow& v,
                            const std::string& individual_number) {
  std::string out;
  Field("resident_code", resident_code, &out);
  Field("municipality_code", v.municipality_code, &out);
  Field("individual_number", individual_number, &out);
  Field("name", v.name, &out);
  Field("name_kana", v.name_kana, &out);
  Field("former_surname", v.former_surname, &out);
  Field("alias", v.alias, &out);
  Field("sex", v.sex, &out);
  Field("birth_date", v.birth_date, &out);
  Field("address", v.address, &out);
  return out;
}

Result<std::vector<PrefectureDigest>> CurrentRecordDigests(store::RegistryReader& reader,
                                                           const crypto::FieldCipher& cipher) {
  struct Acc {
    int64_t count = 0;
    crypto::Sha256Hasher hasher;
  };
  std::map<int, Acc> by_prefecture;
  crypto::Sha256Hasher record_hasher;
  Status st = reader.ForEachCurrentRecord([&](const store::CurrentRecordRow& row) -> Status {
    const store::VersionRow& v = row.version;
    if (v.municipality_code.size() != 6) return Status::DataLoss("a record without municipality");
    const int pref = (v.municipality_code[0] - '0') * 10 + (v.municipality_code[1] - '0');
    if (pref < 1 || pref > 47) return Status::DataLoss("a record outside every prefecture");
    auto number =
        cipher.Open(v.sealed_number, NumberAssociatedData(v.municipality_code, v.sequence));
    if (!number.ok()) return Status::DataLoss("a sealed individual number does not open");
    record_hasher.Update(kRecordDomain);
    record_hasher.Update(std::string_view("\0", 1));
    record_hasher.Update(CanonicalRecord(row.resident_code, v, *number));
    auto [it, fresh] = by_prefecture.try_emplace(pref);
    if (fresh) {
      it->second.hasher.Update(kPrefectureDomain);
      it->second.hasher.Update(std::string_view("\0", 1));
      it->second.hasher.Update(std::to_string(pref));
    }
    it->second.hasher.Update(record_hasher.Finish());
    ++it->second.count;
    return Status::Ok();
  });
  KAKUNIN_RETURN_IF_ERROR(st);
  std::vector<PrefectureDigest> out;
  for (auto& [pref, acc] : by_prefecture) {
    PrefectureDigest d;
    d.prefecture = pref;
    d.residents = acc.count;
    acc.hasher.Update("count:" + std::to_string(acc.count));
    std::string digest = acc.hasher.Finish();
    if (acc.count >= kMinResidentsForDigest) d.digest_hex = HexEncode(digest);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace kakunin::registry
