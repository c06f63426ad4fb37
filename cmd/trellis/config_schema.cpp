#include "cmd/trellis/config_schema.hpp"

namespace trellis::cmd {

using platform::core::config::Config;
using platform::core::config::KeySpec;
using platform::core::config::Kind;
using platform::core::config::Schema;

namespace {

constexpr std::int64_t kMaxPort = 65535;
constexpr std::int64_t kMaxThreads = 256;
constexpr std::int64_t kOneGiB = 1LL << 30;
constexpr std::int64_t kOneDayMs = 24LL * 3600 * 1000;

KeySpec Int(std::string key, std::int64_t def, std::int64_t min, std::int64_t max,
            std::string doc) {
  return {.key = std::move(key),
          .kind = Kind::kInt,
          .default_value = std::to_string(def),
          .doc = std::move(doc),
          .min = min,
          .max = max,
          .allowed = {}};
}

KeySpec Bool(std::string key, bool def, std::string doc) {
  return {.key = std::move(key),
          .kind = Kind::kBool,
          .default_value = def ? "true" : "false",
          .doc = std::move(doc)};
}

KeySpec Str(std::string key, std::string def, std::string doc) {
  return {.key = std::move(key),
          .kind = Kind::kString,
          .default_value = std::move(def),
          .doc = std::move(doc)};
}

}  // namespace

const std::vector<std::string>& KnownRoles() {
  // Roles arrive with the services that fill them (identity, work, notify, audit, jobs).
  static const std::vector<std::string> roles = {"all", "gateway"};
  return roles;
}

const Schema& ConfigSchema() {
  static const Schema schema = [] {
    Schema s;
    s.Add(Str("http.address", "127.0.0.1", "Address the HTTP server listens on."));
    s.Add(Int("http.port", 8080, 0, kMaxPort, "TCP port; 0 picks a free one."));
    s.Add(Int("http.threads", 0, 0, kMaxThreads, "Event-loop threads; 0 means one per core."));
    s.Add(Bool("http.reuse_port", true,
               "One SO_REUSEPORT listener per event loop, so several processes may share the "
               "port. When false, one listener hands connections to the loops in turn."));
    s.Add(Int("http.listen_backlog", 4096, 1, 65535, "Pending-connection queue length."));
    s.Add(Int("http.max_header_bytes", 16384, 1024, 1 << 20,
              "Largest request line plus headers; larger gets 431."));
    s.Add(
        Int("http.max_body_bytes", 1 << 20, 0, kOneGiB, "Largest request body; larger gets 413."));
    s.Add(Int("http.max_url_bytes", 8192, 64, 1 << 20, "Longest request target; longer gets 414."));
    s.Add(Int("http.request_timeout_ms", 10000, 100, kOneDayMs,
              "A request must arrive whole within this time of its first byte, else 408 and "
              "the connection is closed."));
    s.Add(Int("http.idle_timeout_ms", 60000, 100, kOneDayMs,
              "A keep-alive connection with no request for this long is closed."));
    s.Add(Int("http.write_timeout_ms", 10000, 100, kOneDayMs,
              "A response (or event-stream) write that does not finish in this time closes "
              "the connection."));
    s.Add(Int("http.request_deadline_ms", 30000, 10, kOneDayMs,
              "Budget for handling one request; outbound calls get what remains of it."));
    s.Add(Int("http.max_connections", 10000, 1, 10'000'000,
              "Open connections per process; beyond it new connections get 503 with "
              "Retry-After and are closed. Keep below the process's file limit."));
    s.Add(Int("http.overload_retry_after_s", 1, 0, 3600,
              "Retry-After sent with the over-capacity 503."));
    s.Add(Int("http.sse.heartbeat_ms", 15000, 100, kOneDayMs,
              "Idle event streams get a comment line this often."));
    s.Add(Int("http.sse.max_buffer_bytes", 262144, 1024, kOneGiB,
              "Events queued for one stream beyond this drop the stream (slow consumer)."));
    s.Add({.key = "http.cors.allowed_origins",
           .kind = Kind::kStringList,
           .default_value = "",
           .doc = "Origins allowed to call the API from a browser (exact, or *). Empty: CORS "
                  "off."});
    s.Add(Int("http.cors.max_age_s", 600, 0, 86400, "How long browsers may cache a preflight."));
    s.Add(Bool("http.bench_routes", false,
               "Serve /bench/plaintext and /bench/json (fixed bodies) for `make bench`."));
    s.Add(Int("shutdown.drain_delay_ms", 0, 0, 600000,
              "After SIGTERM, keep accepting (with /readyz 503) this long so load balancers "
              "stop routing here first."));
    s.Add(Int("shutdown.timeout_ms", 25000, 0, 600000,
              "After the drain delay, in-flight requests get this long to finish before "
              "connections are closed."));
    s.Add({.key = "log.level",
           .kind = Kind::kEnum,
           .default_value = "info",
           .doc = "Least severe level logged.",
           .allowed = {"debug", "info", "warn", "error"}});
    s.Add(Bool("log.access", true, "One JSON line per request."));
    s.Add({.key = "metrics.token",
           .kind = Kind::kSecret,
           .default_value = "",
           .doc = "When set, /metrics requires `Authorization: Bearer <token>`. Re-read from "
                  "its file on SIGHUP."});
    s.Add(Str("data_dir", "./data",
              "Where the embedded shape keeps its files: one SQLite database per context "
              "(identity.db, work.db, audit.db), events.db and edge.db."));
    s.Add(Bool("sqlite.inline_reads", true,
               "Run read-only SQLite transactions on the calling event loop instead of the "
               "store's thread pool: no thread hand-offs for short reads (WAL readers never "
               "wait for the writer, and the request deadline interrupts a long one). Off: "
               "every statement goes through the pool, so a slow read never holds up a loop."));
    s.Add(Int("sqlite.readers", 2, 1, 64, "Reader connections per SQLite database."));
    s.Add({.key = "store.engine",
           .kind = Kind::kEnum,
           .default_value = "sqlite",
           .doc = "Where the contexts keep their data: `sqlite` (one file per context under "
                  "data_dir; the embedded shape) or `postgres` (one schema per context on "
                  "`postgres.primary` and its replicas; docs/postgres.md).",
           .allowed = {"sqlite", "postgres"}});
    s.Add(Str("postgres.primary", "",
              "libpq connection string of the primary, without user or password, e.g. "
              "`host=db1,db2 port=5432,5432 dbname=trellis target_session_attrs=read-write` "
              "(several hosts: after a failover the promoted one is found without a restart)."));
    s.Add({.key = "postgres.replicas",
           .kind = Kind::kStringList,
           .default_value = "",
           .doc = "libpq connection strings of read replicas (without user or password). "
                  "Read-only use cases go to a healthy one that has replayed the caller's "
                  "writes (the Trellis-Consistency token), else to the primary."});
    s.Add(Str("postgres.password_dir", "",
              "A directory with one file per database role, named after it "
              "(trellis_migrator, trellis_identity, trellis_work, trellis_audit, trellis_edge), "
              "each holding that role's password. Re-read on SIGHUP and when a file changes: new "
              "connections use the new password, open ones drain (Vault-rendered files)."));
    s.Add(Int("postgres.pool_size", 8, 1, 1000,
              "Connections per context role and server (primary, each replica)."));
    s.Add(Int("postgres.connect_timeout_ms", 2000, 100, 60000,
              "How long a new connection may take (also bounded by the request deadline)."));
    s.Add(Bool("postgres.single_process", false,
               "Only this one Trellis process writes the database, so the in-process cache "
               "(`cache.backend: memory`) sees every invalidation and stays on. Off (several "
               "processes): an in-process cache is not used, reads go to the database (use a "
               "shared cache)."));
    s.Add(Int("postgres.backoff_cap_ms", 1000, 50, 60000,
              "After a failed connect, new connects back off (jittered, doubling from 50 ms) up "
              "to this; meanwhile transactions answer 503 at once. After a failover, writes "
              "resume within it."));
    s.Add(Int("postgres.max_replica_lag_ms", 1000, 1, 3600000,
              "A replica further behind the primary than this is taken out of rotation until "
              "it catches up."));
    s.Add(Bool("postgres.pipeline", true,
               "Send the independent queries of a use case in one round trip (pipeline mode). "
               "Off: one round trip per query, only to measure what pipelining saves."));
    s.Add({.key = "cache.backend",
           .kind = Kind::kEnum,
           .default_value = "memory",
           .doc = "Where the hot reads (callers' roles, projects, task-list pages) are cached: "
                  "`memory` (in process; on PostgreSQL only with `postgres.single_process`), "
                  "`redis` (shared by every process; `redis.*`) or `off`. Entries are "
                  "invalidated by domain events (docs/adr/0019).",
           .allowed = {"memory", "redis", "off"}});
    s.Add({.key = "shared.backend",
           .kind = Kind::kEnum,
           .default_value = "memory",
           .doc = "Where rate-limit counters, ended sessions (the revocation list) and locks "
                  "live: `memory` (this process only) or `redis` (shared by every process; "
                  "`redis.*`). Several processes need `redis` for limits and sign-out to hold "
                  "across them.",
           .allowed = {"memory", "redis"}});
    s.Add(Bool("events.relay_leadership", false,
               "Only one process relays the outboxes at a time, holding a lease from the lock "
               "service (`shared.backend`; Redis across processes) and fencing its deletes "
               "(ADR 0018). Each process still reads its own event log until the Kafka tier, so "
               "turn it on only where that is wanted."));
    s.Add(Str("redis.address", "",
              "host:port of the Redis server (when not found through Sentinel)."));
    s.Add({.key = "redis.sentinels",
           .kind = Kind::kStringList,
           .default_value = "",
           .doc = "Redis Sentinels, each host:port, asked in order for the master of "
                  "`redis.master_name`; after a failover the new master is followed without a "
                  "restart (docs/redis.md)."});
    s.Add(Str("redis.master_name", "", "The master's name in Sentinel."));
    s.Add(Str("redis.password_file", "",
              "A file whose first line is the Redis password (AUTH); empty: none."));
    s.Add(Int("redis.db", 0, 0, 15, "The Redis database number."));
    s.Add(Int("redis.connect_timeout_ms", 1000, 50, 60000,
              "How long a connect may take (Sentinel lookup, AUTH and SELECT included)."));
    s.Add(Int("redis.backoff_cap_ms", 2000, 50, 60000,
              "After a failed connect, reconnects back off (jittered, doubling from 50 ms) up to "
              "this; meanwhile calls fail at once (reads fall through to the database)."));
    s.Add(Int("redis.call_timeout_ms", 250, 10, 60000,
              "Longest wait for one Redis call (also bounded by the request's deadline): a "
              "frozen or partitioned Redis costs a request about this much before it falls "
              "through to the database or the limiter's on_error choice."));
    s.Add(Int("cache.ttl_ms", 300000, 1000, 86400000,
              "Longest time an entry is kept (spread by ±10% so entries filled together do not "
              "expire together); also the bound on staleness should an invalidation be lost."));
    s.Add(Int("cache.max_bytes", std::int64_t{256} << 20, std::int64_t{1} << 20,
              std::int64_t{1} << 40,
              "In-process cache (and the near cache of the Redis one): bytes kept at most (LRU "
              "beyond)."));
    s.Add(Int("cache.max_entries", 200000, 1000, 100000000,
              "In-process cache: entries kept at most (LRU beyond)."));
    s.Add(Int("cache.near_entries", 10000, 0, 100000000,
              "With `cache.backend: redis`: entries also kept in this process (up to "
              "`cache.max_bytes`), served when Redis confirms, in the same round trip, that their "
              "generation is still current: the request then fetches a few bytes instead of the "
              "entry. 0: off."));
    s.Add({.key = "policy.edge_rate_limits",
           .kind = Kind::kEnum,
           .default_value = "trellis",
           .doc = "Which plane owns coarse edge rate limits (docs/policy-ownership.md): "
                  "`trellis` (the gateway's own limits below) or `kong` (Kong's; then "
                  "`rate_limit.enabled` must be false, or start-up refuses).",
           .allowed = {"trellis", "kong"}});
    s.Add(Bool("rate_limit.enabled", true,
               "Trellis limits request rates at its edge (GCRA per org by plan, per user, per API "
               "key, per client address before sign-in) and sends RateLimit-* headers; past a "
               "limit, 429 with Retry-After. In-process limits count per process."));
    s.Add(Str("rate_limit.anonymous", "120/m",
              "Per client address, for calls without credentials (the issuer's sign-in and token "
              "endpoints): `<requests>/<s|m|h>`, also the burst."));
    s.Add(Str("rate_limit.user", "6000/m", "Per signed-in user, over all their orgs."));
    s.Add(Str("rate_limit.api_key", "6000/m", "Per API key."));
    s.Add({.key = "rate_limit.plans",
           .kind = Kind::kStringList,
           .default_value = "standard=30000/m",
           .doc = "Per-org limits by plan, each `plan=<requests>/<s|m|h>`, over all the org's "
                  "callers."});
    s.Add({.key = "rate_limit.org_plans",
           .kind = Kind::kStringList,
           .default_value = "",
           .doc = "Orgs not on `rate_limit.default_plan`, each `<org id>=<plan>`."});
    s.Add(Str("rate_limit.default_plan", "standard", "The plan of orgs not in org_plans."));
    s.Add({.key = "rate_limit.on_error",
           .kind = Kind::kEnum,
           .default_value = "fail_open",
           .doc = "When the limiter cannot answer in time (Redis down or frozen): `fail_open` "
                  "serves the request unlimited (counted in trellis_rate_limiter_errors_total), "
                  "`fail_closed` answers 503 with Retry-After.",
           .allowed = {"fail_open", "fail_closed"}});
    s.Add(Bool("auth.builtin_issuer", true,
               "Serve the built-in OpenID Connect issuer (/.well-known/openid-configuration, "
               "/oidc/*, /console) and accept its tokens. Off when an external issuer such as "
               "Keycloak signs users in."));
    s.Add(Str("auth.issuer_url", "",
              "The built-in issuer's URL as browsers and clients reach it (the tokens' `iss`). "
              "Empty: http://<http.address>:<http.port>."));
    s.Add({.key = "auth.external_issuers",
           .kind = Kind::kStringList,
           .default_value = "",
           .doc = "Further OIDC issuers whose access tokens are accepted, by URL (discovery at "
                  "<url>/.well-known/openid-configuration), e.g. a Keycloak realm."});
    s.Add(Str("auth.audience", "trellis-api",
              "The `aud` every access token must carry, and that the built-in issuer issues."));
    s.Add({.key = "auth.token_types",
           .kind = Kind::kStringList,
           .default_value = "at+jwt",
           .doc = "Accepted JWT `typ` headers of access tokens (RFC 9068 `at+jwt`; add `JWT` "
                  "for Keycloak, whose ID and refresh tokens are then told apart by their "
                  "`typ` claim)."});
    s.Add(Int("auth.leeway_s", 30, 0, 60,
              "Clock skew allowed when checking `exp` and `nbf` (at most 60 s)."));
    s.Add(Int("auth.jwks_refetch_cooldown_s", 30, 1, 3600,
              "An unknown `kid` refetches the issuer's JWKS at most this often."));
    s.Add({.key = "auth.clients",
           .kind = Kind::kStringList,
           .default_value = "",
           .doc = "OIDC clients of the built-in issuer, each `client_id=redirect_uri` "
                  "(repeat the id for more URIs). The console client `trellis-console` is "
                  "always there."});
    s.Add(Bool("ui.enabled", true,
               "Serve the web app (the build in `ui.dir`) at /, with /ui-config.json telling it "
               "where to sign in; the built-in issuer then registers its client."));
    s.Add(Str("ui.dir", "ui/dist",
              "The web app's build (`npm run build` in ui/), relative to the working "
              "directory. When it does not exist, Trellis warns and serves the API only."));
    s.Add(Str("ui.oidc_authority", "",
              "The OIDC issuer the web app signs in with. Empty: the built-in issuer "
              "(`auth.issuer_url`); for Keycloak, the realm URL."));
    s.Add(Str("ui.oidc_client_id", "trellis-web",
              "The web app's OIDC client id. The built-in issuer registers it with the redirect "
              "<auth.issuer_url>/auth/callback and the post-logout redirect <auth.issuer_url>/."));
    s.Add(Str("ui.oidc_scope", "openid profile email",
              "Scopes the web app asks for (Keycloak: add `offline_access` only if refresh "
              "tokens must outlive the browser session)."));
    s.Add(Int("api.idempotency_ttl_h", 24, 24, 24 * 30,
              "How long an Idempotency-Key and its response are kept (at least 24 h)."));
    s.Add({.key = "api.cursor_key",
           .kind = Kind::kSecret,
           .default_value = "",
           .doc = "Signs pagination cursors; nodes behind one load balancer share it. Empty: a "
                  "random key per process (cursors then end with it)."});
    s.Add({.key = "roles",
           .kind = Kind::kStringList,
           .default_value = "all",
           .doc = "What this process serves; `--role` overrides. Known: all, gateway."});
    return s;
  }();
  return schema;
}

platform::http::ServerSettings HttpSettings(const Config& c) {
  using std::chrono::milliseconds;
  platform::http::ServerSettings s;
  s.address = c.String("http.address");
  s.port = static_cast<std::uint16_t>(c.Int("http.port"));
  s.threads = static_cast<int>(c.Int("http.threads"));
  s.reuse_port = c.Bool("http.reuse_port");
  s.listen_backlog = static_cast<int>(c.Int("http.listen_backlog"));
  s.limits.max_header_bytes = static_cast<std::size_t>(c.Int("http.max_header_bytes"));
  s.limits.max_body_bytes = static_cast<std::size_t>(c.Int("http.max_body_bytes"));
  s.limits.max_url_bytes = static_cast<std::size_t>(c.Int("http.max_url_bytes"));
  s.request_timeout = milliseconds(c.Int("http.request_timeout_ms"));
  s.idle_timeout = milliseconds(c.Int("http.idle_timeout_ms"));
  s.write_timeout = milliseconds(c.Int("http.write_timeout_ms"));
  s.request_deadline = milliseconds(c.Int("http.request_deadline_ms"));
  s.max_connections = static_cast<std::size_t>(c.Int("http.max_connections"));
  s.overload_retry_after_seconds = static_cast<int>(c.Int("http.overload_retry_after_s"));
  s.sse_heartbeat = milliseconds(c.Int("http.sse.heartbeat_ms"));
  s.sse_max_buffer_bytes = static_cast<std::size_t>(c.Int("http.sse.max_buffer_bytes"));
  s.drain_delay = milliseconds(c.Int("shutdown.drain_delay_ms"));
  s.shutdown_timeout = milliseconds(c.Int("shutdown.timeout_ms"));
  s.access_log = c.Bool("log.access");
  return s;
}

}  // namespace trellis::cmd
