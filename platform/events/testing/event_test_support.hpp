// Helpers for the events module's tests: a context database with an outbox, an event log in a
// temp dir, a coroutine runner and a polling wait.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <thread>
#include <utility>

#include "platform/core/clock.hpp"
#include "platform/ports/run_sync.hpp"

namespace trellis::platform::events::testing {

using ::trellis::platform::ports::RunSync;

// Polls pred until it holds or the timeout passes (real time: it waits for other threads);
// the last answer.
template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto& clock = core::SystemClock::Instance();
  const auto deadline = clock.Monotonic() + timeout;
  while (clock.Monotonic() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

inline constexpr const char* kOutboxDdl =
    "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, type TEXT NOT "
    "NULL, org_id TEXT NOT NULL, actor_id TEXT NOT NULL, subject_id TEXT NOT NULL, payload TEXT "
    "NOT NULL, occurred_at_ms INTEGER NOT NULL, audience TEXT NOT NULL)";

}  // namespace trellis::platform::events::testing
