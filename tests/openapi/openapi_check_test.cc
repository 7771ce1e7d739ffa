#include "openapi/openapi_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace kakunin::testing {
namespace {

using ::testing::HasSubstr;

// ---------------------------------------------------------------- helpers

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

OpenApiChecker MustLoad(std::string_view json) {
  Result<OpenApiChecker> c = OpenApiChecker::Load(json);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok()) std::abort();
  return *c;
}

// A minimal document whose components/schemas/S is `schema`.
std::string DocWithSchema(std::string_view schema) {
  return R"({"openapi":"3.1.0","info":{"title":"t","version":"1"},
    "paths":{"/items/{id}":{
      "parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],
      "get":{"responses":{"200":{"description":"d",
        "content":{"application/json":{"schema":{"$ref":"#/components/schemas/S"}}}}}}}},
    "components":{"schemas":{"S":)" +
         std::string(schema) + R"(,"T":{"type":"integer"}}}})";
}

// Checks `json` against the schema `schema`.
Status CheckAgainst(std::string_view schema, std::string_view json) {
  Result<OpenApiChecker> c = OpenApiChecker::Load(DocWithSchema(schema));
  if (!c.ok()) return c.status();
  return c->CheckJson("#/components/schemas/S", json);
}

#define EXPECT_MATCHES(schema, json)                         \
  do {                                                       \
    Status _st = CheckAgainst(schema, json);                 \
    EXPECT_TRUE(_st.ok()) << json << ": " << _st.ToString(); \
  } while (0)

#define EXPECT_MISMATCH(schema, json, fragment)                                            \
  do {                                                                                     \
    Status _st = CheckAgainst(schema, json);                                               \
    EXPECT_EQ(_st.code(), StatusCode::kInvalidArgument) << json << ": " << _st.ToString(); \
    EXPECT_THAT(_st.message(), HasSubstr(fragment)) << json;                               \
  } while (0)

// ---------------------------------------------------------------- the real document

class ApiDocumentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    document_ = new std::string(ReadFile(KAKUNIN_OPENAPI_JSON));
    Result<OpenApiChecker> c = OpenApiChecker::Load(*document_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    checker_ = new OpenApiChecker(*c);
  }
  static void TearDownTestSuite() {
    delete checker_;
    delete document_;
  }

  static Status Check(std::string_view method, std::string_view path, int status,
                      std::string_view body, std::string_view content_type = "") {
    if (content_type.empty()) {
      content_type = status < 400 ? "application/json" : "application/problem+json";
    }
    return checker_->CheckResponse(method, path, status, content_type, body);
  }

  static Status Json(std::string_view schema, std::string_view json) {
    return checker_->CheckJson(std::string("#/components/schemas/") + std::string(schema), json);
  }

  static std::string* document_;
  static OpenApiChecker* checker_;
};

std::string* ApiDocumentTest::document_ = nullptr;
OpenApiChecker* ApiDocumentTest::checker_ = nullptr;

#define EXPECT_OK(expr)                      \
  do {                                       \
    Status _st = (expr);                     \
    EXPECT_TRUE(_st.ok()) << _st.ToString(); \
  } while (0)

#define EXPECT_REJECTED(expr, fragment)                                    \
  do {                                                                     \
    Status _st = (expr);                                                   \
    EXPECT_EQ(_st.code(), StatusCode::kInvalidArgument) << _st.ToString(); \
    EXPECT_THAT(_st.message(), HasSubstr(fragment));                       \
  } while (0)

constexpr std::string_view kRecord =
    R"({"resident_code":"24727059608","individual_number":"123456789018","name":"藤井 明",)"
    R"("name_kana":"フジイ アキ","sex":"female","birth_date":"1980-04-01",)"
    R"("address":"山梨県甲府市丸の内一丁目1番1号","municipality_code":"192015"})";

std::string Lookup(std::string_view record) {
  return R"({"resident_code":"24727059608","purpose":"pref.passport","record":)" +
         std::string(record) + "}";
}

std::string Problem(int status, std::string_view code) {
  return R"({"type":"urn:kakunin:problem:)" + std::string(code) + R"(","title":"a title",)" +
         R"("status":)" + std::to_string(status) + R"(,"code":")" + std::string(code) +
         R"(","request_id":"5f0c2a9e7b1d4c3a8e6f0b2d9c7a1e4f"})";
}

TEST_F(ApiDocumentTest, DocumentIsComplete) {
  EXPECT_OK(checker_->CheckDocument());
  // The document describes itself.
  EXPECT_OK(Check("GET", "/v1/openapi.json", 200, *document_));
}

TEST_F(ApiDocumentTest, EveryEndpointIsDescribed) {
  EXPECT_OK(Check("POST", "/v1/notifications", 200, R"({"results":[{"index":0,"ok":true}]})"));
  EXPECT_OK(Check("GET", "/v1/residents/24727059608", 200, Lookup(kRecord)));
  EXPECT_OK(Check("GET", "/v1/residents/24727059608/history", 404, Problem(404, "not_found")));
  EXPECT_OK(Check("POST", "/v1/residents/search", 200,
                  R"({"purpose":"p","results":[],"truncated":false})"));
  EXPECT_OK(Check("POST", "/v1/provisions", 403, Problem(403, "purpose_not_permitted")));
  EXPECT_OK(Check("GET", "/healthz", 200, R"({"status":"ok"})"));
  EXPECT_OK(Check("GET", "/readyz", 200, R"({"status":"ready"})"));
  EXPECT_OK(Check("GET", "/metrics", 200, "# TYPE x counter\nx 1\n",
                  "text/plain; version=0.0.4; charset=utf-8"));
}

