// The HTTP client against a real platform/http Server on 127.0.0.1 port 0.
#include "platform/http/client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/server.hpp"
#include "platform/observe/metrics.hpp"

namespace trellis::platform::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using core::ErrorCode;

class TestServer {
 public:
  TestServer() : ids_(core::SystemClock::Instance()) {
    router_.Add(Method::kGet, "/json", [](Request&) -> asio::awaitable<Response> {
      co_return Response::Json(200, R"({"ok":true})").With("X-Thing", "yes");
    });
    router_.Add(Method::kGet, "/big", [](Request&) -> asio::awaitable<Response> {
      co_return Response::Text(200, std::string(1024 * 1024 + 1, 'a'));
    });
    router_.Add(Method::kGet, "/exactly-cap", [](Request&) -> asio::awaitable<Response> {
      co_return Response::Text(200, std::string(1024 * 1024, 'b'));
    });
    router_.Add(Method::kGet, "/slow", [](Request&) -> asio::awaitable<Response> {
      asio::steady_timer timer(co_await asio::this_coro::executor, 3s);
      co_await timer.async_wait(asio::use_awaitable);
      co_return Response::Text(200, "late");
    });
    router_.Add(Method::kPost, "/echo", [](Request& req) -> asio::awaitable<Response> {
      std::string body = std::string(req.HeaderValue("content-type")) + "|" + req.body + "|" +
                         std::string(req.target);
      co_return Response::Text(201, std::move(body));
    });
    ServerSettings settings;
    settings.port = 0;
    settings.threads = 1;
    settings.access_log = false;
    settings.shutdown_timeout = 1s;
    server_ = std::make_unique<Server>(settings, router_, MiddlewareChain{}, registry_,
                                       core::SystemClock::Instance(), ids_);
    auto started = server_->Start();
    if (!started) ADD_FAILURE() << started.error().message;
  }
  ~TestServer() {
    server_->Shutdown();
    server_->Wait();
    server_.reset();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  [[nodiscard]] std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->Port()) + std::string(path);
  }

 private:
  observe::Registry registry_;
  core::UuidV7Generator ids_;
  Router router_;
  std::unique_ptr<Server> server_;
};

template <typename T>
T RunSync(asio::awaitable<T> work) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out = std::move(value);
  });
  io.run();
  return std::move(*out);
}

core::Clock::MonoTime In(std::chrono::milliseconds d) {
  return core::SystemClock::Instance().Monotonic() + d;
}

TEST(HttpClient, GetsAResponseWithHeadersAndBody) {
  TestServer server;
  Client client;
  auto res = RunSync(client.Get(server.Url("/json"), In(5s)));
  ASSERT_TRUE(res.has_value()) << res.error().internal;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"ok":true})");
  EXPECT_EQ(res->Header("x-thing").value_or(""), "yes");
  EXPECT_EQ(res->Header("Content-Type").value_or(""), "application/json");
  EXPECT_FALSE(res->Header("x-missing").has_value());
}

TEST(HttpClient, ReturnsErrorStatusesAsResponses) {
  TestServer server;
  Client client;
  auto res = RunSync(client.Get(server.Url("/nope"), In(5s)));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 404);
}

TEST(HttpClient, PostsAForm) {
  TestServer server;
  Client client;
  auto res =
      RunSync(client.PostForm(server.Url("/echo?x=1"), {{"a b", "c&d"}, {"e", "ü"}}, In(5s)));
  ASSERT_TRUE(res.has_value()) << res.error().internal;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "application/x-www-form-urlencoded|a+b=c%26d&e=%C3%BC|/echo?x=1");
}

TEST(HttpClient, BodyOverTheCapIsRefused) {
  TestServer server;
  Client client;
  auto res = RunSync(client.Get(server.Url("/big"), In(10s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  auto at_cap = RunSync(client.Get(server.Url("/exactly-cap"), In(10s)));
  ASSERT_TRUE(at_cap.has_value()) << at_cap.error().internal;
  EXPECT_EQ(at_cap->body.size(), 1024U * 1024U);
}

TEST(HttpClient, DeadlineIsHonoured) {
  TestServer server;
  Client client;
  const auto started = std::chrono::steady_clock::now();
  auto res = RunSync(client.Get(server.Url("/slow"), In(200ms)));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_LT(took, 2s);
}

TEST(HttpClient, PastDeadlineFailsWithoutConnecting) {
  core::ManualClock clock;
  Client client(ClientSettings{}, clock);
  auto res = RunSync(client.Get("http://127.0.0.1:1/x", clock.Monotonic()));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kDeadlineExceeded);
}

TEST(HttpClient, RefusedConnectionIsUnavailable) {
  std::uint16_t port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  Client client;
  auto res = RunSync(client.Get("http://127.0.0.1:" + std::to_string(port) + "/", In(5s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
}

TEST(HttpClient, HttpsToAPlainServerFailsTheHandshake) {
  TestServer server;
  Client client;
  std::string url = server.Url("/json");
  url.replace(0, 4, "https");
  auto res = RunSync(client.Get(url, In(5s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
}

TEST(HttpClient, UnusableUrlsAreInvalidArguments) {
  Client client;
  for (const char* url : {"ftp://x/", "http://", "http://user@127.0.0.1/", "127.0.0.1/x",
                          "http://127.0.0.1:99999/", "http://[::1/"}) {
    auto res = RunSync(client.Get(url, In(5s)));
    ASSERT_FALSE(res.has_value()) << url;
    EXPECT_EQ(res.error().code, ErrorCode::kInvalidArgument) << url;
  }
}

TEST(HttpClient, MissingTrustStoreFailsHttpsOnly) {
  ClientSettings settings;
  settings.ca_file = "/nonexistent/ca.pem";
  Client client(settings);
  auto res = RunSync(client.Get("https://127.0.0.1:1/", In(5s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().internal.find("trust store"), std::string::npos);
}

}  // namespace
}  // namespace trellis::platform::http
