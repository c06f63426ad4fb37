// RedisRateLimiter against a real redis-server: the rate limiter contract suite, the key's TTL,
// and several OS processes (each with its own client and event loop) sharing one limit.
#include "adapters/redis/redis_rate_limiter.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/redis/redis_ports_test_util.hpp"
#include "tests/contract/rate_limiter_contract.hpp"

namespace trellis::adapters::redis {
namespace {

using platform::ports::RateLimit;
using std::chrono::milliseconds;
using testing::Deadline;
using testing::HopLimiter;
using testing::LoopAndClient;
using testing::SharedServer;
using tests::contract::RateLimiterAdapter;
using tests::contract::RateLimiterContract;
using tests::contract::RateLimiterHarness;

class RedisRateLimiterHarness final : public RateLimiterHarness {
 public:
  RedisRateLimiterHarness() { SharedServer().Cli("FLUSHALL"); }
  // RateLimiterHarness
  platform::ports::RateLimiter& Limiter() override { return hop_; }
  const platform::core::Clock& Clock() override { return platform::core::SystemClock::Instance(); }
  void Elapse(milliseconds d) override { std::this_thread::sleep_for(d); }
  // Real time passes between a test's calls (a round trip each, ASan build): as the memory
  // adapter's real-time run.
  milliseconds Tolerance() override { return milliseconds(50); }

