// Identifiers, injected: UUIDv7 (RFC 9562) for entities and request ids.
//
//   UuidV7Generator ids(clock);
//   std::string id = ids.Next();  // "018f3c1e-7d2a-7b3c-9a4e-5f6a7b8c9d0e"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "platform/core/clock.hpp"

namespace trellis::platform::core {

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  [[nodiscard]] virtual std::string Next() = 0;
};

// Time-ordered UUIDv7: 48-bit Unix milliseconds, then random bits. Safe to call from any
// thread; each thread draws from its own random engine seeded by the operating system.
class UuidV7Generator final : public IdGenerator {
 public:
  explicit UuidV7Generator(const Clock& clock) : clock_(clock) {}

  // IdGenerator
  [[nodiscard]] std::string Next() override;

 private:
  const Clock& clock_;
};

// Whether s is a canonical lowercase or uppercase UUID text of any version.
[[nodiscard]] bool IsUuid(std::string_view s);

}  // namespace trellis::platform::core
