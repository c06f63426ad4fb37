// The Redis client under Sentinel: discovery, and the failover drill (label `redis`).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "adapters/redis/redis_client.hpp"
#include "adapters/redis/redis_test_util.hpp"
#include "tests/support/redis_server.hpp"

namespace trellis::adapters::redis {
namespace {

using ms = std::chrono::milliseconds;
using platform::core::ErrorCode;
using platform::core::SystemClock;
using testing::Cmd;
using testing::Deadline;
using testing::TestLoops;
using tests::support::RedisSentinelGroup;
using Steady = std::chrono::steady_clock;

// How long the client may take to write to the promoted master after the old one is killed:
// Sentinel's down-after (1 s) + election and promotion (~1-2 s) + the client's backoff cap
// (300 ms) + slack for a loaded machine.
constexpr ms kFollowBound(10'000);
constexpr ms kBudget(300);  // every call's deadline during the drill
constexpr ms kSlack(50);    // what a call may take beyond its deadline (scheduling)

RedisSettings SettingsFor(const RedisSentinelGroup& group) {
  RedisSettings s;
  // A dead sentinel first: discovery moves on to the next.
  s.sentinels.push_back("127.0.0.1:1");
  for (int port : group.SentinelPorts()) s.sentinels.push_back("127.0.0.1:" + std::to_string(port));
  s.master_name = RedisSentinelGroup::MasterName();
  s.password = "sentinel-drill";
  s.connect_timeout = ms(500);
  s.backoff_base = ms(20);
  s.backoff_cap = ms(300);
  s.overdue_bound = ms(100);
  return s;
}

struct Fixture {
  explicit Fixture(RedisSettings settings)
      : loops(1),
        client(
            std::make_unique<RedisClient>(std::move(settings), SystemClock::Instance(), nullptr)) {}
  ~Fixture() {
    loops.Stop();
    client.reset();
  }
  TestLoops loops;
  std::unique_ptr<RedisClient> client;
};

TEST(RedisSentinelTest, FollowsTheMasterThroughAFailover) {
  tests::support::RedisSentinelOptions options;
  options.password = "sentinel-drill";
  auto group = RedisSentinelGroup::Start(options);
  Fixture f(SettingsFor(*group));
  auto& client = *f.client;

  auto set = f.loops.Run(0, client.Command(Cmd({"SET", "k", "before"}), Deadline(ms(2000))));
  ASSERT_TRUE(set) << set.error().internal;
  EXPECT_EQ(group->Master().Cli("GET", "k"), "before");
  EXPECT_EQ(client.Stats().discoveries, 1u);
  const int replica = group->ReplicaPort();

  const auto killed = Steady::now();
  group->KillMaster();
  ms worst(0);
  int calls = 0;
  int failures = 0;
  ms followed(-1);
  while (Steady::now() - killed < kFollowBound) {
    const auto start = Steady::now();
    auto r = f.loops.Run(
        0, client.Command(Cmd({"SET", "k", "after-" + std::to_string(calls)}), Deadline(kBudget)));
    const auto took = std::chrono::duration_cast<ms>(Steady::now() - start);
    worst = std::max(worst, took);
    ++calls;
    if (r && r->IsStatus()) {
      followed = std::chrono::duration_cast<ms>(Steady::now() - killed);
      break;
    }
    ++failures;
    if (!r) {
      EXPECT_TRUE(r.error().code == ErrorCode::kUnavailable ||
                  r.error().code == ErrorCode::kDeadlineExceeded)
          << r.error().internal;
    }
    std::this_thread::sleep_for(ms(5));
  }
  std::cout << "sentinel drill: client wrote to the new master " << followed.count()
            << " ms after the kill (bound " << kFollowBound.count() << " ms); " << calls
            << " calls, " << failures << " failed, worst call " << worst.count() << " ms for a "
            << kBudget.count() << " ms deadline\n";
  ASSERT_GE(followed.count(), 0) << "the client did not follow the failover";
  EXPECT_LE(worst, kBudget + kSlack);  // no call waited past its deadline

  const int new_master = group->WaitForFailover(ms(10'000));
  EXPECT_EQ(new_master, replica);
  EXPECT_TRUE(group->Master().Cli("GET", "k").starts_with("after-"));
  EXPECT_GE(client.Stats().discoveries, 2u);
  EXPECT_EQ(client.Health(), RedisHealth::kConnected);
}

// A frozen master is harder than a dead one: its socket still accepts, nothing answers. Calls
// must still end at their deadlines while Sentinel takes down-after to notice and promote.
TEST(RedisSentinelTest, FollowsTheMasterWhenItFreezes) {
  tests::support::RedisSentinelOptions options;
  options.password = "sentinel-drill";
  auto group = RedisSentinelGroup::Start(options);
  Fixture f(SettingsFor(*group));
  auto& client = *f.client;
  auto set = f.loops.Run(0, client.Command(Cmd({"SET", "k", "before"}), Deadline(ms(2000))));
  ASSERT_TRUE(set) << set.error().internal;
  const int replica = group->ReplicaPort();

  const auto frozen = Steady::now();
  group->Master().Freeze();
  ms worst(0);
  int calls = 0;
  int deadlines = 0;
  ms followed(-1);
  while (Steady::now() - frozen < kFollowBound) {
    const auto start = Steady::now();
    auto r = f.loops.Run(
        0, client.Command(Cmd({"SET", "k", "after-" + std::to_string(calls)}), Deadline(kBudget)));
    worst = std::max(worst, std::chrono::duration_cast<ms>(Steady::now() - start));
    ++calls;
    if (r && r->IsStatus()) {
      followed = std::chrono::duration_cast<ms>(Steady::now() - frozen);
      break;
    }
    if (!r && r.error().code == ErrorCode::kDeadlineExceeded) ++deadlines;
    std::this_thread::sleep_for(ms(5));
  }
  std::cout << "sentinel freeze drill: client wrote to the new master " << followed.count()
            << " ms after the freeze (bound " << kFollowBound.count() << " ms); " << calls
            << " calls, " << deadlines << " ended at their deadline, worst call " << worst.count()
            << " ms for a " << kBudget.count() << " ms deadline\n";
  ASSERT_GE(followed.count(), 0) << "the client did not follow the failover";
  EXPECT_LE(worst, kBudget + kSlack);
  EXPECT_GE(deadlines, 1);
  EXPECT_GE(client.Stats().overdue_teardowns, 1u);
  EXPECT_EQ(group->WaitForFailover(ms(10'000)), replica);

  // The old master comes back as a replica; the client stays on the new master.
  group->Replica().Thaw();
  for (int i = 0; i < 20; ++i) {
    auto r = f.loops.Run(0, client.Command(Cmd({"INCR", "n"}), Deadline(ms(1000))));
    ASSERT_TRUE(r) << r.error().internal;
    EXPECT_EQ(r->integer, i + 1);
  }
}

TEST(RedisSentinelTest, UnknownMasterNameIsUnavailable) {
  auto group = RedisSentinelGroup::Start();
  RedisSettings settings;
  for (int port : group->SentinelPorts()) {
    settings.sentinels.push_back("127.0.0.1:" + std::to_string(port));
  }
  settings.master_name = "nobody";
  Fixture f(settings);
  auto r = f.loops.Run(0, f.client->Command(Cmd({"PING"}), Deadline(ms(2000))));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().internal.find("does not know nobody"), std::string::npos)
      << r.error().internal;
}

}  // namespace
}  // namespace trellis::adapters::redis