 private:
  LoopAndClient redis_{SharedServer().Port()};
  RedisRateLimiter limiter_{redis_.client, platform::core::SystemClock::Instance(),
                            RedisRateLimiterSettings{}};
  HopLimiter hop_{limiter_, redis_.Io()};
};

INSTANTIATE_TEST_SUITE_P(Redis, RateLimiterContract,
                         ::testing::Values(RateLimiterAdapter{
                             "redis", [] { return std::make_unique<RedisRateLimiterHarness>(); }}),
                         tests::contract::RateLimiterAdapterName);

RateLimit Limit(std::int64_t limit, milliseconds period) {
  RateLimit out;
  out.limit = limit;
  out.period = period;
  return out;
}

TEST(RedisRateLimiterTest, IdleKeysVanishWhenTheirTatPasses) {
  auto& server = SharedServer();
  server.Cli("FLUSHALL");
  LoopAndClient redis(server.Port());
  RedisRateLimiterSettings settings;
  settings.key_prefix = "rl:";
  RedisRateLimiter limiter(redis.client, platform::core::SystemClock::Instance(), settings);
  for (int i = 0; i < 3; ++i) {
    auto d = redis.Run(
        limiter.Acquire("k", Limit(10, milliseconds(1000)), Deadline(milliseconds(1000))));
    ASSERT_TRUE(d.has_value()) << d.error().internal;
    EXPECT_TRUE(d->allowed);
  }
  // TAT = now + 3·100 ms: the key lives that long.
  const int ttl = std::stoi(server.Cli("PTTL", "rl:k"));
  EXPECT_GT(ttl, 200);
  EXPECT_LE(ttl, 300);
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(server.Cli("EXISTS", "rl:k"), "0");
}

TEST(RedisRateLimiterTest, ScriptIsLoadedOnceAndCalledBySha) {
  auto& server = SharedServer();
  server.Cli("FLUSHALL");
  server.Cli("SCRIPT", "FLUSH");
  LoopAndClient redis(server.Port());
  RedisRateLimiter limiter(redis.client, platform::core::SystemClock::Instance(), {});
  for (int i = 0; i < 20; ++i) {
    auto d = redis.Run(limiter.Acquire("k" + std::to_string(i % 3), Limit(5, milliseconds(1000)),
                                       Deadline(milliseconds(1000))));
    ASSERT_TRUE(d.has_value()) << d.error().internal;
  }
  const auto stats = redis.client.Stats();
  EXPECT_EQ(stats.script_loads, 1u);
  EXPECT_EQ(stats.round_trips, 21u);  // 20 EVALSHA + one SCRIPT LOAD/EVALSHA after NOSCRIPT
}

// What one hammering process reports through its pipe.
struct ChildReport {
  std::int64_t allowed = 0;
  std::int64_t denied = 0;
  std::int64_t errors = 0;
  std::int64_t first_ns = 0;  // steady clock (CLOCK_MONOTONIC, shared by all processes)
  std::int64_t last_ns = 0;
};

std::int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Several OS processes, each with its own RedisClient and io_context, hammer one key for 2 s.
// GCRA allows the burst plus one request per emission interval T over the time between the
// first and the last request: L + floor(D / T). The tolerance is stated in the assertion.
TEST(RedisRateLimiterTest, ProcessesSharingOneKeyGetWhatGcraAllows) {
  auto& server = SharedServer();
  server.Cli("FLUSHALL");
  constexpr int kProcesses = 4;
  constexpr std::int64_t kLimit = 20;
  const milliseconds period(1000);  // T = 50 ms
  const std::int64_t t_ns = 50'000'000;
  const auto run_for = std::chrono::seconds(2);
  const std::int64_t start_ns = SteadyNs() + 300'000'000;  // all start together
  const int port = server.Port();

  std::vector<std::pair<pid_t, int>> children;
  for (int p = 0; p < kProcesses; ++p) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      ChildReport report;
      {
        boost::asio::io_context io;  // outlives the client, which it outlives the run of
        RedisClient client(testing::SettingsFor(port), platform::core::SystemClock::Instance(),
                           nullptr);
        RedisRateLimiter limiter(client, platform::core::SystemClock::Instance(), {});
        while (SteadyNs() < start_ns) std::this_thread::sleep_for(std::chrono::microseconds(200));
        const std::int64_t end_ns = start_ns + std::chrono::nanoseconds(run_for).count();
        boost::asio::co_spawn(
            io,
            [&]() -> boost::asio::awaitable<void> {
              report.first_ns = SteadyNs();
              while (SteadyNs() < end_ns) {
                std::string key = "hot";
                auto d = co_await limiter.Acquire(std::move(key), Limit(kLimit, period),
                                                  Deadline(milliseconds(500)));
                report.last_ns = SteadyNs();
                if (!d) {
                  ++report.errors;
                } else if (d->allowed) {
                  ++report.allowed;
                } else {
                  ++report.denied;
                }
              }
              io.stop();  // the client's connection keeps the loop busy otherwise
            },
            boost::asio::detached);
        io.run();
      }
      const auto written = ::write(fds[1], &report, sizeof(report));
      ::_exit(written == static_cast<ssize_t>(sizeof(report)) ? 0 : 1);
    }
    ::close(fds[1]);
    children.emplace_back(pid, fds[0]);
  }
  ChildReport total;
  std::int64_t first = INT64_MAX;
  std::int64_t last = 0;
  for (auto [pid, fd] : children) {
    ChildReport r;
    const auto n = ::read(fd, &r, sizeof(r));
    ::close(fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_EQ(n, static_cast<ssize_t>(sizeof(r)));
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    total.allowed += r.allowed;
    total.denied += r.denied;
    total.errors += r.errors;
    first = std::min(first, r.first_ns);
    last = std::max(last, r.last_ns);
  }
  const std::int64_t expected = kLimit + (last - first) / t_ns;
  std::printf(
      "[ measured ] %d processes, %.3f s: %lld allowed, %lld denied, %lld errors; "
      "GCRA expects %lld\n",
      kProcesses, static_cast<double>(last - first) / 1e9, static_cast<long long>(total.allowed),
      static_cast<long long>(total.denied), static_cast<long long>(total.errors),
      static_cast<long long>(expected));
  EXPECT_EQ(total.errors, 0);
  EXPECT_GT(total.denied, total.allowed);  // they really hammered it
  // Tolerance: the first and last requests are seen by the client, the decisions use the
  // server's clock one round trip later; a slot opening just before the end may go unused.
  EXPECT_GE(total.allowed, expected - 2);
  EXPECT_LE(total.allowed, expected + 1);
}

}  // namespace
}  // namespace trellis::adapters::redis
