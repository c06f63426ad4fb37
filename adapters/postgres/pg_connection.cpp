#include "adapters/postgres/internal/pg_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>
#include <variant>

namespace trellis::adapters::postgres::internal {

namespace asio = boost::asio;
namespace core = platform::core;
namespace ports = platform::ports;
using core::ErrorCode;
using core::Result;

namespace {

// Type oids (pg_type.dat); libpq's headers do not export them.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

constexpr int kTextFormat = 0;
constexpr int kBinaryFormat = 1;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string Trimmed(const char* text) {
  std::string s = text == nullptr ? "" : text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea in the text format is hex: \x0001ff.
ports::Blob DecodeBytea(const char* text, std::size_t len) {
  ports::Blob blob;
  if (len < 2 || text[0] != '\\' || text[1] != 'x') return blob;
  blob.bytes.reserve((len - 2) / 2);
  for (std::size_t i = 2; i + 1 < len; i += 2) {
    const int hi = HexDigit(text[i]);
    const int lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) break;
    blob.bytes.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return blob;
}

ports::SqlValue Decode(Oid type, const char* text, std::size_t len) {
  switch (type) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid: {
      std::int64_t v = 0;
      std::from_chars(text, text + len, v);
      return v;
    }
    case kBoolOid: return std::int64_t{len > 0 && text[0] == 't' ? 1 : 0};
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid: {
      double v = 0;
      // from_chars reads "NaN", "Infinity" and "-Infinity" as well.
      std::from_chars(text, text + len, v);
      return v;
    }
    case kByteaOid: return DecodeBytea(text, len);
    default: return std::string(text, len);
  }
}

ports::SqlResult ToResult(const PGresult* res) {
  ports::SqlResult out;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    const char* tuples = PQcmdTuples(const_cast<PGresult*>(res));
    if (tuples != nullptr && *tuples != '\0') {
      std::from_chars(tuples, tuples + std::strlen(tuples), out.rows_affected);
    }
    return out;
  }
  const int width = PQnfields(res);
  const int height = PQntuples(res);
  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(width));
  std::vector<Oid> types;
  types.reserve(static_cast<std::size_t>(width));
  for (int c = 0; c < width; ++c) {
    names.emplace_back(PQfname(res, c));
    types.push_back(PQftype(res, c));
  }
  auto columns = std::make_shared<const std::vector<std::string>>(std::move(names));
  out.rows.reserve(static_cast<std::size_t>(height));
  for (int r = 0; r < height; ++r) {
    std::vector<ports::SqlValue> values;
    values.reserve(static_cast<std::size_t>(width));
    for (int c = 0; c < width; ++c) {
      if (PQgetisnull(res, r, c) != 0) {
        values.emplace_back(std::monostate{});
      } else {
        values.push_back(Decode(types[static_cast<std::size_t>(c)], PQgetvalue(res, r, c),
                                static_cast<std::size_t>(PQgetlength(res, r, c))));
      }
    }
    out.rows.emplace_back(columns, std::move(values));
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// A value for libpq's options keyword: spaces and backslashes escaped with a backslash.
std::string OptionValue(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == ' ' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

core::Error MapResultError(const PGresult* result, std::string_view sql) {
  const char* state_field = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string state = state_field == nullptr ? "" : state_field;
  std::string detail = "postgres: ";
  detail += state.empty() ? "no SQLSTATE" : state;
  detail += ": ";
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  detail += primary != nullptr ? primary : Trimmed(PQresultErrorMessage(result));
  detail += " [";
  detail += sql;
  detail += "]";
  if (state == "23505") return {ErrorCode::kAlreadyExists, "already exists", std::move(detail)};
  if (StartsWith(state, "23")) {
    // CHECK, NOT NULL and foreign keys: the use cases validate first, so this is a bug.
    return {ErrorCode::kInternal, "a data constraint was violated", std::move(detail)};
  }
  if (state == "57014") {
    return {ErrorCode::kDeadlineExceeded, "deadline exceeded", std::move(detail)};
  }
  if (state == "40001" || state == "40P01") {
    return {ErrorCode::kAborted, std::string(kSerializationFailure), std::move(detail)};
  }
  if (state == "25006") {
    return {ErrorCode::kFailedPrecondition, "read-only transaction cannot write",
            std::move(detail)};
  }
  if (state == "25P02") return {ErrorCode::kAborted, "transaction aborted", std::move(detail)};
  // A protocol violation is the caller's bug (e.g. fewer parameters than placeholders), not an
  // unreachable server.
  if (state == "08P01") return {ErrorCode::kInternal, "database error", std::move(detail)};
  if (state.empty() || StartsWith(state, "08") || state == "57P01" || state == "57P02" ||
      state == "57P03") {
    return {ErrorCode::kUnavailable, "database unavailable", std::move(detail)};
  }
  if (state == "42501") {
    return {ErrorCode::kInternal, "database error",
            "the role lacks a privilege (a deployment bug): " + detail};
  }
  return {ErrorCode::kInternal, "database error", std::move(detail)};
}

// The socket bound to one executor, and the deadline timer that cancels its waits.
struct PgConnection::Io {
  Io(const asio::any_io_executor& executor, int socket)
      : sd(executor, socket), timer(executor), fd(socket) {}
  ~Io() {
    (void)sd.release();  // libpq owns the socket
  }
  Io(const Io&) = delete;
  Io& operator=(const Io&) = delete;

  asio::posix::stream_descriptor sd;
  asio::steady_timer timer;
  int fd;
  std::uint64_t generation = 0;  // bumped on every re-arm; a stale timer handler does nothing
  bool expired = false;
};

PgConnection::PgConnection(PGconn* conn, const core::Clock& clock, std::size_t cache_limit)
    : conn_(conn), clock_(clock), cache_limit_(std::max<std::size_t>(cache_limit, 1)) {}

PgConnection::~PgConnection() {
  Unbind();
  if (cancel_ != nullptr) PQfreeCancel(cancel_);
  PQfinish(conn_);
}

void PgConnection::Bind(const asio::any_io_executor& executor, MonoTime deadline) {
  const int fd = PQsocket(conn_);
  if (!io_ || io_->fd != fd || io_->sd.get_executor() != executor) {
    Unbind();
    if (fd < 0) return;
    io_ = std::make_shared<Io>(executor, fd);
  }
  SetDeadline(deadline);
}

void PgConnection::Unbind() {
  if (!io_) return;
  ++io_->generation;
  io_->timer.cancel();
  (void)io_->sd.release();
  io_.reset();  // a pending timer handler keeps the rest alive until it runs
}

void PgConnection::SetDeadline(MonoTime deadline) {
  if (!io_) return;
  const std::uint64_t generation = ++io_->generation;
  io_->expired = false;
  io_->timer.cancel();
  if (deadline == MonoTime::max()) return;
  const auto left = deadline - clock_.Monotonic();
  io_->timer.expires_after(std::max(left, MonoTime::duration::zero()));
  io_->timer.async_wait([io = io_, generation](const boost::system::error_code& ec) {
    if (ec || io->generation != generation) return;
    io->expired = true;
    boost::system::error_code ignored;
    io->sd.cancel(ignored);
  });
}

bool PgConnection::Broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }

bool PgConnection::PeerClosed() const {
  pollfd p{};
  p.fd = PQsocket(conn_);
  if (p.fd < 0) return true;
  p.events = POLLIN | POLLRDHUP;
  // Between transactions the server sends nothing unasked, so readable means a goodbye (an
  // error message before it exits) or EOF.
  return ::poll(&p, 1, 0) != 0;
}

PGcancel* PgConnection::TakeCancel() { return std::exchange(cancel_, nullptr); }

PGTransactionStatusType PgConnection::TransactionStatus() const {
  return PQtransactionStatus(conn_);
}

int PgConnection::ServerProcessId() const { return PQbackendPID(conn_); }

core::Error PgConnection::ConnectionError(std::string_view what) {
  broken_ = true;
  std::string detail = "postgres: ";
  detail += what;
  detail += ": ";
  detail += Trimmed(PQerrorMessage(conn_));
  return {ErrorCode::kUnavailable, "database unavailable", std::move(detail)};
}

core::Error PgConnection::DeadlineError(std::string_view what) {
  broken_ = true;  // the server may still be running the statement: never reuse
  std::string detail = "postgres: deadline passed ";
  detail += what;
  return {ErrorCode::kDeadlineExceeded, "deadline exceeded", std::move(detail)};
}

// Waits for the socket to become readable (read), writable (write) or either. The level is
// checked with poll() first: Asio's epoll reactor is edge-triggered, and libpq may leave bytes
// in the kernel buffer whose edge was already reported.
asio::awaitable<PgConnection::Ready> PgConnection::WaitFor(bool read, bool write) {
  if (!io_) co_return Ready::kError;
  pollfd p{};
  p.fd = io_->fd;
  p.events = static_cast<short>((read ? POLLIN : 0) | (write ? POLLOUT : 0));
  if (::poll(&p, 1, 0) > 0) co_return Ready::kOk;
  if (io_->expired) co_return Ready::kDeadline;
  const std::shared_ptr<Io> io = io_;
  boost::system::error_code ec;
  if (read && write) {
    using namespace asio::experimental::awaitable_operators;
    auto either = co_await (io->sd.async_wait(asio::posix::descriptor_base::wait_read,
                                              asio::as_tuple(asio::use_awaitable)) ||
                            io->sd.async_wait(asio::posix::descriptor_base::wait_write,
                                              asio::as_tuple(asio::use_awaitable)));
    ec = std::visit([](const auto& t) { return std::get<0>(t); }, either);
  } else {
    co_await io->sd.async_wait(
        read ? asio::posix::descriptor_base::wait_read : asio::posix::descriptor_base::wait_write,
        asio::redirect_error(asio::use_awaitable, ec));
  }
  if (io->expired) co_return Ready::kDeadline;
  if (ec && ec != asio::error::operation_aborted) co_return Ready::kError;
  co_return Ready::kOk;
}

asio::awaitable<Result<void>> PgConnection::Flush() {
  while (true) {
    const int r = PQflush(conn_);
    if (r == 0) co_return Result<void>();
    if (r < 0) co_return std::unexpected(ConnectionError("sending"));
    // Wait for either: the server may be blocked writing results we have not read yet.
    const Ready ready = co_await WaitFor(true, true);
    if (ready == Ready::kDeadline) {
      needs_cancel_ = true;
      co_return std::unexpected(DeadlineError("while sending"));
    }
    if (ready == Ready::kError) co_return std::unexpected(ConnectionError("waiting to send"));
    if (PQconsumeInput(conn_) == 0) co_return std::unexpected(ConnectionError("receiving"));
  }
}

asio::awaitable<Result<PGresult*>> PgConnection::NextResult() {
  while (PQisBusy(conn_) != 0) {
    const Ready ready = co_await WaitFor(true, false);
    if (ready == Ready::kDeadline) {
      needs_cancel_ = true;
      co_return std::unexpected(DeadlineError("while the server ran a statement"));
    }
    if (ready == Ready::kError) co_return std::unexpected(ConnectionError("waiting for a result"));
    if (PQconsumeInput(conn_) == 0) co_return std::unexpected(ConnectionError("receiving"));
  }
  co_return PQgetResult(conn_);
}

asio::awaitable<Result<std::unique_ptr<PgConnection>>> PgConnection::Connect(
    const ConnectSpec& spec, const core::Clock& clock, MonoTime deadline) {
  std::vector<const char*> keys;
  std::vector<const char*> values;
  keys.push_back("dbname");
  values.push_back(spec.conninfo.c_str());
  if (!spec.user.empty()) {
    keys.push_back("user");
    values.push_back(spec.user.c_str());
  }
  if (!spec.password.empty()) {
    keys.push_back("password");
    values.push_back(spec.password.c_str());
  }
  std::string options;
  if (!spec.search_path.empty()) {
    options = "-c search_path=" + OptionValue(spec.search_path);
    keys.push_back("options");
    values.push_back(options.c_str());
  }
  keys.push_back("application_name");
  values.push_back(spec.application_name.c_str());
  keys.push_back("client_encoding");
  values.push_back("UTF8");
  keys.push_back(nullptr);
  values.push_back(nullptr);

  PGconn* raw = PQconnectStartParams(keys.data(), values.data(), 1);
  if (raw == nullptr) {
    co_return core::Fail(ErrorCode::kUnavailable, "database unavailable",
                         "postgres: out of memory starting a connection");
  }
  std::unique_ptr<PgConnection> conn(new PgConnection(raw, clock, spec.statement_cache));
  if (PQstatus(raw) == CONNECTION_BAD) {
    co_return std::unexpected(conn->ConnectionError("connecting"));
  }
  const auto executor = co_await asio::this_coro::executor;
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED) {
      co_return std::unexpected(conn->ConnectionError("connecting"));
    }
    // The socket changes when libpq moves on to the next host or address, often under the
    // same fd number (the old one was closed first), which epoll no longer watches: register
    // it afresh each step.
    conn->Unbind();
    conn->Bind(executor, deadline);
    const Ready ready =
        co_await conn->WaitFor(status == PGRES_POLLING_READING, status == PGRES_POLLING_WRITING);
    if (ready == Ready::kDeadline) co_return std::unexpected(conn->DeadlineError("connecting"));
    if (ready == Ready::kError) co_return std::unexpected(conn->ConnectionError("connecting"));
    status = PQconnectPoll(raw);
  }
  if (PQsetnonblocking(raw, 1) != 0 || PQenterPipelineMode(raw) != 1) {
    co_return std::unexpected(conn->ConnectionError("setting up the connection"));
  }
  conn->cancel_ = PQgetCancel(raw);
  conn->created_at = clock.Monotonic();
  conn->last_used = conn->created_at;
  co_return conn;
}