TEST_F(ApiDocumentTest, NotificationResults) {
  const char* ok = R"({"results":[{"index":0,"ok":true},
      {"index":1,"ok":false,"errors":[{"field":"sex","code":"enum"}]},
      {"index":2,"ok":true,"duplicate":true}]})";
  // "enum" is not one of the contract's codes (docs/api.md's example says so, but the
  // contract's code for a value not in the list is unknown_value).
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 200, ok), "/results/1/errors/0/code");
  EXPECT_OK(Check("POST", "/v1/notifications", 200,
                  R"({"results":[{"index":0,"ok":true},
      {"index":1,"ok":false,"errors":[{"field":"sex","code":"unknown_value"},
                                      {"field":"record","code":"sequence_gap"}]},
      {"index":2,"ok":true,"duplicate":true}]})"));

  EXPECT_REJECTED(
      Check("POST", "/v1/notifications", 200, R"({"results":[{"index":-1,"ok":true}]})"),
      "/results/0/index: less than minimum 0");
  EXPECT_REJECTED(
      Check("POST", "/v1/notifications", 200, R"({"results":[{"index":"0","ok":true}]})"),
      "/results/0/index: expected integer, got string");
  EXPECT_REJECTED(
      Check("POST", "/v1/notifications", 200, R"({"results":[{"index":0.0,"ok":true}]})"),
      "/results/0/index: expected integer, got number");
  EXPECT_REJECTED(
      Check("POST", "/v1/notifications", 200, R"({"results":[{"index":0,"ok":"true"}]})"),
      "/results/0/ok: expected boolean");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 200, R"({"results":[{"index":0}]})"),
                  "missing required member 'ok'");
  EXPECT_REJECTED(
      Check("POST", "/v1/notifications", 200, R"({"results":[{"index":0,"ok":true,"line":1}]})"),
      "/results/0/line: unexpected member");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 200, R"({"results":[]})"),
                  "/results: fewer items than minItems 1");
  EXPECT_REJECTED(
      Check("POST", "/v1/notifications", 200, R"({"results":[{"index":0,"ok":true}],"x":1})"),
      "/x: unexpected member");
  // ok false needs errors; ok true has none; a rejection is never a duplicate.
  EXPECT_REJECTED(
      Check("POST", "/v1/notifications", 200, R"({"results":[{"index":0,"ok":false}]})"), "oneOf");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 200,
                        R"({"results":[{"index":0,"ok":true,
                            "errors":[{"field":"sex","code":"unknown_value"}]}]})"),
                  "oneOf");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 200,
                        R"({"results":[{"index":0,"ok":false,"duplicate":true,
                            "errors":[{"field":"sex","code":"unknown_value"}]}]})"),
                  "oneOf");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 200,
                        R"({"results":[{"index":0,"ok":false,"errors":[]}]})"),
                  "minItems");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 200,
                        R"({"results":[{"index":0,"ok":false,"errors":[{"field":"sex"}]}]})"),
                  "missing required member 'code'");
}

TEST_F(ApiDocumentTest, Problems) {
  EXPECT_OK(Check("POST", "/v1/notifications", 403, Problem(403, "sender_mismatch")));
  EXPECT_OK(Check("POST", "/v1/notifications", 400, Problem(400, "invalid_request")));
  EXPECT_OK(Check("POST", "/v1/notifications", 415, Problem(415, "unsupported_media_type")));
  EXPECT_OK(Check("POST", "/v1/notifications", 503, Problem(503, "halted")));
  EXPECT_OK(Check("POST", "/v1/notifications", 400,
                  R"({"type":"urn:kakunin:problem:invalid_request","title":"invalid request",
                      "status":400,"code":"invalid_request",
                      "detail":"notifications must hold 1 to 1000 notifications"})"));

  // A problem without code (what the HTTP layer writes today) fails.
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 413,
                        R"({"type":"about:blank","title":"Content Too Large","status":413})"),
                  "missing required member 'code'");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 403,
                        R"({"type":"urn:kakunin:problem:sender_mismatch","title":"t",
                            "status":403})"),
                  "(root): missing required member 'code'");
  // The code must belong to the status, and the body's status must be the response's.
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 403, Problem(403, "purpose_not_permitted")),
                  "/code: value not in enum");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608", 403, Problem(403, "sender_mismatch")),
                  "/code: value not in enum");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 403, Problem(400, "sender_mismatch")),
                  "/status: value is not the const");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 403, Problem(403, "no_such_code")),
                  "/code: value not in enum");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 403,
                        R"({"type":"urn:kakunin:problem:sender_mismatch","title":"t",
                            "status":403,"code":"sender_mismatch","name":"藤井"})"),
                  "/name: unexpected member");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 403,
                        R"({"type":"about:blank","title":"t","status":403,
                            "code":"sender_mismatch"})"),
                  "/type: does not match pattern");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 403,
                        R"({"type":"urn:kakunin:problem:sender_mismatch","title":"t",
                            "status":"403","code":"sender_mismatch"})"),
                  "/status: expected integer, got string");
  // A problem is application/problem+json, not application/json.
  EXPECT_REJECTED(
      Check("POST", "/v1/notifications", 403, Problem(403, "sender_mismatch"), "application/json"),
      "content type 'application/json' not declared");
  // Statuses the operation does not have.
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 404, Problem(404, "not_found")),
                  "status not declared");
  EXPECT_REJECTED(Check("POST", "/v1/notifications", 201, R"({"results":[]})"),
                  "status not declared");
  EXPECT_REJECTED(Check("GET", "/healthz", 503, Problem(503, "halted")), "value not in enum");
  EXPECT_REJECTED(Check("GET", "/healthz", 415, Problem(415, "unsupported_media_type")),
                  "status not declared");
}

