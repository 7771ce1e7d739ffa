#include "api/national.h"

#include <string>

#include "api/errors.h"
#include "api/service.h"
#include "text/json.h"

namespace kakunin::api {

http::Response ServeLinkChanges(const http::Request& req, const registry::Gateway& gateway,
                                const registry::NationalDesk* desk,
                                const registry::Client& client) {
  const std::string& rid = req.request_id;
  if (desk == nullptr || client.kind != registry::ClientKind::kPrefecture) {
    // Refused, and recorded like every refusal of a registered system.
    return Problem(FromStatus(gateway.RefuseLinkChanges(client, req.remote_address)), rid);
  }
  // A registered prefecture node's batch refused before it could be read is recorded too
  // (nothing of the body: a reason only); a refusal that cannot be recorded is not answered.
  auto refuse_unreadable = [&](ApiError error, std::string_view reason,
                               std::string_view detail) -> http::Response {
    Status recorded = desk->RecordUnreadable(client, reason, req.remote_address);
    if (!recorded.ok()) return Problem(FromStatus(recorded), rid);
    return Problem(error, rid, detail);
  };
  ApiError body_error = ApiError::kInvalidRequest;
  auto body = ParseBody(req, {"prefecture", "after", "changes"}, &body_error);
  if (!body.ok()) return refuse_unreadable(body_error, InfoOf(body_error).code, "");
  auto batch = registry::ParseForwardBatch(*body);
  if (!batch.ok()) {
    const text::JsonValue* changes = body->Find("changes");
    const bool too_many = changes != nullptr && changes->is_array() &&
                          changes->items().size() > registry::kMaxForwardedPerBatch;
    return refuse_unreadable(ApiError::kInvalidRequest,
                             too_many ? "too_many_changes" : "invalid_request",
                             batch.status().message());
  }
  auto result = desk->Receive(client, *batch, req.remote_address);
  if (!result.ok()) return Problem(FromStatus(result.status()), rid);
  if (result->gap) {
    return JsonResponse("{\"error\":\"sequence_gap\",\"acknowledged\":" +
                            std::to_string(result->acknowledged) + "}",
                        409);
  }
  if (result->conflict != 0) {
    return JsonResponse("{\"error\":\"sequence_conflict\",\"sequence\":" +
                            std::to_string(result->conflict) + ",\"acknowledged\":" +
                            std::to_string(result->acknowledged) + "}",
                        409);
  }
  return JsonResponse("{\"acknowledged\":" + std::to_string(result->acknowledged) +
                      ",\"applied\":" + std::to_string(result->applied) +
                      ",\"duplicates\":" + std::to_string(result->duplicates) +
                      ",\"conflicts\":" + std::to_string(result->conflicts) +
                      // This node applies support measures' changes (LinkOutbox::AcceptMeasures).
                      ",\"support_measures\":true}");
}

}  // namespace kakunin::api
