// A pool of PgConnections to one server (or one multi-host conninfo), shared by every event
// loop of the process. Private to the PostgreSQL adapter; reusable on its own (a replica router
// holds one pool per server).
//
// Acquire hands out an idle connection (checked first when it has been idle a while), makes a
// new one while under max_connections, or waits in FIFO order until the deadline. After a
// failed connect, new connects back off (jittered, exponential) and Acquire answers
// kUnavailable at once instead of hammering a server that is down. Connections made with an
// old password (credential rotation) or past their lifetime are closed when released.
//
//   PgPool pool(settings, clock, metrics);
//   auto conn = co_await pool.Acquire(deadline);   // bound to the caller's executor
//   …; pool.Release(std::move(*conn));
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "adapters/postgres/internal/pg_connection.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/observe/metrics.hpp"

namespace trellis::adapters::postgres::internal {

struct PoolSettings {
  ConnectSpec spec;  // its password is replaced by password_file's content when that is set
  std::filesystem::path password_file;
  std::size_t max_connections = 8;
  std::size_t min_idle = 0;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds health_check_idle{5000};
  std::chrono::milliseconds max_lifetime{0};  // 0: none
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds backoff_base{50};
  std::chrono::milliseconds backoff_cap{5000};
};

// Counters and the values of the pool's gauges; any pointer may be null.
struct PoolMetrics {
  platform::observe::Counter* connects = nullptr;
  platform::observe::Counter* connect_failures = nullptr;
  platform::observe::Counter* cancels = nullptr;
  platform::observe::Counter* discarded = nullptr;
  platform::observe::Histogram* acquire_seconds = nullptr;
  // Read by callback gauges, which may outlive the pool.
  struct Gauges {
    std::atomic<std::int64_t> total{0};
    std::atomic<std::int64_t> in_use{0};
  };
  std::shared_ptr<Gauges> gauges = std::make_shared<Gauges>();
};

struct PoolStats {
  std::size_t total = 0;  // open or being opened
  std::size_t idle = 0;
  std::size_t in_use = 0;
  std::size_t waiting = 0;
  std::uint64_t consecutive_failures = 0;
  bool backing_off = false;
  std::uint64_t credential_generation = 0;
  std::string last_error;  // internal detail of the last failed connect
};

class PgPool {
 public:
  PgPool(PoolSettings settings, const platform::core::Clock& clock, PoolMetrics metrics);
  // Every connection must have been released.
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // A connection bound to the caller's executor with waits ending at deadline.
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<std::unique_ptr<PgConnection>>>
  Acquire(MonoTime deadline);
  // Back to the pool (or closed: broken, old credentials, too old). Called on the lease's
  // executor; never blocks (a cancel runs on the pool's own thread).
  void Release(std::unique_ptr<PgConnection> conn);
  // Opens connections until min_idle are idle (start-up; failures are only counted).
  [[nodiscard]] boost::asio::awaitable<void> Warm();
  // Re-reads the password file; new connections use its password, older ones drain.
  [[nodiscard]] platform::core::Result<void> ReloadCredentials();
  [[nodiscard]] PoolStats Stats() const;

 private:
  struct Waiter {
    explicit Waiter(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    std::unique_ptr<PgConnection> conn;  // granted: guarded by mu_
    bool slot = false;                   // granted the right to connect: guarded by mu_
  };

  boost::asio::awaitable<platform::core::Result<std::unique_ptr<PgConnection>>> Connect(
      MonoTime deadline);
  // Whether an idle connection may be handed out without a check / at all.
  bool Expired(const PgConnection& conn, MonoTime now) const;
  // Gives a freed slot to the first waiter; mu_ held. Returns the waiter to wake.
  std::shared_ptr<Waiter> GrantSlotLocked();
  void Wake(std::shared_ptr<Waiter> waiter);
  void Close(std::unique_ptr<PgConnection> conn);
  platform::core::Result<void> RefreshCredentialsLocked(bool force);
  std::chrono::milliseconds BackoffLocked();

  const PoolSettings settings_;
  const platform::core::Clock& clock_;
  PoolMetrics metrics_;
  // PQcancel blocks (it connects to the server): it runs here, never on an event loop.
  boost::asio::thread_pool cancel_pool_{1};

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_;   // guarded by mu_; most recent last
  std::deque<std::shared_ptr<Waiter>> waiters_;       // guarded by mu_
  std::size_t total_ = 0;                             // guarded by mu_
  std::size_t in_use_ = 0;                            // guarded by mu_
  std::uint64_t failures_ = 0;                        // guarded by mu_
  MonoTime retry_at_{};                               // guarded by mu_
  std::string last_error_;                            // guarded by mu_
  std::string password_;                              // guarded by mu_
  std::filesystem::file_time_type password_mtime_{};  // guarded by mu_
  std::uint64_t generation_ = 0;                      // guarded by mu_
  std::minstd_rand jitter_;                           // guarded by mu_
};

}  // namespace trellis::adapters::postgres::internal
