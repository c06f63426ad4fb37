#include "platform/auth/revocation_list.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "platform/core/log.hpp"

namespace trellis::platform::auth {

namespace asio = boost::asio;

RevocationList::RevocationList(ports::TokenStore& store, const core::Clock& clock,
                               observe::Registry& metrics, std::chrono::milliseconds interval)
    : store_(store),
      clock_(clock),
      interval_(interval),
      refresh_errors_(metrics.AddCounter("trellis_revocation_refresh_errors_total",
                                         "Polls of the session revocation list that failed "
                                         "(the last copy stays in force).",
                                         {})) {
  metrics.AddCallbackGauge("trellis_revoked_sessions", "Revoked sessions this process knows of.",
                           {}, [this] { return static_cast<double>(Size()); });
}

RevocationList::~RevocationList() = default;

bool RevocationList::IsRevoked(std::string_view session_id) const {
  if (session_id.empty()) return false;
  std::lock_guard lock(mu_);
  if (revoked_.empty()) return false;
  const auto it = revoked_.find(session_id);
  return it != revoked_.end() && it->second > clock_.Now();
}

std::size_t RevocationList::Size() const {
  std::lock_guard lock(mu_);
  return revoked_.size();
}

asio::awaitable<core::Result<void>> RevocationList::Refresh(core::Clock::MonoTime deadline) {
  std::string cursor;
  {
    std::lock_guard lock(mu_);
    cursor = cursor_;
  }
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = co_await store_.RevokedSince(cursor, deadline);
    if (!page) co_return std::unexpected(page.error());
    std::lock_guard lock(mu_);
    if (page->reset) {
      // The store forgot what our cursor points past (a restart, a flush): read it all again.
      // Entries already known stay until they run out; a revocation is never undone.
      cursor_.clear();
      cursor.clear();
      continue;
    }
    const auto now = clock_.Now();
    for (auto& r : page->revoked) {
      auto& until = revoked_[r.session_id];
      until = std::max(until, r.expires_at);
    }
    std::erase_if(revoked_, [now](const auto& e) { return e.second <= now; });
    const bool more = !page->revoked.empty() && page->cursor != cursor;
    cursor_ = page->cursor;
    cursor = page->cursor;
    if (!more) break;
  }
  co_return core::Result<void>();
}

asio::awaitable<void> RevocationList::Run() {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(mu_);
    wake_ = timer;
  }
  while (!stopping_.load()) {
    auto r = co_await Refresh(clock_.Monotonic() + interval_ * 4);
    if (!r) {
      refresh_errors_.Inc();
      core::LogLine(core::LogLevel::kWarn, "session revocation list not refreshed")
          .Str("error", r.error().message);
    }
    if (stopping_.load()) break;
    timer->expires_after(interval_);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::lock_guard lock(mu_);
  wake_.reset();  // the timer belongs to the loop, which may go before this list
}

void RevocationList::Stop() {
  stopping_.store(true);
  std::shared_ptr<void> wake;
  {
    std::lock_guard lock(mu_);
    wake = wake_;
  }
  if (auto timer = std::static_pointer_cast<asio::steady_timer>(wake)) {
    asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
}

}  // namespace trellis::platform::auth
