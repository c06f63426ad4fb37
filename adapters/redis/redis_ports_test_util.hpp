// Test helpers for the Redis port adapters (tests only): one redis-server per test binary, and
// the ports forwarded onto a long-lived event loop.
//
// The contract suites call through RunSync, a private io_context per call; RedisClient keeps
// one connection per io_context and must outlive them, so each harness runs the adapter on a
// TestLoops loop and the Hop* wrappers move every call there and its answer back.
//
//   auto& server = SharedServer();  server.Cli("FLUSHALL");
//   HopCache hop(cache, loops.Io(0));   // a Cache whose calls run on loop 0
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/redis/redis_client.hpp"
#include "adapters/redis/redis_test_util.hpp"
#include "platform/core/clock.hpp"
#include "platform/ports/cache.hpp"
#include "platform/ports/lock_service.hpp"
#include "platform/ports/rate_limiter.hpp"
#include "platform/ports/token_store.hpp"
#include "tests/support/redis_server.hpp"

namespace trellis::adapters::redis::testing {

// Started on first use, stopped at exit.
inline tests::support::RedisServer& SharedServer() {
  static std::unique_ptr<tests::support::RedisServer> server = tests::support::RedisServer::Start();
  return *server;
}

inline RedisSettings SettingsFor(int port) {
  RedisSettings settings;
  settings.address = "127.0.0.1:" + std::to_string(port);
  settings.backoff_cap = std::chrono::milliseconds(200);
  settings.name = "test";
  return settings;
}

// One event loop on its own thread and a client for it; the loop stops before the client goes.
struct LoopAndClient {
  explicit LoopAndClient(RedisSettings settings)
      : client(std::move(settings), platform::core::SystemClock::Instance(), nullptr) {}
  explicit LoopAndClient(int port) : LoopAndClient(SettingsFor(port)) {}
  ~LoopAndClient() { loops.Stop(); }
  LoopAndClient(const LoopAndClient&) = delete;
  LoopAndClient& operator=(const LoopAndClient&) = delete;
  boost::asio::io_context& Io() { return loops.Io(0); }
  template <typename T>
  T Run(boost::asio::awaitable<T> task) {
    return loops.Run(0, std::move(task));
  }

  TestLoops loops{1};
  RedisClient client;
};

// Runs `task` on `io` and resumes the caller on its own executor with the result.
template <typename T>
boost::asio::awaitable<T> OnLoop(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  co_return co_await boost::asio::co_spawn(io, std::move(task), boost::asio::use_awaitable);
}

class HopCache final : public platform::ports::Cache {
 public:
  HopCache(platform::ports::Cache& inner, boost::asio::io_context& io) : inner_(inner), io_(io) {}
  platform::ports::CacheAwaitable<std::vector<std::optional<std::string>>> Get(
      std::vector<std::string> keys, platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.Get(std::move(keys), deadline));
  }
  platform::ports::CacheAwaitable<void> Set(std::vector<platform::ports::CacheWrite> entries,
                                            platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.Set(std::move(entries), deadline));
  }
  platform::ports::CacheAwaitable<void> Delete(std::vector<std::string> keys,
                                               platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.Delete(std::move(keys), deadline));
  }
  platform::ports::CacheAdapterStats Stats() const override { return inner_.Stats(); }

 private:
  platform::ports::Cache& inner_;
  boost::asio::io_context& io_;
};

class HopLimiter final : public platform::ports::RateLimiter {
 public:
  HopLimiter(platform::ports::RateLimiter& inner, boost::asio::io_context& io)
      : inner_(inner), io_(io) {}
  boost::asio::awaitable<platform::core::Result<platform::ports::RateDecision>> Acquire(
      std::string key, platform::ports::RateLimit limit,
      platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.Acquire(std::move(key), limit, deadline));
  }

 private:
  platform::ports::RateLimiter& inner_;
  boost::asio::io_context& io_;
};

class HopLocks final : public platform::ports::LockService {
 public:
  HopLocks(platform::ports::LockService& inner, boost::asio::io_context& io)
      : inner_(inner), io_(io) {}
  boost::asio::awaitable<platform::core::Result<std::optional<platform::ports::Lease>>> Acquire(
      std::string name, std::string owner, std::chrono::milliseconds ttl,
      platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.Acquire(std::move(name), std::move(owner), ttl, deadline));
  }
  boost::asio::awaitable<platform::core::Result<bool>> Renew(
      platform::ports::Lease lease, std::chrono::milliseconds ttl,
      platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.Renew(std::move(lease), ttl, deadline));
  }
  boost::asio::awaitable<platform::core::Result<void>> Release(
      platform::ports::Lease lease, platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.Release(std::move(lease), deadline));
  }

 private:
  platform::ports::LockService& inner_;
  boost::asio::io_context& io_;
};

class HopTokens final : public platform::ports::TokenStore {
 public:
  HopTokens(platform::ports::TokenStore& inner, boost::asio::io_context& io)
      : inner_(inner), io_(io) {}
  boost::asio::awaitable<platform::core::Result<void>> Revoke(
      std::string session_id, platform::core::Clock::WallTime expires_at,
      platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.Revoke(std::move(session_id), expires_at, deadline));
  }
  boost::asio::awaitable<platform::core::Result<platform::ports::RevocationPage>> RevokedSince(
      std::string cursor, platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.RevokedSince(std::move(cursor), deadline));
  }

 private:
  platform::ports::TokenStore& inner_;
  boost::asio::io_context& io_;
};

class HopFamilies final : public platform::ports::RefreshFamilies {
 public:
  HopFamilies(platform::ports::RefreshFamilies& inner, boost::asio::io_context& io)
      : inner_(inner), io_(io) {}
  boost::asio::awaitable<platform::core::Result<bool>> Issue(
      std::string token_sha256, platform::ports::RefreshGrant grant,
      platform::core::Clock::WallTime expires_at,
      platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_,
                  inner_.Issue(std::move(token_sha256), std::move(grant), expires_at, deadline));
  }
  boost::asio::awaitable<platform::core::Result<platform::ports::Rotation>> Rotate(
      std::string token_sha256, std::string client_id, std::string next_sha256,
      platform::core::Clock::WallTime next_expires_at,
      platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.Rotate(std::move(token_sha256), std::move(client_id),
                                     std::move(next_sha256), next_expires_at, deadline));
  }
  boost::asio::awaitable<platform::core::Result<void>> RevokeFamily(
      std::string family_id, platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.RevokeFamily(std::move(family_id), deadline));
  }
  boost::asio::awaitable<platform::core::Result<void>> RevokeSession(
      std::string session_id, platform::core::Clock::MonoTime deadline) override {
    return OnLoop(io_, inner_.RevokeSession(std::move(session_id), deadline));
  }

 private:
  platform::ports::RefreshFamilies& inner_;
  boost::asio::io_context& io_;
};

}  // namespace trellis::adapters::redis::testing
