// Compact JWS with ES256: signing keys for the built-in issuer, JWKS, and strict verification.
//
//   auto key = SigningKey::Generate("k1").value();
//   auto token = key.Sign("at+jwt", R"({"sub":"u1"})").value();
//   auto keys = JwkSet::Parse(JwksJson({key.PublicJwkJson()})).value();
//   auto verified = VerifyJws(token, keys, {"ES256"});  // header + payload text
//
// Only ES256 (ECDSA P-256 + SHA-256) exists here. Verification is deliberately narrow: "none",
// HMAC and RSA are refused, and headers that point at other keys (jku, jwk, x5u, x5c) or ask
// for extensions (crit) are refused, never followed. OpenSSL stays behind pimpls.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "platform/core/error.hpp"

namespace trellis::platform::auth {

inline constexpr std::string_view kAlgEs256 = "ES256";
// Tokens longer than this are refused before any decoding.
inline constexpr std::size_t kMaxTokenBytes = 16 * 1024;

// An EC P-256 key pair for ES256 (move-only; wraps EVP_PKEY behind a pimpl).
class SigningKey {
 public:
  static core::Result<SigningKey> Generate(std::string kid);
  static core::Result<SigningKey> FromPrivatePem(std::string kid, std::string_view pem);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  ~SigningKey();

  [[nodiscard]] std::string PrivatePem() const;  // PKCS#8 PEM
  // {"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"alg":"ES256","use":"sig"}
  [[nodiscard]] std::string PublicJwkJson() const;
  [[nodiscard]] const std::string& Kid() const;
  // Compact JWS: protected header {"alg":"ES256","typ":<typ>,"kid":<kid>} (typ left out when
  // empty), payload as given (must be a JSON object text), signature raw R||S (64 bytes).
  [[nodiscard]] core::Result<std::string> Sign(std::string_view typ,
                                               std::string_view payload_json) const;

 private:
  struct Impl;
  explicit SigningKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// {"keys":[...]} from public JWK objects' texts.
[[nodiscard]] std::string JwksJson(const std::vector<std::string>& public_jwks);

// base64url without padding, both ways (Decode fails on bad characters, padding, a length
// that cannot be base64 and non-zero trailing bits).
[[nodiscard]] std::string Base64UrlEncode(std::string_view bytes);
[[nodiscard]] core::Result<std::string> Base64UrlDecode(std::string_view text);

// Public verification keys by kid, parsed from a JWKS document. Only EC P-256 keys with a kid
// (and, when given, use "sig" and alg "ES256") are kept; other keys are skipped. Cheap to copy
// (immutable, shared).
class JwkSet {
 public:
  JwkSet();
  // Fails (kInvalidArgument) when the text is not {"keys":[...]}.
  static core::Result<JwkSet> Parse(std::string_view jwks_json);

  [[nodiscard]] bool Contains(std::string_view kid) const;
  [[nodiscard]] std::size_t Size() const;

 private:
  friend struct JwkSetAccess;
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// The protected header fields a verifier looks at.
struct JwsHeader {
  std::string alg;
  std::string typ;  // "" when absent
  std::string kid;
};

struct VerifiedJws {
  JwsHeader header;
  std::string payload_json;  // a JSON object text, as signed
};

// Splits and checks a token's protected header without touching keys: 3 segments, strict
// base64url, a JSON object header, alg in allowed_algs and supported, kid present, none of
// jku/jwk/x5u/x5c/crit. Errors are kUnauthenticated.
[[nodiscard]] core::Result<JwsHeader> ParseJwsHeader(std::string_view token,
                                                     const std::vector<std::string>& allowed_algs);

// ParseJwsHeader, then the kid must be in keys, the payload a JSON object and the signature
// exactly 64 bytes verifying over "header.payload". Errors are kUnauthenticated.
[[nodiscard]] core::Result<VerifiedJws> VerifyJws(std::string_view token, const JwkSet& keys,
                                                  const std::vector<std::string>& allowed_algs);

// The payload of a token, decoded but NOT verified: only for routing (which issuer's verifier
// should look at it). Fails unless the token has 3 segments and the payload is a JSON object.
[[nodiscard]] core::Result<std::string> UnverifiedPayload(std::string_view token);

}  // namespace trellis::platform::auth
