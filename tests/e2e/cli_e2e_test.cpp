// End-to-end tests of the trellis binary: CLI, configuration errors, secrets and SIGHUP,
// graceful SIGTERM, and the configuration reference in docs/ staying true to the code.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "cmd/trellis/config_schema.hpp"

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the binary to completion with extra environment variables.
Run RunTrellis(const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env = {}) {
  const fs::path dir = fs::temp_directory_path() / ("trellis-e2e-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const auto out_path = dir / "out";
  const auto err_path = dir / "err";
  const pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    if (!freopen(out_path.c_str(), "w", stdout) || !freopen(err_path.c_str(), "w", stderr))
      _exit(127);
    std::vector<char*> argv{const_cast<char*>(TRELLIS_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(TRELLIS_BINARY, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::stringstream o;
  o << std::ifstream(out_path).rdbuf();
  r.out = o.str();
  std::stringstream e;
  e << std::ifstream(err_path).rdbuf();
  r.err = e.str();
  fs::remove_all(dir);
  return r;
}

// A `trellis serve` child on a free port, with stdout captured to a file.
class ServeProcess {
 public:
  explicit ServeProcess(std::map<std::string, std::string> env) {
    dir_ = fs::temp_directory_path() /
           ("trellis-serve-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    log_ = dir_ / "log";
    env.emplace("TRELLIS_HTTP_PORT", "0");
    env.emplace("TRELLIS_HTTP_THREADS", "2");
    env.emplace("TRELLIS_DATA_DIR", (dir_ / "data").string());
    pid_ = fork();
    if (pid_ == 0) {
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      if (!freopen(log_.c_str(), "w", stdout)) _exit(127);
      execl(TRELLIS_BINARY, TRELLIS_BINARY, "serve", static_cast<char*>(nullptr));
      _exit(127);
    }
    // The start-up line carries the bound port.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline && port_ == 0) {
      const std::string log = Log();
      const auto at = log.find("\"msg\":\"trellis serving\"");
      if (at != std::string::npos) {
        const auto p = log.find("\"port\":", at);
        port_ = std::stoi(log.substr(p + 7));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  int Port() const { return port_; }
  void Signal(int sig) const { kill(pid_, sig); }
  int WaitExit() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string Log() const {
    std::stringstream s;
    s << std::ifstream(log_).rdbuf();
    return s.str();
  }
  // Waits until the log contains `text`.
  bool AwaitLog(const std::string& text) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
  fs::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool reaped_ = false;
};

// One request on a fresh connection; returns the raw response.
std::string Send(int port, const std::string& method, const std::string& path,
                 const std::string& extra_headers = "") {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  const std::string req = method + " " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" +
                          extra_headers + "\r\n";
  asio::write(s, asio::buffer(req));
  std::string out;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(out), ec);
  return out;
}

std::string Get(int port, const std::string& path, const std::string& extra_headers = "") {
  return Send(port, "GET", path, extra_headers);
}

int StatusOf(const std::string& response) {
  return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}

TEST(CliTest, VersionPrintsTheVersion) {
  auto r = RunTrellis({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("trellis 0.", 0), 0u) << r.out;
}

TEST(CliTest, ConfigCheckPrintsEffectiveConfigWithSources) {
  auto r = RunTrellis({"config", "check"}, {{"TRELLIS_HTTP_PORT", "9999"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("http.port: 9999  # env TRELLIS_HTTP_PORT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("http.address: \"127.0.0.1\"  # default"), std::string::npos);
}

TEST(CliTest, ConfigCheckRedactsSecrets) {
  const auto secret = fs::temp_directory_path() / ("trellis-secret-" + std::to_string(getpid()));
  std::ofstream(secret) << "very-secret-token\n";
  auto r = RunTrellis({"config", "check"}, {{"TRELLIS_METRICS_TOKEN_FILE", secret.string()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("very-secret-token"), std::string::npos);
  EXPECT_NE(r.out.find("metrics.token: <redacted>"), std::string::npos) << r.out;
  auto direct = RunTrellis({"config", "check"}, {{"TRELLIS_METRICS_TOKEN", "inline-secret"}});
  EXPECT_EQ(direct.out.find("inline-secret"), std::string::npos);
  fs::remove(secret);
}

TEST(CliTest, BadValueExitsNonZeroNamingKeySourceAndAllowed) {
  auto r = RunTrellis({"config", "check"}, {{"TRELLIS_HTTP_PORT", "eighty"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("http.port: value \"eighty\" from env TRELLIS_HTTP_PORT is not allowed; "
                       "allowed: an integer from 0 to 65535"),
            std::string::npos)
      << r.err;
}

TEST(CliTest, BadYamlValueNamesFileAndLine) {
  const auto file =
      fs::temp_directory_path() / ("trellis-cfg-" + std::to_string(getpid()) + ".yaml");
  std::ofstream(file) << "http:\n  port: 8080\nlog:\n  level: chatty\n";
  auto r = RunTrellis({"config", "check", "--config", file.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("log.level: value \"chatty\" from file " + file.string() + ":4"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("one of: debug, info, warn, error"), std::string::npos);
  fs::remove(file);
}

TEST(CliTest, UnknownVariableAndCrossKeyRulesAreErrors) {
  auto unknown = RunTrellis({"config", "check"}, {{"TRELLIS_HTTP_PROT", "1"}});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("TRELLIS_HTTP_PROT"), std::string::npos);
  auto cross = RunTrellis({"config", "check"}, {{"TRELLIS_HTTP_MAX_URL_BYTES", "20000"}});
  EXPECT_EQ(cross.exit_code, 2);
  EXPECT_NE(cross.err.find("http.max_url_bytes"), std::string::npos) << cross.err;
}

TEST(CliTest, APolicyOwnedByKongCannotAlsoBeTrellisOwn) {
  auto both = RunTrellis({"serve"}, {{"TRELLIS_POLICY_EDGE_RATE_LIMITS", "kong"}});
  EXPECT_EQ(both.exit_code, 2) << both.err;
  EXPECT_NE(both.err.find("rate_limit.enabled"), std::string::npos) << both.err;
  EXPECT_NE(both.err.find("policy.edge_rate_limits is kong"), std::string::npos) << both.err;
  auto handed_over = RunTrellis({"config", "check"}, {{"TRELLIS_POLICY_EDGE_RATE_LIMITS", "kong"},
                                                      {"TRELLIS_RATE_LIMIT_ENABLED", "false"}});
  EXPECT_EQ(handed_over.exit_code, 0) << handed_over.err;
}

TEST(CliTest, UnknownRoleIsRefused) {
  auto r = RunTrellis({"serve", "--role", "billing"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("roles: value \"billing\" from --role"), std::string::npos) << r.err;
}

TEST(CliTest, ConfigurationReferenceMatchesTheCode) {
  std::stringstream s;
  s << std::ifstream(std::string(TRELLIS_SOURCE_DIR) + "/docs/configuration.md").rdbuf();
  const std::string doc = s.str();
  const std::string begin = "<!-- BEGIN GENERATED: trellis config docs -->\n";
  const std::string end = "<!-- END GENERATED -->";
  const auto b = doc.find(begin);
  const auto e = doc.find(end);
  ASSERT_NE(b, std::string::npos) << "docs/configuration.md lacks the generated block";
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()),
            trellis::cmd::ConfigSchema().MarkdownReference())
      << "docs/configuration.md is out of date: run `make docs`";
}

TEST(ServeTest, ServesHealthAndExitsZeroOnSigterm) {
  ServeProcess p({});
  ASSERT_GT(p.Port(), 0) << p.Log();
  auto health = Get(p.Port(), "/healthz");
  EXPECT_EQ(StatusOf(health), 200) << health;
  auto ready = Get(p.Port(), "/readyz");
  EXPECT_EQ(StatusOf(ready), 200) << ready;
  EXPECT_NE(ready.find("\"status\":\"ready\""), std::string::npos);
  auto page = Get(p.Port(), "/");
  EXPECT_NE(page.find("Trellis is running"), std::string::npos);
  auto metrics = Get(p.Port(), "/metrics");
  EXPECT_EQ(StatusOf(metrics), 200);
  EXPECT_NE(metrics.find("trellis_http_requests_total{route=\"GET /healthz\",code=\"2xx\"} 1"),
            std::string::npos)
      << metrics;
  p.Signal(SIGTERM);
  EXPECT_EQ(p.WaitExit(), 0);
  const auto log = p.Log();
  EXPECT_NE(log.find("\"msg\":\"request\""), std::string::npos);
  EXPECT_NE(log.find("\"route\":\"/healthz\""), std::string::npos);
  EXPECT_NE(log.find("\"msg\":\"trellis stopped\""), std::string::npos);
}

TEST(ServeTest, TraceparentAndRequestIdReachTheAccessLog) {
  ServeProcess p({});
  ASSERT_GT(p.Port(), 0);
  auto r = Get(p.Port(), "/healthz",
               "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
               "X-Request-Id: e2e-req-1\r\n");
  EXPECT_NE(r.find("X-Request-Id: e2e-req-1"), std::string::npos) << r;
  ASSERT_TRUE(p.AwaitLog("\"request_id\":\"e2e-req-1\""));
  EXPECT_NE(p.Log().find("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""), std::string::npos);
}

TEST(ServeTest, MetricsTokenIsRotatedOnSighup) {
  const auto secret = fs::temp_directory_path() / ("trellis-token-" + std::to_string(getpid()));
  std::ofstream(secret) << "first-token\n";
  ServeProcess p(
      std::map<std::string, std::string>{{"TRELLIS_METRICS_TOKEN_FILE", secret.string()}});
  ASSERT_GT(p.Port(), 0) << p.Log();
  EXPECT_EQ(StatusOf(Get(p.Port(), "/metrics")), 401);
  EXPECT_EQ(StatusOf(Get(p.Port(), "/metrics", "Authorization: Bearer first-token\r\n")), 200);

  std::ofstream(secret) << "second-token\n";
  p.Signal(SIGHUP);
  ASSERT_TRUE(p.AwaitLog("\"msg\":\"secrets reloaded\""));
  EXPECT_EQ(StatusOf(Get(p.Port(), "/metrics", "Authorization: Bearer first-token\r\n")), 401);
  EXPECT_EQ(StatusOf(Get(p.Port(), "/metrics", "Authorization: Bearer second-token\r\n")), 200);
  // Secrets never reach the logs.
  EXPECT_EQ(p.Log().find("first-token"), std::string::npos);
  EXPECT_EQ(p.Log().find("second-token"), std::string::npos);
  p.Signal(SIGTERM);
  EXPECT_EQ(p.WaitExit(), 0);
  fs::remove(secret);
}

TEST(ServeTest, CorsWhenConfigured) {
  ServeProcess p(std::map<std::string, std::string>{
      {"TRELLIS_HTTP_CORS_ALLOWED_ORIGINS", "https://app.example"}});
  ASSERT_GT(p.Port(), 0) << p.Log();
  // A preflight for a path that has no OPTIONS route still gets its answer from the chain.
  auto pre = Send(p.Port(), "OPTIONS", "/healthz",
                  "Origin: https://app.example\r\nAccess-Control-Request-Method: GET\r\n");
  EXPECT_EQ(StatusOf(pre), 204) << pre;
  EXPECT_NE(pre.find("Access-Control-Allow-Origin: https://app.example"), std::string::npos);
  auto get = Get(p.Port(), "/healthz", "Origin: https://app.example\r\n");
  EXPECT_EQ(StatusOf(get), 200);
  EXPECT_NE(get.find("Access-Control-Allow-Origin: https://app.example"), std::string::npos);
  auto other = Get(p.Port(), "/healthz", "Origin: https://evil.example\r\n");
  EXPECT_EQ(other.find("Access-Control-Allow-Origin"), std::string::npos);
  auto wrong = Send(p.Port(), "DELETE", "/healthz", "Origin: https://app.example\r\n");
  EXPECT_EQ(StatusOf(wrong), 405);
  EXPECT_NE(wrong.find("Allow: GET, HEAD, OPTIONS"), std::string::npos) << wrong;
}

TEST(ServeTest, PortInUseIsAClearError) {
  ServeProcess first(std::map<std::string, std::string>{{"TRELLIS_HTTP_REUSE_PORT", "false"}});
  ASSERT_GT(first.Port(), 0);
  const auto data = fs::temp_directory_path() / ("trellis-data-" + std::to_string(getpid()));
  auto r = RunTrellis({"serve"}, {{"TRELLIS_DATA_DIR", data.string()},
                                  {"TRELLIS_HTTP_PORT", std::to_string(first.Port())},
                                  {"TRELLIS_HTTP_REUSE_PORT", "false"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("cannot listen on 127.0.0.1:" + std::to_string(first.Port())),
            std::string::npos)
      << r.out;
  fs::remove_all(data);
}

TEST(ServeTest, LandingPageLeadsToSignUpAndTheApiAsksForCredentials) {
  ServeProcess p({});
  ASSERT_GT(p.Port(), 0) << p.Log();
  auto page = Get(p.Port(), "/");
  EXPECT_NE(page.find("href=\"/console\""), std::string::npos) << page;
  auto me = Get(p.Port(), "/api/v1/me");
  EXPECT_EQ(StatusOf(me), 401) << me;
  EXPECT_NE(me.find("application/problem+json"), std::string::npos);
  auto discovery = Get(p.Port(), "/.well-known/openid-configuration");
  EXPECT_EQ(StatusOf(discovery), 200) << discovery;
  p.Signal(SIGTERM);
  EXPECT_EQ(p.WaitExit(), 0);
}

TEST(MigrateTest, AppliesEveryContextOnceAndRefusesAChangedHistory) {
  const auto data = fs::temp_directory_path() / ("trellis-migrate-" + std::to_string(getpid()));
  auto first = RunTrellis({"migrate"}, {{"TRELLIS_DATA_DIR", data.string()}});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  for (const char* db :
       {"identity: applied V1 V2", "work: applied V1", "audit: applied V1", "edge: applied V1"}) {
    EXPECT_NE(first.out.find(db), std::string::npos) << first.out;
  }
  auto again = RunTrellis({"migrate"}, {{"TRELLIS_DATA_DIR", data.string()}});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("work: up to date"), std::string::npos) << again.out;
  fs::remove_all(data);
}

TEST(AdminTest, CreateUserAndOrgForScripts) {
  const auto data = fs::temp_directory_path() / ("trellis-admin-" + std::to_string(getpid()));
  fs::create_directories(data);
  const auto password = data / "password";
  std::ofstream(password) << "a long enough password\n";
  auto user = RunTrellis({"admin", "create-user", "--email", "ops@example.com", "--name", "Ops",
                          "--password-file", password.string()},
                         {{"TRELLIS_DATA_DIR", data.string()}});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  std::string user_id = user.out.substr(0, user.out.find('\n'));
  EXPECT_EQ(user_id.size(), 36u) << user.out;
  auto org =
      RunTrellis({"admin", "create-org", "--name", "Ops", "--slug", "ops", "--owner", user_id},
                 {{"TRELLIS_DATA_DIR", data.string()}});
  EXPECT_EQ(org.exit_code, 0) << org.err;
  auto duplicate =
      RunTrellis({"admin", "create-org", "--name", "Ops", "--slug", "ops", "--owner", user_id},
                 {{"TRELLIS_DATA_DIR", data.string()}});
  EXPECT_NE(duplicate.exit_code, 0);
  EXPECT_NE(duplicate.err.find("slug is taken"), std::string::npos) << duplicate.err;
  auto bad =
      RunTrellis({"admin", "create-org", "--name", "Ops", "--slug", "NO", "--owner", user_id},
                 {{"TRELLIS_DATA_DIR", data.string()}});
  EXPECT_NE(bad.err.find("/slug"), std::string::npos) << bad.err;
  fs::remove_all(data);
}

}  // namespace
