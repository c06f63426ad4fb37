// The audit context's use cases: projecting domain events into the audit log (the "audit"
// consumer group calls Project for every event, at least once) and reading it back, for owners
// and admins only. Another org, or one the caller is not an active member of, is kNotFound.
//
//   AuditApp audit(audit_db, identity_client);
//   events.AddConsumer("audit", [&](const DomainEvent& e) { return audit.Project(e); });
//   auto page = co_await audit.ListAuditEvents(principal, call, org, query);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/core/call_context.hpp"
#include "platform/core/principal.hpp"
#include "platform/events/event.hpp"
#include "platform/ports/sql_store.hpp"
#include "proto/trellis/identity/v1/identity_client.hpp"
#include "services/audit/domain/audit.hpp"

namespace trellis::audit::app {

template <typename T>
using Call = boost::asio::awaitable<platform::core::Result<T>>;

struct AuditQuery {
  domain::AuditFilter filter;
  std::optional<std::int64_t> before_seq;  // from the cursor
  int limit = 50;
};

struct AuditPage {
  std::vector<domain::AuditEvent> items;
  std::optional<std::int64_t> next_before_seq;  // set when there are more
};

class AuditApp {
 public:
  AuditApp(platform::ports::SqlStore& store, identity::v1::IdentityClient& identity);

  // Records the event once: a second delivery of the same event id changes nothing.
  [[nodiscard]] Call<void> Project(const platform::events::DomainEvent& event);

  // The org's audit events, newest first. kNotFound for another org or a non-member,
  // kPermissionDenied below admin.
  [[nodiscard]] Call<AuditPage> ListAuditEvents(const platform::core::Principal& who,
                                                platform::core::CallContext call,
                                                std::string org_id, AuditQuery query);

 private:
  [[nodiscard]] Call<platform::core::Role> ResolveRole(const platform::core::Principal& who,
                                                       const platform::core::CallContext& call,
                                                       const std::string& org_id);

  platform::ports::SqlStore& store_;
  identity::v1::IdentityClient& identity_;
};

}  // namespace trellis::audit::app
