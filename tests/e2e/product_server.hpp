// The whole product behind a real HTTP server on loopback, for the end-to-end and interop
// tests: every context's database under a temp data_dir, the built-in issuer, the gateway's
// middleware, the server's threads. Each test tunes the settings before the product opens.
//
//   ProductServer server([](cmd::ProductSettings& s) { s.external_issuers = {url}; });
//   ApiClient api(server.Port());
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "cmd/trellis/product.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/server.hpp"
#include "platform/observe/metrics.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::tests::e2e {

// A loopback port free at the time of asking.
inline std::uint16_t FreePort() {
  boost::asio::io_context ctx;
  boost::asio::ip::tcp::acceptor a(ctx, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

class ProductServer {
 public:
  using Tune = std::function<void(cmd::ProductSettings&)>;

  // data_dir and issuer_url are set first (the issuer is this server); tune sees them and may
  // change anything. Throws std::runtime_error when the product or the server cannot start.
  explicit ProductServer(const Tune& tune = {}) : port_(FreePort()), ids_(clock_) {
    cmd::ProductSettings s;
    s.data_dir = dir_.Path() / "data";
    s.issuer_url = "http://127.0.0.1:" + std::to_string(port_);
    if (tune) tune(s);
    auto product = cmd::Product::Open(s, clock_, ids_, registry_);
    if (!product) throw std::runtime_error(product.error().message + product.error().internal);
    product_ = std::move(*product);
    product_->AddRoutes(router_);
    platform::http::MiddlewareChain chain;
    product_->AddMiddleware(chain);
    platform::http::ServerSettings settings;
    settings.port = port_;
    settings.threads = 2;
    settings.access_log = false;
    server_ = std::make_unique<platform::http::Server>(settings, router_, std::move(chain),
                                                       registry_, clock_, ids_);
    if (auto ok = server_->Start(); !ok) throw std::runtime_error(ok.error().internal);
    product_->Start();
  }
  ~ProductServer() {
    server_->Shutdown();
    server_->Wait();
    product_->Stop();
  }
  ProductServer(const ProductServer&) = delete;
  ProductServer& operator=(const ProductServer&) = delete;

  [[nodiscard]] cmd::Product& Product() { return *product_; }
  [[nodiscard]] const platform::http::Router& Router() const { return router_; }
  [[nodiscard]] std::uint16_t Port() const { return port_; }
  [[nodiscard]] platform::core::UuidV7Generator& Ids() { return ids_; }
  [[nodiscard]] platform::observe::Registry& Registry() { return registry_; }

 private:
  support::TempDir dir_;
  std::uint16_t port_;
  platform::core::SystemClock clock_;
  platform::core::UuidV7Generator ids_;
  platform::observe::Registry registry_;
  std::unique_ptr<cmd::Product> product_;  // after the server is down, before the dir goes
  platform::http::Router router_;
  std::unique_ptr<platform::http::Server> server_;
};

}  // namespace trellis::tests::e2e
