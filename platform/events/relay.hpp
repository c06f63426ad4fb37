// The outbox relay: moves committed events from every context's outbox table into the event
// log, oldest first, then deletes them. At least once: it appends before it deletes, and the
// log skips an event id it already holds, so a crash between the two re-appends nothing.
//
//   OutboxRelay relay({{"identity", &identity_db}, {"work", &work_db}}, log, clock, registry);
//   asio::co_spawn(ctx, relay.Run(), asio::detached);
//   relay.Notify();  // after a commit that wrote outbox rows: relay now, not at the next poll
//   relay.Stop();    // shutdown: Run returns after the batch in flight
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/events/append_signal.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/event_log.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::platform::events {

struct RelaySettings {
  // Outbox rows moved per transaction.
  std::size_t batch_size = 100;
  // How often the outboxes are looked at without a Notify (other processes' writes, missed
  // notifications).
  std::chrono::milliseconds poll_interval{1000};
  // Pause after a failed round before the next one.
  std::chrono::milliseconds error_backoff{1000};
};

// One context's database, named for metrics and logs.
struct RelaySource {
  std::string name;
  ports::SqlStore* store = nullptr;
};

class OutboxRelay {
 public:
  OutboxRelay(std::vector<RelaySource> sources, ports::EventLog& log, const core::Clock& clock,
              observe::Registry& metrics, RelaySettings settings = {});
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Relays until Stop(): a round over every source, then a wait for Notify() or the poll
  // interval. Errors are counted, logged and retried after error_backoff.
  [[nodiscard]] boost::asio::awaitable<void> Run();
  // Wakes Run for a round now. Thread-safe, cheap; call it after each commit with events.
  void Notify();
  // Makes Run return after the round in progress. Thread-safe.
  void Stop();

  // One round: drains every source's outbox into the log. Yields how many events were moved,
  // or the first error once every source has had its turn (a failed source's rows stay and
  // are retried next round).
  [[nodiscard]] ports::Awaitable<std::size_t> RelayOnce();

 private:
  struct Source {
    RelaySource source;
    observe::Counter* relayed = nullptr;
    observe::Counter* errors = nullptr;
    observe::Gauge* lag_seconds = nullptr;
  };
  [[nodiscard]] ports::Awaitable<std::size_t> Drain(Source& source);

  std::vector<Source> sources_;
  ports::EventLog& log_;
  const core::Clock& clock_;
  RelaySettings settings_;
  AppendSignal wake_;  // bumped by Notify and Stop
  std::atomic<std::int64_t> wake_ticks_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace trellis::platform::events
