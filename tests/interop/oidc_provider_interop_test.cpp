// Interoperability with a real third-party OpenID Connect provider: panva's `oidc-provider` (npm,
// pinned in tests/interop/oidc-provider) runs on loopback as a child process, and the Trellis
// product, configured with it as an external issuer, must accept the access tokens it mints with
// client_credentials and refuse tampered ones, its non-access JWTs, its tokens for another
// audience and its opaque tokens. Needs node and, the first time, the npm registry (npm ci):
// when they are missing the suite fails, it does not skip.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cmd/trellis/product.hpp"
#include "platform/auth/jwt.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/server.hpp"
#include "tests/e2e/api_client.hpp"
#include "tests/e2e/product_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::tests::interop {
namespace {

namespace json = boost::json;
namespace core = platform::core;
using e2e::ApiClient;
using e2e::ApiResponse;
using e2e::Headers;

// Must match server.mjs.
constexpr const char* kClientId = "trellis-interop";
constexpr const char* kClientSecret = "interop-secret-0123456789abcdef";
constexpr const char* kTrellisResource = "urn:trellis:api";  // audience "trellis-api"
constexpr const char* kOtherResource = "urn:other:api";      // audience "other-api"

constexpr auto kNpmCiTimeout = std::chrono::seconds(240);
constexpr auto kProviderStartTimeout = std::chrono::seconds(30);
constexpr auto kProviderStopTimeout = std::chrono::seconds(5);
constexpr int kFetchTimeoutMs = 30'000;  // npm's per-request timeout

// A child process with its stdout (and, when asked, stderr) on a pipe. It is sent SIGKILL if
// this process dies first, so a crashed test leaves no provider behind.
class Child {
 public:
  Child(const std::string& cwd, std::vector<std::string> argv, bool capture_stderr) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + Errno());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork: " + Errno());
    if (pid_ == 0) {
      // Only async-signal-safe calls from here to exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(fds[1], STDOUT_FILENO);
      if (capture_stderr) dup2(fds[1], STDERR_FILENO);
      if (chdir(cwd.c_str()) != 0) _exit(126);
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    Stop();
    if (out_ >= 0) close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads until `done(output)` holds, EOF, or the deadline; false on the deadline.
  template <typename Done>
  bool Read(std::string& output, std::chrono::steady_clock::time_point deadline, Done done) {
    char buf[4096];
    while (!done(output)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{out_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      const ssize_t n = read(out_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return true;  // EOF
      output.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

  // Waits for the exit until the deadline: the wait status, or nullopt when still running.
  std::optional<int> WaitUntil(std::chrono::steady_clock::time_point deadline) {
    if (pid_ <= 0) return status_;
    for (;;) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = 0;
        status_ = status;
        return status;
      }
      if (r < 0 && errno != EINTR) return std::nullopt;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // SIGTERM, then SIGKILL if it lingers; always reaps.
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    if (WaitUntil(std::chrono::steady_clock::now() + kProviderStopTimeout)) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = 0;
    status_ = status;
  }

 private:
  static std::string Errno() { return std::strerror(errno); }

  pid_t pid_ = 0;
  int out_ = -1;
  std::optional<int> status_;
};

std::string DescribeStatus(std::optional<int> status) {
  if (!status) return "still running";
  if (WIFEXITED(*status)) return "exit code " + std::to_string(WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return "signal " + std::to_string(WTERMSIG(*status));
  return "status " + std::to_string(*status);
}

// `npm ci` into tests/interop/oidc-provider unless the pinned package is already there.
void EnsureProviderInstalled(const std::filesystem::path& dir) {
  // npm writes its hidden lockfile last, so an interrupted install is redone.
  if (std::filesystem::exists(dir / "node_modules" / ".package-lock.json") &&
      std::filesystem::exists(dir / "node_modules" / "oidc-provider" / "package.json")) {
    return;
  }
  if (!std::filesystem::exists(TRELLIS_NPM)) {
    throw std::runtime_error("npm not found (configured: " + std::string(TRELLIS_NPM) + ")");
  }
  Child npm(dir.string(),
            {TRELLIS_NPM, "ci", "--no-audit", "--no-fund",
             "--fetch-timeout=" + std::to_string(kFetchTimeoutMs), "--fetch-retries=1"},
            /*capture_stderr=*/true);
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + kNpmCiTimeout;
  const bool in_time = npm.Read(output, deadline, [](const std::string&) { return false; });
  auto status = npm.WaitUntil(in_time ? deadline : std::chrono::steady_clock::now());
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    npm.Stop();
    throw std::runtime_error("`npm ci` in " + dir.string() + " failed (" +
                             (in_time ? DescribeStatus(status) : std::string("timed out")) +
                             "); the npm registry must be reachable to install the pinned "
                             "oidc-provider.\nnpm's output:\n" +
                             output);
  }
}

// The provider, started on a free port it picks itself and reports on stdout.
class Provider {
 public:
  Provider() {
    const std::filesystem::path dir = TRELLIS_INTEROP_PROVIDER_DIR;
    if (!std::filesystem::exists(TRELLIS_NODE)) {
      throw std::runtime_error("node not found (configured: " + std::string(TRELLIS_NODE) + ")");
    }
    EnsureProviderInstalled(dir);
    child_ = std::make_unique<Child>(
        dir.string(), std::vector<std::string>{TRELLIS_NODE, "server.mjs", "0"}, false);
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + kProviderStartTimeout;
    child_->Read(line, deadline,
                 [](const std::string& s) { return s.find('\n') != std::string::npos; });
    if (line.find('\n') == std::string::npos) {
      auto status = child_->WaitUntil(std::chrono::steady_clock::now());
      throw std::runtime_error("oidc-provider did not report its port (" + DescribeStatus(status) +
                               "); stdout: " + line);
    }
    const json::object started = json::parse(line.substr(0, line.find('\n'))).as_object();
    port_ = static_cast<std::uint16_t>(started.at("port").to_number<int>());
    issuer_ = std::string(started.at("issuer").as_string());
    api_.emplace(port_);
  }

  [[nodiscard]] const std::string& Issuer() const { return issuer_; }

  // POST /token, client_credentials with client_secret_basic; `resource` ("" for none) picks
  // the resource server (RFC 8707) and so the audience and format of the token.
  [[nodiscard]] ApiResponse RequestToken(const std::string& resource) const {
    std::string body = "grant_type=client_credentials";
    if (!resource.empty()) body += "&resource=" + FormEncode(resource);
    return Send("POST", "/token",
                {{"Authorization", "Basic " + Base64(std::string(kClientId) + ":" + kClientSecret)},
                 {"Content-Type", "application/x-www-form-urlencoded"}},
                body);
  }

  [[nodiscard]] std::string AccessToken(const std::string& resource) const {
    auto r = RequestToken(resource);
    if (r.status != 200) throw std::runtime_error("token endpoint: " + std::to_string(r.status));
    return std::string(json::parse(r.body).as_object().at("access_token").as_string());
  }

  // server.mjs's test aid: a JWT signed with the provider's key, valid claims, header typ `typ`.
  [[nodiscard]] std::string TestAidToken(const std::string& typ) const {
    auto r = Send("GET", "/test-aid/jwt?typ=" + FormEncode(typ), {});
    if (r.status != 200) throw std::runtime_error("test aid: " + std::to_string(r.status));
    return std::string(json::parse(r.body).as_object().at("token").as_string());
  }

  // How often discovery and the JWKS were fetched (by Trellis: nothing else asks).
  [[nodiscard]] std::pair<std::int64_t, std::int64_t> KeyFetches() const {
    auto r = Send("GET", "/test-aid/fetches", {});
    const json::object o = json::parse(r.body).as_object();
    return {o.at("discovery").as_int64(), o.at("jwks").as_int64()};
  }

 private:
  ApiResponse Send(const std::string& method, const std::string& target, Headers headers,
                   const std::string& body = {}) const {
    headers.emplace_back("Host", "127.0.0.1:" + std::to_string(port_));
    return api_->Send(method, target, headers, body);
  }

  static std::string Base64(const std::string& bytes) {
    std::string out = platform::auth::Base64UrlEncode(bytes);
    for (char& c : out) {
      if (c == '-') c = '+';
      if (c == '_') c = '/';
    }
    while (out.size() % 4 != 0) out += '=';
    return out;
  }
  static std::string FormEncode(const std::string& text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
      }
    }
    return out;
  }

  std::unique_ptr<Child> child_;
  std::uint16_t port_ = 0;
  std::string issuer_;
  std::optional<ApiClient> api_;
};

// The Trellis product (built-in issuer on, the provider as an external issuer) behind a real
// HTTP server on loopback.
class Trellis {
 public:
  explicit Trellis(const std::string& external_issuer)
      : server_([&](cmd::ProductSettings& s) {
          s.builtin_issuer = true;
          s.audience = "trellis-api";
          s.external_issuers = {external_issuer};
        }),
        api_(server_.Port()) {}

  [[nodiscard]] ApiResponse Me(const std::string& token) const {
    return api_.Send("GET", "/api/v1/me", {{"Authorization", "Bearer " + token}});
  }

 private:
  e2e::ProductServer server_;
  ApiClient api_;
};

// A compact JWS's three segments.
struct Jws {
  std::string header;
  std::string payload;
  std::string signature;

  static Jws Split(const std::string& token) {
    const auto a = token.find('.');
    const auto b = token.find('.', a + 1);
    if (a == std::string::npos || b == std::string::npos) throw std::runtime_error("not a JWS");
    return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
  }
  [[nodiscard]] std::string Join() const { return header + "." + payload + "." + signature; }

  static json::object Decode(const std::string& segment) {
    auto bytes = platform::auth::Base64UrlDecode(segment);
    if (!bytes) throw std::runtime_error("bad base64url segment");
    return json::parse(*bytes).as_object();
  }
  static std::string Encode(const json::object& o) {
    return platform::auth::Base64UrlEncode(json::serialize(o));
  }
};

// The token with one bit of its signature flipped (re-encoded, so the encoding stays canonical
// and only the signature check can refuse it).
std::string FlipSignatureBit(const std::string& token) {
  Jws jws = Jws::Split(token);
  auto sig = platform::auth::Base64UrlDecode(jws.signature);
  if (!sig || sig->size() < 11) throw std::runtime_error("bad signature segment");
  (*sig)[10] = static_cast<char>((*sig)[10] ^ 0x01);
  jws.signature = platform::auth::Base64UrlEncode(*sig);
  return jws.Join();
}

// The token with one claim replaced and the original header and signature.
std::string WithClaim(const std::string& token, const char* name, json::value value) {
  Jws jws = Jws::Split(token);
  json::object payload = Jws::Decode(jws.payload);
  payload[name] = std::move(value);
  jws.payload = Jws::Encode(payload);
  return jws.Join();
}

class OidcProviderInterop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      provider_ = new Provider();
      trellis_ = new Trellis(provider_->Issuer());
    } catch (const std::exception& e) {
      // In full once; each test then fails with the first line.
      std::cerr << "oidc-provider interop set-up failed: " << e.what() << "\n";
      const std::string what = e.what();
      setup_error_ = new std::string(what.substr(0, what.find('\n')));
    }
  }
  static void TearDownTestSuite() {
    delete trellis_;
    trellis_ = nullptr;
    delete provider_;
    provider_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }
  void SetUp() override {
    if (setup_error_ != nullptr) GTEST_FAIL() << "set-up failed (details above): " << *setup_error_;
    ASSERT_NE(trellis_, nullptr);
  }

  static Provider& P() { return *provider_; }
  static Trellis& T() { return *trellis_; }

  static void ExpectRefused(const ApiResponse& r, const std::string& what) {
    EXPECT_EQ(r.status, 401) << what << ": " << r.body;
    EXPECT_NE(r.Header("WWW-Authenticate").find("invalid_token"), std::string::npos)
        << what << ": " << r.Header("WWW-Authenticate");
  }

  static Provider* provider_;
  static Trellis* trellis_;
  static std::string* setup_error_;
};
Provider* OidcProviderInterop::provider_ = nullptr;
Trellis* OidcProviderInterop::trellis_ = nullptr;
std::string* OidcProviderInterop::setup_error_ = nullptr;

