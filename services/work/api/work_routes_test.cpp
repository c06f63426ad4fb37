// The work routes through the whole stack: a real platform/http Server on port 0, a raw
// client, a test middleware that sets the Principal from a header, a fake IdentityClient
// with a membership table, and real SQLite work and edge (idempotency) databases.
#include "services/work/api/work_routes.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/server.hpp"
#include "platform/rest/idempotency.hpp"
#include "platform/store/migrations.hpp"
#include "services/work/work_test_support.hpp"
#include "tests/support/openapi.hpp"

namespace trellis::work::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace core = platform::core;
namespace http = platform::http;
namespace rest = platform::rest;
using core::Role;
using testing::FakeIdentity;
using testing::RunSync;
using testing::WorkDb;

// --- the caller, from test headers --------------------------------------------------------

// "X-Test-User: <user id>" is a signed-in user; "X-Test-Key: <key id> <org id> <role>" an API
// key. Neither: anonymous.
class TestAuth final : public http::Middleware {
 public:
  asio::awaitable<http::Response> Handle(http::Request& req, http::Next next) override {
    if (auto user = req.FindHeader("x-test-user")) {
      auto p = std::make_shared<core::Principal>();
      p->user_id = std::string(*user);
      req.ctx.principal = std::move(p);
    } else if (auto key = req.FindHeader("x-test-key")) {
      std::istringstream in{std::string(*key)};
      std::string id, org, role;
      in >> id >> org >> role;
      auto p = std::make_shared<core::Principal>();
      p->kind = core::Principal::Kind::kApiKey;
      p->api_key_id = id;
      p->user_id = "creator";
      p->api_key_org_id = org;
      p->api_key_role = core::ParseRole(role).value_or(Role::kViewer);
      req.ctx.principal = std::move(p);
    }
    co_return co_await next(req);
  }
};

// --- a blocking client: one connection per request ----------------------------------------

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  json::value Json() const {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value() : v;
  }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  // The pointers of a problem's field errors.
  std::vector<std::string> Pointers() const {
    std::vector<std::string> out;
    auto v = Json();
    if (auto* o = v.if_object(); o && o->contains("errors")) {
      for (const auto& e : o->at("errors").as_array()) {
        out.emplace_back(e.at("pointer").as_string().c_str());
      }
    }
    return out;
  }
};

Reply Exchange(std::uint16_t port, const std::string& request) {
  Reply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return reply;
  }
  std::string_view out = request;
  while (!out.empty()) {
    const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    out.remove_prefix(static_cast<std::size_t>(n));
  }
  std::string in;
  char buf[16 * 1024];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto end = in.find("\r\n\r\n");
  if (end == std::string::npos || in.size() < 12) return reply;
  reply.status = std::stoi(in.substr(9, 3));
  std::string_view head = std::string_view(in).substr(0, end);
  auto eol = head.find("\r\n");
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    const auto line = head.substr(0, eol);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    reply.headers[name] = std::string(value);
  }
  reply.body = in.substr(end + 4);
  return reply;
}

std::string S(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : "<not a string>";
}

// --- the fixture --------------------------------------------------------------------------

struct Caller {
  std::string header;  // "X-Test-User: …" or "X-Test-Key: …" or ""
};

class WorkRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto edge = adapters::sqlite::SqliteStore::Open(
        {.path = db_.Dir().Path() / "edge.db", .name = "edge"}, db_.Clock(), db_.Registry());
    ASSERT_TRUE(edge) << edge.error().internal;
    edge_ = std::move(*edge);
    auto schema = platform::store::ParseMigrations(rest::IdempotencyMigrations());
    ASSERT_TRUE(schema) << schema.error().message;
    auto migrated = RunSync(platform::store::Migrate(*edge_, *schema, db_.Clock(), {}));
    ASSERT_TRUE(migrated) << migrated.error().internal;

    org_a_ = ids_.Next();
    org_b_ = ids_.Next();
    for (auto [name, role] : std::vector<std::pair<std::string, Role>>{{"owner", Role::kOwner},
                                                                       {"admin", Role::kAdmin},
                                                                       {"member", Role::kMember},
                                                                       {"member2", Role::kMember},
                                                                       {"viewer", Role::kViewer}}) {
      users_[name] = ids_.Next();
      identity_.Set(org_a_, users_[name], role);
    }
    users_["outsider"] = ids_.Next();
    users_["member_b"] = ids_.Next();
    identity_.Set(org_b_, users_["member_b"], Role::kMember);

    app_ = std::make_unique<app::WorkApp>(db_.Store(), identity_, db_.Clock(), ids_,
                                          [this] { commits_.fetch_add(1); });
    idempotency_ =
        std::make_unique<rest::Idempotency>(*edge_, db_.Clock(), rest::IdempotencySettings{});
    AddWorkRoutes(router_, *app_, *idempotency_);
    http::ServerSettings settings;
    settings.port = 0;
    settings.threads = 1;
    settings.access_log = false;
    server_ = std::make_unique<http::Server>(settings, router_,
                                             http::MiddlewareChain{std::make_shared<TestAuth>()},
                                             registry_, db_.Clock(), ids_);
    auto started = server_->Start();
    ASSERT_TRUE(started) << started.error().message;
    auto spec = tests::support::OpenApiSpec::Load(TRELLIS_SOURCE_DIR "/api/openapi.yaml");
    ASSERT_TRUE(spec) << spec.error().message << " " << spec.error().internal;
    spec_.emplace(std::move(*spec));
  }
  void TearDown() override {
    if (server_) {
      server_->Shutdown();
      server_->Wait();
    }
  }

  Caller As(const std::string& user) { return Caller{"X-Test-User: " + users_.at(user)}; }
  // An API key of `org` with `role`; its id is KeyId(role).
  Caller Key(const std::string& org, const std::string& role) {
    return Caller{"X-Test-Key: " + KeyId(role) + " " + org + " " + role};
  }
  std::string KeyId(const std::string& role) {
    auto [it, inserted] = key_ids_.try_emplace(role);
    if (inserted) it->second = ids_.Next();
    return it->second;
  }
  static Caller Anonymous() { return Caller{}; }

  Reply Call(const Caller& who, const std::string& method, const std::string& target,
             const std::string& body = "", const std::vector<std::string>& headers = {}) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n";
    if (!who.header.empty()) req += who.header + "\r\n";
    for (const auto& h : headers) req += h + "\r\n";
    if (!body.empty() || method == "POST" || method == "PATCH") {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    req += "\r\n" + body;
    Reply reply = Exchange(server_->Port(), req);
    CheckAgainstSpec(method, target, reply);
    return reply;
  }

  // Every answer must be one api/openapi.yaml documents for its operation.
  void CheckAgainstSpec(const std::string& method, const std::string& target, const Reply& reply) {
    if (!spec_) return;
    const std::string path = target.substr(0, target.find('?'));
    std::vector<std::pair<std::string_view, std::string_view>> params;
    auto match = router_.Find(http::ParseMethod(method), path, params);
    if (!match.handler) return;
    auto valid = spec_->ValidateResponse(method, match.pattern, reply.status,
                                         reply.Header("content-type"), reply.body);
    std::string fields;
    if (!valid) {
      for (const auto& f : valid.error().fields) fields += " " + f.pointer + ": " + f.detail;
    }
    EXPECT_TRUE(valid) << method << " " << match.pattern << " " << reply.status << ": "
                       << valid.error().message << fields << "\n"
                       << reply.body;
  }

  std::string Orgs(const std::string& org) { return "/api/v1/orgs/" + org; }

  // Creates a project in org A as the member; returns its JSON.
  json::object MakeProject(const std::string& name = "Apollo", const Caller* who = nullptr) {
    Reply r = Call(who ? *who : As("member"), "POST", Orgs(org_a_) + "/projects",
                   R"({"name":")" + name + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json().is_object() ? r.Json().as_object() : json::object();
  }
  json::object MakeTask(const std::string& project, const std::string& body,
                        const Caller* who = nullptr) {
    Reply r = Call(who ? *who : As("member"), "POST",
                   Orgs(org_a_) + "/projects/" + project + "/tasks", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json().is_object() ? r.Json().as_object() : json::object();
  }
  json::object MakeComment(const std::string& task, const Caller& who) {
    Reply r = Call(who, "POST", Orgs(org_a_) + "/tasks/" + task + "/comments",
                   R"({"body":"Looks good"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json().is_object() ? r.Json().as_object() : json::object();
  }
  static std::string Id(const json::object& o) {
    return o.contains("id") ? std::string(o.at("id").as_string()) : std::string("missing");
  }
  static std::string IfMatch(const json::object& o) {
    return "If-Match: \"" + std::to_string(o.at("version").as_int64()) + "\"";
  }
  static std::vector<std::string> ItemIds(const Reply& r) {
    std::vector<std::string> out;
    auto v = r.Json();
    if (!v.is_object()) return out;
    for (const auto& item : v.at("items").as_array()) {
      out.emplace_back(item.at("id").as_string().c_str());
    }
    return out;
  }
  // The outbox's event types (or another column), in order.
  std::vector<std::string> Events(const std::string& column = "type") {
    std::vector<std::string> out;
    auto r = RunSync(db_.Store().Transact(
        platform::ports::TransactionOptions().ReadOnly(),
        [&](platform::ports::SqlTransaction& tx) -> platform::ports::Awaitable<void> {
          auto rows = co_await tx.Execute("SELECT " + column + " FROM outbox ORDER BY seq");
          if (!rows) co_return std::unexpected(rows.error());
          for (const auto& row : rows->rows) out.push_back(*row.Get<std::string>(column));
          co_return core::Result<void>();
        }));
    EXPECT_TRUE(r);
    return out;
  }

  WorkDb db_;
  core::UuidV7Generator ids_{core::SystemClock::Instance()};
  FakeIdentity identity_;
  std::unique_ptr<adapters::sqlite::SqliteStore> edge_;
  std::unique_ptr<app::WorkApp> app_;
  std::unique_ptr<rest::Idempotency> idempotency_;
  http::Router router_;
  platform::observe::Registry registry_;
  std::unique_ptr<http::Server> server_;
  std::optional<tests::support::OpenApiSpec> spec_;
  std::atomic<int> commits_{0};
  std::string org_a_;
  std::string org_b_;
  std::map<std::string, std::string> users_;
  std::map<std::string, std::string> key_ids_;
};

// --- happy paths --------------------------------------------------------------------------

TEST_F(WorkRoutesTest, ProjectLifecycle) {
  Reply created = Call(As("member"), "POST", Orgs(org_a_) + "/projects",
                       R"({"name":"Apollo","description":"To the moon"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const auto p = created.Json().as_object();
  const std::string id = Id(p);
  EXPECT_TRUE(core::IsUuid(id));
  EXPECT_EQ(created.Header("location"), Orgs(org_a_) + "/projects/" + id);
  EXPECT_EQ(created.Header("etag"), "\"1\"");
  EXPECT_EQ(p.at("name"), "Apollo");
  EXPECT_EQ(p.at("description"), "To the moon");
  EXPECT_EQ(p.at("archived"), false);
  EXPECT_EQ(S(p.at("org_id")), org_a_);
  EXPECT_EQ(S(p.at("created_by")), users_["member"]);
  EXPECT_EQ(p.at("created_at").as_string().size(), 24U);  // 2023-11-14T22:13:20.000Z

  Reply got = Call(As("viewer"), "GET", Orgs(org_a_) + "/projects/" + id);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.Header("etag"), "\"1\"");
  EXPECT_EQ(got.body, created.body);
  Reply not_modified =
      Call(As("viewer"), "GET", Orgs(org_a_) + "/projects/" + id, "", {"If-None-Match: \"1\""});
  EXPECT_EQ(not_modified.status, 304);

  Reply renamed = Call(As("member"), "PATCH", Orgs(org_a_) + "/projects/" + id,
                       R"({"name":"Artemis"})", {"If-Match: \"1\""});
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.Json().at("name"), "Artemis");
  EXPECT_EQ(renamed.Json().at("description"), "To the moon");
  EXPECT_EQ(renamed.Header("etag"), "\"2\"");

  Reply archived = Call(As("admin"), "PATCH", Orgs(org_a_) + "/projects/" + id,
                        R"({"archived":true})", {"If-Match: \"2\""});
  ASSERT_EQ(archived.status, 200) << archived.body;
  EXPECT_EQ(archived.Json().at("archived"), true);

  Reply list = Call(As("viewer"), "GET", Orgs(org_a_) + "/projects");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(ItemIds(list), std::vector<std::string>{id});
  EXPECT_TRUE(list.Json().at("next_cursor").is_null());
  EXPECT_TRUE(
      ItemIds(Call(As("viewer"), "GET", Orgs(org_a_) + "/projects?archived=false")).empty());

  EXPECT_EQ(Events(), (std::vector<std::string>{"work.project.created", "work.project.updated",
                                                "work.project.archived"}));
  EXPECT_EQ(commits_.load(), 3);
  // Each event carries the resource as the API shows it, its actor, org and subject.
  EXPECT_EQ(Events("payload").back(), archived.body);
  EXPECT_EQ(Events("actor_id").back(), users_["admin"]);
  EXPECT_EQ(Events("org_id").back(), org_a_);
  EXPECT_EQ(Events("subject_id").back(), id);
  EXPECT_EQ(Events("audience").back(), "viewer");
}