TEST_F(ApiDocumentTest, Lookup) {
  EXPECT_OK(Check("GET", "/v1/residents/24727059608", 200, Lookup(kRecord)));
  EXPECT_OK(Check("GET", "/v1/residents/24727059608", 200, Lookup(R"({"name":"藤井 明"})")));
  EXPECT_OK(Check("GET", "/v1/residents/24727059608", 200, Lookup("{}")));
  EXPECT_OK(Check("GET", "/v1/residents/24727059608", 404, Problem(404, "not_found")));

  EXPECT_REJECTED(
      Check("GET", "/v1/residents/24727059608", 200, Lookup(R"({"name":"藤井 明","purpose":"x"})")),
      "/record/purpose: unexpected member");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608", 200, Lookup(R"({"sex":"other"})")),
                  "/record/sex: value not in enum");
  EXPECT_REJECTED(
      Check("GET", "/v1/residents/24727059608", 200, Lookup(R"({"birth_date":"1980-4-1"})")),
      "/record/birth_date: does not match pattern");
  EXPECT_REJECTED(
      Check("GET", "/v1/residents/24727059608", 200, Lookup(R"({"municipality_code":192015})")),
      "/record/municipality_code: expected string, got integer");
  EXPECT_REJECTED(
      Check("GET", "/v1/residents/24727059608", 200, Lookup(R"({"resident_code":"2472705960"})")),
      "/record/resident_code: does not match pattern");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608", 200, Lookup(R"({"name":""})")),
                  "/record/name: shorter than minLength 1");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608", 200, Lookup(R"({"alias":null})")),
                  "/record/alias: expected string, got null");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608", 200,
                        R"({"resident_code":"24727059608","record":{}})"),
                  "missing required member 'purpose'");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608", 404, Problem(404, "route_not_found")),
                  "/code: value not in enum");
  // Duplicate keys and text that is not UTF-8 are errors whatever the schema.
  EXPECT_REJECTED(
      Check("GET", "/v1/residents/24727059608", 200, Lookup(R"({"name":"a","name":"b"})")),
      "/record/name: duplicate key");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608", 200, Lookup("{\"name\":\"\xff\"}")),
                  "/record/name: string is not well-formed UTF-8");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608", 200, "{\"resident_code\":"),
                  "the body is not JSON");
}

TEST_F(ApiDocumentTest, History) {
  std::string body = R"({"resident_code":"24727059608","purpose":"national.forwarding",
      "versions":[{"change":"amendment","reason":"moved_within","change_date":"2026-03-01",
                   "current":true,"record":)" +
                     std::string(kRecord) + R"(},
                  {"change":"entry","reason":"birth","change_date":"1980-04-01","current":false,
                   "record":{}}]})";
  EXPECT_OK(Check("GET", "/v1/residents/24727059608/history", 200, body));
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608/history", 200,
                        R"({"resident_code":"24727059608","purpose":"p","versions":[
                            {"change":"entry|removal","reason":"birth",
                             "change_date":"1980-04-01","current":true,"record":{}}]})"),
                  "/versions/0/change: value not in enum");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608/history", 200,
                        R"({"resident_code":"24727059608","purpose":"p","versions":[
                            {"change":"entry","reason":"birth","current":true,"record":{}}]})"),
                  "/versions/0: missing required member 'change_date'");
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608/history", 200,
                        R"({"resident_code":"24727059608","purpose":"p","versions":[
                            {"change":"entry","reason":"birth","change_date":"1980-04-01",
                             "record":{}}]})"),
                  "/versions/0: missing required member 'current'");
  // The lookup's shape is not the history's.
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608/history", 200, Lookup(kRecord)),
                  "missing required member 'versions'");
}

TEST_F(ApiDocumentTest, PathsAndMethods) {
  // A template matches one non-empty segment; the literal /v1/residents/search wins over
  // /v1/residents/{resident_code}.
  EXPECT_OK(Check("POST", "/v1/residents/search", 200,
                  R"({"purpose":"p","results":[{"handle":"h_0123456789abcdef0123456789abcdef",
                                  "record":{"name":"藤井 明"}}],"truncated":true})"));
  EXPECT_OK(Check("GET", "/v1/residents/search", 405, Problem(405, "method_not_allowed")));
  EXPECT_REJECTED(Check("GET", "/v1/residents/search", 200, Lookup(kRecord)),
                  "status not declared");
  EXPECT_OK(Check("DELETE", "/v1/residents/24727059608", 405, Problem(405, "method_not_allowed")));
  EXPECT_OK(Check("get", "/healthz", 200, R"({"status":"ok"})"));
  // Unknown routes, including an empty segment where a template is.
  EXPECT_OK(Check("GET", "/v1/residents//history", 404, Problem(404, "route_not_found")));
  EXPECT_OK(Check("GET", "/v2/anything", 404, Problem(404, "route_not_found")));
  EXPECT_OK(Check("GET", "/v2/anything", 403, Problem(403, "client_not_registered")));
  EXPECT_REJECTED(Check("GET", "/v2/anything", 200, R"({"status":"ok"})"), "status not declared");
  EXPECT_REJECTED(Check("GET", "/healthz/", 200, R"({"status":"ok"})"), "status not declared");
  EXPECT_REJECTED(Check("GET", "/healthz?x=1", 200, R"({"status":"ok"})"), "no query");
}

TEST_F(ApiDocumentTest, SearchAndProvisions) {
  EXPECT_REJECTED(Check("POST", "/v1/residents/search", 200, R"({"purpose":"p","results":[]})"),
                  "missing required member 'truncated'");
  EXPECT_REJECTED(Check("POST", "/v1/residents/search", 200,
                        R"({"purpose":"P!","results":[],"truncated":false})"),
                  "/purpose: does not match pattern");

  EXPECT_OK(Check("POST", "/v1/provisions", 200,
                  R"({"purpose":"p","results":[
                      {"resident_code":"24727059608","found":true,"record":{"name":"藤井 明"}},
                      {"resident_code":"12345678901","found":false}]})"));
  EXPECT_REJECTED(Check("POST", "/v1/provisions", 200,
                        R"({"purpose":"p","results":[
                            {"resident_code":"12345678901","found":false,"record":{}}]})"),
                  "/results/0: matches none of the oneOf alternatives");
  EXPECT_REJECTED(Check("POST", "/v1/provisions", 200,
                        R"({"purpose":"p","results":[
                            {"resident_code":"12345678901","found":true}]})"),
                  "/results/0: matches none of the oneOf alternatives");
  EXPECT_REJECTED(Check("POST", "/v1/provisions", 200, R"({"purpose":"p","results":[]})"),
                  "/results: fewer items than minItems 1");
}

