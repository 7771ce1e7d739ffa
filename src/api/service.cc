#include "api/service.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <iterator>
#include <set>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "api/errors.h"
#include "api/metrics.h"
#include "api/national.h"
#include "domain/errors.h"
#include "text/json.h"
#include "text/utf8.h"

namespace kakunin {
extern const std::string_view kOpenApiJson;  // generated from src/api/openapi.json
}  // namespace kakunin

namespace kakunin::api {
namespace {

using http::Request;
using http::Response;

enum class Route {
  kUnknown,
  kNotifications,
  kResident,
  kHistory,
  kSearch,
  kProvisions,
  kHealthz,
  kReadyz,
  kMetrics,
  kOpenApi,
  kLinkChanges,  // national node: forwarded changes (api/national.h)
  kCorrections,       // a municipality's open correction requests (registry/disclosure.h)
  kCorrectionResult,  // its answer to one
  kSupportMeasures,    // 支援措置: a municipality sets one for its resident (registry/gateway.h)
  kSupportMeasureEnd,  // and ends it
};

// The operation a request under `route` would have been, for recording its refusal.
const char* ActionOf(Route route) {
  switch (route) {
    case Route::kNotifications: return "notification.refused";
    case Route::kSearch: return "resident.search";
    case Route::kLinkChanges: return "link.receive";
    case Route::kCorrections: return "correction.refer";
    case Route::kCorrectionResult: return "correction.answer";
    case Route::kSupportMeasures: return "support_measure.set";
    case Route::kSupportMeasureEnd: return "support_measure.end";
    default: return "resident.provide";
  }
}

struct Match {
  Route route = Route::kUnknown;
  std::string_view resident_code;  // kResident, kHistory; kCorrectionResult: the correction id
};

constexpr std::string_view kResidentsPrefix = "/v1/residents/";
constexpr std::string_view kCorrectionsPrefix = "/v1/corrections/";

Match MatchPath(std::string_view path) {
  if (path == "/v1/notifications") return {Route::kNotifications, {}};
  if (path == "/v1/residents/search") return {Route::kSearch, {}};
  if (path == "/v1/provisions") return {Route::kProvisions, {}};
  if (path == "/healthz") return {Route::kHealthz, {}};
  if (path == "/readyz") return {Route::kReadyz, {}};
  if (path == "/metrics") return {Route::kMetrics, {}};
  if (path == "/v1/openapi.json") return {Route::kOpenApi, {}};
  if (path == "/v1/link/changes") return {Route::kLinkChanges, {}};
  if (path == "/v1/corrections") return {Route::kCorrections, {}};
  if (path == "/v1/support-measures") return {Route::kSupportMeasures, {}};
  if (path == "/v1/support-measures/end") return {Route::kSupportMeasureEnd, {}};
  if (path.substr(0, kCorrectionsPrefix.size()) == kCorrectionsPrefix) {
    std::string_view rest = path.substr(kCorrectionsPrefix.size());
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos && slash > 0 && rest.substr(slash) == "/result") {
      return {Route::kCorrectionResult, rest.substr(0, slash)};
    }
  }
  if (path.substr(0, kResidentsPrefix.size()) == kResidentsPrefix) {
    std::string_view rest = path.substr(kResidentsPrefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      if (!rest.empty()) return {Route::kResident, rest};
    } else if (slash > 0 && rest.substr(slash) == "/history") {
      return {Route::kHistory, rest.substr(0, slash)};
    }
  }
  return {};
}

// Every route of the systems' port with its method and template: the one list that MethodOf,
// RouteOf and SystemRoutes() read, so a route cannot be served without being listed.
struct RouteInfo {
  Route route;
  const char* method;
  const char* path;  // template
};
constexpr RouteInfo kRoutes[] = {
    {Route::kNotifications, "POST", "/v1/notifications"},
    {Route::kResident, "GET", "/v1/residents/{resident_code}"},
    {Route::kHistory, "GET", "/v1/residents/{resident_code}/history"},
    {Route::kSearch, "POST", "/v1/residents/search"},
    {Route::kProvisions, "POST", "/v1/provisions"},
    {Route::kHealthz, "GET", "/healthz"},
    {Route::kReadyz, "GET", "/readyz"},
    {Route::kMetrics, "GET", "/metrics"},
    {Route::kOpenApi, "GET", "/v1/openapi.json"},
    {Route::kLinkChanges, "POST", "/v1/link/changes"},
    {Route::kCorrections, "GET", "/v1/corrections"},
    {Route::kCorrectionResult, "POST", "/v1/corrections/{correction_id}/result"},
    {Route::kSupportMeasures, "POST", "/v1/support-measures"},
    {Route::kSupportMeasureEnd, "POST", "/v1/support-measures/end"},
};

const RouteInfo* InfoOf(Route route) {
  for (const RouteInfo& r : kRoutes) {
    if (r.route == route) return &r;
  }
  return nullptr;
}

const char* MethodOf(Route route) {
  const RouteInfo* r = InfoOf(route);
  return r == nullptr ? "GET" : r->method;
}

bool IsResidentCodeShape(std::string_view s) {
  if (s.size() != 11) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a query component ('+' is a space). False if an escape is broken.
bool Unescape(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (in[i] == '+') {
      out->push_back(' ');
    } else {
      out->push_back(in[i]);
    }
  }
  return true;
}

}  // namespace