TEST_F(WorkRoutesTest, TaskLifecycle) {
  const std::string project = Id(MakeProject());
  Reply created =
      Call(As("member"), "POST", Orgs(org_a_) + "/projects/" + project + "/tasks",
           R"({"title":"Land","description":"Softly","priority":1,)"
           R"("assignee_id":")" +
               users_["member2"] + R"(","due_date":"2026-12-24","labels":["ops","eagle","ops"]})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto t = created.Json().as_object();
  const std::string id = Id(t);
  EXPECT_EQ(created.Header("location"), Orgs(org_a_) + "/tasks/" + id);
  EXPECT_EQ(S(t.at("project_id")), project);
  EXPECT_EQ(t.at("status"), "todo");
  EXPECT_EQ(t.at("priority"), 1);
  EXPECT_EQ(S(t.at("assignee_id")), users_["member2"]);
  EXPECT_EQ(t.at("due_date"), "2026-12-24");
  EXPECT_EQ(t.at("labels"), (json::array{"eagle", "ops"}));

  Reply got = Call(As("viewer"), "GET", Orgs(org_a_) + "/tasks/" + id);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, created.body);
  EXPECT_EQ(got.Header("etag"), "\"1\"");

  Reply patched = Call(As("member2"), "PATCH", Orgs(org_a_) + "/tasks/" + id,
                       R"({"status":"in_progress","assignee_id":null,"due_date":null,)"
                       R"("labels":["x"],"title":"Land gently"})",
                       {"If-Match: \"1\""});
  ASSERT_EQ(patched.status, 200) << patched.body;
  auto after = patched.Json().as_object();
  EXPECT_EQ(after.at("status"), "in_progress");
  EXPECT_TRUE(after.at("assignee_id").is_null());
  EXPECT_TRUE(after.at("due_date").is_null());
  EXPECT_EQ(after.at("labels"), (json::array{"x"}));
  EXPECT_EQ(after.at("title"), "Land gently");
  EXPECT_EQ(after.at("description"), "Softly");
  EXPECT_EQ(after.at("version"), 2);

  Reply list = Call(As("viewer"), "GET", Orgs(org_a_) + "/projects/" + project + "/tasks");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(ItemIds(list), std::vector<std::string>{id});
  EXPECT_EQ(list.Json().at("items").at(0).at("labels"), (json::array{"x"}));

  Reply deleted =
      Call(As("member"), "DELETE", Orgs(org_a_) + "/tasks/" + id, "", {"If-Match: \"2\""});
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(Call(As("viewer"), "GET", Orgs(org_a_) + "/tasks/" + id).status, 404);
  EXPECT_EQ(Events(), (std::vector<std::string>{"work.project.created", "work.task.created",
                                                "work.task.updated", "work.task.deleted"}));
}

