// The SQL store port: transactions over one relational database, whatever the engine.
//
// Callers hand a coroutine to Transact; the store commits when it returns success and rolls
// back on an error or an exception. Placeholders are $1, $2, … in every engine. The tenant
// (org id) travels in the transaction options so that PostgreSQL can set it per transaction
// for row-level security; engines without RLS ignore it. Driver errors come back as canonical
// codes with the driver's text only in Error::internal.
//
//   co_await store.Transact(TransactionOptions().Org(org), [&](SqlTransaction& tx) ->
//   Awaitable<void> {
//     SqlParams p{id}; co_return Void(co_await tx.Execute("DELETE FROM t WHERE id = $1", p)); });
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/core/write_position.hpp"

namespace trellis::platform::ports {

// Binary data; a distinct type so that it never binds as text.
struct Blob {
  std::vector<std::uint8_t> bytes;
  friend bool operator==(const Blob&, const Blob&) = default;
};

// One parameter or column value. monostate is SQL NULL.
using SqlValue = std::variant<std::monostate, std::int64_t, double, std::string, Blob>;
using SqlParams = std::vector<SqlValue>;

// One result row; columns are shared by all rows of a result.
class SqlRow {
 public:
  SqlRow() = default;
  SqlRow(std::shared_ptr<const std::vector<std::string>> columns, std::vector<SqlValue> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}

  [[nodiscard]] std::size_t Size() const { return values_.size(); }
  [[nodiscard]] const std::vector<SqlValue>& Values() const { return values_; }
  // The value of a column by name; kInternal when there is no such column.
  [[nodiscard]] core::Result<const SqlValue*> Find(std::string_view column) const {
    if (columns_) {
      for (std::size_t i = 0; i < columns_->size() && i < values_.size(); ++i) {
        if ((*columns_)[i] == column) return &values_[i];
      }
    }
    return core::Fail(core::ErrorCode::kInternal, "unexpected database result",
                      "no column " + std::string(column));
  }
  [[nodiscard]] bool IsNull(std::string_view column) const {
    auto v = Find(column);
    return v && std::holds_alternative<std::monostate>(**v);
  }

  // A typed value: T is std::int64_t, double, std::string or Blob. NULL or another type is
  // kInternal (a schema/code mismatch, not a client's fault).
  template <typename T>
  [[nodiscard]] core::Result<T> Get(std::string_view column) const {
    auto v = Find(column);
    if (!v) return std::unexpected(v.error());
    if (const T* typed = std::get_if<T>(*v)) return *typed;
    return core::Fail(core::ErrorCode::kInternal, "unexpected database value",
                      "column " + std::string(column) + " is not of the requested type");
  }
  // As Get, but NULL is an empty optional.
  template <typename T>
  [[nodiscard]] core::Result<std::optional<T>> GetOptional(std::string_view column) const {
    auto v = Find(column);
    if (!v) return std::unexpected(v.error());
    if (std::holds_alternative<std::monostate>(**v)) return std::optional<T>();
    auto typed = Get<T>(column);
    if (!typed) return std::unexpected(typed.error());
    return std::optional<T>(std::move(*typed));
  }

