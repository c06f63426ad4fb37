#include "platform/auth/oidc_verifier.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "platform/auth/jwt.hpp"

namespace trellis::platform::auth {

namespace asio = boost::asio;
namespace json = boost::json;
using core::ErrorCode;
using core::Fail;
using core::Result;

namespace {

constexpr std::string_view kDiscoveryPath = "/.well-known/openid-configuration";
constexpr int kHttpOk = 200;

std::unexpected<core::Error> Reject(std::string internal) {
  return Fail(ErrorCode::kUnauthenticated, "invalid token", std::move(internal));
}

std::unexpected<core::Error> Unverifiable(std::string internal) {
  return Fail(ErrorCode::kUnauthenticated, "token cannot be verified now", std::move(internal));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "application/at+jwt" and "AT+JWT" both name "at+jwt" (RFC 7515 section 4.1.9).
std::string NormalizeTyp(std::string_view typ) {
  std::string out = Lower(typ);
  constexpr std::string_view kPrefix = "application/";
  if (std::string_view(out).starts_with(kPrefix)) out.erase(0, kPrefix.size());
  return out;
}

std::string Sha256(std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 EVP_sha256(), nullptr) != 1) {
    return {};
  }
  out.resize(len);
  return out;
}

// A NumericDate claim as whole seconds; nullopt when absent or not a finite number.
std::optional<std::int64_t> NumericDate(const json::object& claims, std::string_view key) {
  const auto* v = claims.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) {
    if (v->as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(v->as_uint64());
  }
  if (v->is_double() && std::isfinite(v->as_double()) && std::abs(v->as_double()) < 1e15) {
    return static_cast<std::int64_t>(std::floor(v->as_double()));
  }
  return std::nullopt;
}

std::string StringClaim(const json::object& claims, std::string_view key) {
  const auto* v = claims.if_contains(key);
  return (v != nullptr && v->is_string()) ? std::string(v->as_string()) : std::string();
}

// One JWKS refresh that concurrent callers share. Waiters park on a timer of their own
// executor; completion moves each timer's expiry into the past on that executor, which wakes
// it whether or not its wait has started yet.
class Flight {
 public:
  void Complete(Result<JwkSet> result) {
    std::vector<Waiter> waiters;
    {
      std::lock_guard lock(mu_);
      if (done_) return;
      done_ = true;
      result_ = std::move(result);
      waiters.swap(waiters_);
    }
    for (auto& w : waiters) {
      asio::post(w.executor, [timer = w.timer] {
        timer->expires_at(std::chrono::steady_clock::time_point::min());
      });
    }
  }

  asio::awaitable<Result<JwkSet>> Wait(std::chrono::steady_clock::duration budget) {
    auto executor = co_await asio::this_coro::executor;
    auto timer = std::make_shared<asio::steady_timer>(executor);
    {
      std::lock_guard lock(mu_);
      if (done_) co_return result_;
      timer->expires_after(budget);
      waiters_.push_back(Waiter{executor, timer});
    }
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::lock_guard lock(mu_);
    if (done_) co_return result_;
    co_return Unverifiable("deadline passed waiting for the JWKS refresh");
  }

 private:
  struct Waiter {
    asio::any_io_executor executor;
    std::shared_ptr<asio::steady_timer> timer;
  };
  std::mutex mu_;
  bool done_ = false;                // guarded by mu_
  Result<JwkSet> result_{JwkSet()};  // guarded by mu_
  std::vector<Waiter> waiters_;      // guarded by mu_
};

}  // namespace

asio::awaitable<Result<http::ClientResponse>> ClientFetcher::Get(std::string url,
                                                                 core::Clock::MonoTime deadline) {
  co_return co_await client_.Get(std::move(url), deadline);
}

struct OidcVerifier::Impl {
  OidcVerifierSettings settings;
  Fetcher& fetcher;
  const core::Clock& clock;
  std::string discovery_url;

  std::atomic<std::uint64_t> signature_checks{0};
  std::atomic<std::uint64_t> cache_hits{0};
  std::atomic<std::uint64_t> discovery_fetches{0};
  std::atomic<std::uint64_t> jwks_fetches{0};

