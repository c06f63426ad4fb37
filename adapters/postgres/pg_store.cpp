#include "adapters/postgres/pg_store.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <exception>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/postgres/internal/pg_connection.hpp"
#include "adapters/postgres/internal/pg_pool.hpp"
#include "adapters/postgres/internal/pg_router.hpp"

namespace trellis::adapters::postgres {

namespace asio = boost::asio;
namespace core = platform::core;
namespace ports = platform::ports;
namespace observe = platform::observe;
using core::ErrorCode;
using core::Result;
using internal::PgConnection;
using internal::PgPool;
using internal::Statement;
using MonoTime = core::Clock::MonoTime;

namespace {

// The store's own statements (prepared and cached like any other).
const std::string kBegin = "BEGIN";
// TransactionOptions::Serializable: use cases that read, check a rule and write on it. Under
// READ COMMITTED two of them could both pass the check; SERIALIZABLE makes one fail, and
// Transact runs its body again, as PostgreSQL's documentation prescribes.
const std::string kBeginSerializable = "BEGIN ISOLATION LEVEL SERIALIZABLE";
const std::string kBeginReadOnly = "BEGIN READ ONLY";
const std::string kCommit = "COMMIT";
const std::string kRollback = "ROLLBACK";
// Pipelined after a write's COMMIT on the same connection (ADR 0014): the insert position is an
// upper bound of the commit record's end, so a replica that has replayed it has the write.
const std::string kWritePosition =
    "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS lsn";
// The settings of every transaction; set_config(…, true) is transaction-local, so a pooled
// connection never carries one transaction's tenant into the next.
const std::string kSettings =
    "SELECT set_config('statement_timeout', $1, true), set_config('trellis.org_id', $2, true)";

// A setting's name reaches set_config as a parameter, but is still checked: only the trellis.*
// namespace, so callers cannot change server settings (role, search_path) through it.
bool ValidSettingName(std::string_view name) {
  if (name.size() <= 8 || name.substr(0, 8) != "trellis.") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

bool ValidSearchPath(std::string_view path) {
  return std::all_of(path.begin(), path.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ',' || c == ' ' || c == '$' || c == '"';
  });
}

class Lease {
 public:
  Lease(PgPool& pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { pool_.Release(std::move(conn_)); }
  PgConnection& operator*() const { return *conn_; }
  PgConnection* operator->() const { return conn_.get(); }

 private:
  PgPool& pool_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace

class PgStore::Impl {
 public:
  Impl(Settings settings, const core::Clock& clock, observe::Registry& metrics)
      : settings_(std::move(settings)),
        clock_(clock),
        transactions_(metrics.AddCounter("trellis_sql_transactions_total",
                                         "SQL transactions started.", Labels())),
        committed_(metrics.AddCounter("trellis_sql_transaction_outcomes_total",
                                      "SQL transactions by outcome.", Labels("committed"))),
        rolled_back_(metrics.AddCounter("trellis_sql_transaction_outcomes_total",
                                        "SQL transactions by outcome.", Labels("rolled_back"))),
        failed_(metrics.AddCounter("trellis_sql_transaction_outcomes_total",
                                   "SQL transactions by outcome.", Labels("failed"))),
        retries_(metrics.AddCounter("trellis_sql_transaction_retries_total",
                                    "Write transactions run again after a serialization failure "
                                    "or a deadlock.",
                                    Labels())),
        statements_(metrics.AddCounter("trellis_sql_statements_total", "SQL statements executed.",
                                       Labels())),
        errors_(metrics.AddCounter("trellis_sql_errors_total",
                                   "SQL transactions and statements that failed.", Labels())),
        round_trips_(metrics.AddCounter("trellis_sql_round_trips_total",
                                        "Round trips to the server (a pipeline counts once).",
                                        Labels())),
        prepares_(metrics.AddCounter("trellis_sql_prepares_total",
                                     "Statements prepared (statement cache misses).", Labels())),
        statement_seconds_(metrics.AddHistogram("trellis_sql_statement_seconds",
                                                "SQL statement latency, queueing included.",
                                                Labels(), observe::LatencyBuckets())) {
    internal::PoolMetrics pool_metrics;
    pool_metrics.connects =
        &metrics.AddCounter("trellis_sql_connects_total", "Database connections opened.", Labels());
    pool_metrics.connect_failures =
        &metrics.AddCounter("trellis_sql_connect_failures_total",
                            "Database connection attempts that failed.", Labels());
    pool_metrics.cancels = &metrics.AddCounter("trellis_sql_cancels_total",
                                               "Statements cancelled at their deadline.", Labels());
    pool_metrics.discarded =
        &metrics.AddCounter("trellis_sql_connections_closed_total",
                            "Pooled connections closed (broken, expired, rotated).", Labels());
    pool_metrics.acquire_seconds = &metrics.AddHistogram(
        "trellis_sql_pool_acquire_seconds", "Time to get a pooled connection, connecting included.",
        Labels(), observe::LatencyBuckets());
    auto gauges = pool_metrics.gauges;
    metrics.AddCallbackGauge("trellis_sql_pool_connections", "Open pooled connections.", Labels(),
                             [gauges] { return static_cast<double>(gauges->total.load()); });
    metrics.AddCallbackGauge("trellis_sql_pool_in_use", "Pooled connections in a transaction.",
                             Labels(),
                             [gauges] { return static_cast<double>(gauges->in_use.load()); });

    internal::PoolSettings pool;
    pool.spec.conninfo = settings_.conninfo;
    pool.spec.user = settings_.user;
    pool.spec.search_path = settings_.search_path;
    pool.spec.application_name = settings_.application_name;
    pool.spec.statement_cache = settings_.statement_cache;
    pool.password_file = settings_.password_file;
    pool.max_connections = settings_.max_connections;
    pool.min_idle = settings_.min_idle;
    pool.connect_timeout = settings_.connect_timeout;
    pool.health_check_idle = settings_.health_check_idle;
    pool.max_lifetime = settings_.max_lifetime;
    pool.idle_timeout = settings_.idle_timeout;
    pool.backoff_base = settings_.backoff_base;
    pool.backoff_cap = settings_.backoff_cap;
    // Replica pools: the same settings but their own conninfo; the counters are shared.
    internal::PoolSettings replica_pool = pool;
    internal::PoolMetrics replica_metrics = pool_metrics;
    pool_ = std::make_shared<PgPool>(std::move(pool), clock_, std::move(pool_metrics));
    if (!settings_.replica_conninfos.empty()) {
      std::vector<std::shared_ptr<PgPool>> replicas;
      for (const auto& conninfo : settings_.replica_conninfos) {
        replica_pool.spec.conninfo = conninfo;
        replica_metrics.gauges = std::make_shared<internal::PoolMetrics::Gauges>();
        replicas.push_back(std::make_shared<PgPool>(replica_pool, clock_, replica_metrics));
      }
      internal::RouterSettings routing;
      routing.name = settings_.name;
      routing.max_lag = settings_.max_replica_lag;
      routing.max_lag_bytes = settings_.max_replica_lag_bytes;
      routing.check_interval = settings_.replica_check_interval;
      routing.check_timeout = settings_.replica_check_timeout;
      router_ = std::make_shared<internal::ReplicaRouter>(std::move(routing), pool_,
                                                          std::move(replicas), clock_, metrics);
    }
  }

  // Runs the body; a serializable one again (up to kAttempts in all, within the deadline) when
  // PostgreSQL reports a serialization failure or a deadlock: such a body is pure database
  // work, so running it anew on a fresh snapshot is safe.
  asio::awaitable<Result<void>> Transact(ports::TransactionOptions options,
                                         ports::TransactionBody body) {
    static constexpr int kAttempts = 4;
    for (int attempt = 1;; ++attempt) {
      auto outcome = co_await TransactOnce(options, body);
      if (outcome || attempt == kAttempts || options.read_only || !options.serializable ||
          !internal::IsSerializationFailure(outcome.error()) ||
          clock_.Monotonic() >= options.deadline) {
        co_return outcome;
      }
      retries_.Inc();
    }
  }
  asio::awaitable<Result<void>> TransactOnce(const ports::TransactionOptions& options,
                                             const ports::TransactionBody& body);

  const std::shared_ptr<PgPool>& pool() const { return pool_; }
  // Null without replicas.
  const std::shared_ptr<internal::ReplicaRouter>& router() const { return router_; }
  const Settings& settings() const { return settings_; }
  const core::Clock& clock() const { return clock_; }

  // One round trip of n statements that prepared `prepared` of them.
  void CountStatements(std::size_t n, bool ok, MonoTime started, std::uint64_t prepared = 0) {
    round_trips_.Inc();
    if (prepared > 0) prepares_.Inc(prepared);
    statement_seconds_.Observe(std::chrono::duration<double>(clock_.Monotonic() - started).count());
    statements_.Inc(n);
    if (!ok) errors_.Inc();
  }

 private:
  observe::Labels Labels(const char* outcome = nullptr) const {
    observe::Labels labels{{"engine", "postgres"}, {"db", settings_.name}};
    if (outcome != nullptr) labels.emplace_back("outcome", outcome);
    return labels;
  }

  Settings settings_;
  const core::Clock& clock_;
  observe::Counter& transactions_;
  observe::Counter& committed_;
  observe::Counter& rolled_back_;
  observe::Counter& failed_;
  observe::Counter& retries_;
  observe::Counter& statements_;
  observe::Counter& errors_;
  observe::Counter& round_trips_;
  observe::Counter& prepares_;
  observe::Histogram& statement_seconds_;
  std::shared_ptr<PgPool> pool_;
  std::shared_ptr<internal::ReplicaRouter> router_;
};

namespace {

class Transaction final : public ports::SqlTransaction {
 public:
  Transaction(PgStore::Impl& store, PgConnection& conn, const ports::TransactionOptions& options)
      : store_(store), conn_(conn), options_(options) {}

  // SqlTransaction
  asio::awaitable<Result<ports::SqlResult>> Execute(std::string sql,
                                                    ports::SqlParams params) override {
    if (failed_) co_return Poisoned();
    if (internal::IsTransactionControl(sql)) co_return Refuse(sql);
    const Statement statement{sql, &params};
    auto results = co_await Run(std::span<const Statement>(&statement, 1));
    if (!results) co_return std::unexpected(results.error());
    co_return std::move(results->back());
  }

  asio::awaitable<Result<std::vector<ports::SqlResult>>> ExecuteBatch(
      std::vector<ports::SqlStatement> batch) override {
    if (failed_) co_return Poisoned();
    std::vector<Statement> statements;
    statements.reserve(batch.size());
    for (const auto& s : batch) {
      if (internal::IsTransactionControl(s.sql)) co_return Refuse(s.sql);
      statements.push_back(Statement{s.sql, &s.params});
    }
    if (statements.empty()) co_return std::vector<ports::SqlResult>();
    if (store_.settings().pipeline) co_return co_await Run(statements);
    std::vector<ports::SqlResult> results;
    results.reserve(statements.size());
    for (const Statement& statement : statements) {
      auto one = co_await Run(std::span<const Statement>(&statement, 1));
      if (!one) co_return std::unexpected(one.error());
      results.push_back(std::move(one->back()));
    }
    co_return results;
  }

  asio::awaitable<Result<void>> ExecuteScript(std::string sql) override {
    if (failed_) co_return Poisoned();
    for (const std::string_view statement : internal::SplitStatements(sql)) {
      if (internal::IsTransactionControl(statement)) co_return Refuse(statement);
    }
    if (!begun_) {
      auto begun = co_await Run({});
      if (!begun) co_return std::unexpected(begun.error());
    }
    const MonoTime started = store_.clock().Monotonic();
    auto ran = co_await conn_.Simple(sql);
    if (ran && conn_.TransactionStatus() != PQTRANS_INTRANS) {
      ran = core::Fail(ErrorCode::kInternal, "database error",
                       "postgres: the script ended the transaction");
    }
    store_.CountStatements(1, ran.has_value(), started);
    if (!ran && !failed_) failed_ = ran.error();
    co_return ran;
  }

  const ports::TransactionOptions& Options() const override { return options_; }
  ports::SqlDialect Dialect() const override { return ports::SqlDialect::kPostgres; }

  // The first statement error, which dooms the transaction.
  [[nodiscard]] const std::optional<core::Error>& Failed() const { return failed_; }
  [[nodiscard]] bool Begun() const { return begun_; }

 private:
  // The body's statements in one round trip; the first round trip of the transaction carries
  // BEGIN and the settings too.
  asio::awaitable<Result<std::vector<ports::SqlResult>>> Run(std::span<const Statement> body) {
    const MonoTime started = store_.clock().Monotonic();
    const std::uint64_t prepares = conn_.Prepares();
    Result<std::vector<ports::SqlResult>> results;
    if (begun_) {
      results = co_await conn_.Pipeline(body);
    } else {
      begun_ = true;
      std::string timeout = "0";  // no deadline: no limit
      if (options_.deadline != MonoTime::max()) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(options_.deadline - started);
        timeout = std::to_string(std::max<std::int64_t>(left.count(), 1));
      }
      ports::SqlParams params;
      params.reserve(2 + 2 * options_.settings.size());
      params.emplace_back(std::move(timeout));
      params.emplace_back(options_.org_id);
      std::string settings_sql;
      if (!options_.settings.empty()) {
        settings_sql = kSettings;
        for (const auto& [name, value] : options_.settings) {
          const std::size_t n = params.size();
          settings_sql +=
              ", set_config($" + std::to_string(n + 1) + ", $" + std::to_string(n + 2) + ", true)";
          params.emplace_back(name);
          params.emplace_back(value);
        }
      }
      std::vector<Statement> all;
      all.reserve(body.size() + 2);
      all.push_back(Statement{options_.read_only      ? kBeginReadOnly
                              : options_.serializable ? kBeginSerializable
                                                      : kBegin,
                              nullptr});
      all.push_back(Statement{settings_sql.empty() ? kSettings : settings_sql, &params});
      all.insert(all.end(), body.begin(), body.end());
      results = co_await conn_.Pipeline(all);
      if (results) results->erase(results->begin(), results->begin() + 2);
    }
    store_.CountStatements(std::max<std::size_t>(body.size(), 1), results.has_value(), started,
                           conn_.Prepares() - prepares);
    if (!results && !failed_) failed_ = results.error();
    co_return results;
  }

  std::unexpected<core::Error> Refuse(std::string_view sql) {
    auto error = core::Fail(
        ErrorCode::kInternal, "database error",
        "postgres: transactions are begun and ended by the store only [" + std::string(sql) + "]");
    if (!failed_) failed_ = error.error();
    return error;
  }
  std::unexpected<core::Error> Poisoned() const {
    return core::Fail(ErrorCode::kAborted, "transaction aborted",
                      "postgres: an earlier statement failed: " + failed_->internal);
  }

  PgStore::Impl& store_;
  PgConnection& conn_;
  const ports::TransactionOptions& options_;
  std::optional<core::Error> failed_;
  bool begun_ = false;
};

}  // namespace

asio::awaitable<Result<void>> PgStore::Impl::TransactOnce(const ports::TransactionOptions& options,
                                                          const ports::TransactionBody& body) {
  transactions_.Inc();
  if (clock_.Monotonic() >= options.deadline) {
    failed_.Inc();
    co_return core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                         "postgres: deadline passed before the transaction started");
  }
  for (const auto& setting : options.settings) {
    if (!ValidSettingName(setting.first)) {
      failed_.Inc();
      co_return core::Fail(ErrorCode::kInternal, "database error",
                           "postgres: setting names are trellis.[a-z0-9_.]+, not " + setting.first);
    }
  }
  // With replicas the router picks the server (ADR 0014); without, the primary's pool.
  internal::Routed routed;
  if (router_) {
    auto picked = co_await router_->Acquire(options);
    if (!picked) {
      failed_.Inc();
      co_return std::unexpected(picked.error());
    }
    routed = std::move(*picked);
  } else {
    auto acquired = co_await pool_->Acquire(options.deadline);
    if (!acquired) {
      failed_.Inc();
      co_return std::unexpected(acquired.error());
    }
    routed.pool = pool_.get();
    routed.conn = std::move(*acquired);
  }
  const Lease conn(*routed.pool, std::move(routed.conn));

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
  const Statement rollback{kRollback, nullptr};
  if (thrown || !outcome) {
    if (tx.Begun() && !conn->Broken() && conn->TransactionStatus() != PQTRANS_IDLE) {
      conn->SetDeadline(clock_.Monotonic() + settings_.commit_grace);
      const std::uint64_t prepares = conn->Prepares();
      (void)co_await conn->Pipeline(std::span<const Statement>(&rollback, 1));
      round_trips_.Inc();
      prepares_.Inc(conn->Prepares() - prepares);
    }
    rolled_back_.Inc();
    if (thrown) std::rethrow_exception(thrown);
    co_return outcome;
  }
  if (!tx.Begun()) {
    committed_.Inc();  // no statement: nothing to commit
    co_return Result<void>();
  }
  conn->SetDeadline(clock_.Monotonic() + settings_.commit_grace);
  if (conn->TransactionStatus() != PQTRANS_INTRANS) {
    failed_.Inc();
    co_return core::Fail(ErrorCode::kAborted, "transaction aborted",
                         "postgres: the transaction was not open at COMMIT");
  }
  // A write that tracks its position learns the commit's in the same round trip.
  const bool track = options.written != nullptr && !options.read_only;
  const std::array<Statement, 2> commit{Statement{kCommit, nullptr},
                                        Statement{kWritePosition, nullptr}};
  const std::uint64_t prepares = conn->Prepares();
  auto committed =
      co_await conn->Pipeline(std::span<const Statement>(commit.data(), track ? 2 : 1));
  round_trips_.Inc();
  prepares_.Inc(conn->Prepares() - prepares);
  if (!committed) {
    failed_.Inc();
    if (!conn->Broken() && conn->TransactionStatus() != PQTRANS_IDLE) {
      (void)co_await conn->Pipeline(std::span<const Statement>(&rollback, 1));
    }
    co_return std::unexpected(committed.error());
  }
  if (track && committed->size() == 2 && !committed->back().rows.empty()) {
    const auto lsn = committed->back().rows.front().Get<std::int64_t>("lsn");
    if (lsn) options.written->Advance(static_cast<std::uint64_t>(*lsn));
  }
  committed_.Inc();
  co_return Result<void>();
}

PgStore::PgStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgStore::~PgStore() = default;

Result<std::unique_ptr<PgStore>> PgStore::Open(Settings settings,
                                               const asio::any_io_executor& executor,
                                               const core::Clock& clock,
                                               observe::Registry& metrics) {
  if (settings.conninfo.empty()) {
    return core::Fail(ErrorCode::kInvalidArgument, "postgres: conninfo is required");
  }
  if (settings.max_connections == 0 || settings.min_idle > settings.max_connections) {
    return core::Fail(ErrorCode::kInvalidArgument,
                      "postgres: need 1 <= max_connections and min_idle <= max_connections");
  }
  if (!ValidSearchPath(settings.search_path)) {
    return core::Fail(ErrorCode::kInvalidArgument,
                      "postgres: search_path holds schema names and commas only");
  }
  for (const auto& replica : settings.replica_conninfos) {
    if (replica.empty()) {
      return core::Fail(ErrorCode::kInvalidArgument, "postgres: a replica conninfo is empty");
    }
  }
  if (!settings.replica_conninfos.empty() &&
      (settings.max_replica_lag.count() <= 0 || settings.replica_check_interval.count() <= 0 ||
       settings.replica_check_timeout.count() <= 0)) {
    return core::Fail(ErrorCode::kInvalidArgument,
                      "postgres: max_replica_lag and the replica check interval and timeout must "
                      "be positive");
  }
  auto impl = std::make_shared<Impl>(std::move(settings), clock, metrics);
  if (impl->settings().min_idle > 0) {
    // The warm-up holds the pool, so a store closed meanwhile does not pull it from under it.
    asio::co_spawn(
        executor, [pool = impl->pool()]() -> asio::awaitable<void> { co_await pool->Warm(); },
        asio::detached);
  }
  if (impl->router()) impl->router()->Start(executor);
  return std::unique_ptr<PgStore>(new PgStore(std::move(impl)));
}

asio::awaitable<Result<void>> PgStore::Transact(ports::TransactionOptions options,
                                                ports::TransactionBody body) {
  co_return co_await impl_->Transact(std::move(options), std::move(body));
}

Result<void> PgStore::ReloadCredentials() {
  auto reloaded = impl_->pool()->ReloadCredentials();
  if (impl_->router()) {
    for (const auto& replica : impl_->router()->ReplicaPools()) {
      auto done = replica->ReloadCredentials();
      if (reloaded && !done) reloaded = std::move(done);
    }
  }
  return reloaded;
}

PgHealth PgStore::Health() const {
  const auto stats = impl_->pool()->Stats();
  PgHealth health;
  health.ok = stats.consecutive_failures == 0;
  health.connections = stats.total;
  health.idle = stats.idle;
  health.in_use = stats.in_use;
  health.waiting = stats.waiting;
  health.consecutive_failures = stats.consecutive_failures;
  health.detail = stats.last_error;
  if (const auto& router = impl_->router()) {
    const auto routing = router->Health();
    health.ok = health.ok && routing.primary_up;
    health.replicas = routing.replicas.size();
    health.replicas_up = routing.replicas_up;
    health.degraded = !health.ok && routing.replicas_up > 0;
  }
  return health;
}

}  // namespace trellis::adapters::postgres
