#include "services/identity/app/membership_cache.hpp"

#include <atomic>

namespace trellis::identity::app {

namespace {

// Starts at 1 so that a default-constructed cache (epoch_ 0) syncs on first use.
std::atomic<std::uint64_t> g_membership_epoch{1};

}  // namespace

std::uint64_t MembershipEpoch() { return g_membership_epoch.load(); }

void MembershipChanged() { g_membership_epoch.fetch_add(1); }

MembershipCache::MembershipCache(std::size_t max_entries) : max_entries_(max_entries) {}

void MembershipCache::SyncLocked(std::uint64_t epoch) {
  if (epoch_ == epoch) return;
  entries_.clear();
  epoch_ = epoch;
}

std::optional<platform::core::Role> MembershipCache::Find(const std::string& org_id,
                                                          const std::string& user_id) {
  const std::uint64_t epoch = MembershipEpoch();
  std::lock_guard lock(mutex_);
  SyncLocked(epoch);
  const auto it = entries_.find({org_id, user_id});
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void MembershipCache::Fill(const std::string& org_id, const std::string& user_id,
                           platform::core::Role role, std::uint64_t token) {
  if (max_entries_ == 0) return;
  std::lock_guard lock(mutex_);
  // A change committed while the membership was read: what was read may be the old one.
  if (MembershipEpoch() != token) return;
  SyncLocked(token);
  // Bounded: past the limit start over (memberships change rarely; refills are cheap).
  if (entries_.size() >= max_entries_) entries_.clear();
  entries_[{org_id, user_id}] = role;
}

std::size_t MembershipCache::Size() {
  std::lock_guard lock(mutex_);
  SyncLocked(MembershipEpoch());
  return entries_.size();
}

}  // namespace trellis::identity::app
