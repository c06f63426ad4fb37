#include "platform/events/envelope.hpp"

#include <utility>

#include "platform/core/time_format.hpp"
#include "platform/http/json_body.hpp"

namespace trellis::platform::events {

std::string PayloadObject(std::string_view payload) {
  if (http::ParseJsonObject(payload)) return std::string(payload);
  http::JsonWriter w;
  w.BeginObject().Key("raw").String(payload).EndObject();
  return std::move(w).Take();
}

std::string EnvelopeJson(const DomainEvent& event) {
  http::JsonWriter w;
  w.BeginObject()
      .Key("id")
      .String(event.id)
      .Key("type")
      .String(event.type)
      .Key("org_id")
      .String(event.org_id)
      .Key("actor_id")
      .String(event.actor_id)
      .Key("subject_id")
      .String(event.subject_id)
      .Key("occurred_at")
      .String(core::FormatRfc3339Ms(event.occurred_at_ms))
      .Key("payload")
      .Null();
  // JsonWriter has no raw-value call: write null, then splice the payload object in its place.
  std::string out = std::move(w.EndObject()).Take();
  constexpr std::string_view kNullEnd = "null}";
  out.resize(out.size() - kNullEnd.size());
  out += PayloadObject(event.payload);
  out += '}';
  return out;
}

}  // namespace trellis::platform::events
