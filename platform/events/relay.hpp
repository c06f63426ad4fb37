// The outbox relay: moves committed events from every context's outbox table into the event
// log, oldest first, then deletes them. At least once: it appends before it deletes, and the
// log skips an event id it already holds, so a crash between the two re-appends nothing.
//
//   OutboxRelay relay({{"identity", &identity_db}, {"work", &work_db}}, log, clock, registry);
//   asio::co_spawn(ctx, relay.Run(), asio::detached);
//   relay.Notify();  // after a commit that wrote outbox rows: relay now, not at the next poll
//   relay.Stop();    // shutdown: Run returns after the batch in flight
//
// Leadership (optional, docs/adr/0018): with RelaySettings::locks set, a relay works only while
// it holds the lease `lease_name` (one relay per deployment, however many processes run one),
// renews it every lease_renew_interval, steps down when a renewal fails, and deletes relayed
// rows only in a transaction that passes platform::store::CheckFence with the lease's fencing
// token, so a relay paused past its lease cannot delete rows once a newer leader has fenced:
//
//   RelaySettings s;
//   s.locks = &lock_service;  s.lease_owner = node_id;   // unique per process
//   OutboxRelay relay(sources, log, clock, registry, s);  // every context has fencing_tokens
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/events/append_signal.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/event_log.hpp"
#include "platform/ports/lock_service.hpp"
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

  // Leadership; none without a lock service (the relay then always works, as in one process).
  ports::LockService* locks = nullptr;
  // The lease the relays of a deployment compete for; also the name fenced in every database.
  std::string lease_name = "outbox-relay";
  // Who holds the lease: unique per process (a node id), or two processes would share it.
  std::string lease_owner;
  // How long a lease lasts without renewal: how long the outboxes may stall after a leader
  // dies without releasing it.
  std::chrono::milliseconds lease_ttl{10000};
  // How often the leader renews and a follower tries to take the lease; below lease_ttl (a
  // value at or above it is taken as lease_ttl / 3).
  std::chrono::milliseconds lease_renew_interval{3000};
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
  // With a lock service, RelayOnce first renews or takes the lease when due; a relay that does
  // not hold it moves nothing (0). A relay whose delete was fenced off (a newer leader's token
  // is recorded) steps down and the round fails with platform::store::IsStaleFence's error.

  // Gives the lease up if held (Run does on return). No-op without a lock service.
  [[nodiscard]] boost::asio::awaitable<void> Resign();
  // Whether this relay holds the lease as far as it knows (always true without a lock
  // service), and the lease's fencing token. For tests and status; thread-safe.
  [[nodiscard]] bool Leading() const { return leading_.load(); }
  [[nodiscard]] std::int64_t FencingToken() const { return fencing_token_.load(); }

 private:
  struct Source {
    RelaySource source;
    observe::Counter* relayed = nullptr;
    observe::Counter* errors = nullptr;
    observe::Gauge* lag_seconds = nullptr;
  };
  [[nodiscard]] ports::Awaitable<std::size_t> Drain(Source& source);
  // True when this relay may work now: no lock service, or the lease is held (renewed or
  // taken here when due). Errors are the lock service's; the lease is given up on them.
  [[nodiscard]] ports::Awaitable<bool> Lead();
  void StepDown(const char* why);

  std::vector<Source> sources_;
  ports::EventLog& log_;
  const core::Clock& clock_;
  RelaySettings settings_;
  AppendSignal wake_;  // bumped by Notify and Stop
  std::atomic<std::int64_t> wake_ticks_{0};
  std::atomic<bool> stopping_{false};

  // Leadership state: touched only by the coroutine running Run/RelayOnce (one at a time).
  std::optional<ports::Lease> lease_;
  core::Clock::MonoTime renew_at_{};    // the leader renews from then on
  core::Clock::MonoTime acquire_at_{};  // a follower tries again from then on
  std::atomic<bool> leading_;           // mirrors lease_ for Leading()
  std::atomic<std::int64_t> fencing_token_{0};
  observe::Gauge* leader_ = nullptr;    // with a lock service only
  observe::Counter* fenced_ = nullptr;  // with a lock service only
};

}  // namespace trellis::platform::events
