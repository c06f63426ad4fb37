// Runs one coroutine to completion on a private io_context and returns its value; rethrows
// its exception. For start-up, CLI commands and tests — never on an event-loop thread, which
// it would block.
//
//   auto report = RunSync(platform::store::Migrate(store, migrations, clock, {}));
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <utility>

namespace trellis::platform::ports {

template <typename T>
T RunSync(boost::asio::awaitable<T> task) {
  boost::asio::io_context ctx;
  std::exception_ptr thrown;
  std::optional<T> out;
  boost::asio::co_spawn(ctx, std::move(task), [&](std::exception_ptr e, T value) {
    thrown = e;
    if (!e) out.emplace(std::move(value));
  });
  ctx.run();
  if (thrown) std::rethrow_exception(thrown);
  return std::move(*out);
}

}  // namespace trellis::platform::ports