  std::mutex mu;
  std::string jwks_uri;                               // guarded by mu; "" until discovered
  std::optional<JwkSet> keys;                         // guarded by mu
  std::optional<core::Clock::MonoTime> last_refresh;  // guarded by mu
  std::shared_ptr<Flight> flight;                     // guarded by mu

  // Verified tokens by SHA-256, most recently used first.
  struct Cached {
    std::string key;
    VerifiedToken token;
  };
  std::mutex cache_mu;
  std::list<Cached> lru;                                                     // guarded by cache_mu
  std::unordered_map<std::string, std::list<Cached>::iterator> cache_index;  // guarded by cache_mu

  Impl(OidcVerifierSettings s, Fetcher& f, const core::Clock& c)
      : settings(std::move(s)), fetcher(f), clock(c) {
    std::string base = settings.issuer;
    while (!base.empty() && base.back() == '/') base.pop_back();
    discovery_url = base + std::string(kDiscoveryPath);
  }

  std::optional<VerifiedToken> CacheFind(const std::string& key) {
    std::lock_guard lock(cache_mu);
    auto it = cache_index.find(key);
    if (it == cache_index.end()) return std::nullopt;
    if (clock.Now() >= it->second->token.expires_at) {
      lru.erase(it->second);
      cache_index.erase(it);
      return std::nullopt;
    }
    lru.splice(lru.begin(), lru, it->second);
    return it->second->token;
  }

  void CachePut(std::string key, const VerifiedToken& token) {
    if (settings.cache_size == 0) return;
    std::lock_guard lock(cache_mu);
    if (cache_index.contains(key)) return;
    while (lru.size() >= settings.cache_size) {
      cache_index.erase(lru.back().key);
      lru.pop_back();
    }
    lru.push_front(Cached{key, token});
    cache_index.emplace(std::move(key), lru.begin());
  }

  // Discovery (once) and the JWKS, with the fetch timeout of the settings.
  asio::awaitable<Result<JwkSet>> FetchKeys() {
    const auto deadline = clock.Monotonic() + settings.fetch_timeout;
    std::string uri;
    {
      std::lock_guard lock(mu);
      uri = jwks_uri;
    }
    if (uri.empty()) {
      ++discovery_fetches;
      std::string url = discovery_url;
      auto res = co_await fetcher.Get(std::move(url), deadline);
      if (!res) co_return Unverifiable("discovery: " + res.error().internal);
      if (res->status != kHttpOk) {
        co_return Unverifiable("discovery: HTTP " + std::to_string(res->status));
      }
      boost::system::error_code ec;
      json::value doc = json::parse(res->body, ec);
      if (ec || !doc.is_object()) co_return Unverifiable("discovery: not a JSON object");
      if (StringClaim(doc.as_object(), "issuer") != settings.issuer) {
        co_return Unverifiable("discovery: issuer is \"" + StringClaim(doc.as_object(), "issuer") +
                               "\", configured \"" + settings.issuer + "\"");
      }
      uri = StringClaim(doc.as_object(), "jwks_uri");
      if (!uri.starts_with("https://") && !uri.starts_with("http://")) {
        co_return Unverifiable("discovery: no usable jwks_uri");
      }
      std::lock_guard lock(mu);
      jwks_uri = uri;
    }
    ++jwks_fetches;
    auto res = co_await fetcher.Get(std::move(uri), deadline);
    if (!res) co_return Unverifiable("jwks: " + res.error().internal);
    if (res->status != kHttpOk) co_return Unverifiable("jwks: HTTP " + std::to_string(res->status));
    auto set = JwkSet::Parse(res->body);
    if (!set) co_return Unverifiable("jwks: " + set.error().internal);
    co_return std::move(*set);
  }

