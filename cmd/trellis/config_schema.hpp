// Every configuration key Trellis reads, with its type, default and description. The
// reference in docs/configuration.md is generated from this table (`trellis config docs`)
// and a test fails when the two differ.
//
//   const auto& schema = trellis::cmd::ConfigSchema();
//   auto config = Config::Load(schema, path, Environment::FromProcess());
#pragma once

#include <string>
#include <vector>

#include "platform/core/config.hpp"
#include "platform/http/server.hpp"

namespace trellis::cmd {

[[nodiscard]] const platform::core::config::Schema& ConfigSchema();

// The roles a process may take (--role / roles); "all" is every one of them.
[[nodiscard]] const std::vector<std::string>& KnownRoles();

// Plain settings for the HTTP server, read from a loaded config.
[[nodiscard]] platform::http::ServerSettings HttpSettings(const platform::core::config::Config& c);

}  // namespace trellis::cmd
