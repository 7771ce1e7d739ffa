#pragma once

// A small, strict checker of HTTP responses against the node's OpenAPI 3.1 document
// (src/api/openapi.json), for tests. It understands only the subset of OpenAPI and JSON Schema
// the document uses, and refuses anything else, so the document cannot carry a keyword that
// nothing checks:
//
//   schemas: $ref (to #/components/schemas/...), type (string, integer, number, boolean, array,
//   object, null, or an array of these), properties, required, additionalProperties (a schema,
//   true or false), items, enum, const, pattern (std::regex ECMAScript, unanchored as in JSON
//   Schema), minLength, maxLength (in code points), minimum, maximum, minItems, maxItems,
//   allOf, anyOf, oneOf, the boolean schemas true and false, and the annotations description,
//   title, examples, format, default and $comment (ignored).
//
// "integer" means a number written without fraction or exponent (1.0 is not an integer here):
// the node writes integers as integer literals.
//
// Besides the OpenAPI objects, the document may carry two root extensions, responses maps for
// requests no operation describes: "x-kakunin-unknown-path-responses" (no path item matches,
// e.g. 404 route_not_found) and "x-kakunin-unknown-method-responses" (the path item has no
// operation for the method: 405 method_not_allowed). Without them such requests are errors.
//
// Errors: kInvalidArgument when the response does not conform (the message starts with the
// method, path and status, then the JSON pointer into the body and what failed, e.g.
// "POST /v1/notifications 200: /results/0/index: expected integer (schema #/components/...)");
// kFailedPrecondition when the document itself is at fault (an unsupported keyword, a $ref that
// does not resolve, a pattern that does not compile), naming its location and the keyword.
//
// Thread-safe: a checker is immutable after Load (compiled patterns are cached under a mutex);
// copies share the document.

#include <memory>
#include <string_view>
#include <utility>

#include "core/status.h"

namespace kakunin::testing {

class OpenApiChecker {
 public:
  // Parses the document (strict JSON; duplicate keys are an error) and checks that it is an
  // OpenAPI 3.1.0 document with paths. The rest is checked lazily by CheckResponse, or all at
  // once by CheckDocument.
  static Result<OpenApiChecker> Load(std::string_view document_json);

  // Walks the whole document: every object has only the members this checker knows, every
  // $ref resolves to the right kind of component, every schema uses only supported keywords
  // with well-formed values, every pattern compiles, path templates are unambiguous and their
  // parameters declared, operationIds unique, security requirements name declared schemes, and
  // every JSON media type has a schema.
  Status CheckDocument() const;

  // Checks one response. `path` is the request path without the query
  // (e.g. "/v1/residents/12345678901"); `content_type` the response's content-type header
  // (parameters after ';' are ignored, e.g. "text/plain; version=0.0.4"). The path item is the
  // one whose template matches ({param} matches one non-empty segment without '/'; at the
  // first segment where two templates differ, a literal one wins), the operation the one for
  // `method` (case-insensitive), the response the one for `status` exactly, else "default".
  // A JSON media type (application/json, */*+json) must have a body that parses (no duplicate
  // keys, well-formed UTF-8 strings) and conforms to the schema; another media type must have
  // a UTF-8 body and a schema of type string, if any. A response without content must have an
  // empty body.
  Status CheckResponse(std::string_view method, std::string_view path, int status,
                       std::string_view content_type, std::string_view body) const;

  // Checks a JSON text against the schema at `schema_ref` (e.g.
  // "#/components/schemas/Record"), with the same rules as a response body. For tests of
  // request bodies and of the checker itself.
  Status CheckJson(std::string_view schema_ref, std::string_view json) const;

  struct Impl;  // openapi_check.cc

 private:
  explicit OpenApiChecker(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace kakunin::testing
