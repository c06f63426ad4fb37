#include "platform/rest/idempotency.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <boost/json.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "platform/core/log.hpp"
#include "platform/http/problem.hpp"

// Generated from platform/rest/migrations by trellis_embed_migrations.
std::vector<trellis::platform::store::MigrationFile> TrellisRestMigrations();
// Generated from platform/rest/migrations/postgres.
std::vector<trellis::platform::store::MigrationFile> TrellisRestPostgresMigrations();

namespace trellis::platform::rest {
namespace {

using ports::Awaitable;
using ports::SqlParams;
using ports::SqlTransaction;
using ports::TransactionOptions;

// The store writes that follow the handler get this budget of their own: the request's
// deadline may be spent by then, and losing the record would let a retry run twice.
constexpr std::chrono::seconds kFinishBudget{5};
constexpr std::size_t kClaimTokenBytes = 16;

std::string Hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return Hex(digest.data(), size);
}

std::string ClaimToken() {
  std::array<unsigned char, kClaimTokenBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    core::Log(core::LogLevel::kError, "RAND_bytes failed drawing an idempotency claim");
    std::abort();
  }
  return Hex(bytes.data(), bytes.size());
}

bool ValidKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyLength) return false;
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return false;
  }
  return true;
}

std::string ScopeOf(const http::Request& req) {
  if (auto org = req.Param("org"); !org.empty()) return "org:" + std::string(org);
  const core::Principal* who = req.ctx.principal.get();
  if (!who) return "anon";
  if (who->IsApiKey()) return "key:" + who->api_key_id;
  return "user:" + who->user_id;
}

// Method, target, actor and body. The actor is in so that, within one org's scope, another
// member re-using a key gets 422 rather than someone else's response.
std::string RequestHash(const http::Request& req) {
  std::string text;
  text.reserve(req.body.size() + req.target.size() + 64);
  text.append(req.method_text);
  text += ' ';
  text.append(req.target);
  text += '\n';
  if (req.ctx.principal) text.append(req.ctx.principal->ActorId());
  text += '\n';
  text.append(req.body);
  return Sha256Hex(text);
}

core::Clock::MonoTime RequestDeadline(const http::Request& req) {
  return req.ctx.deadline == core::Clock::MonoTime{} ? core::Clock::MonoTime::max()
                                                     : req.ctx.deadline;
}

ports::Blob ToBlob(std::string_view s) {
  ports::Blob b;
  b.bytes.assign(s.begin(), s.end());
  return b;
}

std::string HeadersJson(const http::Response& resp, const std::vector<std::string>& names) {
  boost::json::array out;
  for (const auto& [name, value] : resp.headers) {
    for (const auto& wanted : names) {
      if (http::EqualsIgnoreCase(name, wanted)) {
        out.push_back(boost::json::array{boost::json::string(name), boost::json::string(value)});
        break;
      }
    }
  }
  return boost::json::serialize(out);
}

void AddStoredHeaders(http::Response& resp, std::string_view json) {
  boost::system::error_code ec;
  auto parsed = boost::json::parse(json, ec);
  if (ec || !parsed.is_array()) return;
  for (const auto& pair : parsed.as_array()) {
    const auto* a = pair.if_array();
    if (!a || a->size() != 2 || !(*a)[0].is_string() || !(*a)[1].is_string()) continue;
    resp.headers.emplace_back(std::string((*a)[0].as_string()), std::string((*a)[1].as_string()));
  }
}

http::Response ProblemFor(const core::Error& error, const http::Request& req) {
  return http::Problem(error, req.path, req.ctx.request_id);
}

}  // namespace

struct Idempotency::Claim {
  enum class Outcome { kClaimed, kReplay, kMismatch, kInFlight };
  Outcome outcome = Outcome::kInFlight;
  http::Response stored;  // for kReplay
};

std::vector<store::MigrationFile> IdempotencyMigrations() { return TrellisRestMigrations(); }
std::vector<store::MigrationFile> IdempotencyPostgresMigrations() {
  return TrellisRestPostgresMigrations();
}

core::Result<void> ValidateIdempotencySettings(const IdempotencySettings& settings) {
  if (settings.ttl < kMinIdempotencyTtl) {
    return core::Fail(core::ErrorCode::kInvalidArgument,
                      "idempotency ttl must be at least 24 hours");
  }
  if (settings.in_flight_timeout <= std::chrono::milliseconds::zero()) {
    return core::Fail(core::ErrorCode::kInvalidArgument,
                      "idempotency in_flight_timeout must be positive");
  }
  if (settings.purge_interval < std::chrono::milliseconds::zero()) {
    return core::Fail(core::ErrorCode::kInvalidArgument,
                      "idempotency purge_interval must not be negative");
  }
  return {};
}