TEST_F(OidcProviderInterop, AcceptsItsAccessTokenAndProvisionsTheClientAsAUser) {
  const std::string token = P().AccessToken(kTrellisResource);
  // What oidc-provider minted is the RFC 9068 shape Trellis expects, not something we shaped.
  const Jws jws = Jws::Split(token);
  const json::object header = Jws::Decode(jws.header);
  const json::object claims = Jws::Decode(jws.payload);
  EXPECT_EQ(header.at("typ").as_string(), "at+jwt");
  EXPECT_EQ(header.at("alg").as_string(), "ES256");
  EXPECT_EQ(claims.at("iss").as_string(), P().Issuer());
  EXPECT_EQ(claims.at("aud").as_string(), "trellis-api");
  EXPECT_EQ(claims.at("sub").as_string(), kClientId);

  auto me = T().Me(token);
  ASSERT_EQ(me.status, 200) << me.body;
  const json::object body = json::parse(me.body).as_object();
  EXPECT_EQ(body.at("kind").as_string(), "user");
  const json::object& user = body.at("user").as_object();
  const std::string id(user.at("id").as_string());
  EXPECT_FALSE(id.empty());
  // No name or email in a client_credentials token: the user is named by its subject.
  EXPECT_EQ(user.at("name").as_string(), kClientId);
  EXPECT_EQ(user.at("email").as_string(), "");

  // Again (the verified-token cache), and with a second token of the same client: same user.
  auto again = T().Me(token);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body).as_object().at("user").as_object().at("id").as_string(), id);
  auto fresh = T().Me(P().AccessToken(kTrellisResource));
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_EQ(json::parse(fresh.body).as_object().at("user").as_object().at("id").as_string(), id);
}

