#include "adapters/redis/redis_client.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <mutex>
#include <random>
#include <unordered_map>
#include <utility>

#include "adapters/redis/internal/redis_connection.hpp"

namespace trellis::adapters::redis {

namespace asio = boost::asio;
namespace core = platform::core;
namespace observe = platform::observe;
using core::ErrorCode;
using core::Result;
using internal::Batch;
using internal::Connection;

namespace {

constexpr std::string_view kUnavailableMessage = "cache unavailable";
constexpr std::string_view kDeadlineMessage = "deadline exceeded";

core::Error Unavailable(const std::string& detail) {
  return {ErrorCode::kUnavailable, std::string(kUnavailableMessage), "redis: " + detail};
}
core::Error DeadlineExceeded(const std::string& detail) {
  return {ErrorCode::kDeadlineExceeded, std::string(kDeadlineMessage), "redis: " + detail};
}

// "host:port" → host, port; false when malformed.
bool SplitAddress(const std::string& address, std::string& host, int& port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = address.substr(0, colon);
  const char* first = address.data() + colon + 1;
  const char* last = address.data() + address.size();
  auto [ptr, ec] = std::from_chars(first, last, port);
  return ec == std::errc() && ptr == last && port > 0 && port < 65536;
}

// Replies that say this node cannot serve us as the master (a demoted master, a replica still
// loading, a master without enough replicas): the connection goes, the master is looked up
// again.
bool WrongNode(const RedisReply& reply) {
  if (!reply.IsError()) return false;
  const std::string& s = reply.str;
  return s.starts_with("READONLY") || s.starts_with("LOADING") || s.starts_with("MASTERDOWN");
}

asio::steady_timer::time_point TimerDeadline(const core::Clock& clock, MonoTime deadline) {
  if (deadline == MonoTime::max()) return asio::steady_timer::time_point::max();
  return asio::steady_timer::clock_type::now() + (deadline - clock.Monotonic());
}

}  // namespace

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  sha1_.reserve(std::size_t{2} * SHA_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    sha1_ += kHex[b >> 4];
    sha1_ += kHex[b & 0xf];
  }
}

std::string_view ToString(RedisHealth health) {
  switch (health) {
    case RedisHealth::kConnected: return "connected";
    case RedisHealth::kDegraded: return "degraded";
    case RedisHealth::kDown: return "down";
  }
  return "down";
}

// ---- the client's state ---------------------------------------------------------------------

struct RedisClient::Impl : std::enable_shared_from_this<RedisClient::Impl> {
  // Shared with the callback gauge, which may outlive the client.
  struct Counters {
    std::atomic<std::uint64_t> round_trips{0};
    std::atomic<std::uint64_t> commands{0};
    std::atomic<std::uint64_t> error_replies{0};
    std::atomic<std::uint64_t> deadline_errors{0};
    std::atomic<std::uint64_t> unavailable_errors{0};
    std::atomic<std::uint64_t> connects{0};
    std::atomic<std::uint64_t> connect_failures{0};
    std::atomic<std::uint64_t> reconnects{0};
    std::atomic<std::uint64_t> overdue_teardowns{0};
    std::atomic<std::uint64_t> discoveries{0};
    std::atomic<std::uint64_t> script_loads{0};
    std::atomic<std::int64_t> open_connections{0};
    std::atomic<std::int64_t> failing_loops{0};
    std::atomic<bool> attempted{false};
  };

  // One event loop's connection. Touched only on that loop's thread.
  struct Loop {
    explicit Loop(const asio::any_io_executor& ex) : executor(ex), overdue(ex) {}
    enum class State { kIdle, kConnecting, kReady, kBackoff };
    asio::any_io_executor executor;
    State state = State::kIdle;
    std::shared_ptr<Connection> conn;
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;  // calls waiting for the connect
    std::string last_error;
    std::uint64_t failures = 0;  // consecutive failed connects
    MonoTime retry_at{};
    bool failing = false;  // counted in failing_loops
    bool ever_connected = false;
    // The overdue check: a reply not there overdue_bound after its call's deadline.
    asio::steady_timer overdue;
    bool overdue_armed = false;
    std::uint64_t overdue_seq = 0;      // the reply the armed check waits for
    std::uint64_t max_expired_seq = 0;  // the last reply a call gave up on
    std::minstd_rand jitter{std::random_device{}()};
  };

