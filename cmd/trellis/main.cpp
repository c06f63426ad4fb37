// The trellis binary: CLI and composition root. The only place that reads configuration and
// picks adapters; everything below it receives plain settings and ports.
//
//   trellis serve [--config FILE] [--role ROLE...] [--demo]
//   trellis migrate [--config FILE]
//   trellis admin create-user --email E --name N --password-file F [--config FILE]
//   trellis admin create-org --name N --slug S --owner USER_ID [--config FILE]
//   trellis config check [--config FILE]
//   trellis config docs
//   trellis version
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "cmd/trellis/config_schema.hpp"
#include "cmd/trellis/demo.hpp"
#include "cmd/trellis/product.hpp"
#include "gateway/platform_routes.hpp"
#include "gateway/static/static_files.hpp"
#include "gateway/static/ui_config.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/config.hpp"
#include "platform/core/ids.hpp"
#include "platform/core/log.hpp"
#include "platform/http/middleware.hpp"
#include "platform/http/server.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "services/identity/app/identity_app.hpp"
#include "services/identity/app/oidc_issuer.hpp"

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
  // One plane owns each policy (docs/policy-ownership.md).
  if (cfg->String("policy.edge_rate_limits") == "kong" && cfg->Bool("rate_limit.enabled")) {
    errors.push_back("rate_limit.enabled: true from " + cfg->SourceOf("rate_limit.enabled") +
                     " is not allowed while policy.edge_rate_limits is kong (from " +
                     cfg->SourceOf("policy.edge_rate_limits") +
                     "): Kong owns edge rate limits, so set rate_limit.enabled: false "
                     "(docs/policy-ownership.md)");
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

int Serve(const std::string& config_flag, const std::vector<std::string>& roles_flag, bool demo) {
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
  const auto product_settings = trellis::cmd::ProductSettingsFrom(*cfg);

  // The web app (ui/dist, ADR 0023): "/" becomes its index.html when a build is there. Its
  // sign-in authority is the built-in issuer unless ui.oidc_authority names another.
  namespace ui = trellis::gateway::static_files;
  const std::string ui_authority = cfg->String("ui.oidc_authority").empty()
                                       ? product_settings.issuer_url
                                       : cfg->String("ui.oidc_authority");
  std::shared_ptr<const ui::StaticFiles> ui_files;
  if (cfg->Bool("ui.enabled")) {
    ui::StaticSettings ui_settings;
    ui_settings.root = cfg->String("ui.dir");
    ui_settings.oidc_authority = ui_authority;
    auto loaded = ui::StaticFiles::Load(ui_settings, registry);
    if (loaded) {
      ui_files = *loaded;
    } else if (loaded.error().code == core::ErrorCode::kNotFound) {
      LogLine(LogLevel::kWarn, "the web app is not built (make ui); serving the API only")
          .Str("ui.dir", cfg->String("ui.dir"));
    } else {
      LogLine(LogLevel::kError, "cannot serve the web app")
          .Str("ui.dir", cfg->String("ui.dir"))
          .Str("error", loaded.error().message)
          .Str("detail", loaded.error().internal);
      return kExitConfig;
    }
  }
  trellis::gateway::AddPlatformRoutes(router, registry, health,
                                      {.bench_routes = cfg->Bool("http.bench_routes"),
                                       .landing_page = ui_files == nullptr,
                                       .sign_in_link = cfg->Bool("auth.builtin_issuer"),
                                       .metrics_token = cfg->SecretOf("metrics.token")});
  if (cfg->Bool("ui.enabled")) {
    ui::UiConfig ui_config;
    ui_config.authority = ui_authority;
    ui_config.client_id = cfg->String("ui.oidc_client_id");
    ui_config.scope = cfg->String("ui.oidc_scope");
    ui::AddUiRoutes(router, ui_files, ui_config);
  }

  http::MiddlewareChain chain;
  if (const auto& origins = cfg->List("http.cors.allowed_origins"); !origins.empty()) {
    chain.push_back(std::make_shared<http::CorsMiddleware>(
        http::CorsSettings{.allowed_origins = origins,
                           .max_age_seconds = static_cast<int>(cfg->Int("http.cors.max_age_s"))}));
  }

  auto product = trellis::cmd::Product::Open(product_settings, clock, ids, registry);
  if (!product) {
    LogLine(LogLevel::kError, "cannot open the product's databases")
        .Str("error", product.error().message)
        .Str("detail", product.error().internal);
    return kExitRuntime;
  }
  (*product)->AddRoutes(router);
  (*product)->AddMiddleware(chain);
  (*product)->AddHealthChecks(health);
  if (demo) {
    auto seeded = trellis::cmd::SeedDemo(**product);
    if (!seeded) {
      LogLine(LogLevel::kError, "cannot seed the demo data")
          .Str("error", seeded.error().message)
          .Str("detail", seeded.error().internal);
      return kExitRuntime;
    }
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
  (*product)->Start();
  if (demo) {
    std::cout << "Demo data is ready. Sign in at http://" << cfg->String("http.address") << ":"
              << server.Port() << (ui_files ? "/" : "/console") << " as "
              << trellis::cmd::kDemoEmail << " with password " << trellis::cmd::kDemoPassword
              << std::endl;
  }

  // Signals are handled on their own small loop so a busy event loop never delays them.
  boost::asio::io_context signal_ctx;
  boost::asio::signal_set signals(signal_ctx, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        if (signo == SIGHUP) {
          if (auto reloaded = (*product)->ReloadCredentials(); !reloaded) {
            LogLine(LogLevel::kError, "database password reload failed; old ones kept")
                .Str("error", reloaded.error().message);
          }
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
  (*product)->Stop();
  signal_ctx.stop();
  signal_thread.join();
  core::Log(LogLevel::kInfo, "trellis stopped");
  return 0;
}

int Migrate(const std::string& config_flag) {
  auto cfg = LoadConfig(config_flag, {});
  if (!cfg) {
    std::cerr << "trellis: " << cfg.error().message << "\n";
    return kExitConfig;
  }
  observe::Registry registry;
  auto report = trellis::cmd::Product::Migrate(trellis::cmd::ProductSettingsFrom(*cfg),
                                               core::SystemClock::Instance(), registry);
  if (!report) {
    std::cerr << "trellis: " << report.error().message << ": " << report.error().internal << "\n";
    return kExitRuntime;
  }
  for (const auto& [db, versions] : report->applied) {
    std::cout << db << ": " << (versions.empty() ? "up to date" : "applied");
    for (auto v : versions) std::cout << " V" << v;
    std::cout << "\n";
  }
  return 0;
}

// Opens the product for an admin command (migrating first, as serve does).
std::unique_ptr<trellis::cmd::Product> OpenForAdmin(const std::string& config_flag,
                                                    core::IdGenerator& ids,
                                                    observe::Registry& registry) {
  auto cfg = LoadConfig(config_flag, {});
  if (!cfg) {
    std::cerr << "trellis: " << cfg.error().message << "\n";
    return nullptr;
  }
  // Admin commands print only their result on stdout (scripts capture it); logs stay quiet.
  core::InitLogging({.level = "warn"});
  auto product = trellis::cmd::Product::Open(trellis::cmd::ProductSettingsFrom(*cfg),
                                             core::SystemClock::Instance(), ids, registry);
  if (!product) {
    std::cerr << "trellis: " << product.error().message << "\n";
    return nullptr;
  }
  return std::move(*product);
}

int CreateUser(const std::string& config_flag, const std::string& email, const std::string& name,
               const std::string& password_file) {
  std::ifstream in(password_file);
  std::string password;
  std::getline(in, password);
  if (!in && password.empty()) {
    std::cerr << "trellis: cannot read the password from " << password_file << "\n";
    return kExitConfig;
  }
  core::UuidV7Generator ids(core::SystemClock::Instance());
  observe::Registry registry;
  auto product = OpenForAdmin(config_flag, ids, registry);
  if (!product) return kExitConfig;
  auto user =
      trellis::platform::ports::RunSync(product->Issuer().SignUp(email, name, password, "cli"));
  if (!user) {
    std::cerr << "trellis: " << user.error().message << "\n";
    return kExitRuntime;
  }
  std::cout << user->session.user_id << "\n";
  return 0;
}

int CreateOrg(const std::string& config_flag, const std::string& name, const std::string& slug,
              const std::string& owner) {
  core::UuidV7Generator ids(core::SystemClock::Instance());
  observe::Registry registry;
  auto product = OpenForAdmin(config_flag, ids, registry);
  if (!product) return kExitConfig;
  trellis::identity::app::CreateOrgInput input;
  input.name = name;
  input.slug = slug;
  auto org =
      trellis::platform::ports::RunSync(product->Identity().AdminCreateOrg({}, input, owner));
  if (!org) {
    std::cerr << "trellis: " << org.error().message;
    for (const auto& f : org.error().fields)
      std::cerr << " (" << f.pointer << ": " << f.detail << ")";
    std::cerr << "\n";
    return kExitRuntime;
  }
  std::cout << org->id << "\n";
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
  bool demo = false;
  serve->add_flag("--demo", demo, "Seed a demo org, user, projects, tasks and comments");

  auto* migrate = app.add_subcommand("migrate", "Apply the pending database migrations and exit");
  migrate->add_option("--config", config_flag, "YAML configuration file (or $TRELLIS_CONFIG)");

  auto* admin = app.add_subcommand("admin", "Administration for scripts");
  admin->require_subcommand(1);
  std::string email, name, password_file, slug, owner;
  auto* create_user = admin->add_subcommand(
      "create-user", "Create a user of the built-in issuer; prints the user id");
  create_user->add_option("--config", config_flag, "YAML configuration file");
  create_user->add_option("--email", email, "Email address")->required();
  create_user->add_option("--name", name, "Display name")->required();
  create_user
      ->add_option("--password-file", password_file,
                   "File whose first line is the password (never a flag: flags show in ps)")
      ->required();
  auto* create_org =
      admin->add_subcommand("create-org", "Create an org owned by a user; prints the org id");
  create_org->add_option("--config", config_flag, "YAML configuration file");
  create_org->add_option("--name", name, "Org name")->required();
  create_org->add_option("--slug", slug, "Org slug (3-40 of a-z, 0-9, -)")->required();
  create_org->add_option("--owner", owner, "The owner's user id")->required();

  auto* cfg = app.add_subcommand("config", "Inspect configuration");
  cfg->require_subcommand(1);
  auto* check = cfg->add_subcommand("check", "Print the effective configuration, secrets redacted");
  check->add_option("--config", config_flag, "YAML configuration file (or $TRELLIS_CONFIG)");
  auto* docs = cfg->add_subcommand("docs", "Print the configuration reference (Markdown)");

  auto* version = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  try {
    if (*serve) return Serve(config_flag, roles, demo);
    if (*migrate) return Migrate(config_flag);
    if (*create_user) return CreateUser(config_flag, email, name, password_file);
    if (*create_org) return CreateOrg(config_flag, name, slug, owner);
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
