#include "cmd/trellis/product.hpp"

#include <unistd.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <optional>
#include <thread>
#include <utility>

#include "adapters/memory/memory_cache.hpp"
#include "adapters/memory/memory_locks.hpp"
#include "adapters/memory/memory_rate_limiter.hpp"
#include "adapters/memory/memory_token_store.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "adapters/redis/redis_cache.hpp"
#include "adapters/redis/redis_client.hpp"
#include "adapters/redis/redis_locks.hpp"
#include "adapters/redis/redis_rate_limiter.hpp"
#include "adapters/redis/redis_refresh_families.hpp"
#include "adapters/redis/redis_token_store.hpp"
#include "adapters/sqlite/sqlite_event_log.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "gateway/authn/authn_middleware.hpp"
#include "gateway/live/live_hub.hpp"
#include "gateway/platform_routes.hpp"
#include "gateway/ratelimit/rate_limit_middleware.hpp"
#include "platform/auth/oidc_verifier.hpp"
#include "platform/auth/revocation_list.hpp"
#include "platform/cache/cache_aside.hpp"
#include "platform/cache/invalidator.hpp"
#include "platform/core/config.hpp"
#include "platform/events/runtime.hpp"
#include "platform/http/client.hpp"
#include "platform/http/consistency.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/rest/rest.hpp"
#include "platform/store/migrations.hpp"
#include "proto/trellis/identity/v1/membership_cache.hpp"
#include "services/audit/api/audit_routes.hpp"
#include "services/audit/app/audit_app.hpp"
#include "services/audit/store/audit_store.hpp"
#include "services/identity/api/console_routes.hpp"
#include "services/identity/api/identity_routes.hpp"
#include "services/identity/api/oidc_routes.hpp"
#include "services/identity/app/identity_app.hpp"
#include "services/identity/app/oidc_issuer.hpp"
#include "services/work/api/work_routes.hpp"
#include "services/work/app/work_app.hpp"
#include "services/work/app/work_cache.hpp"

// Compiled-in migrations (cmd/trellis/CMakeLists.txt and the services' CMakeLists.txt:
// trellis_embed_migrations).
std::vector<trellis::platform::store::MigrationFile> IdentityMigrationFiles();
std::vector<trellis::platform::store::MigrationFile> WorkMigrationFiles();
std::vector<trellis::platform::store::MigrationFile> IdentityPostgresMigrationFiles();
std::vector<trellis::platform::store::MigrationFile> WorkPostgresMigrationFiles();