void PgConnection::EncodeParams(const ports::SqlParams& params) {
  const std::size_t n = params.size();
  types_.resize(n);
  values_.resize(n);
  lengths_.resize(n);
  formats_.resize(n);
  if (text_.size() < n) text_.resize(n);
  sig_.clear();
  static constexpr std::uint8_t kEmpty = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& value = params[i];
    formats_[i] = kTextFormat;
    lengths_[i] = 0;
    if (std::holds_alternative<std::monostate>(value)) {
      types_[i] = 0;
      values_[i] = nullptr;
      sig_ += 's';
    } else if (const auto* v = std::get_if<std::int64_t>(&value)) {
      char buf[24];
      const auto end = std::to_chars(buf, buf + sizeof buf, *v).ptr;
      text_[i].assign(buf, end);
      types_[i] = kInt8Oid;
      values_[i] = text_[i].c_str();
      sig_ += 'i';
    } else if (const auto* d = std::get_if<double>(&value)) {
      char buf[32];
      const auto end = std::to_chars(buf, buf + sizeof buf, *d).ptr;  // shortest round trip
      text_[i].assign(buf, end);
      types_[i] = kFloat8Oid;
      values_[i] = text_[i].c_str();
      sig_ += 'd';
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      types_[i] = 0;  // unknown: the server infers it from the statement
      values_[i] = s->c_str();
      sig_ += 's';
    } else {
      const auto& bytes = std::get<ports::Blob>(value).bytes;
      types_[i] = kByteaOid;
      values_[i] = bytes.empty() ? reinterpret_cast<const char*>(&kEmpty)
                                 : reinterpret_cast<const char*>(bytes.data());
      lengths_[i] = static_cast<int>(bytes.size());
      formats_[i] = kBinaryFormat;
      sig_ += 'b';
    }
  }
}

