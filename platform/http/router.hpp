// Routes requests by method and path, with path parameters ("/orgs/{org}/projects/{id}").
//
//   Router router;
//   router.Add(Method::kGet, "/orgs/{org}", GetOrg);
//   auto match = router.Find(Method::kGet, "/orgs/acme", req.params);
//   if (!match.handler) { /* 404, or 405 with match.allow */ }
//
// Static segments win over parameters; HEAD falls back to GET. Not thread-safe to modify:
// add every route before the server starts.
//
// A fallback handler (SetFallback) answers GET and HEAD requests whose path matches no route
// at all, e.g. a web app's files and its client-side routes (gateway/static). Everything else
// unmatched stays the server's 404.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/http/request.hpp"
#include "platform/http/response.hpp"

namespace trellis::platform::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

struct RouteInfo {
  int id;
  Method method;
  std::string pattern;
};

class Router {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Adds a route and returns its id (dense, from 0). Throws std::invalid_argument on a
  // malformed pattern or a duplicate (start-up only).
  int Add(Method method, std::string_view pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null: no route for this method
    int route_id = -1;
    std::string_view pattern;  // the matched pattern when the path matched at all
    bool path_matched = false;
    std::string allow;  // when the path matched: the methods it has ("GET, HEAD, POST")
  };
  [[nodiscard]] Match Find(
      Method method, std::string_view path,
      std::vector<std::pair<std::string_view, std::string_view>>& params) const;

  [[nodiscard]] const std::vector<RouteInfo>& Routes() const { return routes_; }

  // The handler for GET/HEAD requests whose path matched no route (Find's path_matched false).
  // The server runs it without the middleware chain, like its own 404: it serves public,
  // credential-free content. It must answer every path itself (404 for what it does not have).
  // Replaces any earlier fallback.
  void SetFallback(Handler handler) { fallback_ = std::move(handler); }
  // Null when none is set.
  [[nodiscard]] const Handler* Fallback() const { return fallback_ ? &fallback_ : nullptr; }

 private:
  struct Node;
  const Node* Walk(const Node* node, std::string_view rest,
                   std::vector<std::pair<std::string_view, std::string_view>>& params) const;

  std::unique_ptr<Node> root_;
  std::vector<RouteInfo> routes_;
  std::vector<Handler> handlers_;
  Handler fallback_;
};

}  // namespace trellis::platform::http
