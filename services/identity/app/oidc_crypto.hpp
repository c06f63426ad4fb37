// Small cryptographic helpers of the built-in issuer, over libsodium: random tokens, SHA-256,
// HMAC, PKCE S256 (RFC 7636) and argon2id password hashes. libsodium stays behind this header.
//
//   std::string code = RandomToken();                       // 32 random bytes, base64url
//   bool ok = PkceS256Matches(verifier, stored_challenge);
//   auto hash = HashPassword(password, PasswordHashing{});  // blocks ~100 ms: never on a loop
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "platform/core/error.hpp"

namespace trellis::identity::app {

// Initializes libsodium (idempotent, thread-safe). kInternal if it cannot.
[[nodiscard]] platform::core::Result<void> InitCrypto();

// `bytes` random bytes from the OS CSPRNG, base64url without padding.
inline constexpr std::size_t kTokenBytes = 32;
[[nodiscard]] std::string RandomToken(std::size_t bytes = kTokenBytes);

[[nodiscard]] std::string Sha256Hex(std::string_view text);
[[nodiscard]] std::string Sha256Base64Url(std::string_view text);
// HMAC-SHA-256 of text under key, base64url.
[[nodiscard]] std::string HmacSha256Base64Url(std::string_view key, std::string_view text);
// Comparison whose time does not depend on where the inputs differ.
[[nodiscard]] bool ConstantTimeEquals(std::string_view a, std::string_view b);

// RFC 7636 §4.6: BASE64URL(SHA256(ASCII(verifier))) == challenge, and the verifier is
// well-formed (43–128 unreserved characters).
[[nodiscard]] bool PkceS256Matches(std::string_view verifier, std::string_view challenge);

// argon2id cost (libsodium's crypto_pwhash). The defaults are libsodium's INTERACTIVE limits.
struct PasswordHashing {
  std::uint64_t opslimit = 2;               // crypto_pwhash_OPSLIMIT_INTERACTIVE
  std::size_t memlimit = 64 * 1024 * 1024;  // crypto_pwhash_MEMLIMIT_INTERACTIVE
};

// libsodium's encoded form ("$argon2id$v=19$m=...").
[[nodiscard]] platform::core::Result<std::string> HashPassword(std::string_view password,
                                                               const PasswordHashing& cost);
[[nodiscard]] bool VerifyPassword(std::string_view encoded_hash, std::string_view password);

}  // namespace trellis::identity::app