const std::string* PgConnection::Cached(std::string_view sql) const {
  const auto it = cache_.find(sql);
  if (it == cache_.end()) return nullptr;
  for (const auto& entry : it->second) {
    if (entry.signature == sig_) return &entry.name;
  }
  return nullptr;
}

asio::awaitable<Result<std::vector<ports::SqlResult>>> PgConnection::Pipeline(
    std::span<const Statement> statements) {
  if (Broken()) co_return std::unexpected(ConnectionError("connection lost"));
  static const ports::SqlParams kNoParams;
  // What each queued message answers, in order: a Parse (kPrepare), a query, a DEALLOCATE.
  enum class Kind : std::uint8_t { kPrepare, kQuery, kDeallocate };
  struct Item {
    Kind kind;
    std::size_t statement;
    std::string name;  // of a kPrepare, to forget it when it fails
  };
  std::vector<Item> items;
  items.reserve(statements.size() + 2);
  for (std::size_t k = 0; k < statements.size(); ++k) {
    const Statement& st = statements[k];
    const ports::SqlParams& params = st.params != nullptr ? *st.params : kNoParams;
    EncodeParams(params);
    const std::string* name = Cached(st.sql);
    if (name == nullptr) {
      if (cached_ >= cache_limit_) {
        // Full: drop every statement of the session and start over (bounded server memory).
        if (PQsendQueryParams(conn_, "DEALLOCATE ALL", 0, nullptr, nullptr, nullptr, nullptr,
                              kTextFormat) == 0) {
          co_return std::unexpected(ConnectionError("sending"));
        }
        items.push_back({Kind::kDeallocate, k, {}});
        cache_.clear();
        cached_ = 0;
      }
      std::string fresh = "trellis_" + std::to_string(++next_statement_);
      const std::string text(st.sql);
      if (PQsendPrepare(conn_, fresh.c_str(), text.c_str(), static_cast<int>(params.size()),
                        types_.data()) == 0) {
        co_return std::unexpected(ConnectionError("sending"));
      }
      ++prepares_;
      auto& entries = cache_[text];
      entries.push_back({sig_, fresh});
      ++cached_;
      name = &entries.back().name;
      items.push_back({Kind::kPrepare, k, std::move(fresh)});
    }
    if (PQsendQueryPrepared(conn_, name->c_str(), static_cast<int>(params.size()), values_.data(),
                            lengths_.data(), formats_.data(), kTextFormat) == 0) {
      co_return std::unexpected(ConnectionError("sending"));
    }
    items.push_back({Kind::kQuery, k, {}});
  }
  if (PQpipelineSync(conn_) == 0) co_return std::unexpected(ConnectionError("sending"));
  if (auto flushed = co_await Flush(); !flushed) co_return std::unexpected(flushed.error());

  std::vector<ports::SqlResult> results;
  results.reserve(statements.size());
  std::optional<core::Error> first_error;
  for (const Item& item : items) {
    Result<PGresult*> next;
    // Already buffered: no coroutine frame for the common case.
    if (PQisBusy(conn_) == 0) {
      next = PQgetResult(conn_);
    } else {
      next = co_await NextResult();
    }
    if (!next) co_return std::unexpected(next.error());
    const ResultPtr res(*next);
    if (!res) {
      broken_ = true;
      co_return core::Fail(ErrorCode::kInternal, "database error",
                           "postgres: a pipeline result is missing");
    }
    const ExecStatusType status = PQresultStatus(res.get());
    const std::string_view sql = statements[item.statement].sql;
    const bool ok =
        status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY;
    if (!ok && !first_error && status != PGRES_PIPELINE_ABORTED) {
      first_error = MapResultError(res.get(), sql);
    }
    if (item.kind == Kind::kPrepare && status != PGRES_COMMAND_OK) {
      // The server has no such statement: forget it.
      if (auto it = cache_.find(sql); it != cache_.end()) {
        const auto erased =
            std::erase_if(it->second, [&](const CacheEntry& e) { return e.name == item.name; });
        cached_ -= erased;
        if (it->second.empty()) cache_.erase(it);
      }
    }
    if (item.kind == Kind::kQuery && ok) results.push_back(ToResult(res.get()));
    // Each command's results end with a null result.
    while (true) {
      Result<PGresult*> end;
      // Already buffered: no coroutine frame for the common case.
      if (PQisBusy(conn_) == 0) {
        end = PQgetResult(conn_);
      } else {
        end = co_await NextResult();
      }
      if (!end) co_return std::unexpected(end.error());
      if (*end == nullptr) break;
      PQclear(*end);
    }
  }
  Result<PGresult*> sync;
  // Already buffered: no coroutine frame for the common case.
  if (PQisBusy(conn_) == 0) {
    sync = PQgetResult(conn_);
  } else {
    sync = co_await NextResult();
  }
  if (!sync) co_return std::unexpected(sync.error());
  const ResultPtr sync_result(*sync);
  if (!sync_result || PQresultStatus(sync_result.get()) != PGRES_PIPELINE_SYNC) {
    broken_ = true;
    co_return core::Fail(ErrorCode::kInternal, "database error",
                         "postgres: the pipeline did not end with its sync");
  }
  if (first_error) co_return std::unexpected(std::move(*first_error));
  if (results.size() != statements.size()) {
    co_return core::Fail(ErrorCode::kAborted, "transaction aborted",
                         "postgres: statements were skipped in an aborted pipeline");
  }
  co_return results;
}