Idempotency::Idempotency(ports::SqlStore& store, const core::Clock& clock,
                         IdempotencySettings settings)
    : store_(store), clock_(clock), settings_(std::move(settings)) {
  if (settings_.ttl < kMinIdempotencyTtl) settings_.ttl = kMinIdempotencyTtl;
  if (settings_.in_flight_timeout <= std::chrono::milliseconds::zero()) {
    settings_.in_flight_timeout = std::chrono::seconds(60);
  }
}

http::Handler Idempotency::Wrap(http::Handler inner) {
  auto shared = std::make_shared<const http::Handler>(std::move(inner));
  return [this, shared](http::Request& req) { return Run(shared, req); };
}

boost::asio::awaitable<http::Response> Idempotency::Run(std::shared_ptr<const http::Handler> inner,
                                                        http::Request& req) {
  std::optional<std::string_view> header;
  for (const auto& h : req.headers) {
    if (!http::EqualsIgnoreCase(h.name, "Idempotency-Key")) continue;
    if (header) {
      const core::Error twice(core::ErrorCode::kInvalidArgument, "send one Idempotency-Key header");
      co_return ProblemFor(twice, req);
    }
    header = h.value;
  }
  if (!header) co_return co_await (*inner)(req);
  if (!ValidKey(*header)) {
    const core::Error bad(core::ErrorCode::kInvalidArgument,
                          "Idempotency-Key must be 1 to 255 characters without control characters");
    co_return ProblemFor(bad, req);
  }

  const std::string key(*header);
  const std::string scope = ScopeOf(req);
  const std::string hash = RequestHash(req);
  const std::string token = ClaimToken();
  const std::int64_t now = NowMs();
  bool purge = false;
  if (settings_.purge_interval > std::chrono::milliseconds::zero()) {
    std::int64_t last = last_purge_ms_.load();
    purge = now - last >= settings_.purge_interval.count() &&
            last_purge_ms_.compare_exchange_strong(last, now);
  }

  Claim claim;
  auto claimed = co_await store_.Transact(
      TransactionOptions().Deadline(RequestDeadline(req)),
      [&](SqlTransaction& tx) -> Awaitable<void> {
        if (purge) {
          SqlParams p{now};
          auto r = co_await tx.Execute("DELETE FROM idempotency_keys WHERE expires_at_ms <= $1",
                                       std::move(p));
          if (!r) co_return std::unexpected(r.error());
        }
        const std::int64_t expires = now + settings_.ttl.count();
        const std::int64_t stale_before = now - settings_.in_flight_timeout.count();
        // Take over an expired record, or a crashed request's claim on the same request.
        SqlParams take{scope, key, hash, token, now, expires, stale_before};
        auto taken = co_await tx.Execute(
            "UPDATE idempotency_keys SET request_hash = $3, state = 'in_flight', claim = $4, "
            "status = NULL, content_type = NULL, headers = NULL, body = NULL, "
            "created_at_ms = $5, expires_at_ms = $6 "
            "WHERE scope = $1 AND key = $2 AND (expires_at_ms <= $5 OR "
            "(state = 'in_flight' AND created_at_ms <= $7 AND request_hash = $3))",
            std::move(take));
        if (!taken) co_return std::unexpected(taken.error());
        if (taken->rows_affected == 1) {
          claim.outcome = Claim::Outcome::kClaimed;
          co_return core::Result<void>();
        }
        SqlParams insert{scope, key, hash, token, now, expires};
        auto inserted = co_await tx.Execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, state, claim, "
            "created_at_ms, expires_at_ms) VALUES ($1, $2, $3, 'in_flight', $4, $5, $6) "
            "ON CONFLICT (scope, key) DO NOTHING",
            std::move(insert));
        if (!inserted) co_return std::unexpected(inserted.error());
        if (inserted->rows_affected == 1) {
          claim.outcome = Claim::Outcome::kClaimed;
          co_return core::Result<void>();
        }
        SqlParams find{scope, key};
        auto found = co_await tx.Execute(
            "SELECT request_hash, state, status, content_type, headers, body "
            "FROM idempotency_keys WHERE scope = $1 AND key = $2",
            std::move(find));
        if (!found) co_return std::unexpected(found.error());
        if (found->rows.empty()) {  // deleted since the insert (another engine's isolation)
          claim.outcome = Claim::Outcome::kInFlight;
          co_return core::Result<void>();
        }
        const auto& row = found->rows.front();
        auto stored_hash = row.Get<std::string>("request_hash");
        auto state = row.Get<std::string>("state");
        if (!stored_hash) co_return std::unexpected(stored_hash.error());
        if (!state) co_return std::unexpected(state.error());
        if (*stored_hash != hash) {
          claim.outcome = Claim::Outcome::kMismatch;
        } else if (*state != "done") {
          claim.outcome = Claim::Outcome::kInFlight;
        } else {
          auto status = row.Get<std::int64_t>("status");
          auto content_type = row.GetOptional<std::string>("content_type");
          auto headers = row.GetOptional<std::string>("headers");
          auto body = row.GetOptional<ports::Blob>("body");
          if (!status) co_return std::unexpected(status.error());
          if (!content_type) co_return std::unexpected(content_type.error());
          if (!headers) co_return std::unexpected(headers.error());
          if (!body) co_return std::unexpected(body.error());
          claim.outcome = Claim::Outcome::kReplay;
          claim.stored.status = static_cast<int>(*status);
          claim.stored.content_type = content_type->value_or("");
          if (*body) claim.stored.body.assign((*body)->bytes.begin(), (*body)->bytes.end());
          if (*headers) AddStoredHeaders(claim.stored, **headers);
        }
        co_return core::Result<void>();
      });
  if (!claimed) {
    core::LogLine(core::LogLevel::kWarn, "idempotency claim failed")
        .Str("request_id", req.ctx.request_id)
        .Str("error", claimed.error().internal);
    co_return ProblemFor(claimed.error(), req);
  }

  switch (claim.outcome) {
    case Claim::Outcome::kReplay:
      claim.stored.headers.emplace_back("Idempotency-Replayed", "true");
      co_return std::move(claim.stored);
    case Claim::Outcome::kMismatch: {
      core::Error mismatch(core::ErrorCode::kValidation,
                           "this Idempotency-Key was used with a different request");
      mismatch.fields.push_back(
          core::FieldError{"/Idempotency-Key", "already used with a different request"});
      co_return ProblemFor(mismatch, req);
    }
    case Claim::Outcome::kInFlight: {
      const core::Error busy(core::ErrorCode::kAborted,
                             "a request with this Idempotency-Key is in progress");
      co_return ProblemFor(busy, req).With("Retry-After", "1");
    }
    case Claim::Outcome::kClaimed: break;
  }

  // Our claim: run the handler; an exception releases the claim and goes on up.
  http::Response resp;
  std::exception_ptr thrown;
  try {
    resp = co_await (*inner)(req);
  } catch (...) {
    thrown = std::current_exception();
  }
  const bool keep = !thrown && !resp.events && resp.status < 500;
  const std::int64_t done_at = NowMs();
  const auto finish_deadline = clock_.Monotonic() + kFinishBudget;
  core::Result<void> finished;
  if (keep) {
    // The whole body as the client received it, pieces sent after `body` included.
    const std::string joined = resp.body_more.empty() ? std::string() : resp.FullBody();
    SqlParams p{scope,
                key,
                token,
                static_cast<std::int64_t>(resp.status),
                resp.content_type,
                HeadersJson(resp, settings_.replay_headers),
                ToBlob(resp.body_more.empty() ? std::string_view(resp.body) : joined),
                done_at + settings_.ttl.count()};
    finished = co_await store_.Transact(
        TransactionOptions().Deadline(finish_deadline),
        [&p](SqlTransaction& tx) -> Awaitable<void> {
          auto r = co_await tx.Execute(
              "UPDATE idempotency_keys SET state = 'done', status = $4, content_type = $5, "
              "headers = $6, body = $7, expires_at_ms = $8 "
              "WHERE scope = $1 AND key = $2 AND claim = $3",
              std::move(p));
          co_return ports::Void(r);
        });
  } else {
    SqlParams p{scope, key, token};
    finished = co_await store_.Transact(
        TransactionOptions().Deadline(finish_deadline),
        [&p](SqlTransaction& tx) -> Awaitable<void> {
          auto r = co_await tx.Execute(
              "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND claim = $3",
              std::move(p));
          co_return ports::Void(r);
        });
  }
  if (!finished) {
    core::LogLine(core::LogLevel::kError, "idempotency record not saved")
        .Str("request_id", req.ctx.request_id)
        .Str("error", finished.error().internal);
  }
  if (thrown) std::rethrow_exception(thrown);
  co_return resp;
}

boost::asio::awaitable<core::Result<std::int64_t>> Idempotency::Purge() {
  const std::int64_t now = NowMs();
  std::int64_t deleted = 0;
  auto r =
      co_await store_.Transact(TransactionOptions(), [&](SqlTransaction& tx) -> Awaitable<void> {
        SqlParams p{now};
        auto res = co_await tx.Execute("DELETE FROM idempotency_keys WHERE expires_at_ms <= $1",
                                       std::move(p));
        if (!res) co_return std::unexpected(res.error());
        deleted = res->rows_affected;
        co_return core::Result<void>();
      });
  if (!r) co_return std::unexpected(r.error());
  last_purge_ms_.store(now);
  co_return deleted;
}

std::int64_t Idempotency::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
      .count();
}

}  // namespace trellis::platform::rest
