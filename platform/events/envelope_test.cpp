#include "platform/events/envelope.hpp"

#include <gtest/gtest.h>

namespace trellis::platform::events {
namespace {

TEST(EnvelopeTest, EmbedsThePayloadObjectAndFormatsTheTime) {
  DomainEvent e;
  e.id = "e1";
  e.type = "work.task.created";
  e.org_id = "org-a";
  e.actor_id = "u1";
  e.subject_id = "t1";
  e.payload = R"({"title":"a \"b\""})";
  e.occurred_at_ms = 0;
  EXPECT_EQ(EnvelopeJson(e),
            R"({"id":"e1","type":"work.task.created","org_id":"org-a","actor_id":"u1",)"
            R"("subject_id":"t1","occurred_at":"1970-01-01T00:00:00.000Z",)"
            R"("payload":{"title":"a \"b\""}})");
}

TEST(EnvelopeTest, AMalformedPayloadIsWrappedNotSpliced) {
  EXPECT_EQ(PayloadObject(R"({"a":1})"), R"({"a":1})");
  EXPECT_EQ(PayloadObject("[1]"), R"({"raw":"[1]"})");
  EXPECT_EQ(PayloadObject(R"({"a":)"), R"({"raw":"{\"a\":"})");
}

}  // namespace
}  // namespace trellis::platform::events
