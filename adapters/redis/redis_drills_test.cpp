// The Redis drills of issue 5 on the four port adapters: a frozen server (SIGSTOP) answered
// within every call's deadline, cache-aside falling through to its store meanwhile, recovery
// after SIGCONT without a restart; and a Sentinel failover followed by the cache. The measured
// figures are printed as "[ measured ]" lines (ADR 0020 quotes them).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/redis/redis_cache.hpp"
#include "adapters/redis/redis_locks.hpp"
#include "adapters/redis/redis_ports_test_util.hpp"
#include "adapters/redis/redis_rate_limiter.hpp"
#include "adapters/redis/redis_token_store.hpp"
#include "platform/cache/cache_aside.hpp"
#include "platform/observe/metrics.hpp"

namespace trellis::adapters::redis {
namespace {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::CacheWrite;
using platform::ports::RateLimit;
using std::chrono::milliseconds;
using testing::Deadline;
using testing::LoopAndClient;
using Steady = std::chrono::steady_clock;

const platform::core::Clock& Sys() { return platform::core::SystemClock::Instance(); }

milliseconds Since(Steady::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Steady::now() - start);
}

RateLimit Limit() {
  RateLimit limit;
  limit.limit = 1000;
  limit.period = milliseconds(1000);
  return limit;
}

// The four adapters on one client, as the composition root wires them.
struct Ports {
  explicit Ports(RedisSettings settings) : redis(std::move(settings)) {}
  LoopAndClient redis;
  RedisCache cache{redis.client, Sys(), RedisCacheSettings{}};
  RedisRateLimiter limiter{redis.client, Sys(), RedisRateLimiterSettings{}};
  RedisLocks locks{redis.client, Sys(), RedisLocksSettings{}};
  RedisTokenStore tokens{redis.client, Sys(), RedisTokenStoreSettings{}};

