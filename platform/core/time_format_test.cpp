#include "platform/core/time_format.hpp"

#include <gtest/gtest.h>

namespace trellis::platform::core {
namespace {

TEST(TimeFormat, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(1795939200123), "2026-11-29T08:00:00.123Z");
}

TEST(TimeFormat, ParsesWhatItFormatsAndOffsets) {
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-29T08:00:00.123Z"), 1795939200123);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-29T10:00:00.123456+02:00"), 1795939200123);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-29T08:00:00z"), 1795939200000);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-29T03:30:00-04:30"), 1795939200000);
}

TEST(TimeFormat, RefusesWhatIsNotRfc3339) {
  for (const char* bad :
       {"", "2026-11-29", "2026-11-29 08:00:00Z", "2026-02-30T00:00:00Z", "2026-11-29T24:00:00Z",
        "2026-11-29T08:00:00", "2026-11-29T08:00:00.Z", "2026-11-29T08:00:00+2:00",
        "2026-11-29T08:00:00Zjunk", "2026-11-29T08:00:60Z"}) {
    EXPECT_FALSE(ParseRfc3339Ms(bad)) << bad;
  }
}

TEST(TimeFormat, ValidDates) {
  EXPECT_TRUE(IsValidDate("2024-02-29"));
  EXPECT_FALSE(IsValidDate("2023-02-29"));
  EXPECT_FALSE(IsValidDate("2023-1-01"));
  EXPECT_FALSE(IsValidDate("2023-13-01"));
}

}  // namespace
}  // namespace trellis::platform::core
