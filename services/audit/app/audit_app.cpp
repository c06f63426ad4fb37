#include "services/audit/app/audit_app.hpp"

#include <utility>

#include "platform/events/envelope.hpp"
#include "services/audit/store/audit_store.hpp"

namespace trellis::audit::app {

namespace core = platform::core;
namespace ports = platform::ports;
using core::ErrorCode;

AuditApp::AuditApp(ports::SqlStore& store, identity::v1::IdentityClient& identity)
    : store_(store), identity_(identity) {}

Call<void> AuditApp::Project(const platform::events::DomainEvent& event) {
  domain::AuditEvent entry;
  entry.org_id = event.org_id;
  entry.id = event.id;
  entry.seq = event.offset;
  entry.occurred_at_ms = event.occurred_at_ms;
  entry.actor_id = event.actor_id;
  entry.action = event.type;
  entry.subject_id = event.subject_id;
  entry.payload = platform::events::PayloadObject(event.payload);
  ports::TransactionOptions options;
  options.Org(entry.org_id);
  co_return co_await store_.Transact(
      std::move(options), [&entry](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
        co_return ports::Void(co_await store::InsertAuditEvent(tx, entry));
      });
}

Call<core::Role> AuditApp::ResolveRole(const core::Principal& who, const core::CallContext& call,
                                       const std::string& org_id) {
  co_return co_await identity::v1::RoleIn(identity_, who, org_id, call);
}

Call<AuditPage> AuditApp::ListAuditEvents(const core::Principal& who, core::CallContext call,
                                          std::string org_id, AuditQuery query) {
  auto role = co_await ResolveRole(who, call, org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, domain::Action::kViewAuditEvents); !ok) {
    co_return std::unexpected(ok.error());
  }
  AuditPage page;
  ports::TransactionOptions options;
  options.ReadOnly().Org(org_id).Deadline(call.deadline).Consistency(call.written);
  auto done = co_await store_.Transact(
      std::move(options), [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
        auto rows = co_await store::ListAuditEvents(tx, org_id, query.filter, query.before_seq,
                                                    query.limit + 1);
        if (!rows) co_return std::unexpected(rows.error());
        page.items = std::move(*rows);
        co_return core::Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  if (page.items.size() > static_cast<std::size_t>(query.limit)) {
    page.items.resize(static_cast<std::size_t>(query.limit));
    page.next_before_seq = page.items.back().seq;
  }
  co_return page;
}

}  // namespace trellis::audit::app
