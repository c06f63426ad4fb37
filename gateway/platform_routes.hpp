// The gateway's own endpoints: liveness, readiness, metrics, the landing page and, when
// enabled, the fixed-size benchmark responses.
//
//   Health health;
//   AddPlatformRoutes(router, registry, health, {.metrics_token = secret});
//   ... on SIGTERM: health.SetDraining();  // /readyz answers 503 from now on
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "platform/core/config.hpp"
#include "platform/http/router.hpp"
#include "platform/observe/metrics.hpp"

namespace trellis::gateway {

// What /readyz reports: not draining, and every registered dependency check passing.
// A dependency's state for /readyz. Degraded: part of it is down but the node still serves
// (the PostgreSQL primary is gone and replicas answer reads): still ready, since taking every
// node out of the load balancer would turn read-only service into none.
enum class CheckState { kOk, kDegraded, kFailing };

class Health {
 public:
  void SetDraining() { draining_.store(true); }
  [[nodiscard]] bool Draining() const { return draining_.load(); }
  // Adds a named dependency check (database, cache, broker) for /readyz. Start-up only.
  void AddCheck(std::string name, std::function<bool()> check);
  void AddCheck(std::string name, std::function<CheckState()> check);
  // JSON body (status ready, degraded, not_ready or draining, and each check's state) and
  // whether the node is ready: not draining and no check failing.
  [[nodiscard]] std::pair<bool, std::string> Ready() const;

 private:
  std::atomic<bool> draining_{false};
  std::vector<std::pair<std::string, std::function<CheckState()>>> checks_;
};

struct PlatformRoutesSettings {
  bool bench_routes = false;
  // GET / answers the landing page. Off when the web app is served (gateway/static registers
  // "/" as its index.html).
  bool landing_page = true;
  // The landing page links to the built-in issuer's console (sign up / sign in).
  bool sign_in_link = false;
  // When set and non-empty, /metrics requires "Authorization: Bearer <token>".
  std::shared_ptr<platform::core::config::Secret> metrics_token;
};

void AddPlatformRoutes(platform::http::Router& router, platform::observe::Registry& registry,
                       const Health& health, const PlatformRoutesSettings& settings);

// The bodies /bench/plaintext and /bench/json answer with (the nginx peer serves the same).
[[nodiscard]] const std::string& BenchPlaintextBody();
[[nodiscard]] const std::string& BenchJsonBody();

}  // namespace trellis::gateway
