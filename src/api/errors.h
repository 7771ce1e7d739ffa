#pragma once

// The API's one table of errors (DESIGN §8): each stable code with its HTTP status and a generic
// title for the client. What went wrong in detail goes to the log (Status::message()), never to
// the client, and never contains personal data.

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/server.h"

namespace kakunin::api {

enum class ApiError {
  kMalformedRequest,
  kInvalidRequest,
  kClientNotRegistered,
  kClientRevoked,
  kNotPermitted,
  kSenderMismatch,
  kPurposeNotPermitted,
  kNotFound,
  kRouteNotFound,
  kMethodNotAllowed,
  kUnsupportedMediaType,
  kPayloadTooLarge,
  kHeadersTooLarge,
  kInternal,
  kHalted,
  kUnavailable,
  // The console (docs/operators.md).
  kLoginFailed,
  kSessionRequired,
  kSessionLocked,
  kCsrfFailed,
  kNotNominated,
  kConflict,
  // Read quotas (docs/quotas.md).
  kQuotaExceeded,
  kCriterionNotPermitted,
  kTooManyRequests,
  // A statistics purpose gives the population table, never a record.
  kStatisticsOnly,
};

struct ApiErrorInfo {
  ApiError error;
  std::string_view code;  // stable, in the problem's "code" and "type"
  int http_status;
  std::string_view title;  // generic English
};

// Every row of the table, in enum order (for the OpenAPI test and the docs).
std::span<const ApiErrorInfo> ApiErrorTable();
const ApiErrorInfo& InfoOf(ApiError error);

// A use case's Status as an API error: its reason if it has one in the table, else by code
// (kInvalidArgument -> invalid_request, kNotFound -> not_found, kPermissionDenied ->
// not_permitted, kUnauthenticated -> session_required, kAlreadyExists/kFailedPrecondition ->
// conflict, kUnavailable/kResourceExhausted -> unavailable, anything else -> internal).
ApiError FromStatus(const Status& status);

// An RFC 9457 problem document (application/problem+json) for `error`. `detail`, if not empty,
// must be a generic hint that names no value from the request.
http::Response Problem(ApiError error, const std::string& request_id,
                       std::string_view detail = "");

}  // namespace kakunin::api
