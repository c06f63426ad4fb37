// Conditional requests over a row's integer version: strong ETags, If-Match for updates and
// deletes (optimistic concurrency, 428/412), If-None-Match for GETs (304).
//
//   auto if_match = rest::RequireIfMatch(req);                  // 428 absent, 400 malformed
//   if (!if_match) co_return Problem(if_match.error(), req.path, req.ctx.request_id);
//   ... in the use case: if (!if_match->Matches(row.version)) return rest::PreconditionFailed();
//   co_return Response::Json(200, body).With("ETag", rest::ETag(row.version));
//
// Only canonical decimal versions in a strong tag ("\"7\"") are ours; anything else that is
// syntactically valid simply never matches. See docs/api-conventions.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/core/error.hpp"
#include "platform/http/request.hpp"

namespace trellis::platform::rest {

// The strong entity tag of a version: "\"<version>\"" (quotes included).
[[nodiscard]] std::string ETag(std::int64_t version);

// A parsed If-Match header (all If-Match field lines combined).
struct IfMatch {
  bool any = false;                    // If-Match: *
  std::vector<std::int64_t> versions;  // the listed strong entity tags that are ours
  // Strong comparison (RFC 9110 13.1.1): `*` matches any current version.
  [[nodiscard]] bool Matches(std::int64_t version) const;
};

// For updates and deletes: absent -> kPreconditionRequired (428) "If-Match is required";
// syntactically invalid -> kInvalidArgument (400); weak tags (W/) never match; tags that are
// not ours simply do not match.
[[nodiscard]] core::Result<IfMatch> RequireIfMatch(const http::Request& req);

// The error a use case returns when the current version does not match: kFailedPrecondition
// (412) "the resource has changed".
[[nodiscard]] core::Error PreconditionFailed();

// If-None-Match on GET: true when one of the client's tags equals ETag(version) under weak
// comparison, or the header is "*" (answer 304 with the ETag and no body). A malformed header
// is ignored (false): the client then gets the full representation.
[[nodiscard]] bool NotModified(const http::Request& req, std::int64_t version);

}  // namespace trellis::platform::rest
