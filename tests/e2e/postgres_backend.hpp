// The product's PostgreSQL, for the end-to-end suites that run on both engines: one real
// PostgreSQL 15 per test process (tests/support/postgres_cluster.hpp), and per backend a fresh
// database set up as an operator would (docs/postgres.md): deploy/postgres/bootstrap.sql as the
// superuser, each role's password in a file under a password directory, then `trellis
// migrate`'s code path as trellis_migrator. The product then serves as the context roles.
//
//   PostgresBackend pg;
//   ProductServer server([&](cmd::ProductSettings& s) { pg.Apply(s); });
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cmd/trellis/product.hpp"
#include "platform/core/clock.hpp"
#include "platform/observe/metrics.hpp"
#include "tests/support/postgres_cluster.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::tests::e2e {

class PostgresBackend {
 public:
  // The roles bootstrap.sql creates; the password of each is "<role>-e2e-password".
  static constexpr const char* kRoles[] = {"trellis_migrator", "trellis_identity", "trellis_work",
                                           "trellis_audit", "trellis_edge"};

  PostgresBackend() : database_(Cluster().CreateDatabase()) {
    std::vector<std::pair<std::string, std::string>> vars;
    for (const std::string role : kRoles) {
      const std::string password = role + "-e2e-password";
      vars.emplace_back(role.substr(std::string("trellis_").size()) + "_password", password);
      std::ofstream(dir_.Path() / role) << password << "\n";
    }
    Cluster().PsqlFile(std::string(TRELLIS_SOURCE_DIR) + "/deploy/postgres/bootstrap.sql",
                       database_, vars);
    cmd::ProductSettings settings;
    Apply(settings);
    platform::observe::Registry registry;
    auto migrated =
        cmd::Product::Migrate(settings, platform::core::SystemClock::Instance(), registry);
    if (!migrated) {
      throw std::runtime_error("trellis migrate: " + migrated.error().message + ": " +
                               migrated.error().internal);
    }
  }

  // Points the product at this database.
  void Apply(cmd::ProductSettings& s) const {
    s.engine = cmd::ProductSettings::Engine::kPostgres;
    s.postgres.primary =
        "host=127.0.0.1 port=" + std::to_string(Cluster().PrimaryPort()) + " dbname=" + database_;
    s.postgres.password_dir = dir_.Path();
  }

  [[nodiscard]] const std::string& Database() const { return database_; }

  // One cluster per test process, started on first use, stopped at exit.
  static support::PostgresCluster& Cluster() {
    static std::unique_ptr<support::PostgresCluster> cluster = support::PostgresCluster::Start();
    return *cluster;
  }

 private:
  support::TempDir dir_;
  std::string database_;
};

}  // namespace trellis::tests::e2e
