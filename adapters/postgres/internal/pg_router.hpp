// Read replicas behind one PgStore (private to the PostgreSQL adapter): one pool to the primary,
// one pool per replica, and a monitor that keeps each replica's replay position and lag.
//
// Which server a transaction runs on (ADR 0014):
//   - a write: the primary, always;
//   - a read-only transaction with a write position (TransactionOptions::Consistency): a replica
//     in rotation whose replay LSN has reached the position (round-robin over those); when the
//     cached LSNs say none has, one replica is asked once; else the primary (an RYW fallback);
//   - a read-only transaction without a position: the primary, or a replica in rotation while
//     the primary is down;
//   - the primary down and no replica that has reached the position: kUnavailable (never a
//     stale read).
// A replica leaves the rotation when its check fails or times out, or when it lags the primary
// by more than max_lag (time) or max_lag_bytes (WAL bytes), and comes back when it is healthy.
//
//   auto router = std::make_shared<ReplicaRouter>(settings, primary, replicas, clock, metrics);
//   router->Start(executor);                         // the monitor, every check_interval
//   auto routed = co_await router->Acquire(options); // a connection on the right server
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/postgres/internal/pg_pool.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::adapters::postgres::internal {

struct RouterSettings {
  std::string name = "main";  // the db label of the metrics
  // A replica further behind the primary than this (the age of the oldest WAL it has not
  // replayed) leaves the rotation.
  std::chrono::milliseconds max_lag{1000};
  // A replica further behind than this many WAL bytes leaves the rotation; 0: no byte bound.
  std::uint64_t max_lag_bytes = 0;
  std::chrono::milliseconds check_interval{250};
  // Bounds each check (the connect included).
  std::chrono::milliseconds check_timeout{1000};
};

// A leased connection and where it goes back.
struct Routed {
  PgPool* pool = nullptr;
  std::unique_ptr<PgConnection> conn;
  int replica = -1;  // -1: the primary
};

struct ReplicaState {
  bool up = false;  // in rotation
  bool in_recovery = true;
  std::uint64_t replay_lsn = 0;
  double lag_seconds = 0;
  std::uint64_t lag_bytes = 0;
  std::string last_error;  // internal detail of the last failed check
};

struct RouterHealth {
  bool primary_up = true;
  std::size_t replicas_up = 0;
  std::vector<ReplicaState> replicas;
};

class ReplicaRouter : public std::enable_shared_from_this<ReplicaRouter> {
 public:
  ReplicaRouter(RouterSettings settings, std::shared_ptr<PgPool> primary,
                std::vector<std::shared_ptr<PgPool>> replicas, const platform::core::Clock& clock,
                platform::observe::Registry& metrics);
  ReplicaRouter(const ReplicaRouter&) = delete;
  ReplicaRouter& operator=(const ReplicaRouter&) = delete;

  // Spawns the monitor on `executor` (it holds the router weakly and ends after the router).
  void Start(const boost::asio::any_io_executor& executor);
  // One round of checks: the primary's position, then each replica's (the monitor's tick).
  [[nodiscard]] boost::asio::awaitable<void> CheckOnce();

  // A connection for the transaction, bound to the caller's executor (see the header comment).
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<Routed>> Acquire(
      const platform::ports::TransactionOptions& options);

  [[nodiscard]] RouterHealth Health() const;
  [[nodiscard]] bool PrimaryUp() const { return primary_up_->load(std::memory_order_acquire); }
  [[nodiscard]] const std::vector<std::shared_ptr<PgPool>>& ReplicaPools() const { return pools_; }

 private:
  // What the monitor and the gauges read; shared with callback gauges that may outlive us.
  struct Replica {
    std::atomic<bool> up{false};
    std::atomic<bool> in_recovery{true};
    std::atomic<std::uint64_t> replay_lsn{0};
    std::atomic<double> lag_seconds{0};
    std::atomic<std::uint64_t> lag_bytes{0};
    // Behind the primary and not moving since the last check (replay paused or stuck): asking
    // it for its position on a read is pointless.
    std::atomic<bool> stalled{false};
    std::uint64_t checked_lsn = 0;  // the last check's replay LSN: the monitor's own
    std::string last_error;         // guarded by ReplicaRouter::mu_
  };
  struct Sample {
    platform::core::Clock::MonoTime at;
    std::uint64_t lsn;
  };

  boost::asio::awaitable<platform::core::Result<Routed>> FromPrimary(
      platform::core::Clock::MonoTime deadline);
  // A replica in rotation that has replayed `want` (any, when !has_position); an empty Routed
  // when none.
  boost::asio::awaitable<platform::core::Result<Routed>> FromReplica(
      bool has_position, std::uint64_t want, platform::core::Clock::MonoTime deadline);
  // The replica's position read on conn (replay LSN; its current LSN once promoted).
  boost::asio::awaitable<platform::core::Result<std::uint64_t>> AskPosition(PgConnection& conn);
  void MarkDown(std::size_t i, std::string detail);

  const RouterSettings settings_;
  const std::shared_ptr<PgPool> primary_;
  const std::vector<std::shared_ptr<PgPool>> pools_;
  const platform::core::Clock& clock_;
  std::vector<std::shared_ptr<Replica>> replicas_;
  // Set by the monitor, and cleared when a connect to the primary fails.
  std::shared_ptr<std::atomic<bool>> primary_up_ = std::make_shared<std::atomic<bool>>(true);
  std::atomic<std::size_t> next_{0};  // round-robin cursor

  platform::observe::Counter& to_replica_;
  platform::observe::Counter& to_primary_;
  platform::observe::Counter& ryw_fallbacks_;
  platform::observe::Counter& position_checks_;
  platform::observe::Counter& checks_failed_;

  mutable std::mutex mu_;
  std::deque<Sample> history_;  // guarded by mu_: the primary's positions, oldest first
};

}  // namespace trellis::adapters::postgres::internal
