#include "platform/observe/metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace trellis::platform::observe {

std::size_t ShardIndex() {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kMetricShards;
  return index;
}

std::uint64_t Counter::Value() const {
  std::uint64_t total = 0;
  for (const auto& c : cells_) total += c.v.load(std::memory_order_relaxed);
  return total;
}

void Gauge::Add(double d) {
  double cur = bits_.load(std::memory_order_relaxed);
  while (!bits_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (auto& s : shards_) {
    s.buckets = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  }
}

void Histogram::Observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  auto& s = shards_[ShardIndex()];
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
  double cur = s.sum.load(std::memory_order_relaxed);
  // Only this thread writes this shard, so the exchange succeeds at once.
  while (!s.sum.compare_exchange_weak(cur, cur + value, std::memory_order_relaxed)) {
  }
}

void Histogram::Snapshot(std::vector<std::uint64_t>& cumulative, double& sum,
                         std::uint64_t& count) const {
  cumulative.assign(bounds_.size() + 1, 0);
  sum = 0;
  count = 0;
  for (const auto& s : shards_) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative[i] += s.buckets[i].load(std::memory_order_relaxed);
    }
    sum += s.sum.load(std::memory_order_relaxed);
    count += s.count.load(std::memory_order_relaxed);
  }
  for (std::size_t i = 1; i < cumulative.size(); ++i) cumulative[i] += cumulative[i - 1];
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Registry::Family& Registry::FamilyFor(const std::string& name, const std::string& help, Type type) {
  for (auto& f : families_) {
    if (f->name == name) {
      if (f->type != type) throw std::logic_error("metric type mismatch: " + name);
      return *f;
    }
  }
  families_.push_back(std::make_unique<Family>(Family{name, help, type, {}}));
  return *families_.back();
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard lock(mu_);
  auto& f = FamilyFor(name, help, Type::kCounter);
  f.series.push_back(Series{std::move(labels), std::make_unique<Counter>(), nullptr, nullptr, {}});
  return *f.series.back().counter;
}

Gauge& Registry::AddGauge(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard lock(mu_);
  auto& f = FamilyFor(name, help, Type::kGauge);
  f.series.push_back(Series{std::move(labels), nullptr, std::make_unique<Gauge>(), nullptr, {}});
  return *f.series.back().gauge;
}

Histogram& Registry::AddHistogram(const std::string& name, const std::string& help, Labels labels,
                                  std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& f = FamilyFor(name, help, Type::kHistogram);
  f.series.push_back(Series{
      std::move(labels), nullptr, nullptr, std::make_unique<Histogram>(std::move(bounds)), {}});
  return *f.series.back().histogram;
}

void Registry::AddCallbackGauge(const std::string& name, const std::string& help, Labels labels,
                                std::function<double()> read) {
  std::lock_guard lock(mu_);
  auto& f = FamilyFor(name, help, Type::kGauge);
  f.series.push_back(Series{std::move(labels), nullptr, nullptr, nullptr, std::move(read)});
}

namespace {

void AppendEscaped(std::string& out, const std::string& v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendLabels(std::string& out, const Labels& labels, const char* extra_name = nullptr,
                  const std::string& extra_value = {}) {
  if (labels.empty() && !extra_name) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    AppendEscaped(out, v);
    out += '"';
  }
  if (extra_name) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  // Shortest text that reads back as the same double: "0.1", not "0.10000000000000001".
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

}  // namespace

std::string Registry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(std::size_t{16} * 1024);
  std::vector<std::uint64_t> cumulative;
  for (const auto& f : families_) {
    out += "# HELP " + f->name + " " + f->help + "\n";
    out += "# TYPE " + f->name + " " +
           (f->type == Type::kCounter ? "counter"
            : f->type == Type::kGauge ? "gauge"
                                      : "histogram") +
           "\n";
    for (const auto& s : f->series) {
      if (s.counter) {
        out += f->name;
        AppendLabels(out, s.labels);
        out += " " + std::to_string(s.counter->Value()) + "\n";
      } else if (s.gauge || s.read) {
        out += f->name;
        AppendLabels(out, s.labels);
        out += " " + FormatDouble(s.gauge ? s.gauge->Value() : s.read()) + "\n";
      } else if (s.histogram) {
        double sum = 0;
        std::uint64_t count = 0;
        s.histogram->Snapshot(cumulative, sum, count);
        const auto& bounds = s.histogram->Bounds();
        for (std::size_t i = 0; i <= bounds.size(); ++i) {
          out += f->name + "_bucket";
          AppendLabels(out, s.labels, "le", i < bounds.size() ? FormatDouble(bounds[i]) : "+Inf");
          out += " " + std::to_string(cumulative[i]) + "\n";
        }
        out += f->name + "_sum";
        AppendLabels(out, s.labels);
        out += " " + FormatDouble(sum) + "\n";
        out += f->name + "_count";
        AppendLabels(out, s.labels);
        out += " " + std::to_string(count) + "\n";
      }
    }
  }
  return out;
}

namespace {

double ReadRssBytes() {
  std::ifstream in("/proc/self/statm");
  long pages_total = 0;
  long pages_resident = 0;
  in >> pages_total >> pages_resident;
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  double n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream's own descriptor
}

// Fields 14 and 15 (utime, stime) and 22 (starttime) of /proc/self/stat, in clock ticks.
bool ReadStat(double& cpu_seconds, double& start_ticks) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  std::vector<std::string> fields;
  while (rest >> field) fields.push_back(field);
  // rest starts at field 3 (state).
  if (fields.size() < 20) return false;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
  start_ticks = std::stod(fields[19]) / ticks;
  return true;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double v = 0;
      in >> v;
      return v;
    }
  }
  return 0;
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  registry.AddCallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
                            ReadRssBytes);
  registry.AddCallbackGauge("process_open_fds", "Number of open file descriptors.", {},
                            CountOpenFds);
  registry.AddCallbackGauge("process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.", {}, [] {
                              double cpu = 0;
                              double start = 0;
                              return ReadStat(cpu, start) ? cpu : 0.0;
                            });
  const double boot = BootTimeSeconds();
  registry.AddCallbackGauge("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.", {}, [boot] {
                              double cpu = 0;
                              double start = 0;
                              return ReadStat(cpu, start) ? boot + start : 0.0;
                            });
}

}  // namespace trellis::platform::observe
