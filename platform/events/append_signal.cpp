#include "platform/events/append_signal.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

namespace trellis::platform::events {

namespace asio = boost::asio;

void AppendSignal::Advance(std::int64_t last) {
  std::list<Waiter> woken;
  {
    std::lock_guard lock(mu_);
    std::int64_t current = last_.load(std::memory_order_relaxed);
    if (last > current) last_.store(last, std::memory_order_release);
    woken.swap(waiters_);
  }
  // A timer may only be touched on its own executor; the waiter's coroutine runs there too, so
  // the cancel lands after it has started waiting (single-threaded loops, as the server runs).
  for (auto& w : woken) {
    asio::post(w.executor, [timer = w.timer] { timer->cancel(); });
  }
}

asio::awaitable<std::int64_t> AppendSignal::Wait(std::int64_t after,
                                                 std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor);
  timer->expires_after(timeout);
  {
    std::lock_guard lock(mu_);
    if (last_.load(std::memory_order_acquire) > after) co_return Last();
    waiters_.push_back(Waiter{executor, timer});
  }
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  {
    std::lock_guard lock(mu_);
    waiters_.remove_if([&](const Waiter& w) { return w.timer == timer; });
  }
  co_return Last();
}

}  // namespace trellis::platform::events
