#include "platform/events/consumer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sqlite/sqlite_event_log.hpp"
#include "platform/events/runtime.hpp"
#include "platform/events/testing/event_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::platform::events {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using adapters::sqlite::SqliteEventLog;
using testing::Eventually;
using testing::RunSync;
using tests::support::TempDir;

DomainEvent Event(std::string id) {
  DomainEvent e;
  e.id = std::move(id);
  e.type = "work.task.created";
  e.org_id = "org-a";
  e.payload = "{}";
  return e;
}

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    adapters::sqlite::EventLogSettings ls;
    ls.path = dir_.Path() / "events.db";
    auto log = RunSync(SqliteEventLog::Open(ls, clock_, registry_));
    ASSERT_TRUE(log) << log.error().internal;
    log_ = std::move(*log);
    settings_.poll_interval = 50ms;
    settings_.backoff_initial = 1ms;
    settings_.backoff_max = 4ms;
  }
  std::int64_t Committed(const std::string& group) {
    return *RunSync(log_->CommittedOffset(group));
  }
  std::vector<std::string> Seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  // A handler that records each call and fails the first `failures` calls for `failing_id`.
  EventHandler Recorder(std::string failing_id = "", int failures = 0) {
    return
        [this, failing_id, failures](const DomainEvent& e) -> asio::awaitable<core::Result<void>> {
          std::lock_guard lock(mu_);
          seen_.push_back(e.id);
          if (e.id == failing_id && failed_ < failures) {
            ++failed_;
            co_return core::Fail(core::ErrorCode::kUnavailable, "down");
          }
          co_return core::Result<void>();
        };
  }

  TempDir dir_;
  core::ManualClock clock_;
  observe::Registry registry_;
  std::unique_ptr<SqliteEventLog> log_;
  ConsumerSettings settings_;
  std::mutex mu_;
  std::vector<std::string> seen_;  // guarded by mu_
  int failed_ = 0;                 // guarded by mu_
};

TEST_F(ConsumerTest, ResumesAfterTheCommittedOffsetAndCommitsEachEvent) {
  ASSERT_TRUE(RunSync(log_->Append({Event("e1"), Event("e2"), Event("e3")})));
  ASSERT_TRUE(RunSync(log_->CommitOffset("audit", 1)));
  Consumer consumer("audit", *log_, Recorder(), registry_, settings_);
  asio::io_context ctx;
  asio::co_spawn(ctx, consumer.Run(), [](std::exception_ptr) {});
  std::thread loop([&] { ctx.run(); });

  EXPECT_TRUE(Eventually([&] { return consumer.Position() == 3; }));
  ASSERT_TRUE(RunSync(log_->Append({Event("e4")})));  // arrives while it waits
  EXPECT_TRUE(Eventually([&] { return consumer.Position() == 4; }));
  consumer.Stop();
  loop.join();
  EXPECT_EQ(Seen(), (std::vector<std::string>{"e2", "e3", "e4"}));
  EXPECT_EQ(Committed("audit"), 4);
  EXPECT_EQ(Committed("other"), 0);
}

TEST_F(ConsumerTest, RetriesAFailingEventAndNeverSkipsIt) {
  ASSERT_TRUE(RunSync(log_->Append({Event("e1"), Event("e2"), Event("e3")})));
  Consumer consumer("audit", *log_, Recorder("e2", 3), registry_, settings_);
  asio::io_context ctx;
  asio::co_spawn(ctx, consumer.Run(), [](std::exception_ptr) {});
  std::thread loop([&] { ctx.run(); });
  EXPECT_TRUE(Eventually([&] { return consumer.Position() == 3; }));
  consumer.Stop();
  loop.join();
  EXPECT_EQ(Seen(), (std::vector<std::string>{"e1", "e2", "e2", "e2", "e2", "e3"}));
  EXPECT_EQ(Committed("audit"), 3);
  EXPECT_NE(registry_.Render().find("trellis_consumer_failures_total{group=\"audit\"} 3"),
            std::string::npos);
}

TEST_F(ConsumerTest, StopDuringRetriesLeavesTheEventUncommitted) {
  ASSERT_TRUE(RunSync(log_->Append({Event("e1"), Event("e2")})));
  Consumer consumer("audit", *log_, Recorder("e2", 1'000'000), registry_, settings_);
  asio::io_context ctx;
  bool returned = false;
  asio::co_spawn(ctx, consumer.Run(), [&](std::exception_ptr) { returned = true; });
  std::thread loop([&] { ctx.run(); });
  EXPECT_TRUE(Eventually([&] { return Seen().size() >= 4; }));
  consumer.Stop();
  loop.join();
  EXPECT_TRUE(returned);
  EXPECT_EQ(Committed("audit"), 1);
}

TEST_F(ConsumerTest, BackoffGrowsIsJitteredAndIsCapped) {
  ConsumerSettings s;
  s.backoff_initial = 100ms;
  s.backoff_max = 1000ms;
  Consumer consumer("g", *log_, Recorder(), registry_, s);
  for (int i = 0; i < 50; ++i) {
    auto first = consumer.Backoff(1);
    EXPECT_GE(first, 50ms);
    EXPECT_LE(first, 100ms);
    auto third = consumer.Backoff(3);
    EXPECT_GE(third, 200ms);
    EXPECT_LE(third, 400ms);
    auto late = consumer.Backoff(40);
    EXPECT_GE(late, 500ms);
    EXPECT_LE(late, 1000ms);
  }
}

TEST_F(ConsumerTest, RuntimeRunsTheRelayConsumersAndTasksUntilStopped) {
  auto* log = log_.get();
  EventsRuntime runtime(std::move(log_), {}, clock_, registry_, EventsSettings{{}, settings_});
  runtime.AddConsumer("audit", Recorder());
  std::atomic<bool> task_stop{false};
  std::atomic<bool> task_ran{false};
  runtime.AddTask(
      [&]() -> asio::awaitable<void> {
        task_ran = true;
        while (!task_stop) co_await log->WaitForAppend(log->LastOffset(), 10ms);
      },
      [&] { task_stop = true; });
  asio::io_context ctx;
  auto guard = asio::make_work_guard(ctx);
  std::thread loop([&] { ctx.run(); });
  runtime.Start(ctx);
  ASSERT_TRUE(RunSync(log->Append({Event("e1")})));
  EXPECT_TRUE(Eventually([&] { return Seen().size() == 1; }));
  EXPECT_TRUE(task_ran);
  runtime.Stop();
  runtime.Wait();
  guard.reset();
  loop.join();
  EXPECT_EQ(*RunSync(log->CommittedOffset("audit")), 1);
}

}  // namespace
}  // namespace trellis::platform::events
