#include "adapters/postgres/internal/pg_router.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <span>
#include <utility>

namespace trellis::adapters::postgres::internal {

namespace asio = boost::asio;
namespace core = platform::core;
namespace observe = platform::observe;
namespace ports = platform::ports;
using core::ErrorCode;
using core::Result;

namespace {

// Positions are LSNs as integers ('0/0' is 0); the store's write positions are insert LSNs too.
// A promoted replica has no replay position any more: its own insert position stands in.
const std::string kReplicaPosition =
    "SELECT COALESCE((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_insert_lsn() END - '0/0'::pg_lsn)::bigint, 0) AS lsn";
const std::string kReplicaCheck =
    "SELECT pg_is_in_recovery() AS standby, "
    "COALESCE((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_insert_lsn() END - '0/0'::pg_lsn)::bigint, 0) AS lsn, "
    "COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, 0) AS age";
// A server in recovery cannot report an insert position (and is not a primary).
const std::string kPrimaryCheck =
    "SELECT pg_is_in_recovery() AS standby, CASE WHEN pg_is_in_recovery() THEN 0 "
    "ELSE (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint END AS lsn";
// The primary's positions are kept at least this long for the lag in seconds.
constexpr auto kMinHistory = std::chrono::seconds(10);

double Seconds(core::Clock::MonoTime::duration d) {
  return std::chrono::duration<double>(d).count();
}

// One statement on conn; its first row.
asio::awaitable<Result<ports::SqlRow>> QueryRow(PgConnection& conn, const std::string& sql) {
  const Statement statement{sql, nullptr};
  auto results = co_await conn.Pipeline(std::span<const Statement>(&statement, 1));
  if (!results) co_return std::unexpected(results.error());
  if (results->empty() || results->back().rows.empty()) {
    co_return core::Fail(ErrorCode::kInternal, "unexpected database result",
                         "postgres: no row from a replica check");
  }
  co_return std::move(results->back().rows.front());
}

asio::awaitable<void> Monitor(std::weak_ptr<ReplicaRouter> weak, std::chrono::milliseconds every) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    {
      const auto router = weak.lock();
      if (!router) co_return;
      co_await router->CheckOnce();
    }
    timer.expires_after(every);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace

ReplicaRouter::ReplicaRouter(RouterSettings settings, std::shared_ptr<PgPool> primary,
                             std::vector<std::shared_ptr<PgPool>> replicas,
                             const core::Clock& clock, observe::Registry& metrics)
    : settings_(std::move(settings)),
      primary_(std::move(primary)),
      pools_(std::move(replicas)),
      clock_(clock),
      to_replica_(metrics.AddCounter(
          "trellis_sql_reads_routed_total", "Read-only transactions by the server they ran on.",
          {{"engine", "postgres"}, {"db", settings_.name}, {"target", "replica"}})),
      to_primary_(metrics.AddCounter(
          "trellis_sql_reads_routed_total", "Read-only transactions by the server they ran on.",
          {{"engine", "postgres"}, {"db", settings_.name}, {"target", "primary"}})),
      ryw_fallbacks_(metrics.AddCounter(
          "trellis_sql_ryw_fallbacks_total",
          "Reads with a write position sent to the primary: no replica had replayed it.",
          {{"engine", "postgres"}, {"db", settings_.name}})),
      position_checks_(metrics.AddCounter(
          "trellis_sql_replica_position_checks_total",
          "Replicas asked for their replay position when a read needed a newer one.",
          {{"engine", "postgres"}, {"db", settings_.name}})),
      checks_failed_(metrics.AddCounter("trellis_sql_replica_check_failures_total",
                                        "Replica health checks that failed or timed out.",
                                        {{"engine", "postgres"}, {"db", settings_.name}})) {
  auto primary_up = primary_up_;
  metrics.AddCallbackGauge("trellis_sql_primary_up",
                           "1 when the primary answered its last check or connect.",
                           {{"engine", "postgres"}, {"db", settings_.name}},
                           [primary_up] { return primary_up->load() ? 1.0 : 0.0; });
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    auto replica = std::make_shared<Replica>();
    const observe::Labels labels{
        {"engine", "postgres"}, {"db", settings_.name}, {"replica", std::to_string(i)}};
    metrics.AddCallbackGauge("trellis_sql_replica_up", "1 while the replica is in rotation.",
                             labels, [replica] { return replica->up.load() ? 1.0 : 0.0; });
    metrics.AddCallbackGauge("trellis_sql_replica_lag_seconds",
                             "Age of the oldest primary WAL the replica has not replayed.", labels,
                             [replica] { return replica->lag_seconds.load(); });
    metrics.AddCallbackGauge("trellis_sql_replica_lag_bytes",
                             "WAL bytes the replica is behind the primary.", labels,
                             [replica] { return static_cast<double>(replica->lag_bytes.load()); });
    replicas_.push_back(std::move(replica));
  }
}

void ReplicaRouter::Start(const asio::any_io_executor& executor) {
  asio::co_spawn(executor, Monitor(weak_from_this(), settings_.check_interval), asio::detached);
}

void ReplicaRouter::MarkDown(std::size_t i, std::string detail) {
  replicas_[i]->up.store(false, std::memory_order_release);
  checks_failed_.Inc();
  const std::lock_guard lock(mu_);
  replicas_[i]->last_error = std::move(detail);
}

asio::awaitable<void> ReplicaRouter::CheckOnce() {
  // The primary first, so that a replica is compared with a position the primary had before.
  std::optional<std::uint64_t> primary_lsn;
  {
    auto conn = co_await primary_->Acquire(clock_.Monotonic() + settings_.check_timeout);
    if (conn) {
      auto row = co_await QueryRow(**conn, kPrimaryCheck);
      primary_->Release(std::move(*conn));
      if (row && row->Get<std::int64_t>("standby").value_or(1) == 0) {
        primary_lsn = static_cast<std::uint64_t>(row->Get<std::int64_t>("lsn").value_or(0));
      }
    }
  }
  primary_up_->store(primary_lsn.has_value(), std::memory_order_release);
  const auto keep = std::max<core::Clock::MonoTime::duration>(kMinHistory, settings_.max_lag * 4);
  if (primary_lsn) {
    const auto now = clock_.Monotonic();
    const std::lock_guard lock(mu_);
    history_.push_back(Sample{now, *primary_lsn});
    while (history_.size() > 1 && now - history_.front().at > keep) history_.pop_front();
  }

  for (std::size_t i = 0; i < pools_.size(); ++i) {
    Replica& replica = *replicas_[i];
    auto conn = co_await pools_[i]->Acquire(clock_.Monotonic() + settings_.check_timeout);
    if (!conn) {
      MarkDown(i, conn.error().internal);
      continue;
    }
    auto row = co_await QueryRow(**conn, kReplicaCheck);
    pools_[i]->Release(std::move(*conn));
    if (!row) {
      MarkDown(i, row.error().internal);
      continue;
    }
    const bool standby = row->Get<std::int64_t>("standby").value_or(1) != 0;
    const auto lsn = static_cast<std::uint64_t>(row->Get<std::int64_t>("lsn").value_or(0));
    const double age = row->Get<double>("age").value_or(0);
    const auto now = clock_.Monotonic();
    bool within = true;
    if (primary_lsn) {
      // By position, not by the replay timestamp: a paused replica on an idle primary has a
      // recent timestamp, and a caught-up replica on an idle primary an old one.
      const std::uint64_t bytes = lsn >= *primary_lsn ? 0 : *primary_lsn - lsn;
      double seconds = 0;
      if (bytes > 0) {
        const std::lock_guard lock(mu_);
        const auto first = std::find_if(history_.begin(), history_.end(),
                                        [lsn](const Sample& s) { return s.lsn > lsn; });
        if (first != history_.end()) seconds = Seconds(now - first->at);
      }
      replica.lag_bytes.store(bytes);
      replica.lag_seconds.store(seconds);
      within = seconds * 1000.0 <= static_cast<double>(settings_.max_lag.count()) &&
               (settings_.max_lag_bytes == 0 || bytes <= settings_.max_lag_bytes);
    } else {
      // The primary is down: nothing new to replay, so no lag to judge; the replica serves the
      // reads it can. Its replay age is reported for what it is.
      replica.lag_seconds.store(age);
    }
    replica.stalled.store(primary_lsn && lsn < *primary_lsn && lsn == replica.checked_lsn);
    replica.checked_lsn = lsn;
    replica.in_recovery.store(standby);
    replica.replay_lsn.store(lsn, std::memory_order_release);
    {
      const std::lock_guard lock(mu_);
      replica.last_error = within ? "" : "lagging beyond max_replica_lag";
    }
    replica.up.store(within, std::memory_order_release);
  }
}

asio::awaitable<Result<Routed>> ReplicaRouter::FromPrimary(core::Clock::MonoTime deadline) {
  auto conn = co_await primary_->Acquire(deadline);
  if (!conn) {
    if (conn.error().code == ErrorCode::kUnavailable) {
      primary_up_->store(false, std::memory_order_release);
    }
    co_return std::unexpected(conn.error());
  }
  Routed routed;
  routed.pool = primary_.get();
  routed.conn = std::move(*conn);
  co_return routed;
}

asio::awaitable<Result<std::uint64_t>> ReplicaRouter::AskPosition(PgConnection& conn) {
  auto row = co_await QueryRow(conn, kReplicaPosition);
  if (!row) co_return std::unexpected(row.error());
  auto lsn = row->Get<std::int64_t>("lsn");
  if (!lsn) co_return std::unexpected(lsn.error());
  co_return static_cast<std::uint64_t>(*lsn);
}

asio::awaitable<Result<Routed>> ReplicaRouter::FromReplica(bool has_position, std::uint64_t want,
                                                           core::Clock::MonoTime deadline) {
  const std::size_t n = pools_.size();
  const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (start + k) % n;
    const Replica& replica = *replicas_[i];
    if (!replica.up.load(std::memory_order_acquire)) continue;
    if (has_position && replica.replay_lsn.load(std::memory_order_acquire) < want) continue;
    auto conn = co_await pools_[i]->Acquire(deadline);
    if (!conn) {
      if (conn.error().code == ErrorCode::kDeadlineExceeded)
        co_return std::unexpected(conn.error());
      MarkDown(i, conn.error().internal);
      continue;
    }
    Routed routed;
    routed.pool = pools_[i].get();
    routed.conn = std::move(*conn);
    routed.replica = static_cast<int>(i);
    co_return routed;
  }
  if (!has_position) co_return Routed{};