asio::awaitable<Result<void>> PgConnection::Simple(const std::string& sql) {
  if (Broken()) co_return std::unexpected(ConnectionError("connection lost"));
  if (PQexitPipelineMode(conn_) != 1) co_return std::unexpected(ConnectionError("pipeline"));
  if (PQsendQuery(conn_, sql.c_str()) == 0) co_return std::unexpected(ConnectionError("sending"));
  if (auto flushed = co_await Flush(); !flushed) co_return std::unexpected(flushed.error());
  std::optional<core::Error> first_error;
  while (true) {
    Result<PGresult*> next;
    // Already buffered: no coroutine frame for the common case.
    if (PQisBusy(conn_) == 0) {
      next = PQgetResult(conn_);
    } else {
      next = co_await NextResult();
    }
    if (!next) co_return std::unexpected(next.error());
    if (*next == nullptr) break;
    const ResultPtr res(*next);
    const ExecStatusType status = PQresultStatus(res.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY &&
        !first_error) {
      first_error = MapResultError(res.get(), sql);
    }
  }
  if (PQenterPipelineMode(conn_) != 1) co_return std::unexpected(ConnectionError("pipeline"));
  if (first_error) co_return std::unexpected(std::move(*first_error));
  co_return Result<void>();
}

std::string FirstKeyword(std::string_view sql) {
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c)) != 0 || c == '(' || c == ';') {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      const auto eol = sql.find('\n', i);
      i = eol == std::string_view::npos ? sql.size() : eol + 1;
    } else if (sql.substr(i, 2) == "/*") {
      const auto end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else {
      break;
    }
  }
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])) != 0) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i])));
    ++i;
  }
  return word;
}