TEST_F(ApiDocumentTest, Operations) {
  EXPECT_OK(Check("GET", "/readyz", 503, Problem(503, "halted")));
  EXPECT_OK(Check("GET", "/readyz", 503, Problem(503, "unavailable")));
  EXPECT_REJECTED(Check("GET", "/healthz", 200, R"({"status":"ready"})"),
                  "/status: value is not the const");
  EXPECT_REJECTED(Check("GET", "/readyz", 200, R"({"status":"ready","halted":false})"),
                  "/halted: unexpected member");
  EXPECT_REJECTED(Check("GET", "/metrics", 200, "{}", "application/json"),
                  "content type 'application/json' not declared");
  EXPECT_REJECTED(Check("GET", "/metrics", 200, "x \xff\n", "text/plain"), "UTF-8");
  EXPECT_REJECTED(
      Check("GET", "/v1/openapi.json", 200, R"({"openapi":"3.0.3","info":{},"paths":{}})"),
      "/openapi: value is not the const");
}

TEST_F(ApiDocumentTest, RequestBodies) {
  EXPECT_OK(Json("SearchRequest", R"({"purpose":"p","individual_number":"123456789018"})"));
  EXPECT_OK(Json("SearchRequest",
                 R"({"purpose":"p","name_kana":"ﾌｼﾞｲ ｱｷ","birth_date":"1980-04-01","limit":20})"));
  EXPECT_REJECTED(Json("SearchRequest", R"({"purpose":"p","birth_date":"1980-04-01"})"),
                  "matches none of the oneOf alternatives");
  EXPECT_REJECTED(Json("SearchRequest", R"({"purpose":"p","individual_number":"123456789018",
                                            "name":"x","birth_date":"1980-04-01"})"),
                  "matches none of the oneOf alternatives");
  EXPECT_REJECTED(
      Json("SearchRequest", R"({"purpose":"p","name":"x","birth_date":"1980-04-01","limit":101})"),
      "greater than maximum 100");
  EXPECT_OK(Json("ProvisionRequest", R"({"purpose":"p","resident_codes":["24727059608"]})"));
  EXPECT_REJECTED(Json("ProvisionRequest", R"({"purpose":"p","resident_codes":[]})"),
                  "fewer items than minItems 1");
  EXPECT_REJECTED(Json("NotificationRequest", R"({"notifications":[]})"), "minItems");
  EXPECT_OK(Json("NotificationRequest",
                 R"({"notifications":[{"municipality_code":"192015","sequence":1,"kind":"entry",
                    "reason":"birth","change_date":"2026-04-01","resident_code":"24727059608",
                    "individual_number":"123456789018","name":"藤井 明","sex":"female",
                    "birth_date":"2026-04-01","address":"山梨県甲府市丸の内一丁目1番1号"}]})"));
}

TEST_F(ApiDocumentTest, ConsoleSessions) {
  const std::string csrf(64, 'a');
  EXPECT_OK(Check("POST", "/v1/session/login", 200,
                  R"({"stage":"second_factor","csrf_token":")" + csrf + R"("})"));
  EXPECT_OK(Check("POST", "/v1/session/login", 401, Problem(401, "login_failed")));
  EXPECT_REJECTED(Check("POST", "/v1/session/login", 200,
                        R"({"stage":"locked","csrf_token":")" + csrf + R"("})"),
                  "/stage: value not in enum");
  EXPECT_REJECTED(Check("POST", "/v1/session/login", 200,
                        R"({"stage":"active","csrf_token":")" + csrf + R"(","operator_id":"a"})"),
                  "/operator_id: unexpected member");
  EXPECT_OK(Check("POST", "/v1/session/webauthn/options", 200,
                  R"({"publicKey":{"challenge":"q83v","rpId":"console.example",
                      "allowCredentials":[{"type":"public-key","id":"AAEC"}],
                      "userVerification":"required","timeout":60000}})"));
  EXPECT_REJECTED(Check("POST", "/v1/session/webauthn/options", 200,
                        R"({"publicKey":{"challenge":"q83v","rpId":"console.example",
                            "allowCredentials":[{"type":"public-key","id":"AA=="}],
                            "userVerification":"required","timeout":60000}})"),
                  "/publicKey/allowCredentials/0/id: does not match pattern");
  EXPECT_OK(Check("GET", "/v1/session", 200,
                  R"({"operator_id":"chief","name":"山田 花子","unit":"","roles":["security_chief"],
                      "nominations":[{"purpose":"pref.passport","title":"一般旅券","kind":"internal_use","from":"2026-04-01",
                                      "to":"2027-03-31"}],
                      "stage":"active","idle_lock_seconds":300,"csrf_token":")" +
                      csrf + R"("})"));
  // Before the second factor, or locked: only the next step, nobody's name, roles or purposes.
  EXPECT_OK(Check("GET", "/v1/session", 200,
                  R"({"stage":"second_factor","csrf_token":")" + csrf + R"("})"));
  EXPECT_REJECTED(Check("GET", "/v1/session", 200,
                        R"({"operator_id":"chief","name":"山田 花子","unit":"","roles":[],
                            "nominations":[],"stage":"locked","idle_lock_seconds":300,
                            "csrf_token":")" + csrf + R"("})"),
                  "matches none of the oneOf alternatives");
  // The session endpoints answer session_required, never session_locked.
  EXPECT_OK(Check("POST", "/v1/session/logout", 401, Problem(401, "session_required")));
  EXPECT_REJECTED(Check("GET", "/v1/session", 401, Problem(401, "session_locked")),
                  "/code: value not in enum");
  EXPECT_OK(Check("POST", "/v1/session/logout", 403, Problem(403, "csrf_failed")));
  EXPECT_OK(Check("POST", "/v1/session/logout", 200, R"({"status":"signed_out"})"));
  EXPECT_OK(Check("DELETE", "/v1/session", 405, Problem(405, "method_not_allowed")));
}

