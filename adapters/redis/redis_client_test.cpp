// The Redis client against a real redis-server (tests/support/redis_server; label `redis`).
#include "adapters/redis/redis_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "adapters/redis/redis_test_util.hpp"
#include "tests/support/redis_server.hpp"

namespace trellis::adapters::redis {
namespace {

namespace asio = boost::asio;
using core_ms = std::chrono::milliseconds;
using platform::core::ErrorCode;
using platform::core::Result;
using platform::core::SystemClock;
using testing::Cmd;
using testing::Deadline;
using testing::TestLoops;
using tests::support::RedisServer;
using tests::support::RedisServerOptions;
using Steady = std::chrono::steady_clock;

RedisSettings SettingsFor(const RedisServer& server) {
  RedisSettings s;
  s.address = "127.0.0.1:" + std::to_string(server.Port());
  s.password = server.Password();
  s.backoff_base = core_ms(20);
  s.backoff_cap = core_ms(200);
  s.connect_timeout = core_ms(300);
  s.overdue_bound = core_ms(100);
  return s;
}

// The client is destroyed after the loops stop (RedisClient's contract).
struct Fixture {
  explicit Fixture(RedisSettings settings, std::size_t loops_n = 1)
      : loops(loops_n),
        client(std::make_unique<RedisClient>(std::move(settings), SystemClock::Instance(),
                                             &registry)) {}
  ~Fixture() {
    loops.Stop();
    client.reset();
  }
  Result<RedisReply> Call(RedisCommand cmd, core_ms budget = core_ms(1000), std::size_t loop = 0) {
    return loops.Run(loop, client->Command(std::move(cmd), Deadline(budget)));
  }
  platform::observe::Registry registry;
  TestLoops loops;
  std::unique_ptr<RedisClient> client;
};

TEST(RedisClientTest, CommandsAndPipelineRepliesOfEveryType) {
  auto server = RedisServer::Start();
  Fixture f(SettingsFor(*server));
  EXPECT_EQ(f.client->Health(), RedisHealth::kDegraded);  // nothing connected yet

  const std::string binary("a\0b\xff\r\n", 6);
  auto set = f.Call(Cmd({"SET", "bin", binary}));
  ASSERT_TRUE(set) << set.error().internal;
  EXPECT_TRUE(set->IsStatus());
  EXPECT_EQ(set->str, "OK");
  EXPECT_EQ(f.client->Health(), RedisHealth::kConnected);

  std::vector<RedisCommand> batch;
  batch.push_back(Cmd({"GET", "bin"}));
  batch.push_back(Cmd({"GET", "missing"}));
  batch.push_back(Cmd({"INCRBY", "n", "41"}));
  batch.push_back(Cmd({"RPUSH", "list", "x", "", "z"}));
  batch.push_back(Cmd({"LRANGE", "list", "0", "-1"}));
  batch.push_back(Cmd({"INCR", "bin"}));  // not an integer: an error reply, a value
  batch.push_back(Cmd({"NOSUCHCOMMAND"}));
  batch.push_back(Cmd({"PING"}));
  const auto before = f.client->Stats().round_trips;
  auto replies = f.loops.Run(0, f.client->Pipeline(std::move(batch), Deadline(core_ms(1000))));
  ASSERT_TRUE(replies) << replies.error().internal;
  EXPECT_EQ(f.client->Stats().round_trips, before + 1);  // one round trip for eight commands
  ASSERT_EQ(replies->size(), 8u);
  const auto& r = *replies;
  EXPECT_TRUE(r[0].IsString());
  EXPECT_EQ(r[0].str, binary);
  EXPECT_TRUE(r[1].IsNil());
  EXPECT_TRUE(r[2].IsInteger());
  EXPECT_EQ(r[2].integer, 41);
  EXPECT_EQ(r[3].integer, 3);
  ASSERT_TRUE(r[4].IsArray());
  ASSERT_EQ(r[4].elements.size(), 3u);
  EXPECT_EQ(r[4].elements[0].str, "x");
  EXPECT_EQ(r[4].elements[1].str, "");
  EXPECT_TRUE(r[4].elements[1].IsString());
  EXPECT_TRUE(r[5].IsError());
  EXPECT_TRUE(r[5].str.starts_with("ERR value is not an integer")) << r[5].str;
  EXPECT_TRUE(r[6].IsError());
  EXPECT_EQ(r[7].str, "PONG");
  EXPECT_GE(f.client->Stats().error_replies, 2u);

  // An empty pipeline answers at once, without a round trip.
  auto empty = f.loops.Run(0, f.client->Pipeline({}, Deadline(core_ms(1000))));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  // A deadline already past: kDeadlineExceeded at once.
  auto late = f.loops.Run(0, f.client->Command(Cmd({"PING"}), Deadline(core_ms(-1))));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kDeadlineExceeded);

