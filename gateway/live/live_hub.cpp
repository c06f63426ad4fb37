#include "gateway/live/live_hub.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <charconv>
#include <utility>

#include "platform/core/log.hpp"
#include "platform/events/envelope.hpp"
#include "platform/http/consistency.hpp"
#include "platform/http/problem.hpp"

namespace trellis::gateway::live {

namespace asio = boost::asio;
namespace core = platform::core;
namespace http = platform::http;
using core::Error;
using core::ErrorCode;
using platform::events::DomainEvent;

namespace {

constexpr std::string_view kResetEvent = "reset";
constexpr std::string_view kResetData = R"({"reason":"missed events; reload"})";

using platform::http::CallOf;

// The offset a reconnecting client last saw: Last-Event-ID, else ?last_event_id=; empty is
// absent. kInvalidArgument unless a non-negative integer.
core::Result<std::optional<std::int64_t>> ResumePoint(const http::Request& req) {
  std::string text;
  if (auto header = req.FindHeader("last-event-id")) {
    text = std::string(*header);
  } else if (auto param = req.QueryParam("last_event_id")) {
    text = std::move(*param);
  }
  if (text.empty()) return std::optional<std::int64_t>();
  std::int64_t offset = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), offset);
  if (ec != std::errc() || end != text.data() + text.size() || offset < 0) {
    return core::Fail(ErrorCode::kInvalidArgument,
                      "Last-Event-ID must be the id of an event from this stream");
  }
  return std::optional<std::int64_t>(offset);
}

}  // namespace

LiveHub::LiveHub(platform::ports::EventLog& log, identity::v1::IdentityClient& identity,
                 platform::observe::Registry& metrics, LiveSettings settings)
    : log_(log),
      identity_(identity),
      settings_(settings),
      tail_(log.LastOffset()),
      subscribers_(metrics.AddGauge("trellis_live_subscribers", "Open live event streams.", {})),
      sent_(metrics.AddCounter("trellis_live_events_sent_total",
                               "Events queued to live streams (replays included).", {})),
      dropped_(metrics.AddCounter("trellis_live_dropped_total",
                                  "Live streams dropped: closed or fallen behind.", {})),
      resets_(metrics.AddCounter("trellis_live_resets_total",
                                 "Resuming clients told to reload (too much missed).", {})) {}

std::size_t LiveHub::Subscribers() const {
  std::lock_guard lock(mu_);
  return count_;
}

void LiveHub::Stop() {
  stopping_.store(true);
  std::lock_guard lock(mu_);
  for (auto& [org, subs] : by_org_) {
    for (auto& sub : subs) sub->channel->Close();
  }
  by_org_.clear();
  count_ = 0;
  subscribers_.Set(0);
}

asio::awaitable<void> LiveHub::Run() {
  std::int64_t position = 0;
  {
    std::lock_guard lock(mu_);
    position = tail_;
  }
  while (!stopping_.load()) {
    auto events = co_await log_.Read(position, settings_.batch_size, std::nullopt);
    if (!events) {
      core::LogLine(core::LogLevel::kWarn, "live hub: event log read failed")
          .Str("detail", events.error().internal);
      co_await log_.WaitForAppend(log_.LastOffset(), settings_.poll_interval);
      continue;
    }
    if (events->empty()) {
      co_await log_.WaitForAppend(position, settings_.poll_interval);
      continue;
    }
    for (const auto& event : *events) {
      if (stopping_.load()) break;
      Dispatch(event);
      position = event.offset;
    }
  }
}

bool LiveHub::Deliver(Subscriber& sub, const Frame& frame) {
  if (!core::AtLeast(sub.role, frame.audience)) return true;
  return sub.channel->Send(frame.type, *frame.data, std::to_string(frame.offset));
}

void LiveHub::Dispatch(const DomainEvent& event) {
  Frame frame;
  frame.offset = event.offset;
  frame.audience = event.audience;
  frame.type = event.type;
  frame.data = std::make_shared<const std::string>(platform::events::EnvelopeJson(event));

  std::lock_guard lock(mu_);
  tail_ = std::max(tail_, event.offset);
  auto it = by_org_.find(event.org_id);
  if (it == by_org_.end()) return;
  auto& subs = it->second;
  const auto gone = std::remove_if(subs.begin(), subs.end(), [&](const auto& sub) {
    if (sub->replaying) {
      if (!core::AtLeast(sub->role, frame.audience)) return false;
      if (sub->held.size() >= settings_.replay_limit) {
        sub->overflowed = true;
      } else {
        sub->held.push_back(frame);
      }
      return false;
    }
    if (Deliver(*sub, frame)) {
      if (core::AtLeast(sub->role, frame.audience)) sent_.Inc();
      return false;
    }
    dropped_.Inc();
    return true;
  });
  count_ -= static_cast<std::size_t>(subs.end() - gone);
  subs.erase(gone, subs.end());
  if (subs.empty()) by_org_.erase(it);
  subscribers_.Set(static_cast<double>(count_));
}

