// A consumer group: reads the event log from the group's committed offset, hands each event to
// a handler, and commits the offset once the handler has succeeded. A failing event is retried
// with bounded, jittered exponential backoff until it succeeds or the consumer stops: an event
// is never skipped, so handlers must be idempotent (they see an event again after a crash
// between handling and commit).
//
//   Consumer audit("audit", log, [&](const DomainEvent& e) { return app.Project(e); }, registry);
//   asio::co_spawn(ctx, audit.Run(), asio::detached);
//   audit.Stop();
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "platform/core/error.hpp"
#include "platform/events/append_signal.hpp"
#include "platform/events/event.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/event_log.hpp"

namespace trellis::platform::events {

using EventHandler =
    std::function<boost::asio::awaitable<core::Result<void>>(const DomainEvent& event)>;

struct ConsumerSettings {
  std::size_t batch_size = 100;  // events read per query
  // Longest wait for new events without a wake-up (also bounds how long Stop takes).
  std::chrono::milliseconds poll_interval{1000};
  // Retry delays: the n-th retry waits a random time in [d/2, d], d = min(max, initial * 2^n).
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{30'000};
};

class Consumer {
 public:
  Consumer(std::string group, ports::EventLog& log, EventHandler handler,
           observe::Registry& metrics, ConsumerSettings settings = {});
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  [[nodiscard]] const std::string& Group() const { return group_; }
  // Consumes until Stop().
  [[nodiscard]] boost::asio::awaitable<void> Run();
  // Makes Run return soon (within poll_interval); an event being retried is not committed.
  // Thread-safe.
  void Stop();
  // The offset of the last event handled by this process (0 before Run has read it).
  [[nodiscard]] std::int64_t Position() const { return position_.load(); }

  // The delay before retry `attempt` (1-based), exposed for tests.
  [[nodiscard]] std::chrono::milliseconds Backoff(int attempt);

 private:
  // Hands one event to the handler until it succeeds; false when stopped first.
  [[nodiscard]] boost::asio::awaitable<bool> Handle(const DomainEvent& event);

  std::string group_;
  ports::EventLog& log_;
  EventHandler handler_;
  ConsumerSettings settings_;
  std::mt19937_64 random_;  // only Run's coroutine uses it
  std::atomic<std::int64_t> position_{0};
  std::atomic<bool> stopping_{false};
  AppendSignal stop_signal_;  // cuts a backoff sleep short on Stop
  observe::Counter& processed_;
  observe::Counter& failures_;
  observe::Gauge& lag_;
};

}  // namespace trellis::platform::events
