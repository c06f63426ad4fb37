#include "services/identity/app/oidc_crypto.hpp"

#include <sodium.h>

#include <array>
#include <vector>

#include "platform/auth/jwt.hpp"
#include "services/identity/domain/oidc_authorize.hpp"

namespace trellis::identity::app {

namespace core = platform::core;

namespace {

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::array<unsigned char, crypto_hash_sha256_BYTES> Sha256(std::string_view text) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> out{};
  crypto_hash_sha256(out.data(), Bytes(text), text.size());
  return out;
}

std::string_view AsText(const unsigned char* data, std::size_t n) {
  return {reinterpret_cast<const char*>(data), n};
}

}  // namespace

core::Result<void> InitCrypto() {
  if (sodium_init() < 0)
    return core::Fail(core::ErrorCode::kInternal, "crypto unavailable", "sodium_init failed");
  return {};
}

std::string RandomToken(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  return platform::auth::Base64UrlEncode(AsText(buf.data(), buf.size()));
}

std::string Sha256Hex(std::string_view text) {
  const auto digest = Sha256(text);
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

std::string Sha256Base64Url(std::string_view text) {
  const auto digest = Sha256(text);
  return platform::auth::Base64UrlEncode(AsText(digest.data(), digest.size()));
}

std::string HmacSha256Base64Url(std::string_view key, std::string_view text) {
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, Bytes(key), key.size());
  crypto_auth_hmacsha256_update(&state, Bytes(text), text.size());
  crypto_auth_hmacsha256_final(&state, mac.data());
  return platform::auth::Base64UrlEncode(AsText(mac.data(), mac.size()));
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool PkceS256Matches(std::string_view verifier, std::string_view challenge) {
  if (!domain::IsPkceValue(verifier)) return false;
  return ConstantTimeEquals(Sha256Base64Url(verifier), challenge);
}

core::Result<std::string> HashPassword(std::string_view password, const PasswordHashing& cost) {
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), cost.opslimit,
                            cost.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return core::Fail(core::ErrorCode::kInternal, "could not hash the password",
                      "crypto_pwhash_str_alg failed (out of memory?)");
  }
  return std::string(out.data());
}

bool VerifyPassword(std::string_view encoded_hash, std::string_view password) {
  if (encoded_hash.size() >= crypto_pwhash_STRBYTES) return false;
  std::array<char, crypto_pwhash_STRBYTES> hash{};
  std::copy(encoded_hash.begin(), encoded_hash.end(), hash.begin());
  return crypto_pwhash_str_verify(hash.data(), password.data(), password.size()) == 0;
}

}  // namespace trellis::identity::app