Result<std::map<std::string, std::string>> QueryOf(std::string_view query,
                                                   std::initializer_list<std::string_view> allowed) {
  std::map<std::string, std::string> out;
  if (query.empty()) return out;
  if (query.size() > 2048) return Status::InvalidArgument("the query is too long");
  size_t start = 0;
  while (true) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(start, amp - start);
    size_t eq = part.find('=');
    std::string key, value;
    if (eq == std::string_view::npos || !Unescape(part.substr(0, eq), &key) ||
        !Unescape(part.substr(eq + 1), &value) ||
        std::find(allowed.begin(), allowed.end(), key) == allowed.end() ||
        !out.emplace(key, std::move(value)).second) {
      return Status::InvalidArgument("a query parameter is unknown, malformed or repeated");
    }
    if (amp == query.size()) break;
    start = amp + 1;
  }
  return out;
}

namespace {

// The query of a resident read: exactly one "purpose" parameter, nothing else.
Result<std::string> PurposeFromQuery(std::string_view query) {
  auto q = QueryOf(query, {"purpose"});
  if (!q.ok()) return Status::InvalidArgument("the query must be purpose=ID");
  auto purpose = q->find("purpose");
  if (purpose == q->end() || purpose->second.empty()) {
    return Status::InvalidArgument("purpose is required");
  }
  return purpose->second;
}

void AppendRecord(const std::vector<std::pair<std::string, std::string>>& items, std::string* o) {
  *o += "{";
  bool first = true;
  for (const auto& [k, v] : items) {
    if (!first) *o += ",";
    first = false;
    text::AppendJsonString(k, o);
    *o += ":";
    text::AppendJsonString(v, o);
  }
  *o += "}";
}

// The answer to GET /v1/residents/{code}: shared by the blocking and the deferred path.
Response LookupAnswer(const Result<registry::ProvidedRecord>& rec, bool handle,
                      const std::string& code, const std::string& purpose,
                      const std::string& rid) {
  if (!rec.ok()) return Problem(FromStatus(rec.status()), rid);
  if (!rec->found) return Problem(ApiError::kNotFound, rid);
  std::string o;
  o.reserve(128 + 48 * rec->items.size());
  o += handle ? "{\"handle\":" : "{\"resident_code\":";
  text::AppendJsonString(code, &o);
  o += ",\"purpose\":";
  text::AppendJsonString(purpose, &o);
  o += ",\"record\":";
  AppendRecord(rec->items, &o);
  if (rec->support_measure) o += ",\"support_measure\":true";
  o += "}";
  return JsonResponse(std::move(o));
}

// A JSON request body: an object, parsed strictly, with only `allowed` members, each once.
}  // namespace

Result<std::string> PurposeOfQuery(std::string_view query) { return PurposeFromQuery(query); }


// What a refusal before the use case (an unknown or revoked certificate, a halted node) names
// of the request: the resident code in a lookup's or a history's path, and the purpose asked
// for — read from the request alone, nothing from the store.
struct Asked {
  std::vector<std::string> codes;
  std::string purpose;
};
Asked AskedBy(const Request& req, const Match& match) {
  Asked a;
  if ((match.route == Route::kResident || match.route == Route::kHistory) &&
      IsResidentCodeShape(match.resident_code)) {
    a.codes.emplace_back(match.resident_code);
    auto purpose = PurposeFromQuery(req.query);
    if (purpose.ok()) a.purpose = *purpose;
  }
  return a;
}

namespace {

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Whether the body is JSON as this API reads it (RFC 9110 §8.3, §8.4): the media type
// application/json in any case; a charset, if named, utf-8 (a body declared in another charset
// would be read as what it is not); no content coding but identity (found in review: a body
// sent "Content-Encoding: gzip" was read as if plain, and "charset=iso-8859-1" as UTF-8).
bool IsPlainJsonBody(const Request& req) {
  // One Content-Type (RFC 9110 allows no list); every Content-Encoding line, each a list, all
  // identity (found in review: a second line got past a check of the first).
  const std::string* type = nullptr;
  for (const auto& [name, value] : req.headers) {
    if (name == "content-type") {
      if (type != nullptr) return false;
      type = &value;
    } else if (name == "content-encoding") {
      std::string_view codings(value);
      while (!codings.empty()) {
        const size_t comma = codings.find(',');
        const std::string_view coding = TrimOws(codings.substr(0, comma));
        if (!coding.empty() && !EqualsIgnoringCase(coding, "identity")) return false;
        codings.remove_prefix(comma == std::string_view::npos ? codings.size() : comma + 1);
      }
    }
  }
  if (type == nullptr) return false;
  std::string_view rest(*type);
  size_t semi = rest.find(';');
  if (!EqualsIgnoringCase(TrimOws(rest.substr(0, semi)), "application/json")) return false;
  while (semi != std::string_view::npos) {
    rest.remove_prefix(semi + 1);
    semi = rest.find(';');
    std::string_view param = TrimOws(rest.substr(0, semi));
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    if (!EqualsIgnoringCase(TrimOws(param.substr(0, eq)), "charset")) continue;
    std::string_view value = TrimOws(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (!EqualsIgnoringCase(value, "utf-8")) return false;
  }
  return true;
}

}  // namespace

Result<text::JsonValue> ParseBody(const Request& req, std::initializer_list<std::string_view> allowed,
                                  ApiError* error) {
  if (!IsPlainJsonBody(req)) {
    *error = ApiError::kUnsupportedMediaType;
    return Status::InvalidArgument("the body must be application/json (UTF-8, no content coding)");
  }
  text::JsonLimits limits;
  limits.max_bytes = req.body.size() + 1;
  // A notification nested deeper than a JSON Lines record may (kMaxNotificationDepth) is refused
  // per record, as a line is (record/format): the body may nest deeper than the two levels it
  // adds, so that one odd item does not refuse the others beside it (found in review).
  limits.max_depth = 64;
  auto parsed = text::ParseJson(req.body, limits);
  if (!parsed.ok()) {
    *error = ApiError::kMalformedRequest;
    return Status::InvalidArgument("the body is not JSON");
  }
  *error = ApiError::kInvalidRequest;
  if (!parsed->is_object()) return Status::InvalidArgument("the body must be a JSON object");
  std::vector<std::string_view> seen;
  for (const auto& [key, value] : parsed->members()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) return Status::InvalidArgument("the body has an unknown member");
    for (std::string_view s : seen) {
      if (s == key) return Status::InvalidArgument("the body has a duplicate member");
    }
    seen.push_back(key);
  }
  return std::move(*parsed);
}

