// The web app's build served by a real http::Server on 127.0.0.1 port 0, read back by a Beast
// client: content types, the two cache classes, precompressed variants by Accept-Encoding,
// ETags and 304s, HEAD, index.html for client-side routes and not for the reserved prefixes,
// refused paths, /ui-config.json, and the build's load-time refusals.
#include "gateway/static/static_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/platform_routes.hpp"
#include "gateway/static/ui_config.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/server.hpp"
#include "platform/observe/metrics.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::gateway::static_files {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = platform::http;
namespace core = platform::core;
namespace fs = std::filesystem;

constexpr std::string_view kIndex = "<!doctype html><title>Trellis</title><div id=root></div>";
constexpr std::string_view kAppJs = "console.log('the app, uncompressed');";
constexpr std::string_view kAppGz = "GZIP-BYTES-OF-THE-APP";
constexpr std::string_view kAppBr = "BROTLI-BYTES";
constexpr std::string_view kAuthority = "https://idp.example:8443/realms/trellis";
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";

void Write(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// A Vite build as the UI writes it, with a few things that must not be served.
void WriteBuild(const fs::path& root) {
  Write(root / "index.html", kIndex);
  Write(root / "assets/app-1a2b3c.js", kAppJs);
  Write(root / "assets/app-1a2b3c.js.gz", kAppGz);
  Write(root / "assets/app-1a2b3c.js.br", kAppBr);
  Write(root / "assets/style-9f8e7d.css", "body{margin:0}");
  Write(root / "assets/font-77aa.woff2", std::string("wOF2\0\1", 6));
  Write(root / "assets/app-1a2b3c.js.map", "{\"version\":3}");
  Write(root / "favicon.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
  Write(root / "robots.txt", "User-agent: *\n");
  Write(root / "manifest.webmanifest", "{\"name\":\"Trellis\"}");
  Write(root / "logo.png", std::string("\x89PNG\r\n", 6));
  Write(root / "orphan.js.gz", "no base file");
  Write(root / ".vite/manifest.json", "{}");
}

struct Reply {
  int status = 0;
  beast::http::fields headers;
  std::string body;

  [[nodiscard]] std::string Header(std::string_view name) const {
    const auto it = headers.find(beast::string_view(name.data(), name.size()));
    return it == headers.end() ? std::string("<none>") : std::string(it->value());
  }
};

// One request on a fresh connection.
Reply Fetch(std::uint16_t port, std::string_view target,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            beast::http::verb method = beast::http::verb::get) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  beast::http::request<beast::http::string_body> req(
      method, beast::string_view(target.data(), target.size()), 11);
  req.set(beast::http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.prepare_payload();
  beast::http::write(socket, req);
  beast::flat_buffer buffer;
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  if (method == beast::http::verb::head) parser.skip(true);
  beast::http::read(socket, buffer, parser);
  Reply r;
  r.status = static_cast<int>(parser.get().result_int());
  r.headers = parser.get().base();
  r.body = parser.get().body();
  // Nothing may follow a response (a HEAD's body would).
  EXPECT_EQ(buffer.size(), 0U) << "bytes after the response to " << target;
  return r;
}

class ServedBuild : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteBuild(dir_.Path() / "dist");
    Write(dir_.Path() / "secret.txt", "outside the build");
    fs::create_symlink(dir_.Path() / "secret.txt", dir_.Path() / "dist/leak.txt");
    fs::create_symlink(dir_.Path() / "dist/favicon.svg", dir_.Path() / "dist/icon-link.svg");
    fs::create_directory_symlink(dir_.Path(), dir_.Path() / "dist/up");

    auto files = StaticFiles::Load(
        {.root = dir_.Path() / "dist", .oidc_authority = std::string(kAuthority)}, registry_);
    ASSERT_TRUE(files) << files.error().message;
    files_ = *files;
    router_.Add(http::Method::kGet, "/api/v1/things",
                [](http::Request&) -> asio::awaitable<http::Response> {
                  co_return http::Response::Json(200, "[]");
                });
    // As the composition root does: the platform's routes without the landing page first.
    AddPlatformRoutes(router_, registry_, health_, {.landing_page = false});
    AddUiRoutes(router_, files_, {.authority = std::string(kAuthority)});
    http::ServerSettings settings;
    settings.port = 0;
    settings.threads = 1;
    settings.access_log = false;
    server_ = std::make_unique<http::Server>(settings, router_, http::MiddlewareChain{}, registry_,
                                             core::SystemClock::Instance(), ids_);
    auto started = server_->Start();
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override { server_.reset(); }

  Reply Get(std::string_view target,
            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Fetch(server_->Port(), target, headers);
  }
  void ExpectProblem(std::string_view target, int status) {
    SCOPED_TRACE(std::string(target));
    const Reply r = Get(target);
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.Header("content-type"), "application/problem+json");
    EXPECT_NE(r.body.find("\"status\":" + std::to_string(status)), std::string::npos) << r.body;
  }
  void ExpectIndex(std::string_view target) {
    SCOPED_TRACE(std::string(target));
    const Reply r = Get(target);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, kIndex);
    EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.Header("cache-control"), "no-cache");
    EXPECT_EQ(r.Header("content-security-policy"), files_->ContentSecurityPolicy());
    EXPECT_EQ(r.Header("referrer-policy"), "no-referrer");
  }

  tests::support::TempDir dir_;
  platform::observe::Registry registry_;
  core::UuidV7Generator ids_{core::SystemClock::Instance()};
  Health health_;
  http::Router router_;
  std::shared_ptr<const StaticFiles> files_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(ServedBuild, ContentTypesAndCacheClasses) {
  struct Case {
    const char* path;
    const char* type;
    std::string_view cache;
  };
  const Case cases[] = {
      {"/assets/app-1a2b3c.js", "text/javascript; charset=utf-8", kImmutable},
      {"/assets/style-9f8e7d.css", "text/css; charset=utf-8", kImmutable},
      {"/assets/font-77aa.woff2", "font/woff2", kImmutable},
      {"/assets/app-1a2b3c.js.map", "application/json; charset=utf-8", kImmutable},
      {"/favicon.svg", "image/svg+xml; charset=utf-8", "no-cache"},
      {"/robots.txt", "text/plain; charset=utf-8", "no-cache"},
      {"/manifest.webmanifest", "application/manifest+json; charset=utf-8", "no-cache"},
      {"/logo.png", "image/png", "no-cache"},
      {"/index.html", "text/html; charset=utf-8", "no-cache"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    const Reply r = Get(c.path);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.Header("content-type"), c.type);
    EXPECT_EQ(r.Header("cache-control"), c.cache);
    EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
    EXPECT_TRUE(r.Header("etag").starts_with("\"")) << r.Header("etag");
  }
  EXPECT_EQ(Get("/robots.txt").body, "User-agent: *\n");
  EXPECT_EQ(ContentTypeFor("x.MJS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("favicon.ico"), "image/x-icon");
  EXPECT_EQ(ContentTypeFor("data.json"), "application/json; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("LICENSE"), "application/octet-stream");
}

TEST_F(ServedBuild, IndexCarriesTheSecurityPolicy) {
  ExpectIndex("/");
  ExpectIndex("/index.html");
  EXPECT_EQ(files_->ContentSecurityPolicy(),
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self' https://idp.example:8443; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self' "
            "https://idp.example:8443; object-src 'none'");
  // Other files do not need it.
  EXPECT_EQ(Get("/favicon.svg").Header("content-security-policy"), "<none>");
}

TEST_F(ServedBuild, IdentityWithoutAcceptEncodingAndVaryWhenASiblingExists) {
  const Reply r = Get("/assets/app-1a2b3c.js");
  EXPECT_EQ(r.body, kAppJs);
  EXPECT_EQ(r.Header("content-encoding"), "<none>");
  EXPECT_EQ(r.Header("vary"), "Accept-Encoding");
  // A file without compressed siblings does not vary.
  EXPECT_EQ(Get("/favicon.svg", {{"Accept-Encoding", "br, gzip"}}).Header("vary"), "<none>");
}

TEST_F(ServedBuild, BrotliPreferredThenGzipByQValues) {
  struct Case {
    const char* accept;
    std::string_view body;
    const char* encoding;
  };
  const Case cases[] = {
      {"gzip, deflate, br", kAppBr, "br"},
      {"br;q=0.1, gzip;q=1.0", kAppBr, "br"},
      {"gzip", kAppGz, "gzip"},
      {"x-gzip", kAppGz, "gzip"},
      {"br;q=0, gzip", kAppGz, "gzip"},
      {"BR;Q=0.000, GZIP;q=0.5", kAppGz, "gzip"},
      {"gzip;q=0", kAppJs, "<none>"},
      {"br;q=0, gzip;q=0", kAppJs, "<none>"},
      {"*", kAppBr, "br"},
      {"*;q=0", kAppJs, "<none>"},
      {"br;q=0, *", kAppGz, "gzip"},
      {"identity", kAppJs, "<none>"},
      {"deflate", kAppJs, "<none>"},
      {"gzip;q=2", kAppJs, "<none>"},  // not a qvalue: not clearly accepted
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.accept);
    const Reply r = Get("/assets/app-1a2b3c.js", {{"Accept-Encoding", c.accept}});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, c.body);
    EXPECT_EQ(r.Header("content-encoding"), c.encoding);
    EXPECT_EQ(r.Header("vary"), "Accept-Encoding");
    EXPECT_EQ(r.Header("content-type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(r.Header("cache-control"), kImmutable);
  }
}

TEST_F(ServedBuild, EtagPerEncodingAndNotModified) {
  const std::string path = "/assets/app-1a2b3c.js";
  const std::string plain = Get(path).Header("etag");
  const std::string gz = Get(path, {{"Accept-Encoding", "gzip"}}).Header("etag");
  const std::string br = Get(path, {{"Accept-Encoding", "br"}}).Header("etag");
  EXPECT_NE(plain, gz);
  EXPECT_NE(plain, br);
  EXPECT_NE(gz, br);
  EXPECT_EQ(Get(path).Header("etag"), plain) << "stable across requests";

  const Reply same = Get(path, {{"Accept-Encoding", "br"}, {"If-None-Match", br}});
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.body, "");
  EXPECT_EQ(same.Header("etag"), br);
  EXPECT_EQ(same.Header("cache-control"), kImmutable);
  EXPECT_EQ(same.Header("vary"), "Accept-Encoding");
  EXPECT_EQ(same.Header("content-length"), "<none>");
  // The brotli tag does not validate the gzip body.
  const Reply other = Get(path, {{"Accept-Encoding", "gzip"}, {"If-None-Match", br}});
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.body, kAppGz);
  // A list, a weak form and "*" all match.
  EXPECT_EQ(Get(path, {{"If-None-Match", "\"nope\", " + plain}}).status, 304);
  EXPECT_EQ(Get(path, {{"If-None-Match", "W/" + plain}}).status, 304);
  EXPECT_EQ(Get(path, {{"If-None-Match", "*"}}).status, 304);
  const std::string index_tag = Get("/").Header("etag");
  const Reply index = Get("/orgs/acme/board", {{"If-None-Match", index_tag}});
  EXPECT_EQ(index.status, 304);
  EXPECT_EQ(index.Header("cache-control"), "no-cache");
}

TEST_F(ServedBuild, HeadHasTheHeadersButNoBody) {
  for (const char* path : {"/assets/app-1a2b3c.js", "/", "/orgs/acme/board"}) {
    SCOPED_TRACE(path);
    const Reply get = Get(path, {{"Accept-Encoding", "gzip"}});
    const Reply head =
        Fetch(server_->Port(), path, {{"Accept-Encoding", "gzip"}}, beast::http::verb::head);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
    EXPECT_EQ(head.Header("content-length"), std::to_string(get.body.size()));
    EXPECT_EQ(head.Header("etag"), get.Header("etag"));
    EXPECT_EQ(head.Header("content-type"), get.Header("content-type"));
    EXPECT_EQ(head.Header("cache-control"), get.Header("cache-control"));
  }
}

TEST_F(ServedBuild, ClientSideRoutesGetTheIndex) {
  ExpectIndex("/orgs/x/board");
  ExpectIndex("/orgs/acme/projects/p1/tasks/t9");
  ExpectIndex("/auth/callback?code=abc&state=xyz");
  ExpectIndex("/signed-out");
  ExpectIndex("/orgs/x.y/board");  // a dot before the last segment is fine
  // Routes keep winning over the fallback.
  EXPECT_EQ(Get("/api/v1/things").body, "[]");
  EXPECT_EQ(Get("/healthz").body, R"({"status":"alive"})");
}

TEST_F(ServedBuild, NoIndexForReservedPrefixesOrDottedNames) {
  ExpectProblem("/api/v1/nope", 404);
  ExpectProblem("/api", 404);
  ExpectProblem("/oidc/nope", 404);
  ExpectProblem("/.well-known/nope", 404);
  ExpectProblem("/assets/missing.js", 404);
  ExpectProblem("/assets/some/route", 404);
  ExpectProblem("/favicon.ico", 404);
  ExpectProblem("/orgs/x/report.pdf", 404);
  const Reply r = Get("/api/v1/nope");
  EXPECT_NE(r.body.find(R"("detail":"no resource at this path")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("instance":"/api/v1/nope")"), std::string::npos) << r.body;
}

TEST_F(ServedBuild, OtherMethodsOnUnmatchedPathsStayA404) {
  const Reply r = Fetch(server_->Port(), "/orgs/x/board", {}, beast::http::verb::post);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Header("content-type"), "application/problem+json");
}

