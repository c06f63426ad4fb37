// SQL behind sign-in and sign-up at the built-in issuer: local accounts (argon2id hashes) and
// the users and user_identities rows they create (tables of migrations/V1__identity.sql).
//
//   auto account = co_await FindLocalAccount(tx, "ada@example.com");
//   auto created = co_await CreateLocalUser(tx, user);  // kAlreadyExists: email registered
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "platform/ports/sql_store.hpp"

namespace trellis::identity::store {

struct LocalAccount {
  std::string user_id;
  std::string email;
  std::string password_hash;
};

struct UserProfile {
  std::string id;
  std::string email;
  std::string name;
};

struct NewLocalUser {
  std::string user_id;
  std::string email;  // lower-cased
  std::string name;
  std::string password_hash;
  std::string issuer;  // the built-in issuer's URL (user_identities.issuer)
  std::int64_t now_ms = 0;
};

[[nodiscard]] platform::ports::Awaitable<std::optional<LocalAccount>> FindLocalAccount(
    platform::ports::SqlTransaction& tx, const std::string& email);
[[nodiscard]] platform::ports::Awaitable<std::optional<UserProfile>> FindUser(
    platform::ports::SqlTransaction& tx, const std::string& user_id);
// Inserts users, user_identities (subject = user id) and local_accounts. kAlreadyExists when a
// local account already has this email (the caller's transaction then rolls back).
[[nodiscard]] platform::ports::Awaitable<void> CreateLocalUser(platform::ports::SqlTransaction& tx,
                                                               const NewLocalUser& user);

}  // namespace trellis::identity::store
