#include "platform/http/server.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <limits>
#include <optional>
#include <thread>
#include <vector>

#include "platform/core/log.hpp"
#include "platform/http/problem.hpp"
#include "platform/http/request_reader.hpp"
#include "platform/http/wire.hpp"

namespace trellis::platform::http {

namespace asio = boost::asio;
using asio::ip::tcp;
using core::ErrorCode;
using Mono = core::Clock::MonoTime;

namespace {

// How often each loop checks its connections' deadlines and measures its own lag. Timeouts
// are therefore enforced to within this interval; per-operation timers would cost a timer
// queue update (and often a timerfd syscall) on every read and write.
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
// Read granularity: one socket read asks for at most this much.
constexpr std::size_t kReadChunk = std::size_t{16} * 1024;
// An idle connection waits for its next request with a read of this size rather than a bare
// readiness wait: the read needs no epoll_ctl per request, and most requests fit in it. A
// buffer grown past twice this by a large request is given back when the connection idles.
constexpr std::size_t kIdleReadBytes = 2048;
// How long a refused (overload) connection is drained before it is closed, so that the
// client reads the 503 instead of a reset.
constexpr auto kRefusedLinger = std::chrono::milliseconds(500);
// After accept() fails for lack of descriptors, wait this long before accepting again.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);
constexpr std::size_t kMaxLingering = 1024;
constexpr Mono kNever = Mono::max();
// The route label (metrics, access log) of requests answered by the router's fallback: one
// fixed label, so the paths a web app's files live at add no series.
constexpr const char* kFallbackRoute = "(fallback)";

// Request ids we echo must be short and harmless in logs and headers.
bool AcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' ||
                    c == '=';
    if (!ok) return false;
  }
  return true;
}

int StatusClassIndex(int status) {
  const int c = status / 100;
  return (c < 1 || c > 5) ? 4 : c - 1;
}

struct RouteMetrics {
  std::array<observe::Counter*, 5> by_class{};
  observe::Histogram* latency = nullptr;
  observe::Counter* started = nullptr;
  observe::Counter* finished = nullptr;
};

enum class Phase { kIdle, kReading, kHandling, kWriting, kStreaming };

struct SseWake;
struct Connection;

// Connections of a loop sit in one of these intrusive lists. Every deadline in a timed list
// comes from the same timeout, so appending keeps the list in deadline order and the sweeper
// stops at the first connection that has not expired: it never walks idle connections.
enum ListId { kIdleList, kReadList, kWriteList, kUntimedList, kListCount };
struct ConnList {
  Connection* head = nullptr;
  Connection* tail = nullptr;
};
using ConnLists = std::array<ConnList, kListCount>;

struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  Phase phase = Phase::kIdle;
  Mono deadline = kNever;
  bool expired = false;         // the sweeper cancelled an operation because its deadline passed
  std::uint64_t responses = 0;  // written so far; 0 while the first request is awaited
  std::shared_ptr<SseWake> sse;
  ConnLists* lists = nullptr;  // the owning loop's; loop thread only
  int list = kUntimedList;
  Connection* prev = nullptr;
  Connection* next = nullptr;
};

void Detach(Connection& c) {
  auto& l = (*c.lists)[static_cast<std::size_t>(c.list)];
  (c.prev ? c.prev->next : l.head) = c.next;
  (c.next ? c.next->prev : l.tail) = c.prev;
  c.prev = c.next = nullptr;
}

void Append(Connection& c, int list) {
  auto& l = (*c.lists)[static_cast<std::size_t>(list)];
  c.list = list;
  c.prev = l.tail;
  c.next = nullptr;
  (l.tail ? l.tail->next : l.head) = &c;
  l.tail = &c;
}