TEST_F(ServedBuild, CompressedSiblingsAreNotPathsOfTheirOwn) {
  ExpectProblem("/assets/app-1a2b3c.js.br", 404);
  ExpectProblem("/assets/app-1a2b3c.js.gz", 404);
  ExpectProblem("/orphan.js.gz", 404);
  ExpectProblem("/orphan.js", 404);
}

TEST_F(ServedBuild, TraversalAndOddPathsAreRefused) {
  // The files live in a map keyed by the paths found under the root: no request path can name
  // anything else. These are refused before the lookup all the same.
  for (const char* path :
       {"/%2e%2e/%2e%2e/etc/passwd", "/assets/%2E%2E/index.html", "/../index.html",
        "/assets/./app-1a2b3c.js", "/assets%2fapp-1a2b3c.js", "/assets%2Fapp-1a2b3c.js",
        "/index.html%00.js", "/a%00b", "/a%5cb", "/a\\b", "/bad%zzescape", "/trailing%2"}) {
    ExpectProblem(path, 400);
  }
  // Percent-encoded ordinary characters are decoded.
  EXPECT_EQ(Get("/assets/app%2D1a2b3c.js").body, kAppJs);
}

TEST_F(ServedBuild, NothingOutsideTheRootOrHidden) {
  ExpectProblem("/leak.txt", 404);             // a link to a file outside the build: skipped
  ExpectProblem("/up/secret.txt", 404);        // a linked directory is not entered
  ExpectProblem("/.vite/manifest.json", 404);  // dot-directories are left out
  // A link to a file inside the build is served.
  EXPECT_EQ(Get("/icon-link.svg").status, 200);
  EXPECT_EQ(files_->FileCount(), 10U);  // the 9 of the build, the inside link
}