TEST_F(WorkRoutesTest, CommentLifecycle) {
  const std::string project = Id(MakeProject());
  const std::string task = Id(MakeTask(project, R"({"title":"T"})"));
  const std::string base = Orgs(org_a_) + "/tasks/" + task + "/comments";
  Reply created = Call(As("member"), "POST", base, R"({"body":"First!"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const auto c = created.Json().as_object();
  const std::string id = Id(c);
  EXPECT_EQ(created.Header("location"), base + "/" + id);
  EXPECT_EQ(S(c.at("author_id")), users_["member"]);
  EXPECT_EQ(S(c.at("task_id")), task);

  Reply edited = Call(As("member"), "PATCH", base + "/" + id, R"({"body":"Second"})", {IfMatch(c)});
  ASSERT_EQ(edited.status, 200) << edited.body;
  EXPECT_EQ(edited.Json().at("body"), "Second");
  EXPECT_EQ(edited.Header("etag"), "\"2\"");

  Reply list = Call(As("viewer"), "GET", base);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(ItemIds(list), std::vector<std::string>{id});

  EXPECT_EQ(Call(As("member"), "DELETE", base + "/" + id, "", {"If-Match: \"2\""}).status, 204);
  EXPECT_TRUE(ItemIds(Call(As("viewer"), "GET", base)).empty());
  EXPECT_EQ(Events().back(), "work.comment.deleted");
}

TEST_F(WorkRoutesTest, RoutesAreExactlyTheDocumentedWorkOperations) {
  auto diff = tests::support::CompareRoutes(*spec_, router_.Routes(), {"/api/"});
  std::vector<std::string> missing;
  for (const auto& op : diff.only_in_spec) {
    const bool work =
        op.find("/projects") != std::string::npos || op.find("/tasks") != std::string::npos;
    if (work) missing.push_back(op);
  }
  EXPECT_TRUE(missing.empty()) << ::testing::PrintToString(missing);
  EXPECT_TRUE(diff.only_in_router.empty()) << ::testing::PrintToString(diff.only_in_router);
}

TEST_F(WorkRoutesTest, ProjectSummaryCountsOpenWorkAndTheLastWeeksComments) {
  // The test clock starts at 2023-11-14 (UTC); tasks and a first comment are made then, and
  // the summary is read 8 days later, on 2023-11-22.
  const std::string project = Id(MakeProject());
  const std::string other = Id(MakeProject("Other"));
  const std::string assignee = R"(,"assignee_id":")" + users_.at("member") + R"(")";
  // A millisecond between tasks, so that "most recently updated" has no ties.
  auto task = [&](const std::string& body) {
    db_.Clock().Advance(std::chrono::milliseconds(1));
    return MakeTask(project, body);
  };
  const std::string one = Id(task(R"({"title":"One","priority":1,"due_date":"2023-11-21"})"));
  const std::string two =
      Id(task(R"({"title":"Two","status":"in_progress","priority":2,"due_date":"2023-11-22")" +
              assignee + "}"));
  const std::string three =
      Id(task(R"({"title":"Three","status":"done","priority":1,"due_date":"2023-11-01"})"));
  const json::object four = task(R"({"title":"Four","priority":3})");
  const std::string five = Id(task(R"({"title":"Five","status":"canceled","priority":2})"));
  const std::string six = Id(task(R"({"title":"Six")" + assignee + "}"));
  const std::string noise =
      Id(MakeTask(other, R"({"title":"Noise","priority":1,"due_date":"2023-11-01"})"));
  MakeComment(one, As("member"));  // 8 days old by the time of the summary
  db_.Clock().Advance(std::chrono::hours(24 * 8));
  MakeComment(two, As("member"));
  MakeComment(three, As("member2"));
  MakeComment(noise, As("member"));
  // Four becomes the most recently updated task.
  ASSERT_EQ(Call(As("member"), "PATCH", Orgs(org_a_) + "/tasks/" + Id(four), R"({"title":"Four!"})",
                 {IfMatch(four)})
                .status,
            200);

  const int commits = commits_.load();
  Reply r = Call(As("viewer"), "GET", Orgs(org_a_) + "/projects/" + project + "/summary");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::object body = r.Json().as_object();
  EXPECT_EQ(S(body.at("project").at("id")), project);
  const json::object& tasks = body.at("tasks").as_object();
  EXPECT_EQ(tasks.at("todo"), 3);
  EXPECT_EQ(tasks.at("in_progress"), 1);
  EXPECT_EQ(tasks.at("done"), 1);
  EXPECT_EQ(tasks.at("canceled"), 1);
  EXPECT_EQ(tasks.at("overdue"), 1);         // One; Two is due today, Three is done
  EXPECT_EQ(tasks.at("unassigned"), 2);      // One and Four
  EXPECT_EQ(tasks.at("urgent_or_high"), 2);  // One and Two; Three is done, Five canceled
  EXPECT_EQ(body.at("recent_comments"), 2);  // on Two and Three; Noise's is another project's
  std::vector<std::string> recent;
  for (const auto& t : body.at("recent_tasks").as_array()) recent.push_back(S(t.at("id")));
  // Four was updated last; the rest follow by creation, newest first; One is the sixth.
  EXPECT_EQ(recent, (std::vector<std::string>{Id(four), six, five, three, two}));
  EXPECT_EQ(S(body.at("recent_tasks").as_array().front().at("title")), "Four!");
  EXPECT_EQ(S(body.at("recent_tasks").as_array().front().at("status")), "todo");
  EXPECT_EQ(commits_.load(), commits) << "reading the summary commits nothing";
}

// --- authentication and validation ---------------------------------------------------------

TEST_F(WorkRoutesTest, EveryRouteNeedsAPrincipal) {
  const std::string project = Id(MakeProject());
  const std::string task = Id(MakeTask(project, R"({"title":"T"})"));
  const std::string comment = Id(MakeComment(task, As("member")));
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/projects"},
      {"POST", "/projects"},
      {"GET", "/projects/" + project},
      {"PATCH", "/projects/" + project},
      {"GET", "/projects/" + project + "/summary"},
      {"GET", "/projects/" + project + "/tasks"},
      {"POST", "/projects/" + project + "/tasks"},
      {"GET", "/tasks/" + task},
      {"PATCH", "/tasks/" + task},
      {"DELETE", "/tasks/" + task},
      {"GET", "/tasks/" + task + "/comments"},
      {"POST", "/tasks/" + task + "/comments"},
      {"PATCH", "/tasks/" + task + "/comments/" + comment},
      {"DELETE", "/tasks/" + task + "/comments/" + comment},
  };
  ASSERT_EQ(routes.size(), router_.Routes().size());
  for (const auto& [method, path] : routes) {
    Reply r = Call(Anonymous(), method, Orgs(org_a_) + path, "{}", {"If-Match: *"});
    EXPECT_EQ(r.status, 401) << method << " " << path;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json");
  }
}

