#include "adapters/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace trellis::adapters::sqlite {

namespace asio = boost::asio;
namespace core = platform::core;
namespace ports = platform::ports;
using core::ErrorCode;
using core::Result;
using MonoTime = core::Clock::MonoTime;

namespace {

// SQLite calls the progress handler every this many virtual-machine instructions; a clock
// read each time costs well under 1% and bounds how late a deadline is noticed to ~µs.
constexpr int kProgressInstructions = 1000;

// One connection with its statement cache. A transaction leases it whole (ConnectionQueue);
// mu serializes the blocking calls made on the pool for that transaction.
struct Connection {
  sqlite3* db = nullptr;
  const core::Clock* clock = nullptr;
  std::mutex mu;
  // Both guarded by mu (and set only by the transaction leasing the connection).
  MonoTime deadline = MonoTime::max();
  bool allow_transaction_control = false;  // only the store's own BEGIN/COMMIT/ROLLBACK
  std::unordered_map<std::string, sqlite3_stmt*> cache;
  // The store's own BEGIN/COMMIT/ROLLBACK, prepared once: parsing them anew was a visible share
  // of a short read transaction. Apart from `cache`, so callers' SQL can never reach them.
  std::unordered_map<std::string, sqlite3_stmt*> control;

  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (auto& [sql, stmt] : cache) sqlite3_finalize(stmt);
    for (auto& [sql, stmt] : control) sqlite3_finalize(stmt);
    sqlite3_close_v2(db);
  }
  void DropCache() {
    for (auto& [sql, stmt] : cache) sqlite3_finalize(stmt);
    cache.clear();
  }
};

int OnProgress(void* arg) {
  const auto* conn = static_cast<const Connection*>(arg);
  return conn->clock->Monotonic() >= conn->deadline ? 1 : 0;
}

// Callers' SQL may not BEGIN, COMMIT or ROLLBACK: a COMMIT in a migration script would commit
// half a migration without its history row. Refused when the statement is prepared.
int OnAuthorize(void* arg, int action, const char* /*a*/, const char* /*b*/, const char* /*c*/,
                const char* /*d*/) {
  const auto* conn = static_cast<const Connection*>(arg);
  return action == SQLITE_TRANSACTION && !conn->allow_transaction_control ? SQLITE_DENY : SQLITE_OK;
}

// Canonical code for a SQLite result code; the driver's words go to Error::internal only.
core::Error MapError(sqlite3* db, int rc, std::string_view sql) {
  std::string detail = "sqlite: ";
  detail += sqlite3_errstr(rc);
  if (db != nullptr) {
    detail += ": ";
    detail += sqlite3_errmsg(db);
  }
  detail += " [";
  detail += sql;
  detail += "]";
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
          rc == SQLITE_CONSTRAINT_ROWID) {
        return {ErrorCode::kAlreadyExists, "already exists", std::move(detail)};
      }
      // CHECK, NOT NULL and foreign keys: the use cases validate before they write, so one of
      // these is a bug, not a client's stale precondition (which kFailedPrecondition/412 means).
      return {ErrorCode::kInternal, "a data constraint was violated", std::move(detail)};
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return {ErrorCode::kUnavailable, "database busy", std::move(detail)};
    case SQLITE_INTERRUPT:
      return {ErrorCode::kDeadlineExceeded, "deadline exceeded", std::move(detail)};
    case SQLITE_READONLY:
      return {ErrorCode::kFailedPrecondition, "read-only transaction cannot write",
              std::move(detail)};
    default: return {ErrorCode::kInternal, "database error", std::move(detail)};
  }
}

