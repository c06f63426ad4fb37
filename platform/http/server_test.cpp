// Real-socket tests of the HTTP server: a Server on 127.0.0.1 port 0 and a raw TCP client that
// controls every byte it sends, so framing, limits, smuggling refusals, event streams and
// graceful shutdown are checked end to end, as a client on the network would see them.
//
// Every wait is a poll against a deadline; timeouts are configured short through
// ServerSettings so the whole suite runs in a few seconds.
#include "platform/http/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/core/log.hpp"
#include "platform/observe/metrics.hpp"

namespace trellis::platform::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace std::string_literals;
using Steady = std::chrono::steady_clock;

// The longest any single client wait may take before the test gives up on it.
constexpr auto kIoTimeout = 5s;
// How often polling helpers look again.
constexpr auto kPollInterval = 5ms;

template <typename Pred>
bool Eventually(Pred pred, Steady::duration timeout = kIoTimeout) {
  const auto deadline = Steady::now() + timeout;
  while (Steady::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(kPollInterval);
  }
  return pred();
}

// Status lines ("HTTP/1.1 200 ") in a byte stream; prose such as "an HTTP/1.1 request" in a
// problem body does not count.
std::size_t CountStatusLines(std::string_view data) {
  constexpr std::string_view kVersion = "HTTP/1.1 ";
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t n = 0;
  for (auto pos = data.find(kVersion); pos != std::string_view::npos;
       pos = data.find(kVersion, pos + 1)) {
    const auto rest = data.substr(pos + kVersion.size());
    if (rest.size() >= 4 && digit(rest[0]) && digit(rest[1]) && digit(rest[2]) && rest[3] == ' ') {
      ++n;
    }
  }
  return n;
}

// --- a response as read off the wire ---

struct RawResponse {
  int status = 0;
  std::string status_line;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  [[nodiscard]] std::optional<std::string> Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (EqualsIgnoreCase(n, name)) return v;
    }
    return std::nullopt;
  }
  [[nodiscard]] std::size_t HeaderCount(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& h : headers) n += EqualsIgnoreCase(h.first, name) ? 1 : 0;
    return n;
  }
  [[nodiscard]] bool Closes() const {
    const auto c = Header("connection");
    return c && EqualsIgnoreCase(*c, "close");
  }
};

// Parses a status line and header block (without the final blank line).
RawResponse ParseHead(std::string_view head) {
  RawResponse r;
  auto eol = head.find("\r\n");
  r.status_line = std::string(head.substr(0, eol));
  if (r.status_line.size() >= 12 && r.status_line.starts_with("HTTP/1.")) {
    r.status = std::stoi(r.status_line.substr(9, 3));
  }
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    const auto line = head.substr(0, eol);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return r;
}

// --- a blocking client on a raw descriptor: exact bytes out, deadline-bounded reads in ---

class Client {
 public:
  Client() = default;
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects to 127.0.0.1:port; false when the connection is refused. A positive `rcvbuf`
  // shrinks the receive buffer before the handshake (the window is fixed then).
  bool Connect(std::uint16_t port, int rcvbuf = 0) {
    Close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      Close();
      return false;
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    pending_.clear();
    closed_ = false;
  }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `needle` has arrived (true) or the peer closed or the time ran out (false).
  bool ReadUntil(std::string_view needle, Steady::duration timeout = kIoTimeout) {
    const auto deadline = Steady::now() + timeout;
    while (pending_.find(needle) == std::string::npos) {
      if (!ReadSome(deadline)) return false;
    }
    return true;
  }

  // Reads until the peer closes (or resets) the connection; `closed` is false on timeout.
  struct Drained {
    std::string data;
    bool closed = false;
  };
  Drained ReadToEof(Steady::duration timeout = kIoTimeout) {
    const auto deadline = Steady::now() + timeout;
    while (ReadSome(deadline)) {
    }
    return {std::exchange(pending_, {}), closed_};
  }

  // Reads one response: its head, then a body framed by Content-Length (none for a HEAD, a
  // 1xx/204/304 or an event stream, whose events stay in Pending()).
  std::optional<RawResponse> ReadResponse(bool head_request = false,
                                          Steady::duration timeout = kIoTimeout) {
    const auto deadline = Steady::now() + timeout;
    if (!ReadUntil("\r\n\r\n", timeout)) return std::nullopt;
    const auto end = pending_.find("\r\n\r\n");
    RawResponse r = ParseHead(std::string_view(pending_).substr(0, end));
    pending_.erase(0, end + 4);
    const bool no_body =
        head_request || (r.status >= 100 && r.status < 200) || r.status == 204 || r.status == 304;
    if (no_body) return r;
    if (const auto length = r.Header("content-length")) {
      const auto n = static_cast<std::size_t>(std::stoull(*length));
      while (pending_.size() < n) {
        if (!ReadSome(deadline)) return std::nullopt;
      }
      r.body = pending_.substr(0, n);
      pending_.erase(0, n);
    }
    return r;
  }

  // Bytes received but not yet taken by a ReadResponse.
  [[nodiscard]] const std::string& Pending() const { return pending_; }
  [[nodiscard]] bool Closed() const { return closed_; }

  // Whether anything (data or close) arrives within `timeout`.
  bool AnythingWithin(Steady::duration timeout) {
    const std::size_t before = pending_.size();
    ReadSome(Steady::now() + timeout);
    return pending_.size() != before || closed_;
  }

 private:
  // One read of whatever is available; false on close, reset or deadline.
  bool ReadSome(Steady::time_point deadline) {
    if (fd_ < 0 || closed_) return false;
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      char buf[16 * 1024];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        closed_ = true;  // EOF, or a reset: either way the server is done with us
        return false;
      }
      pending_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
  }

  int fd_ = -1;
  std::string pending_;
  bool closed_ = false;
};

// --- access-log capture: the tap is a plain function pointer, so the buffer is global ---

std::mutex g_log_mu;
std::vector<std::string> g_log_lines;  // guarded by g_log_mu

