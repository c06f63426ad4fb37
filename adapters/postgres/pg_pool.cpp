#include "adapters/postgres/internal/pg_pool.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace trellis::adapters::postgres::internal {

namespace asio = boost::asio;
namespace core = platform::core;
using core::ErrorCode;
using core::Result;

namespace {

double Seconds(MonoTime::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

PgPool::PgPool(PoolSettings settings, const core::Clock& clock, PoolMetrics metrics)
    : settings_(std::move(settings)),
      clock_(clock),
      metrics_(std::move(metrics)),
      jitter_(std::random_device{}()) {
  password_ = settings_.spec.password;
  const std::lock_guard lock(mu_);
  (void)RefreshCredentialsLocked(true);  // an unreadable file fails each connect, with detail
}

PgPool::~PgPool() {
  {
    const std::lock_guard lock(mu_);
    idle_.clear();
  }
  cancel_pool_.join();
}

Result<void> PgPool::RefreshCredentialsLocked(bool force) {
  if (settings_.password_file.empty()) return {};
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(settings_.password_file, ec);
  if (ec) {
    return core::Fail(ErrorCode::kUnavailable, "database unavailable",
                      "postgres: cannot read the password file " +
                          settings_.password_file.string() + ": " + ec.message());
  }
  if (!force && mtime == password_mtime_) return {};
  std::ifstream in(settings_.password_file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    return core::Fail(
        ErrorCode::kUnavailable, "database unavailable",
        "postgres: cannot read the password file " + settings_.password_file.string());
  }
  std::string password = text.str();
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  password_mtime_ = mtime;
  if (password != password_) {
    password_ = std::move(password);
    ++generation_;  // connections made before drain when released
  }
  return {};
}

Result<void> PgPool::ReloadCredentials() {
  const std::lock_guard lock(mu_);
  return RefreshCredentialsLocked(true);
}

std::chrono::milliseconds PgPool::BackoffLocked() {
  // Exponential from the base, capped; the actual wait is uniform in [half, full] so that many
  // processes do not reconnect in step.
  auto delay = settings_.backoff_base;
  for (std::uint64_t i = 1; i < failures_ && delay < settings_.backoff_cap; ++i) delay *= 2;
  delay = std::min(delay, settings_.backoff_cap);
  const auto half = delay.count() / 2;
  std::uniform_int_distribution<std::int64_t> pick(half,
                                                   std::max<std::int64_t>(half, delay.count()));
  return std::chrono::milliseconds(pick(jitter_));
}

bool PgPool::Expired(const PgConnection& conn, MonoTime now) const {
  if (conn.Broken() || conn.credential_generation != generation_) return true;
  return settings_.max_lifetime.count() > 0 && now - conn.created_at >= settings_.max_lifetime;
}

PoolStats PgPool::Stats() const {
  const std::lock_guard lock(mu_);
  PoolStats stats;
  stats.total = total_;
  stats.idle = idle_.size();
  stats.in_use = in_use_;
  stats.waiting = waiters_.size();
  stats.consecutive_failures = failures_;
  stats.backing_off = failures_ > 0 && clock_.Monotonic() < retry_at_;
  stats.credential_generation = generation_;
  stats.last_error = last_error_;
  return stats;
}

void PgPool::Close(std::unique_ptr<PgConnection> conn) {
  if (!conn) return;
  if (metrics_.discarded != nullptr) metrics_.discarded->Inc();
  if (conn->NeedsCancel()) {
    if (PGcancel* cancel = conn->TakeCancel()) {
      if (metrics_.cancels != nullptr) metrics_.cancels->Inc();
      asio::post(cancel_pool_, [cancel] {
        char error[256];
        (void)PQcancel(cancel, error, sizeof error);
        PQfreeCancel(cancel);
      });
    }
  }
  conn.reset();  // PQfinish: a Terminate message on a non-blocking socket, no wait
}

std::shared_ptr<PgPool::Waiter> PgPool::GrantSlotLocked() {
  if (waiters_.empty()) return nullptr;
  auto next = std::move(waiters_.front());
  waiters_.pop_front();
  next->slot = true;
  ++total_;
  return next;
}

void PgPool::Wake(std::shared_ptr<Waiter> waiter) {
  if (!waiter) return;
  // The waiter's timer is cancelled on its own executor (timers are not thread-safe), and the
  // waiter dies there too.
  auto executor = waiter->timer.get_executor();
  asio::post(executor, [waiter = std::move(waiter)] { waiter->timer.cancel(); });
}

void PgPool::Release(std::unique_ptr<PgConnection> conn) {
  if (!conn) return;
  conn->Unbind();
  const MonoTime now = clock_.Monotonic();
  std::shared_ptr<Waiter> wake;
  std::vector<std::unique_ptr<PgConnection>> close;
  {
    const std::lock_guard lock(mu_);
    --in_use_;
    // A connection left inside a transaction (a failed rollback) is not reusable either.
    if (Expired(*conn, now) || conn->TransactionStatus() != PQTRANS_IDLE) {
      --total_;
      close.push_back(std::move(conn));
      wake = GrantSlotLocked();
    } else if (!waiters_.empty()) {
      wake = std::move(waiters_.front());
      waiters_.pop_front();
      conn->last_used = now;
      wake->conn = std::move(conn);
      ++in_use_;
    } else {
      conn->last_used = now;
      idle_.push_back(std::move(conn));
      // Connections idle too long beyond min_idle are closed, oldest first.
      while (idle_.size() > settings_.min_idle &&
             now - idle_.front()->last_used >= settings_.idle_timeout) {
        close.push_back(std::move(idle_.front()));
        idle_.erase(idle_.begin());
        --total_;
      }
    }
    metrics_.gauges->total.store(static_cast<std::int64_t>(total_));
    metrics_.gauges->in_use.store(static_cast<std::int64_t>(in_use_));
  }
  Wake(std::move(wake));
  for (auto& c : close) Close(std::move(c));
}

asio::awaitable<Result<std::unique_ptr<PgConnection>>> PgPool::Connect(MonoTime deadline) {
  ConnectSpec spec = settings_.spec;
  std::uint64_t generation = 0;
  {
    const std::lock_guard lock(mu_);
    auto fresh = RefreshCredentialsLocked(false);  // a rotated file is noticed here
    spec.password = password_;
    generation = generation_;
    if (!fresh) {
      --total_;
      ++failures_;
      last_error_ = fresh.error().internal;
      retry_at_ = clock_.Monotonic() + BackoffLocked();
      auto wake = GrantSlotLocked();
      metrics_.gauges->total.store(static_cast<std::int64_t>(total_));
      Wake(std::move(wake));
      co_return std::unexpected(fresh.error());
    }
  }
  const MonoTime started = clock_.Monotonic();
  const MonoTime limit = std::min(deadline, started + settings_.connect_timeout);
  auto made = co_await PgConnection::Connect(spec, clock_, limit);
  const std::lock_guard lock(mu_);
  if (made) {
    if (metrics_.connects != nullptr) metrics_.connects->Inc();
    failures_ = 0;
    last_error_.clear();
    (*made)->credential_generation = generation;
    ++in_use_;
    metrics_.gauges->in_use.store(static_cast<std::int64_t>(in_use_));
    co_return made;
  }
  if (metrics_.connect_failures != nullptr) metrics_.connect_failures->Inc();
  --total_;
  auto wake = GrantSlotLocked();
  metrics_.gauges->total.store(static_cast<std::int64_t>(total_));
  core::Error error = made.error();
  // Cut short by the caller's own deadline: not the server's fault, no back-off.
  const bool callers_deadline = error.code == ErrorCode::kDeadlineExceeded && limit == deadline &&
                                deadline != MonoTime::max();
  if (!callers_deadline) {
    ++failures_;
    last_error_ = error.internal;
    retry_at_ = clock_.Monotonic() + BackoffLocked();
    error.code = ErrorCode::kUnavailable;
    error.message = "database unavailable";
  }
  Wake(std::move(wake));
  co_return std::unexpected(std::move(error));
}

asio::awaitable<Result<std::unique_ptr<PgConnection>>> PgPool::Acquire(MonoTime deadline) {
  const auto executor = co_await asio::this_coro::executor;
  const MonoTime started = clock_.Monotonic();
  auto observe = [&] {
    if (metrics_.acquire_seconds != nullptr) {
      metrics_.acquire_seconds->Observe(Seconds(clock_.Monotonic() - started));
    }
  };
  while (true) {
    std::unique_ptr<PgConnection> found;
    bool connect = false;
    std::shared_ptr<Waiter> waiter;
    std::vector<std::unique_ptr<PgConnection>> close;
    {
      const std::lock_guard lock(mu_);
      const MonoTime now = clock_.Monotonic();
      while (!idle_.empty() && !found) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        if (Expired(*conn, now) || conn->PeerClosed()) {
          --total_;
          close.push_back(std::move(conn));
        } else {
          found = std::move(conn);
          ++in_use_;
        }
      }
      if (!found) {
        if (total_ < settings_.max_connections) {
          if (failures_ > 0 && now < retry_at_) {
            // Backing off: fail fast rather than queue behind a server that is down.
            metrics_.gauges->total.store(static_cast<std::int64_t>(total_));
            const std::string detail = "postgres: reconnecting after " + std::to_string(failures_) +
                                       " failed attempts; last: " + last_error_;
            for (auto& c : close) Close(std::move(c));
            observe();
            co_return core::Fail(ErrorCode::kUnavailable, "database unavailable", detail);
          }
          ++total_;
          connect = true;
        } else {
          waiter = std::make_shared<Waiter>(executor);
          if (deadline == MonoTime::max()) {
            waiter->timer.expires_at(asio::steady_timer::time_point::max());
          } else {
            waiter->timer.expires_after(deadline - now);
          }
          waiters_.push_back(waiter);
        }
      }
      metrics_.gauges->total.store(static_cast<std::int64_t>(total_));
      metrics_.gauges->in_use.store(static_cast<std::int64_t>(in_use_));
    }
    for (auto& c : close) Close(std::move(c));

    if (waiter) {
      boost::system::error_code ec;
      co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      const std::lock_guard lock(mu_);
      if (waiter->conn) {
        found = std::move(waiter->conn);
      } else if (waiter->slot) {
        connect = true;
      } else {
        std::erase(waiters_, waiter);
        observe();
        co_return core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                             "postgres: deadline passed waiting for a connection (pool of " +
                                 std::to_string(settings_.max_connections) + ")");
      }
    }

    if (connect) {
      // A slot granted while backing off is given back at once.
      {
        std::unique_lock lock(mu_);
        if (failures_ > 0 && clock_.Monotonic() < retry_at_) {
          --total_;
          auto wake = GrantSlotLocked();
          metrics_.gauges->total.store(static_cast<std::int64_t>(total_));
          const std::string detail = "postgres: reconnecting after " + std::to_string(failures_) +
                                     " failed attempts; last: " + last_error_;
          lock.unlock();
          Wake(std::move(wake));
          observe();
          co_return core::Fail(ErrorCode::kUnavailable, "database unavailable", detail);
        }
      }
      auto made = co_await Connect(deadline);
      observe();
      if (made) (*made)->Bind(executor, deadline);
      co_return made;
    }

    found->Bind(executor, deadline);
    if (clock_.Monotonic() - found->last_used >= settings_.health_check_idle) {
      // Idle a while: the server may have gone away meanwhile. A cheap round trip first.
      static const std::string kPing = "SELECT 1";
      const Statement ping{kPing, nullptr};
      auto alive = co_await found->Pipeline(std::span<const Statement>(&ping, 1));
      if (!alive) {
        if (alive.error().code == ErrorCode::kDeadlineExceeded) {
          Release(std::move(found));
          observe();
          co_return std::unexpected(alive.error());
        }
        Release(std::move(found));  // broken: closed, its slot freed
        continue;
      }
    }
    observe();
    co_return found;
  }
}

asio::awaitable<void> PgPool::Warm() {
  std::size_t want = 0;
  {
    const std::lock_guard lock(mu_);
    want = settings_.min_idle > idle_.size() ? settings_.min_idle - idle_.size() : 0;
  }
  std::vector<std::unique_ptr<PgConnection>> made;
  for (std::size_t i = 0; i < want; ++i) {
    {
      const std::lock_guard lock(mu_);
      if (total_ >= settings_.max_connections) break;
      ++total_;
    }
    auto conn = co_await Connect(clock_.Monotonic() + settings_.connect_timeout);
    if (!conn) break;
    made.push_back(std::move(*conn));
  }
  for (auto& conn : made) Release(std::move(conn));
}

}  // namespace trellis::adapters::postgres::internal