namespace {

// An optional string member; error if present and not a well-formed, non-empty string.
Result<std::optional<std::string>> StringMember(const text::JsonValue& body, std::string_view key,
                                                size_t max) {
  const text::JsonValue* v = body.Find(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string() || !v->well_formed() || v->text().empty() || v->text().size() > max ||
      text::CheckText(v->text()) != text::TextCheck::kOk) {
    return Status::InvalidArgument(std::string(key) + " must be a non-empty string");
  }
  return std::optional<std::string>(v->text());
}

std::string IsoTime(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((micros / 1000) % 1000));
  return buf;
}

}  // namespace

std::string_view OpenApiDocument() { return kOpenApiJson; }

Response JsonResponse(std::string body, int status) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  // Records, and refusals about them, are never kept by a cache on the way or in the
  // recipient's HTTP library (found in review: only the console said so).
  r.headers.emplace_back("cache-control", "no-store");
  return r;
}

std::string_view RouteOf(std::string_view path) {
  const RouteInfo* r = InfoOf(MatchPath(path).route);
  return r == nullptr ? "(unknown)" : r->path;
}

std::vector<std::pair<std::string, std::string>> SystemRoutes() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const RouteInfo& r : kRoutes) out.emplace_back(r.method, r.path);
  return out;
}

Response ServeResidentRoute(const Request& req, const registry::Gateway& gateway,
                            const registry::Caller& caller) {
  const std::string& rid = req.request_id;
  auto fail = [&](const Status& st) { return Problem(FromStatus(st), rid); };
  const Match match = MatchPath(req.path);
  // A read refused before it reaches a use case (a malformed code, query or body) is still an
  // operation of an authenticated caller: recorded (the reason, never the request's values)
  // before it is answered.
  std::string purpose_named;  // once known
  auto invalid = [&](ApiError error, std::string detail) {
    Status recorded = gateway.RecordInvalidRequest(caller, ActionOf(match.route), purpose_named);
    if (!recorded.ok()) return fail(recorded);
    return Problem(error, rid, std::move(detail));
  };
  if (req.method != MethodOf(match.route)) {
    Response r = Problem(ApiError::kMethodNotAllowed, rid);
    r.headers.emplace_back("allow", MethodOf(match.route));
    return r;
  }
  ApiError body_error = ApiError::kInvalidRequest;
  switch (match.route) {
    case Route::kResident:
    case Route::kHistory: {
      auto purpose = PurposeFromQuery(req.query);
      if (!purpose.ok()) return invalid(ApiError::kInvalidRequest, purpose.status().message());
      purpose_named = *purpose;
      // A resident code, or a handle from the caller's own search for this purpose.
      const bool handle = registry::IsHandle(match.resident_code);
      if (!handle && !IsResidentCodeShape(match.resident_code)) {
        return invalid(ApiError::kInvalidRequest,
                       "resident_code must be 11 digits or a search handle");
      }
      const std::string code(match.resident_code);
      if (match.route == Route::kResident) {
        return LookupAnswer(gateway.Lookup(caller, code, *purpose), handle, code, *purpose, rid);
      }
      std::string o = handle ? "{\"handle\":" : "{\"resident_code\":";
      text::AppendJsonString(code, &o);
      o += ",\"purpose\":";
      text::AppendJsonString(*purpose, &o);
      auto versions = gateway.History(caller, code, *purpose);
      if (!versions.ok()) return fail(versions.status());
      if (!*versions) return Problem(ApiError::kNotFound, rid);
      if (!(*versions)->empty() && (*versions)->front().support_measure) {
        o += ",\"support_measure\":true";
      }
      o += ",\"versions\":[";
      bool first = true;
      for (const auto& v : **versions) {
        if (!first) o += ",";
        first = false;
        o += "{\"change\":";
        text::AppendJsonString(v.kind, &o);
        o += ",\"reason\":";
        text::AppendJsonString(v.reason, &o);
        o += ",\"change_date\":";
        text::AppendJsonString(v.change_date, &o);
        o += ",\"current\":";
        o += v.current ? "true" : "false";
        o += ",\"record\":";
        AppendRecord(v.items, &o);
        o += "}";
      }
      o += "]}";
      return JsonResponse(std::move(o));
    }

    case Route::kSearch: {
      auto body = ParseBody(req,
                            {"purpose", "individual_number", "name", "name_kana", "birth_date",
                             "sex", "address", "limit"},
                            &body_error);
      if (!body.ok()) return invalid(body_error, body.status().message());
      registry::SearchRequest s;
      auto purpose = StringMember(*body, "purpose", 64);
      if (!purpose.ok() || !*purpose) return invalid(ApiError::kInvalidRequest, "purpose is required");
      purpose_named = **purpose;
      struct {
        const char* key;
        std::optional<std::string>* target;
        size_t max;
      } fields[] = {{"individual_number", &s.number, 12}, {"name", &s.name, 400},
                    {"name_kana", &s.kana, 400},          {"birth_date", &s.birth_date, 10},
                    {"sex", &s.sex, 6},                   {"address", &s.address, 1000}};
      for (auto& f : fields) {
        auto v = StringMember(*body, f.key, f.max);
        if (!v.ok()) return invalid(ApiError::kInvalidRequest, v.status().message());
        *f.target = std::move(*v);
      }
      if (const text::JsonValue* limit = body->Find("limit")) {
        auto n = limit->is_number() ? limit->AsInt64() : std::nullopt;
        if (!n || *n < 1 || *n > 100) {
          return invalid(ApiError::kInvalidRequest, "limit must be an integer 1 to 100");
        }
        s.limit = static_cast<int>(*n);
      }
      const bool by_number = s.number.has_value();
      const bool by_four = (s.name || s.kana) && s.birth_date;
      if (by_number == (s.name || s.kana || s.birth_date || s.sex || s.address) || (!by_number && !by_four)) {
        return invalid(ApiError::kInvalidRequest,
                       "give individual_number alone, or name or name_kana with birth_date");
      }
      auto found = gateway.Search(caller, s, **purpose);
      if (!found.ok()) return fail(found.status());
      std::string o = "{\"purpose\":";
      text::AppendJsonString(**purpose, &o);
      o += ",\"results\":[";
      for (size_t i = 0; i < found->records.size(); ++i) {
        if (i > 0) o += ",";
        o += "{\"handle\":";
        text::AppendJsonString(found->handles[i], &o);
        o += ",\"record\":";
        AppendRecord(found->records[i].items, &o);
        if (found->records[i].support_measure) o += ",\"support_measure\":true";
        o += "}";
      }
      o += "],\"truncated\":";
      o += found->truncated ? "true" : "false";
      o += "}";
      return JsonResponse(std::move(o));
    }

    case Route::kProvisions: {
      auto body = ParseBody(req, {"purpose", "resident_codes"}, &body_error);
      if (!body.ok()) return invalid(body_error, body.status().message());
      auto purpose = StringMember(*body, "purpose", 64);
      if (!purpose.ok() || !*purpose) return invalid(ApiError::kInvalidRequest, "purpose is required");
      purpose_named = **purpose;
      const text::JsonValue* list = body->Find("resident_codes");
      if (list == nullptr || !list->is_array() || list->items().empty() ||
          list->items().size() > registry::kMaxCodesPerProvision) {
        return invalid(ApiError::kInvalidRequest, "resident_codes must hold 1 to 1000 codes");
      }
      std::vector<std::string> codes;
      for (const auto& item : list->items()) {
        if (!item.is_string() || !IsResidentCodeShape(item.text())) {
          return invalid(ApiError::kInvalidRequest, "each resident code must be 11 digits");
        }
        codes.push_back(item.text());
      }
      auto provided = gateway.Batch(caller, codes, **purpose);
      if (!provided.ok()) return fail(provided.status());
      std::string o = "{\"purpose\":";
      text::AppendJsonString(**purpose, &o);
      o += ",\"results\":[";
      for (size_t i = 0; i < provided->size(); ++i) {
        const auto& rec = (*provided)[i];
        if (i > 0) o += ",";
        o += "{\"resident_code\":";
        text::AppendJsonString(rec.resident_code, &o);
        o += rec.found ? ",\"found\":true,\"record\":" : ",\"found\":false";
        if (rec.found) AppendRecord(rec.items, &o);
        if (rec.support_measure) o += ",\"support_measure\":true";
        o += "}";
      }
      o += "]}";
      return JsonResponse(std::move(o));
    }

    default:
      return Problem(ApiError::kRouteNotFound, rid);
  }
}

