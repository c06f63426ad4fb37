// Time, injected. Code asks a Clock for the time so that tests can drive it.
//
//   SystemClock clock;
//   auto deadline = clock.Monotonic() + std::chrono::milliseconds(500);
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace trellis::platform::core {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using MonoTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Wall-clock time, for timestamps shown to people and stored.
  [[nodiscard]] virtual WallTime Now() const = 0;
  // Monotonic time, for deadlines and durations.
  [[nodiscard]] virtual MonoTime Monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  // Clock
  [[nodiscard]] WallTime Now() const override { return std::chrono::system_clock::now(); }
  [[nodiscard]] MonoTime Monotonic() const override { return std::chrono::steady_clock::now(); }

  // The process-wide instance, for the composition root.
  static const SystemClock& Instance();
};

// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
 public:
  // Clock
  [[nodiscard]] WallTime Now() const override {
    return WallTime(
        std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(wall_ns_.load())));
  }
  [[nodiscard]] MonoTime Monotonic() const override {
    return MonoTime(
        std::chrono::duration_cast<MonoTime::duration>(std::chrono::nanoseconds(mono_ns_.load())));
  }

  void Advance(std::chrono::nanoseconds d) {
    wall_ns_ += d.count();
    mono_ns_ += d.count();
  }

 private:
  static constexpr std::int64_t kStartWallNs = 1'700'000'000'000'000'000;
  static constexpr std::int64_t kStartMonoNs = 1'000'000'000'000;
  std::atomic<std::int64_t> wall_ns_{kStartWallNs};
  std::atomic<std::int64_t> mono_ns_{kStartMonoNs};
};

}  // namespace trellis::platform::core