  const std::string metrics = f.registry.Render();
  EXPECT_NE(metrics.find("trellis_redis_round_trips_total{client=\"main\"}"), std::string::npos);
  EXPECT_NE(metrics.find("trellis_redis_connections{client=\"main\"} 1"), std::string::npos);
}

TEST(RedisClientTest, ManyConcurrentCallsFromTwoLoopsShareOneConnectionEach) {
  auto server = RedisServer::Start();
  Fixture f(SettingsFor(*server), 2);
  constexpr int kPerLoop = 500;
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  for (std::size_t loop = 0; loop < 2; ++loop) {
    for (int i = 0; i < kPerLoop; ++i) {
      asio::co_spawn(
          f.loops.Io(loop),
          [&f, &ok, &done, i]() -> asio::awaitable<void> {
            RedisCommand incr = Cmd({"INCR", "counter"});
            auto r = co_await f.client->Command(std::move(incr), Deadline(core_ms(5000)));
            if (r && r->IsInteger()) ok.fetch_add(1);
            if (i % 50 == 0) {
              std::vector<RedisCommand> two;
              two.push_back(Cmd({"SET", "k" + std::to_string(i), std::to_string(i)}));
              two.push_back(Cmd({"GET", "k" + std::to_string(i)}));
              auto p = co_await f.client->Pipeline(std::move(two), Deadline(core_ms(5000)));
              if (!p || (*p)[1].str != std::to_string(i)) ok.fetch_sub(1000000);
            }
            done.fetch_add(1);
          },
          asio::detached);
    }
  }
  const auto until = Steady::now() + std::chrono::seconds(20);
  while (done.load() < 2 * kPerLoop && Steady::now() < until) {
    std::this_thread::sleep_for(core_ms(5));
  }
  EXPECT_EQ(done.load(), 2 * kPerLoop);
  EXPECT_EQ(ok.load(), 2 * kPerLoop);
  EXPECT_EQ(server->Cli("GET", "counter"), std::to_string(2 * kPerLoop));
  const RedisStats stats = f.client->Stats();
  EXPECT_EQ(stats.open_connections, 2u);  // one per loop
  EXPECT_EQ(stats.connects, 2u);
  EXPECT_EQ(server->Cli("CLIENT", "LIST").find("cmd=client") != std::string::npos, true);
}

TEST(RedisClientTest, EvalCallsBySha1AndLoadsOnlyOnNoscript) {
  auto server = RedisServer::Start();
  Fixture f(SettingsFor(*server));
  static const RedisScript kScript(
      "return redis.call('INCRBY', KEYS[1], ARGV[1]) .. ':' .. ARGV[2]");
  EXPECT_EQ(kScript.Sha1().size(), 40u);
  // SHA1 is what Redis computes too.
  EXPECT_EQ(server->Cli("SCRIPT", "LOAD", kScript.Source()), kScript.Sha1());
  server->Cli("SCRIPT", "FLUSH");

  auto eval = [&](const std::string& by) {
    std::vector<std::string> keys{"n"};
    std::vector<std::string> args{by, "tag"};
    return f.loops.Run(
        0, f.client->Eval(kScript, std::move(keys), std::move(args), Deadline(core_ms(1000))));
  };
  auto first = eval("2");
  ASSERT_TRUE(first) << first.error().internal;
  EXPECT_EQ(first->str, "2:tag");
  EXPECT_EQ(f.client->Stats().script_loads, 1u);
  auto second = eval("3");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->str, "5:tag");
  EXPECT_EQ(f.client->Stats().script_loads, 1u);  // loaded once, called by SHA

