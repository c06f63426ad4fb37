// One libpq connection driven asynchronously on the calling coroutine's executor (private to the
// PostgreSQL adapter: the only header that includes libpq-fe.h, and only adapters/postgres/*.cpp
// include it).
//
// The socket is non-blocking and stays in pipeline mode: every round trip queues statements
// (prepared once per connection and cached), a Sync, then reads each result. Waiting is done by
// Asio on a stream_descriptor bound to the lease's executor (Bind/Unbind), so no thread waits
// for the server; a timer at the deadline cancels the wait.
//
//   auto conn = co_await PgConnection::Connect(spec, clock, deadline);
//   (*conn)->Bind(executor, deadline);
//   auto results = co_await (*conn)->Pipeline(statements);
//   (*conn)->Unbind();
#pragma once

#include <libpq-fe.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::adapters::postgres::internal {

using MonoTime = platform::core::Clock::MonoTime;

// What a connection is made with. Never logged: it may hold a password.
struct ConnectSpec {
  std::string conninfo;  // keyword/value or URI; may list several hosts
  std::string user;      // empty: from conninfo
  std::string password;  // empty: from conninfo (or ~/.pgpass)
  std::string search_path;
  std::string application_name = "trellis";
  std::size_t statement_cache = 256;
};

// One statement of a round trip; both pointers must outlive the call.
struct Statement {
  std::string_view sql;
  const platform::ports::SqlParams* params = nullptr;  // none when null
};

// Canonical error for a failed result (SQLSTATE mapping); the driver's words only in internal.
[[nodiscard]] platform::core::Error MapResultError(const PGresult* result, std::string_view sql);

class PgConnection {
 public:
  // Non-blocking connect (PQconnectStartParams + PQconnectPoll) awaited on the caller's
  // executor; ends at the deadline (kDeadlineExceeded) or on failure (kUnavailable).
  [[nodiscard]] static boost::asio::awaitable<platform::core::Result<std::unique_ptr<PgConnection>>>
  Connect(const ConnectSpec& spec, const platform::core::Clock& clock, MonoTime deadline);

  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Attaches the socket to `executor` (the lease's event loop) with waits ending at deadline.
  // Unbind detaches it (before the connection goes back to a pool shared by other loops, whose
  // io_contexts may end before it is used again).
  void Bind(const boost::asio::any_io_executor& executor, MonoTime deadline);
  void Unbind();
  // Moves the deadline of later waits (COMMIT and ROLLBACK get a grace of their own).
  void SetDeadline(MonoTime deadline);

  // Runs the statements in one round trip (pipeline + Sync); a result per statement. The first
  // failure is returned; the rest of the pipeline is skipped by the server.
  [[nodiscard]] boost::asio::awaitable<
      platform::core::Result<std::vector<platform::ports::SqlResult>>>
  Pipeline(std::span<const Statement> statements);
  // Several statements without parameters through the simple query protocol (scripts).
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> Simple(const std::string& sql);

  // The connection cannot be used again (socket error, interrupted at a deadline, protocol).
  [[nodiscard]] bool Broken() const;
  // An idle connection whose socket has something to read, or is shut: the server closed it
  // (restart, idle_session_timeout, pg_terminate_backend). One poll(), no round trip.
  [[nodiscard]] bool PeerClosed() const;
  // Interrupted while the server ran a statement: the statement must be cancelled.
  [[nodiscard]] bool NeedsCancel() const { return needs_cancel_; }
  // Hands over the cancel key (for PQcancel on another thread); null when none.
  [[nodiscard]] PGcancel* TakeCancel();
  [[nodiscard]] PGTransactionStatusType TransactionStatus() const;
  [[nodiscard]] int ServerProcessId() const;
  // Prepared statements cached on this connection (for tests and metrics).
  [[nodiscard]] std::size_t CachedStatements() const { return cached_; }
  [[nodiscard]] std::uint64_t Prepares() const { return prepares_; }

  // Bookkeeping for the pool.
  MonoTime created_at{};
  MonoTime last_used{};
  std::uint64_t credential_generation = 0;

 private:
  PgConnection(PGconn* conn, const platform::core::Clock& clock, std::size_t cache_limit);

  struct Io;
  enum class Ready { kOk, kDeadline, kError };
  boost::asio::awaitable<Ready> WaitFor(bool read, bool write);
  boost::asio::awaitable<platform::core::Result<void>> Flush();
  boost::asio::awaitable<platform::core::Result<PGresult*>> NextResult();
  platform::core::Error ConnectionError(std::string_view what);
  platform::core::Error DeadlineError(std::string_view what);
  // Queues the parameters of one statement: type oids (for the prepare) or values.
  void EncodeParams(const platform::ports::SqlParams& params);
  // The cached statement for sql with the signature in sig_, or null.
  const std::string* Cached(std::string_view sql) const;

  PGconn* conn_;
  const platform::core::Clock& clock_;
  std::size_t cache_limit_;
  std::shared_ptr<Io> io_;
  PGcancel* cancel_ = nullptr;
  bool broken_ = false;
  bool needs_cancel_ = false;
  std::uint64_t next_statement_ = 0;
  std::uint64_t prepares_ = 0;
  // SQL → (parameter type signature, server-side statement name); lookups by string_view.
  struct CacheEntry {
    std::string signature;
    std::string name;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<CacheEntry>, Hash, std::equal_to<>> cache_;
  std::size_t cached_ = 0;  // entries over all of cache_
  std::string sig_;         // signature of the statement being queued
  // Scratch reused by every statement (no allocations per parameter on the hot path).
  std::vector<Oid> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::vector<std::string> text_;
};

// The first keyword of a statement, upper-cased (comments and blanks skipped).
[[nodiscard]] std::string FirstKeyword(std::string_view sql);
// Whether a caller's statement would end or nest the store's transaction, or drop the session's
// prepared statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, DISCARD, DEALLOCATE …).
[[nodiscard]] bool IsTransactionControl(std::string_view sql);

// The client message of a serialization failure or deadlock (SQLSTATE 40001, 40P01): kAborted,
// and the store runs a write transaction's body again on it.
inline constexpr std::string_view kSerializationFailure = "concurrent update, try again";
[[nodiscard]] bool IsSerializationFailure(const platform::core::Error& error);
// Splits a script into statements at top-level semicolons (quotes, dollar quotes and comments
// respected).
[[nodiscard]] std::vector<std::string_view> SplitStatements(std::string_view script);

}  // namespace trellis::adapters::postgres::internal
