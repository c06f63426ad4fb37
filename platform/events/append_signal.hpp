// Wakes coroutines waiting for an event log to grow: the in-process half of
// EventLog::WaitForAppend, shared by the log adapters.
//
//   AppendSignal signal;
//   signal.Advance(new_last_offset);                    // after an append commits
//   auto last = co_await signal.Wait(after, 1s);        // elsewhere: returns when last > after
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>

namespace trellis::platform::events {

class AppendSignal {
 public:
  // The highest offset announced so far.
  [[nodiscard]] std::int64_t Last() const { return last_.load(std::memory_order_acquire); }
  // Raises Last() to `last` (never lowers it) and wakes every waiter. Thread-safe.
  void Advance(std::int64_t last);
  // Completes when Last() > after or after `timeout`; yields Last(). Each waiter's wake-up is
  // posted to its own executor, so waiters on different event loops are safe.
  [[nodiscard]] boost::asio::awaitable<std::int64_t> Wait(std::int64_t after,
                                                          std::chrono::milliseconds timeout);

 private:
  struct Waiter {
    boost::asio::any_io_executor executor;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  std::atomic<std::int64_t> last_{0};
  std::mutex mu_;
  std::list<Waiter> waiters_;  // guarded by mu_
};

}  // namespace trellis::platform::events
