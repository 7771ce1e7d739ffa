#include "registry/state_digest.h"

#include "registry/detail/registry_internal.h"
#include "text/search_key.h"

namespace kakunin::registry {
namespace {

constexpr std::string_view kDomain = "kakunin/version-state/v1:";

void U32(uint32_t v, std::string* out) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void U64(int64_t v, std::string* out) {
  const auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
}
void Str(std::string_view s, std::string* out) {
  U32(static_cast<uint32_t>(s.size()), out);
  out->append(s);
}
void Opt(const std::optional<std::string>& s, std::string* out) {
  if (!s) {
    out->push_back('\0');
    return;
  }
  out->push_back('\1');
  Str(*s, out);
}

}  // namespace

std::string CanonicalVersion(const store::VersionRow& v, const std::string& number) {
  std::string out;
  out.reserve(256);
  U64(v.version_id, &out);
  U64(v.person_id, &out);
  Str(v.municipality_code, &out);
  U64(v.sequence, &out);
  Str(v.kind, &out);
  Str(v.reason, &out);
  Str(v.change_date, &out);
  Str(v.resident_code, &out);
  Str(number, &out);
  Str(v.name, &out);
  Opt(v.name_kana, &out);
  Opt(v.former_surname, &out);
  Opt(v.alias, &out);
  Str(v.sex, &out);
  Str(v.birth_date, &out);
  Str(v.address, &out);
  Opt(v.new_resident_code, &out);
  U64(v.applied_at, &out);
  return out;
}

std::string VersionDigest(const crypto::FieldCipher& cipher, const store::VersionRow& v,
                          const std::string& number) {
  std::string in(kDomain);
  in += CanonicalVersion(v, number);
  return cipher.LookupHash(in);
}

audit::StateLeaf StateLeafOf(const crypto::FieldCipher& cipher, const store::VersionRow& v,
                             const std::string& number, audit::StateOp op) {
  audit::StateLeaf l;
  l.op = op;
  l.version_id = v.version_id;
  l.person_id = v.person_id;
  l.digest = VersionDigest(cipher, v, number);
  return l;
}

store::ResidentRow ResidentOf(const crypto::FieldCipher& cipher, const store::VersionRow& v,
                              const std::string& number) {
  store::ResidentRow r;
  r.person_id = v.person_id;
  r.resident_code = v.new_resident_code ? *v.new_resident_code : v.resident_code;
  const bool removed = v.kind == "removal";
  r.status = removed ? store::ResidentStatus::kRemoved : store::ResidentStatus::kActive;
  r.municipality_code = v.municipality_code;
  r.version_id = v.version_id;
  r.name = v.name;
  r.name_kana = v.name_kana;
  r.sex = v.sex;
  r.birth_date = v.birth_date;
  r.address = v.address;
  r.number_mac = detail::NumberMac(cipher, number);
  r.name_key = text::SearchKey(v.name);
  r.kana_key = v.name_kana ? text::SearchKey(*v.name_kana) : std::string();
  r.address_key = text::SearchKey(v.address);
  r.updated_at = v.applied_at;
  r.removed_at = removed ? v.applied_at : 0;
  return r;
}

std::vector<std::string> DifferingFields(const store::ResidentRow& s, const store::ResidentRow& e,
                                         bool with_keys) {
  std::vector<std::string> out;
  auto check = [&](bool same, const char* name) {
    if (!same) out.emplace_back(name);
  };
  check(s.resident_code == e.resident_code, "resident_code");
  check(s.status == e.status, "status");
  check(s.municipality_code == e.municipality_code, "municipality_code");
  check(s.version_id == e.version_id, "version_id");
  check(s.name == e.name, "name");
  check(s.name_kana == e.name_kana, "name_kana");
  check(s.sex == e.sex, "sex");
  check(s.birth_date == e.birth_date, "birth_date");
  check(s.address == e.address, "address");
  check(s.number_mac == e.number_mac, "number_mac");
  if (with_keys) {
    check(s.name_key == e.name_key, "name_key");
    check(s.kana_key == e.kana_key, "kana_key");
    check(s.address_key == e.address_key, "address_key");
  }
  check(s.updated_at == e.updated_at, "updated_at");
  check(s.removed_at == e.removed_at, "removed_at");
  return out;
}

}  // namespace kakunin::registry