  server->Cli("SCRIPT", "FLUSH");
  auto third = eval("4");
  ASSERT_TRUE(third) << third.error().internal;
  EXPECT_EQ(third->str, "9:tag");
  EXPECT_EQ(f.client->Stats().script_loads, 2u);

  // The script's own error is an error reply.
  static const RedisScript kFailing("return redis.error_reply('BOOM nope')");
  auto failing = f.loops.Run(0, f.client->Eval(kFailing, {}, {}, Deadline(core_ms(1000))));
  ASSERT_TRUE(failing);
  EXPECT_TRUE(failing->IsError());
  EXPECT_EQ(failing->str, "BOOM nope");
}

TEST(RedisClientTest, FrozenServerCallsEndAtTheirDeadlineAndThawRejoins) {
  auto server = RedisServer::Start();
  Fixture f(SettingsFor(*server));
  ASSERT_TRUE(f.Call(Cmd({"SET", "k", "v"})));
  server->Freeze();
  constexpr core_ms kBudget(150);
  constexpr core_ms kSlack(40);
  core_ms worst(0);
  bool unavailable_seen = false;
  // For 1.5 s: the first calls wait out their deadline, then the stuck connection is torn down
  // and the reconnects fail (the frozen server never answers the handshake): fast kUnavailable
  // or kDeadlineExceeded, never a wait past the deadline.
  const auto until = Steady::now() + core_ms(1500);
  while (Steady::now() < until) {
    const auto start = Steady::now();
    auto r = f.Call(Cmd({"GET", "k"}), kBudget);
    const auto took = std::chrono::duration_cast<core_ms>(Steady::now() - start);
    worst = std::max(worst, took);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().code == ErrorCode::kDeadlineExceeded ||
                r.error().code == ErrorCode::kUnavailable)
        << r.error().internal;
    unavailable_seen = unavailable_seen || r.error().code == ErrorCode::kUnavailable;
  }
  std::cout << "frozen: worst call " << worst.count() << " ms for a " << kBudget.count()
            << " ms deadline\n";
  EXPECT_LE(worst, kBudget + kSlack);
  EXPECT_TRUE(unavailable_seen);  // backing off: answered at once
  EXPECT_GE(f.client->Stats().overdue_teardowns, 1u);
  EXPECT_EQ(f.client->Health(), RedisHealth::kDown);

  server->Thaw();
  const auto thawed = Steady::now();
  Result<RedisReply> r = f.Call(Cmd({"GET", "k"}), kBudget);
  while (!r && Steady::now() - thawed < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(core_ms(10));
    r = f.Call(Cmd({"GET", "k"}), kBudget);
  }
  ASSERT_TRUE(r) << r.error().internal;
  EXPECT_EQ(r->str, "v");
  std::cout << "thawed: first success after "
            << std::chrono::duration_cast<core_ms>(Steady::now() - thawed).count() << " ms\n";
  EXPECT_EQ(f.client->Health(), RedisHealth::kConnected);
}