void CaptureLogLine(std::string_view line) {
  std::lock_guard lock(g_log_mu);
  g_log_lines.emplace_back(line);
}

class LogCapture {
 public:
  LogCapture() {
    {
      std::lock_guard lock(g_log_mu);
      g_log_lines.clear();
    }
    core::SetLogTap(&CaptureLogLine);
  }
  ~LogCapture() { core::SetLogTap(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The first captured line containing every needle, or "".
  [[nodiscard]] std::string Find(std::initializer_list<std::string_view> needles) const {
    std::lock_guard lock(g_log_mu);
    for (const auto& line : g_log_lines) {
      bool all = true;
      for (auto n : needles) all = all && line.find(n) != std::string::npos;
      if (all) return line;
    }
    return {};
  }
};

// --- a server with a few test routes ---

class TestServer {
 public:
  // `more_routes` may add routes or a fallback; `chain` runs around matched routes.
  explicit TestServer(const std::function<void(ServerSettings&)>& tweak = {},
                      const std::function<void(Router&)>& more_routes = {},
                      MiddlewareChain chain = {}) {
    settings_.address = "127.0.0.1";
    settings_.port = 0;
    settings_.threads = 2;
    settings_.limits =
        ParseLimits{.max_header_bytes = 4096, .max_body_bytes = 1024, .max_url_bytes = 512};
    settings_.request_timeout = 300ms;
    settings_.idle_timeout = 5s;
    settings_.write_timeout = 2s;
    settings_.request_deadline = 5s;
    settings_.sse_heartbeat = 10s;
    settings_.sse_max_buffer_bytes = 64 * 1024;
    settings_.drain_delay = 0ms;
    settings_.shutdown_timeout = 5s;
    if (tweak) tweak(settings_);
    AddRoutes();
    if (more_routes) more_routes(router_);
    observe::RegisterProcessMetrics(registry_);
    server_ = std::make_unique<Server>(settings_, router_, std::move(chain), registry_,
                                       core::SystemClock::Instance(), ids_);
    auto started = server_->Start();
    if (!started) ADD_FAILURE() << "server did not start: " << started.error().message;
  }
  ~TestServer() {
    // The server goes first: the registry's callback gauges read its state until then.
    server_.reset();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  [[nodiscard]] std::uint16_t Port() const { return server_->Port(); }
  Server& server() { return *server_; }
  observe::Registry& registry() { return registry_; }
  [[nodiscard]] int SlowStarted() const { return slow_started_.load(); }

  // The event channel of the n-th /events request, once its handler has run.
  std::shared_ptr<SseChannel> Channel(std::size_t n = 0) {
    std::shared_ptr<SseChannel> found;
    Eventually([&] {
      std::lock_guard lock(mu_);
      if (channels_.size() > n) found = channels_[n];
      return found != nullptr;
    });
    return found;
  }

  // Polls the rendered metrics until `needle` shows up.
  bool MetricsEventuallyContain(std::string_view needle) {
    return Eventually([&] { return registry_.Render().find(needle) != std::string::npos; });
  }

 private:
  void AddRoutes() {
    router_.Add(Method::kGet, "/hello", [](Request&) -> asio::awaitable<Response> {
      co_return Response::Text(200, "hello");
    });
    router_.Add(Method::kPost, "/echo", [](Request& req) -> asio::awaitable<Response> {
      co_return Response::Text(200, req.body, "application/octet-stream");
    });
    router_.Add(Method::kGet, "/slow", [this](Request&) -> asio::awaitable<Response> {
      slow_started_.fetch_add(1);
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(1s);
      co_await timer.async_wait(asio::use_awaitable);
      co_return Response::Text(200, "slow");
    });
    router_.Add(Method::kGet, "/events", [this](Request&) -> asio::awaitable<Response> {
      auto channel = std::make_shared<SseChannel>();
      {
        std::lock_guard lock(mu_);
        channels_.push_back(channel);
      }
      co_return Response::EventStream(channel);
    });
    // What gateway's /readyz does, without its dependencies.
    router_.Add(Method::kGet, "/readyz", [this](Request&) -> asio::awaitable<Response> {
      const bool draining = server_->Draining();
      co_return Response::Json(draining ? 503 : 200,
                               draining ? R"({"status":"draining"})" : R"({"status":"ready"})");
    });
  }

  ServerSettings settings_;
  observe::Registry registry_;
  core::UuidV7Generator ids_{core::SystemClock::Instance()};
  Router router_;
  std::atomic<int> slow_started_{0};
  std::mutex mu_;
  std::vector<std::shared_ptr<SseChannel>> channels_;  // guarded by mu_
  std::unique_ptr<Server> server_;
};

std::string Get(std::string_view target, std::string_view extra_headers = {}) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
         "\r\n";
}

std::string Post(std::string_view target, std::string_view body) {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

// What came back for `bytes` sent on a fresh connection, read until the server closed it.
struct Refusal {
  RawResponse response;       // the first response; its body is everything after its head
  std::size_t responses = 0;  // status lines seen: more than one means a request was smuggled
  bool closed = false;
};
Refusal SendAndDrain(std::uint16_t port, std::string_view bytes) {
  Client c;
  Refusal out;
  if (!c.Connect(port)) {
    ADD_FAILURE() << "cannot connect";
    return out;
  }
  c.Send(bytes);
  const auto drained = c.ReadToEof();
  out.closed = drained.closed;
  out.responses = CountStatusLines(drained.data);
  const auto end = drained.data.find("\r\n\r\n");
  if (end != std::string::npos) {
    out.response = ParseHead(std::string_view(drained.data).substr(0, end));
    out.response.body = drained.data.substr(end + 4);
  }
  return out;
}

void ExpectRefused(std::uint16_t port, std::string_view bytes, int status) {
  const Refusal r = SendAndDrain(port, bytes);
  EXPECT_EQ(r.response.status, status) << r.response.status_line;
  EXPECT_EQ(r.response.Header("content-type").value_or(""), kProblemJson);
  EXPECT_TRUE(r.response.Closes());
  EXPECT_NE(r.response.body.find("\"status\":" + std::to_string(status)), std::string::npos)
      << r.response.body;
  EXPECT_TRUE(r.closed) << "the server must close the connection after refusing a request";
  EXPECT_EQ(r.responses, 1U) << "a second (smuggled) request was answered";
}

// ===================================================================== keep-alive and framing

TEST(ServerKeepAlive, TwoRequestsOnOneConnection) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.Send(Get("/hello")));
    const auto r = c.ReadResponse();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r->body, "hello");
    EXPECT_EQ(r->Header("content-length"), "5");
    EXPECT_EQ(r->Header("content-type"), kTextPlain);
    EXPECT_TRUE(r->Header("date"));
    EXPECT_FALSE(r->Closes());
  }
  EXPECT_FALSE(c.AnythingWithin(50ms)) << "a keep-alive connection stays open";
  EXPECT_EQ(s.server().OpenConnections(), 1U);
}

