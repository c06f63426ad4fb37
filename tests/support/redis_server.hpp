// Real Redis servers (and a Sentinel group) for tests, started from Debian's redis-server and
// redis-sentinel packages in temp dirs on random loopback ports, and removed afterwards.
//
//   auto redis = RedisServer::Start();                       // a master, no password
//   redis->Cli("SET", "k", "v");  int port = redis->Port();
//   auto group = RedisSentinelGroup::Start();                // master + replica + 3 sentinels
//   group->KillMaster();  int new_master = group->WaitForFailover(std::chrono::seconds(20));
//
// How it works, and why:
// - Each server runs in the foreground (`daemonize no`) as a direct child of the test process,
//   with a config file in its own dir (0600: it may hold requirepass) and its log there too.
//   Not a durable server: `save ""`, `appendonly no`, bound to 127.0.0.1 only (so protected
//   mode never matters).
// - Ports: bind port 0 on 127.0.0.1 to pick a free one, then start; if another process takes
//   it in between the server exits with "Address already in use" and Start() retries on a new
//   port. Restart() keeps the port (Redis binds with SO_REUSEADDR).
// - Start() returns once the server answers PING over TCP (NOAUTH counts: it is up) and, for a
//   replica, once INFO replication says master_link_status:up. Every failure throws
//   std::runtime_error with the tail of the server's log; processes already started are
//   killed first.
// - A watchdog (/bin/sh in its own session) holds one end of a socket pair: if this process
//   dies without its destructors (crash, ASan abort, a ctest timeout's SIGKILL), the watchdog
//   sees EOF, SIGKILLs every pid listed in the dir's *.pid files and removes the dir.
//   TRELLIS_KEEP_REDIS=1 keeps the dirs (servers are still stopped) and prints their paths.
// - Not thread-safe: one test thread drives a server or a group.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace trellis::tests::support {

struct RedisServerOptions {
  std::string password;  // requirepass (and masterauth of a replica); empty: none
  int replica_of = 0;    // the master's port on 127.0.0.1; 0: a master
};

class RedisServer {
 public:
  static std::unique_ptr<RedisServer> Start(RedisServerOptions options = {});

  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  [[nodiscard]] int Port() const { return port_; }
  [[nodiscard]] const std::string& Password() const { return options_.password; }
  [[nodiscard]] bool Running() const { return pid_ > 0; }
  [[nodiscard]] pid_t Pid() const { return pid_; }

  void Freeze();  // SIGSTOP (returns once stopped): connections stay open, nothing is answered
  void Thaw();    // SIGCONT (returns once running again)
  void Kill();    // SIGKILL; returns once it is reaped
  // Kills it if it runs, then starts it again on the same port with the same dir and config
  // (the data is gone: nothing is saved); returns once it answers.
  void Restart();
  // A replica: until INFO replication says master_link_status:up; throws after 20 s.
  void WaitForSync() const;

  // redis-cli -h 127.0.0.1 -p <port> (with the password through REDISCLI_AUTH) and the
  // arguments as argv: no shell. Returns stdout without its trailing newlines (raw output: one
  // line per element of an array). Throws std::runtime_error when redis-cli fails.
  template <typename... Args>
  std::string Cli(const Args&... args) const {
    return CliArgs({std::string(args)...});
  }
  std::string CliArgs(const std::vector<std::string>& args) const;

  [[nodiscard]] const std::filesystem::path& Dir() const { return dir_; }
  [[nodiscard]] std::filesystem::path Log() const { return dir_ / "redis.log"; }

 private:
  RedisServer() = default;
  void Launch(bool pick_new_port_on_clash);
  [[noreturn]] void Fail(const std::string& what) const;

  RedisServerOptions options_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = 0;
  int watchdog_pid_ = 0;
  int watchdog_fd_ = -1;
};

struct RedisSentinelOptions {
  std::string password;  // of the master and the replica (sentinel auth-pass); empty: none
  // Sentinel timing: a dead master is "subjectively down" after down_after; failover_timeout
  // bounds one failover attempt. Small, so that a failover completes in a few seconds.
  std::chrono::milliseconds down_after{1000};
  std::chrono::milliseconds failover_timeout{3000};
};

// A master, one replica and three sentinels (quorum 2) monitoring the master as MasterName().
class RedisSentinelGroup {
 public:
  // Returns once the replica is in sync and every sentinel knows the replica and the other two
  // sentinels (so that a failover can be agreed on at once).
  static std::unique_ptr<RedisSentinelGroup> Start(RedisSentinelOptions options = {});

  ~RedisSentinelGroup();
  RedisSentinelGroup(const RedisSentinelGroup&) = delete;
  RedisSentinelGroup& operator=(const RedisSentinelGroup&) = delete;

  [[nodiscard]] static std::string MasterName() { return "trellis"; }
  [[nodiscard]] std::vector<int> SentinelPorts() const;
  // The current master and replica (after WaitForFailover, the promoted one is the master).
  [[nodiscard]] int MasterPort() const { return servers_[master_]->Port(); }
  [[nodiscard]] int ReplicaPort() const { return servers_[1 - master_]->Port(); }
  [[nodiscard]] RedisServer& Master() { return *servers_[master_]; }
  [[nodiscard]] RedisServer& Replica() { return *servers_[1 - master_]; }

  void KillMaster();  // SIGKILL the current master
  // Until every sentinel names another server than the killed master and that server's ROLE
  // is master; returns its port. Throws after `timeout` with the sentinels' logs' tails.
  int WaitForFailover(std::chrono::milliseconds timeout);

  // redis-cli against sentinel i (0..2).
  std::string SentinelCli(std::size_t i, const std::vector<std::string>& args) const;

 private:
  struct Sentinel {
    int port = 0;
    pid_t pid = 0;
    std::filesystem::path conf;
    std::filesystem::path log;
  };

  RedisSentinelGroup() = default;
  void StartSentinel(Sentinel& s);
  void WaitUntilReady() const;
  [[noreturn]] void Fail(const std::string& what) const;

  RedisSentinelOptions options_;
  std::unique_ptr<RedisServer> servers_[2];
  int master_ = 0;
  int failed_master_port_ = 0;
  std::vector<Sentinel> sentinels_;
  std::filesystem::path dir_;
  int watchdog_pid_ = 0;
  int watchdog_fd_ = -1;
};

}  // namespace trellis::tests::support