 private:
  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<SqlValue> values_;
};

struct SqlResult {
  std::vector<SqlRow> rows;
  std::int64_t rows_affected = 0;  // for INSERT/UPDATE/DELETE; 0 for queries
};

// Built with setters: TransactionOptions().ReadOnly().Deadline(d). Deliberately not an
// aggregate: g++ 12 double-frees aggregate temporaries (designated initializers) that hold a
// std::string when they appear in a co_await expression.
struct TransactionOptions {
  TransactionOptions() = default;
  TransactionOptions& ReadOnly(bool value = true) {
    read_only = value;
    return *this;
  }
  TransactionOptions& Org(std::string id) {
    org_id = std::move(id);
    return *this;
  }
  TransactionOptions& Deadline(core::Clock::MonoTime at) {
    deadline = at;
    return *this;
  }
  // The body reads, checks a rule on what it read and writes (a version for If-Match, "an org
  // keeps an owner"): it must run as if alone. PostgreSQL runs it SERIALIZABLE and runs the
  // body again after a serialization failure or deadlock (so a body must be pure database work
  // plus assignments to its own results); SQLite's single writer is serial already.
  TransactionOptions& Serializable(bool value = true) {
    serializable = value;
    return *this;
  }
  // Read-your-writes (platform/core/write_position.hpp): a write advances it to its commit's
  // position; a read-only transaction may then run on a replica that has replayed that far.
  // Without it a read-only transaction runs on the primary, never on a replica.
  TransactionOptions& Consistency(std::shared_ptr<core::WritePosition> position) {
    written = std::move(position);
    return *this;
  }
  // A further setting that row-level security policies read, beside the tenant: for example
  // the caller's user id, under which a user sees their own memberships across orgs. The name
  // must start with "trellis."; PostgreSQL sets it with set_config(name, value, true) (local to
  // the transaction, so a pooled connection never carries it on); SQLite ignores it.
  TransactionOptions& Setting(std::string name, std::string value) {
    settings.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  bool read_only = false;
  bool serializable = false;
  // The tenant; PostgreSQL sets it with set_config('trellis.org_id', $1, true) for RLS.
  // Empty for work that is not tenant-scoped (migrations, cross-tenant jobs).
  std::string org_id;
  // Past it the transaction does not start, and a running statement is interrupted.
  core::Clock::MonoTime deadline = core::Clock::MonoTime::max();
  std::vector<std::pair<std::string, std::string>> settings;
  std::shared_ptr<core::WritePosition> written;
};

// The SQL dialect a transaction speaks. Only store/ code may branch on it (full-text search,
// identity columns); app/ and domain/ never see SQL.
enum class SqlDialect { kSqlite, kPostgres };

// One statement of a batch (SqlTransaction::ExecuteBatch).
struct SqlStatement {
  SqlStatement() = default;
  SqlStatement(std::string text, SqlParams values)
      : sql(std::move(text)), params(std::move(values)) {}
  std::string sql;
  SqlParams params;
};

// A transaction in progress; valid only inside the Transact callback. One statement at a
// time: await each Execute before the next. A failed statement dooms the transaction, as in
// PostgreSQL: later statements fail with kAborted and Transact rolls back and returns the
// first error even if the body carries on and succeeds (use INSERT … ON CONFLICT, not
// try-and-recover). With g++ 12, build SqlParams in a variable rather
// than braces inside the co_await expression (an initializer_list cannot cross a suspension).
class SqlTransaction {
 public:
  virtual ~SqlTransaction() = default;
  // One statement with $n parameters; params.size() must match the placeholders.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<SqlResult>> Execute(
      std::string sql, SqlParams params = {}) = 0;
  // Several statements without parameters or results (migration scripts).
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<void>> ExecuteScript(
      std::string sql) = 0;
  // Several statements whose parameters do not depend on each other's results, sent together:
  // PostgreSQL pipelines them (one round trip for all), an embedded engine runs them in turn.
  // One result per statement, in order; the first failure is returned and dooms the
  // transaction as a failed Execute does.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<std::vector<SqlResult>>> ExecuteBatch(
      std::vector<SqlStatement> statements) {
    std::vector<SqlResult> results;
    results.reserve(statements.size());
    for (auto& statement : statements) {
      auto r = co_await Execute(std::move(statement.sql), std::move(statement.params));
      if (!r) co_return std::unexpected(r.error());
      results.push_back(std::move(*r));
    }
    co_return results;
  }
  [[nodiscard]] virtual const TransactionOptions& Options() const = 0;
  [[nodiscard]] virtual SqlDialect Dialect() const = 0;
};

template <typename T>
using Awaitable = boost::asio::awaitable<core::Result<T>>;
using TransactionBody = std::function<Awaitable<void>(SqlTransaction&)>;

// Drops the value of a successful result, keeps the error: `co_return Void(r);`.
template <typename T>
[[nodiscard]] core::Result<void> Void(const core::Result<T>& r) {
  if (!r) return std::unexpected(r.error());
  return {};
}

class SqlStore {
 public:
  virtual ~SqlStore() = default;
  // Runs body in one transaction: commit on success, roll back on error or exception (the
  // exception is rethrown after the rollback). kDeadlineExceeded without touching the
  // database when the deadline has already passed.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<void>> Transact(
      TransactionOptions options, TransactionBody body) = 0;
};

}  // namespace trellis::platform::ports
