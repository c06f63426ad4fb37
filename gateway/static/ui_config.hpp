// What the web app needs to sign in, served as GET /ui-config.json, and the routes that serve
// the web app itself (ADR 0023).
//
//   AddUiRoutes(router, files, {.authority = "https://idp.example/realms/trellis"});
//   // GET /ui-config.json -> {"authority":"https://idp.example/realms/trellis",
//   //                         "client_id":"trellis-web","scope":"openid profile email",
//   //                         "api_base":"/api/v1"}
//
// The web app falls back to {authority: location.origin, client_id: "trellis-web"} when the
// document is missing (a static host without the gateway).
#pragma once

#include <memory>
#include <string>

#include "gateway/static/static_files.hpp"
#include "platform/http/router.hpp"

namespace trellis::gateway::static_files {

struct UiConfig {
  std::string authority;  // the OIDC issuer URL (ui.oidc_authority, else auth.issuer_url)
  std::string client_id = "trellis-web";
  std::string scope = "openid profile email";
  std::string api_base = "/api/v1";
};

// The body of /ui-config.json.
[[nodiscard]] std::string UiConfigJson(const UiConfig& config);

// Adds GET /ui-config.json and, when `files` is set, GET / (index.html) and the router's
// fallback (every other file, and index.html for client-side routes). "/" must be free: turn
// the landing page off (PlatformRoutesSettings::landing_page) when `files` is set.
void AddUiRoutes(platform::http::Router& router, std::shared_ptr<const StaticFiles> files,
                 const UiConfig& config);

}  // namespace trellis::gateway::static_files