namespace trellis::cmd {

namespace asio = boost::asio;
namespace core = platform::core;
namespace observe = platform::observe;
using adapters::sqlite::SqliteStore;
using core::ErrorCode;
using core::Result;
using platform::ports::RunSync;

namespace {

// A context's database: a SQLite file under data_dir, or a schema (named after the context)
// on PostgreSQL. Each engine has its own migrations, in step (same versions).
struct Database {
  const char* name;
  std::vector<platform::store::MigrationFile> (*sqlite_migrations)();
  std::vector<platform::store::MigrationFile> (*postgres_migrations)();
};

constexpr Database kIdentityDb{"identity", IdentityMigrationFiles, IdentityPostgresMigrationFiles};
constexpr Database kWorkDb{"work", WorkMigrationFiles, WorkPostgresMigrationFiles};
constexpr Database kEdgeDb{"edge", platform::rest::IdempotencyMigrations,
                           platform::rest::IdempotencyPostgresMigrations};
constexpr Database kAuditDb{"audit", audit::store::Migrations, audit::store::PostgresMigrations};
constexpr std::array<const Database*, 4> kDatabases{&kIdentityDb, &kWorkDb, &kAuditDb, &kEdgeDb};

// What a store is opened for. SQLite migrates whenever it opens; on PostgreSQL only
// `trellis migrate` (as trellis_migrator) does, and serving (as the context's role, which owns
// nothing) checks that it has.
enum class Purpose { kServe, kMigrate };

// This process among its peers: host, pid and a fresh id (a lease owner must be unique).
std::string NodeId(core::IdGenerator& ids) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + ids.Next();
}

// The Redis client of the Redis adapters, from the product's settings (docs/redis.md).
Result<std::unique_ptr<adapters::redis::RedisClient>> OpenRedis(const ProductSettings::Redis& in,
                                                                const core::Clock& clock,
                                                                observe::Registry& registry) {
  adapters::redis::RedisSettings s;
  if (!in.sentinels.empty()) {
    if (in.master_name.empty()) {
      return core::Fail(core::ErrorCode::kInvalidArgument,
                        "redis.master_name is required with redis.sentinels");
    }
    s.sentinels = in.sentinels;
    s.master_name = in.master_name;
  } else if (!in.address.empty()) {
    s.address = in.address;
  } else {
    return core::Fail(core::ErrorCode::kInvalidArgument,
                      "cache.backend or shared.backend is redis, but neither redis.address nor "
                      "redis.sentinels is set");
  }
  if (!in.password_file.empty()) {
    std::ifstream file(in.password_file);
    if (!file) {
      return core::Fail(core::ErrorCode::kInvalidArgument,
                        "cannot read redis.password_file " + in.password_file.string());
    }
    std::getline(file, s.password);  // the first line; never logged
  }
  s.db = in.db;
  s.connect_timeout = std::chrono::milliseconds(in.connect_timeout_ms);
  s.backoff_cap = std::chrono::milliseconds(in.backoff_cap_ms);
  s.call_timeout = std::chrono::milliseconds(in.call_timeout_ms);
  return std::make_unique<adapters::redis::RedisClient>(std::move(s), clock, &registry);
}

// The rate-limit settings from the product's, or nullopt when Trellis does not limit (off, or
// Kong owns edge limits). kInvalidArgument names what is wrong.
Result<std::optional<gateway::ratelimit::RateLimitSettings>> RateLimitsFrom(
    const ProductSettings::RateLimits& in) {
  using gateway::ratelimit::ParseRateLimit;
  using gateway::ratelimit::RateLimitSettings;
  if (in.owner != "trellis" && in.owner != "kong") {
    return core::Fail(core::ErrorCode::kInvalidArgument,
                      "policy.edge_rate_limits must be trellis or kong");
  }
  if (in.owner == "kong" && in.enabled) {
    return core::Fail(core::ErrorCode::kInvalidArgument,
                      "policy.edge_rate_limits is kong, so Trellis's own edge rate limits must be "
                      "off (rate_limit.enabled: false): one plane owns each policy "
                      "(docs/policy-ownership.md)");
  }
  if (!in.enabled) return std::optional<RateLimitSettings>();
  RateLimitSettings out;
  auto parse = [](const std::string& key, const std::string& text,
                  platform::ports::RateLimit& limit) -> Result<void> {
    auto parsed = ParseRateLimit(text);
    if (!parsed) {
      return core::Fail(core::ErrorCode::kInvalidArgument, key + ": " + parsed.error().message);
    }
    limit = *parsed;
    return {};
  };
  if (auto ok = parse("rate_limit.anonymous", in.anonymous, out.anonymous); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = parse("rate_limit.user", in.user, out.user); !ok)
    return std::unexpected(ok.error());
  if (auto ok = parse("rate_limit.api_key", in.api_key, out.api_key); !ok) {
    return std::unexpected(ok.error());
  }
  for (const auto& entry : in.plans) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return core::Fail(core::ErrorCode::kInvalidArgument,
                        "rate_limit.plans: \"" + entry + "\" is not plan=<n>/<s|m|h>");
    }
    if (auto ok = parse("rate_limit.plans", entry.substr(eq + 1), out.plans[entry.substr(0, eq)]);
        !ok) {
      return std::unexpected(ok.error());
    }
  }
  for (const auto& entry : in.org_plans) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) {
      return core::Fail(core::ErrorCode::kInvalidArgument,
                        "rate_limit.org_plans: \"" + entry + "\" is not <org id>=<plan>");
    }
    out.org_plans[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  out.default_plan = in.default_plan;
  out.on_error = in.fail_closed ? RateLimitSettings::OnError::kFailClosed
                                : RateLimitSettings::OnError::kFailOpen;
  if (auto ok = gateway::ratelimit::RateLimitMiddleware::Validate(out); !ok) {
    return core::Fail(core::ErrorCode::kInvalidArgument, "rate_limit: " + ok.error().message);
  }
  return std::optional<RateLimitSettings>(std::move(out));
}

bool IsPostgres(const ProductSettings& s) { return s.engine == ProductSettings::Engine::kPostgres; }

// The login role for a context (bootstrap.sql creates them).
std::string RoleFor(const Database& db, Purpose purpose) {
  return purpose == Purpose::kMigrate ? "trellis_migrator" : "trellis_" + std::string(db.name);
}

struct OpenedStore {
  std::unique_ptr<platform::ports::SqlStore> store;
  adapters::postgres::PgStore* postgres = nullptr;  // the same store, when it is PostgreSQL
};

