#include "platform/store/fencing.hpp"

#include <utility>

namespace trellis::platform::store {

namespace {

// Inserts the first token of a name, raises it when the new one is not lower, and touches
// nothing (0 rows) when it is lower. SQLite (3.24+) and PostgreSQL read it alike; on
// PostgreSQL the conflicting row is locked and re-checked against its latest committed value.
constexpr const char* kCheckFenceSql =
    "INSERT INTO fencing_tokens (name, token) VALUES ($1, $2) "
    "ON CONFLICT (name) DO UPDATE SET token = excluded.token "
    "WHERE fencing_tokens.token <= excluded.token";

}  // namespace

ports::Awaitable<void> CheckFence(ports::SqlTransaction& tx, std::string name, std::int64_t token) {
  if (token < 0) {
    co_return core::Fail(core::ErrorCode::kInvalidArgument, "invalid fencing token",
                         "negative fencing token for " + name);
  }
  ports::SqlParams params{name, token};
  auto recorded = co_await tx.Execute(kCheckFenceSql, std::move(params));
  if (!recorded) co_return std::unexpected(recorded.error());
  if (recorded->rows_affected == 0) {
    co_return core::Fail(core::ErrorCode::kFailedPrecondition, std::string(kStaleFencingToken),
                         "a higher fencing token than " + std::to_string(token) +
                             " was already recorded for " + name);
  }
  co_return core::Result<void>();
}

bool IsStaleFence(const core::Error& error) {
  return error.code == core::ErrorCode::kFailedPrecondition && error.message == kStaleFencingToken;
}

}  // namespace trellis::platform::store
