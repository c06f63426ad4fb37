#include "platform/events/relay.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "platform/core/log.hpp"
#include "platform/events/outbox.hpp"

namespace trellis::platform::events {

namespace asio = boost::asio;

namespace {

// The PostgreSQL setting under which the outbox's relay policies let a transaction read and
// delete every org's events (services/*/migrations/postgres, docs/adr/0013).
constexpr std::string_view kOutboxRelaySetting = "trellis.outbox_relay";

std::int64_t UnixMs(const core::Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
      .count();
}

}  // namespace

OutboxRelay::OutboxRelay(std::vector<RelaySource> sources, ports::EventLog& log,
                         const core::Clock& clock, observe::Registry& metrics,
                         RelaySettings settings)
    : log_(log), clock_(clock), settings_(settings) {
  for (auto& s : sources) {
    Source source;
    observe::Labels labels{{"context", s.name}};
    source.relayed = &metrics.AddCounter("trellis_outbox_relayed_total",
                                         "Events moved from an outbox to the event log.", labels);
    source.errors = &metrics.AddCounter("trellis_outbox_relay_errors_total",
                                        "Failed relay rounds (the rows are retried).", labels);
    source.lag_seconds =
        &metrics.AddGauge("trellis_outbox_lag_seconds",
                          "Age of the oldest event still in the outbox at the last look.", labels);
    source.source = std::move(s);
    sources_.push_back(std::move(source));
  }
}

void OutboxRelay::Notify() { wake_.Advance(wake_ticks_.fetch_add(1) + 1); }

void OutboxRelay::Stop() {
  stopping_.store(true);
  Notify();
}

asio::awaitable<void> OutboxRelay::Run() {
  while (!stopping_.load()) {
    const std::int64_t seen = wake_.Last();
    auto moved = co_await RelayOnce();
    if (stopping_.load()) break;
    if (!moved) {
      core::LogLine(core::LogLevel::kWarn, "outbox relay round failed")
          .Str("error", moved.error().message)
          .Str("detail", moved.error().internal);
      // Not woken early by Notify: a failing database gets a breather.
      co_await wake_.Wait(wake_.Last(), settings_.error_backoff);
      continue;
    }
    co_await wake_.Wait(seen, settings_.poll_interval);
  }
}

ports::Awaitable<std::size_t> OutboxRelay::RelayOnce() {
  std::size_t total = 0;
  std::optional<core::Error> first_error;
  // A failing context does not hold back the others' events.
  for (auto& source : sources_) {
    auto moved = co_await Drain(source);
    if (!moved) {
      source.errors->Inc();
      if (!first_error) {
        first_error = moved.error();
        first_error->internal = "relay " + source.source.name + ": " + first_error->internal;
      }
      continue;
    }
    total += *moved;
  }
  if (first_error) co_return std::unexpected(std::move(*first_error));
  co_return total;
}

ports::Awaitable<std::size_t> OutboxRelay::Drain(Source& source) {
  std::size_t total = 0;
  while (!stopping_.load()) {
    std::vector<OutboxEntry> batch;
    const std::size_t limit = settings_.batch_size;
    // Every org's events: on PostgreSQL the outbox's relay policies admit this transaction
    // (docs/adr/0013); the setting is transaction-local. Built outside co_await (ADR 0004).
    ports::TransactionOptions read_options;
    read_options.ReadOnly().Setting(std::string(kOutboxRelaySetting), "on");
    auto read = co_await source.source.store->Transact(
        std::move(read_options), [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
          auto rows = co_await ReadOutbox(tx, limit);
          if (!rows) co_return std::unexpected(rows.error());
          batch = std::move(*rows);
          co_return core::Result<void>();
        });
    if (!read) co_return std::unexpected(read.error());
    if (batch.empty()) {
      source.lag_seconds->Set(0);
      break;
    }
    const auto age_ms = UnixMs(clock_) - batch.front().event.occurred_at_ms;
    source.lag_seconds->Set(age_ms > 0 ? static_cast<double>(age_ms) / 1000.0 : 0.0);

    std::vector<DomainEvent> events;
    std::vector<std::int64_t> seqs;
    events.reserve(batch.size());
    seqs.reserve(batch.size());
    for (auto& entry : batch) {
      seqs.push_back(entry.seq);
      events.push_back(std::move(entry.event));
    }
    auto appended = co_await log_.Append(std::move(events));
    if (!appended) co_return std::unexpected(appended.error());
    ports::TransactionOptions delete_options;
    delete_options.Setting(std::string(kOutboxRelaySetting), "on");
    auto deleted = co_await source.source.store->Transact(
        std::move(delete_options), [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
          co_return co_await DeleteFromOutbox(tx, seqs);
        });
    if (!deleted) co_return std::unexpected(deleted.error());
    source.relayed->Inc(seqs.size());
    total += seqs.size();
    if (seqs.size() < limit) {
      source.lag_seconds->Set(0);
      break;
    }
  }
  co_return total;
}

}  // namespace trellis::platform::events
