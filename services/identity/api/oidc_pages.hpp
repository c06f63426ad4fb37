// The issuer's server-rendered HTML: the sign-in / sign-up page, message pages (errors that
// must not be redirected, "signed out") and the console's token page. Every interpolated
// value is HTML-escaped; pages need no script and no external resource.
//
//   SignInPage page;
//   page.params = params; page.csrf = csrf; page.error = "Wrong email or password.";
//   std::string html = RenderSignInPage(page);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "services/identity/domain/oidc_authorize.hpp"

namespace trellis::identity::api {

// Escapes & < > " ' so text is safe in element content and in quoted attribute values.
[[nodiscard]] std::string HtmlEscape(std::string_view text);

struct SignInPage {
  domain::AuthorizeParams params;  // carried in hidden fields
  std::string csrf;
  std::string action = "/oidc/authorize";
  std::string error;     // shown above the forms when set
  std::string email;     // refilled after a failure
  std::string name;      // refilled after a failed sign-up
  bool sign_up = false;  // the failure came from the sign-up form
  std::size_t min_password_length = 10;
};
[[nodiscard]] std::string RenderSignInPage(const SignInPage& page);

[[nodiscard]] std::string RenderMessagePage(std::string_view title, std::string_view message);

struct ConsolePage {
  std::string access_token;
  std::int64_t expires_in = 0;
  std::string api_base;  // "http://127.0.0.1:8080"
  std::string sign_out_url;
};
[[nodiscard]] std::string RenderConsolePage(const ConsolePage& page);

// Headers every issuer page carries: no caching, no framing, no referrer, a strict CSP.
inline constexpr const char* kPageCsp =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

}  // namespace trellis::identity::api