// Sends one request that asks for the connection to end and checks it does, after the answer.
void ExpectAnsweredThenClosed(const std::string& request) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(request));
  const auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_TRUE(r->Closes());
  const auto rest = c.ReadToEof();
  EXPECT_TRUE(rest.closed);
  EXPECT_EQ(rest.data, "");
}

TEST(ServerKeepAlive, ConnectionCloseRequestClosesAfterResponse) {
  ExpectAnsweredThenClosed(Get("/hello", "Connection: close\r\n"));
}

TEST(ServerKeepAlive, Http10WithoutKeepAliveCloses) {
  ExpectAnsweredThenClosed("GET /hello HTTP/1.0\r\n\r\n");
}

TEST(ServerKeepAlive, Http10WithKeepAliveStaysOpenAndSaysSo) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    const auto r = c.ReadResponse();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
    // An HTTP/1.0 client assumes the connection closes unless the response says otherwise.
    EXPECT_EQ(r->Header("connection"), "keep-alive");
  }
}

TEST(ServerKeepAlive, PipelinedRequestsAnsweredInOrder) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Get("/hello", "X-Request-Id: first\r\n") + Post("/echo", "second-body") +
                     Get("/hello", "X-Request-Id: third\r\n")));
  const auto r1 = c.ReadResponse();
  const auto r2 = c.ReadResponse();
  const auto r3 = c.ReadResponse();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->Header("x-request-id"), "first");
  EXPECT_EQ(r1->body, "hello");
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->body, "second-body");
  EXPECT_EQ(r3->Header("x-request-id"), "third");
  EXPECT_EQ(r3->body, "hello");
  EXPECT_FALSE(r3->Closes());
}

// ===================================================================== routing end to end

