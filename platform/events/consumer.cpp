#include "platform/events/consumer.hpp"

#include <algorithm>
#include <utility>

#include "platform/core/log.hpp"

namespace trellis::platform::events {

namespace asio = boost::asio;

namespace {

// 2^kMaxShift * initial is past any sensible backoff_max; stops the shift overflowing.
constexpr int kMaxShift = 30;

}  // namespace

Consumer::Consumer(std::string group, ports::EventLog& log, EventHandler handler,
                   observe::Registry& metrics, ConsumerSettings settings)
    : group_(std::move(group)),
      log_(log),
      handler_(std::move(handler)),
      settings_(settings),
      random_(std::random_device{}()),
      processed_(metrics.AddCounter("trellis_consumer_processed_total",
                                    "Events a consumer group handled and committed.",
                                    {{"group", group_}})),
      failures_(metrics.AddCounter("trellis_consumer_failures_total",
                                   "Failed handler calls (each is retried).", {{"group", group_}})),
      lag_(metrics.AddGauge("trellis_consumer_lag_events",
                            "Events in the log after the group's position.", {{"group", group_}})) {
}

void Consumer::Stop() {
  stopping_.store(true);
  stop_signal_.Advance(1);
}

std::chrono::milliseconds Consumer::Backoff(int attempt) {
  const int shift = std::clamp(attempt - 1, 0, kMaxShift);
  const auto initial = std::max<std::int64_t>(settings_.backoff_initial.count(), 1);
  const auto cap = std::max<std::int64_t>(settings_.backoff_max.count(), initial);
  const std::int64_t d = std::min(cap, initial << shift);
  std::uniform_int_distribution<std::int64_t> pick(d / 2, d);
  return std::chrono::milliseconds(pick(random_));
}

asio::awaitable<void> Consumer::Run() {
  std::int64_t position = 0;
  // Even reading where to start is retried: a consumer that cannot start must not skip ahead.
  for (int attempt = 1; !stopping_.load(); ++attempt) {
    auto committed = co_await log_.CommittedOffset(group_);
    if (committed) {
      position = *committed;
      break;
    }
    failures_.Inc();
    co_await stop_signal_.Wait(0, Backoff(attempt));
  }
  position_.store(position);

  int read_attempt = 0;
  while (!stopping_.load()) {
    auto events = co_await log_.Read(position, settings_.batch_size, std::nullopt);
    if (!events) {
      failures_.Inc();
      core::LogLine(core::LogLevel::kWarn, "event log read failed")
          .Str("group", group_)
          .Str("detail", events.error().internal);
      co_await stop_signal_.Wait(0, Backoff(++read_attempt));
      continue;
    }
    read_attempt = 0;
    if (events->empty()) {
      lag_.Set(0);
      co_await log_.WaitForAppend(position, settings_.poll_interval);
      continue;
    }
    for (const auto& event : *events) {
      if (!co_await Handle(event)) co_return;
      position = event.offset;
      position_.store(position);
      processed_.Inc();
      lag_.Set(static_cast<double>(std::max<std::int64_t>(log_.LastOffset() - position, 0)));
      // A failed commit is not retried here: the next one covers it (offsets only move
      // forward), and at worst a restart hands the handler a few events again.
      if (auto c = co_await log_.CommitOffset(group_, position); !c) {
        failures_.Inc();
        core::LogLine(core::LogLevel::kWarn, "consumer offset commit failed")
            .Str("group", group_)
            .Str("detail", c.error().internal);
      }
    }
  }
}

asio::awaitable<bool> Consumer::Handle(const DomainEvent& event) {
  for (int attempt = 1; !stopping_.load(); ++attempt) {
    auto handled = co_await handler_(event);
    if (handled) co_return true;
    failures_.Inc();
    core::LogLine(core::LogLevel::kWarn, "event handler failed; retrying")
        .Str("group", group_)
        .Str("event_id", event.id)
        .Int("offset", event.offset)
        .Int("attempt", attempt)
        .Str("detail",
             handled.error().internal.empty() ? handled.error().message : handled.error().internal);
    co_await stop_signal_.Wait(0, Backoff(attempt));
  }
  co_return false;
}

}  // namespace trellis::platform::events
