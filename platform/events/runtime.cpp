#include "platform/events/runtime.hpp"

#include <boost/asio/co_spawn.hpp>
#include <exception>
#include <utility>

#include "platform/core/log.hpp"

namespace trellis::platform::events {

namespace asio = boost::asio;

EventsRuntime::EventsRuntime(std::unique_ptr<ports::EventLog> log, std::vector<RelaySource> sources,
                             const core::Clock& clock, observe::Registry& metrics,
                             EventsSettings settings)
    : log_(std::move(log)),
      metrics_(metrics),
      settings_(settings),
      relay_(std::move(sources), *log_, clock, metrics, settings.relay) {}

EventsRuntime::~EventsRuntime() {
  Stop();
  Wait();
}

Consumer& EventsRuntime::AddConsumer(std::string group, EventHandler handler) {
  return consumers_.emplace_back(std::move(group), *log_, std::move(handler), metrics_,
                                 settings_.consumer);
}

void EventsRuntime::AddTask(std::function<asio::awaitable<void>()> run,
                            std::function<void()> stop) {
  tasks_.push_back(Task{std::move(run), std::move(stop)});
}

void EventsRuntime::Spawn(asio::io_context& ctx, std::function<asio::awaitable<void>()> run) {
  {
    std::lock_guard lock(mu_);
    ++running_;
  }
  asio::co_spawn(ctx, std::move(run), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        core::LogLine(core::LogLevel::kError, "events task failed").Str("error", ex.what());
      } catch (...) {
        core::Log(core::LogLevel::kError, "events task failed");
      }
    }
    std::lock_guard lock(mu_);
    --running_;
    done_.notify_all();
  });
}

void EventsRuntime::Start(asio::io_context& ctx) {
  Spawn(ctx, [this] { return relay_.Run(); });
  for (auto& consumer : consumers_) {
    Spawn(ctx, [&consumer] { return consumer.Run(); });
  }
  for (auto& task : tasks_) Spawn(ctx, task.run);
}

void EventsRuntime::Stop() {
  relay_.Stop();
  for (auto& consumer : consumers_) consumer.Stop();
  for (auto& task : tasks_) {
    if (task.stop) task.stop();
  }
}

void EventsRuntime::Wait() {
  std::unique_lock lock(mu_);
  done_.wait(lock, [this] { return running_ == 0; });
}

}  // namespace trellis::platform::events
