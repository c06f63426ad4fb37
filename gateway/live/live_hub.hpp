// The live hub: GET /api/v1/orgs/{org}/events streams an org's domain events as Server-Sent
// Events to its members, each seeing the events whose audience their role reaches.
//
// One tail loop per process reads the event log and fans each event out to the org's
// subscribers (event: <type>, id: <log offset>, data: the envelope JSON). A client that
// reconnects with Last-Event-ID (or ?last_event_id=) first gets what it missed, replayed from
// the log (at most replay_limit events; beyond that one `event: reset` tells it to reload), then
// the live events, in order and without duplicates. A subscriber whose channel refuses an event
// (closed, or fallen behind its buffer) is dropped.
//
//   LiveHub hub(log, identity, registry, {});
//   hub.AddRoutes(router);
//   events.AddTask([&] { return hub.Run(); }, [&] { hub.Stop(); });
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/core/role.hpp"
#include "platform/events/event.hpp"
#include "platform/http/request.hpp"
#include "platform/http/response.hpp"
#include "platform/http/router.hpp"
#include "platform/http/sse.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/event_log.hpp"
#include "proto/trellis/identity/v1/identity_client.hpp"

namespace trellis::gateway::live {

struct LiveSettings {
  // Most events replayed to a resuming client; more missed than this and it gets `reset`.
  std::size_t replay_limit = 1000;
  // Events read from the log per query by the tail loop.
  std::size_t batch_size = 256;
  // Longest wait for new events without a wake-up (also bounds how long Stop takes).
  std::chrono::milliseconds poll_interval{1000};
};

class LiveHub {
 public:
  LiveHub(platform::ports::EventLog& log, identity::v1::IdentityClient& identity,
          platform::observe::Registry& metrics, LiveSettings settings = {});
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // The tail loop; one per process. Starts after the log's last offset at construction.
  [[nodiscard]] boost::asio::awaitable<void> Run();
  // Makes Run return (within poll_interval) and ends every stream. Thread-safe.
  void Stop();

  // GET /api/v1/orgs/{org}/events.
  [[nodiscard]] boost::asio::awaitable<platform::http::Response> Handle(
      platform::http::Request& req);
  void AddRoutes(platform::http::Router& router);

  [[nodiscard]] std::size_t Subscribers() const;

 private:
  struct Frame {
    std::int64_t offset = 0;
    platform::core::Role audience = platform::core::Role::kViewer;
    std::string type;
    std::shared_ptr<const std::string> data;
  };
  struct Subscriber {
    std::string org_id;
    platform::core::Role role = platform::core::Role::kViewer;
    std::shared_ptr<platform::http::SseChannel> channel;
    // While the replay runs, live frames wait here (bounded by replay_limit).
    bool replaying = false;
    bool overflowed = false;
    std::vector<Frame> held;
  };

  void Dispatch(const platform::events::DomainEvent& event);
  // Sends the frame if the role may see it; false when the channel refused it.
  static bool Deliver(Subscriber& sub, const Frame& frame);
  void Remove(const std::shared_ptr<Subscriber>& sub);
  [[nodiscard]] boost::asio::awaitable<void> Replay(std::shared_ptr<Subscriber> sub,
                                                    std::int64_t after, std::int64_t until);
  void FinishReplay(const std::shared_ptr<Subscriber>& sub, bool reset);

  platform::ports::EventLog& log_;
  identity::v1::IdentityClient& identity_;
  LiveSettings settings_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  // The offset of the last event dispatched; a new subscriber gets everything after it live.
  std::int64_t tail_ = 0;  // guarded by mu_
  std::unordered_map<std::string, std::vector<std::shared_ptr<Subscriber>>>
      by_org_;             // guarded by mu_
  std::size_t count_ = 0;  // guarded by mu_

  platform::observe::Gauge& subscribers_;
  platform::observe::Counter& sent_;
  platform::observe::Counter& dropped_;
  platform::observe::Counter& resets_;
};

}  // namespace trellis::gateway::live
