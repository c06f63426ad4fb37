#include "services/identity/api/console_routes.hpp"

#include <utility>

#include "services/identity/api/oidc_form.hpp"
#include "services/identity/api/oidc_pages.hpp"
#include "services/identity/api/oidc_routes.hpp"

namespace trellis::identity::api {

namespace asio = boost::asio;
namespace http = platform::http;
using app::OidcIssuer;
using http::Method;
using http::Request;
using http::Response;

namespace {

// Long enough to sign up; the verifier is useless after the code's own 60 s anyway.
constexpr int kConsoleCookieMaxAge = 600;
constexpr std::size_t kStateBytes = 16;

CookieOptions ConsoleCookie(const OidcIssuer& issuer, int max_age) {
  CookieOptions o;
  o.path = "/console";
  o.max_age_seconds = max_age;
  o.secure = issuer.Settings().issuer.starts_with("https://");
  return o;
}

Response Html(int status, std::string body) {
  return Response::Text(status, std::move(body), http::kTextHtml)
      .With("Cache-Control", "no-store")
      .With("Content-Security-Policy", kPageCsp)
      .With("X-Frame-Options", "DENY")
      .With("Referrer-Policy", "no-referrer");
}

std::string CallbackUri(const OidcIssuer& issuer) {
  return issuer.Settings().issuer + "/console/callback";
}

asio::awaitable<Response> Start(OidcIssuer& issuer, Request&) {
  const std::string verifier = app::RandomToken();
  const std::string state = app::RandomToken(kStateBytes);
  FormFields q{{"client_id", std::string(app::kConsoleClientId)},
               {"redirect_uri", CallbackUri(issuer)},
               {"response_type", "code"},
               {"scope", "openid profile email"},
               {"state", state},
               {"nonce", app::RandomToken(kStateBytes)},
               {"code_challenge", app::Sha256Base64Url(verifier)},
               {"code_challenge_method", "S256"}};
  Response r;
  r.status = 302;
  r.headers.emplace_back("Location", WithQuery("/oidc/authorize", q));
  r.headers.emplace_back("Cache-Control", "no-store");
  // verifier.state: both base64url, so '.' separates them unambiguously.
  r.headers.emplace_back("Set-Cookie", SetCookie(kConsoleCookie, verifier + "." + state,
                                                 ConsoleCookie(issuer, kConsoleCookieMaxAge)));
  co_return r;
}

asio::awaitable<Response> Callback(OidcIssuer& issuer, Request& req) {
  const FormFields q = ParseForm(req.query);
  const std::string clear = SetCookie(kConsoleCookie, "", ConsoleCookie(issuer, 0));
  if (const auto error = FormValue(q, "error"); !error.empty()) {
    co_return Html(
        400, RenderMessagePage("Sign-in failed", error + ": " + FormValue(q, "error_description")))
        .With("Set-Cookie", clear);
  }
  const std::string cookie = CookieValue(req.HeaderValue("cookie"), kConsoleCookie);
  const auto dot = cookie.find('.');
  const std::string state = FormValue(q, "state");
  if (dot == std::string::npos || state.empty() ||
      !app::ConstantTimeEquals(cookie.substr(dot + 1), state)) {
    co_return Html(
        400, RenderMessagePage("Sign-in expired", "Open /console again to start a new sign-in."))
        .With("Set-Cookie", clear);
  }
  std::string client_id(app::kConsoleClientId);
  std::string code = FormValue(q, "code");
  std::string redirect_uri = CallbackUri(issuer);
  std::string verifier = cookie.substr(0, dot);
  auto tokens =
      co_await issuer.ExchangeCode(std::move(client_id), std::move(code), std::move(redirect_uri),
                                   std::move(verifier), RequestDeadline(req));
  if (!tokens) {
    co_return Html(400, RenderMessagePage("Sign-in failed", tokens.error().description))
        .With("Set-Cookie", clear);
  }
  ConsolePage page;
  page.access_token = tokens->access_token;
  page.expires_in = tokens->expires_in;
  page.api_base = issuer.Settings().issuer;
  FormFields out{{"client_id", std::string(app::kConsoleClientId)},
                 {"id_token_hint", tokens->id_token},
                 {"post_logout_redirect_uri", issuer.Settings().issuer + "/console"}};
  page.sign_out_url = WithQuery("/oidc/end-session", out);
  co_return Html(200, RenderConsolePage(page)).With("Set-Cookie", clear);
}

}  // namespace

void AddConsoleRoutes(http::Router& router, OidcIssuer& issuer) {
  OidcIssuer* is = &issuer;
  router.Add(Method::kGet, "/console", [is](Request& req) { return Start(*is, req); });
  router.Add(Method::kGet, "/console/callback", [is](Request& req) { return Callback(*is, req); });
}

}  // namespace trellis::identity::api