// Moves a connection into a phase with its deadline (kNever: none).
void Enter(Connection& c, Phase phase, Mono deadline) {
  Detach(c);
  c.phase = phase;
  c.deadline = deadline;
  int list = kUntimedList;
  if (deadline != kNever) {
    if (phase == Phase::kIdle) list = kIdleList;
    if (phase == Phase::kReading) list = kReadList;
    if (phase == Phase::kWriting) list = kWriteList;
  }
  Append(c, list);
}

// Wakes a streaming connection from any thread; lives as long as anyone may post to it.
struct SseWake {
  explicit SseWake(asio::io_context& ctx) : timer(ctx) {}
  asio::steady_timer timer;
  std::shared_ptr<SseChannel> channel;
  Connection* conn = nullptr;  // loop thread only; null once the stream has ended
};

}  // namespace

struct Server::Impl {
  struct Loop {
    asio::io_context ctx{1};
    std::optional<tcp::acceptor> acceptor;
    asio::steady_timer sweep{ctx};
    ConnLists lists;        // loop thread only
    std::size_t count = 0;  // loop thread only
    std::thread thread;
    observe::Gauge* lag = nullptr;
    bool stopping = false;  // loop thread only
  };

  Impl(ServerSettings s, const Router& r, MiddlewareChain c, observe::Registry& reg,
       const core::Clock& clk, core::IdGenerator& id)
      : settings(std::move(s)), router(r), chain(std::move(c)), registry(reg), clock(clk), ids(id) {
    const int n = settings.threads > 0
                      ? settings.threads
                      : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    for (int i = 0; i < n; ++i) loops.push_back(std::make_unique<Loop>());
    for (std::size_t i = 0; i < loops.size(); ++i) {
      loops[i]->lag =
          &registry.AddGauge("trellis_event_loop_lag_seconds",
                             "How late the event loop ran its periodic timer, last interval.",
                             {{"loop", std::to_string(i)}});
    }
    for (const auto& route : router.Routes()) {
      route_metrics.push_back(
          MakeRouteMetrics(std::string(MethodName(route.method)) + " " + route.pattern));
    }
    unmatched_metrics = MakeRouteMetrics("(unmatched)");
    if (router.Fallback()) fallback_metrics = MakeRouteMetrics(kFallbackRoute);
    unparsed_metrics = MakeRouteMetrics("(unparsed)");
    accepted = &registry.AddCounter("trellis_http_connections_accepted_total",
                                    "Connections accepted.", {});
    refused =
        &registry.AddCounter("trellis_http_connections_refused_total",
                             "Connections refused with 503 because the process was full.", {});
    sse_dropped =
        &registry.AddCounter("trellis_http_sse_dropped_total",
                             "Event streams closed because the client did not keep up.", {});
    registry.AddCallbackGauge("trellis_http_connections_open", "Open client connections.", {},
                              [this] { return static_cast<double>(open.load()); });
    registry.AddCallbackGauge("trellis_http_sse_streams", "Open event streams.", {},
                              [this] { return static_cast<double>(streams.load()); });
  }

  RouteMetrics MakeRouteMetrics(const std::string& route) {
    RouteMetrics m;
    for (int i = 0; i < 5; ++i) {
      m.by_class[static_cast<std::size_t>(i)] = &registry.AddCounter(
          "trellis_http_requests_total", "HTTP requests by route and status class.",
          {{"route", route}, {"code", std::to_string(i + 1) + "xx"}});
    }
    m.latency = &registry.AddHistogram("trellis_http_request_duration_seconds",
                                       "Time from a request's first byte to its response written.",
                                       {{"route", route}}, observe::LatencyBuckets());
    m.started = new observe::Counter();
    m.finished = new observe::Counter();
    owned_counters.emplace_back(m.started);
    owned_counters.emplace_back(m.finished);
    registry.AddCallbackGauge("trellis_http_requests_in_flight", "Requests being handled.",
                              {{"route", route}}, [s = m.started, f = m.finished] {
                                return static_cast<double>(s->Value()) -
                                       static_cast<double>(f->Value());
                              });
    return m;
  }

