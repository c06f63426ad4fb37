#include "services/identity/app/oidc_issuer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <set>
#include <type_traits>
#include <utility>

#include "platform/auth/jwt.hpp"
#include "platform/core/log.hpp"
#include "services/identity/app/membership_activation.hpp"
#include "services/identity/domain/oidc_keys.hpp"
#include "services/identity/store/oidc_store.hpp"
#include "services/identity/store/sql_refresh_families.hpp"

namespace trellis::identity::app {

namespace asio = boost::asio;
namespace json = boost::json;
namespace core = platform::core;
namespace auth = platform::auth;
using core::ErrorCode;
using core::Result;
using platform::ports::Awaitable;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;

namespace {

constexpr std::string_view kTypAccessToken = "at+jwt";
constexpr std::string_view kTypIdToken = "JWT";
constexpr std::string_view kWrongCredentials = "Wrong email or password.";
constexpr std::string_view kTryLater = "Too many attempts. Try again later.";

std::int64_t Ms(std::chrono::seconds s) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(s).count();
}

OAuthError InvalidGrant(std::string description) {
  return OAuthError{400, "invalid_grant", std::move(description)};
}

std::unexpected<OAuthError> Refuse(OAuthError e) { return std::unexpected(std::move(e)); }

std::string Serialize(const json::object& o) { return json::serialize(o); }

}  // namespace

std::string TokenResponse::ToJson() const {
  json::object o;
  o["access_token"] = access_token;
  o["token_type"] = "Bearer";
  o["expires_in"] = expires_in;
  if (!id_token.empty()) o["id_token"] = id_token;
  if (!refresh_token.empty()) o["refresh_token"] = refresh_token;
  o["scope"] = scope;
  return Serialize(o);
}

std::string OAuthError::ToJson() const {
  json::object o;
  o["error"] = error;
  if (!description.empty()) o["error_description"] = description;
  return Serialize(o);
}

// A signing key loaded from the database.
struct LoadedKey {
  domain::KeyTimes times;
  std::string public_jwk;
  std::shared_ptr<const auth::SigningKey> key;
};

struct OidcIssuer::Impl {
  Impl(const OidcSettings& s, platform::ports::SqlStore& st, const core::Clock& c,
       core::IdGenerator& i)
      : store(st),
        clock(c),
        ids(i),
        pool(static_cast<std::size_t>(s.hash_threads)),
        throttle(s.throttle, c),
        csrf_key(RandomToken()),
        sql_families(st, c),
        families(&sql_families) {}
  ~Impl() { pool.join(); }

  platform::ports::SqlStore& store;
  const core::Clock& clock;
  core::IdGenerator& ids;
  asio::thread_pool pool;  // password hashing only
  domain::SignInThrottle throttle;
  const std::string csrf_key;  // per process: a restart invalidates open sign-in forms
  platform::ports::TokenStore* revocations = nullptr;  // set once before serving
  store::SqlRefreshFamilies sql_families;              // the default families
  platform::ports::RefreshFamilies* families;          // set once before serving
  std::string dummy_hash;  // verified against for unknown emails (equal timing); set in Start

  std::mutex mu;
  std::vector<LoadedKey> keys;         // guarded by mu
  std::vector<std::string> jwks_kids;  // guarded by mu: the kids jwks was built from
  auth::JwkSet jwks;                   // guarded by mu

  [[nodiscard]] std::int64_t NowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
        .count();
  }

  std::vector<domain::KeyTimes> Times() {
    std::lock_guard lock(mu);
    std::vector<domain::KeyTimes> out;
    for (const auto& k : keys) out.push_back(k.times);
    return out;
  }

  // The key that signs now, or null when none is loaded.
  std::shared_ptr<const auth::SigningKey> Signer(std::int64_t now_ms) {
    std::lock_guard lock(mu);
    std::vector<domain::KeyTimes> times;
    for (const auto& k : keys) times.push_back(k.times);
    const auto active = domain::ActiveKey(times, now_ms);
    if (!active) return nullptr;
    return keys[*active].key;
  }

  // The public JWKs published now, newest first.
  std::vector<std::string> PublishedJwks(std::int64_t now_ms, std::vector<std::string>* kids) {
    std::lock_guard lock(mu);
    std::vector<domain::KeyTimes> times;
    for (const auto& k : keys) times.push_back(k.times);
    std::vector<std::string> out;
    for (auto i : domain::PublishedKeys(times, now_ms)) {
      out.push_back(keys[i].public_jwk);
      if (kids != nullptr) kids->push_back(keys[i].times.kid);
    }
    return out;
  }

  // The verification keys for now, rebuilt only when the published set changed.
  Result<auth::JwkSet> VerificationKeys(std::int64_t now_ms) {
    std::vector<std::string> kids;
    auto jwks_text = auth::JwksJson(PublishedJwks(now_ms, &kids));
    std::lock_guard lock(mu);
    if (kids == jwks_kids && jwks.Size() == kids.size()) return jwks;
    auto parsed = auth::JwkSet::Parse(jwks_text);
    if (!parsed) return std::unexpected(parsed.error());
    jwks = *parsed;
    jwks_kids = std::move(kids);
    return jwks;
  }

  Result<void> Replace(const std::vector<store::SigningKeyRow>& rows) {
    std::vector<LoadedKey> loaded;
    for (const auto& row : rows) {
      auto key = auth::SigningKey::FromPrivatePem(row.kid, row.private_pem);
      if (!key) return std::unexpected(key.error());
      LoadedKey k;
      k.times = domain::KeyTimes{row.kid, row.activated_at_ms, row.retire_at_ms};
      k.public_jwk = row.public_jwk;
      k.key = std::make_shared<const auth::SigningKey>(std::move(*key));
      loaded.push_back(std::move(k));
    }
    std::lock_guard lock(mu);
    keys = std::move(loaded);
    return {};
  }

  // Runs f() on the hashing pool and resumes on the caller's executor. Callers pass a named
  // function object: a closure temporary holding strings must not span the co_await (g++ 12,
  // ADR 0004), so f is taken by reference and moved into the pool's coroutine here.
  template <typename F>
  auto OffLoop(F& f) {
    using R = std::invoke_result_t<F&>;
    return asio::co_spawn(
        pool, [fn = std::move(f)]() mutable -> asio::awaitable<R> { co_return fn(); },
        asio::use_awaitable);
  }
};