bool IsResidentRoute(std::string_view path) {
  Route r = MatchPath(path).route;
  return r == Route::kResident || r == Route::kHistory || r == Route::kSearch ||
         r == Route::kProvisions;
}

namespace {
constexpr int64_t kWindowMicros = 1000000;
const SystemClock kSystemClock;
// By http::Event::Kind.
constexpr const char* kEventNames[] = {"request", "refused_handshake", "timeout", "too_large",
                                       "connection_cap"};
static_assert(http::Event::kConnectionCap == 4, "kEventNames follows http::Event::Kind");

std::chrono::system_clock::time_point AtMicros(int64_t micros) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(micros)));
}
}  // namespace

AccessLog::AccessLog(std::FILE* out, const Clock* clock)
    : out_(out), clock_(clock != nullptr ? clock : &kSystemClock) {}

std::string AccessLog::NetworkOf(std::string_view address, bool wide) {
  if (address.empty() || address.size() >= INET6_ADDRSTRLEN) return "?";
  const std::string a(address);
  unsigned char b[16];
  auto v4 = [&](const unsigned char* p) {
    return wide ? std::to_string(p[0]) + "." + std::to_string(p[1]) + ".0.0/16"
                : std::to_string(p[0]) + "." + std::to_string(p[1]) + "." + std::to_string(p[2]) +
                      ".0/24";
  };
  if (::inet_pton(AF_INET, a.c_str(), b) == 1) return v4(b);
  if (::inet_pton(AF_INET6, a.c_str(), b) != 1) return "?";
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(b, b + 12, kMapped)) return v4(b + 12);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  const int bytes = wide ? 4 : 8;
  for (int i = 0; i < bytes; i += 2) {
    if (i > 0) out.push_back(':');
    for (int j = i; j < i + 2; ++j) {
      out.push_back(kHex[b[j] >> 4]);
      out.push_back(kHex[b[j] & 15]);
    }
  }
  return out + (wide ? "::/32" : "::/64");
}

int64_t AccessLog::Held::Total() const {
  int64_t n = 0;
  for (int64_t k : by_kind) n += k;
  return n;
}

