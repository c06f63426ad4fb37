// Idempotency-Key for POST: a retried create returns the first attempt's response instead of
// creating twice.
//
//   auto schema = store::ParseMigrations(rest::IdempotencyMigrations());  // into edge.db
//   co_await store::Migrate(edge_store, *schema, clock, {});
//   rest::Idempotency idempotency(edge_store, clock, {});
//   router.Add(Method::kPost, "/api/v1/orgs/{org}/projects", idempotency.Wrap(CreateProject));
//
// Keys are scoped per org ("org:<org>" when the route has an {org} parameter), else per caller
// ("user:<user id>", "key:<api key id>", "anon"). The request hash is SHA-256 over method, path,
// the caller's actor id and the body. First use claims the key ('in_flight'), runs the handler
// and stores a response below 500 (status, content type, Location/ETag, body); a 5xx or an
// exception releases the claim so that a retry runs again. A repeat with the same hash replays
// the stored response byte for byte plus `Idempotency-Replayed: true`; another hash is 422; a
// repeat while the first is running is 409. See docs/adr/0007-rest-conventions.md.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/http/router.hpp"
#include "platform/ports/sql_store.hpp"
#include "platform/store/migrations.hpp"

namespace trellis::platform::rest {

inline constexpr std::chrono::hours kMinIdempotencyTtl{24};
inline constexpr std::size_t kMaxIdempotencyKeyLength = 255;

struct IdempotencySettings {
  // How long a completed key is remembered; at least kMinIdempotencyTtl (smaller is raised).
  std::chrono::milliseconds ttl = kMinIdempotencyTtl;
  // A claim older than this is taken to be from a crashed request and may be taken over.
  std::chrono::milliseconds in_flight_timeout = std::chrono::seconds(60);
  // At most this often a claim also deletes expired keys (besides Purge()); 0 disables.
  std::chrono::milliseconds purge_interval = std::chrono::hours(1);
  // Response headers replayed besides Content-Type (case-insensitive names).
  std::vector<std::string> replay_headers = {"Location", "ETag"};
};

// The idempotency_keys schema (platform/rest/migrations, compiled in) for the database that
// holds it: the gateway's edge.db.
[[nodiscard]] std::vector<store::MigrationFile> IdempotencyMigrations();
// The same table for PostgreSQL (platform/rest/migrations/postgres): schema edge, applied by
// trellis_migrator with search_path = edge; not under row-level security (docs/adr/0013).
[[nodiscard]] std::vector<store::MigrationFile> IdempotencyPostgresMigrations();

// kInvalidArgument when a setting is out of range (ttl below 24 h, in_flight_timeout <= 0);
// for the composition root, which refuses to start rather than silently raise them.
[[nodiscard]] core::Result<void> ValidateIdempotencySettings(const IdempotencySettings& settings);

class Idempotency {
 public:
  // `store` holds the idempotency_keys table (platform/rest/migrations); both must outlive
  // this object and every handler Wrap returned.
  Idempotency(ports::SqlStore& store, const core::Clock& clock, IdempotencySettings settings);
  Idempotency(const Idempotency&) = delete;
  Idempotency& operator=(const Idempotency&) = delete;

  // Wraps a POST handler. Without an Idempotency-Key header the handler runs as is. A key that
  // is empty, longer than 255 bytes or holds control characters is 400. Storage failures are
  // 503 before the handler runs; after it, they are logged and the handler's response returned.
  [[nodiscard]] http::Handler Wrap(http::Handler inner);

  // Deletes every expired key; returns how many.
  [[nodiscard]] boost::asio::awaitable<core::Result<std::int64_t>> Purge();

 private:
  struct Claim;
  boost::asio::awaitable<http::Response> Run(std::shared_ptr<const http::Handler> inner,
                                             http::Request& req);
  [[nodiscard]] std::int64_t NowMs() const;

  ports::SqlStore& store_;
  const core::Clock& clock_;
  IdempotencySettings settings_;
  std::atomic<std::int64_t> last_purge_ms_{0};
};

}  // namespace trellis::platform::rest