TEST_F(WorkRoutesTest, InvalidBodiesAre422PerField) {
  const std::string projects = Orgs(org_a_) + "/projects";
  Reply r = Call(As("member"), "POST", projects,
                 R"({"name":"","description":5,"id":"x","org_id":"y","version":3})");
  EXPECT_EQ(r.status, 422);
  const auto pointers = r.Pointers();
  EXPECT_EQ(std::set<std::string>(pointers.begin(), pointers.end()),
            (std::set<std::string>{"/name", "/description", "/id", "/org_id", "/version"}));
  EXPECT_EQ(Call(As("member"), "POST", projects, R"({"description":"x"})").Pointers(),
            std::vector<std::string>{"/name"});
  EXPECT_EQ(Call(As("member"), "POST", projects, R"({"name":")" + std::string(201, 'n') + R"("})")
                .Pointers(),
            std::vector<std::string>{"/name"});
  EXPECT_EQ(Call(As("member"), "POST", projects, "{").status, 400);

  const std::string project = Id(MakeProject());
  const std::string tasks = Orgs(org_a_) + "/projects/" + project + "/tasks";
  std::string labels = "[";
  for (int i = 0; i < 21; ++i)
    labels += std::string(i ? "," : "") + "\"l" + std::to_string(i) + "\"";
  labels += "]";
  Reply bad_task = Call(As("member"), "POST", tasks,
                        R"({"title":"   ","status":"closed","priority":7,"due_date":"2026-02-30",)"
                        R"("assignee_id":"nobody","labels":)" +
                            labels + R"(,"project_id":"p","created_by":"me"})");
  EXPECT_EQ(bad_task.status, 422);
  const auto task_pointers = bad_task.Pointers();
  EXPECT_EQ(std::set<std::string>(task_pointers.begin(), task_pointers.end()),
            (std::set<std::string>{"/title", "/status", "/priority", "/due_date", "/assignee_id",
                                   "/labels", "/project_id", "/created_by"}));

  // Well-formed, but the assignee is not an active member of the org.
  Reply outsider = Call(As("member"), "POST", tasks,
                        R"({"title":"T","assignee_id":")" + users_["outsider"] + R"("})");
  EXPECT_EQ(outsider.status, 422);
  EXPECT_EQ(outsider.Pointers(), std::vector<std::string>{"/assignee_id"});

  const std::string task = Id(MakeTask(project, R"({"title":"T"})"));
  Reply patch = Call(As("member"), "PATCH", Orgs(org_a_) + "/tasks/" + task,
                     R"({"title":null,"priority":"high","labels":[""],"status":"done"})",
                     {"If-Match: \"1\""});
  EXPECT_EQ(patch.status, 422);
  const auto patch_pointers = patch.Pointers();
  EXPECT_EQ(std::set<std::string>(patch_pointers.begin(), patch_pointers.end()),
            (std::set<std::string>{"/title", "/priority", "/labels/0"}));

  Reply blank = Call(As("member"), "POST", Orgs(org_a_) + "/tasks/" + task + "/comments",
                     R"({"body":" \n "})");
  EXPECT_EQ(blank.status, 422);
  EXPECT_EQ(blank.Pointers(), std::vector<std::string>{"/body"});
}

TEST_F(WorkRoutesTest, QueryParametersAreCheckedPerParameter) {
  const std::string project = Id(MakeProject());
  const std::string tasks = Orgs(org_a_) + "/projects/" + project + "/tasks";
  Reply unknown = Call(As("viewer"), "GET", tasks + "?colour=red&limit=0&status=todo,nope&sort=x");
  EXPECT_EQ(unknown.status, 422);
  const auto pointers = unknown.Pointers();
  EXPECT_EQ(std::set<std::string>(pointers.begin(), pointers.end()),
            (std::set<std::string>{"/colour", "/limit", "/status", "/sort"}));
  Reply bad = Call(As("viewer"), "GET",
                   tasks + "?priority=9&due_before=tomorrow&assignee_id=x&q=%21%21&label=");
  const auto bad_pointers = bad.Pointers();
  EXPECT_EQ(std::set<std::string>(bad_pointers.begin(), bad_pointers.end()),
            (std::set<std::string>{"/priority", "/due_before", "/assignee_id", "/q", "/label"}));
  EXPECT_EQ(Call(As("viewer"), "GET", tasks + "?limit=5&limit=6").Pointers(),
            std::vector<std::string>{"/limit"});
  EXPECT_EQ(Call(As("viewer"), "GET", tasks + "?cursor=garbage").status, 400);
  EXPECT_EQ(Call(As("viewer"), "GET", Orgs(org_a_) + "/projects?archived=maybe").Pointers(),
            std::vector<std::string>{"/archived"});
  EXPECT_EQ(Call(As("viewer"), "GET", tasks + "?status=todo&status=done").status, 200);
}

// --- authorization ----------------------------------------------------------------------------

