// /readyz's verdict from its dependency checks: a failing one makes the node not ready, a
// degraded one (PostgreSQL primary down, replicas serving reads) keeps it ready and says so.
#include <gtest/gtest.h>

#include "gateway/platform_routes.hpp"

namespace trellis::gateway {
namespace {

TEST(HealthTest, ReadyWithNoChecks) {
  Health health;
  const auto [ok, body] = health.Ready();
  EXPECT_TRUE(ok);
  EXPECT_EQ(body, R"({"status":"ready","checks":{}})");
}

TEST(HealthTest, ADegradedCheckStaysReadyAndSaysSo) {
  Health health;
  health.AddCheck("postgres:work", [] { return CheckState::kDegraded; });
  health.AddCheck("cache", [] { return true; });
  const auto [ok, body] = health.Ready();
  EXPECT_TRUE(ok);
  EXPECT_EQ(body, R"({"status":"degraded","checks":{"postgres:work":"degraded","cache":"ok"}})");
}

TEST(HealthTest, AFailingCheckIsNotReadyWhateverElseIs) {
  Health health;
  health.AddCheck("postgres:work", [] { return CheckState::kDegraded; });
  health.AddCheck("postgres:audit", [] { return false; });
  const auto [ok, body] = health.Ready();
  EXPECT_FALSE(ok);
  EXPECT_EQ(
      body,
      R"({"status":"not_ready","checks":{"postgres:work":"degraded","postgres:audit":"failing"}})");
}

TEST(HealthTest, DrainingWins) {
  Health health;
  health.AddCheck("cache", [] { return true; });
  health.SetDraining();
  const auto [ok, body] = health.Ready();
  EXPECT_FALSE(ok);
  EXPECT_EQ(body, R"({"status":"draining","checks":{"cache":"ok"}})");
}

}  // namespace
}  // namespace trellis::gateway