TEST_F(ApiDocumentTest, ConsoleEnrolmentAndRegister) {
  EXPECT_OK(Check("POST", "/v1/enrolment/options", 200,
                  R"({"operator_id":"a.sato","name":"佐藤 一郎","publicKey":{"challenge":"q83v",
                      "rp":{"id":"console.example","name":"Kakunin"},
                      "user":{"id":"YS5zYXRv","name":"a.sato","displayName":"佐藤 一郎"},
                      "pubKeyCredParams":[{"type":"public-key","alg":-7},
                                          {"type":"public-key","alg":-8}],
                      "authenticatorSelection":{"userVerification":"required",
                                                "residentKey":"preferred"},
                      "attestation":"none","timeout":60000}})"));
  EXPECT_OK(Check("POST", "/v1/enrolment/finish", 404, Problem(404, "not_found")));
  EXPECT_OK(Check("GET", "/v1/operators", 200,
                  R"({"operators":[{"operator_id":"chief","name":"山田 花子","unit":"総務課",
                      "status":"active","roles":["security_chief","operator"]}]})"));
  EXPECT_REJECTED(Check("GET", "/v1/operators", 200,
                        R"({"operators":[{"operator_id":"chief","name":"n","unit":"",
                            "status":"pending","roles":[]}]})"),
                  "/operators/0/status: value not in enum");
  EXPECT_OK(Check("POST", "/v1/operators", 201, R"({"operator_id":"a.sato"})"));
  EXPECT_REJECTED(Check("POST", "/v1/operators", 201,
                        R"({"operator_id":"a.sato","enrolment_token":"tok"})"),
                  "unexpected member");  // the creator never holds the enrolment link
  EXPECT_OK(Check("POST", "/v1/operators/a.sato/enrolment", 201,
                  R"({"operator_id":"a.sato","enrolment_token":"tok"})"));
  EXPECT_REJECTED(Check("POST", "/v1/operators", 200, R"({"operator_id":"a.sato"})"),
                  "status not declared");
  EXPECT_OK(Check("POST", "/v1/session/login", 429, Problem(429, "too_many_requests")));
  EXPECT_OK(Check("POST", "/v1/operators/a.sato/role-requests", 201, R"({"request_id":3})"));
  EXPECT_OK(Check("POST", "/v1/role-requests/3/approve", 200,
                  R"({"request_id":3,"status":"approved"})"));
  EXPECT_OK(Check("POST", "/v1/operators/a.sato/status", 200,
                  R"({"operator_id":"a.sato","status":"suspended"})"));
  EXPECT_OK(Check("POST", "/v1/operators/a.sato/nominations", 201,
                  R"({"operator_id":"a.sato","purpose":"pref.passport"})"));
  EXPECT_OK(Check("POST", "/v1/operators/a.sato/certificates", 409, Problem(409, "conflict")));
  EXPECT_OK(Check("POST", "/v1/role-requests/3/approve", 401, Problem(401, "session_locked")));
  EXPECT_OK(Check("POST", "/v1/operators", 403, Problem(403, "not_permitted")));
  EXPECT_REJECTED(Check("GET", "/v1/operators", 403, Problem(403, "csrf_failed")),
                  "/code: value not in enum");
  EXPECT_REJECTED(Check("GET", "/v1/operators", 409, Problem(409, "conflict")),
                  "status not declared");
  EXPECT_OK(Check("GET", "/v1/operators/a.sato/status", 405, Problem(405, "method_not_allowed")));
}

TEST_F(ApiDocumentTest, ConsoleResidentRoutes) {
  // The console serves the resident routes too: sessions, nominations, CSRF on POST.
  EXPECT_OK(Check("GET", "/v1/residents/24727059608", 401, Problem(401, "session_locked")));
  EXPECT_OK(Check("GET", "/v1/residents/24727059608/history", 403, Problem(403, "not_nominated")));
  EXPECT_OK(Check("POST", "/v1/residents/search", 403, Problem(403, "csrf_failed")));
  EXPECT_OK(Check("POST", "/v1/provisions", 401, Problem(401, "session_required")));
  EXPECT_REJECTED(Check("GET", "/v1/residents/24727059608", 403, Problem(403, "csrf_failed")),
                  "/code: value not in enum");
  EXPECT_REJECTED(Check("POST", "/v1/provisions", 401, Problem(401, "login_failed")),
                  "/code: value not in enum");
  // A code belongs to its status.
  EXPECT_REJECTED(Check("POST", "/v1/provisions", 403, Problem(401, "not_nominated")),
                  "/status: value is not the const");
}

// ---------------------------------------------------------------- keywords, on small documents