TEST_F(ServedBuild, UiConfigDocument) {
  const Reply r = Get("/ui-config.json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("cache-control"), "no-cache");
  EXPECT_EQ(r.body,
            R"({"authority":"https://idp.example:8443/realms/trellis","client_id":"trellis-web",)"
            R"("scope":"openid profile email","api_base":"/api/v1"})");
}

TEST_F(ServedBuild, CountedByOutcome) {
  Get("/assets/app-1a2b3c.js", {{"Accept-Encoding", "br"}});
  Get("/assets/app-1a2b3c.js", {{"Accept-Encoding", "gzip"}});
  const std::string tag = Get("/favicon.svg").Header("etag");
  Get("/favicon.svg", {{"If-None-Match", tag}});
  Get("/orgs/x/board");
  Get("/assets/missing.js");
  Get("/%2e%2e/x");
  for (const char* line : {
           R"(trellis_static_responses_total{result="br"} 1)",
           R"(trellis_static_responses_total{result="gzip"} 1)",
           R"(trellis_static_responses_total{result="identity"} 2)",
           R"(trellis_static_responses_total{result="not_modified"} 1)",
           R"(trellis_static_responses_total{result="not_found"} 1)",
           R"(trellis_static_responses_total{result="bad_path"} 1)",
           R"(trellis_static_app_routes_total 1)",
           R"x(trellis_http_requests_total{route="(fallback)",code="2xx"} 4)x",
           R"x(trellis_http_requests_total{route="(fallback)",code="3xx"} 1)x",
           R"x(trellis_http_requests_total{route="(fallback)",code="4xx"} 2)x",
       }) {
    // The server counts a request just after writing its response: look again for a while.
    std::string text;
    for (int i = 0; i < 200; ++i) {
      text = registry_.Render();
      if (text.find(std::string(line) + "\n") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
}

// --- loading ---

TEST(StaticFilesLoad, MissingDirectoryIsNotFound) {
  tests::support::TempDir dir;
  platform::observe::Registry registry;
  const auto files = StaticFiles::Load({.root = dir.Path() / "nope"}, registry);
  ASSERT_FALSE(files);
  EXPECT_EQ(files.error().code, core::ErrorCode::kNotFound);
}

TEST(StaticFilesLoad, ADirectoryWithoutIndexIsRefused) {
  tests::support::TempDir dir;
  Write(dir.Path() / "assets/app.js", kAppJs);
  platform::observe::Registry registry;
  const auto files = StaticFiles::Load({.root = dir.Path()}, registry);
  ASSERT_FALSE(files);
  EXPECT_EQ(files.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_NE(files.error().message.find("has no index.html"), std::string::npos)
      << files.error().message;
}

TEST(StaticFilesLoad, AFileIsNotABuild) {
  tests::support::TempDir dir;
  Write(dir.Path() / "index.html", kIndex);
  platform::observe::Registry registry;
  const auto files = StaticFiles::Load({.root = dir.Path() / "index.html"}, registry);
  ASSERT_FALSE(files);
  EXPECT_EQ(files.error().code, core::ErrorCode::kFailedPrecondition);
}

TEST(StaticFilesLoad, OverTheSizeCapIsRefused) {
  tests::support::TempDir dir;
  WriteBuild(dir.Path());
  platform::observe::Registry registry;
  const auto files = StaticFiles::Load({.root = dir.Path(), .max_total_bytes = 100}, registry);
  ASSERT_FALSE(files);
  EXPECT_EQ(files.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_NE(files.error().message.find("larger than 100 bytes"), std::string::npos)
      << files.error().message;
  const auto fits = StaticFiles::Load({.root = dir.Path()}, registry);
  ASSERT_TRUE(fits) << fits.error().message;
  EXPECT_GT((*fits)->TotalBytes(), 100U);
}

TEST(StaticFilesLoad, NoAuthorityMeansSelfOnly) {
  EXPECT_EQ(ContentSecurityPolicyFor(""),
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
            "form-action 'self'; object-src 'none'");
}

// --- the parts ---

TEST(StaticParts, OriginOf) {
  EXPECT_EQ(OriginOf("https://idp.example:8443/realms/trellis"), "https://idp.example:8443");
  EXPECT_EQ(OriginOf("HTTP://Localhost:8080"), "http://localhost:8080");
  EXPECT_EQ(OriginOf("https://user:pw@idp.example/x?y#z"), "https://idp.example");
  EXPECT_EQ(OriginOf("http://127.0.0.1:8080?x"), "http://127.0.0.1:8080");
  EXPECT_EQ(OriginOf(""), "");
  EXPECT_EQ(OriginOf("/relative"), "");
  EXPECT_EQ(OriginOf("https://"), "");
}

TEST(StaticParts, DecodePath) {
  EXPECT_EQ(DecodePath("/a%20b/c"), "/a b/c");
  EXPECT_EQ(DecodePath("/a+b"), "/a+b");  // '+' is a plus in a path
  EXPECT_EQ(DecodePath("/"), "/");
  EXPECT_EQ(DecodePath("/x..y/z"), "/x..y/z");  // dots inside a name are fine
  EXPECT_FALSE(DecodePath("relative"));
  EXPECT_FALSE(DecodePath("/a/.."));
  EXPECT_FALSE(DecodePath("/a/%2e"));
  EXPECT_FALSE(DecodePath("/%"));
}

TEST(StaticParts, AcceptsEncodingAndNoneMatch) {
  EXPECT_TRUE(AcceptsEncoding("gzip ; q=0.5", "gzip"));
  EXPECT_FALSE(AcceptsEncoding("", "gzip"));
  EXPECT_FALSE(AcceptsEncoding("gzip;q=0., br", "gzip"));
  EXPECT_TRUE(AcceptsEncoding("gzip;q=0.001", "gzip"));
  EXPECT_FALSE(AcceptsEncoding("gzip;q=1.5", "gzip"));
  EXPECT_FALSE(AcceptsEncoding("*, gzip;q=0", "gzip")) << "a named coding overrides *";
  EXPECT_TRUE(NoneMatchHits(" \"a\" ,\"b\"", "\"b\""));
  EXPECT_FALSE(NoneMatchHits("\"a\"", "\"b\""));
  EXPECT_FALSE(NoneMatchHits("", "\"b\""));
}

TEST(UiRoutes, TheLandingPageGivesWayToTheIndex) {
  platform::observe::Registry registry;
  Health health;
  http::Router with_landing;
  AddPlatformRoutes(with_landing, registry, health, {});
  tests::support::TempDir dir;
  WriteBuild(dir.Path());
  auto files = StaticFiles::Load({.root = dir.Path()}, registry);
  ASSERT_TRUE(files) << files.error().message;
  // Both want "/": a start-up error, never a silent choice.
  EXPECT_THROW(AddUiRoutes(with_landing, *files, {}), std::invalid_argument);
  http::Router without;
  AddPlatformRoutes(without, registry, health, {.landing_page = false});
  AddUiRoutes(without, *files, {});
  std::vector<std::pair<std::string_view, std::string_view>> params;
  EXPECT_NE(without.Find(http::Method::kGet, "/", params).handler, nullptr);
  EXPECT_NE(without.Fallback(), nullptr);
}

TEST(UiRoutes, WithoutABuildOnlyTheConfig) {
  http::Router router;
  AddUiRoutes(router, nullptr, {.authority = "http://127.0.0.1:8080"});
  ASSERT_EQ(router.Routes().size(), 1U);
  EXPECT_EQ(router.Routes()[0].pattern, "/ui-config.json");
  EXPECT_EQ(router.Fallback(), nullptr);
  EXPECT_EQ(UiConfigJson({.authority = "a\"b", .client_id = "c", .scope = "s", .api_base = "/x"}),
            R"({"authority":"a\"b","client_id":"c","scope":"s","api_base":"/x"})");
}

}  // namespace
}  // namespace trellis::gateway::static_files
