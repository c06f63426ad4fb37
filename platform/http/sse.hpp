// A Server-Sent Events stream: publishers on any thread queue events; the connection that
// carries the stream drains the queue. The queue is bounded: a consumer that stops reading
// lets the queue fill, and the stream is then dropped rather than buffered without limit.
//
//   auto channel = std::make_shared<SseChannel>();
//   hub.Subscribe(tenant, channel);             // publisher keeps it
//   co_return Response::EventStream(channel);   // the server streams it
//   ...
//   if (!channel->Send("task.updated", json)) hub.Unsubscribe(channel);
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace trellis::platform::http {

class SseChannel {
 public:
  // Events queued before the server attaches are bounded by this.
  static constexpr std::size_t kDefaultMaxBuffer = 256 * 1024;

  // Queues one event. Returns false when the stream is closed or has been dropped for
  // falling behind; the publisher should then forget the channel.
  bool Send(std::string_view event, std::string_view data, std::string_view id = {});
  // Ends the stream once what is queued has been written.
  void Close();
  [[nodiscard]] bool IsOpen() const;

  // Server side.
  enum class State { kData, kEmpty, kClosed, kOverflow };
  // Sets the buffer bound and the function that wakes the writer (called with the lock not held).
  void Attach(std::size_t max_buffer_bytes, std::function<void()> wake);
  // Moves everything queued into `out`.
  State TakeAll(std::string& out);
  // Marks the stream finished from the server side (client gone, shutdown).
  void Detach();

 private:
  mutable std::mutex mu_;
  std::string queue_;                    // guarded by mu_
  std::size_t max_ = kDefaultMaxBuffer;  // guarded by mu_
  bool closed_ = false;                  // guarded by mu_
  bool overflow_ = false;                // guarded by mu_
  std::function<void()> wake_;           // guarded by mu_
};

// Formats one event in the text/event-stream format, splitting data on newlines.
void AppendSseEvent(std::string& out, std::string_view event, std::string_view data,
                    std::string_view id = {});

}  // namespace trellis::platform::http
