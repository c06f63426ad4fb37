// The one mapping from errors to RFC 9457 application/problem+json responses.
//
//   co_return Problem(core::Error(core::ErrorCode::kNotFound, "no such project"), req);
//
// The body carries type, title, status, detail, instance (the request path) and request_id,
// plus `errors` (JSON pointer + detail) for validation failures. An error's internal detail
// never leaves the process.
#pragma once

#include <string_view>

#include "platform/core/error.hpp"
#include "platform/http/response.hpp"

namespace trellis::platform::http {

inline constexpr std::string_view kProblemTypeBase = "https://trellis.dev/problems/";

[[nodiscard]] Response Problem(const core::Error& error, std::string_view instance,
                               std::string_view request_id);

}  // namespace trellis::platform::http
