#include "gateway/platform_routes.hpp"

#include "platform/core/log.hpp"
#include "platform/http/problem.hpp"

namespace trellis::gateway {

namespace http = platform::http;
namespace asio = boost::asio;
using platform::core::Error;
using platform::core::ErrorCode;

namespace {

// Compares without an early exit so the time taken does not reveal a prefix of the token.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

constexpr std::string_view kLandingHead = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trellis</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .25rem}
.button{display:inline-block;background:#1d4ed8;color:#fff;padding:.6rem 1.2rem;border-radius:.4rem;
text-decoration:none}</style></head>
<body><h1>Trellis is running</h1>
)";

// Shown when the built-in issuer serves the console: the way in for a newcomer.
constexpr std::string_view kLandingSignIn = R"(<p>Trellis Work is ready. Sign up (or sign in) to get
an access token for the API, then follow the README to create an org, projects and tasks.</p>
<p><a class="button" href="/console">Sign up or sign in</a></p>
)";

constexpr std::string_view kLandingTail = R"(<p>The platform's own endpoints:</p>
<ul>
<li><a href="/healthz"><code>/healthz</code></a> &mdash; the process is alive</li>
<li><a href="/readyz"><code>/readyz</code></a> &mdash; its dependencies are ready</li>
<li><a href="/metrics"><code>/metrics</code></a> &mdash; Prometheus metrics</li>
<li><a href="/.well-known/openid-configuration"><code>/.well-known/openid-configuration</code></a>
&mdash; the built-in OpenID Connect issuer, when enabled</li>
</ul></body></html>
)";

}  // namespace

void Health::AddCheck(std::string name, std::function<bool()> check) {
  AddCheck(std::move(name), std::function<CheckState()>([check = std::move(check)] {
             return check() ? CheckState::kOk : CheckState::kFailing;
           }));
}

void Health::AddCheck(std::string name, std::function<CheckState()> check) {
  checks_.emplace_back(std::move(name), std::move(check));
}

std::pair<bool, std::string> Health::Ready() const {
  bool failing = false;
  bool degraded = false;
  std::string checks;
  for (const auto& [name, check] : checks_) {
    const CheckState state = check();
    failing = failing || state == CheckState::kFailing;
    degraded = degraded || state == CheckState::kDegraded;
    checks += checks.empty() ? "" : ",";
    platform::core::AppendJsonString(checks, name);
    checks += state == CheckState::kOk         ? ":\"ok\""
              : state == CheckState::kDegraded ? ":\"degraded\""
                                               : ":\"failing\"";
  }
  const bool ok = !Draining() && !failing;
  std::string body = "{\"status\":\"";
  body += Draining() ? "draining" : (failing ? "not_ready" : (degraded ? "degraded" : "ready"));
  body += "\",\"checks\":{" + checks + "}}";
  return {ok, body};
}

const std::string& BenchPlaintextBody() {
  static const std::string body = "Hello, World!";
  return body;
}

const std::string& BenchJsonBody() {
  // 1024 bytes exactly: a realistic small API object padded with a filler field.
  static const std::string body = [] {
    std::string s =
        R"({"id":"018f3c1e-7d2a-7b3c-9a4e-5f6a7b8c9d0e","title":"Benchmark task","status":"todo",)"
        R"("priority":2,"labels":["bench","json"],"filler":")";
    const std::string tail = "\"}";
    s.append(1024 - s.size() - tail.size(), 'x');
    s += tail;
    return s;
  }();
  return body;
}

void AddPlatformRoutes(http::Router& router, platform::observe::Registry& registry,
                       const Health& health, const PlatformRoutesSettings& settings) {
  router.Add(http::Method::kGet, "/healthz", [](http::Request&) -> asio::awaitable<http::Response> {
    co_return http::Response::Json(200, R"({"status":"alive"})").With("Cache-Control", "no-store");
  });

  router.Add(http::Method::kGet, "/readyz",
             [&health](http::Request&) -> asio::awaitable<http::Response> {
               auto [ok, body] = health.Ready();
               auto r = http::Response::Json(ok ? 200 : 503, std::move(body));
               r.headers.emplace_back("Cache-Control", "no-store");
               co_return r;
             });

  auto token = settings.metrics_token;
  router.Add(http::Method::kGet, "/metrics",
             [&registry, token](http::Request& req) -> asio::awaitable<http::Response> {
               const std::string expected = token ? token->Value() : std::string();
               if (!expected.empty()) {
                 const auto auth = req.HeaderValue("authorization");
                 constexpr std::string_view kBearer = "Bearer ";
                 if (!auth.starts_with(kBearer) ||
                     !ConstantTimeEquals(auth.substr(kBearer.size()), expected)) {
                   auto p = http::Problem(
                       Error(ErrorCode::kUnauthenticated, "a valid bearer token is required"),
                       req.path, req.ctx.request_id);
                   p.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"metrics\"");
                   co_return p;
                 }
               }
               co_return http::Response::Text(200, registry.Render(),
                                              "text/plain; version=0.0.4; charset=utf-8");
             });

  if (settings.landing_page) {
    std::string page(kLandingHead);
    if (settings.sign_in_link) page += kLandingSignIn;
    page += kLandingTail;
    router.Add(http::Method::kGet, "/",
               [page = std::move(page)](http::Request&) -> asio::awaitable<http::Response> {
                 co_return http::Response::Text(200, page, http::kTextHtml);
               });
  }

  if (settings.bench_routes) {
    router.Add(http::Method::kGet, "/bench/plaintext",
               [](http::Request&) -> asio::awaitable<http::Response> {
                 co_return http::Response::Text(200, BenchPlaintextBody(), "text/plain");
               });
    router.Add(http::Method::kGet, "/bench/json",
               [](http::Request&) -> asio::awaitable<http::Response> {
                 co_return http::Response::Json(200, BenchJsonBody());
               });
  }
}

}  // namespace trellis::gateway