TEST(ServerRouting, UnknownPathIsProblem404) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Get("/nope")));
  const auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(r->Header("content-type"), kProblemJson);
  const auto id = r->Header("x-request-id");
  ASSERT_TRUE(id);
  EXPECT_NE(r->body.find(R"("type":"https://trellis.dev/problems/)"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find(R"("title":")"), std::string::npos);
  EXPECT_NE(r->body.find(R"("status":404)"), std::string::npos);
  EXPECT_NE(r->body.find(R"("detail":")"), std::string::npos);
  EXPECT_NE(r->body.find(R"("instance":"/nope")"), std::string::npos);
  EXPECT_NE(r->body.find(R"("request_id":")" + *id + "\""), std::string::npos) << r->body;
  EXPECT_FALSE(r->Closes()) << "a 404 is an ordinary response";
}

TEST(ServerRouting, WrongMethodIs405WithAllow) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Post("/hello", "x")));
  const auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(r->Header("allow"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(r->Header("content-type"), kProblemJson);
  EXPECT_NE(r->body.find(R"("status":405)"), std::string::npos);
  // The connection stays usable.
  ASSERT_TRUE(c.Send(Get("/hello")));
  const auto again = c.ReadResponse();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST(ServerRouting, HeadOnGetRouteHasLengthButNoBody) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  // Pipelined: if the HEAD response carried a body, it would corrupt the next response.
  ASSERT_TRUE(c.Send("HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\n" + Get("/hello")));
  const auto head = c.ReadResponse(/*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), "5");
  EXPECT_TRUE(c.Pending().starts_with("HTTP/1.1 200 OK\r\n") || c.Pending().empty()) << c.Pending();
  const auto get = c.ReadResponse();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "hello");
  EXPECT_EQ(c.Pending(), "");
}

// A body in pieces (Response::body_more) goes out whole, in order, counted in Content-Length;
// a HEAD gets the length and no piece.
TEST(ServerRouting, BodyInPiecesIsSentWholeAndCounted) {
  const std::string big(40 * 1024, 'x');  // larger than one socket write may take at once
  TestServer s({}, [&big](Router& r) {
    r.Add(Method::kGet, "/pieces", [&big](Request&) -> asio::awaitable<Response> {
      Response res = Response::Json(200, "{\"items\":[");
      res.body_more.push_back("\"" + big + "\"");
      res.body_more.push_back("]}");
      co_return res;
    });
  });
  const std::string expected = "{\"items\":[\"" + big + "\"]}";
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send("HEAD /pieces HTTP/1.1\r\nHost: test\r\n\r\n" + Get("/pieces")));
  const auto head = c.ReadResponse(/*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->Header("content-length"), std::to_string(expected.size()));
  const auto get = c.ReadResponse();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->Header("content-length"), std::to_string(expected.size()));
  EXPECT_EQ(get->body, expected);
  EXPECT_EQ(c.Pending(), "");
}

TEST(ServerResponse, FullBodyJoinsThePieces) {
  Response res = Response::Text(200, "a");
  res.body_more = {"bc", "", "d"};
  EXPECT_EQ(res.BodySize(), 4U);
  EXPECT_EQ(res.FullBody(), "abcd");
}

// ===================================================================== fallback handler

// Refuses everything it sees, to show which requests go through the chain.
class RefuseAll final : public Middleware {
 public:
  asio::awaitable<Response> Handle(Request&, Next) override {
    co_return Response::Text(401, "refused by the chain");
  }
};

void AddFallback(Router& router) {
  router.SetFallback([](Request& req) -> asio::awaitable<Response> {
    co_return Response::Text(200, "fallback for " + std::string(req.path));
  });
}

TEST(ServerFallback, UnmatchedGetAndHeadGoToTheFallbackWithoutTheChain) {
  TestServer s({}, AddFallback, MiddlewareChain{std::make_shared<RefuseAll>()});
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Get("/orgs/x/board")));
  const auto get = c.ReadResponse();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "fallback for /orgs/x/board");
  ASSERT_TRUE(c.Send("HEAD /a/b HTTP/1.1\r\nHost: test\r\n\r\n"));
  const auto head = c.ReadResponse(/*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"),
            std::to_string(std::string("fallback for /a/b").size()));
  // A matched route still runs the chain.
  ASSERT_TRUE(c.Send(Get("/hello")));
  const auto routed = c.ReadResponse();
  ASSERT_TRUE(routed);
  EXPECT_EQ(routed->status, 401);
  EXPECT_EQ(routed->body, "refused by the chain");
}

TEST(ServerFallback, OtherMethodsAndMatchedPathsKeepTheirAnswers) {
  TestServer s({}, AddFallback);
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Post("/orgs/x/board", "x")));
  const auto post = c.ReadResponse();
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 404);
  EXPECT_EQ(post->Header("content-type"), kProblemJson);
  // The path has a route, only not for this method: 405, never the fallback.
  ASSERT_TRUE(c.Send(Post("/hello", "x")));
  const auto wrong_method = c.ReadResponse();
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  ASSERT_TRUE(c.Send(Get("/hello")));
  const auto routed = c.ReadResponse();
  ASSERT_TRUE(routed);
  EXPECT_EQ(routed->body, "hello");
}

TEST(ServerFallback, CountedUnderOneFixedRouteLabel) {
  TestServer s({}, AddFallback);
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  for (const char* path : {"/a", "/b/c", "/d.js"}) {
    ASSERT_TRUE(c.Send(Get(path)));
    ASSERT_TRUE(c.ReadResponse());
  }
  ASSERT_TRUE(c.Send(Post("/a", "")));
  ASSERT_TRUE(c.ReadResponse());
  EXPECT_TRUE(s.MetricsEventuallyContain(
      "trellis_http_requests_total{route=\"(fallback)\",code=\"2xx\"} 3\n"))
      << s.registry().Render();
  EXPECT_TRUE(s.MetricsEventuallyContain(
      "trellis_http_requests_total{route=\"(unmatched)\",code=\"4xx\"} 1\n"));
}

TEST(ServerFallback, NoFallbackSeriesWithoutAFallback) {
  TestServer s;
  EXPECT_EQ(s.registry().Render().find("(fallback)"), std::string::npos);
}

// ===================================================================== request id and trace

TEST(ServerObservability, RequestIdHonouredWhenValid) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Get("/hello", "X-Request-Id: client-supplied_42.a:b\r\n")));
  const auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Header("x-request-id"), "client-supplied_42.a:b");
}

TEST(ServerObservability, RequestIdGeneratedWhenMissingOrInvalid) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Get("/hello")));
  const auto missing = c.ReadResponse();
  ASSERT_TRUE(missing);
  ASSERT_TRUE(missing->Header("x-request-id"));
  EXPECT_TRUE(core::IsUuid(*missing->Header("x-request-id"))) << *missing->Header("x-request-id");

  ASSERT_TRUE(c.Send(Get("/hello", "X-Request-Id: has spaces and \"quotes\"\r\n")));
  const auto invalid = c.ReadResponse();
  ASSERT_TRUE(invalid);
  EXPECT_TRUE(core::IsUuid(invalid->Header("x-request-id").value_or("")));
  EXPECT_NE(invalid->Header("x-request-id"), missing->Header("x-request-id"));

  ASSERT_TRUE(c.Send(Get("/hello", "X-Request-Id: " + std::string(200, 'a') + "\r\n")));
  const auto too_long = c.ReadResponse();
  ASSERT_TRUE(too_long);
  EXPECT_TRUE(core::IsUuid(too_long->Header("x-request-id").value_or("")));
}

TEST(ServerObservability, TraceparentShowsInAccessLog) {
  LogCapture log;
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  ASSERT_TRUE(c.Send(Get("/hello",
                         "X-Request-Id: traced-1\r\n"
                         "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"
                         "00f067aa0ba902b7-01\r\n")));
  const auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // The access line is written after the response, so it may trail the client's read.
  std::string line;
  EXPECT_TRUE(Eventually([&] {
    line = log.Find({"\"request_id\":\"traced-1\""});
    return !line.empty();
  }));
  EXPECT_NE(line.find("\"trace_id\":\"" + std::string(kTraceId) + "\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"route\":\"/hello\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"status\":200"), std::string::npos) << line;
}

TEST(ServerObservability, RefusedRequestGetsRequestIdAndAccessLog) {
  LogCapture log;
  TestServer s;
  const Refusal r =
      SendAndDrain(s.Port(), Get("/hello", "X-Big: " + std::string(5000, 'a') + "\r\n"));
  ASSERT_EQ(r.response.status, 431);
  // The edge runs around requests that never reach a route, too: same id in header and body.
  const auto id = r.response.Header("x-request-id");
  ASSERT_TRUE(id) << "a refused request has no X-Request-Id";
  EXPECT_TRUE(core::IsUuid(*id)) << *id;
  EXPECT_NE(r.response.body.find(R"("request_id":")" + *id + "\""), std::string::npos)
      << r.response.body;
  std::string line;
  EXPECT_TRUE(Eventually([&] {
    line = log.Find({"\"request_id\":\"" + *id + "\""});
    return !line.empty();
  }));
  EXPECT_NE(line.find("\"status\":431"), std::string::npos) << line;
  EXPECT_NE(line.find("\"route\":\"(unparsed)\""), std::string::npos) << line;
}

// ===================================================================== limits

TEST(ServerLimits, HeaderOverLimitIs431) {
  TestServer s;  // max_header_bytes 4096
  ExpectRefused(s.Port(), Get("/hello", "X-Big: " + std::string(5000, 'a') + "\r\n"), 431);
}

TEST(ServerLimits, ContentLengthOverLimitIs413) {
  TestServer s;  // max_body_bytes 1024
  // Refused from the header alone: the client has not sent (and need not send) the body.
  ExpectRefused(s.Port(), "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 2048\r\n\r\n", 413);
}

TEST(ServerLimits, ContentLengthOverLimitWithBodyInFlightIs413) {
  TestServer s;
  // The client sends its whole (too large) body at once, as curl would; the 413 must still
  // reach it rather than be lost to a reset.
  const std::string body(200 * 1024, 'b');
  ExpectRefused(s.Port(), Post("/echo", body), 413);
}

TEST(ServerLimits, ChunkedBodyGrowingOverLimitIs413) {
  TestServer s;
  std::string req = "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) req += "200\r\n" + std::string(0x200, 'c') + "\r\n";
  req += "0\r\n\r\n";
  ExpectRefused(s.Port(), req, 413);
}

TEST(ServerLimits, ChunkedBodyUnderLimitIsAccepted) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  const auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
}

TEST(ServerLimits, UrlOverLimitIs414) {
  TestServer s;  // max_url_bytes 512, max_header_bytes 4096
  ExpectRefused(s.Port(), Get("/hello?q=" + std::string(600, 'u')), 414);
  // A request line longer than the whole header limit is still a 414, not a 431.
  ExpectRefused(s.Port(), Get("/hello?q=" + std::string(6000, 'u')), 414);
}

TEST(ServerLimits, SlowClientGets408ThenClose) {
  TestServer s;  // request_timeout 300 ms
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  const auto start = Steady::now();
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: te"));
  const auto drained = c.ReadToEof();
  const auto elapsed = Steady::now() - start;
  EXPECT_TRUE(drained.closed);
  EXPECT_TRUE(drained.data.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << drained.data;
  EXPECT_NE(drained.data.find("Connection: close\r\n"), std::string::npos);
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_TRUE(Eventually([&] { return s.server().OpenConnections() == 0; }));
}

TEST(ServerLimits, IdleKeepAliveConnectionClosedAfterIdleTimeout) {
  TestServer s([](ServerSettings& st) { st.idle_timeout = 300ms; });
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Get("/hello")));
  const auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->Closes());
  const auto start = Steady::now();
  const auto drained = c.ReadToEof();
  const auto elapsed = Steady::now() - start;
  EXPECT_TRUE(drained.closed);
  EXPECT_EQ(drained.data, "") << "an idle close sends nothing";
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(ServerLimits, OverMaxConnectionsGets503AndClose) {
  TestServer s([](ServerSettings& st) { st.max_connections = 2; });
  Client a;
  Client b;
  for (Client* c : {&a, &b}) {
    ASSERT_TRUE(c->Connect(s.Port()));
    ASSERT_TRUE(c->Send(Get("/hello")));
    const auto r = c->ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  ASSERT_EQ(s.server().OpenConnections(), 2U);

  Client third;
  ASSERT_TRUE(third.Connect(s.Port()));
  const auto start = Steady::now();
  const auto drained = third.ReadToEof();
  EXPECT_LT(Steady::now() - start, 1s) << "the refusal must be immediate";
  EXPECT_TRUE(drained.closed);
  const auto end = drained.data.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << drained.data;
  const auto head = ParseHead(std::string_view(drained.data).substr(0, end));
  EXPECT_EQ(head.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(head.Header("retry-after"), "1");
  EXPECT_TRUE(head.Closes());
  EXPECT_EQ(head.Header("content-type"), kProblemJson);
  EXPECT_NE(drained.data.find(R"("status":503)"), std::string::npos);
  EXPECT_TRUE(s.MetricsEventuallyContain("trellis_http_connections_refused_total 1\n"));

  // Once a slot frees up, new connections are served again.
  a.Close();
  ASSERT_TRUE(Eventually([&] { return s.server().OpenConnections() == 1; }));
  Client fourth;
  ASSERT_TRUE(fourth.Connect(s.Port()));
  ASSERT_TRUE(fourth.Send(Get("/hello")));
  const auto r = fourth.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// ===================================================================== malformed requests

TEST(ServerMalformed, GarbageRequestLine) {
  TestServer s;
  ExpectRefused(s.Port(), "HELLO THERE\r\n\r\n", 400);
  ExpectRefused(s.Port(), "GET /hello HTTP/9.9\r\nHost: test\r\n\r\n", 400);
  ExpectRefused(s.Port(), "GET hello HTTP/1.1\r\nHost: test\r\n\r\n", 400);
}

TEST(ServerMalformed, BareLfLineEndings) {
  TestServer s;
  ExpectRefused(s.Port(), "GET /hello HTTP/1.1\nHost: test\n\n", 400);
  ExpectRefused(s.Port(), "GET /hello HTTP/1.1\r\nHost: test\nX-A: b\r\n\r\n", 400);
}

TEST(ServerMalformed, CrInHeaderValue) {
  TestServer s;
  ExpectRefused(s.Port(), "GET /hello HTTP/1.1\r\nHost: test\r\nX-A: b\rc\r\n\r\n", 400);
}

TEST(ServerMalformed, NulInHeaderValue) {
  TestServer s;
  ExpectRefused(s.Port(), "GET /hello HTTP/1.1\r\nHost: test\r\nX-A: b\0c\r\n\r\n"s, 400);
}

TEST(ServerMalformed, ObsFoldInHeaderValue) {
  TestServer s;
  // Beast unfolds "b\r\n c" into "b c"; a proxy in front may not, so the server must refuse.
  ExpectRefused(s.Port(), "GET /hello HTTP/1.1\r\nHost: test\r\nX-A: b\r\n c\r\n\r\n", 400);
  ExpectRefused(s.Port(), "GET /hello HTTP/1.1\r\nHost: test\r\nX-A: b\r\n\tc\r\n\r\n", 400);
}

TEST(ServerMalformed, MissingHostOnHttp11) {
  TestServer s;
  ExpectRefused(s.Port(), "GET /hello HTTP/1.1\r\n\r\n", 400);
  ExpectRefused(s.Port(), "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

// ===================================================================== request smuggling

struct SmugglingCase {
  const char* name;
  std::string request;  // includes a second, smuggled request after the first
};

class ServerSmuggling : public testing::TestWithParam<SmugglingCase> {};

constexpr std::string_view kSmuggled = "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n";

std::string WithSmuggled(std::string_view head_fields, std::string_view body) {
  return "POST /echo HTTP/1.1\r\nHost: test\r\n" + std::string(head_fields) + "\r\n" +
         std::string(body) + std::string(kSmuggled);
}

TEST_P(ServerSmuggling, RefusedWith400AndClosed) {
  TestServer s;
  ExpectRefused(s.Port(), GetParam().request, 400);
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, ServerSmuggling,
    testing::Values(
        SmugglingCase{
            "ContentLengthThenChunked",
            WithSmuggled("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")},
        SmugglingCase{
            "ChunkedThenContentLength",
            WithSmuggled("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n")},
        SmugglingCase{"TwoEqualContentLengths",
                      WithSmuggled("Content-Length: 3\r\nContent-Length: 3\r\n", "abc")},
        SmugglingCase{"TwoConflictingContentLengths",
                      WithSmuggled("Content-Length: 3\r\nContent-Length: 0\r\n", "abc")},
        SmugglingCase{"IdentityThenChunked",
                      WithSmuggled("Transfer-Encoding: identity, chunked\r\n", "0\r\n\r\n")},
        SmugglingCase{"ChunkedThenIdentity",
                      WithSmuggled("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n")},
        SmugglingCase{"Gzip", WithSmuggled("Transfer-Encoding: gzip\r\n", "0\r\n\r\n")},
        SmugglingCase{"ChunkedTwice",
                      WithSmuggled("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                                   "0\r\n\r\n")},
        SmugglingCase{"ChunkedOnHttp10",
                      "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                          std::string(kSmuggled)},
        SmugglingCase{"ChunkSizeNotHex",
                      WithSmuggled("Transfer-Encoding: chunked\r\n", "zz\r\nabc\r\n0\r\n\r\n")},
        SmugglingCase{"ChunkSizeNegative",
                      WithSmuggled("Transfer-Encoding: chunked\r\n", "-1\r\nabc\r\n0\r\n\r\n")},
        SmugglingCase{"ChunkSizeOverflow", WithSmuggled("Transfer-Encoding: chunked\r\n",
                                                        "ffffffffffffffffff\r\nabc\r\n0\r\n\r\n")},
        SmugglingCase{"ContentLengthList", WithSmuggled("Content-Length: 3, 3\r\n", "abc")},
        SmugglingCase{"ContentLengthSigned", WithSmuggled("Content-Length: +3\r\n", "abc")},
        SmugglingCase{
            "SpaceBeforeColon",
            WithSmuggled("Content-Length: 5\r\nTransfer-Encoding : chunked\r\n", "0\r\n\r\n")},
        SmugglingCase{"ChunkBareLf",
                      WithSmuggled("Transfer-Encoding: chunked\r\n", "3\nabc\n0\n\n")}),
    [](const testing::TestParamInfo<SmugglingCase>& c) { return std::string(c.param.name); });

// ===================================================================== 100-continue

TEST(ServerContinue, ExpectContinueGets100BeforeBody) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 7\r\n"
             "Expect: 100-continue\r\n\r\n"));
  const auto interim = c.ReadResponse();
  ASSERT_TRUE(interim) << "no 100 Continue before the body was sent";
  EXPECT_EQ(interim->status_line, "HTTP/1.1 100 Continue");
  EXPECT_EQ(c.Pending(), "");
  ASSERT_TRUE(c.Send("payload"));
  const auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "payload");
}

TEST(ServerContinue, ExpectContinueOverLimitGets413Without100) {
  TestServer s;  // max_body_bytes 1024
  const Refusal r = SendAndDrain(s.Port(),
                                 "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 4096\r\n"
                                 "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(r.response.status, 413) << r.response.status_line;
  EXPECT_EQ(r.responses, 1U) << "no 100 Continue for a body that will be refused";
  EXPECT_TRUE(r.closed);
}

// ===================================================================== server-sent events

TEST(ServerSse, StreamHeadAndEvents) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Get("/events")));
  const auto head = c.ReadResponse();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(head->Header("content-type"), kEventStream);
  EXPECT_FALSE(head->Header("content-length"));
  EXPECT_EQ(head->Header("cache-control"), "no-store");
  EXPECT_TRUE(head->Closes());
  auto channel = s.Channel();
  ASSERT_TRUE(channel);
  EXPECT_TRUE(s.MetricsEventuallyContain("trellis_http_sse_streams 1\n"));

  EXPECT_TRUE(channel->Send("task.updated", R"({"id":1})", "42"));
  EXPECT_TRUE(channel->Send("note", "line one\nline two"));
  ASSERT_TRUE(c.ReadUntil("data: line two\n\n")) << c.Pending();
  EXPECT_EQ(c.Pending(),
            "id: 42\nevent: task.updated\ndata: {\"id\":1}\n\n"
            "event: note\ndata: line one\ndata: line two\n\n");

  // Closing the channel ends the stream and the connection.
  channel->Close();
  const auto rest = c.ReadToEof();
  EXPECT_TRUE(rest.closed);
  EXPECT_TRUE(Eventually([&] { return s.server().OpenConnections() == 0; }));
  EXPECT_TRUE(s.MetricsEventuallyContain("trellis_http_sse_streams 0\n"));
}

TEST(ServerSse, HeartbeatWhenIdle) {
  TestServer s([](ServerSettings& st) { st.sse_heartbeat = 200ms; });
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  ASSERT_TRUE(c.Send(Get("/events")));
  const auto head = c.ReadResponse();
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);
  const auto start = Steady::now();
  ASSERT_TRUE(c.ReadUntil(": heartbeat\n\n", 2s)) << c.Pending();
  EXPECT_GE(Steady::now() - start, 150ms);
  EXPECT_TRUE(c.Pending().starts_with(": heartbeat\n\n")) << c.Pending();
  // Still a live stream after the heartbeat.
  auto channel = s.Channel();
  ASSERT_TRUE(channel);
  EXPECT_TRUE(channel->Send("after", "beat"));
  EXPECT_TRUE(c.ReadUntil("event: after\ndata: beat\n\n"));
}

TEST(ServerSse, SlowConsumerIsDropped) {
  TestServer s([](ServerSettings& st) {
    st.sse_max_buffer_bytes = 64 * 1024;
    st.write_timeout = 10s;  // the bounded queue, not the write timeout, must cut it off
  });
  Client c;
  ASSERT_TRUE(c.Connect(s.Port(), /*rcvbuf=*/4096));
  ASSERT_TRUE(c.Send(Get("/events")));
  const auto head = c.ReadResponse();
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);
  auto channel = s.Channel();
  ASSERT_TRUE(channel);

  // The client never reads again; publish at a pace the server could easily keep up with (so
  // the queue only fills once the socket is stuck) until the server gives up on it.
  const std::string data(16 * 1024, 'x');
  const auto start = Steady::now();
  bool dropped = false;
  std::size_t sent = 0;
  while (Steady::now() - start < 10s) {
    if (!channel->Send("bulk", data)) {
      dropped = true;
      break;
    }
    ++sent;
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(dropped) << "Send never returned false after " << sent << " events";
  EXPECT_FALSE(channel->IsOpen());
  EXPECT_FALSE(channel->Send("late", "x"));
  EXPECT_TRUE(s.MetricsEventuallyContain("trellis_http_sse_dropped_total 1\n"))
      << s.registry().Render();
  EXPECT_TRUE(Eventually([&] { return s.server().OpenConnections() == 0; }))
      << s.server().OpenConnections();
  EXPECT_TRUE(s.MetricsEventuallyContain("trellis_http_sse_streams 0\n"));
  EXPECT_LT(Steady::now() - start, 5s);
}