TEST_F(OidcProviderInterop, RefusesItsTokenWithOneSignatureBitFlipped) {
  const std::string token = P().AccessToken(kTrellisResource);
  ExpectRefused(T().Me(FlipSignatureBit(token)), "flipped signature bit");
  // The genuine token is unaffected by the forgery having been tried.
  EXPECT_EQ(T().Me(token).status, 200);
}

TEST_F(OidcProviderInterop, RefusesItsTokenWithAChangedPayloadUnderTheOriginalSignature) {
  const std::string token = P().AccessToken(kTrellisResource);
  ASSERT_EQ(T().Me(token).status, 200);  // so a cached verdict is in play, too
  ExpectRefused(T().Me(WithClaim(token, "sub", "someone-else")), "sub changed");
  ExpectRefused(T().Me(WithClaim(token, "exp", json::value(std::int64_t{4'102'444'800}))),
                "exp extended");
  // A token for another resource server, re-targeted at Trellis.
  const std::string other = P().AccessToken(kOtherResource);
  ExpectRefused(T().Me(WithClaim(other, "aud", "trellis-api")), "aud rewritten");
}

TEST_F(OidcProviderInterop, RefusesItsTokenForAnotherAudience) {
  const std::string other = P().AccessToken(kOtherResource);
  EXPECT_EQ(Jws::Decode(Jws::Split(other).payload).at("aud").as_string(), "other-api");
  ExpectRefused(T().Me(other), "aud other-api");
}

TEST_F(OidcProviderInterop, RefusesANonAccessTokenSignedByIt) {
  // Same key, same claims; only the header typ differs.
  ExpectRefused(T().Me(P().TestAidToken("JWT")), "typ JWT");
  auto control = T().Me(P().TestAidToken("at+jwt"));
  EXPECT_EQ(control.status, 200) << control.body;
}

TEST_F(OidcProviderInterop, RefusesItsOpaqueAccessToken) {
  // No resource indicator: oidc-provider issues an opaque token (for its own userinfo).
  auto r = P().RequestToken("");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string opaque(json::parse(r.body).as_object().at("access_token").as_string());
  ASSERT_EQ(opaque.find('.'), std::string::npos) << opaque;
  ExpectRefused(T().Me(opaque), "opaque token");
}

TEST_F(OidcProviderInterop, FetchesDiscoveryAndKeysOnceForManyTokens) {
  for (int i = 0; i < 3; ++i) {
    const std::string token = P().AccessToken(kTrellisResource);
    ASSERT_EQ(T().Me(token).status, 200);
    ExpectRefused(T().Me(FlipSignatureBit(token)), "flipped signature bit");
  }
  const auto [discovery, jwks] = P().KeyFetches();
  EXPECT_EQ(discovery, 1);
  EXPECT_EQ(jwks, 1);
}

}  // namespace
}  // namespace trellis::tests::interop
