#include "services/identity/domain/oidc_keys.hpp"

#include <gtest/gtest.h>

namespace trellis::identity::domain {
namespace {

constexpr std::int64_t kDay = 24LL * 3600 * 1000;
const KeyRotationPolicy kPolicy{30 * kDay, kDay};

TEST(OidcKeysTest, NoKeyMeansOneIsNeeded) {
  EXPECT_TRUE(NeedsNewKey({}, 0, kPolicy));
  EXPECT_FALSE(ActiveKey({}, 0).has_value());
}

TEST(OidcKeysTest, TheActiveKeyServesItsPeriodThenANewOneIsDue) {
  std::vector<KeyTimes> keys{{"k1", 0, std::nullopt}};
  EXPECT_EQ(ActiveKey(keys, 10), 0U);
  EXPECT_FALSE(NeedsNewKey(keys, 30 * kDay - 1, kPolicy));
  EXPECT_TRUE(NeedsNewKey(keys, 30 * kDay, kPolicy));
}

TEST(OidcKeysTest, AReplacedKeyStaysPublishedThroughTheOverlap) {
  const std::int64_t rotated = 30 * kDay;
  std::vector<KeyTimes> keys{{"k1", 0, rotated + kDay}, {"k2", rotated, std::nullopt}};
  EXPECT_EQ(keys[*ActiveKey(keys, rotated)].kid, "k2");
  auto published = PublishedKeys(keys, rotated + kDay - 1);
  ASSERT_EQ(published.size(), 2U);
  EXPECT_EQ(keys[published[0]].kid, "k2");  // newest first
  published = PublishedKeys(keys, rotated + kDay);
  ASSERT_EQ(published.size(), 1U);
  EXPECT_EQ(keys[published[0]].kid, "k2");
  EXPECT_FALSE(NeedsNewKey(keys, rotated + kDay, kPolicy));
}

}  // namespace
}  // namespace trellis::identity::domain
