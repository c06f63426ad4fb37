// Open-loop HTTP/1.1 load generator for bench/run: sends GET requests at a fixed total rate over
// N keep-alive connections and measures each request's latency from the time it was *meant* to
// be sent, so a server stall shows up in the percentiles instead of quietly lowering the rate
// (the "coordinated omission" that closed-loop tools such as wrk hide; this is what wrk2 does).
//
//   loadgen --port 8080 --path /bench/plaintext --rate 20000 --connections 64 --duration 10
//   loadgen --port 8080 --path '/api/v1/...' --header "Authorization: Bearer $TOKEN" --rate 5000
//   -> human summary on stderr, one JSON object on stdout
//
// Request i is due at start + i/rate and belongs to connection i mod N (as in wrk2). A
// connection carries one request at a time; a request due while its connection is busy waits,
// and that wait is part of its latency. One thread, Boost.Asio, no allocation per request.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

constexpr std::size_t kReadBufferBytes = 64 * 1024;
constexpr int kMaxReconnects = 100;

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string path = "/bench/plaintext";
  std::vector<std::string> headers;  // "Name: value", sent with every request
  double rate = 1000;                // requests per second, all connections together
  int connections = 64;              // keep-alive connections
  double duration = 10;              // seconds measured
  double warmup = 1;                 // seconds sent first and not measured
  double drain = 2;  // seconds to wait for outstanding responses after the last send
};

Options Parse(int argc, char** argv) {
  Options o;
  CLI::App app{"Open-loop HTTP load at a fixed rate; latency from each request's due time.",
               "loadgen"};
  app.add_option("--host", o.host, "server address");
  app.add_option("--port", o.port, "server port");
  app.add_option("--path", o.path, "request path");
  app.add_option("--header", o.headers, "extra request header \"Name: value\" (repeatable)")
      ->check([](const std::string& h) -> std::string {
        const auto colon = h.find(':');
        if (colon == std::string::npos || colon == 0) return "expected \"Name: value\"";
        if (h.find_first_of("\r\n") != std::string::npos) return "no line breaks in a header";
        return {};
      });
  app.add_option("--rate", o.rate, "requests per second, all connections together")
      ->required()
      ->check(CLI::PositiveNumber);
  app.add_option("--connections", o.connections, "keep-alive connections")
      ->check(CLI::PositiveNumber);
  app.add_option("--duration", o.duration, "seconds measured")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "seconds sent first, not measured")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--drain", o.drain, "seconds to wait for outstanding responses")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return o;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(s[i]) != Lower(prefix[i])) return false;
  }
  return true;
}

// Parses a response head. Returns the total response length (head + body), 0 when more bytes
// are needed, or -1 when the response cannot be framed (no Content-Length).
long FrameResponse(std::string_view data, int& status) {
  const auto end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  const std::string_view head = data.substr(0, end + 2);
  if (head.size() < 12 || !head.starts_with("HTTP/1.")) return -1;
  status = 0;
  std::from_chars(head.data() + 9, head.data() + 12, status);
  long length = -1;
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const std::size_t next = head.find("\r\n", pos + 2);
    const std::string_view line = head.substr(pos + 2, next - pos - 2);
    constexpr std::string_view kLength = "content-length:";
    if (StartsWithNoCase(line, kLength)) {
      std::string_view v = line.substr(kLength.size());
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      std::from_chars(v.data(), v.data() + v.size(), length);
    }
    pos = next;
  }
  if (length < 0) return -1;
  return static_cast<long>(end + 4) + length;
}

class LoadGen {
 public:
  explicit LoadGen(Options o) : opt_(std::move(o)), pacer_(ctx_), signals_(ctx_, SIGINT, SIGTERM) {
    request_ = "GET " + opt_.path + " HTTP/1.1\r\nHost: " + opt_.host + ":" + opt_.port +
               "\r\nUser-Agent: trellis-loadgen\r\n";
    for (const auto& h : opt_.headers) request_ += h + "\r\n";
    request_ += "\r\n";
    period_ns_ = 1e9 / opt_.rate;
    total_ = static_cast<std::uint64_t>(std::llround((opt_.warmup + opt_.duration) * opt_.rate));
    measured_from_ = static_cast<std::uint64_t>(std::llround(opt_.warmup * opt_.rate));
    latencies_.reserve(total_ - measured_from_ + 1);
    by_second_.resize(static_cast<std::size_t>(std::ceil(opt_.duration)));
  }

  int Run() {
    tcp::resolver resolver(ctx_);
    boost::system::error_code ec;
    endpoints_ = resolver.resolve(opt_.host, opt_.port, ec);
    if (ec) {
      std::fprintf(stderr, "loadgen: cannot resolve %s: %s\n", opt_.host.c_str(),
                   ec.message().c_str());
      return 1;
    }
    for (int i = 0; i < opt_.connections; ++i) {
      auto c = std::make_unique<Conn>(ctx_);
      asio::connect(c->socket, endpoints_, ec);
      if (ec) {
        std::fprintf(stderr, "loadgen: cannot connect: %s\n", ec.message().c_str());
        return 1;
      }
      c->socket.set_option(tcp::no_delay(true));
      conns_.push_back(std::move(c));
    }
    signals_.async_wait([this](boost::system::error_code e, int) {
      if (!e) {
        interrupted_ = true;
        ctx_.stop();
      }
    });
    start_ = Clock::now();
    cpu_start_ = CpuSeconds();
    Pace();
    ctx_.run();
    end_ = Clock::now();
    Report();
    return 0;
  }

