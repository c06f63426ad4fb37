// Opens many HTTP keep-alive connections quickly and holds them idle, for bench/run's
// connection-capacity scenario. Each connection is made with a non-blocking connect from one
// fixed source address (so several holders on 127.0.0.x addresses together exceed one address's
// ephemeral ports), sends one request and reads the whole response, so the server really holds
// it as an idle keep-alive connection and not as a half-open socket in its accept queue.
//
//   connhold --port 8080 --source 127.0.0.11 --connections 12500 --hold 120
//   -> {"event":"open",...} on stdout once all are established (or failed), then holds until
//      SIGTERM/SIGINT or --hold seconds, then {"event":"final",...} and closes them with RST.
//
// Plain epoll, one thread: the point is to cost the client as little as possible per
// connection (a descriptor and a few bytes), so the machine's memory goes to the server.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace {

constexpr int kMaxEvents = 1024;
constexpr std::uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP;
constexpr std::size_t kReadBytes = 16 * 1024;
constexpr std::size_t kMaxResponseBytes = 64 * 1024;
// Failed opens are retried from a fresh socket within this budget: 3% of the connections + 3.
constexpr long kRetryPercent = 3;
constexpr long kRetryMin = 3;
constexpr int kProgressMs = 1000;

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string source = "127.0.0.1";
  std::string path = "/healthz";
  long connections = 1000;
  int concurrency = 256;     // connections being opened at once
  double open_timeout = 60;  // seconds for the opening phase
  double hold = 120;         // seconds to hold before giving up on being told to stop
};

Options Parse(int argc, char** argv) {
  Options o;
  CLI::App app{"Opens many keep-alive connections to one server and holds them idle.", "connhold"};
  app.add_option("--host", o.host, "server address");
  app.add_option("--port", o.port, "server port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--source", o.source, "local address to bind (one of 127.0.0.x)");
  app.add_option("--path", o.path, "request path for the one request per connection");
  app.add_option("--connections", o.connections, "connections to open")
      ->required()
      ->check(CLI::PositiveNumber);
  app.add_option("--concurrency", o.concurrency, "opens in flight at once")
      ->check(CLI::PositiveNumber);
  app.add_option("--open-timeout", o.open_timeout, "seconds for the opening phase")
      ->check(CLI::PositiveNumber);
  app.add_option("--hold", o.hold, "seconds to hold at most")->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return o;
}

std::int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double MonoSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Returns the response's status once it is complete, 0 while incomplete, -1 if unframeable.
int ResponseStatus(std::string_view data) {
  const auto end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  if (data.size() < 12 || !data.starts_with("HTTP/1.")) return -1;
  int status = 0;
  std::from_chars(data.data() + 9, data.data() + 12, status);
  long length = -1;
  std::string_view head = data.substr(0, end + 2);
  for (std::size_t pos = head.find("\r\n");
       pos != std::string_view::npos && pos + 2 < head.size();) {
    const std::size_t next = head.find("\r\n", pos + 2);
    std::string_view line = head.substr(pos + 2, next - pos - 2);
    constexpr std::string_view kName = "content-length:";
    if (line.size() > kName.size() && strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
      line.remove_prefix(kName.size());
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      std::from_chars(line.data(), line.data() + line.size(), length);
    }
    pos = next;
  }
  if (length < 0) return -1;
  return data.size() >= end + 4 + static_cast<std::size_t>(length) ? status : 0;
}

enum class State : std::uint8_t { kFree, kConnecting, kReading, kHeld };

struct Slot {
  State state = State::kFree;
  std::string partial;  // only when a response arrives in pieces
};

class Holder {
 public:
  explicit Holder(Options o) : opt_(std::move(o)) {}

