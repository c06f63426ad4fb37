// The HTTP/1.1 server: one event loop per thread, each with its own SO_REUSEPORT acceptor.
//
//   Server server(settings, router, chain, registry, clock, ids);
//   if (auto started = server.Start(); !started) { /* log started.error() */ }
//   ...                     // on SIGTERM:
//   server.Shutdown();      // drain: /readyz 503, stop accepting, finish in-flight, close SSE
//   server.Wait();          // returns when every loop has stopped
//
// Every limit is a field of ServerSettings; the composition root fills it from config.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/middleware.hpp"
#include "platform/http/request_reader.hpp"
#include "platform/http/router.hpp"
#include "platform/observe/metrics.hpp"

namespace trellis::platform::http {

struct ServerSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
  int threads = 0;  // 0: one per core
  bool reuse_port = true;
  int listen_backlog = 4096;
  ParseLimits limits;
  std::chrono::milliseconds request_timeout{10'000};   // whole request must arrive within
  std::chrono::milliseconds idle_timeout{60'000};      // keep-alive connection with no request
  std::chrono::milliseconds write_timeout{10'000};     // a response write must finish within
  std::chrono::milliseconds request_deadline{30'000};  // budget for handling one request
  std::size_t max_connections = 10'000;                // per process
  int overload_retry_after_seconds = 1;
  std::chrono::milliseconds sse_heartbeat{15'000};
  std::size_t sse_max_buffer_bytes = 256 * 1024;
  std::chrono::milliseconds drain_delay{0};  // keep accepting this long after SIGTERM
  std::chrono::milliseconds shutdown_timeout{25'000};
  bool access_log = true;
  // glibc's M_TRIM_THRESHOLD, set once by Start(); 0 leaves the allocator's own (dynamic)
  // default. By default, freeing a few 27 KB response buffers at the top of a loop thread's
  // arena gives the pages back (madvise), and the next request faults them in again: ~5 page
  // faults per cached task-list request, a quarter of the server's CPU (ADR 0027). Keeping up
  // to this much free memory at an arena's top costs at most that much RSS per arena.
  std::size_t allocator_trim_threshold = std::size_t{64} << 20;
};

class Server {
 public:
  Server(ServerSettings settings, const Router& router, MiddlewareChain chain,
         observe::Registry& registry, const core::Clock& clock, core::IdGenerator& ids);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every loop's acceptor and starts the loop threads.
  [[nodiscard]] core::Result<void> Start();
  // The bound port (useful with port 0).
  [[nodiscard]] std::uint16_t Port() const;
  // Begins a graceful shutdown. Thread-safe and idempotent; returns at once.
  void Shutdown();
  // Blocks until every loop has stopped.
  void Wait();
  [[nodiscard]] bool Draining() const;
  [[nodiscard]] std::size_t OpenConnections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis::platform::http
