// Signing-key rotation rules of the built-in issuer, without I/O: which key signs, which keys
// the JWKS publishes, and when a new key is due.
//
//   if (NeedsNewKey(keys, now_ms, policy)) { /* generate; RetireAllAt(now + overlap) */ }
//   auto signer = ActiveKey(keys, now_ms);           // index into keys
//   auto jwks = PublishedKeys(keys, now_ms);          // indices, newest first
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trellis::identity::domain {

struct KeyTimes {
  std::string kid;
  std::int64_t activated_at_ms = 0;
  std::optional<std::int64_t> retire_at_ms;  // set when a newer key took over
};

struct KeyRotationPolicy {
  std::int64_t rotation_period_ms = 0;  // the active key signs this long
  std::int64_t overlap_ms = 0;          // a replaced key stays published this long
};

// The key that signs at now_ms: the most recently activated one that is not being retired.
[[nodiscard]] std::optional<std::size_t> ActiveKey(const std::vector<KeyTimes>& keys,
                                                   std::int64_t now_ms);
// True when there is no active key or the active one is older than the rotation period.
[[nodiscard]] bool NeedsNewKey(const std::vector<KeyTimes>& keys, std::int64_t now_ms,
                               const KeyRotationPolicy& policy);
// Keys a verifier must still accept at now_ms (not retired yet), newest first.
[[nodiscard]] std::vector<std::size_t> PublishedKeys(const std::vector<KeyTimes>& keys,
                                                     std::int64_t now_ms);

}  // namespace trellis::identity::domain
