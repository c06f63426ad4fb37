#include "platform/observe/trace.hpp"

#include <gtest/gtest.h>

namespace trellis::platform::observe {
namespace {

TEST(TraceContextTest, ContinuesAValidTraceparent) {
  const auto t =
      TraceContext::FromHeader("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t.parent_id, "00f067aa0ba902b7");
  EXPECT_TRUE(t.sampled);
  EXPECT_EQ(t.span_id.size(), 16u);
  EXPECT_NE(t.span_id, t.parent_id);
  EXPECT_EQ(t.ToHeader(), "00-4bf92f3577b34da6a3ce929d0e0e4736-" + t.span_id + "-01");
}

TEST(TraceContextTest, StartsANewTraceOnInvalidInput) {
  for (const char* bad : {"", "garbage", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}) {
    const auto t = TraceContext::FromHeader(bad);
    EXPECT_EQ(t.trace_id.size(), 32u) << bad;
    EXPECT_TRUE(t.parent_id.empty()) << bad;
    EXPECT_NE(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  }
}

}  // namespace
}  // namespace trellis::platform::observe