  Impl(RedisSettings s, const core::Clock& c, observe::Registry* metrics)
      : settings(std::move(s)), clock(c) {
    if (metrics == nullptr) return;
    const observe::Labels client = {{"client", settings.name}};
    round_trips = &metrics->AddCounter("trellis_redis_round_trips_total",
                                       "Redis round trips (Command, Pipeline, Eval).", client);
    auto with_kind = [&](const char* kind) {
      observe::Labels l = client;
      l.emplace_back("kind", kind);
      return &metrics->AddCounter("trellis_redis_errors_total",
                                  "Redis call failures and error replies, by kind.", l);
    };
    deadline_errors = with_kind("deadline");
    unavailable_errors = with_kind("unavailable");
    error_replies = with_kind("reply");
    reconnects = &metrics->AddCounter("trellis_redis_reconnects_total",
                                      "Redis connections made after a loop's first.", client);
    connect_failures = &metrics->AddCounter("trellis_redis_connect_failures_total",
                                            "Failed Redis connects.", client);
    metrics->AddCallbackGauge(
        "trellis_redis_connections", "Open Redis connections (one per event loop).", client,
        [c = counters] { return static_cast<double>(c->open_connections.load()); });
  }

  std::shared_ptr<Loop> LoopFor(const asio::any_io_executor& executor) {
    auto& context = asio::query(executor, asio::execution::context);
    std::lock_guard lock(mu);
    auto& loop = loops[&context];
    if (!loop) loop = std::make_shared<Loop>(executor);
    return loop;
  }

  void CountDeadline() {
    counters->deadline_errors.fetch_add(1, std::memory_order_relaxed);
    if (deadline_errors != nullptr) deadline_errors->Inc();
  }
  void CountUnavailable() {
    counters->unavailable_errors.fetch_add(1, std::memory_order_relaxed);
    if (unavailable_errors != nullptr) unavailable_errors->Inc();
  }
  void CountErrorReplies(const std::vector<RedisReply>& replies) {
    std::uint64_t n = 0;
    for (const RedisReply& r : replies) n += r.IsError() ? 1 : 0;
    if (n == 0) return;
    counters->error_replies.fetch_add(n, std::memory_order_relaxed);
    if (error_replies != nullptr) error_replies->Inc(n);
  }

  void SetReady(Loop& loop, std::shared_ptr<Connection> conn) {
    loop.conn = std::move(conn);
    loop.state = Loop::State::kReady;
    loop.failures = 0;
    if (loop.failing) counters->failing_loops.fetch_sub(1);
    loop.failing = false;
    counters->open_connections.fetch_add(1);
    counters->connects.fetch_add(1, std::memory_order_relaxed);
    if (loop.ever_connected) {
      counters->reconnects.fetch_add(1, std::memory_order_relaxed);
      if (reconnects != nullptr) reconnects->Inc();
    }
    loop.ever_connected = true;
  }

  // The ready connection is gone (broken, torn down, wrong node): the next call reconnects.
  void DropConnection(Loop& loop) {
    if (loop.state != Loop::State::kReady) return;
    if (loop.conn) loop.conn->Close();
    loop.conn.reset();
    loop.state = Loop::State::kIdle;
    counters->open_connections.fetch_sub(1);
  }

  void SetFailed(Loop& loop, std::string detail) {
    loop.last_error = std::move(detail);
    loop.state = Loop::State::kBackoff;
    ++loop.failures;
    if (!loop.failing) counters->failing_loops.fetch_add(1);
    loop.failing = true;
    counters->connect_failures.fetch_add(1, std::memory_order_relaxed);
    if (connect_failures != nullptr) connect_failures->Inc();
    const std::uint64_t shift = std::min<std::uint64_t>(loop.failures - 1, 20);
    const auto base = std::max<std::int64_t>(settings.backoff_base.count(), 1);
    const auto full = std::min<std::int64_t>(base << shift, settings.backoff_cap.count());
    std::uniform_int_distribution<std::int64_t> dist(full / 2, std::max<std::int64_t>(full, 1));
    loop.retry_at = clock.Monotonic() + std::chrono::milliseconds(dist(loop.jitter));
  }