 private:
  struct Conn {
    explicit Conn(asio::io_context& ctx) : socket(ctx), buffer(kReadBufferBytes) {}
    tcp::socket socket;
    std::deque<std::uint64_t> queue;  // indexes of due requests; front is on the wire if busy
    bool busy = false;
    bool connecting = false;
    bool resending = false;  // the front request is on its second connection
    std::vector<char> buffer;
    std::size_t have = 0;
  };

  Clock::time_point Due(std::uint64_t i) const {
    return start_ + Nanos(static_cast<std::int64_t>(static_cast<double>(i) * period_ns_));
  }

  // Issues every request that is due by now, then sleeps until the next one is.
  void Pace() {
    const auto now = Clock::now();
    while (next_ < total_ && Due(next_) <= now) {
      Conn& c = *conns_[next_ % conns_.size()];
      c.queue.push_back(next_);
      ++next_;
      if (!c.busy && !c.connecting) Send(c);
    }
    if (next_ < total_) {
      pacer_.expires_at(Due(next_));
      pacer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) Pace();
      });
      return;
    }
    // All sent: give outstanding responses a bounded time, then stop.
    pacer_.expires_at(Due(total_) + Nanos(static_cast<std::int64_t>(opt_.drain * 1e9)));
    pacer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) ctx_.stop();
    });
    MaybeFinish();
  }

  void MaybeFinish() {
    if (next_ < total_) return;
    for (const auto& c : conns_) {
      if (!c->queue.empty()) return;
    }
    ctx_.stop();
  }

  void Send(Conn& c) {
    c.busy = true;
    asio::async_write(c.socket, asio::buffer(request_),
                      [this, &c](boost::system::error_code ec, std::size_t) {
                        if (ec) return Fail(c);
                        Read(c);
                      });
  }

  void Read(Conn& c) {
    c.socket.async_read_some(asio::buffer(c.buffer.data() + c.have, c.buffer.size() - c.have),
                             [this, &c](boost::system::error_code ec, std::size_t n) {
                               if (ec) return Fail(c);
                               c.have += n;
                               int status = 0;
                               const long total =
                                   FrameResponse(std::string_view(c.buffer.data(), c.have), status);
                               if (total < 0 || static_cast<std::size_t>(total) > c.buffer.size()) {
                                 ++unframed_;
                                 return Fail(c);
                               }
                               if (total == 0 || c.have < static_cast<std::size_t>(total))
                                 return Read(c);
                               Complete(c, status);
                               // Responses never arrive unasked; anything left over is a protocol
                               // error.
                               if (c.have != static_cast<std::size_t>(total)) {
                                 ++unframed_;
                                 return Fail(c);
                               }
                               c.have = 0;
                               if (!c.queue.empty()) return Send(c);
                               MaybeFinish();
                             });
  }

  void Complete(Conn& c, int status) {
    const auto now = Clock::now();
    const std::uint64_t i = c.queue.front();
    c.queue.pop_front();
    c.busy = false;
    c.resending = false;
    ++completed_;
    if (status < 200 || status > 299) ++non2xx_;
    if (i >= measured_from_) {
      const auto latency = static_cast<std::uint64_t>((now - Due(i)).count());
      latencies_.push_back(latency);
      // By the second of the measured window the request was due in.
      const auto second = static_cast<std::size_t>(static_cast<double>(i - measured_from_) /
                                                   std::max(opt_.rate, 1.0));
      if (!by_second_.empty())
        by_second_[std::min(second, by_second_.size() - 1)].push_back(latency);
    }
  }

  // The connection broke. If the server closed it before answering anything (an idle
  // keep-alive connection timed out), the request is sent again on a new connection, once, as
  // any HTTP client would; otherwise it is lost and counted. The rest wait for the new
  // connection, and every request keeps its due time, so the reconnection counts in latency.
  void Fail(Conn& c) {
    boost::system::error_code ignored;
    c.socket.close(ignored);
    if (c.busy && c.have == 0 && !c.resending) {
      ++resent_;
      c.resending = true;
    } else {
      ++errors_;
      c.resending = false;
      if (!c.queue.empty()) c.queue.pop_front();
    }
    c.busy = false;
    c.have = 0;
    if (reconnects_ >= kMaxReconnects) {
      c.connecting = true;  // parked: its requests stay queued and count as incomplete
      return;
    }
    ++reconnects_;
    c.connecting = true;
    c.socket = tcp::socket(ctx_);
    asio::async_connect(c.socket, endpoints_,
                        [this, &c](boost::system::error_code ec, const tcp::endpoint&) {
                          c.connecting = false;
                          if (ec) return Fail(c);
                          boost::system::error_code e;
                          c.socket.set_option(tcp::no_delay(true), e);
                          if (!c.queue.empty()) Send(c);
                        });
    MaybeFinish();
  }

  static double CpuSeconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }

  void Report() {
    std::uint64_t incomplete = 0;
    for (const auto& c : conns_) incomplete += c->queue.size();
    incomplete += total_ - next_;  // never sent (interrupted)
    std::sort(latencies_.begin(), latencies_.end());
    auto pct = [this](double q) -> double {
      if (latencies_.empty()) return 0;
      const auto rank =
          static_cast<std::size_t>(std::ceil(q * static_cast<double>(latencies_.size())));
      return static_cast<double>(
                 latencies_[std::clamp<std::size_t>(rank, 1, latencies_.size()) - 1]) /
             1e3;
    };
    // p99 of each second of the measured window: a steady queue and a periodic stall look the
    // same in the overall p99 and different here.
    std::string per_second;
    for (auto& second : by_second_) {
      double p99 = 0;
      if (!second.empty()) {
        std::sort(second.begin(), second.end());
        const auto rank =
            static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(second.size())));
        p99 =
            static_cast<double>(second[std::clamp<std::size_t>(rank, 1, second.size()) - 1]) / 1e3;
      }
      char one[32];
      std::snprintf(one, sizeof one, "%s%.1f", per_second.empty() ? "" : ",", p99);
      per_second += one;
    }
    const double measured_s = opt_.duration;
    const double achieved = static_cast<double>(latencies_.size()) / measured_s;
    const double cpu = CpuSeconds() - cpu_start_;
    const double wall = std::chrono::duration<double>(end_ - start_).count();
    std::fprintf(stderr,
                 "loadgen: %s target %.0f req/s on %d connections, %.0f s (+%.0f s warm-up)\n"
                 "  achieved %.0f req/s; %llu completed, %llu errors, %llu non-2xx, %llu "
                 "incomplete, %llu resent\n"
                 "  latency from intended send: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  "
                 "p99.9 %.3f ms  max %.3f ms\n"
                 "  p99 by second, us: %s\n"
                 "  loadgen cpu %.2f s over %.2f s%s\n",
                 opt_.path.c_str(), opt_.rate, opt_.connections, opt_.duration, opt_.warmup,
                 achieved, static_cast<unsigned long long>(completed_),
                 static_cast<unsigned long long>(errors_), static_cast<unsigned long long>(non2xx_),
                 static_cast<unsigned long long>(incomplete),
                 static_cast<unsigned long long>(resent_), pct(0.5) / 1e3, pct(0.9) / 1e3,
                 pct(0.99) / 1e3, pct(0.999) / 1e3, pct(1.0) / 1e3, per_second.c_str(), cpu, wall,
                 interrupted_ ? " (interrupted)" : "");
    std::printf(
        "{\"path\":\"%s\",\"target_rate\":%.1f,\"connections\":%d,\"duration_s\":%.3f,"
        "\"warmup_s\":%.3f,\"achieved_rate\":%.1f,\"measured\":%zu,\"completed\":%llu,"
        "\"errors\":%llu,\"non2xx\":%llu,\"unframed\":%llu,\"incomplete\":%llu,\"resent\":%llu,"
        "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
        "\"p99_by_second_us\":[%s],\"loadgen_cpu_s\":%.3f,\"wall_s\":%.3f,\"interrupted\":%s}\n",
        opt_.path.c_str(), opt_.rate, opt_.connections, opt_.duration, opt_.warmup, achieved,
        latencies_.size(), static_cast<unsigned long long>(completed_),
        static_cast<unsigned long long>(errors_), static_cast<unsigned long long>(non2xx_),
        static_cast<unsigned long long>(unframed_), static_cast<unsigned long long>(incomplete),
        static_cast<unsigned long long>(resent_), pct(0.5), pct(0.9), pct(0.99), pct(0.999),
        pct(1.0), per_second.c_str(), cpu, wall, interrupted_ ? "true" : "false");
    std::fflush(stdout);
  }

  Options opt_;
  asio::io_context ctx_{1};
  asio::steady_timer pacer_;
  asio::signal_set signals_;
  tcp::resolver::results_type endpoints_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::string request_;
  double period_ns_ = 0;
  std::uint64_t total_ = 0;          // requests to send, warm-up included
  std::uint64_t measured_from_ = 0;  // first request index whose latency is recorded
  std::uint64_t next_ = 0;           // next request index to issue
  std::uint64_t completed_ = 0;
  std::uint64_t errors_ = 0;
  std::uint64_t non2xx_ = 0;
  std::uint64_t unframed_ = 0;
  std::uint64_t resent_ = 0;
  int reconnects_ = 0;
  bool interrupted_ = false;
  std::vector<std::uint64_t> latencies_;               // nanoseconds, measured window only
  std::vector<std::vector<std::uint64_t>> by_second_;  // the same, by second of the window
  Clock::time_point start_;
  Clock::time_point end_;
  double cpu_start_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  LoadGen gen(Parse(argc, argv));
  return gen.Run();
}
