// The event log port: an append-only log of domain events with offsets, read by consumer groups.
// The embedded shape keeps it in SQLite (adapters/sqlite/sqlite_event_log.hpp); the distributed
// shape maps it onto Kafka (one topic, the org id as key, offsets per partition).
//
// Appends are idempotent by event id, so the outbox relay may re-append after a crash. Offsets
// grow in append order and are never reused. A consumer group stores the offset of the last
// event it has finished; it resumes after it.
//
//   co_await log.Append(std::move(batch));                       // duplicates are skipped
//   auto events = co_await log.Read(after, 100, std::nullopt);   // offsets > after, ascending
//   if (events->empty()) co_await log.WaitForAppend(after, 1s);  // no hot polling
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/core/error.hpp"
#include "platform/events/event.hpp"

namespace trellis::platform::ports {

template <typename T>
using LogAwaitable = boost::asio::awaitable<core::Result<T>>;

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends the events in order, assigning each the next offset; an event whose id is already
  // in the log is skipped (not an error). All or nothing.
  [[nodiscard]] virtual LogAwaitable<void> Append(std::vector<events::DomainEvent> events) = 0;

  // Up to `limit` events with offset > after_offset, ascending, each with its offset set;
  // with org_id, only that org's events.
  [[nodiscard]] virtual LogAwaitable<std::vector<events::DomainEvent>> Read(
      std::int64_t after_offset, std::size_t limit, std::optional<std::string> org_id) = 0;

  // Records that `group` has finished every event up to `offset`.
  [[nodiscard]] virtual LogAwaitable<void> CommitOffset(std::string group, std::int64_t offset) = 0;
  // The group's committed offset; 0 (before the first event) for a new group.
  [[nodiscard]] virtual LogAwaitable<std::int64_t> CommittedOffset(std::string group) = 0;

  // The highest offset appended so far (0 when empty). Cheap: no I/O.
  [[nodiscard]] virtual std::int64_t LastOffset() const = 0;

  // Completes when LastOffset() > after_offset or the timeout has passed, whichever is first,
  // and yields LastOffset(). Resumes on the caller's executor.
  [[nodiscard]] virtual boost::asio::awaitable<std::int64_t> WaitForAppend(
      std::int64_t after_offset, std::chrono::milliseconds timeout) = 0;
};

}  // namespace trellis::platform::ports