Result<void> Exec(Connection& conn, const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(conn.db, sql.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // the same text is in sqlite3_errmsg, which MapError reads
  if (rc != SQLITE_OK) return std::unexpected(MapError(conn.db, rc, sql));
  return {};
}

// The store's own transaction control, let through the authorizer.
Result<void> ExecControl(Connection& conn, const std::string& sql) {
  // Allowed through the authorizer for the step too: SQLite re-prepares after a schema change.
  conn.allow_transaction_control = true;
  auto done = [&]() -> Result<void> {
    sqlite3_stmt*& stmt = conn.control[sql];
    if (stmt == nullptr) {
      const int rc = sqlite3_prepare_v3(conn.db, sql.data(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        stmt = nullptr;
        return std::unexpected(MapError(conn.db, rc, sql));
      }
    }
    const int rc = sqlite3_step(stmt);
    Result<void> result;
    if (rc != SQLITE_DONE) result = std::unexpected(MapError(conn.db, rc, sql));
    sqlite3_reset(stmt);
    return result;
  }();
  conn.allow_transaction_control = false;
  return done;
}

bool OnlyWhitespace(const char* p) {
  for (; *p != '\0'; ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != ';') return false;
  }
  return true;
}

Result<void> Bind(sqlite3_stmt* stmt, const ports::SqlParams& params, std::string_view sql) {
  const int count = sqlite3_bind_parameter_count(stmt);
  if (count != static_cast<int>(params.size())) {
    return core::Fail(ErrorCode::kInternal, "database error",
                      "sqlite: statement has " + std::to_string(count) + " placeholders, " +
                          std::to_string(params.size()) + " parameters given [" + std::string(sql) +
                          "]");
  }
  for (std::size_t k = 0; k < params.size(); ++k) {
    const std::string name = "$" + std::to_string(k + 1);
    const int index = sqlite3_bind_parameter_index(stmt, name.c_str());
    if (index == 0) {
      return core::Fail(ErrorCode::kInternal, "database error",
                        "sqlite: no placeholder " + name + " [" + std::string(sql) + "]");
    }
    const auto& value = params[k];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::monostate>(value)) {
      rc = sqlite3_bind_null(stmt, index);
    } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
      rc = sqlite3_bind_int64(stmt, index, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      rc = sqlite3_bind_double(stmt, index, *d);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    } else {
      const auto& b = std::get<ports::Blob>(value).bytes;
      // A null pointer would bind NULL, not an empty blob.
      rc = b.empty() ? sqlite3_bind_zeroblob(stmt, index, 0)
                     : sqlite3_bind_blob64(stmt, index, b.data(), b.size(), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return std::unexpected(MapError(sqlite3_db_handle(stmt), rc, sql));
  }
  return {};
}

ports::SqlValue Column(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER: return std::int64_t{sqlite3_column_int64(stmt, i)};
    case SQLITE_FLOAT: return sqlite3_column_double(stmt, i);
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, i));
      const auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt, i));
      return ports::Blob{p == nullptr ? std::vector<std::uint8_t>() : std::vector(p, p + n)};
    }
    default: return std::monostate{};
  }
}

// Resets a cached statement when a run ends, however it ends.
struct StatementReset {
  sqlite3_stmt* stmt;
  explicit StatementReset(sqlite3_stmt* s) : stmt(s) {}
  StatementReset(const StatementReset&) = delete;
  StatementReset& operator=(const StatementReset&) = delete;
  ~StatementReset() {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }
};

// SQLite ends a transaction by itself after some errors (an interrupted write, a full disk);
// running on would commit statement by statement.
std::unexpected<core::Error> NoTransaction(std::string_view sql) {
  return core::Fail(ErrorCode::kAborted, "transaction aborted",
                    "sqlite: the transaction has ended [" + std::string(sql) + "]");
}

