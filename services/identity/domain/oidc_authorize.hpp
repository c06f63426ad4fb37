// Rules of the built-in OpenID Connect issuer that need no I/O: which clients exist, whether an
// authorization request is acceptable (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2), and the
// sign-up input rules.
//
//   auto check = ValidateAuthorize(params, clients);
//   if (check.show_on_page) { /* render check.error on the page, never redirect */ }
//   else if (!check.error.empty()) { /* redirect_uri?error=check.error&state=... */ }
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::identity::domain {

// A registered relying party. Public clients only (PKCE, no secret): the embedded shape's
// clients are browsers and CLIs that cannot keep one.
struct OidcClient {
  std::string id;
  std::vector<std::string> redirect_uris;              // compared exactly
  std::vector<std::string> post_logout_redirect_uris;  // compared exactly
};

// The client with this id, or null.
[[nodiscard]] const OidcClient* FindClient(const std::vector<OidcClient>& clients,
                                           std::string_view id);
[[nodiscard]] bool Contains(const std::vector<std::string>& list, std::string_view value);

// The parameters of GET/POST /oidc/authorize, as received (absent = empty).
struct AuthorizeParams {
  std::string client_id;
  std::string redirect_uri;
  std::string response_type;
  std::string scope;
  std::string state;
  std::string nonce;
  std::string code_challenge;
  std::string code_challenge_method;
};

struct AuthorizeCheck {
  // Empty when the request is acceptable; otherwise an RFC 6749 error code.
  std::string error;
  std::string description;
  // The client or redirect_uri is unknown or wrong: the error is shown to the user and the
  // browser is never sent to the unverified redirect_uri (RFC 6749 §4.1.2.1).
  bool show_on_page = false;
  [[nodiscard]] bool Ok() const { return error.empty(); }
};

// The maximum length of any authorization parameter; bounds the page and the stored row.
inline constexpr std::size_t kMaxAuthorizeParamLength = 2048;

[[nodiscard]] AuthorizeCheck ValidateAuthorize(const AuthorizeParams& params,
                                               const std::vector<OidcClient>& clients);

// Space-separated scope tokens (RFC 6749 §3.3).
[[nodiscard]] std::vector<std::string> SplitScope(std::string_view scope);
[[nodiscard]] bool HasScope(std::string_view scope, std::string_view token);

// A PKCE code_challenge or code_verifier: 43–128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).
[[nodiscard]] bool IsPkceValue(std::string_view value);

// Sign-up input. Email is trimmed and lower-cased; nullopt when it does not look like one.
[[nodiscard]] std::optional<std::string> NormalizeEmail(std::string_view email);
inline constexpr std::size_t kMaxEmailLength = 254;
inline constexpr std::size_t kMaxNameLength = 200;
inline constexpr std::size_t kMaxPasswordLength = 1024;

// Empty when acceptable; else a sentence to show on the sign-up form.
[[nodiscard]] std::string CheckNewPassword(std::string_view password, std::size_t min_length);
[[nodiscard]] std::string CheckDisplayName(std::string_view name);

}  // namespace trellis::identity::domain
