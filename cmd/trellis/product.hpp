// The embedded shape's product, assembled: one SQLite database per context under data_dir
// (identity, work, audit, plus events.db for the event log and edge.db for Idempotency-Key
// records), their migrations (compiled into the binary), the apps, the built-in OIDC issuer,
// the events runtime (relay, audit projection, live hub) and the REST routes. main() builds it
// from config; the end-to-end tests build it directly with a temp data_dir.
//
//   auto product = Product::Open(settings, clock, ids, registry);     // migrates
//   (*product)->AddRoutes(router);  (*product)->AddMiddleware(chain);
//   (*product)->Start();  ...  (*product)->Stop();
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/middleware.hpp"
#include "platform/http/router.hpp"
#include "platform/observe/metrics.hpp"

namespace trellis::identity::app {
class IdentityApp;
class OidcIssuer;
struct OidcSettings;
}  // namespace trellis::identity::app
namespace trellis::work::app {
class WorkApp;
}
namespace trellis::gateway {
class Health;
}

namespace trellis::cmd {

struct ProductSettings {
  std::filesystem::path data_dir = "./data";
  // The built-in issuer; its URL is also the default accepted issuer.
  bool builtin_issuer = true;
  std::string issuer_url = "http://127.0.0.1:8080";
  std::string audience = "trellis-api";
  // Extra OIDC clients of the built-in issuer: id and redirect URIs.
  struct Client {
    std::string id;
    std::vector<std::string> redirect_uris;
    std::vector<std::string> post_logout_redirect_uris;
  };
  std::vector<Client> clients;
  // Accepted issuers of access tokens besides the built-in one (Keycloak, …), by URL.
  std::vector<std::string> external_issuers;
  std::vector<std::string> accepted_token_types = {"at+jwt"};
  int leeway_s = 30;
  int jwks_refetch_cooldown_s = 30;
  int idempotency_ttl_h = 24;
  std::string cursor_key;  // empty: random per process
  int sqlite_readers = 2;
  bool sqlite_inline_reads = true;
  // Where the contexts' data lives: SQLite files under data_dir, or PostgreSQL.
  enum class Engine { kSqlite, kPostgres };
  Engine engine = Engine::kSqlite;
  struct Postgres {
    std::string primary;                 // libpq conninfo without user/password
    std::vector<std::string> replicas;   // the same, one per replica
    std::filesystem::path password_dir;  // a file per role, named after it
    int pool_size = 8;
    int connect_timeout_ms = 2000;
    int max_replica_lag_ms = 1000;
    int backoff_cap_ms = 1000;
    // Only this process writes: an in-process cache stays right (ADR 0019).
    bool single_process = false;
    bool pipeline = true;  // ExecuteBatch in one round trip
  };
  Postgres postgres;
  // The shared cache of hot reads (ADR 0019).
  struct Cache {
    enum class Backend { kMemory, kRedis, kOff };
    Backend backend = Backend::kMemory;
    std::int64_t ttl_ms = 300'000;
    std::size_t max_bytes = std::size_t{256} << 20;
    std::size_t max_entries = 200'000;
    std::size_t near_entries = 10'000;  // Redis: the near cache in process (0: off)
  };
  Cache cache;
  // The gateway's rate limits (ADR 0021): limits as "<n>/<s|m|h>", checked at Open.
  struct RateLimits {
    bool enabled = true;
    // docs/policy-ownership.md: who owns coarse edge rate limits, "trellis" or "kong".
    std::string owner = "trellis";
    std::string anonymous = "120/m";
    std::string user = "6000/m";
    std::string api_key = "6000/m";
    std::vector<std::string> plans = {"standard=30000/m"};  // plan=limit
    std::vector<std::string> org_plans;                     // org id=plan
    std::string default_plan = "standard";
    bool fail_closed = false;
  };
  RateLimits rate_limits;
  // Where rate-limit counters, ended sessions and locks live: in process, or in Redis (shared
  // by every process).
  enum class Shared { kMemory, kRedis };
  Shared shared = Shared::kMemory;
  // The Redis server, or the Sentinels that know it (docs/redis.md).
  struct Redis {
    std::string address;  // host:port
    std::vector<std::string> sentinels;
    std::string master_name;
    std::filesystem::path password_file;
    int db = 0;
    int connect_timeout_ms = 1000;
    int backoff_cap_ms = 2000;
    int call_timeout_ms = 250;
  };
  Redis redis;
  // One outbox relay per deployment, elected through the lock service (ADR 0018).
  bool relay_leadership = false;
};

// What `trellis migrate` did, per database.
struct MigrationReport {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> applied;
};

class Product {
 public:
  // Opens every database under settings.data_dir (creating the directory) and applies the
  // pending migrations. kFailedPrecondition when an applied migration changed.
  [[nodiscard]] static platform::core::Result<std::unique_ptr<Product>> Open(
      ProductSettings settings, const platform::core::Clock& clock,
      platform::core::IdGenerator& ids, platform::observe::Registry& registry);
  // Only the migrations (trellis migrate).
  [[nodiscard]] static platform::core::Result<MigrationReport> Migrate(
      const ProductSettings& settings, const platform::core::Clock& clock,
      platform::observe::Registry& registry);
  ~Product();
  Product(const Product&) = delete;
  Product& operator=(const Product&) = delete;

  void AddRoutes(platform::http::Router& router);
  void AddMiddleware(platform::http::MiddlewareChain& chain);
  // Runs `task` on the product's background loop (starting it if needed) and waits for its
  // result: for start-up work whose calls may reach Redis, which must not run on a throwaway
  // io_context (platform/ports/run_sync.hpp) since the client keeps a connection per loop.
  template <typename T>
  T RunOnBackground(boost::asio::awaitable<T> task) {
    Start();
    return boost::asio::co_spawn(BackgroundExecutor(), std::move(task), boost::asio::use_future)
        .get();
  }
  [[nodiscard]] boost::asio::any_io_executor BackgroundExecutor();
  // Drops the Redis client and its adapters (Stop() does it): call once the loops that used
  // it have stopped, before their io_contexts are destroyed.
  void ReleaseRedis();
  // /readyz checks of the databases: on PostgreSQL one per context (degraded while the primary
  // is down and a replica serves reads; failing when neither answers).
  void AddHealthChecks(gateway::Health& health);
  // Starts the background work (event relay and consumers, key rotation) on its own thread.
  void Start();
  // Stops it and waits; call after the server has drained.
  void Stop();

  // Re-reads the PostgreSQL password files (SIGHUP): new connections use the new passwords,
  // open ones drain. Nothing to do on SQLite.
  [[nodiscard]] platform::core::Result<void> ReloadCredentials();

  [[nodiscard]] identity::app::IdentityApp& Identity();
  [[nodiscard]] identity::app::OidcIssuer& Issuer();
  [[nodiscard]] work::app::WorkApp& Work();

  struct Impl;

 private:
  explicit Product(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis::cmd

namespace trellis::platform::core::config {
class Config;
}
namespace trellis::cmd {
// The product's settings from the configuration (the composition root's job).
[[nodiscard]] ProductSettings ProductSettingsFrom(const platform::core::config::Config& config);
}  // namespace trellis::cmd
