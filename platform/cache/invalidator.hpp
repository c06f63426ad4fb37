// Cache invalidation driven by domain events (ADR 0019): each context declares which of its
// event types change which cache namespace, and the invalidator gives those namespaces new
// generations. It runs twice for every event: right after the commit, by the use case that
// appended it (so the writer's next read is fresh), and again from the event log as the
// consumer group "cache" (so an invalidation lost to a crash or an unreachable cache still
// happens once the event is relayed).
//
//   CacheInvalidator inv(cache);
//   inv.On("work.", "work:");                 // work.* events of org O invalidate "work:O"
//   co_await inv.Committed("work.task.updated", org, deadline);
//   events.AddConsumer("cache", [&](const DomainEvent& e) { return inv.Handle(e); });
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <utility>
#include <vector>

#include "platform/cache/cache_aside.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/events/event.hpp"

namespace trellis::platform::cache {

class CacheInvalidator {
 public:
  // `cache` and `clock` must outlive the invalidator.
  CacheInvalidator(CacheAside& cache, const core::Clock& clock) : cache_(cache), clock_(clock) {}

  // Events whose type starts with `type_prefix` invalidate namespace `ns_prefix` + org id.
  // Before any event is handled.
  void On(std::string type_prefix, std::string ns_prefix) {
    rules_.emplace_back(std::move(type_prefix), std::move(ns_prefix));
  }

  // The namespaces an event invalidates.
  [[nodiscard]] std::vector<std::string> NamespacesOf(const std::string& type,
                                                      const std::string& org_id) const;

  // After a commit that appended an event of `type` for `org_id`. A failure is counted by
  // the cache and left to the event-log path; the caller's request does not fail.
  [[nodiscard]] boost::asio::awaitable<void> Committed(std::string type, std::string org_id,
                                                       core::Clock::MonoTime deadline);

  // The event-log consumer: an error makes the consumer retry the event later.
  [[nodiscard]] boost::asio::awaitable<core::Result<void>> Handle(events::DomainEvent event);

 private:
  CacheAside& cache_;
  const core::Clock& clock_;
  std::vector<std::pair<std::string, std::string>> rules_;
};

}  // namespace trellis::platform::cache
