// Fencing tokens on the SQL side: a write made under a lease (platform/ports/lock_service.hpp)
// carries the lease's fencing token, and the database refuses it when it has already seen a
// higher token for the same lease name. A holder that was paused past its lease (GC, SIGSTOP,
// a slow disk) and wakes up with its old token therefore cannot overwrite or delete what the
// new holder did, whatever it still believes about its lease.
//
// Every context database that singleton work writes has the table (its migrations create it):
//
//   CREATE TABLE fencing_tokens (name TEXT PRIMARY KEY, token BIGINT NOT NULL);
//
// Call CheckFence first in the transaction that makes the fenced write, and propagate its error
// (Transact then rolls back, so nothing of the transaction is written):
//
//   co_await store.Transact(options, [&](SqlTransaction& tx) -> Awaitable<void> {
//     if (auto f = co_await CheckFence(tx, "outbox-relay", lease.fencing_token); !f) co_return f;
//     co_return co_await DeleteFromOutbox(tx, seqs);
//   });
//
// The check records the token, so a later, lower one is refused even if the higher holder
// never wrote anything else. On PostgreSQL the upsert locks the name's row until commit: a
// stale holder whose check runs while the new holder's transaction is open waits for it and
// then sees the higher token (the check and the write are serialized per name).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "platform/core/error.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::platform::store {

// The client message of a refused token (with kFailedPrecondition), so callers can tell a
// lost lease from other failed preconditions with IsStaleFence.
inline constexpr std::string_view kStaleFencingToken = "fencing token is stale";

// Records `token` for `name` when it is at least the highest token seen for `name` (equal is
// accepted: the holder writes again under the same lease); otherwise kFailedPrecondition with
// kStaleFencingToken and nothing recorded. One statement, the same on SQLite and PostgreSQL.
// A negative token is kInvalidArgument (tokens start at 1).
[[nodiscard]] ports::Awaitable<void> CheckFence(ports::SqlTransaction& tx, std::string name,
                                                std::int64_t token);

// True when `error` is CheckFence's refusal: the lease was lost to a newer holder, and retrying
// with the same token can never succeed (the caller must take the lease again).
[[nodiscard]] bool IsStaleFence(const core::Error& error);

}  // namespace trellis::platform::store
