// The distributed SQL store: the SqlStore port over PostgreSQL through libpq, asynchronous on
// the caller's event loop (non-blocking sockets awaited through Asio; no thread per query).
//
// Each transaction leases a pooled connection and sends BEGIN, its settings (statement_timeout
// from the deadline, trellis.org_id and further trellis.* values for row-level security, all
// transaction-local) and its first statement in one round trip; statements are prepared once
// per connection; ExecuteBatch pipelines. libpq stays inside adapters/postgres/*.cpp.
//
//   auto store = PgStore::Open({.name = "work", .conninfo = "host=db dbname=trellis",
//                               .user = "trellis_work", .search_path = "work"},
//                              executor, clock, registry);
//   co_await (*store)->Transact(TransactionOptions().Org(org).Deadline(d), body);
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::adapters::postgres {

struct Settings {
  // Names the database in metrics (the bounded context: identity, work, audit, edge).
  std::string name = "main";
  // libpq keyword/value string or URI; may list several hosts with
  // target_session_attrs=read-write (failover). Never logged nor put in an error.
  std::string conninfo;
  // The login role; empty: the one in conninfo.
  std::string user;
  // A file holding the password (re-read on ReloadCredentials and when its mtime changes);
  // empty: the password in conninfo, if any.
  std::filesystem::path password_file;
  // Set per connection when it is made (the context's schema); empty: the server's default.
  std::string search_path;
  std::size_t max_connections = 8;
  // Idle connections kept open (and opened at start) even when unused.
  std::size_t min_idle = 0;
  std::chrono::milliseconds connect_timeout{2000};
  // Prepared statements kept per connection; DEALLOCATE ALL when full.
  std::size_t statement_cache = 256;
  // A connection idle longer than this is checked (SELECT 1) before it is handed out.
  std::chrono::milliseconds health_check_idle{5000};
  // Connections older than this are closed when released; 0: no limit.
  std::chrono::milliseconds max_lifetime{0};
  // Idle connections beyond min_idle are closed after this long.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  // Reconnect back-off after a failed connect: base doubling up to cap, jittered.
  std::chrono::milliseconds backoff_base{50};
  std::chrono::milliseconds backoff_cap{5000};
  // COMMIT and ROLLBACK may run this long past the transaction's deadline: finishing work
  // that is done beats reporting a late error for a commit that may have happened.
  std::chrono::milliseconds commit_grace{5000};
  std::string application_name = "trellis";
  // ExecuteBatch sends its statements in one round trip (pipeline mode); false: one round trip
  // per statement, as Execute in turn would (to measure what the pipeline saves; bench (f2)).
  bool pipeline = true;

  // Read replicas (ADR 0014): one libpq conninfo per replica, connected with the same user,
  // password file and search_path. Read-only transactions that carry a write position
  // (TransactionOptions::Consistency) run on a replica that has replayed it; all others on the
  // primary. Empty: every transaction on the primary.
  std::vector<std::string> replica_conninfos;
  // A replica further behind than this (the age of the oldest WAL it has not replayed) is taken
  // out of rotation until it catches up.
  std::chrono::milliseconds max_replica_lag{1000};
  // The same in WAL bytes; 0: no byte bound.
  std::uint64_t max_replica_lag_bytes = 0;
  // How often each replica's position and lag are checked, and how long a check may take.
  std::chrono::milliseconds replica_check_interval{250};
  std::chrono::milliseconds replica_check_timeout{1000};
};

// For /readyz: whether the last connect attempt succeeded, and the pool's occupancy.
struct PgHealth {
  bool ok = true;
  std::size_t connections = 0;
  std::size_t idle = 0;
  std::size_t in_use = 0;
  std::size_t waiting = 0;
  std::uint64_t consecutive_failures = 0;
  std::string detail;  // internal: the last connect error
  // With replicas: the primary is down but a replica serves reads (/readyz: ready, degraded).
  bool degraded = false;
  std::size_t replicas = 0;
  std::size_t replicas_up = 0;  // in rotation
};

class PgStore final : public platform::ports::SqlStore {
 public:
  // Checks the settings; does not connect (the first transaction does, or the min_idle warm-up
  // spawned on `executor`, which must outlive the store).
  [[nodiscard]] static platform::core::Result<std::unique_ptr<PgStore>> Open(
      Settings settings, const boost::asio::any_io_executor& executor,
      const platform::core::Clock& clock, platform::observe::Registry& metrics);
  // Every transaction must have finished.
  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  // SqlStore
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> Transact(
      platform::ports::TransactionOptions options, platform::ports::TransactionBody body) override;

  // Re-reads the password file (the composition root calls it on SIGHUP): new connections use
  // the new password; connections made with the old one close when released, never mid-
  // transaction.
  [[nodiscard]] platform::core::Result<void> ReloadCredentials();
  [[nodiscard]] PgHealth Health() const;

  class Impl;

 private:
  explicit PgStore(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace trellis::adapters::postgres
