// The REST API conventions in one include: ETag/If-Match, cursor pagination, sort and filter
// parameters, Idempotency-Key. See docs/api-conventions.md for what clients see.
//
//   #include "platform/rest/rest.hpp"
//   auto page = rest::ParsePage(req, binding);
#pragma once

#include "platform/rest/etag.hpp"         // IWYU pragma: export
#include "platform/rest/idempotency.hpp"  // IWYU pragma: export
#include "platform/rest/list_query.hpp"   // IWYU pragma: export
#include "platform/rest/pagination.hpp"   // IWYU pragma: export