TEST_F(WorkRoutesTest, AuthorizationMatrix) {
  // Each action is tried once per role on fresh objects; the expected status per role.
  struct Row {
    std::string action;
    int viewer, member, admin, owner;
  };
  const std::vector<Row> table = {
      {"list projects", 200, 200, 200, 200},        {"create project", 403, 201, 201, 201},
      {"rename project", 403, 200, 200, 200},       {"archive project", 403, 403, 200, 200},
      {"project summary", 200, 200, 200, 200},      {"list tasks", 200, 200, 200, 200},
      {"create task", 403, 201, 201, 201},          {"update task", 403, 200, 200, 200},
      {"delete own task", 403, 204, 204, 204},      {"delete other's task", 403, 403, 204, 204},
      {"list comments", 200, 200, 200, 200},        {"create comment", 403, 201, 201, 201},
      {"edit other's comment", 403, 403, 403, 403}, {"delete other's comment", 403, 403, 204, 204},
  };
  const std::vector<std::string> roles = {"viewer", "member", "admin", "owner"};
  for (const Row& row : table) {
    for (std::size_t i = 0; i < roles.size(); ++i) {
      const int expected = std::vector<int>{row.viewer, row.member, row.admin, row.owner}[i];
      const Caller who = As(roles[i]);
      const Caller creator = As(roles[i] == "viewer" ? "member" : roles[i]);
      const Caller other = As("member2");
      const std::string project = Id(MakeProject());
      const std::string p = Orgs(org_a_) + "/projects/" + project;
      int status = 0;
      if (row.action == "list projects") {
        status = Call(who, "GET", Orgs(org_a_) + "/projects").status;
      } else if (row.action == "create project") {
        status = Call(who, "POST", Orgs(org_a_) + "/projects", R"({"name":"N"})").status;
      } else if (row.action == "rename project") {
        status = Call(who, "PATCH", p, R"({"name":"N2"})", {"If-Match: *"}).status;
      } else if (row.action == "archive project") {
        status = Call(who, "PATCH", p, R"({"archived":true})", {"If-Match: *"}).status;
      } else if (row.action == "project summary") {
        status = Call(who, "GET", p + "/summary").status;
      } else if (row.action == "list tasks") {
        status = Call(who, "GET", p + "/tasks").status;
      } else if (row.action == "create task") {
        status = Call(who, "POST", p + "/tasks", R"({"title":"T"})").status;
      } else {
        const Caller& task_owner = row.action == "delete own task" ? creator : other;
        const std::string task = Id(MakeTask(project, R"({"title":"T"})", &task_owner));
        const std::string t = Orgs(org_a_) + "/tasks/" + task;
        if (row.action == "update task") {
          status = Call(who, "PATCH", t, R"({"priority":2})", {"If-Match: *"}).status;
        } else if (row.action == "delete own task" || row.action == "delete other's task") {
          status = Call(who, "DELETE", t, "", {"If-Match: *"}).status;
        } else if (row.action == "list comments") {
          status = Call(who, "GET", t + "/comments").status;
        } else if (row.action == "create comment") {
          status = Call(who, "POST", t + "/comments", R"({"body":"B"})").status;
        } else {
          const std::string c = t + "/comments/" + Id(MakeComment(task, other));
          if (row.action == "edit other's comment") {
            status = Call(who, "PATCH", c, R"({"body":"mine now"})", {"If-Match: *"}).status;
          } else {
            status = Call(who, "DELETE", c, "", {"If-Match: *"}).status;
          }
        }
      }
      EXPECT_EQ(status, expected) << row.action << " as " << roles[i];
    }
  }
}

TEST_F(WorkRoutesTest, AuthorsEditAndDeleteTheirOwnComments) {
  const std::string project = Id(MakeProject());
  const std::string task = Id(MakeTask(project, R"({"title":"T"})"));
  const auto c = MakeComment(task, As("member2"));
  const std::string url = Orgs(org_a_) + "/tasks/" + task + "/comments/" + Id(c);
  EXPECT_EQ(Call(As("member2"), "PATCH", url, R"({"body":"fixed typo"})", {"If-Match: *"}).status,
            200);
  EXPECT_EQ(Call(As("member2"), "DELETE", url, "", {"If-Match: *"}).status, 204);
}

TEST_F(WorkRoutesTest, ApiKeysActWithTheirOwnOrgAndRole) {
  const std::string project = Id(MakeProject());
  const std::string p = Orgs(org_a_) + "/projects/" + project;
  EXPECT_EQ(Call(Key(org_a_, "viewer"), "GET", p).status, 200);
  EXPECT_EQ(Call(Key(org_a_, "viewer"), "POST", p + "/tasks", R"({"title":"T"})").status, 403);
  Reply created = Call(Key(org_a_, "member"), "POST", p + "/tasks", R"({"title":"T"})");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(S(created.Json().at("created_by")), KeyId("member"));
  EXPECT_EQ(Call(Key(org_b_, "owner"), "GET", p).status, 404);
}

TEST_F(WorkRoutesTest, OtherOrgsObjectsAreNotFoundOnEveryObjectRoute) {
  const std::string project = Id(MakeProject());
  const std::string task = Id(MakeTask(project, R"({"title":"T"})"));
  const std::string comment = Id(MakeComment(task, As("member")));
  const std::string name = R"({"name":"N"})";
  const std::string title = R"({"title":"T"})";
  const std::string text = R"({"body":"B"})";
  // Method, path under the org, a valid body.
  const std::vector<std::tuple<std::string, std::string, std::string>> routes = {
      {"GET", "/projects/" + project, ""},
      {"PATCH", "/projects/" + project, name},
      {"GET", "/projects/" + project + "/summary", ""},
      {"GET", "/projects/" + project + "/tasks", ""},
      {"POST", "/projects/" + project + "/tasks", title},
      {"GET", "/tasks/" + task, ""},
      {"PATCH", "/tasks/" + task, title},
      {"DELETE", "/tasks/" + task, ""},
      {"GET", "/tasks/" + task + "/comments", ""},
      {"POST", "/tasks/" + task + "/comments", text},
      {"PATCH", "/tasks/" + task + "/comments/" + comment, text},
      {"DELETE", "/tasks/" + task + "/comments/" + comment, ""},
  };
  for (const auto& [method, path, b] : routes) {
    // A member of org B probing org A's ids through org B.
    EXPECT_EQ(Call(As("member_b"), method, Orgs(org_b_) + path, b, {"If-Match: *"}).status, 404)
        << method << " " << path << " via org B";
    // Someone who is no member of org A at all, and an API key of org B.
    EXPECT_EQ(Call(As("outsider"), method, Orgs(org_a_) + path, b, {"If-Match: *"}).status, 404)
        << method << " " << path << " as outsider";
    EXPECT_EQ(Call(Key(org_b_, "owner"), method, Orgs(org_a_) + path, b, {"If-Match: *"}).status,
              404)
        << method << " " << path << " with org B's key";
  }
  // A comment addressed under another task of the same org is not found either.
  const std::string other_task = Id(MakeTask(project, R"({"title":"U"})"));
  EXPECT_EQ(
      Call(As("member"), "PATCH", Orgs(org_a_) + "/tasks/" + other_task + "/comments/" + comment,
           R"({"body":"B"})", {"If-Match: *"})
          .status,
      404);
  // Ids that are not UUIDs name nothing.
  EXPECT_EQ(Call(As("member"), "GET", Orgs(org_a_) + "/tasks/not-a-uuid").status, 404);
  EXPECT_EQ(Call(As("member"), "GET", Orgs("acme") + "/projects").status, 404);
  // Nothing changed.
  EXPECT_EQ(Call(As("member"), "GET", Orgs(org_a_) + "/tasks/" + task).Json().at("version"), 1);
}