  // The cached positions are behind the caller's: ask the most advanced replica once (its
  // replay is usually a fraction of a millisecond behind the commit) rather than wait a tick.
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < n; ++i) {
    if (!replicas_[i]->up.load(std::memory_order_acquire) || replicas_[i]->stalled.load()) {
      continue;
    }
    if (!best || replicas_[i]->replay_lsn.load() > replicas_[*best]->replay_lsn.load()) best = i;
  }
  if (!best) co_return Routed{};
  auto conn = co_await pools_[*best]->Acquire(deadline);
  if (!conn) {
    if (conn.error().code == ErrorCode::kDeadlineExceeded) co_return std::unexpected(conn.error());
    MarkDown(*best, conn.error().internal);
    co_return Routed{};
  }
  position_checks_.Inc();
  auto at = co_await AskPosition(**conn);
  if (!at) {
    const bool broken = (*conn)->Broken();
    pools_[*best]->Release(std::move(*conn));
    if (at.error().code == ErrorCode::kDeadlineExceeded) co_return std::unexpected(at.error());
    if (broken) MarkDown(*best, at.error().internal);
    co_return Routed{};
  }
  // Only forward: the monitor may have stored a newer one meanwhile.
  auto& cached = replicas_[*best]->replay_lsn;
  std::uint64_t seen = cached.load(std::memory_order_relaxed);
  while (seen < *at && !cached.compare_exchange_weak(seen, *at, std::memory_order_acq_rel)) {
  }
  if (*at < want) {
    pools_[*best]->Release(std::move(*conn));
    co_return Routed{};
  }
  Routed routed;
  routed.pool = pools_[*best].get();
  routed.conn = std::move(*conn);
  routed.replica = static_cast<int>(*best);
  co_return routed;
}

