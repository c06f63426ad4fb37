// A request's deadline reaches PostgreSQL: a real platform::http::Server on loopback whose
// request deadline is 500 ms, and a route that runs `SELECT pg_sleep(2)` through a PgStore
// transaction bounded by that deadline (http::CallOf(req).deadline). The client must see 504
// problem+json within 550 ms of sending, and the server must have stopped the query: the
// superuser's pg_stat_activity no longer shows the pg_sleep shortly after.
//
//   ctest --test-dir build/dev -R deadline_http_test
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "adapters/postgres/pg_store.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/consistency.hpp"
#include "platform/http/middleware.hpp"
#include "platform/http/problem.hpp"
#include "platform/http/router.hpp"
#include "platform/http/server.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "tests/support/sql_engines.hpp"

namespace trellis::tests {
namespace {

namespace core = platform::core;
namespace http = platform::http;
namespace ports = platform::ports;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using support::PostgresDatabase;
using support::SqlContext;

constexpr auto kRequestDeadline = 500ms;
// The deadline plus what the cancel, the rollback and the response may take on loopback.
constexpr auto kClientBound = 550ms;
// How long the superuser may still see the query after the response.
constexpr auto kGoneWithin = 1s;

struct Reply {
  std::string head;
  std::string body;
  Steady::duration elapsed{};
};

// One request on a fresh connection, read until the server closes it (Connection: close).
Reply Get(std::uint16_t port, const std::string& path) {
  Reply out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ADD_FAILURE() << "connect failed";
    ::close(fd);
    return out;
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  const auto sent = Steady::now();
  EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string data;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    // The whole response is in once the head and Content-Length bytes of body have arrived.
    const auto end = data.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    const auto cl = data.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) continue;
    const auto length = std::stoul(data.substr(cl + 16, data.find("\r\n", cl) - cl - 16));
    if (data.size() >= end + 4 + length) {
      out.elapsed = Steady::now() - sent;
      out.head = data.substr(0, end);
      out.body = data.substr(end + 4, length);
      break;
    }
  }
  ::close(fd);
  return out;
}

TEST(DeadlineHttpTest, ASlowQueryIsCancelledAtTheRequestDeadlineAnd504IsAnswered) {
  PostgresDatabase db;
  db.Migrate(SqlContext::kWork);
  auto store = db.Open("trellis_work", SqlContext::kWork, 2);
  std::atomic<int> started{0};

  http::Router router;
  router.Add(
      http::Method::kGet, "/sleep",
      [&](http::Request& req) -> boost::asio::awaitable<http::Response> {
        const core::CallContext call = http::CallOf(req);
        ++started;
        ports::TransactionBody body = [](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
          auto slept = co_await tx.Execute("SELECT pg_sleep(2) AS slept");
          co_return ports::Void(slept);
        };
        auto done = co_await store->Transact(
            ports::TransactionOptions().ReadOnly().Org("org-a").Deadline(call.deadline),
            std::move(body));
        if (!done) co_return http::Problem(done.error(), req.target, req.ctx.request_id);
        co_return http::Response::Text(200, "slept");
      });

  http::ServerSettings settings;
  settings.address = "127.0.0.1";
  settings.port = 0;
  settings.threads = 1;
  settings.request_deadline = kRequestDeadline;
  settings.access_log = false;
  platform::observe::Registry registry;
  core::UuidV7Generator ids(core::SystemClock::Instance());
  auto server = std::make_unique<http::Server>(settings, router, http::MiddlewareChain{}, registry,
                                               core::SystemClock::Instance(), ids);
  ASSERT_TRUE(server->Start().has_value());

  // While the request runs, the superuser sees its pg_sleep (so that "gone" below means
  // something). Only this thread drives the cluster meanwhile: the main one waits on a socket.
  const std::string sleeping =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
      "query LIKE '%pg_sleep(2)%' AND state = 'active' AND pid <> pg_backend_pid()";
  std::atomic<bool> seen{false};
  std::thread watcher([&] {
    const auto until = Steady::now() + kRequestDeadline - 100ms;
    while (!seen && Steady::now() < until) {
      if (db.Psql(sleeping) != "0") seen = true;
    }
  });
  const Reply reply = Get(server->Port(), "/sleep");
  watcher.join();
  EXPECT_TRUE(seen.load()) << "the query never showed in pg_stat_activity";
  const auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(reply.elapsed).count();
  std::printf("deadline_http_test: 504 after %lld ms (deadline %lld ms)\n",
              static_cast<long long>(elapsed_ms), static_cast<long long>(kRequestDeadline.count()));
  EXPECT_EQ(started.load(), 1);
  EXPECT_TRUE(reply.head.starts_with("HTTP/1.1 504 ")) << reply.head;
  EXPECT_NE(reply.head.find("Content-Type: application/problem+json"), std::string::npos)
      << reply.head;
  EXPECT_NE(reply.body.find("\"status\":504"), std::string::npos) << reply.body;
  EXPECT_GE(reply.elapsed, kRequestDeadline - 50ms) << "answered before the deadline";
  EXPECT_LE(reply.elapsed, kClientBound) << elapsed_ms << " ms";

  // The server side stopped too: no backend is still sleeping for the request.
  const auto gone_by = Steady::now() + kGoneWithin;
  std::string still = db.Psql(sleeping);
  while (still != "0" && Steady::now() < gone_by) {
    std::this_thread::sleep_for(20ms);
    still = db.Psql(sleeping);
  }
  EXPECT_EQ(still, "0") << "pg_sleep still running 1 s after the 504";

  // The pool is still usable afterwards (the cancelled connection was cleaned up or replaced).
  std::int64_t one = 0;
  ports::TransactionBody check = [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
    auto r = co_await tx.Execute("SELECT 1 AS one");
    if (!r) co_return std::unexpected(r.error());
    one = *r->rows.at(0).Get<std::int64_t>("one");
    co_return core::Result<void>();
  };
  auto after = platform::ports::RunSync(
      store->Transact(ports::TransactionOptions().Org("org-a"), std::move(check)));
  EXPECT_TRUE(after.has_value()) << after.error().internal;
  EXPECT_EQ(one, 1);

  server->Shutdown();
  server->Wait();
}

}  // namespace
}  // namespace trellis::tests