Result<ports::SqlResult> RunStatement(Connection& conn, const std::string& sql,
                                      const ports::SqlParams& params, bool read_only,
                                      std::size_t cache_limit) {
  const std::lock_guard lock(conn.mu);
  if (conn.clock->Monotonic() >= conn.deadline) {
    return core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                      "sqlite: deadline passed before the statement [" + sql + "]");
  }
  if (sqlite3_get_autocommit(conn.db) != 0) return NoTransaction(sql);
  sqlite3_stmt* stmt = nullptr;
  if (auto it = conn.cache.find(sql); it != conn.cache.end()) {
    stmt = it->second;
  } else {
    if (conn.cache.size() >= cache_limit) conn.DropCache();
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v3(conn.db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) return std::unexpected(MapError(conn.db, rc, sql));
    if (stmt == nullptr || (tail != nullptr && !OnlyWhitespace(tail))) {
      sqlite3_finalize(stmt);
      return core::Fail(ErrorCode::kInternal, "database error",
                        "sqlite: Execute takes exactly one statement [" + sql + "]");
    }
    conn.cache.emplace(sql, stmt);
  }
  const StatementReset reset{stmt};
  if (read_only && sqlite3_stmt_readonly(stmt) == 0) {
    return core::Fail(ErrorCode::kFailedPrecondition, "read-only transaction cannot write",
                      "sqlite: write in a read-only transaction [" + sql + "]");
  }
  if (auto bound = Bind(stmt, params, sql); !bound) return std::unexpected(bound.error());

  ports::SqlResult result;
  std::shared_ptr<const std::vector<std::string>> columns;
  const int width = sqlite3_column_count(stmt);
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (!columns) {
      std::vector<std::string> names;
      names.reserve(static_cast<std::size_t>(width));
      for (int i = 0; i < width; ++i) names.emplace_back(sqlite3_column_name(stmt, i));
      columns = std::make_shared<const std::vector<std::string>>(std::move(names));
    }
    std::vector<ports::SqlValue> values;
    values.reserve(static_cast<std::size_t>(width));
    for (int i = 0; i < width; ++i) values.push_back(Column(stmt, i));
    result.rows.emplace_back(columns, std::move(values));
  }
  if (rc != SQLITE_DONE) return std::unexpected(MapError(conn.db, rc, sql));
  if (width == 0 && sqlite3_stmt_readonly(stmt) == 0) {
    result.rows_affected = sqlite3_changes64(conn.db);
  }
  return result;
}

Result<void> RunScript(Connection& conn, const std::string& sql) {
  const std::lock_guard lock(conn.mu);
  if (conn.clock->Monotonic() >= conn.deadline) {
    return core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                      "sqlite: deadline passed before the script");
  }
  if (sqlite3_get_autocommit(conn.db) != 0) return NoTransaction(sql);
  auto ran = Exec(conn, sql);
  // A script must not end the transaction it runs in (a COMMIT or ROLLBACK in a migration).
  if (ran && sqlite3_get_autocommit(conn.db) != 0) return NoTransaction(sql);
  return ran;
}

Result<void> Begin(Connection& conn, bool read_only, std::chrono::milliseconds busy_timeout) {
  const std::lock_guard lock(conn.mu);
  // Lock waits stop at the deadline too.
  auto wait = busy_timeout;
  if (conn.deadline != MonoTime::max()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        conn.deadline - conn.clock->Monotonic());
    wait = std::clamp(left, std::chrono::milliseconds(1), busy_timeout);
  }
  sqlite3_busy_timeout(conn.db, static_cast<int>(wait.count()));
  // IMMEDIATE takes the write lock now, so a writer never fails halfway on a lock upgrade.
  return ExecControl(conn, read_only ? "BEGIN" : "BEGIN IMMEDIATE");
}

void Rollback(Connection& conn) {
  const std::lock_guard lock(conn.mu);
  conn.deadline = MonoTime::max();  // a rollback must not be interrupted
  // SQLite rolls back by itself after some errors (an interrupt, a full disk).
  if (sqlite3_get_autocommit(conn.db) == 0) (void)ExecControl(conn, "ROLLBACK");
}

Result<void> Commit(Connection& conn) {
  std::unique_lock lock(conn.mu);
  conn.deadline = MonoTime::max();  // the work is done; finishing it beats a late error
  auto committed = ExecControl(conn, "COMMIT");
  lock.unlock();
  if (!committed) Rollback(conn);
  return committed;
}

