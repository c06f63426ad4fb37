#include "services/identity/domain/oidc_authorize.hpp"

#include <algorithm>

namespace trellis::identity::domain {

const OidcClient* FindClient(const std::vector<OidcClient>& clients, std::string_view id) {
  for (const auto& client : clients) {
    if (client.id == id) return &client;
  }
  return nullptr;
}

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

namespace {

AuthorizeCheck Refuse(std::string error, std::string description, bool on_page = false) {
  AuthorizeCheck check;
  check.error = std::move(error);
  check.description = std::move(description);
  check.show_on_page = on_page;
  return check;
}

}  // namespace

AuthorizeCheck ValidateAuthorize(const AuthorizeParams& p, const std::vector<OidcClient>& clients) {
  const OidcClient* client = FindClient(clients, p.client_id);
  if (client == nullptr) {
    return Refuse("invalid_request", "Unknown client_id: this application is not registered.",
                  true);
  }
  if (p.redirect_uri.empty() || !Contains(client->redirect_uris, p.redirect_uri)) {
    return Refuse("invalid_request", "The redirect_uri is not registered for this application.",
                  true);
  }
  // From here on the redirect_uri is trusted: errors go back to the client.
  for (const std::string* v : {&p.response_type, &p.scope, &p.state, &p.nonce, &p.code_challenge,
                               &p.code_challenge_method}) {
    if (v->size() > kMaxAuthorizeParamLength) {
      return Refuse("invalid_request", "a parameter is too long");
    }
  }
  if (p.response_type != "code") {
    return Refuse("unsupported_response_type", "only response_type=code is supported");
  }
  if (!HasScope(p.scope, "openid")) {
    return Refuse("invalid_scope", "scope must include openid");
  }
  if (p.code_challenge.empty()) {
    return Refuse("invalid_request", "code_challenge is required (PKCE)");
  }
  if (p.code_challenge_method != "S256") {
    return Refuse("invalid_request", "code_challenge_method must be S256");
  }
  // An S256 challenge is the base64url of a SHA-256: exactly 43 characters.
  constexpr std::size_t kS256ChallengeLength = 43;
  if (p.code_challenge.size() != kS256ChallengeLength || !IsPkceValue(p.code_challenge)) {
    return Refuse("invalid_request", "code_challenge is malformed");
  }
  return {};
}

std::vector<std::string> SplitScope(std::string_view scope) {
  std::vector<std::string> out;
  while (!scope.empty()) {
    const auto sp = scope.find(' ');
    const auto token = scope.substr(0, sp);
    if (!token.empty() && std::find(out.begin(), out.end(), token) == out.end()) {
      out.emplace_back(token);
    }
    if (sp == std::string_view::npos) break;
    scope.remove_prefix(sp + 1);
  }
  return out;
}

bool HasScope(std::string_view scope, std::string_view token) {
  const auto tokens = SplitScope(scope);
  return std::find(tokens.begin(), tokens.end(), token) != tokens.end();
}

bool IsPkceValue(std::string_view value) {
  constexpr std::size_t kMin = 43;
  constexpr std::size_t kMax = 128;
  if (value.size() < kMin || value.size() > kMax) return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
  });
}

std::optional<std::string> NormalizeEmail(std::string_view email) {
  while (!email.empty() && (email.front() == ' ' || email.front() == '\t')) email.remove_prefix(1);
  while (!email.empty() && (email.back() == ' ' || email.back() == '\t')) email.remove_suffix(1);
  if (email.empty() || email.size() > kMaxEmailLength) return std::nullopt;
  const auto at = email.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == email.size() ||
      email.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(email.size());
  for (char c : email) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '<' || c == '>' || c == '"' || c == ',') return std::nullopt;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

std::string CheckNewPassword(std::string_view password, std::size_t min_length) {
  // Counted in code points so that a passphrase in any script is measured fairly.
  std::size_t code_points = 0;
  for (char c : password) {
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++code_points;
  }
  if (code_points < min_length) {
    return "Choose a password of at least " + std::to_string(min_length) + " characters.";
  }
  if (password.size() > kMaxPasswordLength) return "That password is too long.";
  return {};
}

std::string CheckDisplayName(std::string_view name) {
  if (name.find_first_not_of(" \t") == std::string_view::npos) return "Enter your name.";
  if (name.size() > kMaxNameLength) return "That name is too long.";
  for (char c : name) {
    if (static_cast<unsigned char>(c) < ' ') return "That name contains control characters.";
  }
  return {};
}

}  // namespace trellis::identity::domain