TEST(OpenApiKeywordTest, Type) {
  EXPECT_MATCHES(R"({"type":"string"})", R"("x")");
  EXPECT_MISMATCH(R"({"type":"string"})", "1", "(root): expected string, got integer");
  EXPECT_MATCHES(R"({"type":"integer"})", "-12");
  EXPECT_MISMATCH(R"({"type":"integer"})", "1.0", "expected integer, got number");
  EXPECT_MISMATCH(R"({"type":"integer"})", "1e3", "expected integer, got number");
  EXPECT_MATCHES(R"({"type":"number"})", "1");
  EXPECT_MATCHES(R"({"type":"number"})", "1.5e3");
  EXPECT_MATCHES(R"({"type":"boolean"})", "false");
  EXPECT_MISMATCH(R"({"type":"boolean"})", "0", "expected boolean");
  EXPECT_MATCHES(R"({"type":"null"})", "null");
  EXPECT_MATCHES(R"({"type":"array"})", "[]");
  EXPECT_MATCHES(R"({"type":"object"})", "{}");
  EXPECT_MISMATCH(R"({"type":"object"})", "[]", "expected object, got array");
  EXPECT_MATCHES(R"({"type":["string","null"]})", "null");
  EXPECT_MISMATCH(R"({"type":["string","null"]})", "{}", "expected one of [string, null]");
  EXPECT_MATCHES("{}", R"({"anything":[1,"x",null]})");
}

TEST(OpenApiKeywordTest, Objects) {
  const char* s = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},
                      "required":["a"],"additionalProperties":false})";
  EXPECT_MATCHES(s, R"({"a":1})");
  EXPECT_MATCHES(s, R"({"a":1,"b":"x"})");
  EXPECT_MISMATCH(s, R"({"b":"x"})", "(root): missing required member 'a'");
  EXPECT_MISMATCH(s, R"({"a":1,"c":2})", "/c: unexpected member (additionalProperties is false)");
  EXPECT_MISMATCH(s, R"({"a":"1"})", "/a: expected integer, got string");
  EXPECT_MISMATCH(s, R"({"a":1,"a":1})", "/a: duplicate key");
  EXPECT_MISMATCH(s, R"({"a":1,"b":"x","b":"y"})", "/b: duplicate key");
  // additionalProperties as a schema; absent means anything.
  EXPECT_MATCHES(R"({"additionalProperties":{"type":"integer"}})", R"({"x":1,"y":2})");
  EXPECT_MISMATCH(R"({"additionalProperties":{"type":"integer"}})", R"({"x":1,"y/z":"2"})",
                  "/y~1z: expected integer");
  EXPECT_MATCHES(R"({"properties":{"a":{"type":"integer"}}})", R"({"b":"x"})");
  // properties/required only constrain objects.
  EXPECT_MATCHES(R"({"required":["a"]})", "3");
}

TEST(OpenApiKeywordTest, Arrays) {
  const char* s = R"({"type":"array","items":{"type":"integer","minimum":0},
                      "minItems":1,"maxItems":2})";
  EXPECT_MATCHES(s, "[0]");
  EXPECT_MATCHES(s, "[0,5]");
  EXPECT_MISMATCH(s, "[]", "(root): fewer items than minItems 1");
  EXPECT_MISMATCH(s, "[1,2,3]", "(root): more items than maxItems 2");
  EXPECT_MISMATCH(s, "[1,-1]", "/1: less than minimum 0");
  EXPECT_MISMATCH(R"({"items":false})", "[1]", "/0: not allowed (the schema is false)");
  EXPECT_MATCHES(R"({"items":false})", "[]");
}

TEST(OpenApiKeywordTest, EnumAndConst) {
  EXPECT_MATCHES(R"({"enum":["a",1,null,{"k":[true]}]})", R"("a")");
  EXPECT_MATCHES(R"({"enum":["a",1,null,{"k":[true]}]})", "1.0");  // numbers by value
  EXPECT_MATCHES(R"({"enum":["a",1,null,{"k":[true]}]})", "null");
  EXPECT_MATCHES(R"({"enum":["a",1,null,{"k":[true]}]})", R"({"k":[true]})");
  EXPECT_MISMATCH(R"({"enum":["a",1,null,{"k":[true]}]})", R"({"k":[false]})", "not in enum");
  EXPECT_MISMATCH(R"({"enum":["a",1,null]})", R"("A")", "(root): value not in enum");
  EXPECT_MISMATCH(R"({"enum":["a",1,null]})", R"("1")", "value not in enum");
  EXPECT_MATCHES(R"({"const":true})", "true");
  EXPECT_MISMATCH(R"({"const":true})", "1", "value is not the const");
  EXPECT_MISMATCH(R"({"const":{"a":1}})", R"({"a":1,"b":2})", "value is not the const");
  EXPECT_MATCHES(R"({"const":{"a":1,"b":2}})", R"({"b":2,"a":1})");
}

TEST(OpenApiKeywordTest, Strings) {
  EXPECT_MATCHES(R"({"pattern":"^\\d{3}$"})", R"("123")");
  EXPECT_MISMATCH(R"({"pattern":"^\\d{3}$"})", R"("1234")", "does not match pattern ^\\d{3}$");
  EXPECT_MATCHES(R"({"pattern":"b"})", R"("abc")");  // unanchored, as in JSON Schema
  EXPECT_MATCHES(R"({"pattern":"b"})", "1");         // only strings
  // Lengths count code points: 𠮷 is one (four bytes), 髙 one (three bytes).
  EXPECT_MATCHES(R"({"minLength":2,"maxLength":2})", R"("𠮷髙")");
  EXPECT_MISMATCH(R"({"maxLength":1})", R"("𠮷髙")", "longer than maxLength 1");
  EXPECT_MISMATCH(R"({"minLength":3})", R"("𠮷髙")", "shorter than minLength 3");
  EXPECT_MISMATCH(R"({"type":"string"})", "\"\xc3\"", "not well-formed UTF-8");
}

TEST(OpenApiKeywordTest, Numbers) {
  EXPECT_MATCHES(R"({"minimum":1,"maximum":9007199254740991})", "9007199254740991");
  EXPECT_MISMATCH(R"({"minimum":1,"maximum":9007199254740991})", "9007199254740992",
                  "greater than maximum 9007199254740991");
  EXPECT_MISMATCH(R"({"minimum":1})", "0", "less than minimum 1");
  EXPECT_MISMATCH(R"({"minimum":1})", "0.5", "less than minimum 1");
  EXPECT_MATCHES(R"({"minimum":0.5,"maximum":1e1})", "10");
  EXPECT_MISMATCH(R"({"maximum":1e1})", "10.01", "greater than maximum");
  EXPECT_MISMATCH(R"({"maximum":0})", "100000000000000000000000", "greater than maximum");
  EXPECT_MATCHES(R"({"minimum":0})", R"("-1")");  // only numbers
}