Result<std::unique_ptr<Connection>> OpenConnection(const Settings& settings, bool reader,
                                                   const core::Clock& clock) {
  auto conn = std::make_unique<Connection>();
  conn->clock = &clock;
  // NOMUTEX: a connection is used by one transaction at a time, and Connection::mu
  // serializes its calls.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(settings.path.c_str(), &conn->db, flags, nullptr);
  if (rc != SQLITE_OK) {
    auto error = MapError(conn->db, rc, "open " + settings.path.string());
    return core::Fail(ErrorCode::kUnavailable, "database unavailable", std::move(error.internal));
  }
  sqlite3_extended_result_codes(conn->db, 1);
  sqlite3_busy_timeout(conn->db, static_cast<int>(settings.busy_timeout.count()));
  // The writer opens first and turns WAL on (it persists in the file); readers then only
  // need their own per-connection settings.
  std::string pragmas = "PRAGMA foreign_keys=ON;";
  pragmas +=
      reader ? "PRAGMA query_only=ON;" : "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;";
  if (auto set = Exec(*conn, pragmas); !set) {
    return core::Fail(ErrorCode::kUnavailable, "database unavailable", set.error().internal);
  }
  sqlite3_progress_handler(conn->db, kProgressInstructions, OnProgress, conn.get());
  sqlite3_set_authorizer(conn->db, OnAuthorize, conn.get());
  return conn;
}

// Hands out connections to transactions. A waiter parks on a timer of its own executor that
// expires at its deadline; Release grants a connection and cancels the timer through that
// executor (timers are not thread-safe). Callers run on a single-threaded io_context or a
// strand, as every Trellis event loop does.
class ConnectionQueue {
 public:
  void Add(Connection* conn) { free_.push_back(conn); }

  // nullptr when the deadline passes first.
  asio::awaitable<Connection*> Acquire(const core::Clock& clock, MonoTime deadline) {
    const auto executor = co_await asio::this_coro::executor;
    std::shared_ptr<Waiter> waiter;
    {
      const std::lock_guard lock(mu_);
      if (!free_.empty()) {
        Connection* conn = free_.back();
        free_.pop_back();
        co_return conn;
      }
      waiter = std::make_shared<Waiter>(executor);
      if (deadline == MonoTime::max()) {
        waiter->timer.expires_at(asio::steady_timer::time_point::max());
      } else {
        waiter->timer.expires_after(deadline - clock.Monotonic());
      }
      waiters_.push_back(waiter);
    }
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    const std::lock_guard lock(mu_);
    if (waiter->granted != nullptr) co_return waiter->granted;
    std::erase(waiters_, waiter);
    co_return nullptr;
  }

  void Release(Connection* conn) {
    std::shared_ptr<Waiter> next;
    {
      const std::lock_guard lock(mu_);
      if (waiters_.empty()) {
        free_.push_back(conn);
        return;
      }
      next = std::move(waiters_.front());
      waiters_.pop_front();
      next->granted = conn;
    }
    // Moved, not copied: the waiter (and its timer) must die on its own executor, never here
    // on the releasing thread, whose caller's io_context may be gone by then.
    auto executor = next->timer.get_executor();
    asio::post(executor, [next = std::move(next)] { next->timer.cancel(); });
  }

 private:
  struct Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    Connection* granted = nullptr;  // guarded by ConnectionQueue::mu_
  };
  std::mutex mu_;
  std::vector<Connection*> free_;                // guarded by mu_
  std::deque<std::shared_ptr<Waiter>> waiters_;  // guarded by mu_
};

class Lease {
 public:
  Lease(ConnectionQueue& queue, Connection* conn) : queue_(queue), conn_(conn) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { queue_.Release(conn_); }

 private:
  ConnectionQueue& queue_;
  Connection* conn_;
};

}  // namespace