  void WakeWaiters(Loop& loop) {
    for (auto& w : loop.waiters) w->cancel();
    loop.waiters.clear();
  }

  // Sends one batch and waits for it until the deadline (no reconnect, no accounting).
  asio::awaitable<Result<std::vector<RedisReply>>> Exchange(std::shared_ptr<Connection> conn,
                                                            std::vector<RedisCommand> commands,
                                                            MonoTime deadline) {
    auto batch = std::make_shared<Batch>(co_await asio::this_coro::executor, commands.size());
    conn->Send(commands, batch);
    if (!batch->done) {
      batch->timer.expires_at(TimerDeadline(clock, deadline));
      boost::system::error_code ec;
      co_await batch->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!batch->done) co_return std::unexpected(DeadlineExceeded("no reply from " + conn->Peer()));
    if (batch->failed) {
      co_return std::unexpected(
          Unavailable("connection to " + conn->Peer() + " lost: " + conn->LastError()));
    }
    co_return std::move(batch->replies);
  }

  // The master's address from the first sentinel that names one.
  asio::awaitable<Result<std::pair<std::string, int>>> Discover(MonoTime deadline) {
    const auto executor = co_await asio::this_coro::executor;
    std::string errors;
    const auto n = static_cast<std::int64_t>(settings.sentinels.size());
    const auto share =
        std::max<std::int64_t>(settings.connect_timeout.count() / std::max<std::int64_t>(n, 1), 50);
    for (const std::string& address : settings.sentinels) {
      std::string host;
      int port = 0;
      if (!SplitAddress(address, host, port)) {
        errors += " [" + address + ": not host:port]";
        continue;
      }
      std::string error;
      auto conn = Connection::Open(executor, host, port, error);
      if (!conn) {
        errors += " [" + address + ": " + error + "]";
        continue;
      }
      RedisCommand ask;
      ask.emplace_back("SENTINEL");
      ask.emplace_back("get-master-addr-by-name");
      ask.push_back(settings.master_name);
      std::vector<RedisCommand> commands;
      commands.push_back(std::move(ask));
      const MonoTime until =
          std::min(deadline, clock.Monotonic() + std::chrono::milliseconds(share));
      auto replies = co_await Exchange(conn, std::move(commands), until);
      conn->Close();
      if (!replies) {
        errors += " [" + address + ": " + replies.error().internal + "]";
        continue;
      }
      const RedisReply& r = replies->front();
      int master_port = 0;
      if (r.IsArray() && r.elements.size() == 2 && r.elements[1].IsString()) {
        const std::string& p = r.elements[1].str;
        std::from_chars(p.data(), p.data() + p.size(), master_port);
      }
      if (master_port <= 0) {
        errors += " [" + address + ": does not know " + settings.master_name + "]";
        continue;
      }
      counters->discoveries.fetch_add(1, std::memory_order_relaxed);
      co_return std::make_pair(r.elements[0].str, master_port);
    }
    co_return std::unexpected(Unavailable("no sentinel named the master:" + errors));
  }

  // Opens the loop's connection (its own coroutine: a caller's short deadline does not cut a
  // connect short). Ends in kReady or kBackoff and wakes the waiting calls.
  static asio::awaitable<void> ConnectLoop(std::shared_ptr<Impl> self, std::shared_ptr<Loop> loop) {
    const MonoTime deadline = self->clock.Monotonic() + self->settings.connect_timeout;
    auto result = co_await self->Handshake(deadline);
    if (result) {
      self->SetReady(*loop, std::move(*result));
    } else {
      self->SetFailed(*loop, result.error().internal);
    }
    self->WakeWaiters(*loop);
  }