  // The key set to verify a token with kid `kid` ("" from Start: always refresh when allowed).
  asio::awaitable<Result<JwkSet>> Keys(const std::string& kid, core::Clock::MonoTime deadline) {
    std::shared_ptr<Flight> joined;
    std::shared_ptr<Flight> led;
    {
      std::lock_guard lock(mu);
      if (keys && !kid.empty() && keys->Contains(kid)) co_return *keys;
      if (flight) {
        joined = flight;
      } else if (last_refresh &&
                 clock.Monotonic() - *last_refresh < settings.jwks_refetch_cooldown) {
        if (keys) co_return *keys;  // verification then fails on the unknown kid
        co_return Unverifiable("no JWKS yet; refetch cooling down");
      } else {
        led = flight = std::make_shared<Flight>();
        last_refresh = clock.Monotonic();
      }
    }
    if (joined) co_return co_await joined->Wait(deadline - clock.Monotonic());

    // The leader: whatever happens to this frame, the flight ends and the slot is freed.
    struct Finish {
      Impl* impl;
      std::shared_ptr<Flight> flight;
      Result<JwkSet> result = Unverifiable("JWKS refresh abandoned");
      ~Finish() {
        {
          std::lock_guard lock(impl->mu);
          if (result) impl->keys = *result;
          impl->flight.reset();
        }
        flight->Complete(result);
      }
    };
    Finish finish{this, led};
    finish.result = co_await FetchKeys();
    co_return finish.result;
  }

  Result<VerifiedToken> CheckClaims(const VerifiedJws& jws) const {
    boost::system::error_code ec;
    json::value doc = json::parse(jws.payload_json, ec);
    if (ec || !doc.is_object()) return Reject("payload is not a JSON object");
    const json::object& claims = doc.as_object();

    if (StringClaim(claims, "iss") != settings.issuer) {
      return Reject("iss is \"" + StringClaim(claims, "iss") + "\"");
    }
    bool audience_ok = false;
    if (const auto* aud = claims.if_contains("aud"); aud != nullptr) {
      if (aud->is_string()) {
        audience_ok = aud->as_string() == settings.audience;
      } else if (aud->is_array()) {
        for (const auto& a : aud->as_array()) {
          if (a.is_string() && a.as_string() == settings.audience) audience_ok = true;
        }
      }
    }
    if (!audience_ok) return Reject("aud does not contain " + settings.audience);

    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
    const std::int64_t leeway = settings.leeway.count();
    const auto exp = NumericDate(claims, "exp");
    if (!exp) return Reject("no exp");
    if (*exp + leeway <= now) return Reject("expired at " + std::to_string(*exp));
    if (claims.contains("nbf")) {
      const auto nbf = NumericDate(claims, "nbf");
      if (!nbf || *nbf - leeway > now) return Reject("not valid before nbf");
    }
    if (claims.contains("iat")) {
      const auto iat = NumericDate(claims, "iat");
      if (!iat || *iat - leeway > now) return Reject("issued in the future");
    }
    // Keycloak marks its token kinds in a `typ` claim: only "Bearer" is an access token.
    if (const auto* typ = claims.if_contains("typ"); typ != nullptr) {
      if (!typ->is_string() || Lower(typ->as_string()) != "bearer") {
        return Reject("typ claim is not Bearer");
      }
    }
    VerifiedToken out;
    out.issuer = settings.issuer;
    out.subject = StringClaim(claims, "sub");
    if (out.subject.empty()) return Reject("no sub");
    out.email = StringClaim(claims, "email");
    if (const auto* ev = claims.if_contains("email_verified"); ev != nullptr && ev->is_bool()) {
      out.email_verified = ev->as_bool();
    }
    out.name = StringClaim(claims, "name");
    if (out.name.empty()) out.name = StringClaim(claims, "preferred_username");
    out.session_id = StringClaim(claims, "sid");
    if (const auto* scope = claims.if_contains("scope"); scope != nullptr && scope->is_string()) {
      std::string_view rest(scope->as_string());
      while (!rest.empty()) {
        const auto space = rest.find(' ');
        auto one = rest.substr(0, space);
        if (!one.empty()) out.scopes.emplace_back(one);
        if (space == std::string_view::npos) break;
        rest.remove_prefix(space + 1);
      }
    } else if (const auto* scp = claims.if_contains("scp"); scp != nullptr && scp->is_array()) {
      for (const auto& s : scp->as_array()) {
        if (s.is_string()) out.scopes.emplace_back(s.as_string());
      }
    }
    out.expires_at = core::Clock::WallTime(
        std::chrono::duration_cast<core::Clock::WallTime::duration>(std::chrono::seconds(*exp)));
    out.claims_json = jws.payload_json;
    return out;
  }
};

