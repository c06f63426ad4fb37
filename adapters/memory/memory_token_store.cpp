#include "adapters/memory/memory_token_store.hpp"

#include <algorithm>
#include <charconv>
#include <string>
#include <system_error>

namespace trellis::adapters::memory {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::Revocation;
using platform::ports::RevocationPage;
using WallTime = platform::core::Clock::WallTime;

void MemoryTokenStore::Unlink(std::uint64_t seq) {
  auto it = log_.find(seq);
  if (it == log_.end()) return;
  by_expiry_.erase({it->second.expires_at, seq});
  by_session_.erase(it->second.session_id);
  log_.erase(it);
}

void MemoryTokenStore::Forget(WallTime now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    const std::uint64_t seq = by_expiry_.begin()->second;
    forgotten_max_ = std::max(forgotten_max_, seq);
    Unlink(seq);
  }
}

void MemoryTokenStore::DoRevoke(const std::string& session_id, WallTime expires_at) {
  const WallTime now = clock_.Now();
  std::lock_guard lock(mutex_);
  Forget(now);
  // Already over: it would be forgotten at once, and no token of it is valid anyway.
  if (expires_at <= now) return;
  if (auto found = by_session_.find(session_id); found != by_session_.end()) {
    if (log_.at(found->second).expires_at >= expires_at) return;
    // A later end: recorded again under a new number so that copies past the old one learn it.
    // Moving it is not forgetting it: every cursor that missed the old entry sees the new one.
    Unlink(found->second);
  }
  const std::uint64_t seq = ++last_seq_;
  Revocation revocation;
  revocation.session_id = session_id;
  revocation.expires_at = expires_at;
  log_.emplace(seq, std::move(revocation));
  by_session_.emplace(session_id, seq);
  by_expiry_.emplace(expires_at, seq);
}

Result<RevocationPage> MemoryTokenStore::DoRevokedSince(const std::string& cursor) {
  std::uint64_t after = 0;
  if (!cursor.empty()) {
    const char* end = cursor.data() + cursor.size();
    auto [ptr, ec] = std::from_chars(cursor.data(), end, after);
    if (ec != std::errc() || ptr != end) {
      return platform::core::Fail(ErrorCode::kInvalidArgument, "invalid revocation cursor",
                                  "revocation cursor is not a decimal sequence number: " + cursor);
    }
  }
  const WallTime now = clock_.Now();
  std::lock_guard lock(mutex_);
  Forget(now);
  RevocationPage page;
  if (!cursor.empty() && (after > last_seq_ || after < forgotten_max_)) {
    page.reset = true;
    return page;
  }
  for (auto it = log_.upper_bound(after); it != log_.end(); ++it)
    page.revoked.push_back(it->second);
  page.cursor = std::to_string(last_seq_);
  return page;
}

std::size_t MemoryTokenStore::Kept() const {
  std::lock_guard lock(mutex_);
  return log_.size();
}

boost::asio::awaitable<Result<void>> MemoryTokenStore::Revoke(
    std::string session_id, WallTime expires_at, platform::core::Clock::MonoTime deadline) {
  if (clock_.Monotonic() >= deadline) {
    co_return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                   "token store call after its deadline");
  }
  DoRevoke(session_id, expires_at);
  co_return Result<void>();
}

boost::asio::awaitable<Result<RevocationPage>> MemoryTokenStore::RevokedSince(
    std::string cursor, platform::core::Clock::MonoTime deadline) {
  if (clock_.Monotonic() >= deadline) {
    co_return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                   "token store call after its deadline");
  }
  co_return DoRevokedSince(cursor);
}

}  // namespace trellis::adapters::memory
