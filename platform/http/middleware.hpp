// The policy middleware chain: each middleware may answer a request itself or pass it on.
//
//   class RequireTenant final : public Middleware {
//     asio::awaitable<Response> Handle(Request& req, Next next) override {
//       if (req.ctx.tenant.empty()) co_return Problem(...);
//       co_return co_await next(req);
//     }
//   };
//
// The observability edge (request id, trace context, access log, metrics) is not part of
// this chain: the connection runs it around every request, including those that never get
// this far (431, 408, 400). See docs/adr/0003-http-server.md.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <vector>

#include "platform/http/request.hpp"
#include "platform/http/response.hpp"
#include "platform/http/router.hpp"

namespace trellis::platform::http {

class Middleware;
using MiddlewareChain = std::vector<std::shared_ptr<Middleware>>;

// The rest of the chain, ending in the route's handler.
class Next {
 public:
  Next(const MiddlewareChain& chain, std::size_t index, const Handler& handler)
      : chain_(&chain), index_(index), handler_(&handler) {}
  boost::asio::awaitable<Response> operator()(Request& req) const;

 private:
  const MiddlewareChain* chain_;
  std::size_t index_;
  const Handler* handler_;
};

class Middleware {
 public:
  virtual ~Middleware() = default;
  virtual boost::asio::awaitable<Response> Handle(Request& req, Next next) = 0;
};

// Runs the whole chain for a request and its route's handler.
boost::asio::awaitable<Response> RunChain(const MiddlewareChain& chain, const Handler& handler,
                                          Request& req);

struct CorsSettings {
  std::vector<std::string> allowed_origins;  // exact origins, or "*"
  std::string allowed_headers =
      "authorization, content-type, if-match, if-none-match, idempotency-key, x-request-id, "
      "traceparent, trellis-consistency";
  std::string exposed_headers =
      "etag, x-request-id, retry-after, ratelimit-limit, "
      "ratelimit-remaining, ratelimit-reset, location, trellis-consistency";
  int max_age_seconds = 600;
};

// CORS (Fetch standard): answers preflights for allowed origins and marks their responses.
class CorsMiddleware final : public Middleware {
 public:
  explicit CorsMiddleware(CorsSettings settings) : settings_(std::move(settings)) {}
  // Middleware
  boost::asio::awaitable<Response> Handle(Request& req, Next next) override;

 private:
  [[nodiscard]] bool Allowed(std::string_view origin) const;
  CorsSettings settings_;
};

}  // namespace trellis::platform::http
