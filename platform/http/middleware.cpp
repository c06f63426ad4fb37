#include "platform/http/middleware.hpp"

#include <algorithm>

namespace trellis::platform::http {

namespace {

// The chain's coroutine takes everything by value or by reference to objects that outlive the
// request (the server's chain and handler). It must not be a member of Next: a coroutine
// member keeps `this`, and a Next is often a temporary that is gone before the coroutine runs.
boost::asio::awaitable<Response> Invoke(const MiddlewareChain& chain, std::size_t index,
                                        const Handler& handler, Request& req) {
  if (index < chain.size()) {
    co_return co_await chain[index]->Handle(req, Next(chain, index + 1, handler));
  }
  co_return co_await handler(req);
}

}  // namespace

boost::asio::awaitable<Response> Next::operator()(Request& req) const {
  return Invoke(*chain_, index_, *handler_, req);
}

boost::asio::awaitable<Response> RunChain(const MiddlewareChain& chain, const Handler& handler,
                                          Request& req) {
  if (chain.empty()) return handler(req);
  return Invoke(chain, 0, handler, req);
}

bool CorsMiddleware::Allowed(std::string_view origin) const {
  return std::any_of(settings_.allowed_origins.begin(), settings_.allowed_origins.end(),
                     [&](const std::string& o) { return o == "*" || o == origin; });
}

boost::asio::awaitable<Response> CorsMiddleware::Handle(Request& req, Next next) {
  const auto origin = req.FindHeader("origin");
  if (!origin || !Allowed(*origin)) co_return co_await next(req);

  if (req.method == Method::kOptions && req.FindHeader("access-control-request-method")) {
    Response r;
    r.status = 204;
    r.headers = {{"Access-Control-Allow-Origin", std::string(*origin)},
                 {"Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE"},
                 {"Access-Control-Allow-Headers", settings_.allowed_headers},
                 {"Access-Control-Max-Age", std::to_string(settings_.max_age_seconds)},
                 {"Vary", "Origin"}};
    co_return r;
  }
  Response r = co_await next(req);
  r.headers.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
  r.headers.emplace_back("Access-Control-Expose-Headers", settings_.exposed_headers);
  r.headers.emplace_back("Vary", "Origin");
  co_return r;
}

}  // namespace trellis::platform::http
