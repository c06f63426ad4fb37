// `trellis serve --demo`: a demo org with a user, projects, tasks and comments, so a newcomer
// has something to look at. Seeding twice changes nothing (the demo user marks it done).
//
//   auto seeded = SeedDemo(product, call);   // how to sign in, or why not
#pragma once

#include <string>

#include "cmd/trellis/product.hpp"
#include "platform/core/error.hpp"

namespace trellis::cmd {

inline constexpr const char* kDemoEmail = "demo@trellis.test";
inline constexpr const char* kDemoPassword = "trellis-demo-password";

struct DemoSeed {
  bool created = false;  // false: it was already there
  std::string org_id;
};

[[nodiscard]] platform::core::Result<DemoSeed> SeedDemo(Product& product);

}  // namespace trellis::cmd
