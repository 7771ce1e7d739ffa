#include "api/national.h"

#include <string>

#include "api/errors.h"
#include "api/service.h"

namespace kakunin::api {

http::Response ServeLinkChanges(const http::Request& req, const registry::Gateway& gateway,
                                const registry::NationalDesk* desk,
                                const registry::Client& client) {
  const std::string& rid = req.request_id;
  if (desk == nullptr || client.kind != registry::ClientKind::kPrefecture) {
    // Refused, and recorded like every refusal of a registered system.
    return Problem(FromStatus(gateway.RefuseLinkChanges(client, req.remote_address)), rid);
  }
  ApiError body_error = ApiError::kInvalidRequest;
  auto body = ParseBody(req, {"prefecture", "after", "changes"}, &body_error);
  if (!body.ok()) return Problem(body_error, rid);
  auto batch = registry::ParseForwardBatch(*body);
  if (!batch.ok()) return Problem(ApiError::kInvalidRequest, rid, batch.status().message());
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
                      ",\"duplicates\":" + std::to_string(result->duplicates) + "}");
}

}  // namespace kakunin::api
