// How a domain event looks to clients (the live stream, the audit API): a JSON object with the
// payload embedded as an object, never as a string.
//
//   std::string json = EnvelopeJson(event);
//   // {"id":"…","type":"work.task.created","org_id":"…","actor_id":"…","subject_id":"…",
//   //  "occurred_at":"2026-11-24T10:00:00.000Z","payload":{…}}
#pragma once

#include <string>
#include <string_view>

#include "platform/events/event.hpp"

namespace trellis::platform::events {

// The payload if it is a JSON object; otherwise {"raw": "<text>"}, so that a malformed payload
// from a buggy writer can never break the JSON around it.
[[nodiscard]] std::string PayloadObject(std::string_view payload);

// The client-facing envelope of an event.
[[nodiscard]] std::string EnvelopeJson(const DomainEvent& event);

}  // namespace trellis::platform::events