TEST(ServerSse, StuckConsumerCutOffByWriteTimeout) {
  TestServer s([](ServerSettings& st) {
    st.sse_max_buffer_bytes = 64 * 1024 * 1024;  // never overflows here
    st.write_timeout = 300ms;
  });
  Client c;
  ASSERT_TRUE(c.Connect(s.Port(), /*rcvbuf=*/4096));
  ASSERT_TRUE(c.Send(Get("/events")));
  const auto head = c.ReadResponse();
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);
  auto channel = s.Channel();
  ASSERT_TRUE(channel);
  // More than the kernel buffers of both ends hold: the server's write blocks, and nothing
  // more is published, so only the write timeout can end it.
  const auto start = Steady::now();
  ASSERT_TRUE(channel->Send("bulk", std::string(16 * 1024 * 1024, 'x')));
  EXPECT_TRUE(Eventually([&] { return s.server().OpenConnections() == 0; }))
      << "a stream the client stopped reading was never cut off";
  EXPECT_LT(Steady::now() - start, 3s);
  EXPECT_FALSE(channel->Send("late", "x")) << "the publisher must learn the stream is gone";
  EXPECT_TRUE(s.MetricsEventuallyContain("trellis_http_sse_dropped_total 1\n"))
      << s.registry().Render();
}

