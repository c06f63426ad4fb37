#include "platform/cache/invalidator.hpp"

#include <chrono>

namespace trellis::platform::cache {

namespace asio = boost::asio;

std::vector<std::string> CacheInvalidator::NamespacesOf(const std::string& type,
                                                        const std::string& org_id) const {
  std::vector<std::string> out;
  if (org_id.empty()) return out;
  for (const auto& [prefix, ns] : rules_) {
    if (type.starts_with(prefix)) out.push_back(ns + org_id);
  }
  return out;
}

asio::awaitable<void> CacheInvalidator::Committed(std::string type, std::string org_id,
                                                  core::Clock::MonoTime deadline) {
  auto namespaces = NamespacesOf(type, org_id);
  if (namespaces.empty()) co_return;
  (void)co_await cache_.Invalidate(std::move(namespaces), deadline);
}

asio::awaitable<core::Result<void>> CacheInvalidator::Handle(events::DomainEvent event) {
  auto namespaces = NamespacesOf(event.type, event.org_id);
  if (namespaces.empty()) co_return core::Result<void>();
  co_return co_await cache_.Invalidate(std::move(namespaces),
                                       clock_.Monotonic() + std::chrono::seconds(2));
}

}  // namespace trellis::platform::cache