void LiveHub::Remove(const std::shared_ptr<Subscriber>& sub) {
  std::lock_guard lock(mu_);
  auto it = by_org_.find(sub->org_id);
  if (it == by_org_.end()) return;
  auto& subs = it->second;
  auto found = std::find(subs.begin(), subs.end(), sub);
  if (found == subs.end()) return;
  subs.erase(found);
  --count_;
  if (subs.empty()) by_org_.erase(it);
  subscribers_.Set(static_cast<double>(count_));
  dropped_.Inc();
}

void LiveHub::FinishReplay(const std::shared_ptr<Subscriber>& sub, bool reset) {
  bool refused = false;
  {
    std::lock_guard lock(mu_);
    if (reset || sub->overflowed) {
      // Reload, then live after the hub's position: whatever was held is covered by the reload.
      resets_.Inc();
      refused = !sub->channel->Send(kResetEvent, kResetData, std::to_string(tail_));
    } else {
      for (const auto& frame : sub->held) {
        if (!Deliver(*sub, frame)) {
          refused = true;
          break;
        }
        sent_.Inc();
      }
    }
    sub->held.clear();
    sub->held.shrink_to_fit();
    sub->replaying = false;
  }
  if (refused) Remove(sub);
}

asio::awaitable<void> LiveHub::Replay(std::shared_ptr<Subscriber> sub, std::int64_t after,
                                      std::int64_t until) {
  if (after >= until) {
    // Nothing missed; an id from the future (another log, say) cannot be resumed.
    FinishReplay(sub, after > until);
    co_return;
  }
  auto events = co_await log_.Read(after, settings_.replay_limit + 1, sub->org_id);
  if (!events) {
    core::LogLine(core::LogLevel::kWarn, "live hub: replay read failed")
        .Str("detail", events.error().internal);
    FinishReplay(sub, true);
    co_return;
  }
  const auto missed = std::count_if(events->begin(), events->end(),
                                    [&](const DomainEvent& e) { return e.offset <= until; });
  if (static_cast<std::size_t>(missed) > settings_.replay_limit) {
    FinishReplay(sub, true);
    co_return;
  }
  for (const auto& event : *events) {
    if (event.offset > until) break;  // the tail delivers these (held until the replay ends)
    if (!core::AtLeast(sub->role, event.audience)) continue;
    if (!sub->channel->Send(event.type, platform::events::EnvelopeJson(event),
                            std::to_string(event.offset))) {
      Remove(sub);
      co_return;
    }
    sent_.Inc();
  }
  FinishReplay(sub, false);
}

asio::awaitable<http::Response> LiveHub::Handle(http::Request& req) {
  const core::Principal* who = req.ctx.principal.get();
  if (!who) {
    co_return http::Problem(Error(ErrorCode::kUnauthenticated, "sign in first"), req.path,
                            req.ctx.request_id);
  }
  const std::string org_id(req.Param("org"));
  auto resolved = co_await identity::v1::RoleIn(identity_, *who, org_id, CallOf(req));
  if (!resolved) co_return http::Problem(resolved.error(), req.path, req.ctx.request_id);
  const core::Role role = *resolved;
  auto resume = ResumePoint(req);
  if (!resume) co_return http::Problem(resume.error(), req.path, req.ctx.request_id);
  if (stopping_.load()) {
    co_return http::Problem(Error(ErrorCode::kUnavailable, "shutting down"), req.path,
                            req.ctx.request_id);
  }

  auto sub = std::make_shared<Subscriber>();
  sub->org_id = org_id;
  sub->role = role;
  sub->channel = std::make_shared<http::SseChannel>();
  sub->replaying = resume->has_value();
  std::int64_t until = 0;
  {
    std::lock_guard lock(mu_);
    until = tail_;
    by_org_[org_id].push_back(sub);
    ++count_;
    subscribers_.Set(static_cast<double>(count_));
  }
  auto channel = sub->channel;
  if (*resume) {
    // After the response: the server attaches the channel only once the handler returns, and a
    // long replay must drain through the connection, not pile up before it.
    auto executor = co_await asio::this_coro::executor;
    const std::int64_t after = **resume;
    asio::co_spawn(executor, Replay(std::move(sub), after, until), asio::detached);
  }
  // The wire adds Cache-Control: no-store and X-Accel-Buffering: no to every event stream.
  co_return http::Response::EventStream(std::move(channel));
}

void LiveHub::AddRoutes(http::Router& router) {
  router.Add(http::Method::kGet, "/api/v1/orgs/{org}/events",
             [this](http::Request& req) { return Handle(req); });
}

}  // namespace trellis::gateway::live