  asio::awaitable<Result<std::shared_ptr<Connection>>> Handshake(MonoTime deadline) {
    const auto executor = co_await asio::this_coro::executor;
    std::string host;
    int port = 0;
    const bool sentinel = !settings.sentinels.empty();
    if (sentinel) {
      auto master = co_await Discover(deadline);
      if (!master) co_return std::unexpected(master.error());
      host = master->first;
      port = master->second;
    } else if (!SplitAddress(settings.address, host, port)) {
      co_return std::unexpected(Unavailable("address is not host:port: " + settings.address));
    }
    std::string error;
    auto conn = Connection::Open(executor, host, port, error);
    if (!conn)
      co_return std::unexpected(
          Unavailable("connect to " + host + ":" + std::to_string(port) + ": " + error));
    std::vector<RedisCommand> hello;
    if (!settings.password.empty()) {
      RedisCommand auth;
      auth.emplace_back("AUTH");
      auth.push_back(settings.password);
      hello.push_back(std::move(auth));
    }
    if (settings.db != 0) {
      RedisCommand select;
      select.emplace_back("SELECT");
      select.push_back(std::to_string(settings.db));
      hello.push_back(std::move(select));
    }
    RedisCommand last;
    last.emplace_back(sentinel ? "ROLE" : "PING");
    hello.push_back(std::move(last));
    auto replies = co_await Exchange(conn, std::move(hello), deadline);
    if (!replies) {
      conn->Close();
      co_return std::unexpected(replies.error());
    }
    for (const RedisReply& r : *replies) {
      if (r.IsError()) {
        conn->Close();
        // The server's words, never the password.
        co_return std::unexpected(Unavailable("handshake with " + conn->Peer() + ": " + r.str));
      }
    }
    if (sentinel) {
      const RedisReply& role = replies->back();
      if (!role.IsArray() || role.elements.empty() || role.elements[0].str != "master") {
        conn->Close();
        co_return std::unexpected(Unavailable(conn->Peer() + " is not the master yet"));
      }
    }
    co_return conn;
  }