TEST(OpenApiKeywordTest, Combinators) {
  const char* one = R"({"oneOf":[{"type":"integer"},{"minimum":0}]})";
  EXPECT_MATCHES(one, "-1");
  EXPECT_MATCHES(one, "0.5");
  EXPECT_MISMATCH(one, "1", "matches more than one oneOf alternative (0, 1)");
  EXPECT_MISMATCH(one, "-0.5",
                  "matches none of the oneOf alternatives: [0] (root): expected "
                  "integer, got number");
  const char* any = R"({"anyOf":[{"type":"integer"},{"minimum":0}]})";
  EXPECT_MATCHES(any, "1");
  EXPECT_MISMATCH(any, "-0.5", "matches none of the anyOf alternatives");
  const char* all = R"({"allOf":[{"type":"integer"},{"minimum":0}]})";
  EXPECT_MATCHES(all, "1");
  EXPECT_MISMATCH(all, "-1", "less than minimum 0 (schema #/components/schemas/S/allOf/1/minimum)");
  EXPECT_MISMATCH(R"({"allOf":[{"$ref":"#/components/schemas/T"}]})", R"("x")",
                  "expected integer, got string (schema #/components/schemas/T/type)");
}

TEST(OpenApiKeywordTest, RefsBooleansAndAnnotations) {
  EXPECT_MATCHES(R"({"$ref":"#/components/schemas/T"})", "7");
  EXPECT_MISMATCH(R"({"$ref":"#/components/schemas/T"})", "7.5", "expected integer");
  // Siblings of $ref apply too (JSON Schema 2020-12).
  EXPECT_MISMATCH(R"({"$ref":"#/components/schemas/T","maximum":5})", "7", "greater than maximum");
  EXPECT_MATCHES("true", R"({"x":1})");
  EXPECT_MISMATCH("false", "null", "not allowed (the schema is false)");
  EXPECT_MATCHES(R"({"description":"d","title":"t","examples":[1],"format":"date","default":2,
                     "$comment":"c","type":"integer"})",
                 "1");
}

// The document cannot use what the checker does not check.
TEST(OpenApiKeywordTest, UnsupportedKeywordsFailLoudly) {
  for (const char* schema :
       {R"({"type":"string","minimum":1,"maxProperties":1})", R"({"not":{"type":"string"}})",
        R"({"nullable":true})", R"({"prefixItems":[{"type":"string"}]})", R"({"x-note":"n"})",
        R"({"exclusiveMinimum":0})", R"({"uniqueItems":true})"}) {
    Status st = CheckAgainst(schema, "1");
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << schema;
    EXPECT_THAT(st.message(), HasSubstr("#/components/schemas/S: unsupported schema keyword"))
        << schema;
    OpenApiChecker c = MustLoad(DocWithSchema(schema));
    EXPECT_EQ(c.CheckDocument().code(), StatusCode::kFailedPrecondition) << schema;
  }
  // Nested, and inside an alternative: never mistaken for a mismatch.
  Status st =
      CheckAgainst(R"({"anyOf":[{"type":"string"},{"type":"integer","exclusiveMaximum":3}]})", "1");
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("#/components/schemas/S/anyOf/1: unsupported schema "
                                      "keyword 'exclusiveMaximum'"));
  // Bad keyword values.
  for (const char* schema :
       {R"({"type":"strin"})", R"({"minLength":"1"})", R"({"minItems":-1})", R"({"required":"a"})",
        R"({"enum":[]})", R"({"pattern":"("})", R"({"items":[{"type":"string"}]})",
        R"({"oneOf":[]})", R"({"$ref":"#/components/schemas/Nope"})", R"({"$ref":"other.json#/x"})",
        R"({"maximum":"3"})", R"({"properties":[]})", R"({"type":["string","string"]})"}) {
    Status st = CheckAgainst(schema, "1");
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << schema << " " << st.ToString();
    OpenApiChecker c = MustLoad(DocWithSchema(schema));
    EXPECT_EQ(c.CheckDocument().code(), StatusCode::kFailedPrecondition) << schema;
  }
  // A $ref cycle that consumes nothing.
  OpenApiChecker c = MustLoad(R"({"openapi":"3.1.0","info":{"title":"t","version":"1"},
      "paths":{},"components":{"schemas":{"A":{"$ref":"#/components/schemas/B"},
                                          "B":{"$ref":"#/components/schemas/A"}}}})");
  EXPECT_EQ(c.CheckJson("#/components/schemas/A", "1").code(), StatusCode::kFailedPrecondition);
}

