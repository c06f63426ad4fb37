#include "platform/events/relay.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "platform/core/log.hpp"
#include "platform/events/outbox.hpp"
#include "platform/store/fencing.hpp"

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
    : log_(log),
      clock_(clock),
      settings_(std::move(settings)),
      leading_(settings_.locks == nullptr) {
  if (settings_.lease_renew_interval >= settings_.lease_ttl) {
    settings_.lease_renew_interval = settings_.lease_ttl / 3;
  }
  if (settings_.locks != nullptr) {
    observe::Labels lease{{"lease", settings_.lease_name}};
    leader_ = &metrics.AddGauge("trellis_outbox_relay_leader",
                                "1 while this process's outbox relay holds its lease.", lease);
    fenced_ = &metrics.AddCounter(
        "trellis_outbox_relay_fenced_total",
        "Relay deletes refused because a newer leader's fencing token was recorded.", lease);
  }
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
    // A leader must come back in time to renew; a follower, to take over a lapsed lease.
    const auto wait = settings_.locks != nullptr
                          ? std::min(settings_.poll_interval, settings_.lease_renew_interval)
                          : settings_.poll_interval;
    co_await wake_.Wait(seen, wait);
  }
  co_await Resign();
}

ports::Awaitable<bool> OutboxRelay::Lead() {
  ports::LockService* locks = settings_.locks;
  if (locks == nullptr) co_return true;
  // Measured before the call: the lease runs from no later than this.
  const auto now = clock_.Monotonic();
  const auto deadline = now + settings_.lease_renew_interval;
  if (lease_) {
    if (now < renew_at_) co_return true;
    ports::Lease held = *lease_;  // a named copy: no temporary in the co_await (ADR 0004)
    auto renewed = co_await locks->Renew(std::move(held), settings_.lease_ttl, deadline);
    if (renewed && *renewed) {
      renew_at_ = now + settings_.lease_renew_interval;
      co_return true;
    }
    StepDown(renewed ? "lease lost" : "lease renewal failed");
    if (!renewed) co_return std::unexpected(renewed.error());
    // Lost: it ran out or was taken; try to take it again below (a new token if it is free).
  } else if (now < acquire_at_) {
    co_return false;
  }
  std::string name = settings_.lease_name;
  std::string owner = settings_.lease_owner;
  auto acquired =
      co_await locks->Acquire(std::move(name), std::move(owner), settings_.lease_ttl, deadline);
  acquire_at_ = now + settings_.lease_renew_interval;
  if (!acquired) co_return std::unexpected(acquired.error());
  if (!*acquired) co_return false;
  lease_ = std::move(**acquired);
  renew_at_ = now + settings_.lease_renew_interval;
  fencing_token_.store(lease_->fencing_token);
  leading_.store(true);
  leader_->Set(1);
  core::LogLine(core::LogLevel::kInfo, "outbox relay leads")
      .Str("lease", settings_.lease_name)
      .Str("owner", settings_.lease_owner)
      .Int("fencing_token", lease_->fencing_token);
  co_return true;
}

void OutboxRelay::StepDown(const char* why) {
  if (!lease_) return;
  core::LogLine(core::LogLevel::kWarn, "outbox relay steps down")
      .Str("lease", settings_.lease_name)
      .Str("owner", settings_.lease_owner)
      .Int("fencing_token", lease_->fencing_token)
      .Str("reason", why);
  lease_.reset();
  leading_.store(false);
  leader_->Set(0);
}

asio::awaitable<void> OutboxRelay::Resign() {
  if (settings_.locks == nullptr || !lease_) co_return;
  ports::Lease held = *lease_;
  lease_.reset();
  leading_.store(false);
  leader_->Set(0);
  auto released = co_await settings_.locks->Release(
      std::move(held), clock_.Monotonic() + settings_.lease_renew_interval);
  if (!released) {
    // It runs out by itself; the next leader only waits longer.
    core::LogLine(core::LogLevel::kWarn, "outbox relay could not release its lease")
        .Str("lease", settings_.lease_name)
        .Str("error", released.error().message)
        .Str("detail", released.error().internal);
  }
}

ports::Awaitable<std::size_t> OutboxRelay::RelayOnce() {
  auto leading = co_await Lead();
  if (!leading) co_return std::unexpected(leading.error());
  if (!*leading) co_return std::size_t{0};
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
    // Every batch under a lease still held (renewed here when due), and its delete fenced with
    // the token of that lease: if this relay is paused from here on past its lease, a newer
    // leader's token is recorded by then and the delete below is refused.
    auto leading = co_await Lead();
    if (!leading) co_return std::unexpected(leading.error());
    if (!*leading) break;
    std::optional<std::int64_t> fence;
    if (lease_) fence = lease_->fencing_token;
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
          if (fence) {
            auto checked = co_await store::CheckFence(tx, settings_.lease_name, *fence);
            if (!checked) co_return checked;
          }
          co_return co_await DeleteFromOutbox(tx, seqs);
        });
    if (!deleted) {
      if (fence && store::IsStaleFence(deleted.error())) {
        // A newer leader took over while this batch was in flight; its events are in the log
        // (or will be: the new leader relays the rows left here), none is lost.
        fenced_->Inc();
        StepDown("fenced off by a newer leader");
      }
      co_return std::unexpected(deleted.error());
    }
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
