#include "platform/core/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace trellis::platform::core {
namespace {

TEST(UuidV7Test, HasVersionVariantAndTimestamp) {
  ManualClock clock;
  UuidV7Generator ids(clock);
  const std::string id = ids.Next();
  ASSERT_TRUE(IsUuid(id)) << id;
  EXPECT_EQ(id[14], '7');
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
  // ManualClock starts at 1.7e18 ns = 1'700'000'000'000 ms = 0x018bcfe56800.
  EXPECT_EQ(id.substr(0, 13), "018bcfe5-6800");
}

TEST(UuidV7Test, UniqueAndOrderedByTime) {
  ManualClock clock;
  UuidV7Generator ids(clock);
  std::set<std::string> seen;
  std::string last;
  for (int i = 0; i < 1000; ++i) {
    clock.Advance(std::chrono::milliseconds(1));
    auto id = ids.Next();
    EXPECT_TRUE(seen.insert(id).second);
    EXPECT_LT(last, id);
    last = id;
  }
}

TEST(UuidTest, Validation) {
  EXPECT_TRUE(IsUuid("018f3c1e-7d2a-7b3c-9a4e-5f6a7b8c9d0e"));
  EXPECT_FALSE(IsUuid("018f3c1e7d2a7b3c9a4e5f6a7b8c9d0e"));
  EXPECT_FALSE(IsUuid("018f3c1e-7d2a-7b3c-9a4e-5f6a7b8c9d0g"));
  EXPECT_FALSE(IsUuid(""));
}

}  // namespace
}  // namespace trellis::platform::core
