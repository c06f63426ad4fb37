// An asynchronous Redis client on Asio (hiredis inside, never in this header): the core the
// Redis adapters of the cache, rate limiter, lock and token store ports are built on.
//
// A call runs on the caller's executor, with no thread hop: each event loop (io_context) gets
// its own connection, opened lazily by its first call, on which any number of commands are in
// flight at once (Redis answers in order). `Pipeline` writes several commands in one write and
// reads their replies in one round trip. Every call is bounded by its deadline; a Redis error
// reply is a value (RedisReply::Type::kError), not a failure. Failures are canonical errors:
// kDeadlineExceeded (the deadline passed), kUnavailable (no connection, backing off, the
// connection broke, or the server said READONLY/LOADING/MASTERDOWN: it is not the master).
//
//   RedisSettings settings;  settings.address = "127.0.0.1:6379";
//   RedisClient redis(settings, clock, &registry);
//   RedisCommand set;  set.push_back("SET");  set.push_back("k");  set.push_back(value);
//   auto reply = co_await redis.Command(std::move(set), deadline);
//   static const RedisScript kScript("return redis.call('INCR', KEYS[1])");
//   auto n = co_await redis.Eval(kScript, {key}, {}, deadline);   // EVALSHA, loaded once
//
// Threading: an io_context must be run by one thread (the product's event loops are). Calls
// from several loops are fine. Destroy the client after its loops have stopped and before their
// io_contexts are destroyed.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/observe/metrics.hpp"

namespace trellis::adapters::redis {

using MonoTime = platform::core::Clock::MonoTime;

struct RedisSettings {
  // Either one server …
  std::string address;  // "host:port"
  // … or Sentinel: the sentinels ("host:port" each), asked in order, and the master's name.
  std::vector<std::string> sentinels;
  std::string master_name;
  std::string password;  // AUTH on every new connection to the data node; empty: none
  int db = 0;            // SELECT when not 0
  // Bounds a connect (TCP, AUTH, SELECT, and under Sentinel the discovery and ROLE).
  std::chrono::milliseconds connect_timeout{1000};
  // After a failed connect the loop waits backoff_base·2^(failures-1), capped at backoff_cap,
  // jittered to [½, 1] of that; meanwhile its calls fail at once with kUnavailable.
  std::chrono::milliseconds backoff_base{50};
  std::chrono::milliseconds backoff_cap{2000};
  // A reply still missing this long after its call's deadline means the server is stuck
  // (frozen, partitioned): the connection is torn down and the next call reconnects.
  std::chrono::milliseconds overdue_bound{250};
  // Every call ends by min(its deadline, now + call_timeout), connecting included; 0: only the
  // deadline. Keeps a frozen server from holding requests for their whole budget.
  std::chrono::milliseconds call_timeout{0};
  std::string name = "main";  // the `client` label of the metrics
};

// One command: its argv, binary-safe.
using RedisCommand = std::vector<std::string>;

struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  std::int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray

  [[nodiscard]] bool IsNil() const { return type == Type::kNil; }
  [[nodiscard]] bool IsError() const { return type == Type::kError; }
  [[nodiscard]] bool IsString() const { return type == Type::kString; }
  [[nodiscard]] bool IsInteger() const { return type == Type::kInteger; }
  [[nodiscard]] bool IsArray() const { return type == Type::kArray; }
  [[nodiscard]] bool IsStatus() const { return type == Type::kStatus; }
};

// A Lua script, called by its SHA1 (EVALSHA) and loaded (SCRIPT LOAD) only when the server
// says NOSCRIPT. Make it once (a static) and reuse it.
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  [[nodiscard]] const std::string& Source() const { return source_; }
  [[nodiscard]] const std::string& Sha1() const { return sha1_; }  // 40 lowercase hex digits

 private:
  std::string source_;
  std::string sha1_;
};

enum class RedisHealth {
  kConnected,  // every loop that has a connection has it up, none is backing off
  kDegraded,   // no connection made yet, or some loops connected and some failing
  kDown,       // no connection up and the last attempt failed
};
[[nodiscard]] std::string_view ToString(RedisHealth health);

struct RedisStats {
  std::uint64_t round_trips = 0;         // Command/Pipeline/Eval round trips that reached the wire
  std::uint64_t commands = 0;            // commands written
  std::uint64_t error_replies = 0;       // Redis error replies (values)
  std::uint64_t deadline_errors = 0;     // calls answered kDeadlineExceeded
  std::uint64_t unavailable_errors = 0;  // calls answered kUnavailable
  std::uint64_t connects = 0;            // connections made (handshake done)
  std::uint64_t connect_failures = 0;
  std::uint64_t reconnects = 0;         // connections made after a loop's first
  std::uint64_t overdue_teardowns = 0;  // connections torn down for an overdue reply
  std::uint64_t discoveries = 0;        // Sentinel master lookups that succeeded
  std::uint64_t script_loads = 0;       // SCRIPT LOAD after NOSCRIPT
  std::uint64_t open_connections = 0;
};

class RedisClient {
 public:
  // metrics may be null (no Prometheus series; Stats() still counts).
  RedisClient(RedisSettings settings, const platform::core::Clock& clock,
              platform::observe::Registry* metrics);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // One command, one round trip.
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<RedisReply>> Command(
      RedisCommand command, MonoTime deadline);
  // The commands in one write; their replies in order, in one round trip. Not a transaction
  // (wrap in MULTI/EXEC for that). An empty pipeline answers at once.
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<std::vector<RedisReply>>> Pipeline(
      std::vector<RedisCommand> commands, MonoTime deadline);
  // EVALSHA script.Sha1() with the keys and args; on NOSCRIPT, SCRIPT LOAD and EVALSHA again in
  // one more round trip. The script's own error is an error reply.
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<RedisReply>> Eval(
      const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
      MonoTime deadline);
  // Opens this loop's connection now (start-up, /readyz); answers what the connect did.
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> Connect(MonoTime deadline);

  [[nodiscard]] RedisHealth Health() const;
  [[nodiscard]] RedisStats Stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace trellis::adapters::redis