OidcIssuer::OidcIssuer(OidcSettings settings, std::unique_ptr<Impl> impl)
    : settings_(std::move(settings)), impl_(std::move(impl)) {}

OidcIssuer::~OidcIssuer() = default;

Result<std::unique_ptr<OidcIssuer>> OidcIssuer::Create(OidcSettings settings,
                                                       platform::ports::SqlStore& store,
                                                       const core::Clock& clock,
                                                       core::IdGenerator& ids) {
  while (!settings.issuer.empty() && settings.issuer.back() == '/') settings.issuer.pop_back();
  if (!settings.issuer.starts_with("http://") && !settings.issuer.starts_with("https://")) {
    return core::Fail(ErrorCode::kInvalidArgument, "oidc issuer must be an http(s) URL",
                      settings.issuer);
  }
  if (settings.audience.empty()) {
    return core::Fail(ErrorCode::kInvalidArgument, "oidc audience must not be empty");
  }
  if (settings.rotation_overlap < settings.access_token_lifetime + settings.leeway) {
    return core::Fail(ErrorCode::kInvalidArgument,
                      "oidc rotation_overlap must be at least access_token_lifetime + leeway");
  }
  if (settings.rotation_period <= std::chrono::seconds(0) ||
      settings.code_lifetime <= std::chrono::seconds(0) ||
      settings.access_token_lifetime <= std::chrono::seconds(0) ||
      settings.refresh_token_lifetime <= std::chrono::seconds(0) ||
      settings.session_lifetime <= std::chrono::seconds(0)) {
    return core::Fail(ErrorCode::kInvalidArgument, "oidc lifetimes must be positive");
  }
  if (settings.hash_threads < 1) {
    return core::Fail(ErrorCode::kInvalidArgument, "oidc hash_threads must be at least 1");
  }
  if (settings.console_client && !domain::FindClient(settings.clients, kConsoleClientId)) {
    domain::OidcClient console;
    console.id = std::string(kConsoleClientId);
    console.redirect_uris = {settings.issuer + "/console/callback"};
    console.post_logout_redirect_uris = {settings.issuer + "/console"};
    settings.clients.push_back(std::move(console));
  }
  std::set<std::string> seen;
  for (const auto& c : settings.clients) {
    if (c.id.empty() || !seen.insert(c.id).second) {
      return core::Fail(ErrorCode::kInvalidArgument, "oidc client ids must be unique and set",
                        c.id);
    }
    if (c.redirect_uris.empty()) {
      return core::Fail(ErrorCode::kInvalidArgument, "oidc client needs a redirect_uri", c.id);
    }
  }
  if (auto ok = InitCrypto(); !ok) return std::unexpected(ok.error());
  auto impl = std::make_unique<Impl>(settings, store, clock, ids);
  return std::unique_ptr<OidcIssuer>(new OidcIssuer(std::move(settings), std::move(impl)));
}

Awaitable<void> OidcIssuer::Start(Deadline deadline) {
  Impl& s = *impl_;
  {
    auto rows = std::vector<store::SigningKeyRow>();
    auto loaded = co_await s.store.Transact(TransactionOptions().ReadOnly().Deadline(deadline),
                                            [&](SqlTransaction& tx) -> Awaitable<void> {
                                              auto r = co_await store::LoadSigningKeys(tx);
                                              if (!r) co_return std::unexpected(r.error());
                                              rows = std::move(*r);
                                              co_return Result<void>();
                                            });
    if (!loaded) co_return std::unexpected(loaded.error());
    if (auto ok = s.Replace(rows); !ok) co_return std::unexpected(ok.error());
  }
  if (s.dummy_hash.empty()) {
    const auto cost = settings_.password_hashing;
    auto hash_dummy = [cost] { return HashPassword(RandomToken(), cost); };
    auto dummy = co_await s.OffLoop(hash_dummy);
    if (!dummy) co_return std::unexpected(dummy.error());
    s.dummy_hash = std::move(*dummy);
  }
  co_return co_await MaintainKeys(deadline);
}