  // This loop's ready connection, connecting (or waiting for the connect) until the deadline.
  asio::awaitable<Result<std::shared_ptr<Connection>>> Acquire(std::shared_ptr<Loop> loop,
                                                               MonoTime deadline) {
    counters->attempted.store(true, std::memory_order_relaxed);
    while (true) {
      if (loop->state == Loop::State::kReady) {
        if (loop->conn && loop->conn->IsOpen()) co_return loop->conn;
        DropConnection(*loop);
      }
      if (loop->state == Loop::State::kBackoff) {
        if (clock.Monotonic() < loop->retry_at) {
          co_return std::unexpected(Unavailable("backing off after: " + loop->last_error));
        }
        loop->state = Loop::State::kIdle;
      }
      if (loop->state == Loop::State::kIdle) {
        loop->state = Loop::State::kConnecting;
        asio::co_spawn(loop->executor, ConnectLoop(shared_from_this(), loop), asio::detached);
      }
      if (clock.Monotonic() >= deadline) {
        co_return std::unexpected(DeadlineExceeded("deadline passed while connecting"));
      }
      auto waiter = std::make_shared<asio::steady_timer>(loop->executor);
      waiter->expires_at(TimerDeadline(clock, deadline));
      loop->waiters.push_back(waiter);
      boost::system::error_code ec;
      co_await waiter->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        std::erase(loop->waiters, waiter);
        co_return std::unexpected(DeadlineExceeded("deadline passed while connecting"));
      }
    }
  }

  // A call gave up on reply `seq` of the loop's connection: unless it arrives within
  // overdue_bound, the connection is stuck and is torn down.
  void WatchOverdue(const std::shared_ptr<Loop>& loop, const std::shared_ptr<Connection>& conn,
                    std::uint64_t seq) {
    if (loop->conn != conn) return;
    loop->max_expired_seq = std::max(loop->max_expired_seq, seq);
    if (loop->overdue_armed) return;
    loop->overdue_armed = true;
    loop->overdue_seq = seq;
    loop->overdue.expires_after(settings.overdue_bound);
    std::weak_ptr<Impl> weak_self = weak_from_this();
    std::weak_ptr<Connection> weak_conn = conn;
    loop->overdue.async_wait([weak_self, loop, weak_conn](const boost::system::error_code& ec) {
      loop->overdue_armed = false;
      auto self = weak_self.lock();
      auto c = weak_conn.lock();
      if (ec || !self || !c || loop->conn != c) return;
      if (c->Answered() < loop->overdue_seq) {
        self->counters->overdue_teardowns.fetch_add(1, std::memory_order_relaxed);
        self->DropConnection(*loop);
      } else if (c->Answered() < loop->max_expired_seq) {
        self->WatchOverdue(loop, c, loop->max_expired_seq);
      }
    });
  }

  asio::awaitable<Result<std::vector<RedisReply>>> Run(std::vector<RedisCommand> commands,
                                                       MonoTime deadline) {
    if (commands.empty()) co_return std::vector<RedisReply>{};
    // A request's deadline may be far off (30 s by default); Redis answers in microseconds, so
    // a call that takes longer than call_timeout is not going to answer in time.
    if (settings.call_timeout.count() > 0) {
      deadline = std::min(deadline, clock.Monotonic() + settings.call_timeout);
    }
    if (clock.Monotonic() >= deadline) {
      CountDeadline();
      co_return std::unexpected(DeadlineExceeded("deadline passed before the call"));
    }
    auto loop = LoopFor(co_await asio::this_coro::executor);
    auto conn = co_await Acquire(loop, deadline);
    if (!conn) {
      if (conn.error().code == ErrorCode::kDeadlineExceeded) {
        CountDeadline();
      } else {
        CountUnavailable();
      }
      co_return std::unexpected(conn.error());
    }
    auto batch = std::make_shared<Batch>(loop->executor, commands.size());
    const bool sent = (*conn)->Send(commands, batch);
    if (sent) {
      counters->round_trips.fetch_add(1, std::memory_order_relaxed);
      counters->commands.fetch_add(commands.size(), std::memory_order_relaxed);
      if (round_trips != nullptr) round_trips->Inc();
    }
    if (!batch->done) {
      batch->timer.expires_at(TimerDeadline(clock, deadline));
      boost::system::error_code ec;
      co_await batch->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!batch->done) {
      WatchOverdue(loop, *conn, batch->last_seq);
      CountDeadline();
      co_return std::unexpected(DeadlineExceeded("no reply from " + (*conn)->Peer() + " in time"));
    }
    if (batch->failed) {
      if (loop->conn == *conn) DropConnection(*loop);
      CountUnavailable();
      co_return std::unexpected(
          Unavailable("connection to " + (*conn)->Peer() + " lost: " + (*conn)->LastError()));
    }
    for (const RedisReply& r : batch->replies) {
      if (WrongNode(r)) {
        if (loop->conn == *conn) DropConnection(*loop);
        CountUnavailable();
        co_return std::unexpected(Unavailable((*conn)->Peer() + " answered " + r.str));
      }
    }
    CountErrorReplies(batch->replies);
    co_return std::move(batch->replies);
  }

  // Closes every connection; the loops must have stopped.
  void Shutdown() {
    std::lock_guard lock(mu);
    for (auto& [context, loop] : loops) {
      if (loop->conn) {
        if (loop->state == Loop::State::kReady) counters->open_connections.fetch_sub(1);
        loop->conn->Close();
        loop->conn.reset();
      }
      loop->waiters.clear();
      loop->overdue_armed = false;
    }
    loops.clear();
  }

  const RedisSettings settings;
  const core::Clock& clock;
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
  observe::Counter* round_trips = nullptr;
  observe::Counter* deadline_errors = nullptr;
  observe::Counter* unavailable_errors = nullptr;
  observe::Counter* error_replies = nullptr;
  observe::Counter* reconnects = nullptr;
  observe::Counter* connect_failures = nullptr;

  std::mutex mu;
  std::unordered_map<const asio::execution_context*, std::shared_ptr<Loop>> loops;  // guarded by mu
};

// ---- RedisClient ----------------------------------------------------------------------------

