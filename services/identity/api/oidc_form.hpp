// application/x-www-form-urlencoded bodies and query strings, URL building and cookies for the
// issuer's handlers (HTML forms, redirects with query parameters, the session cookie).
//
//   auto form = ParseForm(req.body);                      // "+" is a space, %XX decoded
//   std::string email = FormValue(form, "email");
//   auto location = WithQuery(redirect_uri, {{"code", code}, {"state", state}});
//   auto sid = CookieValue(req.HeaderValue("cookie"), "trellis_session");
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trellis::identity::api {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// Pairs in order; a malformed escape is kept literally. Repeated names keep every pair.
[[nodiscard]] FormFields ParseForm(std::string_view text);
// The first value of name, or "".
[[nodiscard]] std::string FormValue(const FormFields& form, std::string_view name);
// How many times name appears (RFC 6749 §3.1: repeated parameters are an error).
[[nodiscard]] std::size_t FormCount(const FormFields& form, std::string_view name);

// Percent-encodes everything but RFC 3986 unreserved characters.
[[nodiscard]] std::string UrlEncode(std::string_view text);
// uri with the pairs appended as a query (after '&' when uri already has one).
[[nodiscard]] std::string WithQuery(std::string_view uri, const FormFields& pairs);

// The value of a cookie in a Cookie header, or "".
[[nodiscard]] std::string CookieValue(std::string_view cookie_header, std::string_view name);

struct CookieOptions {
  std::string path = "/";
  int max_age_seconds = -1;  // -1: a session cookie; 0: delete
  bool secure = false;       // set when the issuer URL is https
};
// A Set-Cookie value: HttpOnly and SameSite=Lax always.
[[nodiscard]] std::string SetCookie(std::string_view name, std::string_view value,
                                    const CookieOptions& options);

}  // namespace trellis::identity::api