// ===================================================================== graceful drain

TEST(ServerDrain, InFlightCompletesStreamsReconnectNewConnectionsRefused) {
  TestServer s;  // drain_delay 0
  // A request in flight.
  Client slow;
  ASSERT_TRUE(slow.Connect(s.Port()));
  ASSERT_TRUE(slow.Send(Get("/slow")));
  ASSERT_TRUE(Eventually([&] { return s.SlowStarted() == 1; }));
  // An open event stream.
  Client events;
  ASSERT_TRUE(events.Connect(s.Port()));
  ASSERT_TRUE(events.Send(Get("/events")));
  const auto events_head = events.ReadResponse();
  ASSERT_TRUE(events_head);
  ASSERT_EQ(events_head->status, 200);
  // An idle keep-alive connection.
  Client idle;
  ASSERT_TRUE(idle.Connect(s.Port()));
  ASSERT_TRUE(idle.Send(Get("/hello")));
  ASSERT_TRUE(idle.ReadResponse());

  s.server().Shutdown();
  EXPECT_TRUE(s.server().Draining());
  s.server().Shutdown();  // idempotent

  // The stream is told to reconnect elsewhere, then closed.
  const auto stream_rest = events.ReadToEof(2s);
  EXPECT_TRUE(stream_rest.closed);
  EXPECT_NE(stream_rest.data.find("event: reconnect\n"), std::string::npos) << stream_rest.data;
  EXPECT_TRUE(stream_rest.data.ends_with("\n\n")) << stream_rest.data;

  // The idle connection is closed without a response.
  const auto idle_rest = idle.ReadToEof(2s);
  EXPECT_TRUE(idle_rest.closed);
  EXPECT_EQ(idle_rest.data, "");

  // Accepting stops: a new connection is refused, or closed without a response.
  EXPECT_TRUE(Eventually(
      [&] {
        Client late;
        if (!late.Connect(s.Port())) return true;
        late.Send(Get("/hello"));
        const auto r = late.ReadToEof(2s);
        EXPECT_TRUE(r.closed);
        EXPECT_TRUE(r.data.empty() || r.data.find("Connection: close\r\n") != std::string::npos)
            << r.data;
        return false;
      },
      2s))
      << "the listener is still accepting";

  // The request in flight still completes, and says the connection is closing.
  const auto r = slow.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slow");
  EXPECT_TRUE(r->Closes());
  EXPECT_TRUE(slow.ReadToEof(2s).closed);

  auto waited = std::async(std::launch::async, [&] { s.server().Wait(); });
  EXPECT_EQ(waited.wait_for(3s), std::future_status::ready) << "Wait() did not return";
}

