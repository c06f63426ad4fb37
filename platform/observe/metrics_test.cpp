#include "platform/observe/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace trellis::platform::observe {
namespace {

TEST(MetricsTest, CounterSumsAcrossThreads) {
  Registry r;
  auto& c = r.AddCounter("t_total", "help", {{"route", "GET /x"}});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i) c.Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 40000u);
  EXPECT_NE(r.Render().find("t_total{route=\"GET /x\"} 40000\n"), std::string::npos);
}

TEST(MetricsTest, RendersPrometheusText) {
  Registry r;
  r.AddGauge("g", "a gauge", {}).Set(2.5);
  auto& h = r.AddHistogram("lat_seconds", "latency", {{"route", "a\"b"}}, {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  r.AddCallbackGauge("cb", "callback", {}, [] { return 7.0; });
  const auto text = r.Render();
  EXPECT_NE(text.find("# HELP g a gauge\n# TYPE g gauge\ng 2.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE lat_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"a\\\"b\",le=\"0.1\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"a\\\"b\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"a\\\"b\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count{route=\"a\\\"b\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum{route=\"a\\\"b\"} 5.5"), std::string::npos);
  EXPECT_NE(text.find("cb 7\n"), std::string::npos);
}

TEST(MetricsTest, ProcessMetricsReadProc) {
  Registry r;
  RegisterProcessMetrics(r);
  const auto text = r.Render();
  for (const char* name : {"process_resident_memory_bytes ", "process_open_fds ",
                           "process_cpu_seconds_total ", "process_start_time_seconds "}) {
    const auto at = text.find(std::string("\n") + name);
    ASSERT_NE(at, std::string::npos) << name;
    const double v = std::stod(text.substr(at + 1 + std::string(name).size()));
    if (std::string(name) != "process_cpu_seconds_total ") {
      EXPECT_GT(v, 0) << name;
    }
  }
}

}  // namespace
}  // namespace trellis::platform::observe
