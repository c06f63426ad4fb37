#include "platform/core/clock.hpp"

namespace trellis::platform::core {

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace trellis::platform::core
