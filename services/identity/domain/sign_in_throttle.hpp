// In-process throttling of sign-in attempts at the built-in issuer: per account (failures in a
// window lock it for the rest of the window) and per client address (attempts per window).
// The Redis tier later moves this behind a port; the rules stay here. Thread-safe.
//
//   SignInThrottle throttle(settings, clock);
//   if (auto v = throttle.Check(email, address); v != ThrottleVerdict::kAllowed) { ... }
//   throttle.RecordAttempt(address);
//   ok ? throttle.RecordSuccess(email) : throttle.RecordFailure(email);
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "platform/core/clock.hpp"

namespace trellis::identity::domain {

struct SignInThrottleSettings {
  int account_max_failures = 5;                           // failed sign-ins before the lock
  std::chrono::milliseconds account_window{15 * 60'000};  // counted from the first failure
  int address_max_attempts = 20;                          // sign-in/sign-up posts per address
  std::chrono::milliseconds address_window{60'000};
  // Entries kept per map; past it expired entries are swept, and if none expired the oldest
  // window is dropped, so a flood of distinct keys cannot grow memory without bound.
  std::size_t max_tracked = 100'000;
};

enum class ThrottleVerdict { kAllowed, kAccountLocked, kAddressLimited };

class SignInThrottle {
 public:
  SignInThrottle(SignInThrottleSettings settings, const platform::core::Clock& clock)
      : settings_(settings), clock_(clock) {}

  // Whether an attempt for this account (lower-cased email) from this address may proceed.
  [[nodiscard]] ThrottleVerdict Check(std::string_view account, std::string_view address);
  // Counts one attempt from the address (call for every sign-in or sign-up post let through).
  void RecordAttempt(std::string_view address);
  void RecordFailure(std::string_view account);
  void RecordSuccess(std::string_view account);

 private:
  struct Window {
    platform::core::Clock::MonoTime start{};
    int count = 0;
  };
  void Bump(std::map<std::string, Window, std::less<>>& map, std::string_view key,
            std::chrono::milliseconds window);
  void Sweep(std::map<std::string, Window, std::less<>>& map, std::chrono::milliseconds window,
             platform::core::Clock::MonoTime now) const;

  const SignInThrottleSettings settings_;
  const platform::core::Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Window, std::less<>> accounts_;   // guarded by mu_
  std::map<std::string, Window, std::less<>> addresses_;  // guarded by mu_
};

}  // namespace trellis::identity::domain