// --- preconditions and idempotency -------------------------------------------------------

TEST_F(WorkRoutesTest, PatchAndDeleteNeedAMatchingIfMatch) {
  const auto project = MakeProject();
  const std::string p = Orgs(org_a_) + "/projects/" + Id(project);
  EXPECT_EQ(Call(As("member"), "PATCH", p, R"({"name":"N"})").status, 428);
  EXPECT_EQ(Call(As("member"), "PATCH", p, R"({"name":"N"})", {"If-Match: \"7\""}).status, 412);
  EXPECT_EQ(Call(As("member"), "PATCH", p, R"({"name":"N"})", {"If-Match: W/\"1\""}).status, 412);
  EXPECT_EQ(Call(As("member"), "PATCH", p, R"({"name":"N"})", {"If-Match: \"1\""}).status, 200);
  EXPECT_EQ(Call(As("member"), "PATCH", p, R"({"name":"M"})", {"If-Match: \"1\""}).status, 412);

  const std::string task = Id(MakeTask(Id(project), R"({"title":"T"})"));
  const std::string t = Orgs(org_a_) + "/tasks/" + task;
  EXPECT_EQ(Call(As("member"), "DELETE", t).status, 428);
  EXPECT_EQ(Call(As("member"), "DELETE", t, "", {"If-Match: \"2\""}).status, 412);
  EXPECT_EQ(Call(As("member"), "PATCH", t, R"({"title":"U"})", {"If-Match: \"1\""}).status, 200);
  Reply get = Call(As("member"), "GET", t);
  EXPECT_EQ(get.Header("etag"), "\"2\"");
  EXPECT_EQ(Call(As("member"), "GET", t, "", {"If-None-Match: \"1\""}).status, 200);
  EXPECT_EQ(Call(As("member"), "GET", t, "", {"If-None-Match: \"2\""}).status, 304);
  EXPECT_EQ(Call(As("member"), "DELETE", t, "", {"If-Match: \"1\", \"2\""}).status, 204);
}

TEST_F(WorkRoutesTest, IdempotencyKeyReplaysTheFirstCreate) {
  const std::string url = Orgs(org_a_) + "/projects";
  Reply first = Call(As("member"), "POST", url, R"({"name":"Once"})", {"Idempotency-Key: k-1"});
  ASSERT_EQ(first.status, 201) << first.body;
  Reply again = Call(As("member"), "POST", url, R"({"name":"Once"})", {"Idempotency-Key: k-1"});
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("location"), first.Header("location"));
  EXPECT_EQ(again.Header("idempotency-replayed"), "true");
  EXPECT_EQ(ItemIds(Call(As("member"), "GET", url)).size(), 1U);
  Reply other = Call(As("member"), "POST", url, R"({"name":"Twice"})", {"Idempotency-Key: k-1"});
  EXPECT_EQ(other.status, 422);
  EXPECT_EQ(Events().size(), 1U);
}

// --- lists ------------------------------------------------------------------------------------

TEST_F(WorkRoutesTest, FullTextSearchFiltersAndSorts) {
  const std::string project = Id(MakeProject());
  const std::string tasks = Orgs(org_a_) + "/projects/" + project + "/tasks";
  const std::string login = Id(
      MakeTask(project, R"({"title":"Fix login","description":"Blank page after password reset",)"
                        R"("priority":4,"labels":["bug"],"due_date":"2026-12-01"})"));
  db_.Clock().Advance(std::chrono::milliseconds(5));
  const std::string docs =
      Id(MakeTask(project, R"({"title":"Write docs","priority":1,"assignee_id":")" +
                               users_["member2"] + R"(","labels":["docs"]})"));
  db_.Clock().Advance(std::chrono::milliseconds(5));
  const std::string done =
      Id(MakeTask(project, R"({"title":"Ship release","status":"done","due_date":"2026-11-30"})"));

  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?q=password")),
            std::vector<std::string>{login});
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?q=log")), std::vector<std::string>{login});
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?q=write%20DOCS")),
            std::vector<std::string>{docs});
  EXPECT_TRUE(ItemIds(Call(As("viewer"), "GET", tasks + "?q=nothing")).empty());
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks)),
            (std::vector<std::string>{done, docs, login}));  // newest first by default
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?sort=created_at")),
            (std::vector<std::string>{login, docs, done}));
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?status=todo")),
            (std::vector<std::string>{docs, login}));
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?status=done&status=in_progress")),
            std::vector<std::string>{done});
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?assignee_id=" + users_["member2"])),
            std::vector<std::string>{docs});
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?assignee_id=")),
            (std::vector<std::string>{done, login}));
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?label=bug")),
            std::vector<std::string>{login});
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?priority=1")),
            std::vector<std::string>{docs});
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?due_before=2026-12-01")),
            std::vector<std::string>{done});
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?due_after=2026-11-30")),
            std::vector<std::string>{login});
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?sort=priority")),
            (std::vector<std::string>{docs, login, done}));  // urgent, low, none
  EXPECT_EQ(ItemIds(Call(As("viewer"), "GET", tasks + "?sort=due_date")),
            (std::vector<std::string>{done, login, docs}));  // no due date last
}

