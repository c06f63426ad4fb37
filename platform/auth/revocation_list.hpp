// This process's copy of the session revocation list (the token store port,
// platform/ports/token_store.hpp), so that checking an access token's `sid` costs no round trip:
// Run() polls the store every `interval` for revocations recorded since its last look, and a
// store that restarted or forgot (RevocationPage::reset) is read again from the start. A session
// revoked in any process is refused here within interval + one round trip (≤ 1 s with the
// defaults). While the store is unreachable the copy keeps what it has and keeps trying.
//
//   RevocationList revoked(tokens, clock, registry);
//   co_spawn(background, revoked.Run(), detached);   ...   revoked.Stop();
//   if (revoked.IsRevoked(token.session_id)) ... 401
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/token_store.hpp"

namespace trellis::platform::auth {

class RevocationList {
 public:
  // `store`, `clock` and `metrics` must outlive the list.
  RevocationList(ports::TokenStore& store, const core::Clock& clock, observe::Registry& metrics,
                 std::chrono::milliseconds interval = std::chrono::milliseconds(250));
  ~RevocationList();
  RevocationList(const RevocationList&) = delete;
  RevocationList& operator=(const RevocationList&) = delete;

  // Whether the session is revoked (and its revocation has not run out). Thread-safe, no I/O.
  [[nodiscard]] bool IsRevoked(std::string_view session_id) const;

  // One look at the store: adds what was revoked since the last look.
  [[nodiscard]] boost::asio::awaitable<core::Result<void>> Refresh(core::Clock::MonoTime deadline);

  // Refreshes every interval until Stop().
  [[nodiscard]] boost::asio::awaitable<void> Run();
  void Stop();

  [[nodiscard]] std::size_t Size() const;

 private:
  ports::TokenStore& store_;
  const core::Clock& clock_;
  const std::chrono::milliseconds interval_;
  observe::Counter& refresh_errors_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::shared_ptr<void> wake_;  // Run()'s timer, to cut its sleep short on Stop(); guarded by mu_
  std::string cursor_;          // guarded by mu_
  // Looked up by string_view without a copy (IsRevoked runs on every authenticated request).
  struct SidHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, core::Clock::WallTime, SidHash, std::equal_to<>>
      revoked_;  // guarded by mu_
};

}  // namespace trellis::platform::auth