asio::awaitable<Result<Routed>> ReplicaRouter::Acquire(const ports::TransactionOptions& options) {
  const core::Clock::MonoTime deadline = options.deadline;
  if (!options.read_only || pools_.empty()) co_return co_await FromPrimary(deadline);
  const bool has_position = options.written != nullptr;
  const std::uint64_t want = has_position ? options.written->Get() : 0;
  if (has_position || !PrimaryUp()) {
    auto replica = co_await FromReplica(has_position, want, deadline);
    if (!replica) co_return std::move(replica);
    if (replica->conn) {
      to_replica_.Inc();
      co_return std::move(replica);
    }
    if (has_position) ryw_fallbacks_.Inc();
  }
  auto primary = co_await FromPrimary(deadline);
  if (primary) {
    to_primary_.Inc();
    co_return std::move(primary);
  }
  if (!has_position && primary.error().code == ErrorCode::kUnavailable) {
    // The primary is down: a read that tracks no position may be served by a replica. One
    // that does track one fails (kUnavailable) rather than risk a stale answer.
    auto replica = co_await FromReplica(false, 0, deadline);
    if (replica && replica->conn) {
      to_replica_.Inc();
      co_return std::move(replica);
    }
  }
  co_return std::move(primary);
}

RouterHealth ReplicaRouter::Health() const {
  RouterHealth health;
  health.primary_up = PrimaryUp();
  const std::lock_guard lock(mu_);
  for (const auto& replica : replicas_) {
    ReplicaState state;
    state.up = replica->up.load();
    state.in_recovery = replica->in_recovery.load();
    state.replay_lsn = replica->replay_lsn.load();
    state.lag_seconds = replica->lag_seconds.load();
    state.lag_bytes = replica->lag_bytes.load();
    state.last_error = replica->last_error;
    if (state.up) ++health.replicas_up;
    health.replicas.push_back(std::move(state));
  }
  return health;
}

}  // namespace trellis::adapters::postgres::internal