  int Run() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    request_ = "GET " + opt_.path + " HTTP/1.1\r\nHost: " + opt_.host + ":" +
               std::to_string(opt_.port) + "\r\nUser-Agent: trellis-connhold\r\n\r\n";
    dst_.sin_family = AF_INET;
    dst_.sin_port = htons(static_cast<std::uint16_t>(opt_.port));
    src_.sin_family = AF_INET;
    if (inet_pton(AF_INET, opt_.host.c_str(), &dst_.sin_addr) != 1 ||
        inet_pton(AF_INET, opt_.source.c_str(), &src_.sin_addr) != 1) {
      std::fprintf(stderr, "connhold: --host and --source must be IPv4 addresses\n");
      std::exit(2);
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    sig_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = sig_;
    epoll_ctl(ep_, EPOLL_CTL_ADD, sig_, &ev);

    start_us_ = WallMicros();
    const double t0 = MonoSeconds();
    const double open_deadline = t0 + opt_.open_timeout;
    double next_progress = t0 + kProgressMs / 1e3;
    std::array<epoll_event, kMaxEvents> events{};

    // Opening phase.
    while (!stop_ && !OpenDone()) {
      Fill();
      const int n = epoll_wait(ep_, events.data(), kMaxEvents, 100);
      for (int i = 0; i < n; ++i) Handle(events[static_cast<std::size_t>(i)]);
      const double now = MonoSeconds();
      if (now >= next_progress) {
        std::fprintf(stderr, "connhold %s: %ld established, %ld failed, %d opening\n",
                     opt_.source.c_str(), established_, failed_, inflight_);
        next_progress = now + kProgressMs / 1e3;
      }
      if (now >= open_deadline) {
        AbandonOpening();
        break;
      }
    }
    done_us_ = WallMicros();
    const double seconds = static_cast<double>(done_us_ - start_us_) / 1e6;
    std::printf(
        "{\"event\":\"open\",\"source\":\"%s\",\"requested\":%ld,\"established\":%ld,"
        "\"failed\":%ld,\"retried\":%ld,\"refused_503\":%ld,\"start_us\":%lld,\"done_us\":%lld,"
        "\"seconds\":%.3f,\"rate\":%.1f}\n",
        opt_.source.c_str(), opt_.connections, established_, failed_, retried_, refused_,
        static_cast<long long>(start_us_), static_cast<long long>(done_us_), seconds,
        seconds > 0 ? static_cast<double>(established_) / seconds : 0.0);
    std::fflush(stdout);
    std::fprintf(stderr, "connhold %s: %ld of %ld established in %.2f s (%ld failed)\n",
                 opt_.source.c_str(), established_, opt_.connections, seconds, failed_);

    // Holding phase: watch for the server closing any of them.
    const double hold_deadline = MonoSeconds() + opt_.hold;
    while (!stop_ && MonoSeconds() < hold_deadline) {
      const int n = epoll_wait(ep_, events.data(), kMaxEvents, 200);
      for (int i = 0; i < n; ++i) Handle(events[static_cast<std::size_t>(i)]);
    }
    std::printf(
        "{\"event\":\"final\",\"source\":\"%s\",\"held\":%ld,\"closed_by_server\":%ld,"
        "\"stopped_by\":\"%s\"}\n",
        opt_.source.c_str(), established_ - closed_, closed_, stop_ ? "signal" : "hold-timeout");
    std::fflush(stdout);
    CloseAll();
    return 0;
  }

 private:
  bool OpenDone() const { return opened_ >= opt_.connections && inflight_ == 0; }

  void Fill() {
    while (opened_ < opt_.connections && inflight_ < opt_.concurrency) {
      if (!OpenOne()) {
        if (opened_ < opt_.connections && inflight_ == 0) {
          // Cannot open any more (descriptors or addresses exhausted): count the rest as failed.
          failed_ += opt_.connections - opened_;
          opened_ = opt_.connections;
        }
        return;
      }
    }
  }

