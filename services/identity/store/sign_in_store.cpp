#include "services/identity/store/sign_in_store.hpp"

#include <utility>

namespace trellis::identity::store {

namespace core = platform::core;
using platform::ports::Awaitable;
using platform::ports::SqlParams;
using platform::ports::SqlTransaction;

Awaitable<std::optional<LocalAccount>> FindLocalAccount(SqlTransaction& tx,
                                                        const std::string& email) {
  SqlParams p{email};
  auto res = co_await tx.Execute(
      "SELECT user_id, email, password_hash FROM local_accounts WHERE email = $1", std::move(p));
  if (!res) co_return std::unexpected(res.error());
  if (res->rows.empty()) co_return std::optional<LocalAccount>();
  const auto& row = res->rows.front();
  auto user_id = row.Get<std::string>("user_id");
  auto mail = row.Get<std::string>("email");
  auto hash = row.Get<std::string>("password_hash");
  if (!user_id) co_return std::unexpected(user_id.error());
  if (!mail) co_return std::unexpected(mail.error());
  if (!hash) co_return std::unexpected(hash.error());
  LocalAccount account{std::move(*user_id), std::move(*mail), std::move(*hash)};
  co_return std::optional<LocalAccount>(std::move(account));
}

Awaitable<std::optional<UserProfile>> FindUser(SqlTransaction& tx, const std::string& user_id) {
  SqlParams p{user_id};
  auto res = co_await tx.Execute("SELECT id, email, name FROM users WHERE id = $1", std::move(p));
  if (!res) co_return std::unexpected(res.error());
  if (res->rows.empty()) co_return std::optional<UserProfile>();
  const auto& row = res->rows.front();
  auto id = row.Get<std::string>("id");
  auto email = row.Get<std::string>("email");
  auto name = row.Get<std::string>("name");
  if (!id) co_return std::unexpected(id.error());
  if (!email) co_return std::unexpected(email.error());
  if (!name) co_return std::unexpected(name.error());
  UserProfile user{std::move(*id), std::move(*email), std::move(*name)};
  co_return std::optional<UserProfile>(std::move(user));
}

Awaitable<void> CreateLocalUser(SqlTransaction& tx, const NewLocalUser& u) {
  SqlParams user{u.user_id, u.email, u.name, u.now_ms, u.now_ms};
  auto inserted = co_await tx.Execute(
      "INSERT INTO users (id, email, name, created_at_ms, updated_at_ms) "
      "VALUES ($1, $2, $3, $4, $5)",
      std::move(user));
  if (!inserted) co_return std::unexpected(inserted.error());
  // The email is claimed here; ON CONFLICT keeps the transaction alive to report it.
  SqlParams account{u.user_id, u.email, u.password_hash, u.now_ms, u.now_ms};
  auto claimed = co_await tx.Execute(
      "INSERT INTO local_accounts (user_id, email, password_hash, created_at_ms, updated_at_ms) "
      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING",
      std::move(account));
  if (!claimed) co_return std::unexpected(claimed.error());
  if (claimed->rows_affected != 1) {
    co_return core::Fail(core::ErrorCode::kAlreadyExists, "email already registered");
  }
  SqlParams identity{u.issuer, u.user_id, u.user_id, u.now_ms};
  co_return platform::ports::Void(
      co_await tx.Execute("INSERT INTO user_identities (issuer, subject, user_id, created_at_ms) "
                          "VALUES ($1, $2, $3, $4)",
                          std::move(identity)));
}

}  // namespace trellis::identity::store
