// Idempotency-Key over a real SQLite file (the edge.db schema from platform/rest/migrations).
#include "platform/rest/idempotency.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/store/migrations.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::platform::rest {
namespace {

using adapters::sqlite::SqliteStore;
using http::Response;

using ::trellis::platform::ports::RunSync;

// One request's text, kept alive for the Request's views.
struct Call {
  std::string method = "POST";
  std::string path = "/api/v1/orgs/acme/projects";
  std::string org = "acme";  // empty: the route has no {org}
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = R"({"name":"Apollo"})";
  std::string user = "user-1";  // empty: anonymous
  bool api_key = false;

  http::Request Build() const {
    http::Request req;
    req.method = http::ParseMethod(method);
    req.method_text = method;
    req.target = path;
    req.path = path;
    for (const auto& [n, v] : headers) req.headers.push_back(http::Header{n, v});
    if (!org.empty()) req.params.emplace_back("org", org);
    req.body = body;
    req.ctx.request_id = "req-1";
    if (!user.empty()) {
      auto p = std::make_shared<core::Principal>();
      p->user_id = user;
      if (api_key) {
        p->kind = core::Principal::Kind::kApiKey;
        p->api_key_id = "key-of-" + user;
      }
      req.ctx.principal = std::move(p);
    }
    return req;
  }
  Call& Key(std::string key) {
    headers.emplace_back("Idempotency-Key", std::move(key));
    return *this;
  }
};

class IdempotencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::Open({.path = tmp_.Path() / "edge.db"}, clock_, registry_);
    ASSERT_TRUE(opened.has_value()) << opened.error().internal;
    store_ = std::move(*opened);
    auto migrations = store::ParseMigrations(IdempotencyMigrations());
    ASSERT_TRUE(migrations.has_value()) << migrations.error().message;
    auto migrated = RunSync(store::Migrate(*store_, *migrations, clock_, {}));
    ASSERT_TRUE(migrated.has_value()) << migrated.error().internal;
    idem_ = std::make_unique<Idempotency>(*store_, clock_, IdempotencySettings{});
  }

  // A create handler: counts its runs and answers 201 with Location and ETag.
  http::Handler Creator(int status = 201) {
    return [this, status](http::Request& req) -> boost::asio::awaitable<Response> {
      ++runs_;
      Response r = Response::Json(
          status, R"({"id":"p-)" + std::to_string(runs_) + R"(","body":)" + req.body + "}");
      r.With("Location", "/api/v1/orgs/acme/projects/p-" + std::to_string(runs_))
          .With("ETag", "\"1\"")
          .With("X-Not-Replayed", "x");
      co_return r;
    };
  }

  Response Send(const http::Handler& h, const Call& call) {
    http::Request req = call.Build();
    return RunSync(h(req));
  }

  std::int64_t Rows() {
    std::int64_t n = -1;
    auto r = RunSync(store_->Transact(ports::TransactionOptions().ReadOnly(),
                                      [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
                                        auto res = co_await tx.Execute(
                                            "SELECT COUNT(*) AS n FROM idempotency_keys");
                                        if (!res) co_return std::unexpected(res.error());
                                        auto v = res->rows.at(0).Get<std::int64_t>("n");
                                        if (!v) co_return std::unexpected(v.error());
                                        n = *v;
                                        co_return core::Result<void>();
                                      }));
    EXPECT_TRUE(r.has_value());
    return n;
  }
  static std::optional<std::string> HeaderOf(const Response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
      if (http::EqualsIgnoreCase(n, name)) return v;
    }
    return std::nullopt;
  }
  static std::string ProblemDetail(const Response& r) {
    return std::string(boost::json::parse(r.body).at("detail").as_string());
  }

  tests::support::TempDir tmp_;
  core::ManualClock clock_;
  observe::Registry registry_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<Idempotency> idem_;
  int runs_ = 0;
};