Result<OpenedStore> OpenDatabase(const ProductSettings& settings, const Database& db,
                                 Purpose purpose, asio::any_io_executor executor,
                                 const core::Clock& clock, observe::Registry& registry,
                                 std::vector<std::int64_t>* applied) {
  OpenedStore opened;
  std::vector<platform::store::MigrationFile> files;
  if (IsPostgres(settings)) {
    adapters::postgres::Settings s;
    s.name = db.name;
    s.conninfo = settings.postgres.primary;
    s.user = RoleFor(db, purpose);
    if (!settings.postgres.password_dir.empty()) {
      s.password_file = settings.postgres.password_dir / s.user;
    }
    s.search_path = db.name;
    s.max_connections = static_cast<std::size_t>(settings.postgres.pool_size);
    s.connect_timeout = std::chrono::milliseconds(settings.postgres.connect_timeout_ms);
    s.backoff_cap = std::chrono::milliseconds(settings.postgres.backoff_cap_ms);
    s.pipeline = settings.postgres.pipeline;
    if (purpose == Purpose::kServe) {
      s.replica_conninfos = settings.postgres.replicas;
      s.max_replica_lag = std::chrono::milliseconds(settings.postgres.max_replica_lag_ms);
    }
    auto store =
        adapters::postgres::PgStore::Open(std::move(s), std::move(executor), clock, registry);
    if (!store) return std::unexpected(store.error());
    opened.postgres = store->get();
    opened.store = std::move(*store);
    files = db.postgres_migrations();
  } else {
    adapters::sqlite::Settings s;
    s.path = settings.data_dir / (std::string(db.name) + ".db");
    s.name = db.name;
    s.readers = static_cast<std::size_t>(settings.sqlite_readers);
    s.inline_reads = settings.sqlite_inline_reads;
    auto store = SqliteStore::Open(std::move(s), clock, registry);
    if (!store) return std::unexpected(store.error());
    opened.store = std::move(*store);
    files = db.sqlite_migrations();
  }
  auto migrations = platform::store::ParseMigrations(files);
  if (!migrations) return std::unexpected(migrations.error());
  auto named = [&db](core::Error e) {
    e.message = std::string(db.name) + " database: " + e.message;
    return std::unexpected(std::move(e));
  };
  if (IsPostgres(settings) && purpose == Purpose::kServe) {
    auto checked = RunSync(platform::store::CheckMigrated(*opened.store, *migrations, {}));
    if (!checked) return named(checked.error());
    return opened;
  }
  auto report = RunSync(platform::store::Migrate(*opened.store, *migrations, clock, {}));
  if (!report) return named(report.error());
  if (applied) *applied = report->applied;
  return opened;
}

Result<void> EnsureDataDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return core::Fail(ErrorCode::kUnavailable, "cannot create the data directory",
                      dir.string() + ": " + ec.message());
  }
  return {};
}

// The built-in issuer's discovery document and JWKS answered in-process, so the gateway verifies
// its tokens exactly as it verifies an external issuer's (same verifier, same checks) without a
// loopback round trip. Any other URL goes out through the HTTP client.
class BuiltinIssuerFetcher final : public platform::auth::Fetcher {
 public:
  BuiltinIssuerFetcher(identity::app::OidcIssuer& issuer, std::string issuer_url,
                       platform::auth::Fetcher& fallback)
      : issuer_(issuer), url_(std::move(issuer_url)), fallback_(fallback) {}

  // Fetcher
  asio::awaitable<Result<platform::http::ClientResponse>> Get(
      std::string url, core::Clock::MonoTime deadline) override {
    platform::http::ClientResponse response;
    response.status = 200;
    response.headers.emplace_back("Content-Type", "application/json");
    if (url == url_ + "/.well-known/openid-configuration") {
      response.body = issuer_.DiscoveryJson();
      co_return response;
    }
    if (url == url_ + "/oidc/jwks") {
      auto jwks = co_await issuer_.JwksJson(deadline);
      if (!jwks) co_return std::unexpected(jwks.error());
      response.body = std::move(*jwks);
      co_return response;
    }
    co_return co_await fallback_.Get(std::move(url), deadline);
  }

 private:
  identity::app::OidcIssuer& issuer_;
  std::string url_;
  platform::auth::Fetcher& fallback_;
};

}  // namespace