TEST(RedisClientTest, ReconnectsAfterRestartWithBackoff) {
  auto server = RedisServer::Start();
  Fixture f(SettingsFor(*server));
  ASSERT_TRUE(f.Call(Cmd({"SET", "k", "v"})));
  server->Kill();
  // The loss is noticed (EOF) and the next call tries to connect: refused.
  auto lost = f.Call(Cmd({"GET", "k"}));
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable) << lost.error().internal;
  // While backing off, calls fail at once.
  const auto start = Steady::now();
  auto backing_off = f.Call(Cmd({"GET", "k"}));
  ASSERT_FALSE(backing_off);
  EXPECT_EQ(backing_off.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(Steady::now() - start, core_ms(20));
  EXPECT_EQ(f.client->Health(), RedisHealth::kDown);

  server->Restart();
  const auto restarted = Steady::now();
  Result<RedisReply> r = f.Call(Cmd({"SET", "k", "again"}));
  while (!r && Steady::now() - restarted < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(core_ms(10));
    r = f.Call(Cmd({"SET", "k", "again"}));
  }
  ASSERT_TRUE(r) << r.error().internal;
  // Back within the backoff cap (200 ms) plus a connect.
  EXPECT_LT(Steady::now() - restarted, core_ms(1000));
  EXPECT_EQ(server->Cli("GET", "k"), "again");
  const RedisStats stats = f.client->Stats();
  EXPECT_GE(stats.reconnects, 1u);
  EXPECT_GE(stats.connect_failures, 1u);
  EXPECT_EQ(stats.open_connections, 1u);
}

TEST(RedisClientTest, AuthenticatesWithThePassword) {
  RedisServerOptions options;
  options.password = "pa ss\"word";
  auto server = RedisServer::Start(options);
  {
    Fixture f(SettingsFor(*server));
    auto r = f.Call(Cmd({"SET", "k", "v"}));
    ASSERT_TRUE(r) << r.error().internal;
  }
  {
    RedisSettings wrong = SettingsFor(*server);
    wrong.password = "wrong";
    Fixture f(wrong);
    auto r = f.Call(Cmd({"GET", "k"}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(r.error().internal.find("wrong"), std::string::npos);  // never the password
    EXPECT_EQ(f.client->Health(), RedisHealth::kDown);
  }
  {
    RedisSettings none = SettingsFor(*server);
    none.password.clear();
    Fixture f(none);
    auto r = f.Call(Cmd({"GET", "k"}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(r.error().internal.find("NOAUTH"), std::string::npos) << r.error().internal;
  }
}

TEST(RedisClientTest, AReplicaSayingReadonlyIsUnavailableAndDropsTheConnection) {
  auto master = RedisServer::Start();
  RedisServerOptions options;
  options.replica_of = master->Port();
  auto replica = RedisServer::Start(options);
  Fixture f(SettingsFor(*replica));
  ASSERT_TRUE(f.loops.Run(0, f.client->Connect(Deadline(core_ms(1000)))));
  EXPECT_EQ(f.client->Health(), RedisHealth::kConnected);
  auto r = f.Call(Cmd({"SET", "k", "v"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().internal.find("READONLY"), std::string::npos) << r.error().internal;
  EXPECT_EQ(f.client->Stats().open_connections, 0u);
  // Reads still work on the next connection (the address names this server).
  auto get = f.Call(Cmd({"GET", "k"}));
  ASSERT_TRUE(get) << get.error().internal;
  EXPECT_TRUE(get->IsNil());
  EXPECT_EQ(f.client->Stats().reconnects, 1u);
  const std::string metrics = f.registry.Render();
  EXPECT_NE(metrics.find("trellis_redis_errors_total{client=\"main\",kind=\"unavailable\"} 1"),
            std::string::npos)
      << metrics;
}

TEST(RedisClientTest, SelectsTheDatabase) {
  auto server = RedisServer::Start();
  RedisSettings settings = SettingsFor(*server);
  settings.db = 3;
  Fixture f(settings);
  ASSERT_TRUE(f.Call(Cmd({"SET", "in3", "v"})));
  EXPECT_EQ(server->Cli("-n", "3", "GET", "in3"), "v");
  EXPECT_EQ(server->Cli("EXISTS", "in3"), "0");
}

}  // namespace
}  // namespace trellis::adapters::redis