TEST_F(IdempotencyTest, WithoutKeyTheHandlerRunsEveryTime) {
  auto h = idem_->Wrap(Creator());
  EXPECT_EQ(Send(h, Call()).status, 201);
  EXPECT_EQ(Send(h, Call()).status, 201);
  EXPECT_EQ(runs_, 2);
}

TEST_F(IdempotencyTest, RepeatReplaysTheFirstResponseByteForByte) {
  auto h = idem_->Wrap(Creator());
  Call call;
  call.Key("k-1");
  Response first = Send(h, call);
  ASSERT_EQ(first.status, 201);
  EXPECT_FALSE(HeaderOf(first, "Idempotency-Replayed"));
  Response again = Send(h, call);
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.content_type, first.content_type);
  EXPECT_EQ(HeaderOf(again, "Location"), HeaderOf(first, "Location"));
  EXPECT_EQ(HeaderOf(again, "ETag"), "\"1\"");
  EXPECT_EQ(HeaderOf(again, "Idempotency-Replayed"), "true");
  EXPECT_FALSE(HeaderOf(again, "X-Not-Replayed"));
}

TEST_F(IdempotencyTest, ABodySentInPiecesIsStoredAndReplayedWhole) {
  // Response::body_more: pieces sent after `body` in the same write (ADR 0027).
  auto h = idem_->Wrap([this](http::Request&) -> boost::asio::awaitable<Response> {
    ++runs_;
    Response r = Response::Json(201, R"({"items":[)");
    r.body_more.push_back(R"({"id":"a"},{"id":"b"})");
    r.body_more.push_back("]}");
    co_return r;
  });
  Call call;
  call.Key("k-pieces");
  Response first = Send(h, call);
  ASSERT_EQ(first.status, 201);
  Response again = Send(h, call);
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(HeaderOf(again, "Idempotency-Replayed"), "true");
  EXPECT_EQ(again.FullBody(), first.FullBody());
  EXPECT_EQ(again.FullBody(), R"({"items":[{"id":"a"},{"id":"b"}]})");
}

TEST_F(IdempotencyTest, SameKeyOtherRequestIs422) {
  auto h = idem_->Wrap(Creator());
  Call call;
  call.Key("k-2");
  ASSERT_EQ(Send(h, call).status, 201);
  Call other = call;
  other.body = R"({"name":"Gemini"})";
  Response r = Send(h, other);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.content_type, http::kProblemJson);
  auto json = boost::json::parse(r.body);
  EXPECT_EQ(json.at("errors").at(0).at("pointer").as_string(), "/Idempotency-Key");
  EXPECT_EQ(runs_, 1);
}

TEST_F(IdempotencyTest, AnotherMemberReusingTheKeyInTheOrgIs422) {
  auto h = idem_->Wrap(Creator());
  Call alice;
  alice.Key("k-shared");
  ASSERT_EQ(Send(h, alice).status, 201);
  Call bob = alice;
  bob.user = "user-2";
  EXPECT_EQ(Send(h, bob).status, 422);
  EXPECT_EQ(runs_, 1);
}

TEST_F(IdempotencyTest, KeysAreScopedPerOrgAndPerCaller) {
  auto h = idem_->Wrap(Creator());
  Call acme;
  acme.Key("same");
  Call globex = acme;
  globex.org = "globex";
  globex.path = "/api/v1/orgs/globex/projects";
  EXPECT_EQ(Send(h, acme).status, 201);
  EXPECT_EQ(Send(h, globex).status, 201);
  EXPECT_EQ(runs_, 2);
  // Routes without {org}: per user, and per API key.
  Call u1;
  u1.org.clear();
  u1.path = "/api/v1/orgs";
  u1.Key("same");
  Call u2 = u1;
  u2.user = "user-2";
  Call key = u1;
  key.api_key = true;
  EXPECT_EQ(Send(h, u1).status, 201);
  EXPECT_EQ(Send(h, u2).status, 201);
  EXPECT_EQ(Send(h, key).status, 201);
  EXPECT_EQ(runs_, 5);
  EXPECT_EQ(HeaderOf(Send(h, u2), "Idempotency-Replayed"), "true");
  EXPECT_EQ(runs_, 5);
}