TEST(ServerDrain, DrainDelayKeepsAcceptingWithConnectionClose) {
  TestServer s([](ServerSettings& st) { st.drain_delay = 400ms; });
  Client before;
  ASSERT_TRUE(before.Connect(s.Port()));
  ASSERT_TRUE(before.Send(Get("/readyz")));
  const auto ready = before.ReadResponse();
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);

  const auto shutdown_at = Steady::now();
  s.server().Shutdown();

  // During the delay a new connection is served (a load balancer's probe sees the 503),
  // and the response says the connection is closing.
  Client probe;
  ASSERT_TRUE(probe.Connect(s.Port()));
  ASSERT_TRUE(probe.Send(Get("/readyz")));
  const auto r = probe.ReadResponse();
  ASSERT_TRUE(r) << "a connection accepted during the drain delay got no response";
  EXPECT_LT(Steady::now() - shutdown_at, 400ms) << "test too slow to check the delay";
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("draining"), std::string::npos);
  EXPECT_TRUE(r->Closes());
  EXPECT_TRUE(probe.ReadToEof(2s).closed);

  // The keep-alive connection opened before the drain is closed.
  EXPECT_TRUE(before.ReadToEof(2s).closed);

  // After the delay the listener closes and the server stops.
  EXPECT_TRUE(Eventually(
      [&] {
        Client late;
        return !late.Connect(s.Port());
      },
      3s));
  EXPECT_GE(Steady::now() - shutdown_at, 350ms);
  auto waited = std::async(std::launch::async, [&] { s.server().Wait(); });
  EXPECT_EQ(waited.wait_for(3s), std::future_status::ready) << "Wait() did not return";
}