void AccessLog::Held::Add(const Held& other) {
  since = since == 0 ? other.since : std::min(since, other.since);
  for (size_t k = 0; k < std::size(by_kind); ++k) by_kind[k] += other.by_kind[k];
  client_ca += other.client_ca;
}

void AccessLog::Hold(const std::string& network, const Window& w) {
  if (w.held.Total() == 0) return;
  held_[network].Add(w.held);
}

namespace {
// One `suppressed` line: what `network` (or `networks` of them, when more than one) held back.
void SuppressedLine(const std::string& network, size_t networks, const int64_t (&by_kind)[5],
                    int64_t client_ca, int64_t since, int64_t now, std::string* out) {
  *out += "{\"time\":\"" + IsoTime(AtMicros(now)) + "\",\"event\":\"suppressed\",\"network\":";
  text::AppendJsonString(network, out);
  if (networks > 1) *out += ",\"networks\":" + std::to_string(networks);
  *out += ",\"since\":\"" + IsoTime(AtMicros(since)) + "\"";
  for (size_t k = 1; k < std::size(kEventNames); ++k) {
    if (by_kind[k] == 0) continue;
    *out += ",\"";
    *out += kEventNames[k];
    *out += "\":" + std::to_string(by_kind[k]);
  }
  if (client_ca > 0) *out += ",\"client_ca_certificates\":" + std::to_string(client_ca);
  *out += "}\n";
}
}  // namespace

void AccessLog::Flush(bool all) {
  std::lock_guard<std::mutex> lock(mu_);
  if (out_ == nullptr) return;
  const int64_t now = clock_->NowMicros();
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (all || now >= it->second.start + kWindowMicros) {
      Hold(it->first, it->second);
      if (it->first.ends_with("/16") || it->first.ends_with("/32")) --wide_windows_;
      it = windows_.erase(it);
    } else {
      ++it;
    }
  }
  // The networks that held back most refusals of client-CA certificates, then most events, a
  // line each (bare connects from many networks must not push the first kind into "*": found in
  // review); every other one in one line.
  struct Rank {
    int64_t client_ca, total;
    const std::string* network;
  };
  std::vector<Rank> order;
  for (const auto& [network, h] : held_) {
    if (network != "*") order.push_back({h.client_ca, h.Total(), &network});
  }
  const size_t shown = std::min(order.size(), kSummaryLinesPerFlush);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(),
                    [](const Rank& x, const Rank& y) {
                      return x.client_ca != y.client_ca ? x.client_ca > y.client_ca
                                                        : x.total > y.total;
                    });
  std::string lines;
  std::set<const std::string*> named;
  for (size_t i = 0; i < shown; ++i) {
    const Held& h = held_[*order[i].network];
    SuppressedLine(*order[i].network, 1, h.by_kind, h.client_ca, h.since, now, &lines);
    named.insert(order[i].network);
  }
  Held rest;
  size_t others = 0;
  const std::string* only = nullptr;
  for (const auto& [network, h] : held_) {
    if (named.count(&network) != 0) continue;
    rest.Add(h);
    ++others;
    only = &network;
  }
  if (others == 1) {
    SuppressedLine(*only, 1, rest.by_kind, rest.client_ca, rest.since, now, &lines);
  } else if (others > 1) {
    SuppressedLine("*", others, rest.by_kind, rest.client_ca, rest.since, now, &lines);
  }
  held_.clear();
  if (!lines.empty()) std::fwrite(lines.data(), 1, lines.size(), out_);
  std::fflush(out_);
}

void AccessLog::Write(const http::Event& e) {
  if (out_ == nullptr) return;
  if (e.kind != http::Event::kRequest) {
    // A connection event: within its network's first few of the second and the node's, or
    // counted.
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_->NowMicros();
    // Seconds of the clock, not from each network's first event: the budgets hold for any second
    // one reads the log by (found in review: windows begun at different moments wrote 103 lines
    // in one second).
    const int64_t second = now - now % kWindowMicros;
    std::string network = NetworkOf(e.remote_address);
    auto it = windows_.find(network);
    if (it == windows_.end() && windows_.size() >= kMaxNetworks) {
      // The table is full: a wider prefix, while there is room for one; then all together.
      it = windows_.find(network = NetworkOf(e.remote_address, /*wide=*/true));
      if (it == windows_.end() && (network == "?" || wide_windows_ >= kMaxWideNetworks)) {
        it = windows_.find(network = "*");
      }
      if (it == windows_.end() && network != "*") ++wide_windows_;
    }
    if (it == windows_.end()) {
      it = windows_.emplace(network, Window{}).first;
      it->second.start = second;
    }
    Window& w = it->second;
    if (w.start != second) {
      Hold(it->first, w);  // its counts wait for the next Flush()
      w = Window{};
      w.start = second;
    }
    if (second_start_ != second) {
      second_start_ = second;
      second_written_[0] = second_written_[1] = 0;
    }
    const int cls = e.client_ca_issued ? 1 : 0;
    if (w.written[cls] >= kConnectionEventsPerSecond ||
        second_written_[cls] >= kConnectionEventLinesPerSecond) {
      if (w.held.since == 0) w.held.since = w.start;
      ++w.held.by_kind[e.kind];
      if (e.client_ca_issued) ++w.held.client_ca;
      return;
    }
    ++w.written[cls];
    ++second_written_[cls];
  }
  const char* kind = kEventNames[e.kind];
  std::string line = "{\"time\":\"" + IsoTime(std::chrono::system_clock::now()) +
                     "\",\"event\":\"" + kind + "\"";
  auto field = [&](const char* name, std::string_view value) {
    if (value.empty()) return;
    line += ",\"";
    line += name;
    line += "\":";
    // Values from the network are escaped whatever they hold (the server passes only
    // well-formed ids, but the log must stay one valid line regardless).
    if (text::IsValidUtf8(value)) {
      text::AppendJsonString(value, &line);
    } else {
      line += "\"(not utf-8)\"";
    }
  };
  field("request_id", e.request_id);
  field("remote", e.remote_address);
  field("client", e.client_spki_sha256);
  field("method", std::string(FoldedMethod(e.method)));
  if (!e.path.empty()) field("route", RouteOf(e.path));
  if (e.status != 0) line += ",\"status\":" + std::to_string(e.status);
  if (e.kind != http::Event::kConnectionCap) {
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", e.duration_ms);
    line += ",\"duration_ms\":";
    line += ms;
  }
  field("detail", e.detail.size() <= 300 ? e.detail : e.detail.substr(0, 300));
  line += "}\n";
  // Buffered by stdio (a file is flushed when its buffer fills and at shutdown; stderr is
  // unbuffered): one write per request would serialise the I/O thread on the disk.
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
}

