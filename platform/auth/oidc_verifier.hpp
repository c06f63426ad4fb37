// Verifies OAuth 2.0 access tokens (JWT, RFC 9068) from ONE OpenID Connect issuer, found by
// discovery: <issuer>/.well-known/openid-configuration -> jwks_uri -> JWKS.
//
//   auto verifier = OidcVerifier::Create(settings, fetcher, clock).value();
//   auto token = co_await verifier->Verify(std::move(bearer), req.ctx.deadline);
//   if (!token) co_return Problem(token.error(), ...);   // always kUnauthenticated
//
// Checks: signature (ES256 only, strict JWS, see jwt.hpp), alg allow-list, header typ in the
// accepted list, a `typ` claim (Keycloak) if present must be "Bearer", iss exact, aud contains
// the audience, exp required and not past now - leeway, nbf/iat not after now + leeway, sub
// required. Keys are cached; an unknown kid triggers at most one JWKS refetch per cooldown and
// concurrent callers share it. Verified tokens are cached by SHA-256 until their exp.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/http/client.hpp"

namespace trellis::platform::auth {

// Where the verifier's outbound GETs go; a seam for tests (count fetches) and for the wiring.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<http::ClientResponse>> Get(
      std::string url, core::Clock::MonoTime deadline) = 0;
};

// A Fetcher over the platform HTTP client.
class ClientFetcher final : public Fetcher {
 public:
  explicit ClientFetcher(http::Client& client) : client_(client) {}
  // Fetcher
  [[nodiscard]] boost::asio::awaitable<core::Result<http::ClientResponse>> Get(
      std::string url, core::Clock::MonoTime deadline) override;

 private:
  http::Client& client_;
};

// A Fetcher from a function: e.g. the built-in issuer's discovery and JWKS served in-process
// instead of over loopback HTTP. The function (and what it refers to) must outlive the fetcher.
class FunctionFetcher final : public Fetcher {
 public:
  using Function = std::function<boost::asio::awaitable<core::Result<http::ClientResponse>>(
      std::string url, core::Clock::MonoTime deadline)>;
  explicit FunctionFetcher(Function function) : function_(std::move(function)) {}
  // Fetcher
  [[nodiscard]] boost::asio::awaitable<core::Result<http::ClientResponse>> Get(
      std::string url, core::Clock::MonoTime deadline) override {
    return function_(std::move(url), deadline);
  }

 private:
  Function function_;
};

inline constexpr std::chrono::seconds kMaxLeeway{60};

struct OidcVerifierSettings {
  std::string issuer;    // exact `iss`, e.g. "https://id.example.com/realms/trellis"
  std::string audience;  // must be in `aud`
  std::vector<std::string> allowed_algs{"ES256"};
  std::chrono::seconds leeway{30};  // clock skew allowed on exp/nbf/iat; at most kMaxLeeway
  std::chrono::seconds jwks_refetch_cooldown{30};
  std::chrono::milliseconds fetch_timeout{5'000};  // one discovery or JWKS fetch
  // Header `typ` values accepted (compared case-insensitively, "application/" prefix ignored).
  // RFC 9068 says "at+jwt"; Keycloak sends "JWT" (and then the `typ` claim must be "Bearer").
  std::vector<std::string> accepted_typ{"at+jwt"};
  std::size_t cache_size = 10'000;  // verified tokens kept
};

struct VerifiedToken {
  std::string issuer;
  std::string subject;
  std::string email;            // "" when absent
  bool email_verified = false;  // the `email_verified` claim is JSON true
  std::string name;             // `name`, else `preferred_username`, else ""
  std::vector<std::string> scopes;
  std::string session_id;  // `sid`, "" when absent: checked against the revocation list
  core::Clock::WallTime expires_at;
  std::string claims_json;  // the payload as signed
};

class OidcVerifier {
 public:
  // Fails (kInvalidArgument) on unusable settings: no issuer/audience, leeway over 60 s, an
  // algorithm this build cannot verify, no accepted typ. `fetcher` and `clock` must outlive it.
  [[nodiscard]] static core::Result<std::shared_ptr<OidcVerifier>> Create(
      OidcVerifierSettings settings, Fetcher& fetcher, const core::Clock& clock);
  ~OidcVerifier();
  OidcVerifier(const OidcVerifier&) = delete;
  OidcVerifier& operator=(const OidcVerifier&) = delete;

  // Fetches discovery and the JWKS now instead of on the first token (optional).
  [[nodiscard]] boost::asio::awaitable<core::Result<void>> Start();
  // Verifies an access token. Every failure is kUnauthenticated ("invalid token" or a similar
  // short message; the reason is in Error::internal).
  [[nodiscard]] boost::asio::awaitable<core::Result<VerifiedToken>> Verify(
      std::string token, core::Clock::MonoTime deadline);

  [[nodiscard]] const std::string& Issuer() const;

  struct Stats {
    std::uint64_t signature_checks = 0;  // tokens whose signature was verified
    std::uint64_t cache_hits = 0;
    std::uint64_t discovery_fetches = 0;
    std::uint64_t jwks_fetches = 0;
  };
  [[nodiscard]] Stats GetStats() const;

 private:
  struct Impl;
  explicit OidcVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis::platform::auth
