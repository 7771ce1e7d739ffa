#include "api/errors.h"

#include <array>

#include "text/json.h"

namespace kakunin::api {
namespace {

constexpr std::array<ApiErrorInfo, 26> kTable = {{
    {ApiError::kMalformedRequest, "malformed_request", 400, "malformed request"},
    {ApiError::kInvalidRequest, "invalid_request", 400, "invalid request"},
    {ApiError::kClientNotRegistered, "client_not_registered", 403, "client not registered"},
    {ApiError::kClientRevoked, "client_revoked", 403, "client revoked"},
    {ApiError::kNotPermitted, "not_permitted", 403, "not permitted"},
    {ApiError::kSenderMismatch, "sender_mismatch", 403,
     "notification for another municipality"},
    {ApiError::kPurposeNotPermitted, "purpose_not_permitted", 403, "purpose not permitted"},
    {ApiError::kNotFound, "not_found", 404, "not found"},
    {ApiError::kRouteNotFound, "route_not_found", 404, "no such endpoint"},
    {ApiError::kMethodNotAllowed, "method_not_allowed", 405, "method not allowed"},
    {ApiError::kUnsupportedMediaType, "unsupported_media_type", 415, "unsupported media type"},
    {ApiError::kPayloadTooLarge, "payload_too_large", 413, "content too large"},
    {ApiError::kHeadersTooLarge, "headers_too_large", 431, "request header fields too large"},
    {ApiError::kInternal, "internal", 500, "internal error"},
    {ApiError::kHalted, "halted", 503, "the node is halted"},
    {ApiError::kUnavailable, "unavailable", 503, "service unavailable"},
    {ApiError::kLoginFailed, "login_failed", 401, "login failed"},
    {ApiError::kSessionRequired, "session_required", 401, "sign in first"},
    {ApiError::kSessionLocked, "session_locked", 401, "the session is locked"},
    {ApiError::kCsrfFailed, "csrf_failed", 403, "missing or wrong CSRF token"},
    {ApiError::kNotNominated, "not_nominated", 403, "not nominated for this purpose"},
    {ApiError::kConflict, "conflict", 409, "conflict"},
    {ApiError::kQuotaExceeded, "quota_exceeded", 429, "read quota exceeded"},
    {ApiError::kCriterionNotPermitted, "criterion_not_permitted", 403,
     "search criterion not permitted for this purpose"},
    {ApiError::kTooManyRequests, "too_many_requests", 429, "too many requests"},
    {ApiError::kStatisticsOnly, "statistics_only", 403,
     "a statistics purpose gives the population table, not records"},
}};

}  // namespace

std::span<const ApiErrorInfo> ApiErrorTable() { return kTable; }

const ApiErrorInfo& InfoOf(ApiError error) { return kTable[static_cast<size_t>(error)]; }

ApiError FromStatus(const Status& status) {
  if (!status.reason().empty()) {
    for (const ApiErrorInfo& row : kTable) {
      if (row.code == status.reason()) return row.error;
    }
  }
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return ApiError::kInvalidRequest;
    case StatusCode::kNotFound:
      return ApiError::kNotFound;
    case StatusCode::kPermissionDenied:
      return ApiError::kNotPermitted;
    case StatusCode::kUnauthenticated:
      return ApiError::kSessionRequired;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return ApiError::kConflict;
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
      return ApiError::kUnavailable;
    default:
      return ApiError::kInternal;
  }
}

http::Response Problem(ApiError error, const std::string& request_id, std::string_view detail) {
  const ApiErrorInfo& info = InfoOf(error);
  http::Response r;
  r.status = info.http_status;
  r.content_type = "application/problem+json";
  r.headers.emplace_back("cache-control", "no-store");
  std::string& b = r.body;
  b = "{\"type\":\"urn:kakunin:problem:";
  b += info.code;
  b += "\",\"title\":";
  text::AppendJsonString(info.title, &b);
  b += ",\"status\":" + std::to_string(info.http_status) + ",\"code\":\"";
  b += info.code;
  b += "\"";
  if (!detail.empty()) {
    b += ",\"detail\":";
    text::AppendJsonString(detail, &b);
  }
  if (!request_id.empty()) {
    b += ",\"request_id\":";
    text::AppendJsonString(request_id, &b);
  }
  b += "}";
  if (error == ApiError::kHalted || error == ApiError::kUnavailable ||
      error == ApiError::kTooManyRequests) {
    r.headers.emplace_back("retry-after", "30");
  }
  // A sliding minute: a minute on, the per-minute limits allow requests again (a used-up day
  // stays refused, and the client is told so by the code, not the header).
  if (error == ApiError::kQuotaExceeded) r.headers.emplace_back("retry-after", "60");
  return r;
}

}  // namespace kakunin::api