  bool OpenOne() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      NoteError("socket", errno);
      return false;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&src_), sizeof src_) != 0) {
      NoteError("bind", errno);
      close(fd);
      return false;
    }
    if (connect(fd, reinterpret_cast<const sockaddr*>(&dst_), sizeof dst_) != 0 &&
        errno != EINPROGRESS) {
      NoteError("connect", errno);
      close(fd);
      return false;
    }
    if (static_cast<std::size_t>(fd) >= slots_.size())
      slots_.resize(static_cast<std::size_t>(fd) + 1024);
    slots_[static_cast<std::size_t>(fd)].state = State::kConnecting;
    epoll_event ev{};
    // Edge-triggered for everything from the start: one epoll_ctl per connection, none later.
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    ++opened_;
    ++inflight_;
    return true;
  }

  void NoteError(const char* what, int err) {
    if (errors_logged_ < 5) {
      ++errors_logged_;
      std::fprintf(stderr, "connhold %s: %s: %s\n", opt_.source.c_str(), what, std::strerror(err));
    }
  }

  void Handle(const epoll_event& ev) {
    const int fd = ev.data.fd;
    if (fd == sig_) {
      stop_ = true;
      return;
    }
    Slot& s = slots_[static_cast<std::size_t>(fd)];
    switch (s.state) {
      case State::kConnecting: {
        if (ev.events & (EPOLLERR | EPOLLHUP)) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          NoteError("connect", err);
          return FailOpening(fd);
        }
        if ((ev.events & EPOLLOUT) == 0) return;
        const ssize_t n = send(fd, request_.data(), request_.size(), MSG_NOSIGNAL);
        if (n != static_cast<ssize_t>(request_.size())) return FailOpening(fd);
        s.state = State::kReading;
        // The server may have answered at once (a 503 when full) in the same edge: read now.
        [[fallthrough]];
      }
      case State::kReading: {
        if ((ev.events & kReadable) == 0) return;  // a later writability edge
        char buf[kReadBytes];
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) return FailOpening(fd);
        std::string_view data(buf, static_cast<std::size_t>(n));
        if (!s.partial.empty()) {
          s.partial.append(data);
          data = s.partial;
        }
        const int status = ResponseStatus(data);
        if (status == 0) {
          if (s.partial.empty()) s.partial.assign(data);
          if (s.partial.size() > kMaxResponseBytes) FailOpening(fd);
          return;
        }
        std::string().swap(s.partial);
        if (status != 200) {
          if (status == 503) ++refused_;
          return FailOpening(fd);
        }
        s.state = State::kHeld;
        --inflight_;
        ++established_;
        return;
      }
      case State::kHeld: {
        if ((ev.events & kReadable) == 0) return;
        char buf[kReadBytes];
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) return;
        ++closed_;
        s.state = State::kFree;
        close(fd);
        return;
      }
      case State::kFree: return;
    }
  }

  // A connection that did not make it: open another in its place while the budget lasts.
  void FailOpening(int fd) {
    Slot& s = slots_[static_cast<std::size_t>(fd)];
    s.state = State::kFree;
    std::string().swap(s.partial);
    close(fd);
    --inflight_;
    if (retried_ < opt_.connections * kRetryPercent / 100 + kRetryMin) {
      ++retried_;
      --opened_;
    } else {
      ++failed_;
    }
  }

  void AbandonOpening() {
    for (std::size_t fd = 0; fd < slots_.size(); ++fd) {
      Slot& s = slots_[fd];
      if (s.state == State::kConnecting || s.state == State::kReading) {
        s.state = State::kFree;
        close(static_cast<int>(fd));
        ++failed_;
      }
    }
    failed_ += opt_.connections - opened_;
    opened_ = opt_.connections;
    inflight_ = 0;
  }

  // Resets instead of closing politely: no TIME_WAIT left behind for the next run.
  void CloseAll() {
    const linger lg{.l_onoff = 1, .l_linger = 0};
    for (std::size_t fd = 0; fd < slots_.size(); ++fd) {
      if (slots_[fd].state == State::kFree) continue;
      setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(static_cast<int>(fd));
      slots_[fd].state = State::kFree;
    }
  }

  Options opt_;
  std::string request_;
  sockaddr_in dst_{};
  sockaddr_in src_{};
  int ep_ = -1;
  int sig_ = -1;
  std::vector<Slot> slots_;  // by descriptor
  long opened_ = 0;          // connections started (retries give their start back)
  int inflight_ = 0;         // started, not yet established or failed
  long established_ = 0;
  long failed_ = 0;
  long retried_ = 0;
  long refused_ = 0;
  long closed_ = 0;  // established, then closed by the server while held
  int errors_logged_ = 0;
  bool stop_ = false;
  std::int64_t start_us_ = 0;
  std::int64_t done_us_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Holder h(Parse(argc, argv));
  return h.Run();
}
