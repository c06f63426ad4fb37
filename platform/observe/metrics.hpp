// Metrics in the Prometheus text exposition format (version 0.0.4).
//
// Counters and histograms are sharded per thread (cache-line-sized cells, relaxed atomics) so
// that event-loop threads never contend on a hot path; a scrape sums the shards.
//
//   Registry registry;
//   Counter& hits = registry.AddCounter("trellis_cache_hits_total", "Cache hits.", {});
//   hits.Inc();
//   std::string text = registry.Render();
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace trellis::platform::observe {

using Labels = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::size_t kMetricShards = 8;

// This thread's shard, assigned round-robin on first use.
[[nodiscard]] std::size_t ShardIndex();

class Counter {
 public:
  void Inc(std::uint64_t n = 1) { cells_[ShardIndex()].v.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t Value() const;

 private:
  struct alignas(64) Cell {
    std::atomic<std::uint64_t> v{0};
  };
  std::array<Cell, kMetricShards> cells_;
};

class Gauge {
 public:
  void Set(double v) { bits_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  [[nodiscard]] double Value() const { return bits_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> bits_{0};
};

// Fixed-bucket histogram of seconds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  [[nodiscard]] const std::vector<double>& Bounds() const { return bounds_; }
  // Cumulative counts per bound, then +Inf; the sum; the count.
  void Snapshot(std::vector<std::uint64_t>& cumulative, double& sum, std::uint64_t& count) const;

 private:
  struct alignas(64) Shard {
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets;  // bounds + 1 (+Inf)
    std::atomic<std::uint64_t> count{0};
    std::atomic<double> sum{0};
  };
  std::vector<double> bounds_;
  std::array<Shard, kMetricShards> shards_;
};

// Latency buckets for request durations, in seconds.
[[nodiscard]] std::vector<double> LatencyBuckets();

class Registry {
 public:
  Counter& AddCounter(const std::string& name, const std::string& help, Labels labels);
  Gauge& AddGauge(const std::string& name, const std::string& help, Labels labels);
  Histogram& AddHistogram(const std::string& name, const std::string& help, Labels labels,
                          std::vector<double> bounds);
  // A gauge whose value is read at scrape time.
  void AddCallbackGauge(const std::string& name, const std::string& help, Labels labels,
                        std::function<double()> read);

  [[nodiscard]] std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<Series> series;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, Type type);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;  // guarded by mu_
};

// Registers process metrics read from /proc at scrape time: RSS, open file descriptors,
// CPU seconds, start time.
void RegisterProcessMetrics(Registry& registry);

}  // namespace trellis::platform::observe
