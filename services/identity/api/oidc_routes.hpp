// HTTP endpoints of the built-in OpenID Connect issuer: discovery, JWKS, authorize (with the
// server-rendered sign-in / sign-up page), token, userinfo and end-session. Thin: parse, call
// one OidcIssuer use case, map the outcome to a redirect, a page or RFC 6749 JSON.
//
//   AddOidcRoutes(router, *issuer);
//   AddConsoleRoutes(router, *issuer);   // api/console_routes.hpp
#pragma once

#include <string_view>

#include "platform/http/request.hpp"
#include "platform/http/router.hpp"
#include "services/identity/app/oidc_issuer.hpp"

namespace trellis::identity::api {

// The issuer's browser session (Path=/oidc) and the sign-in form's CSRF secret (Path=/oidc).
inline constexpr std::string_view kSessionCookie = "trellis_session";
inline constexpr std::string_view kCsrfCookie = "trellis_csrf";

// GET /.well-known/openid-configuration, GET /oidc/jwks, GET+POST /oidc/authorize,
// POST /oidc/token, GET+POST /oidc/userinfo, GET+POST /oidc/end-session.
// The issuer must outlive the router.
void AddOidcRoutes(platform::http::Router& router, app::OidcIssuer& issuer);

// The request's deadline, or none when the request carries none (handlers called directly).
[[nodiscard]] app::OidcIssuer::Deadline RequestDeadline(const platform::http::Request& req);

}  // namespace trellis::identity::api
