// Tests of the Redis harness against real servers (label `redis`).
#include "tests/support/redis_server.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>

namespace trellis::tests::support {
namespace {

using Clock = std::chrono::steady_clock;

// The state letter of /proc/<pid>/stat ('T': stopped).
char ProcessState(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(f, stat);
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '\0' : stat[paren + 2];
}

TEST(RedisServerTest, StartsAnswersAndRemovesItsDir) {
  std::filesystem::path dir;
  pid_t pid = 0;
  {
    auto redis = RedisServer::Start();
    dir = redis->Dir();
    pid = redis->Pid();
    EXPECT_GT(redis->Port(), 0);
    EXPECT_EQ(redis->Cli("PING"), "PONG");
    EXPECT_EQ(redis->Cli("SET", "k", "a b"), "OK");
    EXPECT_EQ(redis->Cli("GET", "k"), "a b");
    // Not persisted: no RDB snapshots, no AOF.
    EXPECT_EQ(redis->Cli("CONFIG", "GET", "save"), "save");
    EXPECT_EQ(redis->Cli("CONFIG", "GET", "appendonly"), "appendonly\nno");
    EXPECT_EQ(redis->Cli("CONFIG", "GET", "bind"), "bind\n127.0.0.1");
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_NE(kill(pid, 0), 0);
}

TEST(RedisServerTest, PasswordIsRequired) {
  RedisServerOptions options;
  options.password = "s3cret pass";
  auto redis = RedisServer::Start(options);
  EXPECT_EQ(redis->Cli("PING"), "PONG");  // the harness authenticates
  RedisServerOptions none;
  auto other = RedisServer::Start(none);
  EXPECT_NE(other->Port(), redis->Port());
}

TEST(RedisServerTest, FreezeThawKillRestart) {
  auto redis = RedisServer::Start();
  const int port = redis->Port();
  redis->Freeze();
  EXPECT_EQ(ProcessState(redis->Pid()), 'T');  // stopped: it answers nothing
  redis->Thaw();
  EXPECT_NE(ProcessState(redis->Pid()), 'T');
  EXPECT_EQ(redis->Cli("PING"), "PONG");
  redis->Cli("SET", "k", "v");
  redis->Kill();
  EXPECT_FALSE(redis->Running());
  EXPECT_THROW(redis->Cli("PING"), std::runtime_error);
  redis->Restart();
  EXPECT_EQ(redis->Port(), port);
  EXPECT_EQ(redis->Cli("PING"), "PONG");
  EXPECT_EQ(redis->Cli("EXISTS", "k"), "0");  // nothing was saved
}

TEST(RedisServerTest, ReplicaFollowsItsMaster) {
  auto master = RedisServer::Start();
  RedisServerOptions options;
  options.replica_of = master->Port();
  auto replica = RedisServer::Start(options);
  master->Cli("SET", "k", "v");
  // Replication is asynchronous: the write arrives shortly after.
  std::string got;
  for (int i = 0; i < 500 && got != "v"; ++i) {
    got = replica->Cli("GET", "k");
    if (got != "v") std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(got, "v");
  EXPECT_TRUE(replica->Cli("ROLE").starts_with("slave"));
}

TEST(RedisSentinelGroupTest, FailoverPromotesTheReplica) {
  auto group = RedisSentinelGroup::Start();
  ASSERT_EQ(group->SentinelPorts().size(), 3u);
  const int old_master = group->MasterPort();
  const int replica = group->ReplicaPort();
  EXPECT_EQ(group->SentinelCli(0, {"SENTINEL", "get-master-addr-by-name", "trellis"}),
            "127.0.0.1\n" + std::to_string(old_master));
  const auto start = Clock::now();
  group->KillMaster();
  const int new_master = group->WaitForFailover(std::chrono::seconds(30));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  std::cout << "sentinel failover took " << took.count() << " ms\n";
  EXPECT_EQ(new_master, replica);
  EXPECT_EQ(group->MasterPort(), replica);
  EXPECT_TRUE(group->Master().Cli("ROLE").starts_with("master"));
  EXPECT_EQ(group->Master().Cli("SET", "k", "v"), "OK");
}

}  // namespace
}  // namespace trellis::tests::support