class SqliteStore::Impl {
 public:
  Impl(Settings settings, const core::Clock& clock, platform::observe::Registry& metrics)
      : settings_(std::move(settings)),
        clock_(clock),
        transactions_(metrics.AddCounter("trellis_sql_transactions_total",
                                         "SQL transactions started.", Labels())),
        statements_(metrics.AddCounter("trellis_sql_statements_total", "SQL statements executed.",
                                       Labels())),
        errors_(metrics.AddCounter("trellis_sql_errors_total",
                                   "SQL transactions and statements that failed.", Labels())),
        statement_seconds_(metrics.AddHistogram("trellis_sql_statement_seconds",
                                                "SQL statement latency, queueing included.",
                                                Labels(), platform::observe::LatencyBuckets())),
        pool_(settings_.readers + 1) {}

  ~Impl() { pool_.join(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Result<void> Connect() {
    auto writer = OpenConnection(settings_, false, clock_);
    if (!writer) return std::unexpected(writer.error());
    writer_ = std::move(*writer);
    writers_.Add(writer_.get());
    for (std::size_t i = 0; i < settings_.readers; ++i) {
      auto reader = OpenConnection(settings_, true, clock_);
      if (!reader) return std::unexpected(reader.error());
      readers_.push_back(std::move(*reader));
      reader_queue_.Add(readers_.back().get());
    }
    return {};
  }

  // Runs blocking work on the pool and resumes the caller on its own executor. co_spawn does
  // both hops; `co_await post(pool_, use_awaitable)` would not, since a completion handler is
  // always invoked through the awaiting coroutine's executor.
  template <typename F>
  asio::awaitable<std::invoke_result_t<F&>> OnPool(F f) {
    using R = std::invoke_result_t<F&>;
    co_return co_await asio::co_spawn(
        pool_, [f = std::move(f)]() mutable -> asio::awaitable<R> { co_return f(); },
        asio::use_awaitable);
  }

  // OnPool, or right here when `here` (a read-only transaction with settings().inline_reads).
  template <typename F>
  asio::awaitable<std::invoke_result_t<F&>> Run(bool here, F f) {
    if (here) co_return f();
    co_return co_await OnPool(std::move(f));
  }

  asio::awaitable<Result<void>> Transact(ports::TransactionOptions options,
                                         ports::TransactionBody body);

  const Settings& settings() const { return settings_; }
  const core::Clock& clock() const { return clock_; }
  void CountStatement(bool ok, MonoTime started) {
    statement_seconds_.Observe(std::chrono::duration<double>(clock_.Monotonic() - started).count());
    statements_.Inc();
    if (!ok) errors_.Inc();
  }

 private:
  platform::observe::Labels Labels() const {
    return {{"engine", "sqlite"}, {"db", settings_.name}};
  }

  Settings settings_;
  const core::Clock& clock_;
  platform::observe::Counter& transactions_;
  platform::observe::Counter& statements_;
  platform::observe::Counter& errors_;
  platform::observe::Histogram& statement_seconds_;
  // Connections outlive the pool (declared first, destroyed last).
  std::unique_ptr<Connection> writer_;
  std::vector<std::unique_ptr<Connection>> readers_;
  ConnectionQueue writers_;
  ConnectionQueue reader_queue_;
  asio::thread_pool pool_;
};

namespace {

class Transaction final : public ports::SqlTransaction {
 public:
  Transaction(SqliteStore::Impl& store, Connection& conn, const ports::TransactionOptions& options)
      : store_(store), conn_(conn), options_(options) {}

  // SqlTransaction
  asio::awaitable<Result<ports::SqlResult>> Execute(std::string sql,
                                                    ports::SqlParams params) override {
    if (failed_) co_return Poisoned();
    const MonoTime started = store_.clock().Monotonic();
    const std::size_t limit = store_.settings().statement_cache;
    const bool read_only = options_.read_only;
    auto result = co_await store_.Run(read_only && store_.settings().inline_reads,
                                      [this, &sql, &params, read_only, limit] {
                                        return RunStatement(conn_, sql, params, read_only, limit);
                                      });
    Record(result, started);
    co_return result;
  }
  asio::awaitable<Result<void>> ExecuteScript(std::string sql) override {
    if (failed_) co_return Poisoned();
    const MonoTime started = store_.clock().Monotonic();
    auto result = co_await store_.Run(options_.read_only && store_.settings().inline_reads,
                                      [this, &sql] { return RunScript(conn_, sql); });
    Record(result, started);
    co_return result;
  }
  const ports::TransactionOptions& Options() const override { return options_; }
  ports::SqlDialect Dialect() const override { return ports::SqlDialect::kSqlite; }

  // The first statement error, which dooms the transaction (as in PostgreSQL).
  [[nodiscard]] const std::optional<core::Error>& Failed() const { return failed_; }

 private:
  template <typename T>
  void Record(const Result<T>& result, MonoTime started) {
    store_.CountStatement(result.has_value(), started);
    if (!result && !failed_) failed_ = result.error();
  }
  std::unexpected<core::Error> Poisoned() const {
    return core::Fail(ErrorCode::kAborted, "transaction aborted",
                      "sqlite: an earlier statement failed: " + failed_->internal);
  }

  SqliteStore::Impl& store_;
  Connection& conn_;
  const ports::TransactionOptions& options_;
  std::optional<core::Error> failed_;
};

}  // namespace

asio::awaitable<Result<void>> SqliteStore::Impl::Transact(ports::TransactionOptions options,
                                                          ports::TransactionBody body) {
  transactions_.Inc();
  if (clock_.Monotonic() >= options.deadline) {
    errors_.Inc();
    co_return core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                         "sqlite: deadline passed before the transaction started");
  }
  ConnectionQueue& queue = options.read_only ? reader_queue_ : writers_;
  Connection* conn = co_await queue.Acquire(clock_, options.deadline);
  if (conn == nullptr) {
    errors_.Inc();
    co_return core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                         "sqlite: deadline passed waiting for a connection");
  }
  const Lease lease(queue, conn);
  {
    const std::lock_guard lock(conn->mu);
    conn->deadline = options.deadline;
  }
  const auto busy = settings_.busy_timeout;
  const bool read_only = options.read_only;
  const bool here = read_only && settings_.inline_reads;
  auto begun =
      co_await Run(here, [conn, read_only, busy] { return Begin(*conn, read_only, busy); });
  if (!begun) {
    errors_.Inc();
    co_return begun;
  }