// ===================================================================== metrics

#if !defined(__SANITIZE_ADDRESS__)
// Freed memory at the top of the heap stays there (up to allocator_trim_threshold) instead of
// being handed back and faulted in again by the next request's buffers.
TEST(ServerAllocator, StartKeepsFreedMemoryAtTheHeapTop) {
  TestServer s;
  constexpr std::size_t kBlocks = 64;
  constexpr std::size_t kBlockBytes = 16 * 1024;  // 1 MiB in all, far over glibc's 128 KiB
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < kBlocks; ++i) blocks.push_back(std::malloc(kBlockBytes));
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) std::free(*it);
  // glibc alone trims the top back to about 128 KiB.
  EXPECT_GE(mallinfo2().keepcost, kBlocks * kBlockBytes / 4);
}
#endif

TEST(ServerMetrics, RenderedSeries) {
  TestServer s;
  Client c;
  ASSERT_TRUE(c.Connect(s.Port()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(Get("/hello")));
    const auto r = c.ReadResponse();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  ASSERT_TRUE(c.Send(Get("/missing")));
  ASSERT_TRUE(c.ReadResponse());
  ASSERT_TRUE(c.Send(Post("/hello", "")));
  ASSERT_TRUE(c.ReadResponse());
  ExpectRefused(s.Port(), "GET /hello HTTP/1.1\r\n\r\n", 400);

  EXPECT_TRUE(s.MetricsEventuallyContain(
      "trellis_http_requests_total{route=\"GET /hello\",code=\"2xx\"} 3\n"))
      << s.registry().Render();
  EXPECT_TRUE(s.MetricsEventuallyContain(
      "trellis_http_request_duration_seconds_bucket{route=\"GET /hello\",le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(s.MetricsEventuallyContain(
      "trellis_http_request_duration_seconds_count{route=\"GET /hello\"} 3\n"));
  EXPECT_TRUE(s.MetricsEventuallyContain(
      "trellis_http_requests_total{route=\"(unmatched)\",code=\"4xx\"} 2\n"));
  EXPECT_TRUE(s.MetricsEventuallyContain(
      "trellis_http_requests_total{route=\"(unparsed)\",code=\"4xx\"} 1\n"));
  EXPECT_TRUE(s.MetricsEventuallyContain(
      "trellis_http_requests_total{route=\"GET /hello\",code=\"5xx\"} 0\n"));

  // In flight: one while /slow runs, none once it has answered.
  Client slow;
  ASSERT_TRUE(slow.Connect(s.Port()));
  ASSERT_TRUE(slow.Send(Get("/slow")));
  EXPECT_TRUE(
      s.MetricsEventuallyContain("trellis_http_requests_in_flight{route=\"GET /slow\"} 1\n"));
  ASSERT_TRUE(slow.ReadResponse());
  EXPECT_TRUE(
      s.MetricsEventuallyContain("trellis_http_requests_in_flight{route=\"GET /slow\"} 0\n"));
  EXPECT_TRUE(
      s.MetricsEventuallyContain("trellis_http_requests_in_flight{route=\"GET /hello\"} 0\n"));

  EXPECT_TRUE(s.MetricsEventuallyContain("trellis_http_connections_open 2\n"));
  slow.Close();
  EXPECT_TRUE(s.MetricsEventuallyContain("trellis_http_connections_open 1\n"));
  EXPECT_TRUE(s.MetricsEventuallyContain("trellis_http_connections_accepted_total 3\n"));

  const std::string text = s.registry().Render();
  EXPECT_NE(text.find("# TYPE trellis_http_request_duration_seconds histogram\n"),
            std::string::npos);
  EXPECT_NE(text.find("trellis_event_loop_lag_seconds{loop=\"0\"} "), std::string::npos);
  EXPECT_NE(text.find("trellis_event_loop_lag_seconds{loop=\"1\"} "), std::string::npos);
  EXPECT_NE(text.find("\nprocess_resident_memory_bytes "), std::string::npos) << text;
  EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos) << text;
}

}  // namespace
}  // namespace trellis::platform::http
