#include "services/identity/domain/sign_in_throttle.hpp"

#include <algorithm>

namespace trellis::identity::domain {

ThrottleVerdict SignInThrottle::Check(std::string_view account, std::string_view address) {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  if (auto it = addresses_.find(address); it != addresses_.end()) {
    if (now - it->second.start < settings_.address_window &&
        it->second.count >= settings_.address_max_attempts) {
      return ThrottleVerdict::kAddressLimited;
    }
  }
  if (auto it = accounts_.find(account); it != accounts_.end()) {
    if (now - it->second.start < settings_.account_window &&
        it->second.count >= settings_.account_max_failures) {
      return ThrottleVerdict::kAccountLocked;
    }
  }
  return ThrottleVerdict::kAllowed;
}

void SignInThrottle::RecordAttempt(std::string_view address) {
  std::lock_guard lock(mu_);
  Bump(addresses_, address, settings_.address_window);
}

void SignInThrottle::RecordFailure(std::string_view account) {
  std::lock_guard lock(mu_);
  Bump(accounts_, account, settings_.account_window);
}

void SignInThrottle::RecordSuccess(std::string_view account) {
  std::lock_guard lock(mu_);
  if (auto it = accounts_.find(account); it != accounts_.end()) accounts_.erase(it);
}

void SignInThrottle::Bump(std::map<std::string, Window, std::less<>>& map, std::string_view key,
                          std::chrono::milliseconds window) {
  const auto now = clock_.Monotonic();
  auto it = map.find(key);
  if (it == map.end()) {
    if (map.size() >= settings_.max_tracked) Sweep(map, window, now);
    it = map.emplace(std::string(key), Window{now, 0}).first;
  } else if (now - it->second.start >= window) {
    it->second = Window{now, 0};
  }
  ++it->second.count;
}

void SignInThrottle::Sweep(std::map<std::string, Window, std::less<>>& map,
                           std::chrono::milliseconds window,
                           platform::core::Clock::MonoTime now) const {
  std::erase_if(map, [&](const auto& entry) { return now - entry.second.start >= window; });
  if (map.size() < settings_.max_tracked) return;
  auto oldest = std::min_element(map.begin(), map.end(), [](const auto& a, const auto& b) {
    return a.second.start < b.second.start;
  });
  if (oldest != map.end()) map.erase(oldest);
}

}  // namespace trellis::identity::domain