  // One call of each port, each with `budget`; the error of the first that failed.
  std::vector<std::pair<std::string, Result<void>>> Calls(milliseconds budget) {
    std::vector<std::pair<std::string, Result<void>>> out;
    std::vector<std::string> keys;
    keys.emplace_back("k");
    auto got = redis.Run(cache.Get(std::move(keys), Deadline(budget)));
    out.emplace_back("cache.Get", got ? Result<void>() : std::unexpected(got.error()));
    auto decided = redis.Run(limiter.Acquire("ip:1", Limit(), Deadline(budget)));
    out.emplace_back("limiter.Acquire",
                     decided ? Result<void>() : std::unexpected(decided.error()));
    auto lease =
        redis.Run(locks.Acquire("relay", "node-a", milliseconds(10'000), Deadline(budget)));
    out.emplace_back("locks.Acquire", lease ? Result<void>() : std::unexpected(lease.error()));
    auto revoked =
        redis.Run(tokens.Revoke("sid", Sys().Now() + std::chrono::minutes(1), Deadline(budget)));
    out.emplace_back("tokens.Revoke", revoked);
    auto page = redis.Run(tokens.RevokedSince("", Deadline(budget)));
    out.emplace_back("tokens.RevokedSince", page ? Result<void>() : std::unexpected(page.error()));
    return out;
  }
};

// Frozen Redis: every port's call ends within its deadline plus kBound, cache-aside reads fall
// through to the store, and after SIGCONT the same adapters work again (no restart).
TEST(RedisDrillTest, FrozenServerCallsEndByTheirDeadlineAndRecoverAfterThaw) {
  auto server = tests::support::RedisServer::Start();
  Ports ports(testing::SettingsFor(server->Port()));
  for (const auto& [name, r] : ports.Calls(milliseconds(1000))) {
    ASSERT_TRUE(r.has_value()) << name << ": " << r.error().internal;
  }
  platform::observe::Registry registry;
  platform::cache::CacheAside aside(ports.cache, Sys(), registry, "drill");

  const milliseconds budget(200);
  // Debug + ASan on two shared cores: a timer fires a little late, never early.
  const milliseconds kBound(60);
  server->Freeze();
  // Cache-aside over the frozen cache, first call after the freeze (the connection still looks
  // healthy, so the read waits for its deadline): it falls through to the store within the budget.
  const auto read = Steady::now();
  int loads = 0;
  auto value = ports.redis.Run(aside.Get(platform::cache::CacheRef("work:org-a", "project:7"),
                                         Deadline(budget),
                                         [&]() -> boost::asio::awaitable<Result<std::string>> {
                                           ++loads;
                                           co_return std::string("from-the-store");
                                         }));
  const auto aside_took = Since(read);
  ASSERT_TRUE(value.has_value()) << value.error().internal;
  EXPECT_EQ(*value, "from-the-store");
  EXPECT_EQ(loads, 1);
  EXPECT_LE(aside_took, budget + kBound);
  EXPECT_GE(aside.GetStats().errors, 1u);

  milliseconds worst(0);
  for (int round = 0; round < 3; ++round) {
    const auto start = Steady::now();
    auto calls = ports.Calls(budget);
    const auto took = Since(start);
    // Five calls in a row, each bounded by its own budget.
    EXPECT_LE(took, 5 * (budget + kBound)) << "round " << round;
    for (const auto& [name, r] : calls) {
      ASSERT_FALSE(r.has_value()) << name << " answered from a frozen server";
      EXPECT_TRUE(r.error().code == ErrorCode::kDeadlineExceeded ||
                  r.error().code == ErrorCode::kUnavailable)
          << name << ": " << r.error().internal;
    }
    // Each call alone.
    for (int i = 0; i < 2; ++i) {
      const auto one = Steady::now();
      std::vector<std::string> keys;
      keys.emplace_back("k");
      auto got = ports.redis.Run(ports.cache.Get(std::move(keys), Deadline(budget)));
      EXPECT_FALSE(got.has_value());
      worst = std::max(worst, Since(one));
      const auto two = Steady::now();
      auto decided = ports.redis.Run(ports.limiter.Acquire("ip:1", Limit(), Deadline(budget)));
      EXPECT_FALSE(decided.has_value());
      worst = std::max(worst, Since(two));
      const auto three = Steady::now();
      auto lease = ports.redis.Run(ports.locks.Renew(platform::ports::Lease{"relay", "node-a", 1},
                                                     milliseconds(1000), Deadline(budget)));
      EXPECT_FALSE(lease.has_value());
      worst = std::max(worst, Since(three));
    }
  }
  EXPECT_LE(worst, budget + kBound);

  server->Thaw();
  const auto thawed = Steady::now();
  std::optional<milliseconds> back;
  while (Since(thawed) < std::chrono::seconds(10)) {
    bool all = true;
    for (const auto& [name, r] : ports.Calls(milliseconds(300))) all = all && r.has_value();
    if (all) {
      back = Since(thawed);
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(back.has_value()) << "the adapters did not recover within 10 s of SIGCONT";
  std::printf(
      "[ measured ] frozen: worst single call %lld ms for a %lld ms deadline; "
      "cache-aside fell through in %lld ms; all four ports back %lld ms after SIGCONT\n",
      static_cast<long long>(worst.count()), static_cast<long long>(budget.count()),
      static_cast<long long>(aside_took.count()), static_cast<long long>(back->count()));
  EXPECT_LE(*back, std::chrono::seconds(3));
}

// Sentinel failover under the cache: the client (Sentinel mode) follows the promotion; calls
// meanwhile fail within their deadlines; the cache works again within a measured time.
TEST(RedisDrillTest, CacheFollowsASentinelFailover) {
  auto group = tests::support::RedisSentinelGroup::Start();
  RedisSettings settings;
  for (int port : group->SentinelPorts()) {
    settings.sentinels.push_back("127.0.0.1:" + std::to_string(port));
  }
  settings.master_name = tests::support::RedisSentinelGroup::MasterName();
  settings.connect_timeout = milliseconds(500);
  settings.backoff_cap = milliseconds(200);
  settings.name = "sentinel-drill";
  LoopAndClient redis(settings);
  RedisCache cache(redis.client, Sys(), RedisCacheSettings{});

  const milliseconds budget(300);
  const milliseconds kBound(60);
  int n = 0;
  // A Set of a fresh value then a Get of it: true when both answered and the value came back.
  const auto round_trip = [&](milliseconds& worst) {
    const std::string value = "v" + std::to_string(++n);
    CacheWrite w;
    w.key = "drill";
    w.value = value;
    w.ttl = milliseconds(60'000);
    std::vector<CacheWrite> writes;
    writes.push_back(std::move(w));
    const auto start = Steady::now();
    auto set = redis.Run(cache.Set(std::move(writes), Deadline(budget)));
    worst = std::max(worst, Since(start));
    if (!set) return false;
    std::vector<std::string> keys;
    keys.emplace_back("drill");
    const auto get_start = Steady::now();
    auto got = redis.Run(cache.Get(std::move(keys), Deadline(budget)));
    worst = std::max(worst, Since(get_start));
    return got.has_value() && got->size() == 1 && (*got)[0] == value;
  };

  milliseconds worst(0);
  ASSERT_TRUE(round_trip(worst));
  const int old_master = group->MasterPort();
  group->KillMaster();
  const auto killed = Steady::now();
  std::optional<milliseconds> back;
  int failed = 0;
  while (Since(killed) < std::chrono::seconds(20)) {
    if (round_trip(worst)) {
      back = Since(killed);
      break;
    }
    ++failed;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(back.has_value()) << "the cache did not follow the failover within 20 s";
  const int new_master = group->WaitForFailover(std::chrono::seconds(20));
  EXPECT_NE(new_master, old_master);
  std::printf(
      "[ measured ] sentinel: cache back on the promoted master %lld ms after the kill "
      "(%d failed rounds); worst call %lld ms for a %lld ms deadline\n",
      static_cast<long long>(back->count()), failed, static_cast<long long>(worst.count()),
      static_cast<long long>(budget.count()));
  EXPECT_LE(worst, budget + kBound);
  EXPECT_LE(*back, std::chrono::seconds(10));
}

}  // namespace
}  // namespace trellis::adapters::redis
