#include "domain/notification.h"

#include "text/csv.h"
#include "text/json.h"

namespace kakunin {
namespace {

void Member(std::string_view key, std::string_view value, bool first, std::string* out) {
  if (!first) out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
  text::AppendJsonString(value, out);
}

}  // namespace

std::string ToCanonicalJson(const Notification& n) {
  std::string out;
  out.reserve(512);
  out.push_back('{');
  Member("municipality_code", n.municipality_code, true, &out);
  out.append(",\"sequence\":");
  out.append(std::to_string(n.sequence));
  Member("kind", NotificationKindName(n.kind), false, &out);
  Member("reason", ChangeReasonName(n.reason), false, &out);
  Member("change_date", n.change_date.ToIso(), false, &out);
  Member("resident_code", n.resident_code.str(), false, &out);
  Member("individual_number", n.individual_number.str(), false, &out);
  Member("name", n.name, false, &out);
  if (n.name_kana) Member("name_kana", *n.name_kana, false, &out);
  if (n.former_surname) Member("former_surname", *n.former_surname, false, &out);
  if (n.alias) Member("alias", *n.alias, false, &out);
  Member("sex", SexName(n.sex), false, &out);
  Member("birth_date", n.birth_date.ToIso(), false, &out);
  Member("address", n.address, false, &out);
  if (n.new_resident_code) Member("new_resident_code", n.new_resident_code->str(), false, &out);
  out.push_back('}');
  return out;
}

std::string CsvHeader() {
  return "municipality_code,sequence,kind,reason,change_date,resident_code,individual_number,"
         "name,name_kana,former_surname,alias,sex,birth_date,address,new_resident_code";
}

std::string ToCsvRow(const Notification& n) {
  std::string out;
  auto field = [&](const std::string& v, bool last = false) {
    text::AppendCsvField(v, &out);
    if (!last) out.push_back(',');
  };
  field(n.municipality_code);
  field(std::to_string(n.sequence));
  field(std::string(NotificationKindName(n.kind)));
  field(std::string(ChangeReasonName(n.reason)));
  field(n.change_date.ToIso());
  field(n.resident_code.str());
  field(n.individual_number.str());
  field(n.name);
  field(n.name_kana.value_or(""));
  field(n.former_surname.value_or(""));
  field(n.alias.value_or(""));
  field(std::string(SexName(n.sex)));
  field(n.birth_date.ToIso());
  field(n.address);
  field(n.new_resident_code ? n.new_resident_code->str() : std::string(), true);
  return out;
}

}  // namespace kakunin