Service::Service(registry::Gateway* gateway, Metrics* metrics, AccessLog* access_log)
    : gateway_(gateway), metrics_(metrics), access_log_(access_log) {}

void Service::OnEvent(const http::Event& event) {
  if (metrics_ != nullptr) metrics_->Count(event, RouteOf(event.path));
  if (access_log_ != nullptr) access_log_->Write(event);
}

bool Service::HandleAsync(const std::shared_ptr<const Request>& request,
                          http::Responder respond) {
  const Match match = MatchPath(request->path);
  // The hot routes; everything else (notifications, searches, batches) runs on the worker pool.
  const bool healthz = match.route == Route::kHealthz && request->method == "GET";
  const bool lookup = match.route == Route::kResident && request->method == "GET";
  if (!healthz && !lookup) return false;
  if (healthz) {
    // Here on the I/O thread: a read of the client register, no hop to a worker. A refusal
    // (an unregistered client) is recorded on a worker, like every write.
    auto client = gateway_->AuthenticateQuietly(request->client_spki_sha256);
    if (client.ok() && *client) {
      respond(JsonResponse("{\"status\":\"ok\"}"));
      return true;
    }
  }
  if (lookup) {
    // The common case whole on the I/O thread: a registered client reading a resident by code
    // for a purpose it holds. The provision is recorded by the write queue's thread, which
    // answers once it is durable: no hop to a worker. Anything else (a refusal to record, a
    // handle, a malformed request) goes on on a worker, as before.
    auto purpose = PurposeFromQuery(request->query);
    if (purpose.ok() && IsResidentCodeShape(match.resident_code)) {
      std::string code(match.resident_code);
      auto answer = [respond, code, purpose = *purpose,
                     rid = request->request_id](Result<registry::ProvidedRecord> rec) {
        respond(LookupAnswer(rec, false, code, purpose, rid));
      };
      if (gateway_->LookupWithoutBlocking(request->client_spki_sha256, request->remote_address,
                                          code, *purpose, std::move(answer))) {
        return true;
      }
    }
  }
  respond.Continue([this, request, respond, healthz] { ServeAsync(*request, respond, healthz); });
  return true;
}

void Service::ServeAsync(const Request& req, const http::Responder& respond, bool healthz) {
  const Match match = MatchPath(req.path);
  const std::string& rid = req.request_id;
  const Asked asked = AskedBy(req, match);
  // As Handle: every request, health checks included, comes from a registered system.
  auto client = gateway_->Authenticate(req.client_spki_sha256, req.remote_address, asked.codes,
                                       asked.purpose);
  if (!client.ok()) return respond(Problem(FromStatus(client.status()), rid));
  if (healthz) return respond(JsonResponse("{\"status\":\"ok\"}"));
  if (Status st = gateway_->CheckRunningFor(
          registry::Caller::ForClient(*client, req.remote_address), ActionOf(match.route),
          asked.codes, asked.purpose);
      !st.ok()) {
    return respond(Problem(FromStatus(st), rid));
  }
  const registry::Caller caller = registry::Caller::ForClient(*client, req.remote_address);
  // Refused before the use case, recorded all the same (as ServeResidentRoute).
  auto invalid = [&](const std::string& purpose, std::string detail) {
    Status recorded = gateway_->RecordInvalidRequest(caller, ActionOf(match.route), purpose);
    respond(recorded.ok() ? Problem(ApiError::kInvalidRequest, rid, std::move(detail))
                          : Problem(FromStatus(recorded), rid));
  };
  auto purpose = PurposeFromQuery(req.query);
  if (!purpose.ok()) return invalid("", purpose.status().message());
  const bool handle = registry::IsHandle(match.resident_code);
  if (!handle && !IsResidentCodeShape(match.resident_code)) {
    return invalid(*purpose, "resident_code must be 11 digits or a search handle");
  }
  std::string code(match.resident_code);
  // The answer is written when the provision's record is durable; this worker is free at once
  // (unless it leads the commit).
  gateway_->LookupAsync(
      registry::Caller::ForClient(*client, req.remote_address), code, *purpose,
      [respond, handle, code, purpose = *purpose, rid](Result<registry::ProvidedRecord> rec) {
        respond(LookupAnswer(rec, handle, code, purpose, rid));
      });
}