TEST(OpenApiKeywordTest, DocumentStructure) {
  EXPECT_TRUE(MustLoad(DocWithSchema("{}")).CheckDocument().ok());
  EXPECT_FALSE(OpenApiChecker::Load(R"({"openapi":"3.0.3","info":{},"paths":{}})").ok());
  EXPECT_FALSE(OpenApiChecker::Load(R"({"openapi":"3.1.0","paths":{},"paths":{}})").ok());
  EXPECT_FALSE(OpenApiChecker::Load("{").ok());

  auto document_error = [](std::string_view doc, std::string_view fragment) {
    Result<OpenApiChecker> c = OpenApiChecker::Load(doc);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Status st = c->CheckDocument();
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << doc;
    EXPECT_THAT(st.message(), HasSubstr(fragment)) << doc;
  };
  const std::string head = R"({"openapi":"3.1.0","info":{"title":"t","version":"1"},)";
  const std::string ok_response = R"({"200":{"description":"d"}})";
  // A typo in an OpenAPI object.
  document_error(head + R"("paths":{"/a":{"get":{"respones":)" + ok_response + "}}}}",
                 "#/paths/~1a/get: unsupported member 'respones'");
  // A template parameter that is not declared, and one declared but not in the template.
  document_error(head + R"("paths":{"/a/{id}":{"get":{"responses":)" + ok_response + "}}}}",
                 "path parameters declared do not match");
  document_error(head + R"("paths":{"/a":{"get":{"parameters":[{"name":"id","in":"path",
      "required":true,"schema":{}}],"responses":)" +
                     ok_response + "}}}}",
                 "path parameters declared do not match");
  // Two templates that match the same paths.
  document_error(head + R"("paths":{
      "/a/{x}":{"parameters":[{"name":"x","in":"path","required":true,"schema":{}}],
                "get":{"responses":)" +
                     ok_response + R"(}},
      "/a/{y}":{"parameters":[{"name":"y","in":"path","required":true,"schema":{}}],
                "get":{"responses":)" +
                     ok_response + "}}}}",
                 "ambiguous");
  // References that do not resolve, or point at the wrong kind of component.
  document_error(head + R"("paths":{"/a":{"get":{"responses":{"200":
      {"$ref":"#/components/responses/Nope"}}}}}})",
                 "does not resolve");
  document_error(head + R"("paths":{"/a":{"get":{"responses":{"200":
      {"$ref":"#/components/schemas/S"}}}}},"components":{"schemas":{"S":{}}}})",
                 "must be a string \"#/components/responses/...\"");
  document_error(head + R"("paths":{"/a":{"get":{"responses":{"2XX":{"description":"d"}}}}}})",
                 "a response key must be a status code or default");
  document_error(head + R"("paths":{"/a":{"get":{"responses":{"200":{"description":"d",
      "content":{"application/json":{}}}}}}}})",
                 "a JSON media type needs a schema");
  document_error(head + R"("paths":{"/a":{"get":{"responses":)" + ok_response +
                     R"(,"security":[{"apiKey":[]}]}}}})",
                 "security scheme 'apiKey' is not declared");
  document_error(head + R"("paths":{"/a":{"get":{"operationId":"x","responses":)" + ok_response +
                     R"(},"post":{"operationId":"x","responses":)" + ok_response + "}}}}",
                 "must be a unique string");
  document_error(head + R"("paths":{},"components":{"schemas":{"S":{"type":"object",
      "properties":{"a":{}},"required":["b"],"additionalProperties":false}}}})",
                 "required member 'b' is not among properties");
}

TEST(OpenApiCheckerTest, MatchingAndResponses) {
  OpenApiChecker c = MustLoad(R"({"openapi":"3.1.0","info":{"title":"t","version":"1"},
    "paths":{
      "/items/{id}":{
        "parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],
        "get":{"responses":{
          "200":{"description":"d","content":{"application/json":{"schema":{"const":"templated"}}}},
          "default":{"description":"d",
                     "content":{"application/problem+json":{"schema":{"type":"object"}}}}}}},
      "/items/new":{"get":{"responses":{
          "200":{"description":"d","content":{"application/json":{"schema":{"const":"literal"}}}},
          "204":{"description":"no content"}}}},
      "/text":{"get":{"responses":{"200":{"description":"d","content":{"text/plain":{}}}}}}}})");
  ASSERT_TRUE(c.CheckDocument().ok()) << c.CheckDocument().ToString();
  // The literal path wins, whatever the order in the document.
  EXPECT_TRUE(c.CheckResponse("GET", "/items/new", 200, "application/json", R"("literal")").ok());
  EXPECT_FALSE(
      c.CheckResponse("GET", "/items/new", 200, "application/json", R"("templated")").ok());
  EXPECT_TRUE(c.CheckResponse("GET", "/items/7", 200, "application/json", R"("templated")").ok());
  EXPECT_TRUE(c.CheckResponse("GET", "/items/a.b-c", 200, "Application/JSON; charset=utf-8",
                              R"("templated")")
                  .ok());
  // {param} never matches an empty segment or spans a '/'.
  EXPECT_THAT(
      c.CheckResponse("GET", "/items/", 200, "application/json", R"("templated")").message(),
      HasSubstr("no path item matches"));
  EXPECT_THAT(
      c.CheckResponse("GET", "/items/a/b", 200, "application/json", R"("templated")").message(),
      HasSubstr("no path item matches"));
  // Unknown method; "default" for undeclared statuses; none for /items/new.
  EXPECT_THAT(
      c.CheckResponse("POST", "/items/7", 200, "application/json", R"("templated")").message(),
      HasSubstr("has no operation for the method"));
  EXPECT_TRUE(c.CheckResponse("GET", "/items/7", 500, "application/problem+json", "{}").ok());
  EXPECT_THAT(c.CheckResponse("GET", "/items/new", 500, "application/json", "{}").message(),
              HasSubstr("status not declared (declared: 200, 204)"));
  // A response without content has no body.
  EXPECT_TRUE(c.CheckResponse("GET", "/items/new", 204, "", "").ok());
  EXPECT_FALSE(c.CheckResponse("GET", "/items/new", 204, "application/json", "{}").ok());
  // A text body needs only the media type and UTF-8.
  EXPECT_TRUE(c.CheckResponse("GET", "/text", 200, "text/plain", "anything").ok());
  EXPECT_THAT(c.CheckResponse("GET", "/text", 200, "", "anything").message(),
              HasSubstr("content type '' not declared"));
  // The message starts with what was checked.
  EXPECT_THAT(c.CheckResponse("get", "/items/7", 200, "application/json", "1").message(),
              HasSubstr("GET /items/7 200: (root): value is not the const"));
}

}  // namespace
}  // namespace kakunin::testing