  Transaction tx(*this, *conn, options);
  Result<void> outcome;
  std::exception_ptr thrown;
  try {
    outcome = co_await body(tx);
  } catch (...) {
    thrown = std::current_exception();
  }
  // A failed statement dooms the transaction even when body carried on and succeeded.
  if (!thrown && outcome && tx.Failed()) outcome = std::unexpected(*tx.Failed());
  if (thrown || !outcome) {
    errors_.Inc();
    co_await Run(here, [conn] {
      Rollback(*conn);
      return true;
    });
    if (thrown) std::rethrow_exception(thrown);
    co_return outcome;
  }
  auto committed = co_await Run(here, [conn] { return Commit(*conn); });
  if (!committed) errors_.Inc();
  co_return committed;
}

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(Settings settings, const core::Clock& clock,
                                                       platform::observe::Registry& metrics) {
  if (settings.readers == 0) {
    return core::Fail(ErrorCode::kInvalidArgument, "sqlite: readers must be at least 1");
  }
  auto impl = std::make_unique<Impl>(std::move(settings), clock, metrics);
  if (auto connected = impl->Connect(); !connected) return std::unexpected(connected.error());
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

asio::awaitable<Result<void>> SqliteStore::Transact(ports::TransactionOptions options,
                                                    ports::TransactionBody body) {
  co_return co_await impl_->Transact(std::move(options), std::move(body));
}

}  // namespace trellis::adapters::sqlite