TEST_F(IdempotencyTest, InvalidKeysAre400) {
  auto h = idem_->Wrap(Creator());
  for (const std::string& bad :
       {std::string(), std::string(256, 'k'), std::string("a\tb"), std::string("a\x7f")}) {
    Call call;
    call.Key(bad);
    Response r = Send(h, call);
    EXPECT_EQ(r.status, 400) << bad.size();
  }
  Call twice;
  twice.Key("a").Key("b");
  EXPECT_EQ(Send(h, twice).status, 400);
  EXPECT_EQ(runs_, 0);
  Call longest;
  longest.Key(std::string(255, 'k'));
  EXPECT_EQ(Send(h, longest).status, 201);
  EXPECT_EQ(runs_, 1);
}

TEST_F(IdempotencyTest, ServerErrorsReleaseTheKey) {
  int status = 503;
  auto h = idem_->Wrap([&](http::Request&) -> boost::asio::awaitable<Response> {
    ++runs_;
    co_return Response::Json(status, "{}");
  });
  Call call;
  call.Key("k-5xx");
  EXPECT_EQ(Send(h, call).status, 503);
  status = 201;
  Response retry = Send(h, call);
  EXPECT_EQ(retry.status, 201);
  EXPECT_FALSE(HeaderOf(retry, "Idempotency-Replayed"));
  EXPECT_EQ(runs_, 2);
}

TEST_F(IdempotencyTest, ClientErrorsAreStoredAndReplayed) {
  auto h = idem_->Wrap(Creator(422));
  Call call;
  call.Key("k-422");
  EXPECT_EQ(Send(h, call).status, 422);
  Response again = Send(h, call);
  EXPECT_EQ(again.status, 422);
  EXPECT_EQ(HeaderOf(again, "Idempotency-Replayed"), "true");
  EXPECT_EQ(runs_, 1);
}

TEST_F(IdempotencyTest, AnExceptionReleasesTheKeyAndPropagates) {
  bool fail = true;
  auto h = idem_->Wrap([&](http::Request&) -> boost::asio::awaitable<Response> {
    ++runs_;
    if (fail) throw std::runtime_error("boom");
    co_return Response::Json(201, "{}");
  });
  Call call;
  call.Key("k-throw");
  EXPECT_THROW(Send(h, call), std::runtime_error);
  fail = false;
  EXPECT_EQ(Send(h, call).status, 201);
  EXPECT_EQ(runs_, 2);
}

TEST_F(IdempotencyTest, RepeatWhileInFlightIs409) {
  Call call;
  call.Key("k-busy");
  std::optional<Response> nested;
  std::shared_ptr<http::Handler> self = std::make_shared<http::Handler>();
  *self = idem_->Wrap([&](http::Request&) -> boost::asio::awaitable<Response> {
    ++runs_;
    http::Request again = call.Build();
    nested = co_await (*self)(again);  // the same request while this one holds the claim
    co_return Response::Json(201, "{}");
  });
  EXPECT_EQ(Send(*self, call).status, 201);
  ASSERT_TRUE(nested.has_value());
  EXPECT_EQ(nested->status, 409);
  EXPECT_EQ(ProblemDetail(*nested), "a request with this Idempotency-Key is in progress");
  EXPECT_EQ(runs_, 1);
  *self = nullptr;
}

