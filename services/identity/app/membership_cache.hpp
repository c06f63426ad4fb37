// Active memberships (org, user) -> role, cached for GetMembership (the IdentityClient call
// every work, audit and live request makes), owned by the identity context and invalidated by
// its own commits (ADR 0011). Only positive answers are kept: a membership that does not exist
// yet is read from the database every time, so a new one is seen at once.
//
// Invalidation goes through one process-wide epoch, MembershipEpoch: every commit that can
// change a membership calls MembershipChanged() before its use case returns (IdentityApp after
// its commits, ActivatePendingMemberships inside the activating transaction, which also serves
// the built-in issuer's sign-up). Every cache drops its entries when it sees the epoch move.
// Correct only while this process sees every membership write: the embedded shape.
//
//   const auto token = cache.Token();       // before the database read
//   if (auto role = cache.Find(org, user)) ...
//   cache.Fill(org, user, role, token);     // dropped if a membership changed since
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "platform/core/principal.hpp"

namespace trellis::identity::app {

// The process-wide membership epoch: bumped by every membership change.
[[nodiscard]] std::uint64_t MembershipEpoch();
void MembershipChanged();

class MembershipCache {
 public:
  // Entries kept; 0 disables the cache.
  static constexpr std::size_t kDefaultMaxEntries = 65536;
  explicit MembershipCache(std::size_t max_entries = kDefaultMaxEntries);

  // Take before reading the membership from the database; hand to Fill.
  [[nodiscard]] std::uint64_t Token() const { return MembershipEpoch(); }
  [[nodiscard]] std::optional<platform::core::Role> Find(const std::string& org_id,
                                                         const std::string& user_id);
  // Keeps an active membership unless a membership changed after `token` was taken.
  void Fill(const std::string& org_id, const std::string& user_id, platform::core::Role role,
            std::uint64_t token);
  [[nodiscard]] std::size_t Size();

 private:
  // Drops every entry if the epoch moved since they were filled; needs mutex_.
  void SyncLocked(std::uint64_t epoch);

  const std::size_t max_entries_;
  std::mutex mutex_;
  std::uint64_t epoch_ = 0;  // the epoch the entries were filled under; guarded by mutex_
  std::map<std::pair<std::string, std::string>, platform::core::Role>
      entries_;  // guarded by mutex_
};

}  // namespace trellis::identity::app