OidcVerifier::OidcVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OidcVerifier::~OidcVerifier() = default;

Result<std::shared_ptr<OidcVerifier>> OidcVerifier::Create(OidcVerifierSettings settings,
                                                           Fetcher& fetcher,
                                                           const core::Clock& clock) {
  auto invalid = [](std::string what) {
    return Fail(ErrorCode::kInvalidArgument, "invalid OIDC verifier settings: " + what);
  };
  if (!settings.issuer.starts_with("https://") && !settings.issuer.starts_with("http://")) {
    return invalid("issuer must be an http(s) URL");
  }
  if (settings.audience.empty()) return invalid("audience is required");
  if (settings.leeway < std::chrono::seconds(0) || settings.leeway > kMaxLeeway) {
    return invalid("leeway must be between 0 and 60 seconds");
  }
  if (settings.allowed_algs.empty()) return invalid("allowed_algs is empty");
  for (const auto& alg : settings.allowed_algs) {
    if (alg != kAlgEs256) return invalid("unsupported algorithm " + alg);
  }
  if (settings.accepted_typ.empty()) return invalid("accepted_typ is empty");
  for (auto& typ : settings.accepted_typ) typ = NormalizeTyp(typ);
  if (settings.fetch_timeout <= std::chrono::milliseconds(0)) {
    return invalid("fetch_timeout must be positive");
  }
  return std::shared_ptr<OidcVerifier>(
      new OidcVerifier(std::make_unique<Impl>(std::move(settings), fetcher, clock)));
}

asio::awaitable<Result<void>> OidcVerifier::Start() {
  const auto deadline = impl_->clock.Monotonic() + impl_->settings.fetch_timeout;
  auto keys = co_await impl_->Keys(std::string(), deadline);
  if (!keys) co_return std::unexpected(keys.error());
  co_return Result<void>();
}

asio::awaitable<Result<VerifiedToken>> OidcVerifier::Verify(std::string token,
                                                            core::Clock::MonoTime deadline) {
  // Everything that can be refused from the header alone is refused before any fetch.
  auto header = ParseJwsHeader(token, impl_->settings.allowed_algs);
  if (!header) co_return std::unexpected(header.error());
  const auto& accepted = impl_->settings.accepted_typ;
  if (std::find(accepted.begin(), accepted.end(), NormalizeTyp(header->typ)) == accepted.end()) {
    co_return Reject("header typ \"" + header->typ + "\" not accepted");
  }

  // "" when the digest fails: two tokens must never share a key, so no caching then.
  std::string cache_key = Sha256(token);
  if (!cache_key.empty()) {
    if (auto hit = impl_->CacheFind(cache_key)) {
      ++impl_->cache_hits;
      co_return std::move(*hit);
    }
  }

  auto keys = co_await impl_->Keys(header->kid, deadline);
  if (!keys) co_return std::unexpected(keys.error());
  ++impl_->signature_checks;
  auto jws = VerifyJws(token, *keys, impl_->settings.allowed_algs);
  if (!jws) co_return std::unexpected(jws.error());
  auto verified = impl_->CheckClaims(*jws);
  if (!verified) co_return std::unexpected(verified.error());
  if (!cache_key.empty()) impl_->CachePut(std::move(cache_key), *verified);
  co_return verified;
}

const std::string& OidcVerifier::Issuer() const { return impl_->settings.issuer; }

OidcVerifier::Stats OidcVerifier::GetStats() const {
  Stats s;
  s.signature_checks = impl_->signature_checks.load();
  s.cache_hits = impl_->cache_hits.load();
  s.discovery_fetches = impl_->discovery_fetches.load();
  s.jwks_fetches = impl_->jwks_fetches.load();
  return s;
}

}  // namespace trellis::platform::auth
