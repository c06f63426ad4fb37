// Read-your-writes across requests. The middleware gives every request a WritePosition
// (platform/core/write_position.hpp), starting from the Trellis-Consistency token the client
// echoes, and returns the position reached in the same header when a write moved it; CallOf
// hands it, with the deadline, request id and trace parent, to the use cases.
//
//   chain.push_back(std::make_shared<ConsistencyMiddleware>());
//   auto page = co_await app.ListTasks(who, CallOf(req), …);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string_view>

#include "platform/core/call_context.hpp"
#include "platform/http/middleware.hpp"

namespace trellis::platform::http {

inline constexpr std::string_view kConsistencyHeader = "Trellis-Consistency";

// A malformed token is 400 (problem+json); a well-formed one is trusted: a position ahead of
// the primary only sends that client's own reads to the primary.
class ConsistencyMiddleware final : public Middleware {
 public:
  boost::asio::awaitable<Response> Handle(Request& req, Next next) override;
};

// What a request's use cases receive: its deadline (none when the request never got one),
// request id, our span as the trace parent, and its read-your-writes position.
[[nodiscard]] core::CallContext CallOf(const Request& req);

}  // namespace trellis::platform::http
