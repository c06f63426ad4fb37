// The trellis binary: CLI and composition root. The only place that reads configuration and
// picks adapters; everything below it receives plain settings and ports.
//
//   trellis serve [--config FILE] [--role ROLE...]
//   trellis config check [--config FILE]
//   trellis config docs
//   trellis version
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

#include "cmd/trellis/config_schema.hpp"
#include "gateway/platform_routes.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/config.hpp"
#include "platform/core/ids.hpp"
#include "platform/core/log.hpp"
#include "platform/http/middleware.hpp"
#include "platform/http/server.hpp"
#include "platform/observe/metrics.hpp"

#ifndef TRELLIS_VERSION
#define TRELLIS_VERSION "0.0.0"
#endif
#ifndef TRELLIS_GIT_SHA
#define TRELLIS_GIT_SHA "unknown"
#endif

namespace {

namespace core = trellis::platform::core;
namespace config = trellis::platform::core::config;
namespace http = trellis::platform::http;
namespace observe = trellis::platform::observe;
using core::LogLevel;
using core::LogLine;

constexpr int kExitConfig = 2;
constexpr int kExitRuntime = 1;

std::optional<std::string> ConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv(std::string(config::kConfigFileEnv).c_str()); env && *env) {
    return std::string(env);
  }
  return std::nullopt;
}

// Loads the config and checks what the schema alone cannot (cross-key rules, roles).
core::Result<config::Config> LoadConfig(const std::string& flag,
                                        const std::vector<std::string>& roles_flag) {
  auto cfg = config::Config::Load(trellis::cmd::ConfigSchema(), ConfigPath(flag),
                                  config::Environment::FromProcess());
  if (!cfg) return cfg;
  std::vector<std::string> errors;
  if (cfg->Int("http.max_url_bytes") > cfg->Int("http.max_header_bytes")) {
    errors.push_back("http.max_url_bytes: value " + std::to_string(cfg->Int("http.max_url_bytes")) +
                     " from " + cfg->SourceOf("http.max_url_bytes") +
                     " is not allowed; allowed: at most http.max_header_bytes (" +
                     std::to_string(cfg->Int("http.max_header_bytes")) + ")");
  }
  const auto& known = trellis::cmd::KnownRoles();
  const auto roles = roles_flag.empty() ? cfg->List("roles") : roles_flag;
  for (const auto& role : roles) {
    if (std::find(known.begin(), known.end(), role) == known.end()) {
      const std::string source = roles_flag.empty() ? cfg->SourceOf("roles") : "--role";
      errors.push_back("roles: value \"" + role + "\" from " + source +
                       " is not allowed; allowed: all, gateway");
    }
  }
  if (roles.empty()) errors.emplace_back("roles: empty; allowed: all, gateway");
  if (!errors.empty()) {
    std::string message = "invalid configuration:";
    for (const auto& e : errors) message += "\n  " + e;
    return core::Fail(core::ErrorCode::kInvalidArgument, message);
  }
  return cfg;
}

int Serve(const std::string& config_flag, const std::vector<std::string>& roles_flag) {
  auto cfg = LoadConfig(config_flag, roles_flag);
  if (!cfg) {
    std::cerr << "trellis: " << cfg.error().message << "\n";
    return kExitConfig;
  }
  core::InitLogging({.level = cfg->String("log.level")});

  const core::Clock& clock = core::SystemClock::Instance();
  core::UuidV7Generator ids(clock);
  observe::Registry registry;
  observe::RegisterProcessMetrics(registry);

  trellis::gateway::Health health;
  http::Router router;
  trellis::gateway::AddPlatformRoutes(router, registry, health,
                                      {.bench_routes = cfg->Bool("http.bench_routes"),
                                       .metrics_token = cfg->SecretOf("metrics.token")});

  http::MiddlewareChain chain;
  if (const auto& origins = cfg->List("http.cors.allowed_origins"); !origins.empty()) {
    chain.push_back(std::make_shared<http::CorsMiddleware>(
        http::CorsSettings{.allowed_origins = origins,
                           .max_age_seconds = static_cast<int>(cfg->Int("http.cors.max_age_s"))}));
  }

  http::Server server(trellis::cmd::HttpSettings(*cfg), router, std::move(chain), registry, clock,
                      ids);
  if (auto started = server.Start(); !started) {
    LogLine(LogLevel::kError, "cannot start").Str("error", started.error().message);
    return kExitRuntime;
  }
  LogLine(LogLevel::kInfo, "trellis serving")
      .Str("version", TRELLIS_VERSION)
      .Str("address", cfg->String("http.address"))
      .Int("port", server.Port())
      .Str("url", "http://" + cfg->String("http.address") + ":" + std::to_string(server.Port()));

  // Signals are handled on their own small loop so a busy event loop never delays them.
  boost::asio::io_context signal_ctx;
  boost::asio::signal_set signals(signal_ctx, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        if (signo == SIGHUP) {
          auto changed = cfg->ReloadSecrets();
          if (!changed) {
            LogLine(LogLevel::kError, "secret reload failed; old values kept")
                .Str("error", changed.error().message);
          } else {
            std::string keys;
            for (const auto& k : *changed) keys += (keys.empty() ? "" : ",") + k;
            LogLine(LogLevel::kInfo, "secrets reloaded").Str("changed", keys);
          }
        } else {
          LogLine(LogLevel::kInfo, "signal received; shutting down").Int("signal", signo);
          health.SetDraining();
          server.Shutdown();
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  std::thread signal_thread([&signal_ctx] { signal_ctx.run(); });

  server.Wait();
  signal_ctx.stop();
  signal_thread.join();
  core::Log(LogLevel::kInfo, "trellis stopped");
  return 0;
}

int ConfigCheck(const std::string& config_flag) {
  auto cfg = LoadConfig(config_flag, {});
  if (!cfg) {
    std::cerr << "trellis: " << cfg.error().message << "\n";
    return kExitConfig;
  }
  std::cout << cfg->Describe();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Trellis: a multi-tenant SaaS platform", "trellis"};
  app.require_subcommand(1);

  std::string config_flag;
  std::vector<std::string> roles;
  auto* serve = app.add_subcommand("serve", "Start the platform (embedded shape by default)");
  serve->add_option("--config", config_flag, "YAML configuration file (or $TRELLIS_CONFIG)");
  serve->add_option("--role", roles, "What this process serves: all, gateway (repeatable)");

  auto* cfg = app.add_subcommand("config", "Inspect configuration");
  cfg->require_subcommand(1);
  auto* check = cfg->add_subcommand("check", "Print the effective configuration, secrets redacted");
  check->add_option("--config", config_flag, "YAML configuration file (or $TRELLIS_CONFIG)");
  auto* docs = cfg->add_subcommand("docs", "Print the configuration reference (Markdown)");

  auto* version = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  try {
    if (*serve) return Serve(config_flag, roles);
    if (*check) return ConfigCheck(config_flag);
    if (*docs) {
      std::cout << trellis::cmd::ConfigSchema().MarkdownReference();
      return 0;
    }
    if (*version) {
      std::cout << "trellis " << TRELLIS_VERSION << " (" << TRELLIS_GIT_SHA << ")\n";
      return 0;
    }
  } catch (const std::exception& ex) {
    std::cerr << "trellis: " << ex.what() << "\n";
    return kExitRuntime;
  }
  return 0;
}
