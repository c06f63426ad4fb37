// The embedded event log: the EventLog port on its own SQLite file (events.db), through the
// SqlStore port, with its schema in adapters/sqlite/migrations/event_log/ (compiled into the
// binary and applied by Open).
//
// Offsets are SQLite AUTOINCREMENT row ids: assigned by the single writer in append order and
// never reused. Waiters for new events are woken in-process (one process owns the file).
//
//   auto log = co_await SqliteEventLog::Open(settings, clock, registry);
//   co_await (*log)->Append(std::move(events));
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/core/clock.hpp"
#include "platform/events/append_signal.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/event_log.hpp"

namespace trellis::adapters::sqlite {

struct EventLogSettings {
  std::filesystem::path path;  // events.db under data_dir
  std::size_t readers = 2;
};

class SqliteEventLog final : public platform::ports::EventLog {
 public:
  // Opens the file, applies the migrations, reads the last offset.
  [[nodiscard]] static boost::asio::awaitable<
      platform::core::Result<std::unique_ptr<SqliteEventLog>>>
  Open(EventLogSettings settings, const platform::core::Clock& clock,
       platform::observe::Registry& metrics);

  // EventLog
  [[nodiscard]] platform::ports::LogAwaitable<void> Append(
      std::vector<platform::events::DomainEvent> events) override;
  [[nodiscard]] platform::ports::LogAwaitable<std::vector<platform::events::DomainEvent>> Read(
      std::int64_t after_offset, std::size_t limit, std::optional<std::string> org_id) override;
  [[nodiscard]] platform::ports::LogAwaitable<void> CommitOffset(std::string group,
                                                                 std::int64_t offset) override;
  [[nodiscard]] platform::ports::LogAwaitable<std::int64_t> CommittedOffset(
      std::string group) override;
  [[nodiscard]] std::int64_t LastOffset() const override { return signal_.Last(); }
  [[nodiscard]] boost::asio::awaitable<std::int64_t> WaitForAppend(
      std::int64_t after_offset, std::chrono::milliseconds timeout) override;

 private:
  SqliteEventLog(std::unique_ptr<SqliteStore> store, const platform::core::Clock& clock,
                 platform::observe::Registry& metrics);

  std::unique_ptr<SqliteStore> store_;
  const platform::core::Clock& clock_;
  platform::events::AppendSignal signal_;
  platform::observe::Counter& appended_;
  platform::observe::Counter& duplicates_;
};

}  // namespace trellis::adapters::sqlite