struct Product::Impl {
  Impl(ProductSettings s, const core::Clock& c, core::IdGenerator& i, observe::Registry& r)
      : settings(std::move(s)), clock(c), ids(i), registry(r) {}
  ~Impl() { StopDbThread(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void StartDbThread() {
    db_keep_running.emplace(db_io.get_executor());
    db_thread = std::thread([this] { db_io.run(); });
  }
  void StopDbThread() {
    db_keep_running.reset();
    db_io.stop();
    if (db_thread.joinable()) db_thread.join();
  }

  ProductSettings settings;
  const core::Clock& clock;
  core::IdGenerator& ids;
  observe::Registry& registry;

  // PostgreSQL connections' background work (warm-up, replica checks) runs here. Declared
  // before the stores so that it outlives them; stopped first, in ~Impl.
  asio::io_context db_io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> db_keep_running;
  std::thread db_thread;

  std::unique_ptr<platform::ports::SqlStore> identity_db;
  std::unique_ptr<platform::ports::SqlStore> work_db;
  std::unique_ptr<platform::ports::SqlStore> audit_db;
  std::unique_ptr<platform::ports::SqlStore> edge_db;
  // The above by context name, when on PostgreSQL.
  std::vector<std::pair<std::string, adapters::postgres::PgStore*>> postgres;

  std::unique_ptr<platform::rest::Idempotency> idempotency;
  // The Redis client shared by the Redis adapters; null when nothing uses Redis. Its per-loop
  // connections must go before the loops' io_contexts: Stop() releases it.
  std::unique_ptr<adapters::redis::RedisClient> redis;
  // Leases for singleton work (the outbox relay); null without relay leadership.
  std::unique_ptr<platform::ports::LockService> locks;
  // The shared cache (ADR 0019); null when caching is off.
  std::unique_ptr<platform::ports::Cache> cache_port;
  std::unique_ptr<platform::cache::CacheAside> cache;
  std::unique_ptr<platform::cache::CacheInvalidator> invalidator;
  // The edge rate limits; null when another plane owns them or they are off.
  std::unique_ptr<platform::ports::RateLimiter> limiter;
  std::optional<gateway::ratelimit::RateLimitSettings> rate_limits;
  // Ended sessions, and this process's copy of them (ADR 0022).
  std::unique_ptr<platform::ports::TokenStore> tokens;
  // Refresh-token families in Redis; null: the issuer's own SQL tables (ADR 0026).
  std::unique_ptr<platform::ports::RefreshFamilies> families;
  std::unique_ptr<platform::auth::RevocationList> revocations;
  std::unique_ptr<identity::app::IdentityApp> identity;
  std::unique_ptr<identity::app::OidcIssuer> issuer;
  std::unique_ptr<work::app::WorkApp> work;
  std::unique_ptr<audit::app::AuditApp> audit;
  std::unique_ptr<gateway::live::LiveHub> live;
  // Declared after what its tasks and consumers use, so it is destroyed first.
  std::unique_ptr<platform::events::EventsRuntime> events;

  platform::http::Client http_client;
  platform::auth::ClientFetcher network_fetcher{http_client};
  std::unique_ptr<BuiltinIssuerFetcher> builtin_fetcher;
  std::vector<std::shared_ptr<platform::auth::OidcVerifier>> verifiers;

  asio::io_context background;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  std::thread background_thread;

  // After a commit that wrote outbox rows: relay now rather than at the next poll.
  void Committed() {
    if (events) events->Relay().Notify();
  }
};

Result<MigrationReport> Product::Migrate(const ProductSettings& settings, const core::Clock& clock,
                                         observe::Registry& registry) {
  if (!IsPostgres(settings)) {
    if (auto ok = EnsureDataDir(settings.data_dir); !ok) return std::unexpected(ok.error());
  }
  asio::io_context io;  // nothing runs on it: the migrator's pool keeps no idle connections
  MigrationReport report;
  for (const Database* db : kDatabases) {
    std::vector<std::int64_t> applied;
    auto store = OpenDatabase(settings, *db, Purpose::kMigrate, io.get_executor(), clock, registry,
                              &applied);
    if (!store) return std::unexpected(store.error());
    report.applied.emplace_back(db->name, std::move(applied));
  }
  return report;
}

Result<std::unique_ptr<Product>> Product::Open(ProductSettings settings, const core::Clock& clock,
                                               core::IdGenerator& ids,
                                               observe::Registry& registry) {
  // data_dir holds events.db (and, on SQLite, every context's file).
  if (auto ok = EnsureDataDir(settings.data_dir); !ok) return std::unexpected(ok.error());
  auto impl = std::make_unique<Impl>(std::move(settings), clock, ids, registry);
  Impl& p = *impl;
  if (IsPostgres(p.settings)) p.StartDbThread();
  for (auto [db, slot] : {std::pair{&kIdentityDb, &p.identity_db}, std::pair{&kWorkDb, &p.work_db},
                          std::pair{&kAuditDb, &p.audit_db}, std::pair{&kEdgeDb, &p.edge_db}}) {
    auto opened = OpenDatabase(p.settings, *db, Purpose::kServe, p.db_io.get_executor(), clock,
                               registry, nullptr);
    if (!opened) return std::unexpected(opened.error());
    *slot = std::move(opened->store);
    if (opened->postgres) p.postgres.emplace_back(db->name, opened->postgres);
  }

  platform::rest::SetCursorKey(p.settings.cursor_key);
  platform::rest::IdempotencySettings idem;
  idem.ttl = std::chrono::hours(p.settings.idempotency_ttl_h);
  if (auto ok = platform::rest::ValidateIdempotencySettings(idem); !ok) {
    return std::unexpected(ok.error());
  }
  p.idempotency = std::make_unique<platform::rest::Idempotency>(*p.edge_db, clock, idem);

  adapters::sqlite::EventLogSettings log_settings;
  log_settings.path = p.settings.data_dir / "events.db";
  auto log = RunSync(adapters::sqlite::SqliteEventLog::Open(log_settings, clock, registry));
  if (!log) return std::unexpected(log.error());
  std::vector<platform::events::RelaySource> sources{{"identity", p.identity_db.get()},
                                                     {"work", p.work_db.get()}};
  if (p.settings.cache.backend == ProductSettings::Cache::Backend::kRedis ||
      p.settings.shared == ProductSettings::Shared::kRedis) {
    auto client = OpenRedis(p.settings.redis, clock, registry);
    if (!client) return std::unexpected(client.error());
    p.redis = std::move(*client);
  }
  platform::events::EventsSettings events_settings;
  if (p.settings.relay_leadership) {
    // One relay per deployment, elected through the lock service; its deletes are fenced
    // (ADR 0018).
    if (p.settings.shared == ProductSettings::Shared::kRedis) {
      p.locks = std::make_unique<adapters::redis::RedisLocks>(
          *p.redis, clock, adapters::redis::RedisLocksSettings{});
    } else {
      p.locks = std::make_unique<adapters::memory::MemoryLocks>(clock);
    }
    events_settings.relay.locks = p.locks.get();
    events_settings.relay.lease_owner = NodeId(ids);
  }
  p.events = std::make_unique<platform::events::EventsRuntime>(std::move(*log), std::move(sources),
                                                               clock, registry, events_settings);

  if (auto limits = RateLimitsFrom(p.settings.rate_limits); !limits) {
    return std::unexpected(limits.error());
  } else if (*limits) {
    p.rate_limits = std::move(**limits);
  }

  auto notify = [&p] { p.Committed(); };
  // The cache (ADR 0019). In process it sees only this process's invalidations: right on
  // SQLite (one process per data directory) and on PostgreSQL when configured single-process.
  const auto& cs = p.settings.cache;
  const bool in_process_ok = !IsPostgres(p.settings) || p.settings.postgres.single_process;
  if (cs.backend == ProductSettings::Cache::Backend::kMemory && in_process_ok) {
    adapters::memory::CacheSettings memory;
    memory.max_bytes = cs.max_bytes;
    memory.max_entries = cs.max_entries;
    p.cache_port = std::make_unique<adapters::memory::MemoryCache>(memory, clock);
  } else if (cs.backend == ProductSettings::Cache::Backend::kRedis) {
    p.cache_port = std::make_unique<adapters::redis::RedisCache>(
        *p.redis, clock, adapters::redis::RedisCacheSettings{}, p.background.get_executor());
  }
  work::app::WorkCaching caching;
  if (p.cache_port) {
    platform::cache::CacheAsideSettings aside;
    aside.ttl = std::chrono::milliseconds(cs.ttl_ms);
    if (cs.backend == ProductSettings::Cache::Backend::kRedis) {
      // Entries also kept in process, served when Redis confirms their generation.
      aside.near_entries = cs.near_entries;
      aside.near_bytes = cs.max_bytes;
    }
    p.cache = std::make_unique<platform::cache::CacheAside>(*p.cache_port, clock, registry,
                                                            "shared", aside);
    p.invalidator = std::make_unique<platform::cache::CacheInvalidator>(*p.cache, clock);
    p.invalidator->On(work::app::kWorkEventPrefix, work::app::kWorkNamespacePrefix);
    p.invalidator->On(identity::v1::kMembershipEventPrefix,
                      identity::v1::kMembershipNamespacePrefix);
    caching.cache = p.cache.get();
    caching.invalidator = p.invalidator.get();
    // The durable path: every relayed event invalidates again (a lost post-commit
    // invalidation, a crash between commit and invalidation).
    p.events->AddConsumer(
        "cache", [&p](const platform::events::DomainEvent& e) { return p.invalidator->Handle(e); });
  }
  p.identity = std::make_unique<identity::app::IdentityApp>(*p.identity_db, clock, ids, notify,
                                                            p.invalidator.get());
  p.work =
      std::make_unique<work::app::WorkApp>(*p.work_db, *p.identity, clock, ids, notify, caching);
  p.audit = std::make_unique<audit::app::AuditApp>(*p.audit_db, *p.identity);
  p.live = std::make_unique<gateway::live::LiveHub>(p.events->Log(), *p.identity, registry);
  // The audit log is a projection of every event; the live hub tails the log for SSE.
  p.events->AddConsumer(
      "audit", [&p](const platform::events::DomainEvent& e) { return p.audit->Project(e); });
  p.events->AddTask([&p] { return p.live->Run(); }, [&p] { p.live->Stop(); });

  identity::app::OidcSettings oidc;
  oidc.issuer = p.settings.issuer_url;
  oidc.audience = p.settings.audience;
  for (const auto& c : p.settings.clients) {
    oidc.clients.push_back({c.id, c.redirect_uris, c.post_logout_redirect_uris});
  }
  auto issuer = identity::app::OidcIssuer::Create(std::move(oidc), *p.identity_db, clock, ids);
  if (!issuer) return std::unexpected(issuer.error());
  p.issuer = std::move(*issuer);
  // Sessions ended by sign-out or a reused refresh token: recorded in the token store, refused
  // by every process through its revocation list (refreshed in the background). Refresh-token
  // families: in Redis when shared, else in identity's SQL tables (they survive a restart).
  if (p.settings.shared == ProductSettings::Shared::kRedis) {
    p.tokens = std::make_unique<adapters::redis::RedisTokenStore>(
        *p.redis, clock, adapters::redis::RedisTokenStoreSettings{});
    p.families = std::make_unique<adapters::redis::RedisRefreshFamilies>(
        *p.redis, clock, adapters::redis::RedisRefreshFamiliesSettings{});
    if (p.rate_limits) {
      p.limiter = std::make_unique<adapters::redis::RedisRateLimiter>(
          *p.redis, clock, adapters::redis::RedisRateLimiterSettings{});
    }
  } else {
    p.tokens = std::make_unique<adapters::memory::MemoryTokenStore>(clock);
    if (p.rate_limits) {
      p.limiter = std::make_unique<adapters::memory::MemoryRateLimiter>(
          adapters::memory::RateLimiterSettings{}, clock);
    }
  }
  p.revocations = std::make_unique<platform::auth::RevocationList>(*p.tokens, clock, registry);
  p.issuer->SetRevocations(p.tokens.get());
  p.issuer->SetRefreshFamilies(p.families.get());
  p.events->AddTask([&p] { return p.revocations->Run(); }, [&p] { p.revocations->Stop(); });
  if (auto started = RunSync(p.issuer->Start()); !started) {
    return std::unexpected(started.error());
  }

  // One verifier per accepted issuer: the built-in one (answered in-process) and any external.
  p.builtin_fetcher =
      std::make_unique<BuiltinIssuerFetcher>(*p.issuer, p.settings.issuer_url, p.network_fetcher);
  auto add_verifier = [&](const std::string& url,
                          platform::auth::Fetcher& fetcher) -> Result<void> {
    platform::auth::OidcVerifierSettings v;
    v.issuer = url;
    v.audience = p.settings.audience;
    v.leeway = std::chrono::seconds(p.settings.leeway_s);
    v.jwks_refetch_cooldown = std::chrono::seconds(p.settings.jwks_refetch_cooldown_s);
    v.accepted_typ = p.settings.accepted_token_types;
    if (p.settings.builtin_issuer && url == p.settings.issuer_url &&
        std::find(v.accepted_typ.begin(), v.accepted_typ.end(), "at+jwt") == v.accepted_typ.end()) {
      v.accepted_typ.emplace_back("at+jwt");
    }
    auto verifier = platform::auth::OidcVerifier::Create(std::move(v), fetcher, clock);
    if (!verifier) return std::unexpected(verifier.error());
    p.verifiers.push_back(std::move(*verifier));
    return {};
  };
  if (p.settings.builtin_issuer) {
    if (auto ok = add_verifier(p.settings.issuer_url, *p.builtin_fetcher); !ok) {
      return std::unexpected(ok.error());
    }
  }
  for (const auto& url : p.settings.external_issuers) {
    if (auto ok = add_verifier(url, p.network_fetcher); !ok) return std::unexpected(ok.error());
  }
  return std::unique_ptr<Product>(new Product(std::move(impl)));
}

Product::Product(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Product::~Product() { Stop(); }

void Product::AddRoutes(platform::http::Router& router) {
  identity::api::AddIdentityRoutes(router, *impl_->identity, *impl_->idempotency);
  work::api::AddWorkRoutes(router, *impl_->work, *impl_->idempotency);
  audit::api::AddAuditRoutes(router, *impl_->audit);
  impl_->live->AddRoutes(router);
  if (impl_->settings.builtin_issuer) {
    identity::api::AddOidcRoutes(router, *impl_->issuer);
    identity::api::AddConsoleRoutes(router, *impl_->issuer);
  }
}

void Product::AddMiddleware(platform::http::MiddlewareChain& chain) {
  // Read-your-writes tokens (Trellis-Consistency) for the replicas of the distributed shape.
  chain.push_back(std::make_shared<platform::http::ConsistencyMiddleware>());
  gateway::authn::AuthnSettings settings;
  settings.revocations = impl_->revocations.get();
  if (impl_->settings.builtin_issuer) {
    settings.email_trusted_issuers.push_back(impl_->settings.issuer_url);
  }
  chain.push_back(std::make_shared<gateway::authn::AuthnMiddleware>(
      std::move(settings), impl_->verifiers, *impl_->identity, impl_->clock));
  // After authentication: limits are per user, API key and org, and per address before it.
  if (impl_->limiter) {
    chain.push_back(std::make_shared<gateway::ratelimit::RateLimitMiddleware>(
        *impl_->rate_limits, *impl_->limiter, impl_->registry));
  }
}

void Product::Start() {
  if (impl_->background_thread.joinable()) return;
  impl_->keep_running.emplace(impl_->background.get_executor());
  impl_->events->Start(impl_->background);
  impl_->background_thread = std::thread([this] { impl_->background.run(); });
}

void Product::Stop() {
  if (!impl_) return;
  if (!impl_->background_thread.joinable()) {
    ReleaseRedis();
    return;
  }
  impl_->events->Stop();
  impl_->events->Wait();
  impl_->keep_running.reset();
  impl_->background.stop();
  impl_->background_thread.join();
  ReleaseRedis();
}

boost::asio::any_io_executor Product::BackgroundExecutor() {
  return impl_->background.get_executor();
}

void Product::ReleaseRedis() {
  // After every loop that used the client has stopped, and before their io_contexts go (the
  // client's connections are bound to them). Nothing is served after Stop().
  if (!impl_->redis) return;
  impl_->limiter.reset();
  impl_->cache_port.reset();
  impl_->tokens.reset();
  impl_->locks.reset();
  impl_->redis.reset();
}

void Product::AddHealthChecks(gateway::Health& health) {
  if (impl_->redis) {
    // Down: a fail-closed limiter refuses every request (not ready); otherwise requests are
    // still served, from the database and without shared limits (ready, degraded).
    const bool fail_closed = impl_->settings.rate_limits.fail_closed && impl_->limiter;
    health.AddCheck("redis", [redis = impl_->redis.get(), fail_closed] {
      switch (redis->Health()) {
        case adapters::redis::RedisHealth::kConnected: return gateway::CheckState::kOk;
        case adapters::redis::RedisHealth::kDegraded: return gateway::CheckState::kDegraded;
        case adapters::redis::RedisHealth::kDown: break;
      }
      return fail_closed ? gateway::CheckState::kFailing : gateway::CheckState::kDegraded;
    });
  }
  for (const auto& [name, store] : impl_->postgres) {
    health.AddCheck("postgres:" + name, [store = store] {
      const auto h = store->Health();
      if (h.ok) return gateway::CheckState::kOk;
      return h.degraded ? gateway::CheckState::kDegraded : gateway::CheckState::kFailing;
    });
  }
}

Result<void> Product::ReloadCredentials() {
  for (const auto& [name, store] : impl_->postgres) {
    if (auto ok = store->ReloadCredentials(); !ok) return ok;
  }
  return {};
}

identity::app::IdentityApp& Product::Identity() { return *impl_->identity; }
identity::app::OidcIssuer& Product::Issuer() { return *impl_->issuer; }
work::app::WorkApp& Product::Work() { return *impl_->work; }

}  // namespace trellis::cmd

namespace trellis::cmd {

ProductSettings ProductSettingsFrom(const platform::core::config::Config& c) {
  ProductSettings s;
  s.data_dir = c.String("data_dir");
  s.builtin_issuer = c.Bool("auth.builtin_issuer");
  s.issuer_url = c.String("auth.issuer_url");
  if (s.issuer_url.empty()) {
    s.issuer_url = "http://" + c.String("http.address") + ":" + std::to_string(c.Int("http.port"));
  }
  while (s.issuer_url.ends_with('/')) s.issuer_url.pop_back();
  s.audience = c.String("auth.audience");
  s.external_issuers = c.List("auth.external_issuers");
  s.accepted_token_types = c.List("auth.token_types");
  s.leeway_s = static_cast<int>(c.Int("auth.leeway_s"));
  s.jwks_refetch_cooldown_s = static_cast<int>(c.Int("auth.jwks_refetch_cooldown_s"));
  for (const auto& entry : c.List("auth.clients")) {
    const auto eq = entry.find('=');
    const std::string id = entry.substr(0, eq);
    const std::string uri = eq == std::string::npos ? "" : entry.substr(eq + 1);
    auto it = std::find_if(s.clients.begin(), s.clients.end(),
                           [&](const ProductSettings::Client& cl) { return cl.id == id; });
    if (it == s.clients.end()) {
      s.clients.push_back({id, {}, {}});
      it = s.clients.end() - 1;
    }
    if (!uri.empty()) {
      it->redirect_uris.push_back(uri);
      it->post_logout_redirect_uris.push_back(uri);
    }
  }
  // The web app signs in as its own public client (ui/, ADR 0025). Its redirects are added to
  // any configured for the same id (a Vite dev server on another origin, say).
  if (c.Bool("ui.enabled") && c.String("ui.oidc_authority").empty()) {
    const std::string id = c.String("ui.oidc_client_id");
    auto it = std::find_if(s.clients.begin(), s.clients.end(),
                           [&](const ProductSettings::Client& cl) { return cl.id == id; });
    if (it == s.clients.end()) {
      s.clients.push_back({id, {}, {}});
      it = s.clients.end() - 1;
    }
    it->redirect_uris.push_back(s.issuer_url + "/auth/callback");
    it->post_logout_redirect_uris.push_back(s.issuer_url + "/");
    it->post_logout_redirect_uris.push_back(s.issuer_url + "/signed-out");
  }
  s.idempotency_ttl_h = static_cast<int>(c.Int("api.idempotency_ttl_h"));
  s.cursor_key = c.SecretOf("api.cursor_key")->Value();
  s.sqlite_readers = static_cast<int>(c.Int("sqlite.readers"));
  s.sqlite_inline_reads = c.Bool("sqlite.inline_reads");
  s.engine = c.String("store.engine") == "postgres" ? ProductSettings::Engine::kPostgres
                                                    : ProductSettings::Engine::kSqlite;
  s.postgres.primary = c.String("postgres.primary");
  s.postgres.replicas = c.List("postgres.replicas");
  s.postgres.password_dir = c.String("postgres.password_dir");
  s.postgres.pool_size = static_cast<int>(c.Int("postgres.pool_size"));
  s.postgres.connect_timeout_ms = static_cast<int>(c.Int("postgres.connect_timeout_ms"));
  s.postgres.max_replica_lag_ms = static_cast<int>(c.Int("postgres.max_replica_lag_ms"));
  s.postgres.backoff_cap_ms = static_cast<int>(c.Int("postgres.backoff_cap_ms"));
  s.postgres.single_process = c.Bool("postgres.single_process");
  s.postgres.pipeline = c.Bool("postgres.pipeline");
  const std::string backend = c.String("cache.backend");
  s.cache.backend = backend == "off"     ? ProductSettings::Cache::Backend::kOff
                    : backend == "redis" ? ProductSettings::Cache::Backend::kRedis
                                         : ProductSettings::Cache::Backend::kMemory;
  s.shared = c.String("shared.backend") == "redis" ? ProductSettings::Shared::kRedis
                                                   : ProductSettings::Shared::kMemory;
  s.redis.address = c.String("redis.address");
  s.redis.sentinels = c.List("redis.sentinels");
  s.redis.master_name = c.String("redis.master_name");
  s.redis.password_file = c.String("redis.password_file");
  s.redis.db = static_cast<int>(c.Int("redis.db"));
  s.redis.connect_timeout_ms = static_cast<int>(c.Int("redis.connect_timeout_ms"));
  s.redis.backoff_cap_ms = static_cast<int>(c.Int("redis.backoff_cap_ms"));
  s.redis.call_timeout_ms = static_cast<int>(c.Int("redis.call_timeout_ms"));
  s.relay_leadership = c.Bool("events.relay_leadership");
  s.cache.ttl_ms = c.Int("cache.ttl_ms");
  s.cache.max_bytes = static_cast<std::size_t>(c.Int("cache.max_bytes"));
  s.cache.max_entries = static_cast<std::size_t>(c.Int("cache.max_entries"));
  s.cache.near_entries = static_cast<std::size_t>(c.Int("cache.near_entries"));
  s.rate_limits.owner = c.String("policy.edge_rate_limits");
  s.rate_limits.enabled = c.Bool("rate_limit.enabled");
  s.rate_limits.anonymous = c.String("rate_limit.anonymous");
  s.rate_limits.user = c.String("rate_limit.user");
  s.rate_limits.api_key = c.String("rate_limit.api_key");
  s.rate_limits.plans = c.List("rate_limit.plans");
  s.rate_limits.org_plans = c.List("rate_limit.org_plans");
  s.rate_limits.default_plan = c.String("rate_limit.default_plan");
  s.rate_limits.fail_closed = c.String("rate_limit.on_error") == "fail_closed";
  return s;
}

}  // namespace trellis::cmd
