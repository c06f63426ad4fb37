// Everything that moves domain events, wired once by the composition root: the event log, the
// outbox relay over every context's database, the consumer groups (audit projection, …) and
// any other long-running tail (the live hub).
//
//   EventsRuntime events(std::move(log), {{"identity", &identity_db}, {"work", &work_db}},
//                        clock, registry, settings);
//   events.AddConsumer("audit", [&](const DomainEvent& e) { return audit.Project(e); });
//   events.AddTask([&] { return hub.Run(); }, [&] { hub.Stop(); });
//   events.Start(ctx);                 // spawns them all on ctx
//   work_app.OnCommit([&] { events.Relay().Notify(); });
//   ...
//   events.Stop(); events.Wait();      // shutdown (Wait from a thread other than ctx's)
//
// Several processes over the same databases (the distributed shape): give the relay a lease so
// that one of them relays at a time, fenced in every context database (relay.hpp, ADR 0018):
//
//   settings.relay.locks = &lock_service;      // adapters/redis, or adapters/memory
//   settings.relay.lease_owner = node_id;      // unique per process
//
// Stop() then also ends the relay's leadership: Run gives the lease up before it returns, so
// another process takes over without waiting out the lease.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/events/consumer.hpp"
#include "platform/events/relay.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/event_log.hpp"

namespace trellis::platform::events {

struct EventsSettings {
  RelaySettings relay;
  ConsumerSettings consumer;
};

class EventsRuntime {
 public:
  EventsRuntime(std::unique_ptr<ports::EventLog> log, std::vector<RelaySource> sources,
                const core::Clock& clock, observe::Registry& metrics, EventsSettings settings = {});
  // Stop() and Wait() must have been called if Start() was.
  ~EventsRuntime();
  EventsRuntime(const EventsRuntime&) = delete;
  EventsRuntime& operator=(const EventsRuntime&) = delete;

  [[nodiscard]] ports::EventLog& Log() { return *log_; }
  [[nodiscard]] OutboxRelay& Relay() { return relay_; }

  // Before Start(): a consumer group with the runtime's consumer settings.
  Consumer& AddConsumer(std::string group, EventHandler handler);
  // Before Start(): another coroutine to run until Stop() (which calls `stop`).
  void AddTask(std::function<boost::asio::awaitable<void>()> run, std::function<void()> stop);

  // Spawns the relay, the consumers and the tasks on ctx.
  void Start(boost::asio::io_context& ctx);
  // Asks every part to return. Thread-safe, idempotent.
  void Stop();
  // Blocks until every spawned coroutine has returned (the io_context must keep running).
  void Wait();

 private:
  struct Task {
    std::function<boost::asio::awaitable<void>()> run;
    std::function<void()> stop;
  };
  void Spawn(boost::asio::io_context& ctx, std::function<boost::asio::awaitable<void>()> run);

  std::unique_ptr<ports::EventLog> log_;
  observe::Registry& metrics_;
  EventsSettings settings_;
  OutboxRelay relay_;
  std::list<Consumer> consumers_;  // stable addresses
  std::vector<Task> tasks_;

  std::mutex mu_;
  std::condition_variable done_;
  int running_ = 0;  // guarded by mu_
};

}  // namespace trellis::platform::events
