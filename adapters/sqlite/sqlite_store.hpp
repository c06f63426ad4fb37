// The embedded SQL store: the SqlStore port over one SQLite database file.
//
// One writer connection (write transactions are serialized, BEGIN IMMEDIATE) and a few reader
// connections (WAL lets them read while the writer writes), all driven by a private thread
// pool so that SQLite's blocking calls never run on an event loop.
//
//   auto store = SqliteStore::Open({.path = dir / "work.db"}, clock, registry);
//   co_await (*store)->Transact(TransactionOptions().ReadOnly(), body);
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::adapters::sqlite {

struct Settings {
  std::filesystem::path path;
  // Names the database in metrics (the bounded context: identity, work, audit).
  std::string name = "main";
  // Reader connections (and pool threads) besides the one writer.
  std::size_t readers = 2;
  // How long a statement waits for a lock another process holds; capped by the deadline.
  std::chrono::milliseconds busy_timeout{5000};
  // Prepared statements kept per connection; the cache is dropped when it is full.
  std::size_t statement_cache = 128;
  // Read-only transactions run on the caller's thread rather than the pool. A WAL reader never
  // waits for the writer, and an API read of a page of rows takes less time than the two
  // thread hops that would carry each of its statements (begin, every statement, commit); the
  // deadline still interrupts a long one. Off: reads go through the pool as writes do, so a
  // slow read never holds up the caller's event loop.
  bool inline_reads = true;
};

class SqliteStore final : public platform::ports::SqlStore {
 public:
  // Opens (creating if needed) the file, sets WAL and foreign keys, opens the connections.
  [[nodiscard]] static platform::core::Result<std::unique_ptr<SqliteStore>> Open(
      Settings settings, const platform::core::Clock& clock, platform::observe::Registry& metrics);
  // Every transaction must have finished: joins the pool, closes the connections.
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // SqlStore
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> Transact(
      platform::ports::TransactionOptions options, platform::ports::TransactionBody body) override;

  class Impl;

 private:
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis::adapters::sqlite