TEST_F(WorkRoutesTest, CursorPagesCoverEveryTaskOnceAndAreBoundToTheirFilters) {
  const std::string project = Id(MakeProject());
  const std::string tasks = Orgs(org_a_) + "/projects/" + project + "/tasks";
  std::set<std::string> all;
  for (int i = 0; i < 23; ++i) {
    all.insert(Id(MakeTask(project, R"({"title":"Task )" + std::to_string(i) + R"("})")));
    if (i % 4 == 0) db_.Clock().Advance(std::chrono::milliseconds(1));
  }
  for (const std::string sort : {"-created_at", "created_at", "priority", "-due_date"}) {
    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    while (true) {
      Reply page =
          Call(As("viewer"), "GET",
               tasks + "?limit=5&sort=" + sort + (cursor.empty() ? "" : "&cursor=" + cursor));
      ASSERT_EQ(page.status, 200) << page.body;
      ++pages;
      for (const auto& id : ItemIds(page)) seen.push_back(id);
      const auto next = page.Json().at("next_cursor");
      if (next.is_null()) break;
      cursor = std::string(next.as_string());
      if (pages == 1 && sort == "-created_at") {
        // A cursor belongs to its filters and sort.
        EXPECT_EQ(
            Call(As("viewer"), "GET", tasks + "?limit=5&sort=created_at&cursor=" + cursor).status,
            400);
      }
      ASSERT_LT(pages, 10);
    }
    EXPECT_EQ(pages, 5) << sort;
    EXPECT_EQ(seen.size(), 23U) << sort;
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), all) << sort;
  }
}

TEST_F(WorkRoutesTest, ListingTasksAsksIdentityOnceWhateverThePageSize) {
  const std::string project = Id(MakeProject());
  for (int i = 0; i < 10; ++i) {
    MakeTask(project,
             R"({"title":"T","assignee_id":")" + users_["member2"] + R"(","labels":["a","b"]})");
  }
  const int before = identity_.membership_calls;
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  Reply list = Call(As("viewer"), "GET", Orgs(org_a_) + "/projects/" + project + "/tasks?limit=50",
                    "", {"traceparent: 00-" + trace_id + "-00f067aa0ba902b7-01"});
  ASSERT_EQ(list.status, 200);
  // The call to identity carries the request's deadline, id and trace.
  EXPECT_NE(identity_.last_call.traceparent.find(trace_id), std::string::npos);
  EXPECT_FALSE(identity_.last_call.request_id.empty());
  EXPECT_NE(identity_.last_call.deadline, core::Clock::MonoTime::max());
  EXPECT_EQ(ItemIds(list).size(), 10U);
  EXPECT_EQ(identity_.membership_calls - before, 1);
  EXPECT_EQ(list.Json().at("items").at(9).at("labels"), (json::array{"a", "b"}));
  // A project that does not exist is 404, not an empty list.
  EXPECT_EQ(Call(As("viewer"), "GET", Orgs(org_a_) + "/projects/" + ids_.Next() + "/tasks").status,
            404);
}

// --- rules ------------------------------------------------------------------------------------

TEST_F(WorkRoutesTest, StatusFollowsTheTransitionGraph) {
  const std::string project = Id(MakeProject());
  const std::string t = Orgs(org_a_) + "/tasks/" + Id(MakeTask(project, R"({"title":"T"})"));
  auto move = [&](const std::string& status) {
    return Call(As("member"), "PATCH", t, R"({"status":")" + status + R"("})", {"If-Match: *"});
  };
  Reply skip = move("done");
  EXPECT_EQ(skip.status, 422);
  EXPECT_EQ(skip.Pointers(), std::vector<std::string>{"/status"});
  EXPECT_NE(skip.body.find("allowed: in_progress, canceled"), std::string::npos) << skip.body;
  EXPECT_EQ(move("in_progress").status, 200);
  EXPECT_EQ(move("done").status, 200);
  EXPECT_EQ(move("todo").status, 422);
  EXPECT_EQ(move("in_progress").status, 200);  // reopen
  EXPECT_EQ(move("canceled").status, 200);
  EXPECT_EQ(move("in_progress").status, 422);
  EXPECT_EQ(move("todo").status, 200);  // restore
  Reply same = move("todo");
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(same.Json().at("version"), 6);  // no change, no new version
}

TEST_F(WorkRoutesTest, AnArchivedProjectsTasksAndCommentsAreReadOnly) {
  const std::string project = Id(MakeProject());
  const std::string task = Id(MakeTask(project, R"({"title":"T"})"));
  const std::string comment = Id(MakeComment(task, As("member")));
  ASSERT_EQ(Call(As("admin"), "PATCH", Orgs(org_a_) + "/projects/" + project,
                 R"({"archived":true})", {"If-Match: *"})
                .status,
            200);
  const std::string t = Orgs(org_a_) + "/tasks/" + task;
  EXPECT_EQ(Call(As("member"), "POST", Orgs(org_a_) + "/projects/" + project + "/tasks",
                 R"({"title":"U"})")
                .status,
            409);
  EXPECT_EQ(Call(As("member"), "PATCH", t, R"({"title":"U"})", {"If-Match: *"}).status, 409);
  EXPECT_EQ(Call(As("admin"), "DELETE", t, "", {"If-Match: *"}).status, 409);
  EXPECT_EQ(Call(As("member"), "POST", t + "/comments", R"({"body":"B"})").status, 409);
  EXPECT_EQ(
      Call(As("member"), "PATCH", t + "/comments/" + comment, R"({"body":"B"})", {"If-Match: *"})
          .status,
      409);
  EXPECT_EQ(Call(As("viewer"), "GET", t).status, 200);
  ASSERT_EQ(Call(As("owner"), "PATCH", Orgs(org_a_) + "/projects/" + project,
                 R"({"archived":false})", {"If-Match: *"})
                .status,
            200);
  EXPECT_EQ(Call(As("member"), "PATCH", t, R"({"title":"U"})", {"If-Match: *"}).status, 200);
}

}  // namespace
}  // namespace trellis::work::api
