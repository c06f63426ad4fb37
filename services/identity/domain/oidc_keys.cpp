#include "services/identity/domain/oidc_keys.hpp"

#include <algorithm>

namespace trellis::identity::domain {

std::optional<std::size_t> ActiveKey(const std::vector<KeyTimes>& keys, std::int64_t now_ms) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    if (k.retire_at_ms.has_value() || k.activated_at_ms > now_ms) continue;
    if (!best || k.activated_at_ms > keys[*best].activated_at_ms) best = i;
  }
  return best;
}

bool NeedsNewKey(const std::vector<KeyTimes>& keys, std::int64_t now_ms,
                 const KeyRotationPolicy& policy) {
  const auto active = ActiveKey(keys, now_ms);
  if (!active) return true;
  return now_ms - keys[*active].activated_at_ms >= policy.rotation_period_ms;
}

std::vector<std::size_t> PublishedKeys(const std::vector<KeyTimes>& keys, std::int64_t now_ms) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!keys[i].retire_at_ms || *keys[i].retire_at_ms > now_ms) out.push_back(i);
  }
  std::sort(out.begin(), out.end(), [&](std::size_t a, std::size_t b) {
    return keys[a].activated_at_ms > keys[b].activated_at_ms;
  });
  return out;
}

}  // namespace trellis::identity::domain
