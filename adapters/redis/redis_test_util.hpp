// Test helpers for the Redis client (tests only): event loops on their own threads, and running
// a coroutine on one of them from the test thread.
//
//   TestLoops loops(2);
//   auto reply = loops.Run(0, client.Command(std::move(cmd), Deadline(200ms)));
//   loops.Stop();  // before the client is destroyed
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "adapters/redis/redis_client.hpp"
#include "platform/core/clock.hpp"

namespace trellis::adapters::redis::testing {

inline MonoTime Deadline(std::chrono::milliseconds budget) {
  return platform::core::SystemClock::Instance().Monotonic() + budget;
}

inline RedisCommand Cmd(std::initializer_list<std::string> argv) { return RedisCommand(argv); }

class TestLoops {
 public:
  explicit TestLoops(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      auto loop = std::make_unique<Loop>();
      loop->thread = std::thread([io = &loop->io] { io->run(); });
      loops_.push_back(std::move(loop));
    }
  }
  ~TestLoops() { Stop(); }
  TestLoops(const TestLoops&) = delete;
  TestLoops& operator=(const TestLoops&) = delete;

  boost::asio::io_context& Io(std::size_t i) { return loops_.at(i)->io; }

  // Runs the coroutine on loop i and waits for its result.
  template <typename T>
  T Run(std::size_t i, boost::asio::awaitable<T> coro) {
    return boost::asio::co_spawn(Io(i), std::move(coro), boost::asio::use_future).get();
  }

  // Stops and joins every loop (the client must be destroyed after this, before ~TestLoops).
  void Stop() {
    for (auto& loop : loops_) {
      loop->guard.reset();
      loop->io.stop();
      if (loop->thread.joinable()) loop->thread.join();
    }
  }

 private:
  struct Loop {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
        io.get_executor()};
    std::thread thread;
  };
  std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace trellis::adapters::redis::testing
