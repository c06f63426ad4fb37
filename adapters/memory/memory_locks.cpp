#include "adapters/memory/memory_locks.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace trellis::adapters::memory {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::Lease;

namespace {

constexpr std::size_t kMinSweepSize = 1024;

Result<void> CheckTtl(std::chrono::milliseconds ttl) {
  if (ttl <= std::chrono::milliseconds::zero()) {
    return platform::core::Fail(ErrorCode::kInvalidArgument, "invalid lease ttl",
                                "lock ttl must be > 0, got " + std::to_string(ttl.count()) + "ms");
  }
  return {};
}

Result<void> CheckDeadline(const platform::core::Clock& clock,
                           platform::core::Clock::MonoTime deadline) {
  if (clock.Monotonic() >= deadline) {
    return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                "lock call after its deadline");
  }
  return {};
}

}  // namespace

std::int64_t MemoryLocks::NextToken() {
  const auto wall_us =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now().time_since_epoch())
          .count();
  last_token_ = std::max(last_token_ + 1, static_cast<std::int64_t>(wall_us));
  return last_token_;
}

void MemoryLocks::SweepIfLarge(platform::core::Clock::MonoTime now) {
  if (held_.size() < sweep_at_) return;
  std::erase_if(held_, [now](const auto& entry) { return entry.second.expires <= now; });
  sweep_at_ = std::max(kMinSweepSize, held_.size() * 2);
}

Result<std::optional<Lease>> MemoryLocks::TryAcquire(const std::string& name,
                                                     const std::string& owner,
                                                     std::chrono::milliseconds ttl) {
  if (auto ok = CheckTtl(ttl); !ok) return std::unexpected(ok.error());
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mutex_);
  SweepIfLarge(now);
  auto it = held_.find(name);
  if (it != held_.end() && it->second.expires > now && it->second.owner != owner) {
    return std::optional<Lease>();
  }
  Holder holder;
  holder.owner = owner;
  holder.token = NextToken();
  holder.expires = now + ttl;
  Lease lease;
  lease.name = name;
  lease.owner = owner;
  lease.fencing_token = holder.token;
  held_.insert_or_assign(name, std::move(holder));
  return std::optional<Lease>(std::move(lease));
}

Result<bool> MemoryLocks::TryRenew(const Lease& lease, std::chrono::milliseconds ttl) {
  if (auto ok = CheckTtl(ttl); !ok) return std::unexpected(ok.error());
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mutex_);
  auto it = held_.find(lease.name);
  if (it == held_.end() || it->second.owner != lease.owner ||
      it->second.token != lease.fencing_token || it->second.expires <= now) {
    return false;
  }
  it->second.expires = now + ttl;
  return true;
}

void MemoryLocks::DoRelease(const Lease& lease) {
  std::lock_guard lock(mutex_);
  auto it = held_.find(lease.name);
  if (it == held_.end() || it->second.owner != lease.owner ||
      it->second.token != lease.fencing_token) {
    return;
  }
  // Same owner and token: nobody has taken it since (a taker replaces the token), so erasing
  // a run-out entry changes nothing for anyone.
  held_.erase(it);
}

std::size_t MemoryLocks::Held() const {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(
      held_.begin(), held_.end(), [now](const auto& entry) { return entry.second.expires > now; }));
}

boost::asio::awaitable<Result<std::optional<Lease>>> MemoryLocks::Acquire(
    std::string name, std::string owner, std::chrono::milliseconds ttl,
    platform::core::Clock::MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  co_return TryAcquire(name, owner, ttl);
}

boost::asio::awaitable<Result<bool>> MemoryLocks::Renew(Lease lease, std::chrono::milliseconds ttl,
                                                        platform::core::Clock::MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  co_return TryRenew(lease, ttl);
}

boost::asio::awaitable<Result<void>> MemoryLocks::Release(
    Lease lease, platform::core::Clock::MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  DoRelease(lease);
  co_return Result<void>();
}

}  // namespace trellis::adapters::memory