RedisClient::RedisClient(RedisSettings settings, const core::Clock& clock,
                         observe::Registry* metrics)
    : impl_(std::make_shared<Impl>(std::move(settings), clock, metrics)) {}

RedisClient::~RedisClient() { impl_->Shutdown(); }

asio::awaitable<Result<RedisReply>> RedisClient::Command(RedisCommand command, MonoTime deadline) {
  std::shared_ptr<Impl> impl = impl_;
  std::vector<RedisCommand> commands;
  commands.push_back(std::move(command));
  auto replies = co_await impl->Run(std::move(commands), deadline);
  if (!replies) co_return std::unexpected(std::move(replies.error()));
  co_return std::move(replies->front());
}

asio::awaitable<Result<std::vector<RedisReply>>> RedisClient::Pipeline(
    std::vector<RedisCommand> commands, MonoTime deadline) {
  std::shared_ptr<Impl> impl = impl_;
  co_return co_await impl->Run(std::move(commands), deadline);
}

asio::awaitable<Result<RedisReply>> RedisClient::Eval(const RedisScript& script,
                                                      std::vector<std::string> keys,
                                                      std::vector<std::string> args,
                                                      MonoTime deadline) {
  std::shared_ptr<Impl> impl = impl_;
  RedisCommand evalsha;
  evalsha.reserve(3 + keys.size() + args.size());
  evalsha.emplace_back("EVALSHA");
  evalsha.push_back(script.Sha1());
  evalsha.push_back(std::to_string(keys.size()));
  for (auto& k : keys) evalsha.push_back(std::move(k));
  for (auto& a : args) evalsha.push_back(std::move(a));
  std::vector<RedisCommand> first;
  first.push_back(evalsha);
  auto replies = co_await impl->Run(std::move(first), deadline);
  if (!replies) co_return std::unexpected(std::move(replies.error()));
  if (!replies->front().IsError() || !replies->front().str.starts_with("NOSCRIPT")) {
    co_return std::move(replies->front());
  }
  // Not in the server's script cache (a restart, SCRIPT FLUSH, a failover): load it and call it
  // again in the same round trip.
  impl->counters->script_loads.fetch_add(1, std::memory_order_relaxed);
  RedisCommand load;
  load.emplace_back("SCRIPT");
  load.emplace_back("LOAD");
  load.push_back(script.Source());
  std::vector<RedisCommand> again;
  again.push_back(std::move(load));
  again.push_back(std::move(evalsha));
  auto retried = co_await impl->Run(std::move(again), deadline);
  if (!retried) co_return std::unexpected(std::move(retried.error()));
  co_return std::move(retried->back());
}

asio::awaitable<Result<void>> RedisClient::Connect(MonoTime deadline) {
  std::shared_ptr<Impl> impl = impl_;
  auto loop = impl->LoopFor(co_await asio::this_coro::executor);
  auto conn = co_await impl->Acquire(loop, deadline);
  if (!conn) co_return std::unexpected(std::move(conn.error()));
  co_return Result<void>();
}

RedisHealth RedisClient::Health() const {
  const auto open = impl_->counters->open_connections.load();
  const auto failing = impl_->counters->failing_loops.load();
  if (open > 0 && failing == 0) return RedisHealth::kConnected;
  if (open == 0 && failing > 0) return RedisHealth::kDown;
  return RedisHealth::kDegraded;
}

RedisStats RedisClient::Stats() const {
  const Impl::Counters& c = *impl_->counters;
  RedisStats s;
  s.round_trips = c.round_trips.load();
  s.commands = c.commands.load();
  s.error_replies = c.error_replies.load();
  s.deadline_errors = c.deadline_errors.load();
  s.unavailable_errors = c.unavailable_errors.load();
  s.connects = c.connects.load();
  s.connect_failures = c.connect_failures.load();
  s.reconnects = c.reconnects.load();
  s.overdue_teardowns = c.overdue_teardowns.load();
  s.discoveries = c.discoveries.load();
  s.script_loads = c.script_loads.load();
  s.open_connections =
      static_cast<std::uint64_t>(std::max<std::int64_t>(c.open_connections.load(), 0));
  return s;
}

}  // namespace trellis::adapters::redis