  // --- connection list (loop thread only) ---
  static void Link(Loop& loop, Connection& c) {
    c.lists = &loop.lists;
    Append(c, kUntimedList);
    ++loop.count;
  }
  static void Unlink(Loop& loop, Connection& c) {
    Detach(c);
    --loop.count;
  }
  // Calls f on every connection of the loop; f may move the connection between lists.
  template <typename F>
  static void ForEach(Loop& loop, F f) {
    std::vector<Connection*> all;
    all.reserve(loop.count);
    for (const auto& l : loop.lists) {
      for (Connection* c = l.head; c; c = c->next) all.push_back(c);
    }
    for (Connection* c : all) f(c);
  }

  Mono Now() const { return clock.Monotonic(); }

  // Cancels the connection's pending operation. The flag stays set: a deadline passed, so even
  // an operation that completed in the same instant ends the connection at its next check.
  static void Expire(Connection* c) {
    c->expired = true;
    Enter(*c, c->phase, kNever);
    boost::system::error_code ignored;
    c->socket.cancel(ignored);
  }

  // --- start ---
  core::Result<void> Start() {
    if (settings.allocator_trim_threshold > 0) {
      // Process-wide, and idempotent: several servers in one process set the same value.
      const auto bytes =
          std::min<std::size_t>(settings.allocator_trim_threshold, std::numeric_limits<int>::max());
      if (mallopt(M_TRIM_THRESHOLD, static_cast<int>(bytes)) != 1) {
        // Another allocator (a sanitizer's, jemalloc) has its own policy.
        core::LogLine(core::LogLevel::kDebug, "allocator trim threshold not set");
      }
    }
    // Use every descriptor the hard limit allows; keep headroom for files, pipes and logs.
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(settings.address, ec);
    if (ec) return core::Fail(ErrorCode::kInvalidArgument, "invalid address " + settings.address);
    std::uint16_t port = settings.port;
    const std::size_t acceptors = settings.reuse_port ? loops.size() : 1;
    for (std::size_t i = 0; i < acceptors; ++i) {
      auto& acc = loops[i]->acceptor.emplace(loops[i]->ctx);
      tcp::endpoint ep(address, port);
      acc.open(ep.protocol(), ec);
      if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec && settings.reuse_port) {
        acc.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
      }
      if (!ec) acc.bind(ep, ec);
      if (!ec) acc.listen(settings.listen_backlog, ec);
      if (ec) {
        return core::Fail(ErrorCode::kUnavailable, "cannot listen on " + settings.address + ":" +
                                                       std::to_string(port) + ": " + ec.message());
      }
      port = acc.local_endpoint().port();
    }
    bound_port = port;
    for (std::size_t i = 0; i < loops.size(); ++i) {
      Loop& loop = *loops[i];
      if (loop.acceptor) asio::co_spawn(loop.ctx, Accept(loop), asio::detached);
      asio::co_spawn(loop.ctx, Sweep(loop), asio::detached);
    }
    for (auto& loop : loops) {
      loop->thread = std::thread([l = loop.get()] { l->ctx.run(); });
    }
    return {};
  }

  // --- accept ---
  asio::awaitable<void> Accept(Loop& loop) {
    std::size_t next_loop = 0;
    asio::steady_timer backoff(loop.ctx);
    while (!loop.stopping) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await loop.acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !loop.acceptor->is_open()) break;
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
          core::LogLine(core::LogLevel::kWarn, "accept failed; backing off")
              .Str("error", ec.message());
          backoff.expires_after(kAcceptBackoff);
          co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        continue;
      }
      accepted->Inc();
      if (open.load(std::memory_order_relaxed) >= settings.max_connections) {
        Refuse(loop, std::move(socket));
        continue;
      }
      open.fetch_add(1, std::memory_order_relaxed);
      socket.set_option(tcp::no_delay(true), ec);
      if (settings.reuse_port) {
        asio::co_spawn(loop.ctx, Serve(loop, std::move(socket)), asio::detached);
      } else {
        // One acceptor: hand the socket to the loops in turn.
        Loop& target = *loops[next_loop++ % loops.size()];
        const auto protocol = socket.local_endpoint(ec).protocol();
        const int fd = socket.release(ec);
        if (ec) {
          open.fetch_sub(1, std::memory_order_relaxed);
          continue;
        }
        asio::post(target.ctx, [this, &target, fd, protocol] {
          boost::system::error_code e;
          tcp::socket moved(target.ctx);
          moved.assign(protocol, fd, e);
          if (e) {
            ::close(fd);
            open.fetch_sub(1, std::memory_order_relaxed);
            return;
          }
          asio::co_spawn(target.ctx, Serve(target, std::move(moved)), asio::detached);
        });
      }
    }
  }

  // Over the connection limit: say so at once and close, never leave the client hanging.
  void Refuse(Loop& loop, tcp::socket socket) {
    refused->Inc();
    std::string response =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n";
    response += "Retry-After: " + std::to_string(settings.overload_retry_after_seconds) + "\r\n";
    const std::string body = std::string("{\"type\":\"") + std::string(kProblemTypeBase) +
                             "overloaded\",\"title\":\"Service Unavailable\",\"status\":503," +
                             "\"detail\":\"the server has too many open connections\"}";
    response += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    response += body;
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    ::send(socket.native_handle(), response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    if (lingering.load() >= kMaxLingering) return;  // closes now
    asio::co_spawn(loop.ctx, Linger(std::move(socket)), asio::detached);
  }

  asio::awaitable<void> Linger(tcp::socket socket) {
    lingering.fetch_add(1);
    asio::steady_timer timer(socket.get_executor());
    timer.expires_after(kRefusedLinger);
    // The timer's handler may already be queued when the read ends (cancel() cannot recall
    // it), and then runs after this frame and its socket are gone: it checks `done` first.
    auto done = std::make_shared<bool>(false);
    timer.async_wait([&socket, done](boost::system::error_code e) {
      if (!e && !*done) socket.cancel(e);
    });
    char scratch[1024];
    boost::system::error_code ec;
    while (!ec) {
      co_await socket.async_read_some(asio::buffer(scratch),
                                      asio::redirect_error(asio::use_awaitable, ec));
    }
    *done = true;
    timer.cancel();
    lingering.fetch_sub(1);
  }

  // --- sweep: deadlines, lag, drain ---
  asio::awaitable<void> Sweep(Loop& loop) const {
    boost::system::error_code ec;
    while (true) {
      const Mono planned = Now() + kSweepInterval;
      loop.sweep.expires_after(kSweepInterval);
      co_await loop.sweep.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      const Mono now = Now();
      loop.lag->Set(
          std::chrono::duration<double>(std::max(now - planned, Mono::duration::zero())).count());
      const bool drain = draining.load();
      const bool accepting = !accepting_stopped.load();
      for (const int list : {kIdleList, kReadList, kWriteList}) {
        auto& l = loop.lists[static_cast<std::size_t>(list)];
        while (l.head && l.head->deadline <= now) Expire(l.head);
      }
      if (drain) {
        ForEach(loop, [accepting](Connection* c) {
          // Draining closes idle keep-alive connections; a new one is left to send its
          // request while we still accept (drain_delay).
          if (c->sse) {
            c->sse->timer.cancel();
          } else if (c->phase == Phase::kIdle && !(accepting && c->responses == 0)) {
            Expire(c);
          }
        });
      }
      if (drain) {
        if (accepting_stopped.load() && loop.count == 0) break;
        if (now >= shutdown_deadline.load()) {
          core::LogLine(core::LogLevel::kWarn, "shutdown timeout; closing remaining connections")
              .Int("connections", static_cast<std::int64_t>(loop.count));
          ForEach(loop, [](Connection* c) { Expire(c); });
          break;
        }
      }
    }
    loop.stopping = true;
    loop.ctx.stop();
  }

  // --- one connection ---
  asio::awaitable<void> Serve(Loop& loop, tcp::socket socket) {
    Connection conn(std::move(socket));
    Link(loop, conn);
    boost::beast::flat_buffer buffer(settings.limits.max_header_bytes + kReadChunk);
    RequestReader reader(settings.limits);
    std::string head;
    boost::system::error_code ec;
    std::string remote;
    if (auto ep = conn.socket.remote_endpoint(ec); !ec) remote = ep.address().to_string();

    while (true) {
      // Idle: hold no buffers while waiting for the next request.
      if (buffer.size() == 0) {
        // While the listener is still open during a drain, a new connection gets its request
        // answered (with Connection: close): that is how a load balancer's probe learns from
        // /readyz that we are going away. A keep-alive connection is done.
        if (draining.load() && (conn.responses > 0 || accepting_stopped.load())) break;
        Enter(conn, Phase::kIdle, Now() + settings.idle_timeout);
        reader.Release();
        if (buffer.capacity() > 2 * kIdleReadBytes) buffer.shrink_to_fit();
        if (head.capacity() > kIdleReadBytes) std::string().swap(head);
        const std::size_t n = co_await conn.socket.async_read_some(
            buffer.prepare(kIdleReadBytes), asio::redirect_error(asio::use_awaitable, ec));
        buffer.commit(n);
        if (ec || conn.expired) break;
      }

      // Reading: the whole request must arrive within request_timeout.
      const Mono received = Now();
      Enter(conn, Phase::kReading, received + settings.request_timeout);
      reader.Reset();
      RequestReader::Status status = RequestReader::Status::kNeedMore;
      bool sent_continue = false;
      bool read_failed = false;
      while (true) {
        std::size_t used = 0;
        const auto data = buffer.cdata();
        status =
            reader.Feed(std::string_view(static_cast<const char*>(data.data()), data.size()), used);
        buffer.consume(used);
        if (status != RequestReader::Status::kNeedMore) break;
        if (!sent_continue && reader.ExpectsContinue()) {
          sent_continue = true;
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          co_await asio::async_write(conn.socket, asio::buffer(kContinue),
                                     asio::redirect_error(asio::use_awaitable, ec));
          if (ec) {
            read_failed = true;
            break;
          }
        }
        if (buffer.size() >= buffer.max_size()) {
          // Cannot happen: the reader refuses headers over the limit before the buffer fills.
          status = RequestReader::Status::kError;
          break;
        }
        // Grow by doubling, so a request just over the idle read does not leave a 16 KiB buffer.
        const std::size_t room = std::min(std::clamp(buffer.size(), kIdleReadBytes, kReadChunk),
                                          buffer.max_size() - buffer.size());
        const std::size_t n = co_await conn.socket.async_read_some(
            buffer.prepare(room), asio::redirect_error(asio::use_awaitable, ec));
        buffer.commit(n);
        if (ec) {
          read_failed = true;
          break;
        }
      }

      if (read_failed && conn.expired && conn.phase == Phase::kReading) {
        conn.expired = false;
        co_await WriteError(
            conn, core::Error(ErrorCode::kRequestTimeout, "the request did not arrive in time"),
            received, unparsed_metrics, remote);
        break;
      }
      if (read_failed) break;
      if (status == RequestReader::Status::kError) {
        co_await WriteError(conn, reader.Error(), received, unparsed_metrics, remote);
        break;
      }

      // Handling.
      Enter(conn, Phase::kHandling, kNever);
      Request req;
      reader.Fill(req);
      req.ctx.received = received;
      req.ctx.deadline = received + settings.request_deadline;
      req.ctx.remote_address = remote;
      const auto given_id = req.FindHeader("x-request-id");
      req.ctx.request_id =
          given_id && AcceptableRequestId(*given_id) ? std::string(*given_id) : ids.Next();
      req.ctx.trace = observe::TraceContext::FromHeader(req.HeaderValue("traceparent"));

      const auto match = router.Find(req.method, req.path, req.params);
      // No route has this path: a GET or HEAD goes to the router's fallback when it has one.
      const Handler* fallback =
          !match.path_matched && (req.method == Method::kGet || req.method == Method::kHead)
              ? router.Fallback()
              : nullptr;
      RouteMetrics& metrics = match.handler
                                  ? route_metrics[static_cast<std::size_t>(match.route_id)]
                                  : (fallback ? fallback_metrics : unmatched_metrics);
      req.ctx.route = match.handler ? match.pattern
                                    : std::string_view(fallback ? kFallbackRoute : "(unmatched)");
      metrics.started->Inc();
      Response resp = co_await Dispatch(req, match, fallback);
      metrics.finished->Inc();

      const bool keep_alive = reader.KeepAlive() && !resp.close && !draining.load();
      // HTTP/1.0 connections close by default: a 1.0 client keeps one open only if told so.
      if (keep_alive && req.version < 11 && !resp.events) {
        resp.headers.emplace_back("Connection", "keep-alive");
      }
      head.clear();
      AppendResponseHead(head, resp,
                         HeadOptions{.request_id = req.ctx.request_id,
                                     .date = HttpDate(clock),
                                     .keep_alive = keep_alive,
                                     .head_request = req.method == Method::kHead});
      Enter(conn, Phase::kWriting, Now() + settings.write_timeout);
      const bool send_body = req.method != Method::kHead && !resp.events;
      if (send_body && !resp.body_more.empty()) {
        // Head and every piece of the body in one gathered write.
        std::vector<asio::const_buffer> pieces;
        pieces.reserve(2 + resp.body_more.size());
        pieces.push_back(asio::buffer(head));
        pieces.push_back(asio::buffer(resp.body));
        for (const auto& piece : resp.body_more) pieces.push_back(asio::buffer(piece));
        co_await asio::async_write(conn.socket, pieces,
                                   asio::redirect_error(asio::use_awaitable, ec));
      } else {
        std::array<asio::const_buffer, 2> out{
            asio::buffer(head),
            asio::buffer(send_body ? std::string_view(resp.body) : std::string_view())};
        co_await asio::async_write(conn.socket, out, asio::redirect_error(asio::use_awaitable, ec));
      }
      Record(metrics, req, resp.status, received, remote);
      ++conn.responses;
      if (ec) break;
      if (resp.events) {
        co_await Stream(loop, conn, std::move(resp.events));
        break;
      }
      if (!keep_alive) break;
    }

    Unlink(loop, conn);
    open.fetch_sub(1, std::memory_order_relaxed);
    conn.socket.shutdown(tcp::socket::shutdown_send, ec);
    conn.socket.close(ec);
  }

  asio::awaitable<Response> Dispatch(Request& req, const Router::Match& match,
                                     const Handler* fallback) const {
    // The fallback runs without the chain, as the 404 it replaces does: what it serves is
    // public, and an unmatched API path must stay a 404 rather than become a 401.
    const Handler* handler = match.handler ? match.handler : fallback;
    if (!handler) {
      if (match.path_matched && req.method == Method::kOptions && chain.empty()) {
        Response r;
        r.status = 204;
        r.headers.emplace_back("Allow", match.allow);
        co_return r;
      }
      if (match.path_matched) {
        // Preflights still pass through the chain (CORS) before we answer 405.
        const Handler not_allowed = [&match](Request& r) -> asio::awaitable<Response> {
          if (r.method == Method::kOptions) {
            Response ok;
            ok.status = 204;
            ok.headers.emplace_back("Allow", match.allow);
            co_return ok;
          }
          Response p = Problem(
              core::Error(ErrorCode::kMethodNotAllowed, "this resource supports " + match.allow),
              r.path, r.ctx.request_id);
          p.headers.emplace_back("Allow", match.allow);
          co_return p;
        };
        co_return co_await RunChain(chain, not_allowed, req);
      }
      co_return Problem(core::Error(ErrorCode::kNotFound, "no resource at this path"), req.path,
                        req.ctx.request_id);
    }
    try {
      if (!match.handler) co_return co_await (*handler)(req);
      co_return co_await RunChain(chain, *handler, req);
    } catch (const std::exception& ex) {
      core::LogLine(core::LogLevel::kError, "handler threw")
          .Str("request_id", req.ctx.request_id)
          .Str("route", req.ctx.route)
          .Str("error", ex.what());
    }
    co_return Problem(core::Error(ErrorCode::kInternal, "an internal error occurred"), req.path,
                      req.ctx.request_id);
  }

  asio::awaitable<void> WriteError(Connection& conn, const core::Error& error, Mono received,
                                   RouteMetrics& metrics, const std::string& remote) {
    // A refused request gets an id like any other, so the client can quote it and the
    // access log line can be found.
    Request req;
    req.ctx.route = "(unparsed)";
    req.ctx.request_id = ids.Next();
    Response resp = Problem(error, {}, req.ctx.request_id);
    resp.close = true;
    std::string head;
    AppendResponseHead(
        head, resp,
        HeadOptions{
            .request_id = req.ctx.request_id, .date = HttpDate(clock), .keep_alive = false});
    Enter(conn, Phase::kWriting, Now() + settings.write_timeout);
    boost::system::error_code ec;
    std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(resp.body)};
    co_await asio::async_write(conn.socket, out, asio::redirect_error(asio::use_awaitable, ec));
    Record(metrics, req, resp.status, received, remote);
  }

  void Record(RouteMetrics& m, const Request& req, int status, Mono received,
              const std::string& remote) const {
    const double seconds = std::chrono::duration<double>(Now() - received).count();
    m.by_class[static_cast<std::size_t>(StatusClassIndex(status))]->Inc();
    m.latency->Observe(seconds);
    if (!settings.access_log || !core::LogEnabled(core::LogLevel::kInfo)) return;
    core::LogLine line(core::LogLevel::kInfo, "request");
    line.Str("request_id", req.ctx.request_id)
        .Str("trace_id", req.ctx.trace.trace_id)
        .Str("method", req.method_text)
        .Str("route", req.ctx.route)
        .Str("path", req.path)
        .Int("status", status)
        .Num("duration_ms", seconds * 1000.0)
        .Str("remote", remote);
    if (!req.ctx.tenant.empty()) line.Str("tenant", req.ctx.tenant);
  }

  // --- server-sent events ---
  asio::awaitable<void> Stream(Loop& loop, Connection& conn, std::shared_ptr<SseChannel> channel) {
    auto wake = std::make_shared<SseWake>(loop.ctx);
    wake->channel = channel;
    wake->conn = &conn;
    conn.sse = wake;
    streams.fetch_add(1);
    asio::io_context& ctx = loop.ctx;
    channel->Attach(settings.sse_max_buffer_bytes, [wake, &ctx] {
      asio::post(ctx, [wake] {
        wake->timer.cancel();
        // A consumer that has stopped reading leaves us blocked in a write: cut it off now.
        if (wake->conn && !wake->channel->IsOpen()) {
          boost::system::error_code e;
          wake->conn->socket.cancel(e);
        }
      });
    });
    std::string out;
    boost::system::error_code ec;
    while (true) {
      out.clear();
      if (draining.load()) {
        // Tell the client to come back (to another instance) shortly.
        out = "retry: 1000\nevent: reconnect\ndata: {\"reason\":\"shutdown\"}\n\n";
        co_await WriteStream(conn, out, ec);
        break;
      }
      const auto state = channel->TakeAll(out);
      if (state == SseChannel::State::kOverflow) {
        sse_dropped->Inc();
        break;
      }
      if (state == SseChannel::State::kClosed) break;
      if (state == SseChannel::State::kData) {
        co_await WriteStream(conn, out, ec);
        if (ec) {
          // Overflow cancels the write; a client that stopped reading runs into the write
          // timeout instead when nothing more is published. Both are a consumer left behind.
          if (!channel->IsOpen() || ec == asio::error::timed_out) sse_dropped->Inc();
          break;
        }
        continue;
      }
      Enter(conn, Phase::kStreaming, kNever);
      wake->timer.expires_after(settings.sse_heartbeat);
      co_await wake->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        out = ": heartbeat\n\n";
        co_await WriteStream(conn, out, ec);
        if (ec) {
          if (ec == asio::error::timed_out) sse_dropped->Inc();
          break;
        }
      }
    }
    wake->conn = nullptr;
    conn.sse.reset();
    channel->Detach();
    streams.fetch_sub(1);
  }

  asio::awaitable<void> WriteStream(Connection& conn, const std::string& data,
                                    boost::system::error_code& ec) const {
    Enter(conn, Phase::kWriting, Now() + settings.write_timeout);
    co_await asio::async_write(conn.socket, asio::buffer(data),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (conn.expired) ec = asio::error::timed_out;
  }

  // --- shutdown ---
  void Shutdown() {
    if (draining.exchange(true)) return;
    core::LogLine(core::LogLevel::kInfo, "shutdown: draining")
        .Int("drain_delay_ms", settings.drain_delay.count())
        .Int("timeout_ms", settings.shutdown_timeout.count());
    shutdown_deadline.store(Now() + settings.drain_delay + settings.shutdown_timeout);
    // Keep accepting for drain_delay (load balancers notice /readyz first), then stop.
    Loop& first = *loops.front();
    auto timer = std::make_shared<asio::steady_timer>(first.ctx);
    timer->expires_after(settings.drain_delay);
    timer->async_wait([this, timer](boost::system::error_code) {
      for (auto& loop : loops) {
        asio::post(loop->ctx, [l = loop.get()] {
          boost::system::error_code e;
          if (l->acceptor) l->acceptor->close(e);
        });
      }
      accepting_stopped.store(true);
    });
  }

  void Wait() {
    for (auto& loop : loops) {
      if (loop->thread.joinable()) loop->thread.join();
    }
  }

  ServerSettings settings;
  const Router& router;
  MiddlewareChain chain;
  observe::Registry& registry;
  const core::Clock& clock;
  core::IdGenerator& ids;
  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<RouteMetrics> route_metrics;
  RouteMetrics unmatched_metrics;
  RouteMetrics fallback_metrics;  // set when the router has a fallback
  RouteMetrics unparsed_metrics;
  std::vector<std::unique_ptr<observe::Counter>> owned_counters;
  observe::Counter* accepted = nullptr;
  observe::Counter* refused = nullptr;
  observe::Counter* sse_dropped = nullptr;
  std::atomic<std::size_t> open{0};
  std::atomic<std::size_t> streams{0};
  std::atomic<std::size_t> lingering{0};
  std::atomic<bool> draining{false};
  std::atomic<bool> accepting_stopped{false};
  std::atomic<Mono> shutdown_deadline{kNever};
  std::uint16_t bound_port = 0;
};

Server::Server(ServerSettings settings, const Router& router, MiddlewareChain chain,
               observe::Registry& registry, const core::Clock& clock, core::IdGenerator& ids)
    : impl_(std::make_unique<Impl>(std::move(settings), router, std::move(chain), registry, clock,
                                   ids)) {}

Server::~Server() {
  if (impl_) {
    impl_->Shutdown();
    impl_->Wait();
  }
}

core::Result<void> Server::Start() { return impl_->Start(); }
std::uint16_t Server::Port() const { return impl_->bound_port; }
void Server::Shutdown() { impl_->Shutdown(); }
void Server::Wait() { impl_->Wait(); }
bool Server::Draining() const { return impl_->draining.load(); }
std::size_t Server::OpenConnections() const { return impl_->open.load(); }

}  // namespace trellis::platform::http
