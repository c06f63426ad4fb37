// Response heads on the wire. Written by hand rather than with Beast's serializer because a
// head is a handful of appends and this is the hottest path of every request (one buffer,
// one writev, no per-field allocation).
//
//   std::string head;
//   AppendResponseHead(head, response, {.request_id = id, .keep_alive = true, ...});
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "platform/core/clock.hpp"
#include "platform/http/response.hpp"

namespace trellis::platform::http {

[[nodiscard]] std::string_view ReasonPhrase(int status);

struct HeadOptions {
  std::string_view request_id;
  std::string_view date;  // IMF-fixdate
  bool keep_alive = true;
  bool head_request = false;  // a HEAD: Content-Length of the body, but no body follows
};

// Appends status line and headers, ending with the blank line. Handler headers whose name
// or value would break the framing (CR, LF, NUL, or a name that is not a token) are dropped.
void AppendResponseHead(std::string& out, const Response& response, const HeadOptions& options);

// The Date header value, recomputed at most once a second per thread.
[[nodiscard]] std::string_view HttpDate(const core::Clock& clock);

}  // namespace trellis::platform::http
