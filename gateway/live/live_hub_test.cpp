// The live hub end to end: a real Server on 127.0.0.1 port 0, the SQLite event log in a temp
// dir, the hub's tail loop on its own thread, and a raw TCP client reading the event stream.
#include "gateway/live/live_hub.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sqlite/sqlite_event_log.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/middleware.hpp"
#include "platform/http/server.hpp"
#include "platform/ports/run_sync.hpp"
#include "tests/support/fake_identity.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::gateway::live {
namespace {

namespace asio = boost::asio;
namespace http = platform::http;
using namespace std::chrono_literals;
using platform::core::Principal;
using platform::core::Role;
using platform::events::DomainEvent;
using Steady = std::chrono::steady_clock;

using ::trellis::platform::ports::RunSync;

using ::trellis::tests::support::FakeIdentity;

// The principal comes from test headers: x-test-user: <id>, or x-test-key-org: <org> with
// x-test-key-role: <role> for an API key.
class TestAuth final : public http::Middleware {
 public:
  asio::awaitable<http::Response> Handle(http::Request& req, http::Next next) override {
    if (auto user = req.FindHeader("x-test-user")) {
      auto p = std::make_shared<Principal>();
      p->user_id = std::string(*user);
      req.ctx.principal = p;
    } else if (auto org = req.FindHeader("x-test-key-org")) {
      auto p = std::make_shared<Principal>();
      p->kind = Principal::Kind::kApiKey;
      p->api_key_id = "key-1";
      p->api_key_org_id = std::string(*org);
      p->api_key_role =
          platform::core::ParseRole(req.HeaderValue("x-test-key-role")).value_or(Role::kViewer);
      req.ctx.principal = p;
    }
    co_return co_await next(req);
  }
};

class Client {
 public:
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool Connect(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads until `needle` has arrived (true) or the time ran out / the peer closed (false).
  bool ReadUntil(std::string_view needle, Steady::duration timeout = 5s) {
    const auto deadline = Steady::now() + timeout;
    while (data_.find(needle) == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      data_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads whatever arrives within `quiet`.
  void Drain(Steady::duration quiet) { ReadUntil("\x01never\x01", quiet); }
  [[nodiscard]] const std::string& Data() const { return data_; }

 private:
  int fd_ = -1;
  std::string data_;
};

DomainEvent Event(std::string id, std::string org, Role audience = Role::kViewer) {
  DomainEvent e;
  e.id = std::move(id);
  e.type = audience == Role::kViewer ? "work.task.created" : "identity.api_key.created";
  e.org_id = std::move(org);
  e.actor_id = "u1";
  e.subject_id = "s-" + e.id;
  e.payload = R"({"id":")" + e.id + R"("})";
  e.occurred_at_ms = 1'795'514'400'000;
  e.audience = audience;
  return e;
}

class LiveHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    adapters::sqlite::EventLogSettings ls;
    ls.path = dir_.Path() / "events.db";
    auto log = RunSync(adapters::sqlite::SqliteEventLog::Open(ls, clock_, registry_));
    ASSERT_TRUE(log) << log.error().internal;
    log_ = std::move(*log);
    identity_.Add("org-a", "admin", Role::kAdmin);
    identity_.Add("org-a", "viewer", Role::kViewer);
    identity_.Add("org-b", "admin-b", Role::kAdmin);
  }
  void Start(LiveSettings settings = {}) {
    settings.poll_interval = 50ms;
    hub_ = std::make_unique<LiveHub>(*log_, identity_, registry_, settings);
    hub_->AddRoutes(router_);
    tail_ = std::thread([this] {
      asio::co_spawn(tail_ctx_, hub_->Run(), [](std::exception_ptr) {});
      tail_ctx_.run();
    });
    http::ServerSettings ss;
    ss.port = 0;
    ss.threads = 1;
    ss.access_log = false;
    ss.sse_heartbeat = 60s;
    ss.shutdown_timeout = 2s;
    server_ = std::make_unique<http::Server>(
        ss, router_, http::MiddlewareChain{std::make_shared<TestAuth>()}, registry_,
        platform::core::SystemClock::Instance(), ids_);
    ASSERT_TRUE(server_->Start());
  }
  void TearDown() override {
    if (server_) {
      server_->Shutdown();
      server_->Wait();
    }
    if (hub_) hub_->Stop();
    if (tail_.joinable()) tail_.join();
  }
  void Append(std::vector<DomainEvent> events) {
    ASSERT_TRUE(RunSync(log_->Append(std::move(events))));
  }
  // Opens a stream; returns the client after the response head has arrived.
  std::unique_ptr<Client> Open(const std::string& path, const std::string& headers) {
    auto c = std::make_unique<Client>();
    EXPECT_TRUE(c->Connect(server_->Port()));
    c->Send("GET " + path + " HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n");
    EXPECT_TRUE(c->ReadUntil("\r\n\r\n"));
    return c;
  }

  tests::support::TempDir dir_;
  platform::core::ManualClock clock_;
  platform::core::UuidV7Generator ids_{platform::core::SystemClock::Instance()};
  platform::observe::Registry registry_;
  std::unique_ptr<adapters::sqlite::SqliteEventLog> log_;
  FakeIdentity identity_;
  http::Router router_;
  std::unique_ptr<LiveHub> hub_;
  asio::io_context tail_ctx_;
  std::thread tail_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(LiveHubTest, EventsArriveAsServerSentEvents) {
  Start();
  auto c = Open("/api/v1/orgs/org-a/events", "x-test-user: admin\r\n");
  EXPECT_NE(c->Data().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(c->Data().find("text/event-stream"), std::string::npos);
  Append({Event("e1", "org-b"), Event("e2", "org-a")});
  ASSERT_TRUE(c->ReadUntil("id: 2\n")) << c->Data();
  EXPECT_NE(c->Data().find("event: work.task.created\n"), std::string::npos);
  EXPECT_EQ(c->Data().find("\"e1\""), std::string::npos);  // org-b's event is not ours
  const auto data = c->Data().find("data: ");
  ASSERT_NE(data, std::string::npos);
  const auto line_end = c->Data().find('\n', data);
  auto envelope = boost::json::parse(c->Data().substr(data + 6, line_end - data - 6));
  EXPECT_EQ(envelope.at("id").as_string(), "e2");
  EXPECT_EQ(envelope.at("type").as_string(), "work.task.created");
  EXPECT_EQ(envelope.at("org_id").as_string(), "org-a");
  EXPECT_EQ(envelope.at("actor_id").as_string(), "u1");
  EXPECT_EQ(envelope.at("subject_id").as_string(), "s-e2");
  EXPECT_EQ(envelope.at("occurred_at").as_string(), "2026-11-24T10:00:00.000Z");
  EXPECT_EQ(envelope.at("payload").at("id").as_string(), "e2");
  EXPECT_EQ(hub_->Subscribers(), 1u);
}

TEST_F(LiveHubTest, ResumeReplaysWhatWasMissedThenGoesLive) {
  Append({Event("e1", "org-a"), Event("e2", "org-a"), Event("e3", "org-b"), Event("e4", "org-a")});
  Start();
  auto c = Open("/api/v1/orgs/org-a/events", "x-test-user: admin\r\nLast-Event-ID: 1\r\n");
  ASSERT_TRUE(c->ReadUntil("id: 4\n")) << c->Data();
  Append({Event("e5", "org-a")});
  ASSERT_TRUE(c->ReadUntil("id: 5\n")) << c->Data();
  const std::string& d = c->Data();
  EXPECT_EQ(d.find("id: 1\n"), std::string::npos);
  EXPECT_EQ(d.find("id: 3\n"), std::string::npos);
  EXPECT_LT(d.find("id: 2\n"), d.find("id: 4\n"));
  EXPECT_LT(d.find("id: 4\n"), d.find("id: 5\n"));
  // Each event exactly once.
  EXPECT_EQ(d.find("id: 4\n"), d.rfind("id: 4\n"));

  // The query parameter works as the header does.
  auto q = Open("/api/v1/orgs/org-a/events?last_event_id=4", "x-test-user: admin\r\n");
  ASSERT_TRUE(q->ReadUntil("id: 5\n")) << q->Data();
  EXPECT_EQ(q->Data().find("id: 4\n"), std::string::npos);
}

TEST_F(LiveHubTest, TooMuchMissedIsAReset) {
  Append({Event("e1", "org-a"), Event("e2", "org-a"), Event("e3", "org-a")});
  LiveSettings settings;
  settings.replay_limit = 2;
  Start(settings);
  auto c = Open("/api/v1/orgs/org-a/events", "x-test-user: admin\r\nLast-Event-ID: 0\r\n");
  ASSERT_TRUE(c->ReadUntil("event: reset\n")) << c->Data();
  EXPECT_NE(c->Data().find("id: 3\n"), std::string::npos);  // the reset's position
  EXPECT_EQ(c->Data().find("work.task.created"), std::string::npos);
  Append({Event("e4", "org-a")});
  ASSERT_TRUE(c->ReadUntil("id: 4\n")) << c->Data();
}

TEST_F(LiveHubTest, AViewerDoesNotGetAdminEvents) {
  Start();
  auto viewer = Open("/api/v1/orgs/org-a/events", "x-test-user: viewer\r\n");
  auto admin = Open("/api/v1/orgs/org-a/events", "x-test-user: admin\r\n");
  Append({Event("secret", "org-a", Role::kAdmin), Event("public", "org-a")});
  ASSERT_TRUE(admin->ReadUntil("id: 2\n")) << admin->Data();
  EXPECT_NE(admin->Data().find("id: 1\n"), std::string::npos);
  ASSERT_TRUE(viewer->ReadUntil("id: 2\n")) << viewer->Data();
  EXPECT_EQ(viewer->Data().find("id: 1\n"), std::string::npos);
  EXPECT_EQ(viewer->Data().find("secret"), std::string::npos);

  // Nor in a replay.
  auto resumed = Open("/api/v1/orgs/org-a/events", "x-test-user: viewer\r\nLast-Event-ID: 0\r\n");
  ASSERT_TRUE(resumed->ReadUntil("id: 2\n")) << resumed->Data();
  EXPECT_EQ(resumed->Data().find("secret"), std::string::npos);
}

TEST_F(LiveHubTest, OtherOrgsAndAnonymousCallersAreRefused) {
  Start();
  auto other = Open("/api/v1/orgs/org-a/events", "x-test-user: admin-b\r\n");
  EXPECT_NE(other->Data().find("HTTP/1.1 404"), std::string::npos) << other->Data();
  auto stranger = Open("/api/v1/orgs/org-a/events", "x-test-user: nobody\r\n");
  EXPECT_NE(stranger->Data().find("HTTP/1.1 404"), std::string::npos);
  auto anonymous = Open("/api/v1/orgs/org-a/events", "");
  EXPECT_NE(anonymous->Data().find("HTTP/1.1 401"), std::string::npos);
  auto key_other =
      Open("/api/v1/orgs/org-a/events", "x-test-key-org: org-b\r\nx-test-key-role: owner\r\n");
  EXPECT_NE(key_other->Data().find("HTTP/1.1 404"), std::string::npos);
  auto bad_resume =
      Open("/api/v1/orgs/org-a/events", "x-test-user: admin\r\nLast-Event-ID: abc\r\n");
  EXPECT_NE(bad_resume->Data().find("HTTP/1.1 400"), std::string::npos);

  auto key_own =
      Open("/api/v1/orgs/org-b/events", "x-test-key-org: org-b\r\nx-test-key-role: viewer\r\n");
  EXPECT_NE(key_own->Data().find("HTTP/1.1 200"), std::string::npos);
  Append({Event("e1", "org-b")});
  EXPECT_TRUE(key_own->ReadUntil("id: 1\n")) << key_own->Data();
}

TEST_F(LiveHubTest, ClosedStreamsAreDropped) {
  Start();
  {
    auto c = Open("/api/v1/orgs/org-a/events", "x-test-user: admin\r\n");
    EXPECT_EQ(hub_->Subscribers(), 1u);
  }  // the client goes away
  // The server notices the closed socket when it next writes; the hub when Send fails.
  for (int i = 0; i < 50 && hub_->Subscribers() > 0; ++i) {
    Append({Event("e" + std::to_string(i), "org-a")});
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(hub_->Subscribers(), 0u);
}

}  // namespace
}  // namespace trellis::gateway::live