bool IsSerializationFailure(const core::Error& error) {
  return error.code == ErrorCode::kAborted && error.message == kSerializationFailure;
}

bool IsTransactionControl(std::string_view sql) {
  static constexpr std::string_view kRefused[] = {
      "BEGIN",     "START",   "COMMIT",  "END",     "ROLLBACK",   "ABORT",
      "SAVEPOINT", "RELEASE", "PREPARE", "DISCARD", "DEALLOCATE",
  };
  const std::string word = FirstKeyword(sql);
  return std::find(std::begin(kRefused), std::end(kRefused), word) != std::end(kRefused);
}

std::vector<std::string_view> SplitStatements(std::string_view script) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  std::size_t i = 0;
  const auto emit = [&](std::size_t end) {
    const auto piece = script.substr(start, end - start);
    if (!FirstKeyword(piece).empty()) out.push_back(piece);
  };
  while (i < script.size()) {
    const char c = script[i];
    if (c == '\'' || c == '"') {
      // E'…' strings escape with backslashes; the others double the quote.
      const bool escapes = c == '\'' && i > 0 && (script[i - 1] == 'E' || script[i - 1] == 'e');
      ++i;
      while (i < script.size()) {
        if (escapes && script[i] == '\\') {
          i += 2;
          continue;
        }
        if (script[i] == c) {
          if (i + 1 < script.size() && script[i + 1] == c) {
            i += 2;
            continue;
          }
          break;
        }
        ++i;
      }
      ++i;
    } else if (script.substr(i, 2) == "--") {
      const auto eol = script.find('\n', i);
      i = eol == std::string_view::npos ? script.size() : eol + 1;
    } else if (script.substr(i, 2) == "/*") {
      const auto end = script.find("*/", i + 2);
      i = end == std::string_view::npos ? script.size() : end + 2;
    } else if (c == '$') {
      // $tag$ … $tag$ (a tag is letters, digits and underscores; $1 is a placeholder).
      std::size_t j = i + 1;
      while (j < script.size() &&
             (std::isalnum(static_cast<unsigned char>(script[j])) != 0 || script[j] == '_')) {
        ++j;
      }
      if (j < script.size() && script[j] == '$' &&
          (j == i + 1 || std::isdigit(static_cast<unsigned char>(script[i + 1])) == 0)) {
        const auto tag = script.substr(i, j - i + 1);
        const auto close = script.find(tag, j + 1);
        i = close == std::string_view::npos ? script.size() : close + tag.size();
      } else {
        i = j;
      }
    } else if (c == ';') {
      emit(i);
      start = ++i;
    } else {
      ++i;
    }
  }
  emit(script.size());
  return out;
}

}  // namespace trellis::adapters::postgres::internal