namespace {

// GET /v1/corrections and POST /v1/corrections/{id}/result: a municipality's CS and the
// correction requests residents made at the prefecture (registry/disclosure.h).
http::Response ServeCorrections(const Request& req, Route route, std::string_view id,
                                const registry::Client& client, registry::Gateway* gateway_,
                                const registry::DisclosureDesk* disclosures_) {
  const std::string& rid = req.request_id;
  // The desk's own refusals carry its generic hint; anything else (a store or key failure,
  // whose message may name a host, a user or a path) is answered without one, as elsewhere.
  auto fail = [&](const Status& st) {
    switch (st.code()) {
      case StatusCode::kInvalidArgument:
      case StatusCode::kNotFound:
      case StatusCode::kFailedPrecondition:
      case StatusCode::kPermissionDenied:
        return Problem(FromStatus(st), rid, st.message());
      default:
        return Problem(FromStatus(st), rid);
    }
  };
  const registry::Caller caller = registry::Caller::ForClient(client, req.remote_address);
  auto invalid = [&](std::string detail) {
    Status recorded = gateway_->RecordInvalidRequest(caller, ActionOf(route), "");
    if (!recorded.ok()) return fail(recorded);
    return Problem(ApiError::kInvalidRequest, rid, std::move(detail));
  };
  // Only a prefecture node keeps disclosures.
  if (disclosures_ == nullptr) return Problem(ApiError::kRouteNotFound, rid);
  if (route == Route::kCorrections) {
    if (!req.query.empty()) return invalid("this route takes no query");
    auto list = disclosures_->Corrections(client, req.remote_address);
    if (!list.ok()) return fail(list.status());
    std::string o = "{\"corrections\":[";
    for (size_t i = 0; i < list->size(); ++i) {
      const registry::CorrectionReferral& c = (*list)[i];
      o += (i ? "," : "") + std::string("{\"correction_id\":") + std::to_string(c.id) +
           ",\"resident_code\":";
      text::AppendJsonString(c.resident_code, &o);
      o += ",\"fields\":[";
      for (size_t j = 0; j < c.fields.size(); ++j) {
        if (j > 0) o += ",";
        text::AppendJsonString(c.fields[j], &o);
      }
      o += "],\"details\":";
      text::AppendJsonString(c.details, &o);
      o += ",\"received_on\":\"" + c.received_on + "\"}";
    }
    return JsonResponse(o + "]}");
  }
  int64_t n = 0;
  if (id.empty() || id.size() > 18 || !std::all_of(id.begin(), id.end(), [](char c) {
        return c >= '0' && c <= '9';
      })) {
    return invalid("correction_id must be a number");
  }
  n = std::stoll(std::string(id));
  ApiError body_error = ApiError::kInvalidRequest;
  auto body = ParseBody(req, {"outcome"}, &body_error);
  if (!body.ok()) {
    Status recorded = gateway_->RecordInvalidRequest(caller, ActionOf(route), "");
    if (!recorded.ok()) return fail(recorded);
    return Problem(body_error, rid);
  }
  const text::JsonValue* outcome = body->Find("outcome");
  if (outcome == nullptr || !outcome->is_string() || !outcome->well_formed()) {
    return invalid("outcome must be corrected or not_corrected");
  }
  Status st = disclosures_->AnswerCorrection(client, req.remote_address, n, outcome->text());
  if (!st.ok()) return fail(st);
  return JsonResponse("{\"correction_id\":" + std::to_string(n) + ",\"status\":\"answered\"}");
}

// POST /v1/support-measures {"resident_code","valid_until"} and /v1/support-measures/end
// {"resident_code"}: a municipal CS, for a resident its municipality holds (registry/gateway.h
// SetSupportMeasure).
http::Response ServeSupportMeasure(const Request& req, Route route, const registry::Client& client,
                                   const registry::Gateway& gateway) {
  const std::string& rid = req.request_id;
  const registry::Caller caller = registry::Caller::ForClient(client, req.remote_address);
  auto fail = [&](const Status& st) {
    switch (st.code()) {
      case StatusCode::kInvalidArgument:
      case StatusCode::kNotFound:
      case StatusCode::kPermissionDenied:
        return Problem(FromStatus(st), rid, st.message());
      default:
        return Problem(FromStatus(st), rid);
    }
  };
  auto invalid = [&](ApiError error, std::string detail) {
    Status recorded = gateway.RecordInvalidRequest(caller, ActionOf(route), "");
    if (!recorded.ok()) return fail(recorded);
    return Problem(error, rid, std::move(detail));
  };
  if (!req.query.empty()) return invalid(ApiError::kInvalidRequest, "this route takes no query");
  const bool set = route == Route::kSupportMeasures;
  ApiError body_error = ApiError::kInvalidRequest;
  auto body = set ? ParseBody(req, {"resident_code", "valid_until"}, &body_error)
                  : ParseBody(req, {"resident_code"}, &body_error);
  if (!body.ok()) return invalid(body_error, body.status().message());
  auto code = StringMember(*body, "resident_code", 11);
  if (!code.ok() || !*code || !IsResidentCodeShape(**code)) {
    return invalid(ApiError::kInvalidRequest, "resident_code must be 11 digits");
  }
  std::string o = "{\"resident_code\":";
  text::AppendJsonString(**code, &o);
  if (set) {
    auto until = StringMember(*body, "valid_until", 10);
    if (!until.ok() || !*until) {
      return invalid(ApiError::kInvalidRequest, "valid_until is required (YYYY-MM-DD)");
    }
    auto done = gateway.SetSupportMeasure(client, req.remote_address, **code, **until);
    if (!done.ok()) return fail(done.status());
    o += ",\"valid_until\":\"" + *done + "\",\"status\":\"in_force\"}";
    return JsonResponse(std::move(o));
  }
  Status st = gateway.EndSupportMeasure(client, req.remote_address, **code);
  if (!st.ok()) return fail(st);
  return JsonResponse(o + ",\"status\":\"ended\"}");
}

}  // namespace

