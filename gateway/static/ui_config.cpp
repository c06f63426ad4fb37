#include "gateway/static/ui_config.hpp"

#include <boost/asio/awaitable.hpp>
#include <utility>

#include "platform/core/log.hpp"

namespace trellis::gateway::static_files {

namespace http = platform::http;
namespace asio = boost::asio;

std::string UiConfigJson(const UiConfig& config) {
  std::string body = "{\"authority\":";
  platform::core::AppendJsonString(body, config.authority);
  body += ",\"client_id\":";
  platform::core::AppendJsonString(body, config.client_id);
  body += ",\"scope\":";
  platform::core::AppendJsonString(body, config.scope);
  body += ",\"api_base\":";
  platform::core::AppendJsonString(body, config.api_base);
  body += '}';
  return body;
}

void AddUiRoutes(http::Router& router, std::shared_ptr<const StaticFiles> files,
                 const UiConfig& config) {
  router.Add(http::Method::kGet, "/ui-config.json",
             [body = UiConfigJson(config)](http::Request&) -> asio::awaitable<http::Response> {
               auto r = http::Response::Json(200, body);
               r.headers.emplace_back("Cache-Control", "no-cache");
               r.headers.emplace_back("X-Content-Type-Options", "nosniff");
               co_return r;
             });
  if (!files) return;
  router.Add(http::Method::kGet, "/",
             [files](http::Request& req) -> asio::awaitable<http::Response> {
               co_return files->Index(req);
             });
  router.SetFallback([files = std::move(files)](http::Request& req) { return files->Serve(req); });
}

}  // namespace trellis::gateway::static_files
