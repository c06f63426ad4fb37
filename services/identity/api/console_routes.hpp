// A tiny console for curl users of the embedded shape: GET /console signs the browser in
// through the built-in issuer (code + PKCE, client "trellis-console", the verifier kept in a
// short-lived HttpOnly cookie) and GET /console/callback shows the access token with example
// curl commands.
//
//   AddConsoleRoutes(router, *issuer);  // needs OidcSettings::console_client (the default)
#pragma once

#include <string_view>

#include "platform/http/router.hpp"
#include "services/identity/app/oidc_issuer.hpp"

namespace trellis::identity::api {

inline constexpr std::string_view kConsoleCookie = "trellis_console";

// GET /console and GET /console/callback. The issuer must outlive the router.
void AddConsoleRoutes(platform::http::Router& router, app::OidcIssuer& issuer);

}  // namespace trellis::identity::api