http::Response Service::Handle(const Request& req) {
  const std::string& rid = req.request_id;
  auto fail = [&](const Status& st) { return Problem(FromStatus(st), rid); };
  // Every request, health checks included, comes from a registered system.
  const Match match = MatchPath(req.path);
  const Asked asked = AskedBy(req, match);
  auto client = gateway_->Authenticate(req.client_spki_sha256, req.remote_address, asked.codes,
                                       asked.purpose);
  if (!client.ok()) return fail(client.status());
  // A registered system calling a route that is not there, or with another method, is refused
  // and recorded like any other malformed call (found in review: only the access log had it).
  if (match.route == Route::kUnknown || req.method != MethodOf(match.route)) {
    Status recorded = gateway_->RecordInvalidRequest(
        registry::Caller::ForClient(*client, req.remote_address), "client.refused", "");
    if (!recorded.ok()) return fail(recorded);
  }
  if (match.route == Route::kUnknown) return Problem(ApiError::kRouteNotFound, rid);
  if (req.method != MethodOf(match.route)) {
    Response r = Problem(ApiError::kMethodNotAllowed, rid);
    r.headers.emplace_back("allow", MethodOf(match.route));
    return r;
  }
  const std::string& terminal = req.remote_address;

  switch (match.route) {
    case Route::kHealthz:
      return JsonResponse("{\"status\":\"ok\"}");
    case Route::kReadyz: {
      Status st = gateway_->CheckRunning();
      if (st.ok() && readiness_) st = readiness_();
      // Which state of the link, by its reason (link_down, link_resync,
      // link_sequence_conflict): the code alone says only "unavailable".
      if (!st.ok() && !st.reason().empty() && st.reason().starts_with("link_")) {
        return Problem(FromStatus(st), rid, std::string(st.reason()) + ": " + st.message());
      }
      if (!st.ok()) return fail(st);
      return JsonResponse("{\"status\":\"ready\"}");
    }
    case Route::kMetrics: {
      auto since = gateway_->HaltedSince();
      Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = metrics_ == nullptr ? std::string() : metrics_->Render(since.ok() && *since);
      if (extra_metrics_) r.body += extra_metrics_();
      return r;
    }
    case Route::kOpenApi:
      return JsonResponse(std::string(OpenApiDocument()));
    default:
      break;
  }

  // The /v1/ use cases: none while halted (the refusal recorded).
  if (Status st = gateway_->CheckRunningFor(registry::Caller::ForClient(*client, terminal),
                                            ActionOf(match.route), asked.codes, asked.purpose);
      !st.ok()) {
    return fail(st);
  }
  ApiError body_error = ApiError::kInvalidRequest;

  if (IsResidentRoute(req.path)) {
    return ServeResidentRoute(req, *gateway_, registry::Caller::ForClient(*client, terminal));
  }
  switch (match.route) {
    case Route::kNotifications: {
      // A request refused whole is recorded (notification.refused, the reason only).
      auto invalid = [&](ApiError error, std::string detail) {
        Status recorded = gateway_->RecordInvalidRequest(
            registry::Caller::ForClient(*client, terminal), ActionOf(match.route), "");
        if (!recorded.ok()) return fail(recorded);
        return Problem(error, rid, std::move(detail));
      };
      if (Status may = gateway_->MayNotify(*client, terminal); !may.ok()) return fail(may);
      auto body = ParseBody(req, {"notifications"}, &body_error);
      if (!body.ok()) return invalid(body_error, "");
      const text::JsonValue* list = body->Find("notifications");
      if (list == nullptr || !list->is_array() || list->items().empty() ||
          list->items().size() > registry::kMaxNotificationsPerRequest) {
        return invalid(ApiError::kInvalidRequest,
                       "notifications must be an array of 1 to 1000 notifications");
      }
      std::vector<const text::JsonValue*> items;
      for (const auto& item : list->items()) items.push_back(&item);
      auto results = gateway_->Notify(*client, items, terminal);
      if (!results.ok()) return fail(results.status());
      if (after_notify_) after_notify_();
      std::string o = "{\"results\":[";
      for (size_t i = 0; i < results->size(); ++i) {
        const registry::ApplyResult& r = (*results)[i];
        if (i > 0) o += ",";
        o += "{\"index\":" + std::to_string(i) + ",\"ok\":" + (r.ok() ? "true" : "false");
        if (r.duplicate) o += ",\"duplicate\":true";
        if (!r.ok()) {
          o += ",\"errors\":[";
          for (size_t j = 0; j < r.errors.size(); ++j) {
            if (j > 0) o += ",";
            o += "{\"field\":";
            text::AppendJsonString(r.errors[j].field, &o);
            o += ",\"code\":\"" + std::string(ErrorCodeName(r.errors[j].code)) + "\"";
            AppendSuccessorsJson(r.errors[j], &o);
            o += "}";
          }
          o += "]";
        }
        o += "}";
      }
      o += "]}";
      return JsonResponse(std::move(o));
    }
    case Route::kLinkChanges:
      return ServeLinkChanges(req, *gateway_, national_, *client);
    case Route::kCorrections:
    case Route::kCorrectionResult:
      return ServeCorrections(req, match.route, match.resident_code, *client, gateway_,
                              disclosures_);
    case Route::kSupportMeasures:
    case Route::kSupportMeasureEnd:
      return ServeSupportMeasure(req, match.route, *client, *gateway_);

    default:
      return Problem(ApiError::kRouteNotFound, rid);
  }
}


}  // namespace kakunin::api
