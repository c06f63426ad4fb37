#include "gateway/authn/authn_middleware.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <utility>

#include "platform/auth/jwt.hpp"
#include "platform/http/problem.hpp"

namespace trellis::gateway::authn {

namespace asio = boost::asio;
namespace json = boost::json;
namespace http = platform::http;
namespace core = platform::core;
using core::ErrorCode;
using core::Fail;
using core::Result;
using PrincipalPtr = std::shared_ptr<const core::Principal>;

namespace {

// RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool IsB64Token(std::string_view token) {
  std::size_t i = 0;
  for (; i < token.size(); ++i) {
    const char c = token[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  if (i == 0) return false;
  for (; i < token.size(); ++i) {
    if (token[i] != '=') return false;
  }
  return true;
}

std::unexpected<core::Error> Unauthenticated(std::string message, std::string internal) {
  return Fail(ErrorCode::kUnauthenticated, std::move(message), std::move(internal));
}

}  // namespace

AuthnMiddleware::AuthnMiddleware(
    AuthnSettings settings, std::vector<std::shared_ptr<platform::auth::OidcVerifier>> verifiers,
    identity::v1::IdentityClient& identity, const core::Clock& clock)
    : settings_(std::move(settings)), identity_(identity), clock_(clock) {
  for (auto& v : verifiers) {
    if (v) verifiers_.emplace(v->Issuer(), std::move(v));
  }
}

asio::awaitable<http::Response> AuthnMiddleware::Handle(http::Request& req, http::Next next) {
  if (!req.path.starts_with(settings_.path_prefix)) co_return co_await next(req);

  auto refuse = [&](const core::Error& error) {
    http::Response response = http::Problem(error, req.path, req.ctx.request_id);
    if (error.code == ErrorCode::kUnauthenticated) {
      const bool had_credentials = req.FindHeader("authorization").has_value();
      std::string challenge = "Bearer realm=\"" + settings_.realm + "\"";
      if (had_credentials) challenge += ", error=\"invalid_token\"";
      response.With("WWW-Authenticate", std::move(challenge));
    }
    return response;
  };

  std::size_t authorization_headers = 0;
  std::string_view authorization;
  for (const auto& h : req.headers) {
    if (http::EqualsIgnoreCase(h.name, "authorization")) {
      ++authorization_headers;
      authorization = h.value;
    }
  }
  if (authorization_headers == 0) {
    co_return refuse(core::Error(ErrorCode::kUnauthenticated, "authentication required"));
  }
  constexpr std::string_view kScheme = "bearer ";
  if (authorization_headers > 1 || authorization.size() <= kScheme.size() ||
      !http::EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) {
    co_return refuse(core::Error(ErrorCode::kUnauthenticated, "malformed Authorization header",
                                 "not one Authorization: Bearer header"));
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);

  // The fast path: an access token verified before (only such tokens are in the map, so the
  // syntax checks below have passed for it already).
  if (auto known = FindToken(token)) {
    if (settings_.revocations && settings_.revocations->IsRevoked(known->session_id)) {
      co_return refuse(core::Error(ErrorCode::kUnauthenticated,
                                   "the session has ended; sign in again", "sid revoked"));
    }
    token_cache_hits_.fetch_add(1, std::memory_order_relaxed);
    req.ctx.principal = known->principal;
    co_return co_await next(req);
  }

  if (token.size() > platform::auth::kMaxTokenBytes || !IsB64Token(token)) {
    co_return refuse(core::Error(ErrorCode::kUnauthenticated, "malformed Authorization header",
                                 "bearer token is not a b64token"));
  }

  core::CallContext call;
  call.deadline = req.ctx.deadline;
  call.request_id = req.ctx.request_id;
  std::string token_text(token);
  auto principal = co_await Authenticate(std::move(token_text), std::move(call));
  if (!principal) co_return refuse(principal.error());
  req.ctx.principal = std::move(*principal);
  co_return co_await next(req);
}

asio::awaitable<Result<PrincipalPtr>> AuthnMiddleware::Authenticate(std::string token,
                                                                    core::CallContext call) {
  if (token.starts_with(settings_.api_key_prefix)) {
    co_return co_await AuthenticateApiKey(std::move(token), std::move(call));
  }
  co_return co_await AuthenticateAccessToken(std::move(token), std::move(call));
}

asio::awaitable<Result<PrincipalPtr>> AuthnMiddleware::AuthenticateApiKey(std::string token,
                                                                          core::CallContext call) {
  identity::v1::AuthenticateApiKeyRequest request;
  request.set_secret(std::move(token));
  auto key = co_await identity_.AuthenticateApiKey(std::move(request), std::move(call));
  if (!key) {
    if (key.error().code == ErrorCode::kUnauthenticated) {
      co_return Unauthenticated("invalid API key", key.error().internal);
    }
    co_return std::unexpected(key.error());
  }
  auto principal = std::make_shared<core::Principal>();
  principal->kind = core::Principal::Kind::kApiKey;
  principal->user_id = key->created_by();
  principal->api_key_id = key->key_id();
  principal->api_key_org_id = key->org_id();
  principal->api_key_role = identity::v1::ToCoreRole(key->role());
  co_return PrincipalPtr(std::move(principal));
}

asio::awaitable<Result<PrincipalPtr>> AuthnMiddleware::AuthenticateAccessToken(
    std::string token, core::CallContext call) {
  // The unverified `iss` only picks which verifier looks at the token; that verifier then
  // checks `iss` again against its own configuration, signed.
  auto payload = platform::auth::UnverifiedPayload(token);
  if (!payload) co_return std::unexpected(payload.error());
  std::string issuer;
  {
    boost::system::error_code ec;
    json::value claims = json::parse(*payload, ec);
    if (!ec && claims.is_object()) {
      if (const auto* iss = claims.as_object().if_contains("iss"); iss && iss->is_string()) {
        issuer = std::string(iss->as_string());
      }
    }
  }
  auto found = verifiers_.find(issuer);
  if (found == verifiers_.end()) {
    co_return Unauthenticated("invalid token", "no verifier for issuer \"" + issuer + "\"");
  }
  // Kept for the fast path's map (the verifier takes the token).
  std::string token_text = settings_.token_cache_size > 0 ? token : std::string();
  auto verified = co_await found->second->Verify(std::move(token), call.deadline);
  if (!verified) co_return std::unexpected(verified.error());
  // After the verifier's cache too: a token verified before its session ended is refused now.
  if (settings_.revocations && settings_.revocations->IsRevoked(verified->session_id)) {
    co_return Unauthenticated("the session has ended; sign in again", "sid revoked");
  }

  std::string key = verified->issuer;
  key.push_back('\n');
  key += verified->subject;
  std::optional<CachedUser> user = FindUser(key);
  if (!user) {
    identity::v1::ResolveSubjectRequest request;
    request.set_issuer(verified->issuer);
    request.set_subject(verified->subject);
    request.set_email(verified->email);
    request.set_name(verified->name);
    const auto& trusted = settings_.email_trusted_issuers;
    request.set_email_verified(verified->email_verified ||
                               std::find(trusted.begin(), trusted.end(), verified->issuer) !=
                                   trusted.end());
    {
      std::lock_guard lock(mu_);
      ++resolve_calls_;
    }
    auto resolved = co_await identity_.ResolveSubject(std::move(request), std::move(call));
    if (!resolved) co_return std::unexpected(resolved.error());
    CachedUser fresh;
    fresh.key = key;
    fresh.user_id = resolved->id();
    fresh.email = resolved->email();
    fresh.name = resolved->name();
    fresh.expires = clock_.Monotonic() + settings_.user_cache_ttl;
    RememberUser(fresh);
    user = std::move(fresh);
  }

  auto principal = std::make_shared<core::Principal>();
  principal->kind = core::Principal::Kind::kUser;
  principal->user_id = user->user_id;
  principal->issuer = verified->issuer;
  principal->subject = verified->subject;
  principal->email = verified->email.empty() ? user->email : verified->email;
  principal->name = verified->name.empty() ? user->name : verified->name;
  PrincipalPtr shared(std::move(principal));
  if (!token_text.empty() && settings_.user_cache_size > 0) {
    auto known = std::make_shared<KnownToken>();
    known->principal = shared;
    known->session_id = verified->session_id;
    known->token_expires = verified->expires_at;
    known->user_expires = user->expires;
    RememberToken(std::move(token_text), std::move(known));
  }
  co_return shared;
}

std::optional<AuthnMiddleware::CachedUser> AuthnMiddleware::FindUser(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = user_index_.find(key);
  if (it == user_index_.end()) return std::nullopt;
  if (clock_.Monotonic() >= it->second->expires) {
    users_.erase(it->second);
    user_index_.erase(it);
    return std::nullopt;
  }
  users_.splice(users_.begin(), users_, it->second);
  ++user_cache_hits_;
  return *it->second;
}

void AuthnMiddleware::RememberUser(CachedUser user) {
  if (settings_.user_cache_size == 0) return;
  std::lock_guard lock(mu_);
  if (auto it = user_index_.find(user.key); it != user_index_.end()) {
    users_.erase(it->second);
    user_index_.erase(it);
  }
  while (users_.size() >= settings_.user_cache_size) {
    user_index_.erase(users_.back().key);
    users_.pop_back();
  }
  users_.push_front(std::move(user));
  user_index_.emplace(users_.front().key, users_.begin());
}

std::shared_ptr<const AuthnMiddleware::KnownToken> AuthnMiddleware::FindToken(
    std::string_view token) {
  if (settings_.token_cache_size == 0) return nullptr;
  std::lock_guard lock(tokens_mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return nullptr;
  // Expired entries go; the slow path then refuses the token or finds its user anew.
  if (clock_.Now() >= it->second->token_expires || clock_.Monotonic() >= it->second->user_expires) {
    tokens_.erase(it);
    return nullptr;
  }
  return it->second;
}

void AuthnMiddleware::RememberToken(std::string token, std::shared_ptr<const KnownToken> known) {
  std::lock_guard lock(tokens_mu_);
  if (tokens_.size() >= settings_.token_cache_size && !tokens_.contains(token)) {
    // Full: drop what has expired, and everything if that is not enough (a miss only costs
    // the verifier's cache and the user cache, which keep their own entries).
    const auto now = clock_.Now();
    const auto mono = clock_.Monotonic();
    std::erase_if(tokens_, [&](const auto& entry) {
      return now >= entry.second->token_expires || mono >= entry.second->user_expires;
    });
    if (tokens_.size() >= settings_.token_cache_size) tokens_.clear();
  }
  tokens_.insert_or_assign(std::move(token), std::move(known));
}

AuthnMiddleware::Stats AuthnMiddleware::GetStats() const {
  std::lock_guard lock(mu_);
  return Stats{resolve_calls_, user_cache_hits_, token_cache_hits_.load(std::memory_order_relaxed)};
}

}  // namespace trellis::gateway::authn