TEST_F(IdempotencyTest, AStaleClaimIsTakenOver) {
  Call call;
  call.Key("k-stale");
  std::optional<Response> nested;
  std::shared_ptr<http::Handler> self = std::make_shared<http::Handler>();
  *self = idem_->Wrap([&](http::Request&) -> boost::asio::awaitable<Response> {
    ++runs_;
    if (runs_ == 1) {  // "crashes": its claim outlives the in-flight timeout
      clock_.Advance(std::chrono::seconds(61));
      http::Request again = call.Build();
      nested = co_await (*self)(again);
      co_return Response::Json(201, R"({"first":true})");
    }
    co_return Response::Json(201, R"({"second":true})");
  });
  Send(*self, call);
  ASSERT_TRUE(nested.has_value());
  EXPECT_EQ(nested->body, R"({"second":true})");
  // The taker's record stands; the first request no longer holds the claim.
  Response replay = Send(*self, call);
  EXPECT_EQ(replay.body, R"({"second":true})");
  EXPECT_EQ(HeaderOf(replay, "Idempotency-Replayed"), "true");
  EXPECT_EQ(runs_, 2);
  *self = nullptr;
}

TEST_F(IdempotencyTest, ExpiredKeysRunAgainAndArePurged) {
  IdempotencySettings manual;
  manual.purge_interval = std::chrono::milliseconds(0);  // only Purge() deletes
  idem_ = std::make_unique<Idempotency>(*store_, clock_, manual);
  auto h = idem_->Wrap(Creator());
  Call a;
  a.Key("k-a");
  Call b;
  b.Key("k-b");
  ASSERT_EQ(Send(h, a).status, 201);
  ASSERT_EQ(Send(h, b).status, 201);
  clock_.Advance(std::chrono::hours(23));
  EXPECT_EQ(HeaderOf(Send(h, a), "Idempotency-Replayed"), "true");
  auto none = RunSync(idem_->Purge());
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, 0);
  clock_.Advance(std::chrono::hours(2));
  Response fresh = Send(h, a);  // expired: runs as a new request
  EXPECT_FALSE(HeaderOf(fresh, "Idempotency-Replayed"));
  EXPECT_EQ(runs_, 3);
  auto purged = RunSync(idem_->Purge());
  ASSERT_TRUE(purged.has_value());
  EXPECT_EQ(*purged, 1);  // b; a was renewed
}

TEST_F(IdempotencyTest, ClaimsPurgeExpiredKeysAtMostOncePerInterval) {
  auto h = idem_->Wrap(Creator());
  for (const char* k : {"p-1", "p-2", "p-3"}) {
    Call call;
    call.Key(k);
    ASSERT_EQ(Send(h, call).status, 201);
  }
  EXPECT_EQ(Rows(), 3);
  clock_.Advance(std::chrono::hours(25));
  Call next;
  next.Key("p-4");
  ASSERT_EQ(Send(h, next).status, 201);
  EXPECT_EQ(Rows(), 1);  // the three expired ones went with this claim
}

TEST_F(IdempotencyTest, SettingsAreValidated) {
  IdempotencySettings s;
  EXPECT_TRUE(ValidateIdempotencySettings(s).has_value());
  s.ttl = std::chrono::hours(1);
  EXPECT_FALSE(ValidateIdempotencySettings(s).has_value());
  s = IdempotencySettings{};
  s.in_flight_timeout = std::chrono::milliseconds(0);
  EXPECT_FALSE(ValidateIdempotencySettings(s).has_value());
}

TEST_F(IdempotencyTest, ATooShortTtlIsRaisedTo24Hours) {
  IdempotencySettings s;
  s.ttl = std::chrono::minutes(1);
  Idempotency short_lived(*store_, clock_, s);
  auto h = short_lived.Wrap(Creator());
  Call call;
  call.Key("k-ttl");
  ASSERT_EQ(Send(h, call).status, 201);
  clock_.Advance(std::chrono::hours(23));
  EXPECT_EQ(HeaderOf(Send(h, call), "Idempotency-Replayed"), "true");
  EXPECT_EQ(runs_, 1);
}

}  // namespace
}  // namespace trellis::platform::rest