Awaitable<void> OidcIssuer::MaintainKeys(Deadline deadline) {
  Impl& s = *impl_;
  const domain::KeyRotationPolicy policy{Ms(settings_.rotation_period),
                                         Ms(settings_.rotation_overlap)};
  const std::int64_t now = s.NowMs();
  const auto cached = s.Times();
  bool stale_retired = false;
  for (const auto& k : cached)
    stale_retired = stale_retired || (k.retire_at_ms && *k.retire_at_ms <= now);
  if (!domain::NeedsNewKey(cached, now, policy) && !stale_retired) co_return Result<void>();

  std::vector<store::SigningKeyRow> rows;
  std::string rotated_to;
  auto done = co_await s.store.Transact(
      TransactionOptions().Deadline(deadline), [&](SqlTransaction& tx) -> Awaitable<void> {
        // Decided again inside the write transaction: another caller may have rotated already.
        auto current = co_await store::LoadSigningKeys(tx);
        if (!current) co_return std::unexpected(current.error());
        std::vector<domain::KeyTimes> times;
        for (const auto& r : *current) {
          times.push_back(domain::KeyTimes{r.kid, r.activated_at_ms, r.retire_at_ms});
        }
        if (domain::NeedsNewKey(times, now, policy)) {
          auto key = auth::SigningKey::Generate(s.ids.Next());
          if (!key) co_return std::unexpected(key.error());
          auto retired = co_await store::RetireActiveKeys(tx, now + policy.overlap_ms);
          if (!retired) co_return std::unexpected(retired.error());
          store::SigningKeyRow row;
          row.kid = key->Kid();
          row.private_pem = key->PrivatePem();
          row.public_jwk = key->PublicJwkJson();
          row.created_at_ms = now;
          row.activated_at_ms = now;
          auto inserted = co_await store::InsertSigningKey(tx, row);
          if (!inserted) co_return std::unexpected(inserted.error());
          rotated_to = row.kid;
        }
        // A key past its retire time verifies nothing any more.
        auto dropped = co_await store::DeleteRetiredKeys(tx, now + 1);
        if (!dropped) co_return std::unexpected(dropped.error());
        auto after = co_await store::LoadSigningKeys(tx);
        if (!after) co_return std::unexpected(after.error());
        rows = std::move(*after);
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  if (!rotated_to.empty()) {
    core::LogLine(core::LogLevel::kInfo, "oidc signing key activated").Str("kid", rotated_to);
  }
  co_return s.Replace(rows);
}

std::string OidcIssuer::DiscoveryJson() const {
  const std::string& iss = settings_.issuer;
  json::object o;
  o["issuer"] = iss;
  o["authorization_endpoint"] = iss + "/oidc/authorize";
  o["token_endpoint"] = iss + "/oidc/token";
  o["userinfo_endpoint"] = iss + "/oidc/userinfo";
  o["jwks_uri"] = iss + "/oidc/jwks";
  o["end_session_endpoint"] = iss + "/oidc/end-session";
  o["response_types_supported"] = json::array{"code"};
  o["response_modes_supported"] = json::array{"query"};
  o["grant_types_supported"] = json::array{"authorization_code", "refresh_token"};
  o["code_challenge_methods_supported"] = json::array{"S256"};
  o["id_token_signing_alg_values_supported"] = json::array{"ES256"};
  o["subject_types_supported"] = json::array{"public"};
  o["token_endpoint_auth_methods_supported"] = json::array{"none"};
  o["scopes_supported"] = json::array{"openid", "profile", "email", "offline_access"};
  o["claims_supported"] =
      json::array{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "name"};
  return Serialize(o);
}

Awaitable<std::string> OidcIssuer::JwksJson(Deadline deadline) {
  if (auto ok = co_await MaintainKeys(deadline); !ok) co_return std::unexpected(ok.error());
  co_return auth::JwksJson(impl_->PublishedJwks(impl_->NowMs(), nullptr));
}

domain::AuthorizeCheck OidcIssuer::CheckAuthorize(const domain::AuthorizeParams& p) const {
  return domain::ValidateAuthorize(p, settings_.clients);
}

namespace {

std::string CsrfInput(std::string_view browser_secret, const domain::AuthorizeParams& p) {
  std::string in;
  for (std::string_view part :
       {browser_secret, std::string_view(p.client_id), std::string_view(p.redirect_uri),
        std::string_view(p.scope), std::string_view(p.state), std::string_view(p.nonce),
        std::string_view(p.code_challenge)}) {
    // Length-prefixed, so that no two different inputs give one string.
    in += std::to_string(part.size());
    in += ':';
    in += part;
  }
  return in;
}

}  // namespace

std::string OidcIssuer::FormCsrf(std::string_view browser_secret,
                                 const domain::AuthorizeParams& p) const {
  return HmacSha256Base64Url(impl_->csrf_key, CsrfInput(browser_secret, p));
}

bool OidcIssuer::CheckFormCsrf(std::string_view browser_secret, const domain::AuthorizeParams& p,
                               std::string_view csrf) const {
  if (browser_secret.empty() || csrf.empty()) return false;
  return ConstantTimeEquals(FormCsrf(browser_secret, p), csrf);
}

Awaitable<std::optional<BrowserSession>> OidcIssuer::FindSession(std::string cookie,
                                                                 Deadline deadline) {
  if (cookie.empty()) co_return std::optional<BrowserSession>();
  const std::string hash = Sha256Hex(cookie);
  std::optional<store::SessionRow> row;
  auto done = co_await impl_->store.Transact(TransactionOptions().ReadOnly().Deadline(deadline),
                                             [&](SqlTransaction& tx) -> Awaitable<void> {
                                               auto found = co_await store::FindSession(tx, hash);
                                               if (!found) co_return std::unexpected(found.error());
                                               row = std::move(*found);
                                               co_return Result<void>();
                                             });
  if (!done) co_return std::unexpected(done.error());
  if (!row || row->ended_at_ms || row->expires_at_ms <= impl_->NowMs()) {
    co_return std::optional<BrowserSession>();
  }
  BrowserSession session{row->id, row->user_id, row->created_at_ms};
  co_return std::optional<BrowserSession>(std::move(session));
}

Awaitable<std::string> OidcIssuer::IssueCode(domain::AuthorizeParams params, BrowserSession session,
                                             Deadline deadline) {
  const std::string code = RandomToken();
  const std::int64_t now = impl_->NowMs();
  store::CodeRow row;
  row.code_sha256 = Sha256Hex(code);
  row.client_id = params.client_id;
  row.user_id = session.user_id;
  row.redirect_uri = params.redirect_uri;
  row.code_challenge = params.code_challenge;
  row.scope = params.scope;
  row.nonce = params.nonce;
  row.session_id = session.id;
  row.auth_time_ms = session.auth_time_ms;
  row.created_at_ms = now;
  row.expires_at_ms = now + Ms(settings_.code_lifetime);
  auto done = co_await impl_->store.Transact(TransactionOptions().Deadline(deadline),
                                             [&](SqlTransaction& tx) -> Awaitable<void> {
                                               co_return co_await store::InsertCode(tx, row);
                                             });
  if (!done) co_return std::unexpected(done.error());
  co_return code;
}

namespace {

// Inserts a new browser session for user_id; returns the cookie value.
Awaitable<SignedIn> NewSession(SqlTransaction& tx, const std::string& user_id, std::int64_t now,
                               std::int64_t lifetime_ms, core::IdGenerator& ids) {
  SignedIn out;
  out.cookie = RandomToken();
  store::SessionRow row;
  row.id = ids.Next();
  row.token_sha256 = Sha256Hex(out.cookie);
  row.user_id = user_id;
  row.created_at_ms = now;
  row.expires_at_ms = now + lifetime_ms;
  auto inserted = co_await store::InsertSession(tx, row);
  if (!inserted) co_return std::unexpected(inserted.error());
  out.session = BrowserSession{row.id, user_id, now};
  co_return out;
}

}  // namespace

Awaitable<SignedIn> OidcIssuer::SignIn(std::string email, std::string password, std::string address,
                                       Deadline deadline) {
  Impl& s = *impl_;
  const std::string account = domain::NormalizeEmail(email).value_or(email);
  if (s.throttle.Check(account, address) != domain::ThrottleVerdict::kAllowed) {
    co_return core::Fail(ErrorCode::kResourceExhausted, std::string(kTryLater));
  }
  s.throttle.RecordAttempt(address);
  if (password.size() > domain::kMaxPasswordLength) {
    s.throttle.RecordFailure(account);
    co_return core::Fail(ErrorCode::kUnauthenticated, std::string(kWrongCredentials));
  }

  std::optional<store::LocalAccount> found;
  auto read = co_await s.store.Transact(TransactionOptions().ReadOnly().Deadline(deadline),
                                        [&](SqlTransaction& tx) -> Awaitable<void> {
                                          auto r = co_await store::FindLocalAccount(tx, account);
                                          if (!r) co_return std::unexpected(r.error());
                                          found = std::move(*r);
                                          co_return Result<void>();
                                        });
  if (!read) co_return std::unexpected(read.error());

  // An unknown email costs one verification too, so timing does not tell which emails exist.
  std::string hash = found ? found->password_hash : s.dummy_hash;
  auto verify = [hash = std::move(hash), password = std::move(password)] {
    return VerifyPassword(hash, password);
  };
  const bool match = co_await s.OffLoop(verify);
  if (!found || !match) {
    s.throttle.RecordFailure(account);
    co_return core::Fail(ErrorCode::kUnauthenticated, std::string(kWrongCredentials));
  }
  s.throttle.RecordSuccess(account);

  SignedIn out;
  const std::int64_t now = s.NowMs();
  auto written = co_await s.store.Transact(
      TransactionOptions().Deadline(deadline), [&](SqlTransaction& tx) -> Awaitable<void> {
        auto created =
            co_await NewSession(tx, found->user_id, now, Ms(settings_.session_lifetime), s.ids);
        if (!created) co_return std::unexpected(created.error());
        out = std::move(*created);
        co_return Result<void>();
      });
  if (!written) co_return std::unexpected(written.error());
  co_return out;
}

Awaitable<SignedIn> OidcIssuer::SignUp(std::string email, std::string name, std::string password,
                                       std::string address, Deadline deadline) {
  Impl& s = *impl_;
  auto normalized = domain::NormalizeEmail(email);
  if (s.throttle.Check(normalized.value_or(email), address) ==
      domain::ThrottleVerdict::kAddressLimited) {
    co_return core::Fail(ErrorCode::kResourceExhausted, std::string(kTryLater));
  }
  s.throttle.RecordAttempt(address);
  if (!normalized) co_return core::Fail(ErrorCode::kValidation, "Enter a valid email address.");
  if (auto why = domain::CheckDisplayName(name); !why.empty()) {
    co_return core::Fail(ErrorCode::kValidation, why);
  }
  if (auto why = domain::CheckNewPassword(password, settings_.min_password_length); !why.empty()) {
    co_return core::Fail(ErrorCode::kValidation, why);
  }
  // Trimmed: a name is shown to other members.
  const auto first = name.find_first_not_of(" \t");
  const auto last = name.find_last_not_of(" \t");
  name = name.substr(first, last - first + 1);

  const auto cost = settings_.password_hashing;
  auto hash_password = [password = std::move(password), cost] {
    return HashPassword(password, cost);
  };
  auto hash = co_await s.OffLoop(hash_password);
  if (!hash) co_return std::unexpected(hash.error());

  store::NewLocalUser user;
  user.user_id = s.ids.Next();
  user.email = *normalized;
  user.name = name;
  user.password_hash = std::move(*hash);
  user.issuer = settings_.issuer;
  user.now_ms = s.NowMs();
  SignedIn out;
  // On PostgreSQL RLS admits activation of the invitations to this address, as this user
  // (docs/adr/0013). Built outside co_await (ADR 0004).
  TransactionOptions options;
  options.Deadline(deadline)
      .Setting("trellis.user_id", user.user_id)
      .Setting("trellis.email", user.email);
  auto written =
      co_await s.store.Transact(std::move(options), [&](SqlTransaction& tx) -> Awaitable<void> {
        auto created = co_await store::CreateLocalUser(tx, user);
        if (!created) co_return std::unexpected(created.error());
        // Invitations waiting for this email become memberships in the same transaction.
        auto joined =
            co_await ActivatePendingMemberships(tx, user.user_id, user.email, user.now_ms, s.ids);
        if (!joined) co_return std::unexpected(joined.error());
        auto session = co_await NewSession(tx, user.user_id, user.now_ms,
                                           Ms(settings_.session_lifetime), s.ids);
        if (!session) co_return std::unexpected(session.error());
        out = std::move(*session);
        co_return Result<void>();
      });
  if (!written) {
    if (written.error().code == ErrorCode::kAlreadyExists) {
      co_return core::Fail(ErrorCode::kAlreadyExists,
                           "An account with this email already exists. Sign in instead.");
    }
    co_return std::unexpected(written.error());
  }
  core::LogLine(core::LogLevel::kInfo, "oidc user signed up").Str("user_id", user.user_id);
  co_return out;
}

namespace {

// What a token grant needs to mint the tokens once the database work is done.
struct Grant {
  std::string user_id;
  std::string client_id;
  std::string scope;
  std::string nonce;
  std::string session_id;
  std::int64_t auth_time_ms = 0;
  std::string refresh_token;
  std::string email;
  std::string name;
};

}  // namespace

namespace {

Result<TokenResponse> Mint(const auth::SigningKey& key, const OidcSettings& settings,
                           const Grant& g, std::int64_t now_ms, const std::string& jti) {
  const std::int64_t now_s = now_ms / 1000;
  const std::int64_t life = settings.access_token_lifetime.count();
  json::object at;
  at["iss"] = settings.issuer;
  at["sub"] = g.user_id;
  at["aud"] = settings.audience;
  at["client_id"] = g.client_id;
  at["scope"] = g.scope;
  at["iat"] = now_s;
  at["exp"] = now_s + life;
  at["jti"] = jti;
  at["auth_time"] = g.auth_time_ms / 1000;
  at["email"] = g.email;
  at["name"] = g.name;
  // The session, so that signing out (or a reused refresh token) revokes the access tokens
  // already handed out, in every process (the token store's revocation list).
  if (!g.session_id.empty()) at["sid"] = g.session_id;
  auto access = key.Sign(kTypAccessToken, Serialize(at));
  if (!access) return std::unexpected(access.error());

  json::object id;
  id["iss"] = settings.issuer;
  id["sub"] = g.user_id;
  id["aud"] = g.client_id;
  id["iat"] = now_s;
  id["exp"] = now_s + life;
  id["auth_time"] = g.auth_time_ms / 1000;
  id["sid"] = g.session_id;
  if (!g.nonce.empty()) id["nonce"] = g.nonce;
  id["email"] = g.email;
  id["name"] = g.name;
  auto id_token = key.Sign(kTypIdToken, Serialize(id));
  if (!id_token) return std::unexpected(id_token.error());

  TokenResponse out;
  out.access_token = std::move(*access);
  out.id_token = std::move(*id_token);
  out.refresh_token = g.refresh_token;
  out.expires_in = life;
  out.scope = g.scope;
  return out;
}

OAuthError ServerError(const core::Error& e) {
  core::LogLine(core::LogLevel::kError, "oidc token endpoint failed")
      .Str("error", e.message)
      .Str("detail", e.internal);
  if (e.code == ErrorCode::kDeadlineExceeded || e.code == ErrorCode::kUnavailable) {
    return OAuthError{503, "temporarily_unavailable", "try again"};
  }
  return OAuthError{500, "server_error", "internal error"};
}

}  // namespace

boost::asio::awaitable<OAuthResult<TokenResponse>> OidcIssuer::ExchangeCode(
    std::string client_id, std::string code, std::string redirect_uri, std::string code_verifier,
    Deadline deadline) {
  Impl& s = *impl_;
  if (client_id.empty() || domain::FindClient(settings_.clients, client_id) == nullptr) {
    co_return Refuse(OAuthError{401, "invalid_client", "unknown client_id"});
  }
  if (code.empty() || redirect_uri.empty() || code_verifier.empty()) {
    co_return Refuse(
        OAuthError{400, "invalid_request", "code, redirect_uri and code_verifier are required"});
  }
  if (auto keys = co_await MaintainKeys(deadline); !keys)
    co_return Refuse(ServerError(keys.error()));

  const std::string code_hash = Sha256Hex(code);
  const std::int64_t now = s.NowMs();
  std::optional<OAuthError> refused;
  std::string replayed_family;  // a replayed code revokes what it granted
  Grant g;
  std::string family;
  auto done = co_await s.store.Transact(
      TransactionOptions().Deadline(deadline), [&](SqlTransaction& tx) -> Awaitable<void> {
        refused.reset();
        replayed_family.clear();
        auto found = co_await store::FindCode(tx, code_hash);
        if (!found) co_return std::unexpected(found.error());
        if (!*found) {
          refused = InvalidGrant("unknown authorization code");
          co_return Result<void>();
        }
        const store::CodeRow& c = **found;
        if (c.used_at_ms) {
          // RFC 6749 §4.1.2: a replayed code revokes the tokens issued from it.
          replayed_family = c.family_id.value_or("");
          refused = InvalidGrant("authorization code already used");
          co_return Result<void>();
        }
        if (c.expires_at_ms <= now) {
          refused = InvalidGrant("authorization code expired");
          co_return Result<void>();
        }
        if (c.client_id != client_id) {
          refused = InvalidGrant("authorization code was issued to another client");
          co_return Result<void>();
        }
        if (c.redirect_uri != redirect_uri) {
          refused = InvalidGrant("redirect_uri does not match the authorization request");
          co_return Result<void>();
        }
        if (!PkceS256Matches(code_verifier, c.code_challenge)) {
          refused = InvalidGrant("code_verifier does not match the code_challenge");
          co_return Result<void>();
        }
        // Signed out between the redirect and the exchange: the grant dies with the session.
        auto session = co_await store::FindSessionById(tx, c.session_id);
        if (!session) co_return std::unexpected(session.error());
        if (!*session || (*session)->ended_at_ms) {
          refused = InvalidGrant("the sign-in session has ended");
          co_return Result<void>();
        }
        family = s.ids.Next();
        auto marked = co_await store::MarkCodeUsed(tx, code_hash, now, family);
        if (!marked) co_return std::unexpected(marked.error());
        if (!*marked) {
          refused = InvalidGrant("authorization code already used");
          co_return Result<void>();
        }
        auto user = co_await store::FindUser(tx, c.user_id);
        if (!user) co_return std::unexpected(user.error());
        if (!*user) {
          refused = InvalidGrant("the user no longer exists");
          co_return Result<void>();
        }
        g.user_id = c.user_id;
        g.client_id = c.client_id;
        g.scope = c.scope;
        g.nonce = c.nonce;
        g.session_id = c.session_id;
        g.auth_time_ms = c.auth_time_ms;
        g.email = (*user)->email;
        g.name = (*user)->name;
        co_return Result<void>();
      });
  if (!done) co_return Refuse(ServerError(done.error()));
  if (!replayed_family.empty()) {
    if (auto r = co_await s.families->RevokeFamily(replayed_family, deadline); !r) {
      co_return Refuse(ServerError(r.error()));
    }
  }
  if (refused) co_return Refuse(std::move(*refused));
  // The code is used up now; the family's first token goes to the token store. Should that
  // fail, the client is told to try again and starts a new sign-in (the session still holds).
  g.refresh_token = RandomToken();
  platform::ports::RefreshGrant grant;
  grant.family_id = family;
  grant.session_id = g.session_id;
  grant.user_id = g.user_id;
  grant.client_id = g.client_id;
  grant.scope = g.scope;
  grant.auth_time_ms = g.auth_time_ms;
  const auto expires = s.clock.Now() + settings_.refresh_token_lifetime;
  std::string token_hash = Sha256Hex(g.refresh_token);
  auto issued =
      co_await s.families->Issue(std::move(token_hash), std::move(grant), expires, deadline);
  if (!issued) co_return Refuse(ServerError(issued.error()));
  if (!*issued) co_return Refuse(InvalidGrant("the sign-in session has ended"));
  auto key = s.Signer(now);
  if (!key) co_return Refuse(OAuthError{503, "temporarily_unavailable", "no signing key"});
  auto minted = Mint(*key, settings_, g, now, s.ids.Next());
  if (!minted) co_return Refuse(ServerError(minted.error()));
  co_return std::move(*minted);
}

boost::asio::awaitable<OAuthResult<TokenResponse>> OidcIssuer::Refresh(std::string client_id,
                                                                       std::string refresh_token,
                                                                       Deadline deadline) {
  Impl& s = *impl_;
  if (client_id.empty() || domain::FindClient(settings_.clients, client_id) == nullptr) {
    co_return Refuse(OAuthError{401, "invalid_client", "unknown client_id"});
  }
  if (refresh_token.empty()) {
    co_return Refuse(OAuthError{400, "invalid_request", "refresh_token is required"});
  }
  if (auto keys = co_await MaintainKeys(deadline); !keys)
    co_return Refuse(ServerError(keys.error()));

  // One atomic step in the token store: the presented token is used up and its successor
  // issued, or the outcome says why not.
  const std::int64_t now = s.NowMs();
  std::string next = RandomToken();
  const auto expires = s.clock.Now() + settings_.refresh_token_lifetime;
  std::string presented = Sha256Hex(refresh_token);
  std::string next_hash = Sha256Hex(next);
  auto rotated = co_await s.families->Rotate(std::move(presented), client_id, std::move(next_hash),
                                             expires, deadline);
  if (!rotated) co_return Refuse(ServerError(rotated.error()));
  using platform::ports::RotateOutcome;
  switch (rotated->outcome) {
    case RotateOutcome::kRotated: break;
    case RotateOutcome::kUnknown: co_return Refuse(InvalidGrant("unknown refresh token"));
    case RotateOutcome::kRevoked: co_return Refuse(InvalidGrant("refresh token revoked"));
    case RotateOutcome::kWrongClient:
      co_return Refuse(InvalidGrant("refresh token was issued to another client"));
    case RotateOutcome::kExpired: co_return Refuse(InvalidGrant("refresh token expired"));
    case RotateOutcome::kReused:
      // A rotated token came back: it leaked, or a client raced itself. The store revoked the
      // family (RFC 9700 §4.14.2); the session's access tokens go too.
      if (auto r = co_await RevokeSession(rotated->grant.session_id, deadline); !r) {
        co_return Refuse(ServerError(r.error()));
      }
      co_return Refuse(InvalidGrant("refresh token already used; its family is revoked"));
  }
  const platform::ports::RefreshGrant& grant = rotated->grant;
  std::optional<store::UserProfile> user;
  auto done = co_await s.store.Transact(TransactionOptions().ReadOnly().Deadline(deadline),
                                        [&](SqlTransaction& tx) -> Awaitable<void> {
                                          auto found = co_await store::FindUser(tx, grant.user_id);
                                          if (!found) co_return std::unexpected(found.error());
                                          user = std::move(*found);
                                          co_return Result<void>();
                                        });
  if (!done) co_return Refuse(ServerError(done.error()));
  if (!user) {
    if (auto r = co_await s.families->RevokeFamily(grant.family_id, deadline); !r) {
      co_return Refuse(ServerError(r.error()));
    }
    co_return Refuse(InvalidGrant("the user no longer exists"));
  }
  Grant g;
  g.user_id = grant.user_id;
  g.client_id = grant.client_id;
  g.scope = grant.scope;
  g.session_id = grant.session_id;
  g.auth_time_ms = grant.auth_time_ms;
  g.email = user->email;
  g.name = user->name;
  g.refresh_token = std::move(next);
  auto key = s.Signer(now);
  if (!key) co_return Refuse(OAuthError{503, "temporarily_unavailable", "no signing key"});
  auto minted = Mint(*key, settings_, g, now, s.ids.Next());
  if (!minted) co_return Refuse(ServerError(minted.error()));
  co_return std::move(*minted);
}

namespace {

std::unexpected<core::Error> BadToken(std::string internal) {
  return core::Fail(ErrorCode::kUnauthenticated, "invalid access token", std::move(internal));
}

const json::string* StringField(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr ? v->if_string() : nullptr;
}

std::optional<std::int64_t> IntField(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (const auto* i = v->if_int64()) return *i;
  if (const auto* u = v->if_uint64()) return static_cast<std::int64_t>(*u);
  return std::nullopt;
}

bool AudienceHas(const json::object& o, std::string_view audience) {
  const auto* aud = o.if_contains("aud");
  if (aud == nullptr) return false;
  if (const auto* s = aud->if_string()) return *s == audience;
  if (const auto* a = aud->if_array()) {
    for (const auto& v : *a) {
      if (const auto* s = v.if_string(); s != nullptr && *s == audience) return true;
    }
  }
  return false;
}

// typ compared as RFC 7515 §4.1.9 says: case-insensitive, "application/" optional.
bool EqualsTyp(std::string_view got, std::string_view want) {
  if (got.size() > 12 && got.substr(0, 12) == "application/") got.remove_prefix(12);
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto lower = [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(got[i]) != lower(want[i])) return false;
  }
  return true;
}

// Verified claims of one of our own tokens of type typ (signature, typ and iss; the caller checks
// the rest).
Result<json::object> VerifiedClaims(std::string_view token, const auth::JwkSet& keys,
                                    std::string_view typ, const std::string& issuer) {
  auto jws = auth::VerifyJws(token, keys, {std::string(auth::kAlgEs256)});
  if (!jws) return std::unexpected(jws.error());
  if (!EqualsTyp(jws->header.typ, typ)) return BadToken("wrong typ " + jws->header.typ);
  json::error_code ec;
  auto value = json::parse(jws->payload_json, ec);
  if (ec || !value.is_object()) return BadToken("payload is not an object");
  auto& claims = value.as_object();
  const auto* iss = StringField(claims, "iss");
  if (iss == nullptr || *iss != issuer) return BadToken("wrong iss");
  return std::move(claims);
}

}  // namespace

Result<AccessClaims> OidcIssuer::VerifyAccessToken(std::string_view token) {
  const std::int64_t now = impl_->NowMs();
  auto keys = impl_->VerificationKeys(now);
  if (!keys) return std::unexpected(keys.error());
  auto claims = VerifiedClaims(token, *keys, kTypAccessToken, settings_.issuer);
  if (!claims) return std::unexpected(claims.error());
  if (!AudienceHas(*claims, settings_.audience)) return BadToken("wrong aud");
  const auto exp = IntField(*claims, "exp");
  if (!exp || *exp * 1000 + Ms(settings_.leeway) <= now) return BadToken("expired");
  const auto* sub = StringField(*claims, "sub");
  if (sub == nullptr || sub->empty()) return BadToken("no sub");
  AccessClaims out;
  out.sub = std::string(*sub);
  out.exp = *exp;
  if (const auto* v = StringField(*claims, "client_id")) out.client_id = std::string(*v);
  if (const auto* v = StringField(*claims, "scope")) out.scope = std::string(*v);
  if (const auto* v = StringField(*claims, "email")) out.email = std::string(*v);
  if (const auto* v = StringField(*claims, "name")) out.name = std::string(*v);
  if (const auto* v = StringField(*claims, "jti")) out.jti = std::string(*v);
  return out;
}

Awaitable<store::UserProfile> OidcIssuer::UserInfo(std::string access_token, Deadline deadline) {
  auto claims = VerifyAccessToken(access_token);
  if (!claims) co_return std::unexpected(claims.error());
  std::optional<store::UserProfile> user;
  auto done = co_await impl_->store.Transact(TransactionOptions().ReadOnly().Deadline(deadline),
                                             [&](SqlTransaction& tx) -> Awaitable<void> {
                                               auto found =
                                                   co_await store::FindUser(tx, claims->sub);
                                               if (!found) co_return std::unexpected(found.error());
                                               user = std::move(*found);
                                               co_return Result<void>();
                                             });
  if (!done) co_return std::unexpected(done.error());
  if (!user) co_return BadToken("user gone");
  co_return std::move(*user);
}

Awaitable<std::string> OidcIssuer::EndSession(EndSessionRequest request, Deadline deadline) {
  Impl& s = *impl_;
  const std::int64_t now = s.NowMs();
  std::string client_id = request.client_id;
  std::string hinted_sid;
  if (!request.id_token_hint.empty()) {
    // The hint may have expired (RP-initiated logout §2); signature and issuer must hold.
    auto keys = s.VerificationKeys(now);
    if (!keys) co_return std::unexpected(keys.error());
    auto claims = VerifiedClaims(request.id_token_hint, *keys, kTypIdToken, settings_.issuer);
    if (!claims) {
      co_return core::Fail(ErrorCode::kInvalidArgument, "The id_token_hint is not valid.",
                           claims.error().internal);
    }
    const auto* aud = StringField(*claims, "aud");
    if (aud != nullptr) {
      if (!client_id.empty() && client_id != *aud) {
        co_return core::Fail(ErrorCode::kInvalidArgument,
                             "The id_token_hint was issued to another client.");
      }
      client_id = std::string(*aud);
    }
    if (const auto* sid = StringField(*claims, "sid")) hinted_sid = std::string(*sid);
  }
  std::string redirect;
  if (!request.post_logout_redirect_uri.empty()) {
    const auto* client = domain::FindClient(settings_.clients, client_id);
    if (client == nullptr ||
        !domain::Contains(client->post_logout_redirect_uris, request.post_logout_redirect_uri)) {
      co_return core::Fail(ErrorCode::kInvalidArgument,
                           "The post_logout_redirect_uri is not registered for this application.");
    }
    redirect = request.post_logout_redirect_uri;
  }

  std::string session_id;
  if (!request.session_cookie.empty()) {
    auto session = co_await FindSession(request.session_cookie, deadline);
    if (!session) co_return std::unexpected(session.error());
    if (*session) session_id = (*session)->id;
  }
  if (session_id.empty()) session_id = hinted_sid;
  if (!session_id.empty()) {
    auto done = co_await s.store.Transact(
        TransactionOptions().Deadline(deadline), [&](SqlTransaction& tx) -> Awaitable<void> {
          co_return co_await store::EndSession(tx, session_id, now);
        });
    if (!done) co_return std::unexpected(done.error());
    // Its refresh tokens (the token store), then its access tokens (every process's list).
    if (auto r = co_await s.families->RevokeSession(session_id, deadline); !r)
      co_return std::unexpected(r.error());
    if (auto r = co_await RevokeSession(session_id, deadline); !r)
      co_return std::unexpected(r.error());
  }
  co_return redirect;
}

void OidcIssuer::SetRevocations(platform::ports::TokenStore* tokens) {
  impl_->revocations = tokens;
}

void OidcIssuer::SetRefreshFamilies(platform::ports::RefreshFamilies* families) {
  impl_->families = families != nullptr ? families : &impl_->sql_families;
}

Awaitable<void> OidcIssuer::RevokeSession(std::string session_id, Deadline deadline) {
  Impl& s = *impl_;
  if (s.revocations == nullptr || session_id.empty()) co_return Result<void>();
  // Kept until the last access token of the session has expired anyway.
  const auto until =
      s.clock.Now() + settings_.access_token_lifetime + settings_.leeway + std::chrono::minutes(1);
  co_return co_await s.revocations->Revoke(std::move(session_id), until, deadline);
}

}  // namespace trellis::identity::app
